package kernel_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
)

// voFuzzCode fails unless err is a *kernel.Error of kind KindInvalid with one of codes.
func voFuzzCode(t *testing.T, err error, codes ...string) {
	t.Helper()
	var e *kernel.Error
	if !errors.As(err, &e) || e.Kind != kernel.KindInvalid {
		t.Fatalf("error %v (%T) is not an invalid *kernel.Error", err, err)
	}
	for _, c := range codes {
		if e.Code == c {
			return
		}
	}
	t.Fatalf("unexpected error code %q, want one of %q", e.Code, codes)
}

func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{
		"13800138000", "+86 138 0013 8000", "86-138-0013-8000", "8613800138000",
		"12800138000", "", "+86", "1380013800０", "138\t00138000", "+8613800138000 ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := kernel.ParsePhone(s)
		if err != nil {
			voFuzzCode(t, err, "phone-invalid")
			if !p.IsZero() {
				t.Fatalf("non-zero phone %q with error", p)
			}
			return
		}
		str := p.String()
		if len(str) != 11 || str[0] != '1' || str[1] < '3' || strings.Trim(str, "0123456789") != "" {
			t.Fatalf("accepted phone %q is not canonical", str)
		}
		again, err := kernel.ParsePhone(str)
		if err != nil || again != p {
			t.Fatalf("round trip of %q: %q, %v", str, again, err)
		}
		if m := p.Masked(); m != str[:3]+"****"+str[7:] {
			t.Fatalf("Masked() = %q for %q", m, str)
		}
	})
}

func FuzzParseIDNumber(f *testing.F) {
	today := time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{
		"11010519491231002X", "11010519491231002x", " 11010519491231002X ", "110105194912310021",
		"83000019800101001X", "99010519491231002X", "11010520240616002X", "11010519900230002X",
		"", "1101051949123100２X", "110105 9491231002X",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := kernel.ParseIDNumber(s, today)
		if err != nil {
			voFuzzCode(t, err, "id-number-format", "id-number-region", "id-number-birth-date", "id-number-checksum")
			if !n.IsZero() {
				t.Fatalf("non-zero id number %q with error", n)
			}
			return
		}
		str := n.String()
		if len(str) != 18 || strings.Trim(str[:17], "0123456789") != "" {
			t.Fatalf("accepted id number %q is not canonical", str)
		}
		c, err := kernel.IDNumberCheckChar(str[:17])
		if err != nil || c != str[17] {
			t.Fatalf("check character of %q: %q, %v", str, c, err)
		}
		again, err := kernel.ParseIDNumber(str, today)
		if err != nil || again != n {
			t.Fatalf("round trip of %q: %q, %v", str, again, err)
		}
		if m := n.Masked(); m != str[:3]+strings.Repeat("*", 11)+str[14:] {
			t.Fatalf("Masked() = %q for %q", m, str)
		}
		b := n.BirthDate()
		if b.IsZero() || b.Year() < 1900 || b.After(today) || b.Format("20060102") != str[6:14] {
			t.Fatalf("BirthDate() = %v for %q", b, str)
		}
	})
}

func FuzzParseCreditCode(f *testing.F) {
	for _, s := range []string{
		"91350100M000100Y43", "91350100m000100y43", "91350100M000100Y44", "000000000000000000",
		"91350100I000100Y43", "", "91350100M000100Yſ3", " 91350100M000100Y43 ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := kernel.ParseCreditCode(s)
		if err != nil {
			voFuzzCode(t, err, "credit-code-format", "credit-code-checksum")
			if !c.IsZero() {
				t.Fatalf("non-zero credit code %q with error", c)
			}
			return
		}
		str := c.String()
		if len(str) != 18 || strings.Trim(str, "0123456789ABCDEFGHJKLMNPQRTUWXY") != "" {
			t.Fatalf("accepted credit code %q is not canonical", str)
		}
		want, err := kernel.CreditCodeCheckChar(str[:17])
		if err != nil || want != str[17] {
			t.Fatalf("check character of %q: %q, %v", str, want, err)
		}
		again, err := kernel.ParseCreditCode(str)
		if err != nil || again != c {
			t.Fatalf("round trip of %q: %q, %v", str, again, err)
		}
	})
}

func FuzzParseYuan(f *testing.F) {
	seeds := []struct {
		s string
		n int64
	}{
		{"12", 0}, {"12.3", 1}, {"12.34", -1}, {"0.01", 100}, {"-0.05", -5},
		{"92233720368547758.07", 9223372036854775807}, {"-92233720368547758.08", -9223372036854775808},
		{"92233720368547758.08", 1 << 62}, {"1.234", 42}, {"+1", -42}, {"", 0}, {"1 0", 7}, {"-0", 0},
	}
	for _, sd := range seeds {
		f.Add(sd.s, sd.n)
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		m, err := kernel.ParseYuan(s)
		if err != nil {
			voFuzzCode(t, err, "money-invalid")
		} else {
			again, err := kernel.ParseYuan(m.String())
			if err != nil || again != m {
				t.Fatalf("ParseYuan(%q) = %d, but ParseYuan(%q) = %d, %v", s, m, m.String(), again, err)
			}
		}
		// Every amount formats to something ParseYuan reads back exactly.
		x := kernel.Fen(n)
		back, err := kernel.ParseYuan(x.String())
		if err != nil || back != x {
			t.Fatalf("ParseYuan(%q) = %d, %v; want %d", x.String(), back, err, n)
		}
	})
}

func FuzzMaskMiddle(f *testing.F) {
	f.Add("13800138000", 3, 4)
	f.Add("欧阳娜娜", 1, 0)
	f.Add("", 0, 0)
	f.Add("ab\xffcd", 1, 1)
	f.Fuzz(func(t *testing.T, s string, start, end int) {
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "?")
		}
		start, end = start%64, end%64
		m := kernel.MaskMiddle(s, start, end)
		rs, ms := []rune(s), []rune(m)
		if len(rs) != len(ms) {
			t.Fatalf("MaskMiddle(%q, %d, %d) = %q changes the rune count", s, start, end, m)
		}
		start, end = max(start, 0), max(end, 0)
		for i := range rs {
			hidden := len(rs) <= start+end || (i >= start && i < len(rs)-end)
			if hidden && ms[i] != '*' {
				t.Fatalf("MaskMiddle(%q, %d, %d) = %q reveals rune %d", s, start, end, m, i)
			}
			if !hidden && ms[i] != rs[i] {
				t.Fatalf("MaskMiddle(%q, %d, %d) = %q alters kept rune %d", s, start, end, m, i)
			}
		}
	})
}
