package kernel

import "strings"

// Phone is a mainland China mobile number in its canonical form: 11 ASCII digits,
// starting with 1 and a second digit from 3 to 9, without country prefix or separators.
// The zero value means "no phone".
type Phone string

const codePhoneInvalid = "phone-invalid"

// ParsePhone parses a mainland mobile number. It tolerates surrounding white space,
// a leading "+86" or "86" country prefix, and spaces or hyphens between digits.
// Anything else yields an *Error with code "phone-invalid".
func ParsePhone(s string) (Phone, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "+86"); ok {
		s = rest
	} else if rest, ok := strings.CutPrefix(s, "86"); ok {
		s = rest
	}
	var b [11]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-':
			continue
		case c >= '0' && c <= '9':
			if n == len(b) {
				return "", errPhoneInvalid()
			}
			b[n] = c
			n++
		default:
			return "", errPhoneInvalid()
		}
	}
	if n != len(b) || b[0] != '1' || b[1] < '3' {
		return "", errPhoneInvalid()
	}
	return Phone(b[:]), nil
}

func errPhoneInvalid() *Error {
	return Invalid(codePhoneInvalid, "not a valid mainland mobile number")
}

// String returns the canonical 11-digit form.
func (p Phone) String() string { return string(p) }

// Masked returns the number with its middle four digits hidden, e.g. "138****1234".
func (p Phone) Masked() string { return MaskMiddle(string(p), 3, 4) }

// IsZero reports whether p is the zero value.
func (p Phone) IsZero() bool { return p == "" }
