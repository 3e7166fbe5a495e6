package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// runner holds what the parts of one run share.
type runner struct {
	cfg    Config
	dir    string
	bin    string // tokentail
	loggen string // tokentail-loggen
	srv    *Servers
	log    *slog.Logger
	// rawInfluxRate is the points/s of the raw InfluxDB load (backfill
	// part), 0 when it did not run: no client can go faster on this machine.
	rawInfluxRate float64
}

// Run measures the parts cfg selects and returns the report. A part that
// fails is listed in Report.Errors and the others still run; the returned
// error is only for a run that could not start, or was interrupted. Whatever
// happens, the servers are stopped and the work directory removed (unless
// cfg.Keep) before Run returns.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (rep *Report, err error) {
	started := time.Now()
	rep = &Report{Machine: ReadMachine(started), Settings: settings(&cfg)}
	rep.Machine.Commit = gitDescribe(cfg.Repo)
	defer func() {
		rep.Elapsed = time.Since(started)
		rep.Machine.LoadEnd = LoadAverage()
	}()

	r := &runner{cfg: cfg, log: log}
	if cfg.Dir != "" {
		r.dir, err = filepath.Abs(cfg.Dir)
		if err == nil {
			err = os.MkdirAll(r.dir, 0o755)
		}
	} else {
		r.dir, err = os.MkdirTemp("", "tokentail-bench-")
	}
	if err != nil {
		return rep, fmt.Errorf("work directory: %w", err)
	}
	// PostgreSQL runs as an unprivileged user when we are root: it must be
	// able to reach its cluster under the work directory (MkdirTemp makes 0700).
	if err := os.Chmod(r.dir, 0o755); err != nil {
		return rep, fmt.Errorf("work directory: %w", err)
	}
	defer func() {
		if cfg.Keep {
			log.Info("work directory kept", "dir", r.dir)
			return
		}
		if rerr := os.RemoveAll(r.dir); rerr != nil {
			log.Warn("remove work directory", "dir", r.dir, "err", rerr)
		}
	}()
	log.Info("work directory", "dir", r.dir)

	if err := r.build(ctx); err != nil {
		return rep, err
	}

	if cfg.Parts[PartParse] {
		r.part(ctx, rep, PartParse, r.parse)
	}
	if !needsServers(cfg.Parts) {
		return rep, ctx.Err()
	}
	r.srv = NewServers(&cfg, filepath.Join(r.dir, "testenv"), log)
	// Stopped before the work directory is removed (defers run last-in first-out).
	defer func() {
		if serr := r.srv.Stop(); serr != nil {
			log.Warn("stop servers", "err", serr)
		}
	}()
	log.Info("starting PostgreSQL and InfluxDB", "pg_port", cfg.PGPort, "influx_port", cfg.InfluxPort)
	if err := r.srv.Start(ctx); err != nil {
		return rep, fmt.Errorf("start servers: %w", err)
	}
	steps := []struct {
		name string
		fn   func(context.Context) (Section, error)
	}{
		{PartBackfill, r.backfill},
		{PartLatency, r.latency},
		{PartIdle, r.idle},
		{PartThroughput, r.throughput},
		{PartOutagePG, func(ctx context.Context) (Section, error) { return r.outage(ctx, "PostgreSQL") }},
		{PartOutageInflux, func(ctx context.Context) (Section, error) { return r.outage(ctx, "InfluxDB") }},
	}
	for _, s := range steps {
		if cfg.Parts[s.name] && ctx.Err() == nil {
			r.part(ctx, rep, s.name, s.fn)
		}
	}
	return rep, ctx.Err()
}

// part runs one part, adding its section (also the rows of a part that
// failed half-way) or its error to the report.
func (r *runner) part(ctx context.Context, rep *Report, name string, fn func(context.Context) (Section, error)) {
	r.log.Info("part", "name", name)
	start := time.Now()
	s, err := fn(ctx)
	if s.Title != "" {
		rep.Sections = append(rep.Sections, s)
	}
	if err != nil {
		r.log.Error("part failed", "name", name, "err", err)
		rep.Errors = append(rep.Errors, name+": "+err.Error())
		return
	}
	r.log.Info("part done", "name", name, "took", time.Since(start).Round(time.Millisecond))
}

func needsServers(parts map[string]bool) bool {
	for p := range parts {
		if p != PartParse {
			return true
		}
	}
	return false
}

// build compiles the binaries the run measures, as `make build` does.
func (r *runner) build(ctx context.Context) error {
	bindir := filepath.Join(r.dir, "bin")
	r.bin = filepath.Join(bindir, "tokentail")
	r.loggen = filepath.Join(bindir, "tokentail-loggen")
	for _, b := range []struct{ out, pkg string }{{r.bin, "./cmd/tokentail"}, {r.loggen, "./cmd/tokentail-loggen"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", b.out, b.pkg)
		cmd.Dir = r.cfg.Repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w: %s", b.pkg, err, lastLines(string(out), 10))
		}
	}
	return nil
}

func gitDescribe(repo string) string {
	cmd := exec.Command("git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func settings(c *Config) string {
	var parts []string
	for _, p := range Parts() {
		if c.Parts[p] {
			parts = append(parts, p)
		}
	}
	return fmt.Sprintf("parts %s; backfill %d records, noise %.2f, %d round(s), batch %d; batch_timeout %s; "+
		"latency %d files × %d/s for %s; idle %d files for %s; throughput %d/s for %s; outage %s at %d/s, %s before and after",
		strings.Join(parts, ","), c.Records, c.Noise, c.BackfillRounds, c.BatchSize, c.BatchTimeout,
		c.LiveFiles, c.LiveRate, c.LiveDuration, c.IdleFiles, c.IdleDuration, c.ThroughputRate, c.ThroughputDuration,
		c.OutageDuration, c.OutageRate, c.OutageCalm)
}

// tokentailConfig is the YAML of a bench run: one source over globs, both
// databases (database db on each), no rules.
func (r *runner) tokentailConfig(path string, globs []string, db, stateDir, httpAddr string, batchTimeout time.Duration) error {
	var b strings.Builder
	fmt.Fprintf(&b, "sources:\n  - name: bench\n    paths: [")
	for i, g := range globs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", g)
	}
	b.WriteString("]\n    start_at: beginning\n")
	fmt.Fprintf(&b, "state_dir: %q\n", stateDir)
	b.WriteString("log: {level: info, format: json}\n")
	fmt.Fprintf(&b, "pricing: {file: %q}\n", filepath.Join(r.cfg.Repo, "pricing.yaml"))
	timeout := ""
	if batchTimeout > 0 {
		timeout = ", batch_timeout: " + batchTimeout.String()
	}
	fmt.Fprintf(&b, "postgres: {dsn: %q, batch_size: %d%s}\n", r.srv.DSN(db), r.cfg.BatchSize, timeout)
	fmt.Fprintf(&b, "influxdb: {url: %q, bucket: %q, batch_size: %d%s}\n", r.srv.InfluxURL(), db+"/autogen", r.cfg.BatchSize, timeout)
	if httpAddr != "" {
		fmt.Fprintf(&b, "http: {listen: %q}\n", httpAddr)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// waitFor polls cond every 200 ms until it holds, limit passes (an error) or ctx ends.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("%s: not after %s: %w", what, limit, last)
			}
			return fmt.Errorf("%s: not after %s", what, limit)
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
