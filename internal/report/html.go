package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

type htmlCard struct{ Name, Value, Detail string }

type htmlPage struct {
	Title     string
	Generated string
	Empty     bool
	Cards     []htmlCard
	Charts    []htmlChart
	Header    []string
	Keys      int
	Rows      [][]string
	Total     []string
	Notes     []string
}

type htmlChart struct {
	Title string
	Wide  bool
	SVG   template.HTML
}

// WriteHTML writes the report as one self-contained HTML page: summary
// figures, charts (daily cost, cost by feature and model, latency
// percentiles, top users) and the report's table. It loads nothing from
// the network. generated is printed as the time the report was made.
func WriteHTML(w io.Writer, r *Result, ch *Charts, generated time.Time) error {
	t := &r.Total
	page := htmlPage{
		Title:     r.Title(),
		Generated: generated.UTC().Format("2006-01-02 15:04 MST"),
		Empty:     t.Requests == 0,
		Notes:     r.Notes(),
		Keys:      max(len(r.Query.By), 1),
	}
	p95 := "-"
	if t.Latency != nil {
		p95 = Duration(t.Latency.P95)
	}
	perUser := "-"
	if c, ok := t.CostPerUser(); ok {
		perUser = Money(c, r.Currency)
	}
	page.Cards = []htmlCard{
		{"Cost", Money(t.Cost, r.Currency), string(t.Cost) + " " + r.Currency},
		{"Requests", Count(t.Requests), itoa(t.Requests)},
		{"Tokens", Count(t.InputTokens + t.OutputTokens), fmt.Sprintf("%s in (%s cached), %s out", Count(t.InputTokens), Count(t.CachedInputTokens), Count(t.OutputTokens))},
		{"Errors", Percent(t.ErrorRate()), Count(t.Errors) + " failed requests"},
		{"p95 latency", p95, "p50 and p99 below"},
		{"Active users", Count(t.Users), perUser + " per user"},
	}
	page.Header = append(dimNames(r.Query.By), tableHeader...)
	if len(r.Query.By) == 0 {
		page.Header = append([]string{""}, tableHeader...)
	}
	for i := range r.Rows {
		page.Rows = append(page.Rows, tableCells(r, &r.Rows[i], false))
	}
	page.Total = tableCells(r, t, true)
	if ch != nil && !page.Empty {
		page.Charts = chartsOf(r, ch)
	}
	return htmlTemplate.Execute(w, page)
}

func chartsOf(r *Result, ch *Charts) []htmlChart {
	cur := r.Currency
	money := func(v float64) string {
		// Axis ticks only: the value came from an exact Decimal and is
		// shown rounded, so a float is harmless here.
		return Money(Decimal(fmt.Sprintf("%.6f", v)), cur)
	}
	unit := ch.Daily.Query.By[0].Name
	byLabel := map[string]*Row{}
	for i := range ch.Daily.Rows {
		if k := ch.Daily.Rows[i].Keys[0]; k != nil {
			byLabel[*k] = &ch.Daily.Rows[i]
		}
	}
	var costPts []barPoint
	var p50, p95, p99 []barPoint
	costMax, latMax := 0.0, 0.0
	for _, l := range buckets(&ch.Daily.Query, unit) {
		row := byLabel[l]
		if row == nil {
			costPts = append(costPts, barPoint{l, 0, Money("0", cur) + ", no requests"})
			for _, s := range []*[]barPoint{&p50, &p95, &p99} {
				*s = append(*s, barPoint{l, -1, ""})
			}
			continue
		}
		v := row.Cost.Float64()
		costMax = max(costMax, v)
		costPts = append(costPts, barPoint{l, v, Money(row.Cost, cur) + ", " + Count(row.Requests) + " requests"})
		if row.Latency == nil {
			for _, s := range []*[]barPoint{&p50, &p95, &p99} {
				*s = append(*s, barPoint{l, -1, ""})
			}
			continue
		}
		latMax = max(latMax, row.Latency.P99)
		p50 = append(p50, barPoint{l, row.Latency.P50, Duration(row.Latency.P50)})
		p95 = append(p95, barPoint{l, row.Latency.P95, Duration(row.Latency.P95)})
		p99 = append(p99, barPoint{l, row.Latency.P99, Duration(row.Latency.P99)})
	}
	per := "Daily"
	if unit == "week" {
		per = "Weekly"
	}
	bars := func(res *Result) []barPoint {
		var pts []barPoint
		for i := range res.Rows {
			row := &res.Rows[i]
			pts = append(pts, barPoint{keyText(row.Keys[0]), row.Cost.Float64(), Money(row.Cost, cur)})
		}
		return pts
	}
	return []htmlChart{
		{per + " cost", true, columnChart(per+" cost", costPts, costMax, money)},
		{"Cost by feature", false, barList("Cost by feature", bars(ch.Features))},
		{"Cost by model", false, barList("Cost by model", bars(ch.Models))},
		{per + " latency percentiles", true, lineChart(per+" latency percentiles", []lineSeries{
			{"p50", "s1", p50}, {"p95", "s2", p95}, {"p99", "s3", p99},
		}, latMax, Duration)},
		{"Top users by cost", false, barList("Top users by cost", bars(ch.Users))},
	}
}
