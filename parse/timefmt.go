package parse

import (
	"math"
	"time"
)

// parseTimeText reads RFC 3339 timestamps with or without a zone ("Z",
// "+05:30", none = UTC), with 'T' or ' ' between date and time and any number
// of fractional digits; or an epoch number in text (see epochTime). It does
// not allocate: zones are applied as offsets and the result is in UTC.
func parseTimeText(b []byte) (time.Time, bool) {
	if len(b) == 0 {
		return time.Time{}, false
	}
	if b[0] >= '0' && b[0] <= '9' && (len(b) < 5 || b[4] != '-') {
		f, ok := parseFloatText(b)
		if !ok {
			return time.Time{}, false
		}
		return epochTime(f, b)
	}
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := atoiFixed(b[0:4])
	month, ok2 := atoiFixed(b[5:7])
	day, ok3 := atoiFixed(b[8:10])
	hour, ok4 := atoiFixed(b[11:13])
	minute, ok5 := atoiFixed(b[14:16])
	sec, ok6 := atoiFixed(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if i < len(b) && (b[i] == '.' || b[i] == ',') {
		i++
		start := i
		scale := 100_000_000
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			nsec += int(b[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return time.Time{}, false
		}
	}
	offset := 0
	if i < len(b) {
		switch b[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			rest := b[i+1:]
			var hh, mm int
			var ok bool
			switch {
			case len(rest) == 5 && rest[2] == ':':
				hh, ok = atoiFixed(rest[0:2])
				if ok {
					mm, ok = atoiFixed(rest[3:5])
				}
			case len(rest) == 4:
				hh, ok = atoiFixed(rest[0:2])
				if ok {
					mm, ok = atoiFixed(rest[2:4])
				}
			case len(rest) == 2:
				hh, ok = atoiFixed(rest)
			}
			if !ok || hh > 23 || mm > 59 {
				return time.Time{}, false
			}
			offset = (hh*60 + mm) * 60
			if b[i] == '-' {
				offset = -offset
			}
			i = len(b)
		}
	}
	if i != len(b) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // Feb 30th and friends
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

// epochTime reads an epoch number by its magnitude: seconds (up to 1e11, i.e.
// year 5138), milliseconds, microseconds, else nanoseconds. text, when not nil,
// is the number's decimal form, used to keep integer nanoseconds exact.
func epochTime(f float64, text []byte) (time.Time, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return time.Time{}, false
	}
	if t, ok := exactEpochSeconds(text); ok && f < 1e11 {
		return t, true
	}
	if n, ok := atoiAll(text); ok && f >= 1e11 {
		switch {
		case f < 1e14:
			return time.UnixMilli(n).UTC(), true
		case f < 1e17:
			return time.UnixMicro(n).UTC(), true
		default:
			return time.Unix(0, n).UTC(), true
		}
	}
	switch {
	case f < 1e11:
		sec := math.Floor(f)
		ns := math.Round((f - sec) * 1e9)
		return time.Unix(int64(sec), int64(ns)).UTC(), true
	case f < 1e14:
		return time.UnixMicro(int64(math.Round(f * 1e3))).UTC(), true
	case f < 1e17:
		return time.Unix(0, int64(math.Round(f*1e3))).UTC(), true
	case f < 9.2e18:
		return time.Unix(0, int64(f)).UTC(), true
	}
	return time.Time{}, false
}

func atoiFixed(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// atoiAll parses b as a non-negative integer that fits an int64.
func atoiAll(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// leadingTime reads a timestamp at the start of a logger's line prefix:
// "2026-11-23T10:00:00.123Z INFO ...", "[2026-11-23 10:00:00] production.INFO:",
// "2026-11-23 10:00:00,123 - app - INFO". A time without a zone is UTC.
func leadingTime(b []byte) (time.Time, bool) {
	for len(b) > 0 && (b[0] == '[' || b[0] == ' ') {
		b = b[1:]
	}
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') {
		return time.Time{}, false
	}
	end := 19
	if end < len(b) && (b[end] == '.' || b[end] == ',') {
		end++
		for end < len(b) && b[end] >= '0' && b[end] <= '9' {
			end++
		}
	}
	if end < len(b) {
		switch c := b[end]; {
		case c == 'Z':
			end++
		case c == '+' || c == '-':
			z := end + 1
			for z < len(b) && z-end <= 6 && (b[z] >= '0' && b[z] <= '9' || b[z] == ':') {
				z++
			}
			end = z
		}
	}
	return parseTimeText(b[:end])
}

// exactEpochSeconds reads "1763892000.123" without going through a float, so
// the nanoseconds are exactly the digits written (a float would turn .123
// into .122999808, and the time would look more precise than it is).
func exactEpochSeconds(b []byte) (time.Time, bool) {
	dot := -1
	for i, c := range b {
		if c == '.' {
			if dot >= 0 {
				return time.Time{}, false
			}
			dot = i
			continue
		}
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
	}
	if dot <= 0 {
		return time.Time{}, false
	}
	sec, ok := atoiAll(b[:dot])
	if !ok {
		return time.Time{}, false
	}
	var ns int64
	scale := int64(100_000_000)
	for _, c := range b[dot+1:] {
		ns += int64(c-'0') * scale
		scale /= 10
	}
	return time.Unix(sec, ns).UTC(), true
}

// InTimeRange says whether t can be a record's occurred_at: a time that
// nanoseconds since 1970 in an int64 can hold (InfluxDB's range), with a
// second to spare for the writer's per-record spread.
func InTimeRange(t time.Time) bool {
	return !t.Before(time.Unix(0, math.MinInt64+2)) && !t.After(time.Unix(0, math.MaxInt64-int64(time.Second)))
}
