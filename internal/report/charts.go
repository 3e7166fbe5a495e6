package report

import (
	"context"
	"time"
)

// chartTop is how many features, models and users a bar chart shows.
const chartTop = 10

// Charts are the extra views the HTML report draws, over the same range
// and filters as the report itself.
type Charts struct {
	// Daily is the range by day (by week beyond weeklyAfter), for the cost
	// bars and the latency lines.
	Daily *Result
	// Features, Models and Users are the costliest chartTop of each.
	Features, Models, Users *Result
}

// weeklyAfter is the range beyond which the time charts count weeks, so
// that bars stay wide enough to see.
const weeklyAfter = 120 * 24 * time.Hour

// LoadCharts runs the queries behind the HTML charts.
func LoadCharts(ctx context.Context, db DB, q Query, currency string) (*Charts, error) {
	one := func(by string, top int) (*Result, error) {
		d, err := ParseDimension(by)
		if err != nil {
			return nil, err
		}
		c := q
		c.By, c.Top = []Dimension{d}, top
		return Run(ctx, db, c, currency)
	}
	var (
		ch  Charts
		err error
	)
	bucket := "day"
	if q.Until.Sub(q.Since) > weeklyAfter {
		bucket = "week"
	}
	if ch.Daily, err = one(bucket, 0); err != nil {
		return nil, err
	}
	if ch.Features, err = one("feature", chartTop); err != nil {
		return nil, err
	}
	if ch.Models, err = one("model", chartTop); err != nil {
		return nil, err
	}
	if ch.Users, err = one("user", chartTop); err != nil {
		return nil, err
	}
	return &ch, nil
}

// buckets lists every day (or week) label of the range in order, so the
// time charts show empty days as gaps rather than closing them up.
func buckets(q *Query, unit string) []string {
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	s := q.Since.In(loc)
	t := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, loc)
	step := 1
	if unit == "week" {
		// ISO weeks start on Monday.
		t = t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
		step = 7
	}
	var out []string
	for ; t.Before(q.Until) && len(out) < 5000; t = t.AddDate(0, 0, step) {
		out = append(out, t.Format("2006-01-02"))
	}
	return out
}
