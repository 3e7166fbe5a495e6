package report

import (
	"fmt"
	"strconv"
	"strings"
)

// statement is SQL with its arguments: every value the user gave, attribute
// keys included, is bound as a parameter, never spliced into the text.
type statement struct {
	sql  strings.Builder
	args []any
}

// arg binds v and returns its placeholder.
func (s *statement) arg(v any) string {
	s.args = append(s.args, v)
	return "$" + strconv.Itoa(len(s.args))
}

// expr is the SQL expression of a dimension. Time buckets are text labels
// that sort in time order, so every key scans as a nullable string.
func (s *statement) expr(d Dimension, tz string) string {
	switch d.kind {
	case dimTime:
		u := timeUnits[d.Name]
		return fmt.Sprintf("to_char(date_trunc('%s', occurred_at AT TIME ZONE %s), '%s')", u[0], s.arg(tz), u[1])
	case dimAttribute:
		return "attributes->>" + s.arg(d.Name) + "::text"
	}
	return d.column
}

// where appends the range and the filters. Positive filters on one field
// are alternatives (model=a* or model=b*); negative ones must all hold, and
// keep rows where the field is absent (feature!=chat keeps rows with no
// feature). Filters on different fields must all hold.
func (s *statement) where(q *Query, tz string) {
	fmt.Fprintf(&s.sql, "WHERE occurred_at >= %s AND occurred_at < %s", s.arg(q.Since), s.arg(q.Until))
	var order []string
	byField := map[string][]Filter{}
	for _, f := range q.Filters {
		if _, ok := byField[f.Field.Name]; !ok {
			order = append(order, f.Field.Name)
		}
		byField[f.Field.Name] = append(byField[f.Field.Name], f)
	}
	for _, name := range order {
		var pos []string
		for _, f := range byField[name] {
			e := s.expr(f.Field, tz)
			var cond string
			pat, wild := likePattern(f.Pattern)
			switch {
			case f.Pattern == "" && !f.Negate:
				cond = e + " IS NULL"
			case f.Pattern == "":
				cond = e + " IS NOT NULL"
			case wild && !f.Negate:
				cond = e + " LIKE " + s.arg(pat)
			case wild:
				cond = "(" + e + " IS NULL OR " + e + " NOT LIKE " + s.arg(pat) + ")"
			case !f.Negate:
				cond = e + " = " + s.arg(f.Pattern)
			default:
				cond = "(" + e + " IS NULL OR " + e + " <> " + s.arg(f.Pattern) + ")"
			}
			if f.Negate {
				s.sql.WriteString(" AND " + cond)
			} else {
				pos = append(pos, cond)
			}
		}
		if len(pos) > 0 {
			s.sql.WriteString(" AND (" + strings.Join(pos, " OR ") + ")")
		}
	}
}

// metricColumns are the aggregates every row carries, in scan order.
const metricColumns = `coalesce(sum(cost_usd), 0) AS cost,
	count(*) AS requests,
	coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
	coalesce(sum(cached_input_tokens), 0)::bigint AS cached_input_tokens,
	coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
	count(*) FILTER (WHERE NOT success) AS errors,
	count(DISTINCT user_id) AS users,
	count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced,
	percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms) AS latency`

// build writes the one statement that computes every group and, through
// an empty grouping set, the total of the whole range: percentiles and
// distinct users do not add up, so the total is aggregated, not summed.
//
// Rows come out total first, then the groups in report order; with Top,
// only the Top most costly groups. Each row also carries how many groups
// there are before Top cuts them.
func build(q *Query) *statement {
	s := &statement{}
	tz := "UTC"
	if q.Location != nil {
		tz = q.Location.String()
	}
	rate := q.Rate
	if rate == "" {
		rate = "1"
	}
	keys := make([]string, len(q.By))
	s.sql.WriteString("WITH r AS (SELECT ")
	for i, d := range q.By {
		keys[i] = "k" + strconv.Itoa(i)
		fmt.Fprintf(&s.sql, "%s AS %s, ", s.expr(d, tz), keys[i])
	}
	s.sql.WriteString("cost_usd, input_tokens, cached_input_tokens, output_tokens, success, user_id, cost_source, duration_ms FROM ai_usage_events ")
	s.where(q, tz)
	s.sql.WriteString("),\ng AS (SELECT ")
	for _, k := range keys {
		s.sql.WriteString(k + ", ")
	}
	if len(keys) == 0 {
		s.sql.WriteString("true AS total, ")
	} else {
		fmt.Fprintf(&s.sql, "GROUPING(%s) <> 0 AS total, ", strings.Join(keys, ", "))
	}
	s.sql.WriteString(metricColumns)
	s.sql.WriteString(" FROM r")
	if len(keys) > 0 {
		fmt.Fprintf(&s.sql, " GROUP BY GROUPING SETS ((%s), ())", strings.Join(keys, ", "))
	}
	s.sql.WriteString(")\nSELECT total, count(*) OVER () - 1, ")
	for _, k := range keys {
		s.sql.WriteString(k + ", ")
	}
	fmt.Fprintf(&s.sql, "(cost * %s::numeric)::text, requests, input_tokens, cached_input_tokens, output_tokens, errors, users, unpriced, latency FROM g ORDER BY total DESC", s.arg(rate))
	// Leading time buckets read in time order; then the costliest first;
	// the keys last make the order total, so output is reproducible.
	lead := 0
	if q.Top == 0 {
		for lead < len(q.By) && q.By[lead].IsTime() {
			s.sql.WriteString(", " + keys[lead])
			lead++
		}
	}
	s.sql.WriteString(", cost DESC")
	for _, k := range keys[lead:] {
		s.sql.WriteString(", " + k + " NULLS LAST")
	}
	if q.Top > 0 {
		s.sql.WriteString(" LIMIT " + s.arg(q.Top+1))
	}
	return s
}
