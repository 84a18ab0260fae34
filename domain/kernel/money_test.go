package kernel_test

import (
	"math"
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
)

func TestMoneyString(t *testing.T) {
	cases := []struct {
		fen  int64
		want string
	}{
		{0, "0.00"},
		{1, "0.01"},
		{10, "0.10"},
		{100, "1.00"},
		{1234, "12.34"},
		{-5, "-0.05"},
		{-100, "-1.00"},
		{-1234, "-12.34"},
		{math.MaxInt64, "92233720368547758.07"},
		{math.MinInt64, "-92233720368547758.08"},
	}
	for _, tc := range cases {
		if got := kernel.Fen(tc.fen).String(); got != tc.want {
			t.Errorf("Fen(%d).String() = %q, want %q", tc.fen, got, tc.want)
		}
	}
}

func TestMoneyBasics(t *testing.T) {
	if got := kernel.Fen(1234).Fen(); got != 1234 {
		t.Errorf("Fen(1234).Fen() = %d", got)
	}
	if kernel.Fen(0).IsNegative() || kernel.Fen(1).IsNegative() || !kernel.Fen(-1).IsNegative() {
		t.Error("IsNegative is wrong")
	}
}

func TestParseYuan(t *testing.T) {
	valid := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"12", 1200},
		{"12.3", 1230},
		{"12.34", 1234},
		{"12.30", 1230},
		{"0.01", 1},
		{"0.1", 10},
		{"-0.05", -5},
		{"-12.34", -1234},
		{"-0", 0},
		{"-0.00", 0},
		{"007.50", 750},
		{" 1.5\n", 150},
		{"92233720368547758.07", math.MaxInt64},
		{"92233720368547758", 9223372036854775800},
		{"-92233720368547758.08", math.MinInt64},
	}
	for _, tc := range valid {
		got, err := kernel.ParseYuan(tc.in)
		if err != nil {
			t.Errorf("ParseYuan(%q) error: %v", tc.in, err)
			continue
		}
		if got.Fen() != tc.want {
			t.Errorf("ParseYuan(%q) = %d fen, want %d", tc.in, got.Fen(), tc.want)
		}
	}

	invalid := []string{
		"",
		" ",
		"-",
		"+1",
		"+1.00",
		"--1",
		"-+1",
		"1-",
		"1.234",
		"0.001",
		"1.",
		".5",
		"-.5",
		".",
		"1..2",
		"1.2.3",
		"1 000",
		"1,000",
		"1.0 0",
		"- 1",
		"1e3",
		"0x10",
		"NaN",
		"Inf",
		"１２",
		"1.５",
		"92233720368547758.08",
		"92233720368547759",
		"-92233720368547758.09",
		"-92233720368547759",
		"99999999999999999999",
		"184467440737095516.16",
		"1844674407370955161600",
	}
	for _, in := range invalid {
		got, err := kernel.ParseYuan(in)
		if err == nil {
			t.Errorf("ParseYuan(%q) = %v, want error", in, got)
			continue
		}
		voWantInvalid(t, err, "money-invalid", in)
	}
}

func TestMoneyAdd(t *testing.T) {
	ok := []struct{ a, b, want int64 }{
		{1, 2, 3},
		{-5, 3, -2},
		{math.MaxInt64, math.MinInt64, -1},
		{math.MaxInt64, 0, math.MaxInt64},
		{math.MinInt64, 0, math.MinInt64},
		{math.MaxInt64 - 1, 1, math.MaxInt64},
		{math.MinInt64 + 1, -1, math.MinInt64},
	}
	for _, tc := range ok {
		got, err := kernel.Fen(tc.a).Add(kernel.Fen(tc.b))
		if err != nil || got.Fen() != tc.want {
			t.Errorf("Fen(%d).Add(%d) = %d, %v; want %d", tc.a, tc.b, got.Fen(), err, tc.want)
		}
	}
	overflow := []struct{ a, b int64 }{
		{math.MaxInt64, 1},
		{1, math.MaxInt64},
		{math.MinInt64, -1},
		{-1, math.MinInt64},
		{math.MinInt64, math.MinInt64},
		{math.MaxInt64, math.MaxInt64},
	}
	for _, tc := range overflow {
		got, err := kernel.Fen(tc.a).Add(kernel.Fen(tc.b))
		if err == nil {
			t.Errorf("Fen(%d).Add(%d) = %d, want overflow", tc.a, tc.b, got.Fen())
			continue
		}
		voWantInvalid(t, err, "money-overflow", "")
	}
}

func TestMoneyMul(t *testing.T) {
	ok := []struct{ a, q, want int64 }{
		{3, -4, -12},
		{0, math.MinInt64, 0},
		{math.MinInt64, 0, 0},
		{math.MinInt64, 1, math.MinInt64},
		{math.MaxInt64, -1, -math.MaxInt64},
		{-math.MaxInt64, -1, math.MaxInt64},
		{math.MaxInt64 / 2, 2, math.MaxInt64 - 1},
		{math.MinInt64 / 2, 2, math.MinInt64},
		{1 << 31, 1 << 31, 1 << 62},
		{-(1 << 32), 1 << 31, math.MinInt64},
		{1 << 32, -(1 << 31), math.MinInt64},
	}
	for _, tc := range ok {
		got, err := kernel.Fen(tc.a).Mul(tc.q)
		if err != nil || got.Fen() != tc.want {
			t.Errorf("Fen(%d).Mul(%d) = %d, %v; want %d", tc.a, tc.q, got.Fen(), err, tc.want)
		}
	}
	overflow := []struct{ a, q int64 }{
		{math.MaxInt64, 2},
		{math.MinInt64, -1},
		{-1, math.MinInt64},
		{math.MinInt64, 2},
		{math.MinInt64 / 2, -2},
		{1 << 32, 1 << 31},
		{math.MaxInt64/2 + 1, 2},
	}
	for _, tc := range overflow {
		got, err := kernel.Fen(tc.a).Mul(tc.q)
		if err == nil {
			t.Errorf("Fen(%d).Mul(%d) = %d, want overflow", tc.a, tc.q, got.Fen())
			continue
		}
		voWantInvalid(t, err, "money-overflow", "")
	}
}
