package kernel

import "strings"

// CreditCode is an 18-character unified social credit code (GB 32100-2015) in canonical,
// upper-case form. Credit codes are public information and need no masking.
// The zero value means "no credit code".
type CreditCode string

const (
	codeCreditCodeFormat   = "credit-code-format"
	codeCreditCodeChecksum = "credit-code-checksum" //nolint:gosec // an error code, not a credential
)

// creditAlphabet is the 31-character code alphabet; a character's value is its index.
// I, O, Z, S and V are not used.
const creditAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditWeights are the weights (3^i mod 31) of the first 17 characters.
var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// ParseCreditCode parses and validates a unified social credit code. Surrounding white space
// is trimmed and ASCII letters are upper-cased. Errors are *Error with code
// "credit-code-format" (wrong length or character) or "credit-code-checksum".
func ParseCreditCode(s string) (CreditCode, error) {
	s = asciiUpper(strings.TrimSpace(s))
	if len(s) != 18 || creditValue(s[17]) < 0 {
		return "", errCreditFormat()
	}
	want, err := CreditCodeCheckChar(s[:17])
	if err != nil {
		return "", err
	}
	if s[17] != want {
		return "", Invalid(codeCreditCodeChecksum, "credit code check character does not match")
	}
	return CreditCode(s), nil
}

// CreditCodeCheckChar computes the check character of the first 17 characters of a unified
// social credit code. ASCII letters are upper-cased first. It fails with code
// "credit-code-format" unless first17 is 17 characters of the code alphabet.
func CreditCodeCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, errCreditFormat()
	}
	first17 = asciiUpper(first17)
	sum := 0
	for i := 0; i < 17; i++ {
		v := creditValue(first17[i])
		if v < 0 {
			return 0, errCreditFormat()
		}
		sum += v * creditWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return creditAlphabet[c], nil
}

// creditValue returns the alphabet value of c, or -1 if c is not in the alphabet.
func creditValue(c byte) int {
	return strings.IndexByte(creditAlphabet, c)
}

func errCreditFormat() *Error {
	return Invalid(codeCreditCodeFormat, "credit code must be 18 characters of the code alphabet")
}

// String returns the canonical upper-case form.
func (c CreditCode) String() string { return string(c) }

// IsZero reports whether c is the zero value.
func (c CreditCode) IsZero() bool { return c == "" }

// asciiUpper upper-cases ASCII letters only, leaving every other byte untouched (unlike
// strings.ToUpper, which would map e.g. 'ſ' to 'S').
func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'a' && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
