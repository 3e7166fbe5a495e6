package loggen

import (
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. ascii escapes every non-ASCII
// rune as \uXXXX, like Python's json.dumps does by default.
func appendJSONString(dst []byte, s string, ascii bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			if !ascii {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			r, size := utf8.DecodeRuneInString(s[i:])
			if r >= 0x10000 {
				r1, r2 := surrogates(r)
				dst = appendU(dst, r1)
				dst = appendU(dst, r2)
			} else {
				dst = appendU(dst, r)
			}
			i += size
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = appendU(dst, rune(c))
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendDockerString appends b as dockerd's json-file driver escapes a log
// line: Go's JSON escaping, HTML characters included. b must be valid UTF-8.
func appendDockerString(dst, b []byte) []byte {
	start := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		dst = append(dst, b[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = appendU(dst, rune(c))
		}
		start = i + 1
	}
	return append(dst, b[start:]...)
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// appendHex appends the 16 hex digits of v.
func appendHex(dst []byte, v uint64, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hexDigits[v>>(uint(i)*4)&0xf])
	}
	return dst
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// appendBase62 appends v in 11 base-62 digits (enough for 64 bits).
func appendBase62(dst []byte, v uint64) []byte {
	var buf [11]byte
	for i := len(buf) - 1; i >= 0; i-- {
		buf[i] = base62[v%62]
		v /= 62
	}
	return append(dst, buf[:]...)
}

// mix64 is splitmix64's finalizer: a bijection on uint64, so distinct inputs
// give distinct outputs, which keeps generated ids unique by construction.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// appendCost appends a cost in picodollars as a plain decimal ("0.0001794").
func appendCost(dst []byte, pico int64) []byte {
	neg := pico < 0
	if neg {
		dst = append(dst, '-')
		pico = -pico
	}
	dst = strconv.AppendInt(dst, pico/1e12, 10)
	frac := pico % 1e12
	if frac == 0 {
		return dst
	}
	var d [12]byte
	for i := 11; i >= 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 12
	for d[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, d[:n]...)
}

// appendCostSci appends a positive cost in picodollars the way Python's repr
// writes small floats: "1.794e-05". The value is exact.
func appendCostSci(dst []byte, pico int64) []byte {
	var buf [20]byte
	digits := strconv.AppendInt(buf[:0], pico, 10)
	exp := len(digits) - 1 - 12
	n := len(digits)
	for n > 1 && digits[n-1] == '0' {
		n--
	}
	dst = append(dst, digits[0])
	if n > 1 {
		dst = append(dst, '.')
		dst = append(dst, digits[1:n]...)
	}
	dst = append(dst, 'e')
	if exp < 0 {
		dst = append(dst, '-')
		exp = -exp
	} else {
		dst = append(dst, '+')
	}
	if exp < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(exp), 10)
}

// appendTenths appends v/10 with one decimal ("812.3").
func appendTenths(dst []byte, v int64) []byte {
	dst = strconv.AppendInt(dst, v/10, 10)
	return append(dst, '.', byte('0'+v%10))
}
