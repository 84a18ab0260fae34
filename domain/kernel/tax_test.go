package kernel

import (
	"math"
	"testing"
)

func TestUpperCase(t *testing.T) {
	for _, c := range []struct {
		fen  int64
		want string
	}{
		{0, "零元整"},
		{1, "壹分"},
		{10, "壹角整"},
		{11, "壹角壹分"},
		{50, "伍角整"},
		{100, "壹元整"},
		{105, "壹元零伍分"},
		{150, "壹元伍角整"},
		{1000, "壹拾元整"},
		{1050, "壹拾元伍角整"},
		{27000, "贰佰柒拾元整"},
		{100005, "壹仟元零伍分"},
		{100100, "壹仟零壹元整"},
		{101000, "壹仟零壹拾元整"},
		{100_000_00, "壹拾万元整"},
		{1_0000_00, "壹万元整"},
		{1_0001_00, "壹万零壹元整"},
		{1_0010_00, "壹万零壹拾元整"},
		{1_1000_00, "壹万壹仟元整"},
		{1001_0000_00, "壹仟零壹万元整"},
		{1000_1000_00, "壹仟万壹仟元整"},
		{100_0100_00, "壹佰万零壹佰元整"},
		{1_0000_0000_00, "壹亿元整"},
		{1_0000_0001_00, "壹亿零壹元整"},
		{1_0001_0000_00, "壹亿零壹万元整"},
		{1_0100_0000_00, "壹亿零壹佰万元整"},
		{1_1000_0000_00, "壹亿壹仟万元整"},
		{10_0000_0000_00, "壹拾亿元整"},
		{1_0000_0000_0000_00, "壹万亿元整"},
		{1_0002_0000_0000_00, "壹万零贰亿元整"},
		{1234_5678_9012_34, "壹仟贰佰叁拾肆亿伍仟陆佰柒拾捌万玖仟零壹拾贰元叁角肆分"},
		{123456789, "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"},
		{-27000, "负贰佰柒拾元整"},
		{math.MaxInt64, "玖亿贰仟贰佰叁拾叁万柒仟贰佰零叁亿陆仟捌佰伍拾肆万柒仟柒佰伍拾捌元零柒分"},
		{math.MinInt64, "负玖亿贰仟贰佰叁拾叁万柒仟贰佰零叁亿陆仟捌佰伍拾肆万柒仟柒佰伍拾捌元零捌分"},
	} {
		if got := UpperCase(Fen(c.fen)); got != c.want {
			t.Errorf("UpperCase(%d) = %s, want %s", c.fen, got, c.want)
		}
	}
}

func TestSplitTax(t *testing.T) {
	for _, c := range []struct {
		total    int64
		rate     TaxRate
		net, tax int64
	}{
		{0, TaxRate6, 0, 0},
		{1, TaxRate6, 1, 0},            // 0.0566 → 0
		{9, TaxRate6, 8, 1},            // 0.509 → 1
		{8, TaxRate6, 8, 0},            // 0.4528 → 0
		{27000, TaxRate6, 25472, 1528}, // 1528.30
		{10600, TaxRate6, 10000, 600},  // exact
		{53, TaxRate6, 50, 3},          // exactly 3.0
		{159, TaxRate6, 150, 9},        // exactly 9.0
		{10300, TaxRate3, 10000, 300},
		{10150, TaxRate1Point5, 10000, 150},
		{203, TaxRate1Point5, 200, 3}, // 2.9999 → 3
		{11300, TaxRate13, 10000, 1300},
		{12345, TaxRateZero, 12345, 0},
		{math.MaxInt64, TaxRate6, 8701294374391297931, 522077662463477876}, // no overflow
		{math.MaxInt64, TaxRate13, 8162276138809536112, 1061095898045239695},
	} {
		net, tax, err := SplitTax(Fen(c.total), c.rate)
		if err != nil {
			t.Fatalf("SplitTax(%d, %v): %v", c.total, c.rate, err)
		}
		if net.Fen() != c.net || tax.Fen() != c.tax {
			t.Errorf("SplitTax(%d, %v) = %d + %d, want %d + %d", c.total, c.rate, net, tax, c.net, c.tax)
		}
		if n, _ := net.Add(tax); n.Fen() != c.total {
			t.Errorf("SplitTax(%d): net + tax = %d", c.total, n)
		}
	}
}

func TestMulDivHalfUp(t *testing.T) {
	// With the statutory rates an exact half never occurs (2·total·rate ≢ 10000+rate mod
	// 2(10000+rate)), so the half-up branch is checked on the helper directly.
	for _, c := range []struct{ a, b, den, want uint64 }{
		{5, 1, 10, 1}, {15, 1, 10, 2}, {14, 1, 10, 1}, {4, 1, 10, 0}, {0, 5, 10, 0},
		{math.MaxUint64, 1, 2, 1 << 63}, {math.MaxUint64, 9999, 10000, 18444899399302180660},
	} {
		if got := mulDivHalfUp(c.a, c.b, c.den); got != c.want {
			t.Errorf("mulDivHalfUp(%d, %d, %d) = %d, want %d", c.a, c.b, c.den, got, c.want)
		}
	}
}

func TestSplitTaxBruteForce(t *testing.T) {
	// Brute force against big-number arithmetic on small amounts for every rate.
	for _, rate := range []TaxRate{TaxRate1, TaxRate1Point5, TaxRate3, TaxRate5, TaxRate6, TaxRate9, TaxRate13} {
		for total := int64(0); total < 5000; total++ {
			num, den := total*int64(rate), int64(10000+rate)
			want := num / den
			if 2*(num%den) >= den {
				want++
			}
			net, tax, _ := SplitTax(Fen(total), rate)
			if tax.Fen() != want || net.Fen()+tax.Fen() != total {
				t.Fatalf("SplitTax(%d, %v) = %d + %d, want tax %d", total, rate, net, tax, want)
			}
		}
	}
}

func TestSplitTaxRefuses(t *testing.T) {
	if _, _, err := SplitTax(Fen(-1), TaxRate6); CodeOf(err) != "tax-split-invalid" {
		t.Errorf("negative: %v", err)
	}
	if _, _, err := SplitTax(Fen(100), TaxRate(700)); CodeOf(err) != "tax-rate-invalid" {
		t.Errorf("rate 7%%: %v", err)
	}
}

func TestTaxRate(t *testing.T) {
	for bp, want := range map[int]string{0: "0%", 100: "1%", 150: "1.5%", 600: "6%", 1300: "13%"} {
		r, err := ParseTaxRate(bp)
		if err != nil || r.String() != want {
			t.Errorf("ParseTaxRate(%d) = %v %v, want %s", bp, r, err, want)
		}
	}
	for _, bp := range []int{-600, 1, 6, 60, 700, 1700, 10000} {
		if _, err := ParseTaxRate(bp); CodeOf(err) != "tax-rate-invalid" {
			t.Errorf("ParseTaxRate(%d) = %v", bp, err)
		}
	}
}

func TestParseTaxCode(t *testing.T) {
	for _, ok := range []string{"3040201000000000000", "1010101010000000000", "6000000000000000001"} {
		if _, err := ParseTaxCode(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "304020100000000000", "30402010000000000000", "0040201000000000000",
		"7040201000000000000", "304020100000000000A", "3000000000000000000", " 304020100000000000", "３040201000000000000"} {
		if _, err := ParseTaxCode(bad); CodeOf(err) != "tax-code-invalid" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
