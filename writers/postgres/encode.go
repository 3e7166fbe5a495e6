package postgres

import (
	"encoding/binary"
	"io"
	"math"
	"time"
	"unicode/utf8"

	"github.com/tokentail/tokentail/parse"
)

// eventColumns are the columns COPY fills, in the order encodeRow writes them.
// ingested_at takes its default.
var eventColumns = []string{
	"event_id", "occurred_at", "source", "user_id", "feature", "provider", "model",
	"input_tokens", "cached_input_tokens", "output_tokens", "total_tokens",
	"cost_usd", "cost_source", "duration_ms", "success", "error_type", "attributes",
}

const eventColumnList = "event_id, occurred_at, source, user_id, feature, provider, model, " +
	"input_tokens, cached_input_tokens, output_tokens, total_tokens, " +
	"cost_usd, cost_source, duration_ms, success, error_type, attributes"

// copyReader streams records as a COPY ... FROM STDIN (FORMAT binary) body.
//
// We encode the binary format ourselves rather than hand pgx.CopyFrom a
// []any per row: boxing 17 values a row costs ~15 allocations, and pgx's
// numeric encoder goes through big.Int. Here a batch costs no allocation per
// row: rows are encoded into one reused buffer as pgconn reads.
type copyReader struct {
	recs []parse.Record
	next int // next record to encode
	buf  []byte
	off  int // read position in buf
	done bool
	// tainted is set once a COPY reading it failed: pgconn's goroutine may
	// still read it, so it is never reset or reused.
	tainted bool
}

// copyChunk is how much is encoded per refill: pgconn sends 64 KiB messages.
const copyChunk = 60 << 10

func (r *copyReader) reset(recs []parse.Record) {
	r.recs, r.next, r.buf, r.off, r.done = recs, 0, r.buf[:0], 0, false
}

func (r *copyReader) Read(p []byte) (int, error) {
	for r.off == len(r.buf) {
		if r.done {
			return 0, io.EOF
		}
		r.fill()
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// copyHeader is the binary COPY signature, flags and header extension length.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

func (r *copyReader) fill() {
	b := r.buf[:0]
	if r.next == 0 {
		b = append(b, copyHeader...)
	}
	for r.next < len(r.recs) && len(b) < copyChunk {
		b = appendRow(b, &r.recs[r.next])
		r.next++
	}
	if r.next == len(r.recs) {
		b = binary.BigEndian.AppendUint16(b, 0xffff) // trailer: field count -1
		r.done = true
	}
	r.buf, r.off = b, 0
}

// appendRow appends one row in COPY binary format: a field count, then each
// field as a length and its binary value (length -1 for NULL).
func appendRow(b []byte, rec *parse.Record) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(eventColumns)))
	b = appendText(b, rec.EventID)
	b = appendTimestamptz(b, rec.OccurredAt)
	b = appendText(b, rec.Source)
	b = appendNullText(b, rec.UserID)
	b = appendNullText(b, rec.Feature)
	b = appendNullText(b, rec.Provider)
	b = appendText(b, rec.Model)
	b = appendInt8(b, rec.InputTokens)
	b = appendInt8(b, rec.CachedInputTokens)
	b = appendInt8(b, rec.OutputTokens)
	b = appendInt8(b, rec.TotalTokens)
	b = appendNumeric(b, rec.Cost)
	b = appendText(b, rec.CostSource.String())
	if rec.HasDuration {
		b = binary.BigEndian.AppendUint32(b, 8)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(rec.DurationMS))
	} else {
		b = appendNull(b)
	}
	b = binary.BigEndian.AppendUint32(b, 1)
	if rec.Success {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendNullText(b, rec.ErrorType)
	return appendAttributes(b, rec.Attributes, rec.Labels)
}

func appendNull(b []byte) []byte { return binary.BigEndian.AppendUint32(b, 0xffffffff) }

func appendText(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendNullText writes "" as NULL: the Record's convention for absent
// optional strings.
func appendNullText(b []byte, s string) []byte {
	if s == "" {
		return appendNull(b)
	}
	return appendText(b, s)
}

func appendInt8(b []byte, v int64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

// pgEpochMicros is 2000-01-01 UTC, PostgreSQL's timestamp epoch, in Unix
// microseconds.
const pgEpochMicros = 946684800 * 1_000_000

// appendTimestamptz writes microseconds since 2000-01-01 UTC. Nanoseconds are
// truncated (as pgx does), so the same time always maps to the same key.
func appendTimestamptz(b []byte, t time.Time) []byte {
	us := t.Unix()*1_000_000 + int64(t.Nanosecond())/1000
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(us-pgEpochMicros))
}

// appendNumeric writes m, an exact count of picodollars, as a binary numeric
// with its trailing zeros dropped, so 0.0002 reads back as 0.0002, not
// 0.000200000000.
//
// The binary numeric is: ndigits, weight, sign, dscale (int16 each), then
// ndigits base-10000 digits, the first of weight 10000^weight.
func appendNumeric(b []byte, m parse.Money) []byte {
	v := int64(m)
	sign := uint16(0x0000)
	u := uint64(v)
	if v < 0 {
		sign = 0x4000
		u = uint64(-v) // -MinInt64 wraps to itself, which as uint64 is right
	}
	// 12 fractional decimal digits are exactly 3 base-10000 digits, so the
	// integer part starts at weight 0. An int64 of picodollars has at most
	// 19 decimal digits: 5 base-10000 digits, weights 1, 0, -1, -2, -3.
	var digits [5]uint16
	for i := 4; i >= 0; i-- {
		digits[i] = uint16(u % 10000)
		u /= 10000
	}
	first, last := 0, 5
	for first < last && digits[first] == 0 {
		first++
	}
	for last > first && digits[last-1] == 0 {
		last--
	}
	if first == last { // zero
		return append(b, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	// dscale: decimal places after trimming trailing zeros of the fraction.
	dscale := 0
	if frac := int64(m) % 1_000_000_000_000; frac != 0 {
		if frac < 0 {
			frac = -frac
		}
		dscale = 12
		for frac%10 == 0 {
			frac /= 10
			dscale--
		}
	}
	n := last - first
	b = binary.BigEndian.AppendUint32(b, uint32(8+2*n))
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(1-first))) // weight of digits[first]
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, d := range digits[first:last] {
		b = binary.BigEndian.AppendUint16(b, d)
	}
	return b
}

// appendAttributes writes the jsonb attributes, with the source's labels
// merged in front: jsonb keeps the last of duplicate keys, so a field the log
// line carried wins over a configured label of the same name. Labels are kept
// in attributes because Postgres has no labels column in the contract, and
// `attributes->>'service'` is how SQL reaches them.
func appendAttributes(b []byte, attrs []byte, labels []parse.Label) []byte {
	lenAt := len(b)
	b = append(b, 0, 0, 0, 0, 1) // length placeholder, jsonb format version 1
	rest := trimJSONObjectOpen(attrs)
	switch {
	case len(labels) > 0 && (rest != nil || len(attrs) == 0):
		b = append(b, '{')
		for i, l := range labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, l.Key)
			b = append(b, ':')
			b = appendJSONString(b, l.Value)
		}
		switch {
		case rest == nil:
			b = append(b, '}')
		case rest[0] == '}':
			b = append(b, rest...)
		default:
			b = append(b, ',')
			b = append(b, rest...)
		}
	case len(attrs) == 0:
		b = append(b, "{}"...)
	default:
		// Not an object (a bug upstream: parse always makes one): kept as
		// it is, for the server to accept or refuse.
		b = append(b, attrs...)
	}
	binary.BigEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
	return b
}

// trimJSONObjectOpen returns attrs after the '{' that opens it and the
// blanks after that, or nil when attrs does not open an object.
func trimJSONObjectOpen(attrs []byte) []byte {
	for i, c := range attrs {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			rest := attrs[i+1:]
			for j, c := range rest {
				if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
					return rest[j:]
				}
			}
			return nil
		}
		return nil
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
