package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
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

// expr is the SQL expression of a dimension. A time bucket is the local
// timestamp that starts it; label turns it into text once the rows are
// grouped, because to_char on every row costs more than the grouping.
//
// An hour is the instant that starts it (date_trunc in the zone), not a
// local wall-clock time: when the clocks go back, the two hours that read
// 01:00 stay two buckets instead of one with both hours' counts. Days, weeks
// and months never repeat, and their local timestamps sort as cheaply.
func (s *statement) expr(d Dimension, tz string) string {
	switch {
	case d.kind == dimTime && d.Name == "hour":
		return fmt.Sprintf("date_trunc('hour', occurred_at, %s)", s.arg(tz))
	case d.kind == dimTime:
		return fmt.Sprintf("date_trunc('%s', occurred_at AT TIME ZONE %s)", timeUnits[d.Name][0], s.arg(tz))
	case d.kind == dimAttribute:
		return "attributes->>" + s.arg(d.Name) + "::text"
	}
	return d.column
}

// label is the text of key k of dimension d in the output: time buckets
// as "2024-05-01", which sorts in time order, so every key scans as a
// nullable string. Outside UTC an hour also names its zone's abbreviation
// ("2024-11-03 01:00 EDT", then "01:00 EST"), read in the session time zone
// that the report's transaction sets to the report's.
func (s *statement) label(d Dimension, k, tz string) string {
	switch {
	case d.kind == dimTime && d.Name == "hour" && tz != "UTC":
		return fmt.Sprintf("to_char(%s, '%s TZ')", k, timeUnits[d.Name][1])
	case d.kind == dimTime:
		return fmt.Sprintf("to_char(%s, '%s')", k, timeUnits[d.Name][1])
	}
	return k
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

// Latency percentiles are read from a histogram of duration_ms with
// logarithmic buckets, bucketsPerE to each factor of e (1% wide): a
// percentile is the middle of the bucket holding it, within 0.5% of the
// exact value. Counting buckets is a hash aggregate, where exact
// percentiles (percentile_cont) sort every row of every group, the whole
// range again for the total: on 10 million rows by day, 20 s of PostgreSQL
// CPU against 45 s.
const bucketsPerE = 100

// zeroBucket holds durations of 0 (ln is undefined there).
const zeroBucket = -1000000

// build writes the one statement that computes every group and the total
// of the whole range, all with hash aggregates:
//
//  1. b: one scan groups the rows by the keys and their latency bucket,
//     with the additive sums (cost as exact numeric);
//  2. u: a second scan lists the distinct (keys, user_id) pairs: distinct
//     users do not add up, so they are counted from it per group and, over
//     all groups, for the total;
//  3. the buckets, with the total's own histogram, get their cumulative
//     counts, and one last aggregate per group sums them, picks the buckets
//     of p50, p95 and p99, and counts the users.
//
// With Top, a first cheap scan sums the cost of every group and keeps the
// Top costliest. Step 1 then files the rows of the other groups under one
// "rest" key per latency bucket, so it still yields the total's histogram
// without a histogram for every user of --by user --top 20; step 2 is as
// without Top, and only the kept groups' pairs are counted per group. That
// is three scans of the range (it was five: measured in BENCHMARKS.md).
//
// Rows come out total first, then the groups in report order. Each row
// also carries how many groups there are before Top cuts them.
func build(q *Query) *statement {
	s := &statement{}
	tz := zoneName(q.Location)
	rate := q.Rate
	if rate == "" {
		rate = "1"
	}
	n := len(q.By)
	keys := make([]string, n)
	for i := range q.By {
		keys[i] = "k" + strconv.Itoa(i)
	}
	kl := listOf(keys)                                 // "k0, k1, " or ""
	groupBy := listOf(ordinals(n)) + strconv.Itoa(n+1) // the keys' and one more column's ordinals
	top := q.Top > 0 && n > 0
	// keyExprs writes the keys' expressions with their names.
	keyExprs := func() {
		for i, d := range q.By {
			fmt.Fprintf(&s.sql, "%s AS %s, ", s.expr(d, tz), keys[i])
		}
	}
	// inKept is true for a group Top keeps. Arrays compare NULL elements as
	// equal, so a group with an absent value matches too.
	inKept := func(exprs []string) string {
		return fmt.Sprintf("ARRAY[%s] IN (SELECT ARRAY[%s] FROM kept)", strings.Join(exprs, "::text, ")+"::text", strings.Join(keys, "::text, ")+"::text")
	}

	s.sql.WriteString("WITH ")
	if top {
		s.sql.WriteString("s AS (SELECT ")
		keyExprs()
		s.sql.WriteString("sum(cost_usd) AS cost FROM ai_usage_events ")
		s.where(q, tz)
		fmt.Fprintf(&s.sql, " GROUP BY %s),\n", strings.Join(ordinals(n), ", "))
		fmt.Fprintf(&s.sql, "kept AS MATERIALIZED (SELECT %s FROM s ORDER BY cost DESC, %s LIMIT %s),\n",
			strings.Join(keys, ", "), strings.Join(keys, " NULLS LAST, ")+" NULLS LAST", s.arg(q.Top))
	}

	// 1. Sums per keys and latency bucket.
	if top {
		// Rows of groups Top leaves out go to the rest (keys NULL, kept
		// false): they count in the total's histogram only.
		s.sql.WriteString("r AS (SELECT ")
		exprs := make([]string, n)
		for i, d := range q.By {
			exprs[i] = s.expr(d, tz)
		}
		fmt.Fprintf(&s.sql, "%s AS kept, ", inKept(exprs))
		for i := range exprs {
			fmt.Fprintf(&s.sql, "%s AS %s, ", exprs[i], keys[i])
		}
		s.sql.WriteString(rowColumns)
		s.where(q, tz)
		s.sql.WriteString("),\nb AS (SELECT ")
		for _, k := range keys {
			fmt.Fprintf(&s.sql, "CASE WHEN kept THEN %[1]s END AS %[1]s, ", k)
		}
		fmt.Fprintf(&s.sql, "b, %s, kept FROM r GROUP BY %s, kept, b),\n", sumColumns, strings.Join(ordinals(n), ", "))
	} else {
		s.sql.WriteString("b AS (SELECT ")
		keyExprs()
		s.sql.WriteString(bucketColumns)
		s.where(q, tz)
		fmt.Fprintf(&s.sql, " GROUP BY %s),\n", groupBy)
	}

	// The total's histogram next to each group's.
	switch {
	case n == 0:
		s.sql.WriteString("bt AS (SELECT true AS total, * FROM b),\n")
	case top:
		fmt.Fprintf(&s.sql, `bt AS (SELECT false AS total, %[1]sb, cost, requests, inp, cached, outp, errors, unpriced FROM b WHERE kept
	UNION ALL SELECT true, %[2]sb, sum(cost), sum(requests), sum(inp), sum(cached), sum(outp), sum(errors), sum(unpriced) FROM b GROUP BY b),
`, kl, strings.Repeat("NULL, ", n))
	default:
		fmt.Fprintf(&s.sql, `bt AS (SELECT GROUPING(%[1]s) <> 0 AS total, %[2]sb, sum(cost) AS cost, sum(requests) AS requests,
	sum(inp) AS inp, sum(cached) AS cached, sum(outp) AS outp, sum(errors) AS errors, sum(unpriced) AS unpriced
	FROM b GROUP BY GROUPING SETS ((%[2]sb), (b))),
`, strings.Join(keys, ", "), kl)
	}
	fmt.Fprintf(&s.sql, `bc AS (SELECT *,
	sum(requests) OVER (PARTITION BY total, %[1]sb IS NULL ORDER BY b ROWS UNBOUNDED PRECEDING) AS cum,
	sum(requests) FILTER (WHERE b IS NOT NULL) OVER (PARTITION BY %[1]stotal) AS timed
	FROM bt),
`, kl)

	// 2. Distinct users per keys.
	s.sql.WriteString("u AS (SELECT ")
	keyExprs()
	s.sql.WriteString("user_id FROM ai_usage_events ")
	s.where(q, tz)
	fmt.Fprintf(&s.sql, " AND user_id IS NOT NULL GROUP BY %s),\n", groupBy)

	// 3. One row per group and one for the total. The pairs of u count the
	// users of each group; the users alone count the total's.
	const none10 = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
	fmt.Fprintf(&s.sql, `a AS (
	SELECT total, %[1]sb, cost, requests, inp, cached, outp, errors, unpriced, cum, timed, NULL::text AS user_id FROM bc
	UNION ALL SELECT true, %[2]s%[3]s, user_id FROM u GROUP BY user_id
`, kl, strings.Repeat("NULL, ", n), none10)
	if n > 0 {
		fmt.Fprintf(&s.sql, "\tUNION ALL SELECT false, %s%s, user_id FROM u", kl, none10)
		if top {
			s.sql.WriteString(" WHERE " + inKept(keys))
		}
		s.sql.WriteString("\n")
	}
	fmt.Fprintf(&s.sql, `),
g AS (SELECT total, %[1]scoalesce(sum(cost), 0) AS cost, coalesce(sum(requests), 0)::bigint AS requests,
	coalesce(sum(inp), 0)::bigint AS inp, coalesce(sum(cached), 0)::bigint AS cached, coalesce(sum(outp), 0)::bigint AS outp,
	coalesce(sum(errors), 0)::bigint AS errors, count(user_id) AS users, coalesce(sum(unpriced), 0)::bigint AS unpriced,
	%[2]s AS latency
	FROM a GROUP BY %[1]stotal)
`, kl, latencyColumn)

	groups := "count(*) OVER () - 1"
	if top {
		groups = "(SELECT count(*) FROM s)"
	}
	labels := make([]string, n)
	for i, d := range q.By {
		labels[i] = s.label(d, keys[i], tz)
	}
	fmt.Fprintf(&s.sql, "SELECT total, %s, %s(cost * %s::numeric)::text, requests, inp, cached, outp, errors, users, unpriced, ", groups, listOf(labels), s.arg(rate))
	fmt.Fprintf(&s.sql, "ARRAY(SELECT CASE WHEN x = %d THEN 0 ELSE exp((x + 0.5) / %d.0)::float8 END FROM unnest(latency) WITH ORDINALITY AS t(x, i) ORDER BY i) FROM g ORDER BY total DESC", zeroBucket, bucketsPerE)
	// Leading time buckets read in time order; then the costliest first;
	// the keys last make the order total, so output is reproducible.
	lead := 0
	if q.Top == 0 {
		for lead < n && q.By[lead].IsTime() {
			s.sql.WriteString(", " + keys[lead])
			lead++
		}
	}
	s.sql.WriteString(", cost DESC")
	for _, k := range keys[lead:] {
		s.sql.WriteString(", " + k + " NULLS LAST")
	}
	return s
}

// zoneName is the IANA name PostgreSQL is given for loc (UTC when nil).
func zoneName(loc *time.Location) string {
	if loc == nil {
		return "UTC"
	}
	return loc.String()
}

// bucketExpr is a row's latency bucket.
var bucketExpr = fmt.Sprintf("CASE WHEN duration_ms IS NULL THEN NULL WHEN duration_ms <= 0 THEN %d ELSE floor(ln(duration_ms) * %d)::int END", zeroBucket, bucketsPerE)

// sumColumns are the additive sums of step 1.
const sumColumns = `sum(cost_usd) AS cost, count(*) AS requests, sum(input_tokens) AS inp, sum(cached_input_tokens) AS cached,
	sum(output_tokens) AS outp, count(*) FILTER (WHERE NOT success) AS errors,
	count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced`

// bucketColumns follow the keys in step 1: the latency bucket and the sums.
var bucketColumns = bucketExpr + " AS b,\n\t" + sumColumns + "\n\tFROM ai_usage_events "

// rowColumns are what step 1 with Top reads of each row, after its keys.
var rowColumns = bucketExpr + " AS b, cost_usd, input_tokens, cached_input_tokens, output_tokens, success, cost_source\n\tFROM ai_usage_events "

// latencyColumn picks, for each percentile, the first bucket whose
// cumulative count reaches it (nearest rank); NULL without durations.
const latencyColumn = `CASE WHEN max(timed) IS NULL THEN NULL ELSE ARRAY[
	min(b) FILTER (WHERE b IS NOT NULL AND cum >= 0.50 * timed),
	min(b) FILTER (WHERE b IS NOT NULL AND cum >= 0.95 * timed),
	min(b) FILTER (WHERE b IS NOT NULL AND cum >= 0.99 * timed)] END`

func listOf(keys []string) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ", ")
	}
	return b.String()
}

func ordinals(n int) []string {
	o := make([]string, n)
	for i := range o {
		o[i] = strconv.Itoa(i + 1)
	}
	return o
}
