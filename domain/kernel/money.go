package kernel

import (
	"math"
	"strconv"
	"strings"
)

// Money is an amount of renminbi in fen (1 yuan = 100 fen). It never uses floating point.
type Money int64

const (
	codeMoneyOverflow = "money-overflow"
	codeMoneyInvalid  = "money-invalid"
)

// Fen returns an amount of n fen.
func Fen(n int64) Money { return Money(n) }

// Fen returns the amount in fen.
func (m Money) Fen() int64 { return int64(m) }

// IsNegative reports whether m is below zero.
func (m Money) IsNegative() bool { return m < 0 }

// Add returns m + o, or an *Error with code "money-overflow" if the sum does not fit in int64.
func (m Money) Add(o Money) (Money, error) {
	s := m + o
	if (o > 0 && s < m) || (o < 0 && s > m) {
		return 0, errMoneyOverflow()
	}
	return s, nil
}

// Mul returns m × q, or an *Error with code "money-overflow" if the product does not fit in
// int64.
func (m Money) Mul(q int64) (Money, error) {
	a := int64(m)
	if a == 0 || q == 0 {
		return 0, nil
	}
	if (a == -1 && q == math.MinInt64) || (q == -1 && a == math.MinInt64) {
		return 0, errMoneyOverflow()
	}
	p := a * q
	if p/q != a {
		return 0, errMoneyOverflow()
	}
	return Money(p), nil
}

func errMoneyOverflow() *Error {
	return Invalid(codeMoneyOverflow, "amount out of range")
}

// String formats the amount in yuan with exactly two decimals, e.g. "12.34", "0.00", "-0.05".
func (m Money) String() string {
	var u uint64
	neg := m < 0
	if neg {
		u = uint64(-(m + 1)) + 1 //nolint:gosec // -(m+1) ≥ 0 for every negative m, so safe for math.MinInt64
	} else {
		u = uint64(m)
	}
	b := make([]byte, 0, 24)
	if neg {
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, u/100, 10)
	f := u % 100
	b = append(b, '.', byte('0'+f/10), byte('0'+f%10))
	return string(b)
}

// ParseYuan parses an amount in yuan: an optional leading '-', one or more digits, and
// optionally a '.' followed by one or two digits ("12", "12.3", "12.34", "-0.05").
// Surrounding white space is trimmed. Anything else, including a '+' sign, more than two
// decimals, inner white space, or a value outside the int64 range of fen, yields an *Error
// with code "money-invalid".
func ParseYuan(s string) (Money, error) {
	s = strings.TrimSpace(s)
	neg := false
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		neg, s = true, rest
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) ||
		(hasDot && (frac == "" || len(frac) > 2 || !allDigits(frac))) {
		return 0, errMoneyInvalid()
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // |math.MinInt64|
	}
	var u uint64
	for i := 0; i < len(whole); i++ {
		d := uint64(whole[i] - '0')
		if u > (limit-d)/10 {
			return 0, errMoneyInvalid()
		}
		u = u*10 + d
	}
	if u > limit/100 {
		return 0, errMoneyInvalid()
	}
	u *= 100
	var f uint64
	switch len(frac) {
	case 1:
		f = uint64(frac[0]-'0') * 10
	case 2:
		f = uint64(frac[0]-'0')*10 + uint64(frac[1]-'0')
	}
	if u > limit-f {
		return 0, errMoneyInvalid()
	}
	u += f
	if neg {
		// For u == 1<<63 the conversion yields math.MinInt64 and negating it wraps back to
		// math.MinInt64, which is exactly the value wanted.
		return Money(-int64(u)), nil
	}
	return Money(u), nil
}

func errMoneyInvalid() *Error {
	return Invalid(codeMoneyInvalid, "not a valid amount in yuan")
}
