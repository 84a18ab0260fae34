package kernel

import (
	"strings"
	"time"
)

// IDNumber is an 18-character resident identity number (GB 11643-1999) in canonical form:
// 17 digits followed by a check character that is a digit or an upper-case 'X'.
// The zero value means "no identity number".
type IDNumber string

const (
	codeIDNumberFormat    = "id-number-format"
	codeIDNumberRegion    = "id-number-region"
	codeIDNumberBirthDate = "id-number-birth-date"
	codeIDNumberChecksum  = "id-number-checksum"
)

// idWeights are the ISO 7064 MOD 11-2 weights of the first 17 digits.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps the weighted sum modulo 11 to the check character.
const idCheckChars = "10X98765432"

// ParseIDNumber parses and validates a resident identity number. Surrounding white space is
// trimmed and a lower-case 'x' check character is accepted. The number must be 18 characters,
// start with a known province-level code (including 81, 82 and 83 used by the residence permits
// of Hong Kong, Macao and Taiwan residents), carry a real birth date between 1900-01-01 and the
// calendar date of today (in today's location), and have a correct MOD 11-2 check character.
//
// Errors are *Error with code "id-number-format", "id-number-region", "id-number-birth-date" or
// "id-number-checksum", checked in that order.
func ParseIDNumber(s string, today time.Time) (IDNumber, error) {
	s = strings.TrimSpace(s)
	if len(s) != 18 || !allDigits(s[:17]) {
		return "", errIDFormat()
	}
	check := s[17]
	switch {
	case check == 'x':
		check = 'X'
	case check == 'X' || (check >= '0' && check <= '9'):
	default:
		return "", errIDFormat()
	}
	if !validProvince(s[:2]) {
		return "", Invalid(codeIDNumberRegion, "identity number has an unknown region code")
	}
	birth, ok := idBirthDate(s)
	if !ok || birth.Year() < 1900 || afterDate(birth, today) {
		return "", Invalid(codeIDNumberBirthDate, "identity number has an invalid birth date")
	}
	want, _ := IDNumberCheckChar(s[:17]) // cannot fail: 17 digits checked above
	if check != want {
		return "", Invalid(codeIDNumberChecksum, "identity number check character does not match")
	}
	return IDNumber(s[:17] + string(check)), nil
}

// IDNumberCheckChar computes the ISO 7064 MOD 11-2 check character ('0'-'9' or 'X') of the
// first 17 digits of a resident identity number. It fails with code "id-number-format" unless
// first17 is exactly 17 ASCII digits.
func IDNumberCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 || !allDigits(first17) {
		return 0, errIDFormat()
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11], nil
}

func errIDFormat() *Error {
	return Invalid(codeIDNumberFormat, "identity number must be 17 digits followed by a digit or X")
}

// validProvince reports whether the two-digit code is a province-level division code
// (GB/T 2260) or one of the codes used by residence permits (81, 82, 83).
func validProvince(p string) bool {
	n := int(p[0]-'0')*10 + int(p[1]-'0')
	switch {
	case n >= 11 && n <= 15, n >= 21 && n <= 23, n >= 31 && n <= 37, n >= 41 && n <= 46,
		n >= 50 && n <= 54, n >= 61 && n <= 65, n == 71, n >= 81 && n <= 83:
		return true
	}
	return false
}

// idBirthDate extracts the YYYYMMDD birth date of an 18-character number whose first 17
// characters are digits. It reports false if the digits are not a real calendar date.
func idBirthDate(s string) (time.Time, bool) {
	y := atoiDigits(s[6:10])
	m := atoiDigits(s[10:12])
	d := atoiDigits(s[12:14])
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

// afterDate reports whether the calendar date of d (UTC midnight) comes after the calendar
// date of today in today's own location.
func afterDate(d, today time.Time) bool {
	ty, tm, td := today.Date()
	return d.After(time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC))
}

// String returns the canonical 18-character form.
func (n IDNumber) String() string { return string(n) }

// Masked keeps the first 3 and the last 4 characters, e.g. "110***********1234".
func (n IDNumber) Masked() string { return MaskMiddle(string(n), 3, 4) }

// BirthDate returns the birth date encoded in the number, at midnight UTC.
// It returns the zero time for the zero value or a number that was not parsed.
func (n IDNumber) BirthDate() time.Time {
	s := string(n)
	if len(s) != 18 || !allDigits(s[:17]) {
		return time.Time{}
	}
	t, _ := idBirthDate(s)
	return t
}

// IsZero reports whether n is the zero value.
func (n IDNumber) IsZero() bool { return n == "" }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoiDigits converts a short string of ASCII digits, already validated, to an int.
func atoiDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
