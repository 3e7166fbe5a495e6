package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/internal/report"
)

const reportUsage = `Usage: tokentail report [--config FILE] [flags]

Cost, requests, tokens (input, cached, output), errors and error rate,
p50/p95/p99 latency, active users and cost per active user, read from
PostgreSQL, for a range (default: the last 30 days, today included; with
--until alone, the 30 days before it).

  --by day --by model          group by (default: day; none, given alone: only
                               the total)
                               hour, day, week, month, feature, model,
                               provider, user, source, error_type, status,
                               cost_source, or any attribute kept from the logs
                               (--by school, --by plan); several allowed, or
                               comma-separated (--by feature,model)
  --where model=gpt-4o*        keep rows whose field matches a glob (* and ?);
  --where feature!=chat        != excludes; FIELD= keeps rows without the field.
                               Several on one field: any may match; on
                               different fields: all must match
  --top 20                     the 20 costliest groups (the total covers all)
  --currency INR --rate 83.2   show money in another currency (rate per USD);
                               the config's report: {currency, rate} is the
                               default, and --currency alone takes its rate

Flags:
`

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func (m *Main) runReport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tokentail report", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	configPath := configFlag(fs)
	since := fs.String("since", "", "start of the range: 2024-05-01, 2024-05-01T10:00:00Z, today, or a span before now such as 7d (default: 30 days ago at midnight, or 30 days before --until)")
	until := fs.String("until", "", "end of the range, excluded (default: now)")
	tz := fs.String("tz", "UTC", "time zone of dates and of hour/day/week/month buckets, e.g. Europe/Paris")
	var by, where stringList
	fs.Var(&by, "by", "group by this field, time bucket or attribute (repeatable; default day; none, alone, for the total only)")
	fs.Var(&where, "where", "keep rows where FIELD=GLOB, or FIELD!=GLOB to exclude (repeatable)")
	top := fs.Int("top", 0, "keep only the N costliest groups (0: all)")
	format := fs.String("format", "table", "output format: table, csv, json or html; in csv a group value beginning with = + - @, tab or CR gets a leading ' so a spreadsheet shows it as text, not a formula")
	output := fs.String("output", "", "write to this file instead of stdout")
	currency := fs.String("currency", "", "currency to show money in, e.g. EUR (default: report.currency of the config, else USD); other than USD needs a rate")
	rate := fs.String("rate", "", "units of the currency per US dollar, a plain decimal above zero such as 83.2 or 0.92 (default: report.rate of the config)")
	fs.Usage = func() {
		fmt.Fprint(m.Stderr, reportUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("report: unexpected argument %q (flags come as --by day, --where model=x)", fs.Arg(0))
	}
	q, err := reportQuery(time.Now(), *since, *until, *tz, by, where, *top)
	if err != nil {
		return err
	}
	if err := checkMoneyFlags(*currency, *rate); err != nil {
		return err
	}
	switch *format {
	case "table", "csv", "json", "html":
	default:
		return usagef("report: --format %q: use table, csv, json or html", *format)
	}
	cfg, err := m.loadConfig(*configPath, true)
	if err != nil {
		return err
	}
	cur, err := reportCurrency(*currency, *rate, cfg.Report)
	if err != nil {
		return err
	}
	q.Rate = cur.rate
	if cfg.Postgres == nil {
		return usagef("%s: report reads PostgreSQL: configure postgres.dsn", cfg.File)
	}
	conn, err := connectPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	res, err := report.Run(ctx, conn, q, cur.code)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var charts *report.Charts
	if *format == "html" {
		if charts, err = report.LoadCharts(ctx, conn, q, cur.code); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	w := m.Stdout
	var f *os.File
	if *output != "" {
		if f, err = os.Create(*output); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		defer f.Close()
		w = f
	}
	if err := writeReport(w, *format, res, charts); err != nil {
		return fmt.Errorf("report: write %s: %w", outputName(*output), err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("report: write %s: %w", *output, err)
		}
	}
	return nil
}

func outputName(path string) string {
	if path == "" {
		return "stdout"
	}
	return path
}

func writeReport(w io.Writer, format string, res *report.Result, charts *report.Charts) error {
	switch format {
	case "csv":
		return report.WriteCSV(w, res)
	case "json":
		return report.WriteJSON(w, res)
	case "html":
		return report.WriteHTML(w, res, charts, time.Now())
	}
	return report.WriteTable(w, res)
}

// reportQuery checks the flags and turns them into a report.Query; every
// mistake is a usage error.
func reportQuery(now time.Time, since, until, tz string, by, where []string, top int) (report.Query, error) {
	var q report.Query
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" || tz == "Local" {
		return q, usagef("report: --tz %q is not a time zone name such as UTC or Europe/Paris", tz)
	}
	q.Location = loc
	q.Since, q.Until = report.DefaultRange(now, loc)
	if until != "" {
		if q.Until, err = report.ParseTime(until, now, loc); err != nil {
			return q, usagef("report: --until: %v", err)
		}
		// --until alone: the days before it, not the days before now.
		q.Since = report.DefaultSince(q.Until, loc)
	}
	if since != "" {
		if q.Since, err = report.ParseTime(since, now, loc); err != nil {
			return q, usagef("report: --since: %v", err)
		}
	}
	if !q.Until.After(q.Since) {
		return q, usagef("report: --until (%s) must come after --since (%s)", q.Until.In(loc).Format(time.RFC3339), q.Since.In(loc).Format(time.RFC3339))
	}
	var names []string
	for _, b := range by {
		for _, name := range strings.Split(b, ",") {
			names = append(names, strings.TrimSpace(name))
		}
	}
	if len(names) == 0 {
		names = []string{"day"}
	}
	if slices.Contains(names, "none") {
		// none is the total alone: grouping by anything else too
		// contradicts it (and would group by an attribute named none).
		if slices.ContainsFunc(names, func(n string) bool { return n != "none" }) {
			return q, usagef("report: --by none (the total only) cannot be combined with other groups (--by %s)", strings.Join(names, ","))
		}
		if len(names) > 1 {
			return q, usagef("report: --by none is given twice")
		}
		names = nil
	}
	seen := map[string]bool{}
	for _, name := range names {
		d, err := report.ParseDimension(name)
		if err != nil {
			return q, usagef("report: --by %v", err)
		}
		if seen[d.Name] {
			return q, usagef("report: --by %s is given twice", d.Name)
		}
		seen[d.Name] = true
		q.By = append(q.By, d)
	}
	for _, w := range where {
		f, err := report.ParseFilter(w)
		if err != nil {
			return q, usagef("report: --where %v", err)
		}
		q.Filters = append(q.Filters, f)
	}
	if top < 0 {
		return q, usagef("report: --top %d: give a positive number, or 0 for every group", top)
	}
	q.Top = top
	return q, nil
}

// checkMoneyFlags checks what --currency and --rate say on their own, so
// that a typo is reported before the config is read.
func checkMoneyFlags(currency, rate string) error {
	if currency != "" && !report.ValidCurrency(currency) {
		return usagef("report: --currency %q: give a three-letter code such as USD, EUR or INR", currency)
	}
	if rate != "" {
		if err := report.ValidRate(rate); err != nil {
			return usagef("report: --%v", err)
		}
	}
	return nil
}

// money is the currency a report shows and its rate per USD as decimal
// text ("" for USD).
type money struct {
	code, rate string
}

// reportCurrency decides the report's currency: the flags override the
// config's report section, which overrides USD. --currency alone takes the
// config's rate when the config names the same currency; --rate alone
// applies to the config's currency. A rate without a currency to convert
// to, or a currency without a rate, is a usage error.
func reportCurrency(currency, rate string, cfg *config.Report) (money, error) {
	cfgCode, cfgRate := "USD", ""
	if cfg != nil && cfg.Currency != "" && cfg.Currency != "USD" {
		// The config holds the rate as a float; its shortest decimal form
		// is the number as written in the file (0.92, not 0.9200000000000000355).
		cfgCode, cfgRate = cfg.Currency, strconv.FormatFloat(cfg.Rate, 'f', -1, 64)
	}
	code := currency
	if code == "" {
		code = cfgCode
	}
	if code == "USD" {
		if rate != "" {
			return money{}, usagef("report: --rate needs --currency (or report.currency in the config): say which currency the rate converts US dollars to")
		}
		return money{code: "USD"}, nil
	}
	switch {
	case rate != "":
	case code == cfgCode:
		rate = cfgRate
	default:
		return money{}, usagef("report: --currency %s needs --rate (how many %s one US dollar buys), or report: {currency: %s, rate: ...} in the config", code, code, code)
	}
	if err := report.ValidRate(rate); err != nil {
		return money{}, usagef("report: report.rate: %v", err)
	}
	return money{code: code, rate: rate}, nil
}

// connectPostgres opens one connection to the configured database; the
// DSN's password never appears in an error.
func connectPostgres(ctx context.Context, cfg *config.Config) (*pgx.Conn, error) {
	dsn := cfg.Postgres.DSN.Reveal()
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, usagef("%s: postgres.dsn is not a valid DSN", cfg.File)
	}
	if _, ok := pc.RuntimeParams["application_name"]; !ok {
		pc.RuntimeParams["application_name"] = "tokentail"
	}
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		msg := err.Error()
		if pc.Password != "" {
			msg = strings.ReplaceAll(msg, pc.Password, "xxxxx")
		}
		return nil, fmt.Errorf("connect to postgres %s: %s", config.RedactDSN(dsn), msg)
	}
	return conn, nil
}
