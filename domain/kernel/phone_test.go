package kernel_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
)

// voWantInvalid asserts that err is a *kernel.Error of kind KindInvalid with the given code and
// that its message does not echo the input back.
func voWantInvalid(t *testing.T, err error, code, input string) {
	t.Helper()
	var e *kernel.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *kernel.Error with code %q", err, err, code)
	}
	if e.Kind != kernel.KindInvalid || e.Code != code {
		t.Fatalf("error kind/code = %v/%q, want %v/%q", e.Kind, e.Code, kernel.KindInvalid, code)
	}
	if in := strings.TrimSpace(input); len(in) >= 4 && strings.Contains(e.Error(), in) {
		t.Fatalf("error %q echoes the input", e.Error())
	}
}

func TestParsePhone(t *testing.T) {
	valid := []struct{ in, want string }{
		{"13800138000", "13800138000"},
		{"19912345678", "19912345678"},
		{"15000000000", "15000000000"},
		{"+8613800138000", "13800138000"},
		{"8613800138000", "13800138000"},
		{"+86 138 0013 8000", "13800138000"},
		{"+86-138-0013-8000", "13800138000"},
		{"86 138-0013-8000", "13800138000"},
		{"138 0013 8000", "13800138000"},
		{"  13800138000\t", "13800138000"},
	}
	for _, tc := range valid {
		got, err := kernel.ParsePhone(tc.in)
		if err != nil {
			t.Errorf("ParsePhone(%q) error: %v", tc.in, err)
			continue
		}
		if got.String() != tc.want || string(got) != tc.want {
			t.Errorf("ParsePhone(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got.IsZero() {
			t.Errorf("ParsePhone(%q).IsZero() = true", tc.in)
		}
	}

	invalid := []string{
		"",
		"+86",
		"86",
		"12800138000",    // second digit 2
		"10800138000",    // second digit 0
		"23800138000",    // does not start with 1
		"1380013800",     // 10 digits
		"138001380001",   // 12 digits
		"+8513800138000", // wrong country code
		"+08613800138000",
		"008613800138000",
		"8613800138000 1",
		"138-0013-800a",
		"138\t0013\t8000",
		"138.0013.8000",
		"(138)00138000",
		"+ 8613800138000",
		"1380013800０", // full-width digit
		"１３８００１３８０００",
		"138001380000000000000000000",
	}
	for _, in := range invalid {
		p, err := kernel.ParsePhone(in)
		if err == nil {
			t.Errorf("ParsePhone(%q) = %q, want error", in, p)
			continue
		}
		voWantInvalid(t, err, "phone-invalid", in)
		if !p.IsZero() {
			t.Errorf("ParsePhone(%q) returned non-zero %q with error", in, p)
		}
	}
}

func TestPhoneMasked(t *testing.T) {
	p, err := kernel.ParsePhone("13812341234")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Masked(), "138****1234"; got != want {
		t.Errorf("Masked() = %q, want %q", got, want)
	}
	var zero kernel.Phone
	if !zero.IsZero() || zero.Masked() != "" || zero.String() != "" {
		t.Errorf("zero Phone: IsZero=%v Masked=%q String=%q", zero.IsZero(), zero.Masked(), zero.String())
	}
}
