package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/writers/postgres"
)

// writeConfig writes a config file in a temp dir and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokentail.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// seedPostgres writes recs into a fresh database and returns its DSN.
func seedPostgres(t *testing.T, recs []parse.Record) string {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := postgres.Open(ctx, postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	return dsn
}

var reportDay = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// reportRecords: three models over two days; one error, one unpriced.
func reportRecords() []parse.Record {
	mk := func(id string, h int, model, feature string, cost parse.Money, src parse.CostSource, ok bool, ms float64) parse.Record {
		return parse.Record{
			EventID: id, OccurredAt: reportDay.Add(time.Duration(h) * time.Hour), Source: "api",
			UserID: "u-" + id[:1], Feature: feature, Model: model, InputTokens: 1000, OutputTokens: 100, TotalTokens: 1100,
			Cost: cost, CostSource: src, Success: ok, DurationMS: ms, HasDuration: true,
			Attributes: []byte(`{"plan":"pro"}`),
		}
	}
	return []parse.Record{
		mk("a1", 1, "gpt-4o-mini", "chat", 210_000_000, parse.CostPricing, true, 300),
		mk("a2", 2, "gpt-4o-mini", "chat", 210_000_000, parse.CostPricing, true, 500),
		mk("b1", 3, "gpt-4o", "search", 3_500_000_000, parse.CostFromLog, false, 900),
		mk("b2", 30, "gpt-4o", "search", 12_345_000_000_000, parse.CostFromLog, true, 1200),
		mk("c1", 31, "llama-3", "", 0, parse.CostUnpriced, true, 100),
	}
}

func TestReport_Usage(t *testing.T) {
	noPG := writeConfig(t, "sources:\n  - {name: api, paths: [/tmp/x.log]}\n")
	eurNoPG := writeConfig(t, "report: {currency: EUR, rate: 0.92}\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--format", "xml"}, `--format "xml"`},
		{[]string{"--by", "day;drop"}, "attribute name"},
		{[]string{"--by", "day", "--by", "day"}, "given twice"},
		{[]string{"--by", "none,feature"}, "--by none (the total only) cannot be combined"},
		{[]string{"--by", "none", "--by", "model"}, "cannot be combined with other groups (--by none,model)"},
		{[]string{"--by", "feature,none"}, "cannot be combined"},
		{[]string{"--by", "none", "--by", "none"}, "--by none is given twice"},
		{[]string{"--where", "model"}, "FIELD=GLOB"},
		{[]string{"--where", "day=2024-01-01"}, "--since and --until"},
		{[]string{"--top", "-1"}, "--top -1"},
		{[]string{"--config", noPG, "--currency", "INR"}, "needs --rate"},
		{[]string{"--config", noPG, "--rate", "83"}, "--rate needs --currency"},
		{[]string{"--config", eurNoPG, "--currency", "INR"}, "--currency INR needs --rate"},
		{[]string{"--currency", "INR", "--rate", "abc"}, "not a plain decimal"},
		{[]string{"--currency", "INR", "--rate", ".5"}, "not a plain decimal"},
		{[]string{"--currency", "INR", "--rate", "+83.2"}, "not a plain decimal"},
		{[]string{"--currency", "INR", "--rate", "83."}, "not a plain decimal"},
		{[]string{"--currency", "INR", "--rate", "083"}, "not a plain decimal"},
		{[]string{"--currency", "INR", "--rate", "-2"}, "above zero"},
		{[]string{"--currency", "rupees", "--rate", "2"}, "three-letter"},
		{[]string{"--tz", "Mars/Olympus"}, "time zone"},
		{[]string{"--since", "yesterday-ish"}, "not a time"},
		{[]string{"--since", "2025-03-02", "--until", "2025-03-01"}, "must come after"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--config", noPG}, "configure postgres.dsn"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, stderr := run(t, append([]string{"report"}, c.args...)...)
			if code != 2 {
				t.Errorf("exit code: got %d, want 2 (stderr %q)", code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr, c.want)
			}
		})
	}
}

func TestReport_EndToEnd(t *testing.T) {
	dsn := seedPostgres(t, reportRecords())
	cfg := writeConfig(t, fmt.Sprintf("postgres: {dsn: %q}\n", dsn))
	base := []string{"report", "--config", cfg, "--since", "2025-03-01", "--until", "2025-03-03"}

	t.Run("csv by model", func(t *testing.T) {
		code, out, stderr := run(t, append(base, "--by", "model", "--format", "csv")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		// Percentiles are nearest-rank, within 0.5% (log buckets): 900 → 902.348.
		want := `model,cost_usd,requests,input_tokens,cached_input_tokens,output_tokens,errors,error_rate,p50_ms,p95_ms,p99_ms,users,cost_per_user_usd,unpriced
gpt-4o,12.3485,2,2000,0,200,1,0.5,902.348,1205.922,1205.922,1,12.3485,0
gpt-4o-mini,0.00042,2,2000,0,200,0,0,300.365,500.196,500.196,1,0.00042,0
llama-3,0,1,1000,0,100,0,0,99.983,99.983,99.983,1,0,1
`
		if out != want {
			t.Errorf("got\n%s\nwant\n%s", out, want)
		}
	})
	t.Run("table by day in EUR", func(t *testing.T) {
		code, out, stderr := run(t, append(base, "--by", "day", "--currency", "EUR", "--rate", "0.5")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{"EUR at 0.5 per USD", "2025-03-01  < €0.01", "2025-03-02    €6.17", "total         €6.17", "1 request has no price"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("html to a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "r.html")
		code, out, stderr := run(t, append(base, "--by", "feature", "--where", "plan=pro", "--format", "html", "--output", path)...)
		if code != 0 || out != "" {
			t.Fatalf("exit %d, stdout %q: %s", code, out, stderr)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		html := string(b)
		for _, want := range []string{"<svg", "Daily cost", "Top users by cost", "$12.35", "(none)"} {
			if !strings.Contains(html, want) {
				t.Errorf("html lacks %q", want)
			}
		}
		// Self-contained: nothing is fetched from anywhere.
		for _, bad := range []string{"http://", "https://", "<script", "<link"} {
			if strings.Contains(html, bad) {
				t.Errorf("html contains %q: it must read offline", bad)
			}
		}
	})
	t.Run("empty range", func(t *testing.T) {
		code, out, _ := run(t, "report", "--config", cfg, "--since", "2024-01-01", "--until", "2024-02-01", "--by", "user")
		if code != 0 || !strings.Contains(out, "No requests in this range.") {
			t.Errorf("exit %d, output %q", code, out)
		}
	})
	t.Run("database without the table", func(t *testing.T) {
		cfg := writeConfig(t, fmt.Sprintf("postgres: {dsn: %q}\n", testenv.PostgresDSN(t)))
		code, _, stderr := run(t, "report", "--config", cfg)
		if code != 1 || !strings.Contains(stderr, "has tokentail run or backfilled") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

func TestReportCurrency_FlagsOverrideConfig(t *testing.T) {
	eur := &config.Report{Currency: "EUR", Rate: 0.92}
	cases := []struct {
		name           string
		currency, rate string
		cfg            *config.Report
		want           money
		wantErr        string
	}{
		{"nothing: USD", "", "", nil, money{code: "USD"}, ""},
		{"config USD", "", "", &config.Report{Currency: "USD"}, money{code: "USD"}, ""},
		{"config EUR", "", "", eur, money{code: "EUR", rate: "0.92"}, ""},
		{"config rate written exactly", "", "", &config.Report{Currency: "INR", Rate: 83.2}, money{code: "INR", rate: "83.2"}, ""},
		{"flag USD over config", "USD", "", eur, money{code: "USD"}, ""},
		{"flag currency and rate over config", "INR", "83.2", eur, money{code: "INR", rate: "83.2"}, ""},
		{"flag rate for the config's currency", "", "0.9", eur, money{code: "EUR", rate: "0.9"}, ""},
		{"flag currency takes the config's rate", "EUR", "", eur, money{code: "EUR", rate: "0.92"}, ""},
		{"flags without config", "GBP", "0.79", nil, money{code: "GBP", rate: "0.79"}, ""},
		{"another currency needs a rate", "INR", "", eur, money{}, "--currency INR needs --rate"},
		{"a rate needs a currency", "", "2", nil, money{}, "--rate needs --currency"},
		{"a rate for USD", "USD", "2", eur, money{}, "--rate needs --currency"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := reportCurrency(c.currency, c.rate, c.cfg)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error: got %v, want it to contain %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestReport_CurrencyFromConfig: report: {currency, rate} in the config
// converts every format without flags, and the flags override it.
func TestReport_CurrencyFromConfig(t *testing.T) {
	dsn := seedPostgres(t, reportRecords())
	cfg := writeConfig(t, fmt.Sprintf("postgres: {dsn: %q}\nreport: {currency: EUR, rate: 0.5}\n", dsn))
	base := []string{"report", "--config", cfg, "--since", "2025-03-01", "--until", "2025-03-03"}
	cases := []struct {
		name  string
		args  []string
		wants []string
	}{
		// The fixture costs $12.34892 in all: half of it in EUR.
		{"table", []string{"--by", "day"}, []string{"EUR at 0.5 per USD", "total         €6.17"}},
		{"csv", []string{"--by", "none", "--format", "csv"}, []string{"cost_eur,requests", "\n6.17446,5,"}},
		{"json", []string{"--by", "none", "--format", "json"}, []string{`"currency": "EUR"`, `"rate": 0.5,`, `"cost": 6.17446,`}},
		{"html", []string{"--by", "none", "--format", "html"}, []string{"€6.17"}},
		{"flag rate", []string{"--by", "none", "--format", "csv", "--rate", "2"}, []string{"cost_eur,", "\n24.69784,5,"}},
		{"flag USD", []string{"--by", "none", "--format", "csv", "--currency", "USD"}, []string{"cost_usd,", "\n12.34892,5,"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := run(t, append(base, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, want := range c.wants {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestReportQuery_UntilAlone: --until without --since reports the
// report.DefaultDays days before --until, not a range starting 30 days
// before now (which would end before it starts).
func TestReportQuery_UntilAlone(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		tz, until, since string // since: RFC 3339 in tz
		wantUntil        string
	}{
		{"UTC", "2024-01-01", "2023-12-02T00:00:00Z", "2024-01-01T00:00:00Z"},
		{"UTC", "2024-03-10T06:30:00Z", "2024-02-09T06:30:00Z", "2024-03-10T06:30:00Z"},
		// Across the end of daylight saving time: 30 calendar days.
		{"America/New_York", "2024-11-15", "2024-10-16T00:00:00-04:00", "2024-11-15T00:00:00-05:00"},
	}
	for _, c := range cases {
		t.Run(c.tz+" "+c.until, func(t *testing.T) {
			q, err := reportQuery(now, "", c.until, c.tz, nil, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := q.Since.In(q.Location).Format(time.RFC3339); got != c.since {
				t.Errorf("since: got %s, want %s", got, c.since)
			}
			if got := q.Until.In(q.Location).Format(time.RFC3339); got != c.wantUntil {
				t.Errorf("until: got %s, want %s", got, c.wantUntil)
			}
		})
	}
	// --since given still wins, and the defaults without either are unchanged.
	q, err := reportQuery(now, "2023-01-01", "2024-01-01", "UTC", nil, nil, 0)
	if err != nil || !q.Since.Equal(time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("--since and --until: since %s, err %v", q.Since, err)
	}
	q, err = reportQuery(now, "", "", "UTC", nil, nil, 0)
	if err != nil || !q.Since.Equal(time.Date(2025, 5, 17, 0, 0, 0, 0, time.UTC)) || !q.Until.Equal(now) {
		t.Errorf("no range: %s to %s, err %v", q.Since, q.Until, err)
	}
}
