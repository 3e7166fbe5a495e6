package influx

import (
	"errors"
	"math"
	"strconv"

	"github.com/tokentail/tokentail/parse"
)

// errTimeRange is why a record whose time Influx cannot store is refused.
var errTimeRange = errors.New("occurred_at outside the range InfluxDB can store (years 1677-2262)")

// encoder turns records into InfluxDB line protocol. Its zero value is not
// usable: see newEncoder.
type encoder struct {
	measurement []byte // escaped once, at construction
	userTag     bool
}

func newEncoder(measurement string, userTag bool) encoder {
	return encoder{
		measurement: appendEscaped(nil, measurement, true),
		userTag:     userTag,
	}
}

// AppendLine appends r as the writer encodes it with its defaults
// (measurement ai_usage, no user tag): for tools that must send exactly the
// writer's points, such as the benchmark's raw load.
func AppendLine(b []byte, r *parse.Record) ([]byte, error) {
	e := encoder{measurement: []byte(DefaultMeasurement)}
	return e.appendRecord(b, r)
}

// appendRecord appends r as one line (newline included) to b. It allocates
// nothing: every number goes through strconv.Append*, every string is
// escaped byte by byte into b.
func (e *encoder) appendRecord(b []byte, r *parse.Record) ([]byte, error) {
	// Influx stores nanoseconds since the epoch in an int64 and reserves
	// the two extreme values; parse refuses such records already, this is
	// the writer's own guard.
	if !parse.InTimeRange(r.OccurredAt) {
		return b, errTimeRange
	}
	b = append(b, e.measurement...)

	// Built-in tags in key order: the server sorts tags anyway, but sorted
	// input lets it skip the work. Labels follow in their configured order.
	b = appendTag(b, "error_type", r.ErrorType)
	b = appendTag(b, "feature", r.Feature)
	b = appendTag(b, "model", r.Model)
	b = appendTag(b, "provider", r.Provider)
	b = appendTag(b, "source", r.Source)
	if r.Success {
		b = append(b, ",status=ok"...)
	} else {
		b = append(b, ",status=error"...)
	}
	if e.userTag {
		b = appendTag(b, "user", r.UserID)
	}
	for i := range r.Labels {
		l := &r.Labels[i]
		if reservedTagKey(l.Key) {
			continue
		}
		b = appendTag(b, l.Key, l.Value)
	}

	b = append(b, " input_tokens="...)
	b = strconv.AppendInt(b, r.InputTokens, 10)
	b = append(b, "i,cached_input_tokens="...)
	b = strconv.AppendInt(b, r.CachedInputTokens, 10)
	b = append(b, "i,output_tokens="...)
	b = strconv.AppendInt(b, r.OutputTokens, 10)
	b = append(b, "i,total_tokens="...)
	b = strconv.AppendInt(b, r.TotalTokens, 10)
	b = append(b, "i,cost_usd="...)
	b = appendFloat(b, r.Cost.Float64())
	if r.HasDuration && !math.IsNaN(r.DurationMS) && !math.IsInf(r.DurationMS, 0) {
		b = append(b, ",duration_ms="...)
		b = appendFloat(b, r.DurationMS)
	}

	b = append(b, ' ')
	b = strconv.AppendInt(b, PointTime(r), 10)
	return append(b, '\n'), nil
}

// appendFloat writes v without an exponent ("0.0002", not "2e-04"): every
// line-protocol parser reads plain decimals, and a whole number without the
// "i" suffix is still a float field.
func appendFloat(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// reservedTagKey reports whether a label key must not become a tag: the
// built-in tags win over a label of the same name (two tags with one key
// make the server refuse the point), and InfluxDB refuses "time" and the
// "_"-names that Flux uses for a point's own parts.
func reservedTagKey(k string) bool {
	switch k {
	case "error_type", "feature", "model", "provider", "source", "status", "user",
		"time", "_measurement", "_field", "_value", "_time", "_start", "_stop":
		return true
	}
	return false
}

// appendTag appends ",key=value", or nothing when either is empty:
// InfluxDB refuses empty tag values, and an absent tag is how line protocol
// says NULL.
func appendTag(b []byte, key, value string) []byte {
	if key == "" || value == "" {
		return b
	}
	b = append(b, ',')
	b = appendEscaped(b, key, false)
	b = append(b, '=')
	return appendEscaped(b, value, false)
}

// appendEscaped appends s escaped for a tag key, tag value or (when
// measurement is true) a measurement name.
//
// Commas, spaces and (outside measurements) equals signs get a backslash.
// Line protocol has no escape for a newline, so CR and LF become spaces.
//
// Backslashes are where parsers disagree: InfluxDB 1.x keeps "\\" as two
// characters and cannot end a value with "\" (the separator after it reads
// as escaped), while VictoriaMetrics turns "\\" into one and counts
// backslashes to decide whether a comma is escaped. A backslash followed by
// an ordinary character means the same to all of them and is kept as is;
// one that precedes a backslash, a special character or the end of the
// value is replaced by '/', so every server stores the same value.
func appendEscaped(b []byte, s string, measurement bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\n', '\r':
			b = append(b, '\\', ' ')
		case ',', ' ':
			b = append(b, '\\', c)
		case '=':
			if !measurement {
				b = append(b, '\\')
			}
			b = append(b, c)
		case '\\':
			if i+1 < len(s) && !specialAfterBackslash(s[i+1], measurement) {
				b = append(b, c)
			} else {
				b = append(b, '/')
			}
		default:
			b = append(b, c)
		}
	}
	return b
}

// specialAfterBackslash reports whether c, following a backslash, would
// change how some server reads that backslash.
func specialAfterBackslash(c byte, measurement bool) bool {
	switch c {
	case '\\', ',', ' ', '\n', '\r':
		return true
	case '=':
		return !measurement
	}
	return false
}

// PointTime is the point's timestamp in nanoseconds: the record's time plus
// a deterministic offset below the precision the time was written with.
//
// InfluxDB identifies a point by measurement, tag set and timestamp, and a
// second write of the same identity replaces the first. Log timestamps are
// often whole seconds or milliseconds, so distinct calls with the same tags
// would collapse into one point. The offset, drawn from a hash of EventID,
// spreads them over the digits the log left at zero, while the same record
// always lands on the same point, so re-reading a file rewrites, never adds.
//
// A whole-second time gets an offset in [0, 1e9) ns: its millisecond digits
// vary too, which is what VictoriaMetrics (millisecond storage) keeps.
func PointTime(r *parse.Record) int64 {
	ns := r.OccurredAt.UnixNano()
	var span int64
	switch {
	case ns%1e9 == 0:
		span = 1e9
	case ns%1e6 == 0:
		span = 1e6
	case ns%1e3 == 0:
		span = 1e3
	default:
		return ns // full nanosecond precision: already as unique as the log makes it
	}
	return ns + int64(eventHash(r.EventID)%uint64(span))
}

// eventHash is FNV-1a over id, finished with the splitmix64 mixer so that
// every low digit of the result is evenly spread. It is fixed forever: a
// change would move every point written before it.
func eventHash(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
