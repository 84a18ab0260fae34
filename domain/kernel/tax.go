package kernel

import (
	"math/bits"
	"strings"
)

// TaxRate is a VAT rate or levy rate (税率/征收率) in basis points: 600 is 6 %, 150 is 1.5 %. It
// never uses floating point.
type TaxRate int

// Rates in use for VAT ordinary invoices.
const (
	TaxRateZero    TaxRate = 0
	TaxRate1       TaxRate = 100
	TaxRate1Point5 TaxRate = 150
	TaxRate3       TaxRate = 300
	TaxRate5       TaxRate = 500
	TaxRate6       TaxRate = 600
	TaxRate9       TaxRate = 900
	TaxRate13      TaxRate = 1300
)

// DefaultTaxRate is the rate of information technology services (现代服务, 6 %): the rate of
// catalog items and order lines stored before items carried their own rate.
const DefaultTaxRate = TaxRate6

// DefaultTaxCode is the tax classification code (税收分类编码) of information technology
// services (信息技术服务, 3040201000000000000), with DefaultTaxCategory its short name.
const (
	DefaultTaxCode     = "3040201000000000000"
	DefaultTaxCategory = "信息技术服务"
)

const basisPoints = 10000

// ParseTaxRate validates a rate in basis points: one of the statutory rates and levy rates
// 0, 1 %, 1.5 %, 3 %, 5 %, 6 %, 9 % and 13 %; anything else is invalid "tax-rate-invalid".
func ParseTaxRate(bp int) (TaxRate, error) {
	switch r := TaxRate(bp); r {
	case TaxRateZero, TaxRate1, TaxRate1Point5, TaxRate3, TaxRate5, TaxRate6, TaxRate9, TaxRate13:
		return r, nil
	}
	return 0, Invalid("tax-rate-invalid", "the tax rate (basis points) must be 0, 100, 150, 300, 500, 600, 900 or 1300")
}

// BasisPoints returns the rate in basis points.
func (r TaxRate) BasisPoints() int { return int(r) }

// String formats the rate as printed on invoices: "6%", "1.5%", "0%".
func (r TaxRate) String() string {
	whole, frac := int(r)/100, int(r)%100
	s := itoa(whole)
	if frac != 0 {
		f := string([]byte{byte('0' + frac/10), byte('0' + frac%10)})
		s += "." + strings.TrimRight(f, "0")
	}
	return s + "%"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// ParseTaxCode validates a tax classification code (税收分类编码): exactly 19 ASCII digits whose
// first digit is the class, 1 to 6 (goods, services, intangible assets, real estate, ...), not
// followed by zeros only. Anything else is invalid "tax-code-invalid".
func ParseTaxCode(s string) (string, error) {
	bad := Invalid("tax-code-invalid", "the tax classification code is 19 digits, starting with 1 to 6")
	if len(s) != 19 || s[0] < '1' || s[0] > '6' {
		return "", bad
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", bad
		}
	}
	if strings.Trim(s[1:], "0") == "" {
		return "", bad
	}
	return s, nil
}

// SplitTax splits a tax-inclusive amount into the amount before tax (金额) and the tax (税额),
// in fen, by the rule printed on the invoices and in the README:
//
//	tax = round-half-up(total × rate / (1 + rate)),  net = total − tax
//
// so net + tax == total exactly. It is computed in 128-bit integers, so every int64 amount
// works; a negative total or an invalid rate is invalid "tax-split-invalid".
func SplitTax(total Money, rate TaxRate) (net, tax Money, err error) {
	if total < 0 {
		return 0, 0, Invalid("tax-split-invalid", "a tax-inclusive amount cannot be negative")
	}
	if _, err := ParseTaxRate(int(rate)); err != nil {
		return 0, 0, err
	}
	r := uint64(rate) //nolint:gosec // a valid rate is 0 to 1300
	q := mulDivHalfUp(uint64(total), r, basisPoints+r)
	tax = Money(q) //nolint:gosec // q ≤ total × rate/(10000+rate) + 1 ≤ total ≤ MaxInt64
	return total - tax, tax, nil
}

// mulDivHalfUp returns round-half-up(a × b / den) for b < den, in 128-bit arithmetic.
func mulDivHalfUp(a, b, den uint64) uint64 {
	hi, lo := bits.Mul64(a, b) // hi < b < den: Div64 cannot overflow
	q, r := bits.Div64(hi, lo, den)
	if r >= den-r { // r ≥ den/2 without overflowing 2r
		q++
	}
	return q
}

var (
	upperDigits = []string{"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"}
	upperPlaces = []string{"", "拾", "佰", "仟"}
)

// UpperCase writes an amount in Chinese financial uppercase (价税合计（大写）), by the rules of
// the 会计基础工作规范: digits 壹…玖 with 拾佰仟 and the sections 万 and 亿; one 零 for any run of
// zeros inside the integer part (壹仟零壹元, 壹亿零壹万元); "整" after 元 or 角 when there are no
// 分 (贰佰柒拾元整, 壹元伍角整); 零 between 元 and 分 when 角 is zero (壹仟元零伍分); an amount
// below one yuan has no 元 (伍角整, 伍分); zero is 零元整; a negative amount is prefixed 负.
func UpperCase(m Money) string {
	var b strings.Builder
	var u uint64
	if m < 0 {
		b.WriteString("负")
		u = uint64(-(m + 1)) + 1 //nolint:gosec // -(m+1) ≥ 0 for every negative m
	} else {
		u = uint64(m)
	}
	yuan, jiao, fen := u/100, u%100/10, u%10
	if yuan == 0 && jiao == 0 && fen == 0 {
		return b.String() + "零元整"
	}
	if yuan > 0 {
		b.WriteString(upperInteger(yuan))
		b.WriteString("元")
	}
	switch {
	case jiao == 0 && fen == 0:
		b.WriteString("整")
	case jiao == 0:
		if yuan > 0 {
			b.WriteString("零")
		}
		b.WriteString(upperDigits[fen] + "分")
	case fen == 0:
		b.WriteString(upperDigits[jiao] + "角整")
	default:
		b.WriteString(upperDigits[jiao] + "角" + upperDigits[fen] + "分")
	}
	return b.String()
}

// upperInteger writes n > 0 with the sections 亿 and 万.
func upperInteger(n uint64) string {
	const yi, wan = 100_000_000, 10_000
	if n >= yi {
		s := upperInteger(n/yi) + "亿"
		if rest := n % yi; rest > 0 {
			if rest < yi/10 {
				s += "零"
			}
			s += upperInteger(rest)
		}
		return s
	}
	var s string
	hi, lo := n/wan, n%wan
	if hi > 0 {
		s = upperSection(hi) + "万"
	}
	if lo > 0 {
		if hi > 0 && lo < 1000 {
			s += "零"
		}
		s += upperSection(lo)
	}
	return s
}

// upperSection writes 0 < n < 10000: 壹仟零壹, 壹拾, 伍佰零伍.
func upperSection(n uint64) string {
	var s string
	zero := false
	for place := 3; place >= 0; place-- {
		d := n / pow10[place] % 10
		if d == 0 {
			zero = s != ""
			continue
		}
		if zero {
			s += "零"
			zero = false
		}
		s += upperDigits[d] + upperPlaces[place]
	}
	return s
}

var pow10 = []uint64{1, 10, 100, 1000}
