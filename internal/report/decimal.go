package report

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// Decimal is an exact decimal number as text, the way PostgreSQL's numeric
// prints it ("12.3400" is trimmed to "12.34"). Money stays a Decimal from
// the database to the output; arithmetic on it is exact (math/big).
type Decimal string

// trim drops trailing fractional zeros: "1.500" → "1.5", "2.000" → "2".
func (d Decimal) trim() Decimal {
	s := string(d)
	if !strings.Contains(s, ".") {
		return d
	}
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "" || s == "-" {
		s = "0"
	}
	return Decimal(s)
}

// rat is d as an exact rational; an unreadable d (never from numeric text) is 0.
func (d Decimal) rat() *big.Rat {
	r, ok := new(big.Rat).SetString(string(d))
	if !ok {
		return new(big.Rat)
	}
	return r
}

// Div is d / n rounded half away from zero to 12 decimals, trimmed.
func (d Decimal) Div(n int64) Decimal {
	r := d.rat()
	r.Quo(r, new(big.Rat).SetInt64(n))
	return Decimal(r.FloatString(12)).trim()
}

// IsZero says whether d is zero.
func (d Decimal) IsZero() bool { return d.rat().Sign() == 0 }

// Float64 is d as a float, for chart geometry only.
func (d Decimal) Float64() float64 {
	f, _ := d.rat().Float64()
	return f
}

// plainDecimal is what a rate may look like: a plain decimal, which JSON,
// PostgreSQL's numeric and a reader all take as it is. No sign, exponent,
// fraction, leading zero or bare point: not "+83.2", "8.32e1", ".5", "83."
// or "083".
var plainDecimal = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]+)?$`)

// ValidRate checks a conversion rate: a plain decimal above zero such as
// "83.2" or "0.92".
func ValidRate(s string) error {
	if neg, ok := strings.CutPrefix(s, "-"); ok && plainDecimal.MatchString(neg) {
		return fmt.Errorf("rate %q must be above zero", s)
	}
	if !plainDecimal.MatchString(s) {
		return fmt.Errorf("rate %q is not a plain decimal number such as 83.2 or 0.92 (digits, then optionally a point and digits; no sign, exponent or leading zero)", s)
	}
	if r, ok := new(big.Rat).SetString(s); !ok || r.Sign() <= 0 {
		return fmt.Errorf("rate %q must be above zero", s)
	}
	return nil
}
