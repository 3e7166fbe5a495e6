package parse

import (
	"errors"
	"math"
	"strconv"
)

// Money is an exact amount of US dollars in picodollars (1e-12 USD).
//
// Money never passes through a float: log values are parsed from their decimal
// text and prices are multiplied as integers. An int64 of picodollars holds up to
// about 9.2 million dollars, far above any single LLM call; sums that could grow
// past that (reports) are made by PostgreSQL's numeric type.
type Money int64

// MoneyScale is the number of fractional decimal digits Money keeps.
const MoneyScale = 12

const picoPerUnit = 1_000_000_000_000

// Errors returned by ParseMoney.
var (
	ErrMoneySyntax   = errors.New("not a decimal number")
	ErrMoneyRange    = errors.New("amount out of range")
	ErrMoneyNegative = errors.New("negative amount")
)

// ParseMoney parses a non-negative decimal such as "0.0002", "12", "1.5e-4".
// Digits beyond the 12th decimal place are rounded half to even.
func ParseMoney(s string) (Money, error) {
	return parseMoneyBytes([]byte(s))
}

// parseMoneyBytes is ParseMoney without the string conversion (hot path).
func parseMoneyBytes(b []byte) (Money, error) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	// Significant digits only; point is the decimal exponent of the digit string:
	// value = 0.d1d2d3... * 10^point.
	var digits [40]byte
	n := 0
	point := 0
	seenPoint, seenDigit, sticky := false, false, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '.':
			if seenPoint {
				return 0, ErrMoneySyntax
			}
			seenPoint = true
			continue
		case c == 'e' || c == 'E':
		case c >= '0' && c <= '9':
			seenDigit = true
			if n == 0 && c == '0' {
				if seenPoint {
					point--
				}
				continue
			}
			if n < len(digits) {
				digits[n] = c - '0'
				n++
			} else if c != '0' {
				sticky = true
			}
			if !seenPoint {
				point++
			}
			continue
		default:
			return 0, ErrMoneySyntax
		}
		break // exponent
	}
	if !seenDigit {
		return 0, ErrMoneySyntax
	}
	if i < len(b) { // b[i] is 'e' or 'E'
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		if i >= len(b) {
			return 0, ErrMoneySyntax
		}
		exp := 0
		for ; i < len(b); i++ {
			c := b[i]
			if c < '0' || c > '9' {
				return 0, ErrMoneySyntax
			}
			if exp < 10000 {
				exp = exp*10 + int(c-'0')
			}
		}
		if eneg {
			exp = -exp
		}
		point += exp
	}
	if n == 0 {
		return 0, nil // zero, whatever its sign
	}
	if neg {
		return 0, ErrMoneyNegative
	}
	cut := point + MoneyScale // digits that form the integer count of picodollars
	if cut > 19 {
		return 0, ErrMoneyRange
	}
	var m uint64
	for k := 0; k < cut; k++ {
		var d uint64
		if k < n {
			d = uint64(digits[k])
		}
		m = m*10 + d
	}
	if m > math.MaxInt64 {
		return 0, ErrMoneyRange
	}
	var next byte
	if cut >= 0 && cut < n {
		next = digits[cut]
		for _, d := range digits[cut+1 : n] {
			if d != 0 {
				sticky = true
			}
		}
	} else if cut < 0 {
		sticky = true // every digit lies below half a picodollar
	}
	switch {
	case next > 5, next == 5 && (sticky || m%2 == 1):
		m++
	}
	if m > math.MaxInt64 {
		return 0, ErrMoneyRange
	}
	return Money(m), nil
}

// String formats m as a plain decimal with trailing zeros trimmed: "0.0002", "12".
func (m Money) String() string {
	return string(m.AppendText(nil))
}

// AppendText appends the decimal form of m to b.
func (m Money) AppendText(b []byte) []byte {
	v := int64(m)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/picoPerUnit, 10)
	frac := v % picoPerUnit
	if frac == 0 {
		return b
	}
	var digits [MoneyScale]byte
	for i := MoneyScale - 1; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := MoneyScale
	for n > 0 && digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// Float64 returns m in dollars as a float, for metrics and alert values only.
func (m Money) Float64() float64 {
	return float64(m) / picoPerUnit
}
