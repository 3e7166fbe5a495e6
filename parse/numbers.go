package parse

import (
	"math"
	"strconv"
	"unsafe"
)

// b2s views b as a string without copying; the string must not outlive b's
// current contents.
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// parseFloatText parses a decimal number; NaN and Inf are reported as not ok
// by the caller through isNonFinite.
func parseFloatText(b []byte) (float64, bool) {
	f, err := strconv.ParseFloat(b2s(b), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// isNonFiniteText reports whether b spells NaN or an infinity ("NaN",
// "-Infinity", "inf"), in any case.
func isNonFiniteText(b []byte) bool {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	switch len(b) {
	case 3, 8:
	default:
		return false
	}
	var lower [8]byte
	for i, c := range b {
		lower[i] = c | 0x20
	}
	switch string(lower[:len(b)]) {
	case "nan", "inf", "infinity":
		return true
	}
	return false
}

// tokenCount converts a parsed number to a token count.
func tokenCount(f float64) (int64, Reason) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, ReasonNotFinite
	case f < 0:
		return 0, ReasonNegativeTokens
	case f > MaxTokens || f != math.Trunc(f):
		return 0, ReasonAbsurdTokens
	}
	return int64(f), ""
}
