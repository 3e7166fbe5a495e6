package report

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// maxKeyWidth truncates long group values (user ids, attribute values) so
// the table stays within a terminal.
const maxKeyWidth = 28

// none is how an absent value (no feature, an attribute the line lacked) is shown.
const none = "(none)"

// Title describes the report's range, grouping and filters in one line.
func (r *Result) Title() string {
	q := &r.Query
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s to %s (%s)", q.Since.In(loc).Format("2006-01-02 15:04"), q.Until.In(loc).Format("2006-01-02 15:04"), loc)
	if len(q.By) > 0 {
		fmt.Fprintf(&b, ", by %s", strings.Join(dimNames(q.By), ", "))
	}
	if len(q.Filters) > 0 {
		fs := make([]string, len(q.Filters))
		for i, f := range q.Filters {
			fs[i] = f.String()
		}
		fmt.Fprintf(&b, ", where %s", strings.Join(fs, " "))
	}
	if q.Top > 0 {
		fmt.Fprintf(&b, ", top %d", q.Top)
	}
	b.WriteString(", " + r.Currency)
	if q.Rate != "" && q.Rate != "1" {
		fmt.Fprintf(&b, " at %s per USD", q.Rate)
	}
	return b.String()
}

// String writes f the way --where reads it.
func (f Filter) String() string {
	op := "="
	if f.Negate {
		op = "!="
	}
	return f.Field.Name + op + f.Pattern
}

func dimNames(ds []Dimension) []string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Name
	}
	return s
}

// Notes are the sentences printed under a report: what Top left out and
// which costs are unknown.
func (r *Result) Notes() []string {
	var notes []string
	if r.Query.Top > 0 && r.Groups > len(r.Rows) {
		notes = append(notes, fmt.Sprintf("Showing the %d costliest of %d groups; the total covers all of them.", len(r.Rows), r.Groups))
	}
	if r.Total.Unpriced > 0 {
		verb := "requests have"
		if r.Total.Unpriced == 1 {
			verb = "request has"
		}
		notes = append(notes, fmt.Sprintf("%d %s no price and count as 0: add their models to the pricing file, then run tokentail reprice.", r.Total.Unpriced, verb))
	}
	return notes
}

var tableHeader = []string{"cost", "requests", "input", "cached", "output", "errors", "err%", "p50", "p95", "p99", "users", "cost/user"}

// WriteTable writes the report as an aligned text table that fits a
// terminal: numbers abbreviated, money with its currency, a total row last.
func WriteTable(w io.Writer, r *Result) error {
	var b strings.Builder
	b.WriteString(r.Title() + "\n\n")
	if r.Total.Requests == 0 {
		b.WriteString("No requests in this range.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	head := append(dimNames(r.Query.By), tableHeader...)
	if len(r.Query.By) == 0 {
		head = append([]string{""}, tableHeader...)
	}
	lines := [][]string{head}
	for i := range r.Rows {
		lines = append(lines, tableCells(r, &r.Rows[i], false))
	}
	lines = append(lines, tableCells(r, &r.Total, true))
	nkeys := max(len(r.Query.By), 1)
	width := make([]int, len(head))
	for _, l := range lines {
		for i, c := range l {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for n, l := range lines {
		if n == len(lines)-1 && len(lines) > 2 {
			b.WriteString(strings.Repeat("-", sum(width)+2*(len(width)-1)) + "\n")
		}
		var line strings.Builder
		for i, c := range l {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i < nkeys {
				line.WriteString(c + pad)
			} else {
				line.WriteString(pad + c)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	for _, n := range r.Notes() {
		b.WriteString("\n" + n)
	}
	if len(r.Notes()) > 0 {
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func tableCells(r *Result, row *Row, total bool) []string {
	var cells []string
	switch {
	case total:
		cells = append(cells, "total")
		for range len(r.Query.By) - 1 {
			cells = append(cells, "")
		}
	default:
		for _, k := range row.Keys {
			cells = append(cells, keyText(k))
		}
	}
	p50, p95, p99 := "-", "-", "-"
	if row.Latency != nil {
		p50, p95, p99 = Duration(row.Latency.P50), Duration(row.Latency.P95), Duration(row.Latency.P99)
	}
	perUser := "-"
	if c, ok := row.CostPerUser(); ok {
		perUser = Money(c, r.Currency)
	}
	return append(cells,
		Money(row.Cost, r.Currency), Count(row.Requests),
		Count(row.InputTokens), Count(row.CachedInputTokens), Count(row.OutputTokens),
		Count(row.Errors), Percent(row.ErrorRate()),
		p50, p95, p99, Count(row.Users), perUser)
}

// keyText is a group value for the table: absent values named, control
// characters (which would break the layout, or drive the terminal: C0, DEL
// and C1, whose U+009B is a CSI on some terminals) replaced, long values cut.
func keyText(k *string) string {
	if k == nil {
		return none
	}
	s := strings.Map(func(r rune) rune {
		if r < ' ' || (r >= 0x7f && r <= 0x9f) {
			return '?'
		}
		return r
	}, *k)
	if s == "" {
		return `""`
	}
	if utf8.RuneCountInString(s) > maxKeyWidth {
		s = string([]rune(s)[:maxKeyWidth-1]) + "…"
	}
	return s
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
