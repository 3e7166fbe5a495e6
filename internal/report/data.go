package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// WriteCSV writes one line per group (the total alone when there is no
// grouping) with exact money and unabbreviated numbers. An absent group
// value is an empty field. The cost columns are named for their currency
// (cost_usd, cost_inr) so a file never leaves its unit to guess. A group
// value that a spreadsheet would run as a formula (one beginning with = + -
// @, a tab or a carriage return) is written after a single quote; see csvKey.
func WriteCSV(w io.Writer, r *Result) error {
	cur := strings.ToLower(r.Currency)
	head := dimNames(r.Query.By)
	head = append(head, "cost_"+cur, "requests", "input_tokens", "cached_input_tokens", "output_tokens",
		"errors", "error_rate", "p50_ms", "p95_ms", "p99_ms", "users", "cost_per_user_"+cur, "unpriced")
	cw := csv.NewWriter(w)
	if err := cw.Write(head); err != nil {
		return err
	}
	rows := r.Rows
	if len(r.Query.By) == 0 {
		rows = []Row{r.Total}
	}
	for i := range rows {
		row := &rows[i]
		var rec []string
		for _, k := range row.Keys {
			if k == nil {
				rec = append(rec, "")
			} else {
				rec = append(rec, csvKey(*k))
			}
		}
		p50, p95, p99 := "", "", ""
		if row.Latency != nil {
			p50, p95, p99 = msText(row.Latency.P50), msText(row.Latency.P95), msText(row.Latency.P99)
		}
		perUser, _ := row.CostPerUser()
		rec = append(rec, string(row.Cost), itoa(row.Requests), itoa(row.InputTokens), itoa(row.CachedInputTokens),
			itoa(row.OutputTokens), itoa(row.Errors), rateText(row.ErrorRate()), p50, p95, p99,
			itoa(row.Users), string(perUser), itoa(row.Unpriced))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvKey protects a group value read from the logs (a user id, a feature,
// an attribute value) against formula injection: Excel, LibreOffice and
// Google Sheets run a cell beginning with = + - @ (or a tab or carriage
// return followed by one) as a formula, so such a value is written with a
// leading single quote, as OWASP advises ("=1+1" becomes "'=1+1"), and
// shows as text. The numbers the report computes are never prefixed.
func csvKey(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// msText rounds a latency to the microsecond, so floating-point noise from
// percentile interpolation does not reach the output.
func msText(ms float64) string {
	return strconv.FormatFloat(math.Round(ms*1000)/1000, 'f', -1, 64)
}

func rateText(f float64) string {
	return strconv.FormatFloat(math.Round(f*1e6)/1e6, 'f', -1, 64)
}

type jsonReport struct {
	Since    string      `json:"since"`
	Until    string      `json:"until"`
	Timezone string      `json:"timezone"`
	By       []string    `json:"by"`
	Filters  []string    `json:"filters"`
	Top      int         `json:"top,omitempty"`
	Currency string      `json:"currency"`
	Rate     json.Number `json:"rate"`
	Groups   int         `json:"groups"`
	Rows     []jsonRow   `json:"rows"`
	Total    jsonRow     `json:"total"`
}

type jsonRow struct {
	Group             map[string]*string `json:"group,omitempty"`
	Cost              json.Number        `json:"cost"`
	Requests          int64              `json:"requests"`
	InputTokens       int64              `json:"input_tokens"`
	CachedInputTokens int64              `json:"cached_input_tokens"`
	OutputTokens      int64              `json:"output_tokens"`
	Errors            int64              `json:"errors"`
	ErrorRate         json.Number        `json:"error_rate"`
	LatencyMS         *jsonLatency       `json:"latency_ms"`
	Users             int64              `json:"users"`
	CostPerUser       *json.Number       `json:"cost_per_user"`
	Unpriced          int64              `json:"unpriced"`
}

type jsonLatency struct {
	P50 json.Number `json:"p50"`
	P95 json.Number `json:"p95"`
	P99 json.Number `json:"p99"`
}

// WriteJSON writes the report as one JSON object: the query, then "rows"
// (each with its "group" values, null when absent) and "total". Money is a
// JSON number written with its exact decimal digits.
func WriteJSON(w io.Writer, r *Result) error {
	q := &r.Query
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	rate := q.Rate
	if rate == "" {
		rate = "1"
	}
	out := jsonReport{
		Since: q.Since.In(loc).Format(time.RFC3339), Until: q.Until.In(loc).Format(time.RFC3339),
		Timezone: loc.String(), By: dimNames(q.By), Filters: []string{}, Top: q.Top,
		Currency: r.Currency, Rate: json.Number(rate), Groups: r.Groups, Rows: []jsonRow{},
	}
	for _, f := range q.Filters {
		out.Filters = append(out.Filters, f.String())
	}
	for i := range r.Rows {
		out.Rows = append(out.Rows, toJSONRow(q, &r.Rows[i], true))
	}
	out.Total = toJSONRow(q, &r.Total, false)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

func toJSONRow(q *Query, row *Row, group bool) jsonRow {
	j := jsonRow{
		Cost: json.Number(row.Cost), Requests: row.Requests, InputTokens: row.InputTokens,
		CachedInputTokens: row.CachedInputTokens, OutputTokens: row.OutputTokens, Errors: row.Errors,
		ErrorRate: json.Number(rateText(row.ErrorRate())), Users: row.Users, Unpriced: row.Unpriced,
	}
	if group {
		j.Group = make(map[string]*string, len(q.By))
		for i, d := range q.By {
			j.Group[d.Name] = row.Keys[i]
		}
	}
	if row.Latency != nil {
		j.LatencyMS = &jsonLatency{json.Number(msText(row.Latency.P50)), json.Number(msText(row.Latency.P95)), json.Number(msText(row.Latency.P99))}
	}
	if c, ok := row.CostPerUser(); ok {
		n := json.Number(c)
		j.CostPerUser = &n
	}
	return j
}
