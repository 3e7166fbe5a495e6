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

// isNonFiniteText reports whether b spells NaN or an infinity.
func isNonFiniteText(b []byte) bool {
	for len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	if len(b) < 3 {
		return false
	}
	c := b[0] | 0x20
	return c == 'n' || c == 'i'
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
