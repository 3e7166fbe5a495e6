package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/big"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tokentail/tokentail/internal/pipeline"
	"github.com/tokentail/tokentail/internal/report"
	"github.com/tokentail/tokentail/internal/reprice"
	"github.com/tokentail/tokentail/writers/postgres"
)

const repriceUsage = `Usage: tokentail reprice --since DATE [--until DATE] [--dry-run] [--config FILE]

Recomputes cost_usd of the rows in the range whose cost came from the pricing
table, with the pricing table in the config now. Rows priced from the table
get the new price; unpriced rows that a price now matches become priced; rows
that no price matches any more become unpriced (cost 0) and come back when
their price is restored and reprice runs again. Rows whose cost came from the
log are never touched. Rows are changed in small batches, each in its own
short transaction, so running daemons keep writing. Idempotent: a second run
changes nothing and says so. A run that stops on an error exits non-zero
and says on stderr, not stdout, what the batches before it changed. InfluxDB points keep the cost they were written
with. Restart running daemons on the new pricing first, or rows they add
meanwhile keep the old price (run reprice again to catch them).

Flags:
`

func (m *Main) runReprice(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tokentail reprice", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	configPath := configFlag(fs)
	since := fs.String("since", "", "start of the range (required): 2024-05-01, 2024-05-01T10:00:00Z, or a span before now such as 30d")
	until := fs.String("until", "", "end of the range, excluded (default: no end)")
	tz := fs.String("tz", "UTC", "time zone of dates given without one")
	batch := fs.Int("batch-size", reprice.DefaultBatchSize, "rows read and updated per transaction")
	dryRun := fs.Bool("dry-run", false, "say what would change, change nothing")
	progress := fs.Bool("progress", isTerminal(m.Stderr), "show progress on stderr (default: when stderr is a terminal)")
	fs.Usage = func() {
		fmt.Fprint(m.Stderr, repriceUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("reprice: unexpected argument %q", fs.Arg(0))
	}
	now := time.Now()
	opts := reprice.Options{BatchSize: *batch, DryRun: *dryRun}
	loc, err := time.LoadLocation(*tz)
	if err != nil || *tz == "" || *tz == "Local" {
		return usagef("reprice: --tz %q is not a time zone name such as UTC or Europe/Paris", *tz)
	}
	if *since == "" {
		return usagef("reprice: --since is required, e.g. --since 2024-05-01 (the day the prices changed)")
	}
	if opts.Since, err = report.ParseTime(*since, now, loc); err != nil {
		return usagef("reprice: --since: %v", err)
	}
	if *until != "" {
		if opts.Until, err = report.ParseTime(*until, now, loc); err != nil {
			return usagef("reprice: --until: %v", err)
		}
		if !opts.Until.After(opts.Since) {
			return usagef("reprice: --until must come after --since")
		}
	}
	if *batch <= 0 || *batch > 100_000 {
		return usagef("reprice: --batch-size %d: give 1 to 100000", *batch)
	}
	cfg, err := m.loadConfig(*configPath, true)
	if err != nil {
		return err
	}
	if cfg.Postgres == nil {
		return usagef("%s: reprice changes rows in PostgreSQL: configure postgres.dsn", cfg.File)
	}
	if cfg.Prices == nil {
		return usagef("%s: reprice needs the pricing table: configure pricing.file or pricing.models", cfg.File)
	}
	if opts.Prices, err = pipeline.PriceTable(cfg); err != nil {
		return err
	}
	conn, err := connectPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if *progress {
		opts.Progress = func(s *reprice.Summary) {
			fmt.Fprintf(m.Stderr, "\r\033[K%d rows read, %d changed", s.Scanned, s.Changed)
		}
	}
	sum, err := reprice.Run(ctx, conn, opts)
	if *progress {
		fmt.Fprint(m.Stderr, "\r\033[K")
	}
	if sum != nil && sum.Changed > 0 && !opts.DryRun {
		// The rules leader summed the old costs: it reads them again.
		if nerr := postgres.NotifyReseed(context.WithoutCancel(ctx), conn, "reprice"); nerr != nil {
			fmt.Fprintf(m.Stderr, "warning: the rules leader was not told that costs changed; restart it for today's budgets to count the new costs: %v\n", nerr)
		}
	}
	if sum != nil {
		// A failed run's summary says what was done before the error; it
		// goes to stderr with the error, so stdout never reads like a
		// finished run.
		out := m.Stdout
		if err != nil {
			out = m.Stderr
		}
		writeRepriceSummary(out, sum, opts, loc, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("reprice interrupted: the batches above are done; run the same command again to finish")
		}
		return fmt.Errorf("reprice: %w", err)
	}
	return nil
}

// writeRepriceSummary says what changed: counts, money before and after,
// and a line per model. With runErr, the run stopped part way: the summary
// says so and covers the batches done before the error.
func writeRepriceSummary(w io.Writer, s *reprice.Summary, opts reprice.Options, loc *time.Location, runErr error) {
	end := "now"
	if !opts.Until.IsZero() {
		end = opts.Until.In(loc).Format("2006-01-02 15:04")
	}
	verb := "changed"
	if s.DryRun {
		verb = "would change (dry run: nothing written)"
	}
	head := fmt.Sprintf("reprice %s to %s (%s)", opts.Since.In(loc).Format("2006-01-02 15:04"), end, loc)
	switch {
	case runErr != nil && s.Changed == 0:
		fmt.Fprintf(w, "%s stopped on an error; before it, %d rows priced from the table or unpriced were read and none %s.\n", head, s.Scanned, verb)
	case runErr != nil:
		fmt.Fprintf(w, "%s stopped on an error; before it, %d rows priced from the table or unpriced were read and %d %s", head, s.Scanned, s.Changed, verb)
	case s.Changed == 0:
		fmt.Fprintf(w, "%s: %d rows priced from the table or unpriced; nothing to change: every cost already matches the pricing table.\n", head, s.Scanned)
	default:
		fmt.Fprintf(w, "%s: %d rows priced from the table or unpriced; %d %s", head, s.Scanned, s.Changed, verb)
	}
	if s.Changed == 0 {
		if s.Skipped > 0 {
			fmt.Fprintf(w, "%d rows changed while being read (another reprice running?): run again to check them.\n", s.Skipped)
		}
		return
	}
	fmt.Fprintf(w, " (%d newly priced, %d lost their price); cost of those rows: %s USD before, %s USD after (%s)\n",
		s.NewlyPriced, s.LostPrice, s.Before, s.After, signedDiff(s.Before, s.After))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  model\trows\tnewly priced\tlost price\tbefore USD\tafter USD\tchange")
	for _, mc := range s.ByModel {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t%s\t%s\n", mc.Model, mc.Rows, mc.NewlyPriced, mc.LostPrice, mc.Before, mc.After, signedDiff(mc.Before, mc.After))
	}
	tw.Flush()
	if s.LostPrice > 0 {
		state := "are now"
		if s.DryRun {
			state = "would become"
		}
		fmt.Fprintf(w, "%d rows match no price any more and %s unpriced (cost 0): add their models to the pricing file and run reprice again to price them.\n", s.LostPrice, state)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(w, "%d rows changed while being read (another reprice running?) and were left as found: run again to check them.\n", s.Skipped)
	}
}

// signedDiff is after − before, exact, with its sign: "+0.12", "-3", "0".
func signedDiff(before, after string) string {
	b, ok1 := new(big.Rat).SetString(before)
	a, ok2 := new(big.Rat).SetString(after)
	if !ok1 || !ok2 {
		return "?"
	}
	d := new(big.Rat).Sub(a, b)
	s := strings.TrimRight(d.FloatString(12), "0")
	s = strings.TrimSuffix(s, ".")
	if d.Sign() > 0 {
		s = "+" + s
	}
	return s
}
