package report

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// currencySymbols are the currencies shown with a symbol; others are
// written with their code ("CHF 12.30").
var currencySymbols = map[string]string{
	"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "JPY": "¥",
}

// ValidCurrency checks a currency code: three capital letters.
func ValidCurrency(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if code[i] < 'A' || code[i] > 'Z' {
			return false
		}
	}
	return true
}

func withCurrency(code, amount string) string {
	if s, ok := currencySymbols[code]; ok {
		return s + amount
	}
	return code + " " + amount
}

// cent is the smallest amount the table shows as such.
var cent = big.NewRat(1, 100)

// Money formats an amount for the table: "$12.34" below a thousand, then
// three significant digits ("$1.23K", "$45.6M"), and "< $0.01" for amounts
// that would round to a cent or less.
func Money(d Decimal, currency string) string {
	r := d.rat()
	switch {
	case r.Sign() == 0:
		return withCurrency(currency, "0.00")
	case r.Sign() > 0 && r.Cmp(cent) < 0:
		return "< " + withCurrency(currency, "0.01")
	case new(big.Rat).Abs(r).Cmp(big.NewRat(1000, 1)) < 0:
		return withCurrency(currency, r.FloatString(2))
	}
	return withCurrency(currency, abbrev(r))
}

// Count formats a count for the table: "812", "1.2K", "2.35M".
func Count(n int64) string {
	if n < 1000 && n > -1000 {
		return strconv.FormatInt(n, 10)
	}
	return abbrev(new(big.Rat).SetInt64(n))
}

var units = []string{"", "K", "M", "B", "T", "P", "E"}

// abbrev writes r with three significant digits and a K/M/B/T suffix,
// trailing zeros dropped: 1234 → "1.23K", 1200 → "1.2K", 999999 → "1M".
// It rounds exactly (math/big), so the table never disagrees with the CSV.
func abbrev(r *big.Rat) string {
	neg := r.Sign() < 0
	v := new(big.Rat).Abs(r)
	thousand := big.NewRat(1000, 1)
	u := 0
	for u < len(units)-1 && v.Cmp(thousand) >= 0 {
		v.Quo(v, thousand)
		u++
	}
	var s string
	for {
		prec := 2
		switch {
		case v.Cmp(big.NewRat(100, 1)) >= 0:
			prec = 0
		case v.Cmp(big.NewRat(10, 1)) >= 0:
			prec = 1
		}
		s = v.FloatString(prec)
		// 999.6 rounds to "1000": that is the next unit's 1.
		if prec == 0 && len(s) >= 4 && u < len(units)-1 && u > 0 {
			v.Quo(v, thousand)
			u++
			continue
		}
		break
	}
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	if neg {
		s = "-" + s
	}
	return s + units[u]
}

// Duration formats milliseconds: "4.2ms", "850ms", "1.23s", "95s".
func Duration(ms float64) string {
	switch {
	case math.IsNaN(ms):
		return "-"
	case ms == 0:
		return "0ms"
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	case ms < 999.5:
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	case ms < 9995:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
	case ms < 99950:
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + "s"
	}
	return strconv.FormatFloat(ms/1000, 'f', 0, 64) + "s"
}

// Percent formats a fraction: "0%", "<0.1%", "2.3%", "100%".
func Percent(f float64) string {
	switch {
	case f <= 0:
		return "0%"
	case f < 0.0005:
		return "<0.1%"
	case f >= 1:
		return "100%"
	}
	return strconv.FormatFloat(f*100, 'f', 1, 64) + "%"
}
