package kernel_test

import (
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
)

func TestCreditCodeCheckChar(t *testing.T) {
	cases := []struct {
		in   string
		want byte
	}{
		{"91350100M000100Y4", '3'}, // the example published with GB 32100-2015
		{"91350100m000100y4", '3'}, // lower case is upper-cased first
		{"00000000000000000", '0'}, // sum 0 → 31 → 0
		{"10000000000000000", 'Y'}, // sum 1 → 30
	}
	for _, tc := range cases {
		got, err := kernel.CreditCodeCheckChar(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CreditCodeCheckChar(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "91350100M000100Y", "91350100M000100Y43", "91350100I000100Y4", "9135010０M000100Y"} {
		if _, err := kernel.CreditCodeCheckChar(in); err == nil {
			t.Errorf("CreditCodeCheckChar(%q) succeeded, want error", in)
		} else {
			voWantInvalid(t, err, "credit-code-format", in)
		}
	}
}

// voMkCredit appends the correct check character to 17 code characters.
func voMkCredit(t *testing.T, first17 string) string {
	t.Helper()
	c, err := kernel.CreditCodeCheckChar(first17)
	if err != nil {
		t.Fatalf("CreditCodeCheckChar(%q): %v", first17, err)
	}
	return first17 + string(c)
}

func TestParseCreditCode(t *testing.T) {
	valid := []struct{ in, want string }{
		{"91350100M000100Y43", "91350100M000100Y43"},
		{"91350100m000100y43", "91350100M000100Y43"},
		{" 91350100M000100Y43\t", "91350100M000100Y43"},
		{"000000000000000000", "000000000000000000"},
		{voMkCredit(t, "91110108MA01ABCDE"), voMkCredit(t, "91110108MA01ABCDE")},
		{voMkCredit(t, "12100000400000624"), voMkCredit(t, "12100000400000624")},
		{voMkCredit(t, "Y1PQRTUWXY0123456"), voMkCredit(t, "Y1PQRTUWXY0123456")},
	}
	for _, tc := range valid {
		got, err := kernel.ParseCreditCode(tc.in)
		if err != nil {
			t.Errorf("ParseCreditCode(%q) error: %v", tc.in, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("ParseCreditCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got.IsZero() {
			t.Errorf("ParseCreditCode(%q).IsZero() = true", tc.in)
		}
	}

	invalid := []struct{ in, code string }{
		{"", "credit-code-format"},
		{"91350100M000100Y4", "credit-code-format"},
		{"91350100M000100Y433", "credit-code-format"},
		{"91350100M000100Y4I", "credit-code-format"},
		{"91350100I000100Y43", "credit-code-format"},
		{"91350100O000100Y43", "credit-code-format"},
		{"91350100Z000100Y43", "credit-code-format"},
		{"91350100S000100Y43", "credit-code-format"},
		{"91350100V000100Y43", "credit-code-format"},
		{"91350100-000100Y43", "credit-code-format"},
		{"91350100 M000100Y43", "credit-code-format"},
		{"9135010０M000100Y43", "credit-code-format"},   // full-width digit
		{"91350100M000100Yſ3", "credit-code-format"},   // 'ſ' must not be upper-cased to 'S'
		{"91350100M000100Y44", "credit-code-checksum"}, // wrong check character
		{"91350100M000100Y40", "credit-code-checksum"},
		{"91350100M000100Y4Y", "credit-code-checksum"},
		{"000000000000000001", "credit-code-checksum"},
	}
	for _, tc := range invalid {
		got, err := kernel.ParseCreditCode(tc.in)
		if err == nil {
			t.Errorf("ParseCreditCode(%q) = %q, want error %s", tc.in, got, tc.code)
			continue
		}
		voWantInvalid(t, err, tc.code, tc.in)
		if !got.IsZero() {
			t.Errorf("ParseCreditCode(%q) returned non-zero %q with error", tc.in, got)
		}
	}

	var zero kernel.CreditCode
	if !zero.IsZero() || zero.String() != "" {
		t.Errorf("zero CreditCode: IsZero=%v String=%q", zero.IsZero(), zero.String())
	}
}
