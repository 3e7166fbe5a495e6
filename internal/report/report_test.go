package report

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/report")

// goldenDir is the repository's testdata/report.
const goldenDir = "../../testdata/report"

// generated is the fixed "made at" time of golden HTML.
var generated = time.Date(2025, 3, 7, 9, 0, 0, 0, time.UTC)

// checkGolden compares got with the golden file name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s (run go test -update to create it): %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/report -update rewrites it)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

type spec struct {
	by, where     []string
	top           int
	tz            string
	since, until  string
	currency, rat string
}

func (s spec) query(t *testing.T) Query {
	t.Helper()
	q := Query{Top: s.top, Rate: s.rat}
	if s.tz != "" {
		loc, err := time.LoadLocation(s.tz)
		if err != nil {
			t.Fatal(err)
		}
		q.Location = loc
	}
	since, until := "2025-03-01", "2025-03-07"
	if s.since != "" {
		since, until = s.since, s.until
	}
	var err error
	if q.Since, err = ParseTime(since, generated, q.Location); err != nil {
		t.Fatal(err)
	}
	if q.Until, err = ParseTime(until, generated, q.Location); err != nil {
		t.Fatal(err)
	}
	for _, b := range s.by {
		d, err := ParseDimension(b)
		if err != nil {
			t.Fatal(err)
		}
		q.By = append(q.By, d)
	}
	for _, w := range s.where {
		f, err := ParseFilter(w)
		if err != nil {
			t.Fatal(err)
		}
		q.Filters = append(q.Filters, f)
	}
	return q
}

// TestReport_Golden renders fixed data in every format and compares each
// with its golden file in testdata/report.
func TestReport_Golden(t *testing.T) {
	db := fixtureDB(t)
	ctx := context.Background()
	cases := []struct {
		name    string
		spec    spec
		formats []string
	}{
		{"by-day", spec{by: []string{"day"}}, []string{"table", "csv", "json", "html"}},
		{"total", spec{}, []string{"table", "csv", "json"}},
		{"feature-model", spec{by: []string{"feature", "model"}}, []string{"table", "csv"}},
		{"school-pro", spec{by: []string{"school"}, where: []string{"plan=pro"}}, []string{"table", "json"}},
		{"top-users", spec{by: []string{"user"}, top: 3}, []string{"table", "csv"}},
		{"top-feature-model", spec{by: []string{"feature", "model"}, top: 5}, []string{"table"}}, // an absent feature among the kept
		{"model-inr", spec{by: []string{"model"}, currency: "INR", rat: "83.2"}, []string{"table", "csv"}},
		{"filters", spec{by: []string{"provider", "status"}, where: []string{"model=gpt-4o*", "feature!=chat"}}, []string{"table", "json"}},
		{"day-kolkata", spec{by: []string{"day"}, tz: "Asia/Kolkata"}, []string{"csv"}},
		{"week-month-hour", spec{by: []string{"week", "month"}}, []string{"csv"}},
		{"empty", spec{by: []string{"day"}, since: "2024-01-01", until: "2024-01-31"}, []string{"table", "csv", "json", "html"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := c.spec.query(t)
			res, err := Run(ctx, db, q, c.spec.currency)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			for _, f := range c.formats {
				var buf bytes.Buffer
				switch f {
				case "table":
					err = WriteTable(&buf, res)
				case "csv":
					err = WriteCSV(&buf, res)
				case "json":
					err = WriteJSON(&buf, res)
				case "html":
					var ch *Charts
					if ch, err = LoadCharts(ctx, db, q, c.spec.currency); err != nil {
						t.Fatalf("LoadCharts: %v", err)
					}
					err = WriteHTML(&buf, res, ch, generated)
				}
				if err != nil {
					t.Fatalf("write %s: %v", f, err)
				}
				ext := map[string]string{"table": "txt"}[f]
				if ext == "" {
					ext = f
				}
				checkGolden(t, c.name+"."+ext, buf.Bytes())
			}
		})
	}
}

// TestRun_TotalsExact checks the report's sums against the fixture computed
// in Go, so the golden files cannot enshrine a wrong number.
func TestRun_TotalsExact(t *testing.T) {
	db := fixtureDB(t)
	recs := fixtureRecords()
	var cost int64
	var in, out, errs int64
	users := map[string]bool{}
	for _, r := range recs {
		cost += int64(r.Cost)
		in += r.InputTokens
		out += r.OutputTokens
		if !r.Success {
			errs++
		}
		if r.UserID != "" {
			users[r.UserID] = true
		}
	}
	q := spec{by: []string{"model"}}.query(t)
	res, err := Run(context.Background(), db, q, "")
	if err != nil {
		t.Fatal(err)
	}
	tot := res.Total
	if got, want := string(tot.Cost), parse.Money(cost).String(); got != want {
		t.Errorf("total cost: got %s, want %s", got, want)
	}
	if got, want := tot.Requests, int64(len(recs)); got != want {
		t.Errorf("requests: got %d, want %d", got, want)
	}
	if tot.InputTokens != in || tot.OutputTokens != out || tot.Errors != errs {
		t.Errorf("tokens/errors: got %d/%d/%d, want %d/%d/%d", tot.InputTokens, tot.OutputTokens, tot.Errors, in, out, errs)
	}
	if got, want := tot.Users, int64(len(users)); got != want {
		t.Errorf("users: got %d, want %d", got, want)
	}
	// The groups add up to the total: nothing counted twice or lost.
	var reqs int64
	for _, r := range res.Rows {
		reqs += r.Requests
	}
	if reqs != tot.Requests {
		t.Errorf("sum of group requests: got %d, want %d", reqs, tot.Requests)
	}
	if got, want := res.Groups, 4; got != want {
		t.Errorf("groups: got %d, want %d", got, want)
	}
}

// TestRun_Filters checks the filter semantics on counts.
func TestRun_Filters(t *testing.T) {
	db := fixtureDB(t)
	recs := fixtureRecords()
	count := func(keep func(r *parse.Record) bool) int64 {
		var n int64
		for i := range recs {
			if keep(&recs[i]) {
				n++
			}
		}
		return n
	}
	cases := []struct {
		where []string
		want  int64
	}{
		{[]string{"model=gpt-4o*"}, count(func(r *parse.Record) bool { return strings.HasPrefix(r.Model, "gpt-4o") })},
		{[]string{"model=gpt-4o"}, count(func(r *parse.Record) bool { return r.Model == "gpt-4o" })},
		{[]string{"model=gpt-4o", "model=llama*"}, count(func(r *parse.Record) bool { return r.Model == "gpt-4o" || r.Model == "llama-3-70b" })},
		{[]string{"feature!=chat"}, count(func(r *parse.Record) bool { return r.Feature != "chat" })},
		{[]string{"feature="}, count(func(r *parse.Record) bool { return r.Feature == "" })},
		{[]string{"user!="}, count(func(r *parse.Record) bool { return r.UserID != "" })},
		{[]string{"school=north", "status=error"}, count(func(r *parse.Record) bool {
			return strings.Contains(string(r.Attributes), `"north"`) && !r.Success
		})},
		{[]string{"model=gpt_4o%"}, 0}, // LIKE's own wildcards are literal
	}
	for _, c := range cases {
		t.Run(strings.Join(c.where, ","), func(t *testing.T) {
			q := spec{where: c.where}.query(t)
			res, err := Run(context.Background(), db, q, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Total.Requests; got != c.want {
				t.Errorf("requests: got %d, want %d", got, c.want)
			}
		})
	}
}

// TestRun_PercentilesWithinHalfPercent: percentiles come from 1%-wide log
// buckets, so each is within 0.5% of the exact nearest-rank value.
func TestRun_PercentilesWithinHalfPercent(t *testing.T) {
	db := fixtureDB(t)
	var ds []float64
	for _, r := range fixtureRecords() {
		if r.HasDuration {
			ds = append(ds, r.DurationMS)
		}
	}
	sort.Float64s(ds)
	rank := func(p float64) float64 { // nearest rank: the smallest value with p of them at or below it
		return ds[int(math.Ceil(p*float64(len(ds))))-1]
	}
	res, err := Run(context.Background(), db, spec{}.query(t), "")
	if err != nil {
		t.Fatal(err)
	}
	lat := res.Total.Latency
	if lat == nil {
		t.Fatal("no latency in the total")
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", lat.P50, rank(0.50)}, {"p95", lat.P95, rank(0.95)}, {"p99", lat.P99, rank(0.99)}} {
		if math.Abs(c.got-c.want) > 0.005*c.want {
			t.Errorf("%s: got %.3f, want %.3f ± 0.5%%", c.name, c.got, c.want)
		}
	}
}

// TestRun_HoursInZones: when the clocks go back the two hours that read
// 01:00 are two rows, and in a half-hour zone an hour starts at :30 UTC.
func TestRun_HoursInZones(t *testing.T) {
	ctx := context.Background()
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	var recs []parse.Record
	for i, ts := range []string{
		"2024-11-03T04:30:00Z", // 00:30 EDT
		"2024-11-03T05:10:00Z", // 01:10 EDT; 10:40 IST
		"2024-11-03T05:40:00Z", // 01:40 EDT; 11:10 IST
		"2024-11-03T06:30:00Z", // 01:30 EST, the second 01:00 hour
		"2024-11-03T06:45:00Z", // 01:45 EST
	} {
		recs = append(recs, parse.Record{EventID: fmt.Sprintf("dst-%d", i), OccurredAt: at(ts), Source: "api",
			Model: "m", Success: true, CostSource: parse.CostUnpriced, Attributes: []byte("{}")})
	}
	pool := seedDB(t, recs)
	for _, c := range []struct {
		tz   string
		want []string
	}{
		{"America/New_York", []string{"2024-11-03 00:00 EDT=1", "2024-11-03 01:00 EDT=2", "2024-11-03 01:00 EST=2"}},
		{"Asia/Kolkata", []string{"2024-11-03 10:00 IST=2", "2024-11-03 11:00 IST=1", "2024-11-03 12:00 IST=2"}},
		{"UTC", []string{"2024-11-03 04:00=1", "2024-11-03 05:00=2", "2024-11-03 06:00=2"}},
	} {
		q := spec{by: []string{"hour"}, tz: c.tz, since: "2024-11-02", until: "2024-11-05"}.query(t)
		res, err := Run(ctx, pool, q, "")
		if err != nil {
			t.Fatalf("%s: %v", c.tz, err)
		}
		var got []string
		for _, r := range res.Rows {
			got = append(got, fmt.Sprintf("%s=%d", *r.Keys[0], r.Requests))
		}
		if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
			t.Errorf("--by hour --tz %s:\n got %v\nwant %v", c.tz, got, c.want)
		}
	}
}
