package grafana

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// TimeRange is what Grafana expands a query for: the dashboard's time range and the
// interval it chose for the panel ($__interval).
type TimeRange struct {
	From, To time.Time
	Interval time.Duration
}

// leftover finds a $name that no expansion consumed: a macro or variable the tests cannot
// expand, so the query would reach the server as Grafana sees it only by luck.
var leftover = regexp.MustCompile(`\$[A-Za-z_{][A-Za-z0-9_]*`)

// ExpandSQL returns q, a PostgreSQL panel's rawSql, with Grafana's macros replaced the way
// Grafana's PostgreSQL data source replaces them (see the package doc for the list). It
// fails on a macro it does not know, so dashboards stay within what the tests can run.
func ExpandSQL(q string, r TimeRange) (string, error) {
	// Grafana interpolates the global variables first, then its SQL macros: so
	// $__timeGroup(x, $__interval) sees a literal interval.
	q = expandInterval(q, r.Interval)
	var err error
	from, to := sqlTime(r.From), sqlTime(r.To)
	q, err = expandCalls(q, "$__timeFilter", func(args []string) (string, error) {
		if len(args) != 1 || args[0] == "" {
			return "", fmt.Errorf("$__timeFilter takes one column, got %d arguments", len(args))
		}
		return fmt.Sprintf("%s BETWEEN %s AND %s", args[0], from, to), nil
	})
	if err != nil {
		return "", err
	}
	q, err = expandCalls(q, "$__timeFrom", noArgs("$__timeFrom", from))
	if err != nil {
		return "", err
	}
	q, err = expandCalls(q, "$__timeTo", noArgs("$__timeTo", to))
	if err != nil {
		return "", err
	}
	// The alias form first: "$__timeGroup" is a prefix of "$__timeGroupAlias".
	for _, m := range []struct {
		name  string
		alias bool
	}{{"$__timeGroupAlias", true}, {"$__timeGroup", false}} {
		q, err = expandCalls(q, m.name, func(args []string) (string, error) {
			if len(args) != 2 {
				return "", fmt.Errorf("%s takes (column, interval), got %d arguments", m.name, len(args))
			}
			d, err := parseInterval(args[1])
			if err != nil {
				return "", fmt.Errorf("%s: %w", m.name, err)
			}
			secs := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
			s := fmt.Sprintf("floor(extract(epoch from %s)/%s)*%s", args[0], secs, secs)
			if m.alias {
				s += ` AS "time"`
			}
			return s, nil
		})
		if err != nil {
			return "", err
		}
	}
	return q, checkLeftover(q)
}

// ExpandInfluxQL returns q, an InfluxDB panel's raw InfluxQL query, with $timeFilter,
// $__interval and $__interval_ms replaced the way Grafana's InfluxDB data source does. It
// fails on any other $name.
func ExpandInfluxQL(q string, r TimeRange) (string, error) {
	q = expandInterval(q, r.Interval)
	filter := fmt.Sprintf("time >= %dms and time <= %dms", r.From.UnixMilli(), r.To.UnixMilli())
	q = strings.ReplaceAll(q, "$timeFilter", filter)
	return q, checkLeftover(q)
}

// expandInterval replaces $__interval_ms before $__interval, which is its prefix.
func expandInterval(q string, d time.Duration) string {
	q = strings.ReplaceAll(q, "$__interval_ms", strconv.FormatInt(d.Milliseconds(), 10))
	return strings.ReplaceAll(q, "$__interval", formatInterval(d))
}

func noArgs(name, value string) func([]string) (string, error) {
	return func(args []string) (string, error) {
		if len(args) != 0 {
			return "", fmt.Errorf("%s takes no arguments, got %d", name, len(args))
		}
		return value, nil
	}
}

func checkLeftover(q string) error {
	if m := leftover.FindAllString(q, -1); len(m) > 0 {
		return fmt.Errorf("unsupported macro or variable %s (supported: see package grafana)", strings.Join(m, ", "))
	}
	return nil
}

// sqlTime is how Grafana writes a time in SQL macros: a quoted RFC 3339 UTC literal.
func sqlTime(t time.Time) string {
	return "'" + t.UTC().Format(time.RFC3339Nano) + "'"
}

// expandCalls replaces every call name(args...) in q with what expand returns for its
// arguments. Arguments are split on top-level commas: a comma inside parentheses or quotes
// belongs to the argument (coalesce(a, b) is one).
func expandCalls(q, name string, expand func(args []string) (string, error)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(q, name+"(")
		if i < 0 {
			b.WriteString(q)
			return b.String(), nil
		}
		b.WriteString(q[:i])
		rest := q[i+len(name)+1:]
		args, n, err := splitArgs(rest)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		s, err := expand(args)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
		q = rest[n:]
	}
}

// splitArgs reads the arguments of a call whose opening parenthesis is already consumed,
// and returns them trimmed and how many bytes of s they and the closing parenthesis took.
func splitArgs(s string) (args []string, n int, err error) {
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == ')':
			if arg := strings.TrimSpace(s[start:i]); arg != "" || len(args) > 0 {
				args = append(args, arg)
			}
			return args, i + 1, nil
		case c == ',' && depth == 0:
			args = append(args, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return nil, 0, fmt.Errorf("no closing parenthesis")
}

// parseInterval reads a Grafana interval: an integer and a unit (ms, s, m, h, d, w),
// optionally in single quotes.
func parseInterval(s string) (time.Duration, error) {
	v := strings.Trim(strings.TrimSpace(s), "'")
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour},
		{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}}
	for _, u := range units {
		num, ok := strings.CutSuffix(v, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n <= 0 {
			break
		}
		return time.Duration(n) * u.unit, nil
	}
	return 0, fmt.Errorf("interval %q: want a positive integer and a unit (ms, s, m, h, d, w)", s)
}

// formatInterval writes d the way Grafana writes $__interval: in the largest unit that
// divides it (1d, 2h, 30s, 500ms).
func formatInterval(d time.Duration) string {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	for _, u := range units {
		if d >= u.unit && d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.suffix
		}
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}
