// Package report reads the operator's view from PostgreSQL: cost, requests,
// tokens, errors, latency percentiles and active users over a time range,
// grouped by time buckets, record fields or kept attributes, and renders it
// as a terminal table, CSV, JSON or one self-contained HTML file.
//
// Money is summed by PostgreSQL's numeric type and travels as decimal text;
// it is never a float, except to size the bars of a chart.
package report

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultDays is the length of the default range: the calendar days ending today.
const DefaultDays = 30

// Query says what to report.
type Query struct {
	// Since and Until bound occurred_at: Since <= occurred_at < Until.
	Since, Until time.Time
	// Location buckets hour, day, week and month; nil is UTC.
	Location *time.Location
	// By lists the groups, outermost first; empty reports one total row.
	By []Dimension
	// Filters keep the rows that match every filter on distinct fields and
	// any filter on the same field.
	Filters []Filter
	// Top keeps the N groups that cost most; 0 keeps every group.
	Top int
	// Rate converts dollars to the report currency; "" is 1. Decimal text.
	Rate string
}

// Dimension is one way to group rows: a time bucket, a record field or an
// attribute kept from the logs.
type Dimension struct {
	// Name is how the user wrote it and how the column is titled.
	Name string
	kind dimKind
	// column is the SQL expression of a field dimension.
	column string
}

type dimKind uint8

const (
	dimField dimKind = iota
	dimAttribute
	dimTime
)

// IsTime says whether d is a time bucket (hour, day, week, month).
func (d Dimension) IsTime() bool { return d.kind == dimTime }

// fieldColumns are the record fields one can group and filter by, with
// their SQL expressions. Anything else names an attribute.
var fieldColumns = map[string]string{
	"feature":     "feature",
	"model":       "model",
	"provider":    "provider",
	"user":        "user_id",
	"user_id":     "user_id",
	"source":      "source",
	"error_type":  "error_type",
	"cost_source": "cost_source",
	"status":      "CASE WHEN success THEN 'ok' ELSE 'error' END",
}

// timeUnits are the time buckets, with the date_trunc unit and the to_char
// pattern of their label (sortable as text).
var timeUnits = map[string][2]string{
	"hour":  {"hour", "YYYY-MM-DD HH24:00"},
	"day":   {"day", "YYYY-MM-DD"},
	"week":  {"week", "YYYY-MM-DD"}, // the Monday that starts the ISO week
	"month": {"month", "YYYY-MM"},
}

// attrName is what an attribute key may look like: the names log fields and
// labels have. It keeps typos such as "--by mdoel=x" from silently grouping
// everything under "(none)".
var attrName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)

// ParseDimension reads one --by value: hour, day, week, month, a record
// field (feature, model, provider, user, source, error_type, status,
// cost_source) or the key of an attribute kept from the logs (school, plan).
func ParseDimension(s string) (Dimension, error) {
	name := strings.TrimSpace(s)
	if _, ok := timeUnits[name]; ok {
		return Dimension{Name: name, kind: dimTime}, nil
	}
	if col, ok := fieldColumns[name]; ok {
		return Dimension{Name: name, kind: dimField, column: col}, nil
	}
	if !attrName.MatchString(name) {
		return Dimension{}, fmt.Errorf("%q is neither hour, day, week, month, a record field (feature, model, provider, user, source, error_type, status, cost_source) nor an attribute name", s)
	}
	return Dimension{Name: name, kind: dimAttribute}, nil
}

// Filter keeps rows whose field matches (or, with Negate, does not match) a
// glob: * is any run of characters, ? one character. An empty Pattern
// matches rows where the field is absent.
type Filter struct {
	Field   Dimension
	Pattern string
	Negate  bool
}

// ParseFilter reads one --where value: FIELD=GLOB or FIELD!=GLOB, e.g.
// model=gpt-4o*, feature!=chat, plan=pro, user= (no user).
func ParseFilter(s string) (Filter, error) {
	i := strings.IndexByte(s, '=')
	if i <= 0 {
		return Filter{}, fmt.Errorf("%q: write FIELD=GLOB or FIELD!=GLOB, e.g. model=gpt-4o*", s)
	}
	key, pattern, negate := s[:i], s[i+1:], false
	if strings.HasSuffix(key, "!") {
		key, negate = key[:len(key)-1], true
	}
	d, err := ParseDimension(key)
	if err != nil {
		return Filter{}, fmt.Errorf("filter %q: %w", s, err)
	}
	if d.IsTime() {
		return Filter{}, fmt.Errorf("filter %q: use --since and --until for time", s)
	}
	return Filter{Field: d, Pattern: pattern, Negate: negate}, nil
}

// likePattern turns a glob into a LIKE pattern with \ as the escape, and
// says whether it has wildcards at all (else plain equality is used).
func likePattern(glob string) (string, bool) {
	var b strings.Builder
	wild := false
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteByte('%')
			wild = true
		case '?':
			b.WriteByte('_')
			wild = true
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), wild
}

// DefaultRange is the range reported when none is given: the DefaultDays
// calendar days (in loc) ending with today, up to now.
func DefaultRange(now time.Time, loc *time.Location) (since, until time.Time) {
	if loc == nil {
		loc = time.UTC
	}
	n := now.In(loc)
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, loc)
	return today.AddDate(0, 0, -(DefaultDays - 1)), now
}

// DefaultSince is the start of the range when only its end is given: the
// DefaultDays days (in loc) before until, so "--until 2024-01-01" reports
// 2023-12-02 up to 2024-01-01.
func DefaultSince(until time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return until.In(loc).AddDate(0, 0, -DefaultDays)
}

// ParseTime reads --since or --until: RFC 3339 ("2024-05-01T10:00:00Z"), a
// date or date and time in loc ("2024-05-01", "2024-05-01 10:00"), "now",
// "today", or a span before now ("7d", "12h", "90m").
func ParseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return time.Time{}, errors.New("empty time")
	case "now":
		return now, nil
	case "today":
		n := now.In(loc)
		return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, loc), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if d, ok := parseSpan(s); ok {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: write 2024-05-01, 2024-05-01T10:00:00Z, now, today or a span before now such as 7d or 12h", s)
}

// parseSpan reads "7d", "12h", "90m", "1d12h".
func parseSpan(s string) (time.Duration, bool) {
	var days int
	rest := s
	if i := strings.IndexByte(s, 'd'); i > 0 {
		if _, err := fmt.Sscanf(s[:i], "%d", &days); err != nil || days < 0 || days > 100*366 || fmt.Sprint(days) != s[:i] {
			return 0, false
		}
		rest = s[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || d < 0 {
			return 0, false
		}
	}
	return time.Duration(days)*24*time.Hour + d, true
}
