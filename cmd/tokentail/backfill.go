package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/internal/pipeline"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/rules"
	"github.com/tokentail/tokentail/rules/notify"
	"github.com/tokentail/tokentail/writers/postgres"
)

func (m *Main) runBackfill(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tokentail backfill", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	configPath := configFlag(fs)
	source := fs.String("source", "", "read every file with this source's settings (default: the source whose paths match, else the first)")
	batch := fs.Int("batch-size", 20000, "records per batch: larger than the daemon's batch_size, which is tuned for latency; a backfill wants throughput")
	workers := fs.Int("workers", 0, "files parsed at once (default: number of CPUs)")
	progress := fs.Bool("progress", isTerminal(m.Stderr), "show progress on stderr (default: when stderr is a terminal)")
	alerts := fs.Bool("alerts", false, "also evaluate the rules (rules_file) on the history and send what they fire to the notifiers")
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, "Usage: tokentail backfill [--config FILE] PATH_OR_GLOB...\n\nReads old log files (plain or .gz) once, writes every record to the configured\ndatabases and exits. Idempotent: running it again adds nothing already stored.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() == 0 {
		return usagef("backfill: give at least one PATH or glob")
	}
	cfg, err := m.loadConfig(*configPath, true)
	if err != nil {
		return err
	}
	if cfg.Postgres == nil && cfg.InfluxDB == nil {
		return usagef("%s: backfill needs somewhere to write: configure postgres or influxdb", cfg.File)
	}
	if *source != "" && !hasSource(cfg.Sources, *source) {
		return usagef("--source %q: no such source in %s", *source, cfg.File)
	}
	files, err := expandPaths(fs.Args())
	if err != nil {
		return err
	}
	var total int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("backfill: %w", err)
		}
		if st.IsDir() {
			return usagef("backfill: %s is a directory: give files or a glob", f)
		}
		total += st.Size()
	}
	var rulesFile *rules.File
	if *alerts {
		if cfg.RulesFile == "" {
			return usagef("%s: --alerts needs a rules_file in the config", cfg.File)
		}
		if rulesFile, err = rules.Load(cfg.RulesFile); err != nil {
			return err
		}
	}
	log := newLogger(m.Stderr, cfg.Log)
	prices, err := pipeline.PriceTable(cfg)
	if err != nil {
		return err
	}
	ws, err := pipeline.OpenWriters(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer ws.Close()
	if *batch <= 0 {
		return usagef("--batch-size must be positive")
	}

	prog := &pipeline.Progress{BytesTotal: total}
	stopProgress := func() {}
	if *progress {
		stopProgress = showProgress(m.Stderr, prog)
	}
	sum, err := pipeline.Backfill(ctx, pipeline.BackfillOptions{
		Config: cfg, Files: files, Source: *source, Writers: ws.List(), Prices: prices,
		BatchSize: *batch, Workers: *workers, Grace: cfg.ShutdownTimeout.D(), Logger: log,
	}, prog)
	stopProgress()
	fmt.Fprintln(m.Stdout, summaryLine(&sum))
	if err != nil {
		if sum.Interrupted && errors.Is(err, context.Canceled) {
			return fmt.Errorf("backfill interrupted: run the same command again to finish (it adds nothing twice)")
		}
		return fmt.Errorf("backfill: %w", err)
	}
	if rulesFile != nil {
		return m.backfillAlerts(ctx, cfg, *source, prices, files, rulesFile, ws.Postgres, log)
	}
	return nil
}

func queued(d *notify.Dispatcher) int {
	n := 0
	for _, s := range d.Stats() {
		n += s.Queued
	}
	return n
}

// backfillAlerts replays the history through the rules, in event-time
// order exactly as `rules test` does, and sends the transitions to the
// notifiers.
func (m *Main) backfillAlerts(ctx context.Context, cfg *config.Config, source string, prices *parse.PriceTable,
	files []string, f *rules.File, pg *postgres.Writer, log *slog.Logger) error {
	disp := notify.NewDispatcher(f, notify.Options{Logger: log.With("component", "notify")})
	defer disp.Close()
	eng := rules.New(f, log.With("component", "rules"))
	var firing, resolved, known int
	// notify hands transitions to the notifiers, waiting for their queues
	// rather than dropping: history can fire faster than receivers take
	// it (Notify never blocks).
	notify := func(ts []rules.Transition) error {
		for i := range ts {
			disp.Notify(ts[i:i+1], time.Now())
			for queued(disp) > 100 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
		return nil
	}
	// With PostgreSQL, the history's transitions are stored in ai_alerts
	// too, a batch at a time, and only those not stored before are
	// notified: a second run over the same history adds and announces
	// nothing. A batch is stored only once its notifications are all
	// delivered, so a run whose receiver failed sends them again when run
	// again (a receiver may then get some twice; none is lost).
	var store []postgres.Alert
	var pending []rules.Transition
	flush := func() error {
		if len(store) == 0 {
			return nil
		}
		isKnown, err := pg.KnownAlerts(ctx, store)
		if err != nil {
			return err
		}
		var fresh []rules.Transition
		for i, k := range isKnown {
			if k {
				known++
			} else {
				fresh = append(fresh, pending[i])
			}
		}
		lost := undelivered(disp)
		if err := notify(fresh); err != nil {
			return err
		}
		if err := disp.Drain(ctx); err != nil {
			return err
		}
		if n := undelivered(disp) - lost; n > 0 {
			return fmt.Errorf("%d notifications could not be delivered (see the log); their transitions are not stored in ai_alerts, so running the same command again sends them again", n)
		}
		if err := pg.StoreAlerts(ctx, store, "backfill"); err != nil {
			return err
		}
		store, pending = store[:0], pending[:0]
		return nil
	}
	st, _, err := replayFiles(ctx, cfg, source, prices, files, eng, func(t *rules.Transition) error {
		if t.Firing {
			firing++
		} else {
			resolved++
		}
		if pg == nil {
			return notify([]rules.Transition{*t})
		}
		store = append(store, pipeline.StoredAlert(t))
		pending = append(pending, *t)
		if len(store) >= 1000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("backfill --alerts: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := disp.Drain(dctx); err != nil {
		log.Warn("some notifications were not delivered in time", "err", err)
	}
	var sent, failed, dropped uint64
	for _, s := range disp.Stats() {
		sent, failed, dropped = sent+uint64(s.Sent), failed+uint64(s.Failed), dropped+uint64(s.Dropped)
	}
	fmt.Fprintf(m.Stdout, "alerts: %d records replayed, %d firing and %d resolved transitions (%d already in ai_alerts, not notified again); notifications %d sent, %d failed, %d dropped\n",
		st.Records, firing, resolved, known, sent, failed, dropped)
	if failed+dropped > 0 {
		return fmt.Errorf("backfill --alerts: %d notifications could not be delivered (see the log)", failed+dropped)
	}
	return nil
}

func hasSource(sources []config.Source, name string) bool {
	for _, s := range sources {
		if s.Name == name {
			return true
		}
	}
	return false
}

// summaryLine is the one line a backfill always prints.
func summaryLine(s *pipeline.Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "backfill: %d files, %s, %d lines, %d records, %d rejects", s.Files, humanBytes(s.Bytes), s.Lines, s.Records, s.RejectTotal())
	if len(s.Rejects) > 0 {
		reasons := make([]string, 0, len(s.Rejects))
		for r, n := range s.Rejects {
			reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
		}
		sort.Strings(reasons)
		fmt.Fprintf(&b, " (%s)", strings.Join(reasons, ", "))
	}
	fmt.Fprintf(&b, ", %d unpriced", s.Unpriced)
	for _, w := range s.Writers {
		unit := "rows"
		if w.Name == "influxdb" {
			unit = "points"
		}
		fmt.Fprintf(&b, "; %s: %d %s written, %d already there, %d refused", w.Name, w.Written, unit, w.Duplicates, w.Refused)
		if w.Name == "postgres" {
			fmt.Fprintf(&b, ", %d rejects stored", w.Rejects)
		}
	}
	secs := s.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(s.Records) / secs
	}
	fmt.Fprintf(&b, "; %.1fs, %.0f records/s", secs, rate)
	if s.Interrupted {
		b.WriteString(" (interrupted)")
	}
	if s.FilesFailed > 0 {
		fmt.Fprintf(&b, "; %d files failed", s.FilesFailed)
	}
	return b.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// showProgress redraws one status line on w every second until stopped.
func showProgress(w io.Writer, p *pipeline.Progress) (stop func()) {
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
			}
			el := time.Since(start).Seconds()
			read, recs := p.BytesRead.Load(), p.Records.Load()
			eta := "?"
			if read > 0 && p.BytesTotal > read {
				eta = (time.Duration(el*float64(p.BytesTotal-read)/float64(read)) * time.Second / time.Second).Round(time.Second).String()
			}
			fmt.Fprintf(w, "\r\033[K%s / %s  %d records  %.0f records/s  ETA %s",
				humanBytes(read), humanBytes(p.BytesTotal), recs, float64(recs)/el, eta)
		}
	}()
	return func() { close(done); <-ended }
}

// undelivered is how many alerts d's notifiers gave up on or dropped.
func undelivered(d *notify.Dispatcher) uint64 {
	var n uint64
	for _, s := range d.Stats() {
		n += s.Failed + s.Dropped
	}
	return n
}
