package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// daemonRun is one `tokentail run` against fresh databases, following the
// files an Appender writes.
type daemonRun struct {
	r   *runner
	db  string
	dir string
	app *Appender
	d   *Daemon
}

// startDaemonRun creates n log files (one record each when seed is true),
// fresh databases named after the part, and starts the daemon on them.
func (r *runner) startDaemonRun(ctx context.Context, part string, files, rate int, seed bool) (*daemonRun, error) {
	dr := &daemonRun{r: r, db: "run_" + part, dir: filepath.Join(r.dir, part)}
	logs := filepath.Join(dr.dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, err
	}
	app, err := OpenAppender(logs, "app", files, rate)
	if err != nil {
		return nil, err
	}
	dr.app = app
	if seed {
		if err := app.WriteEach(); err != nil {
			app.Close()
			return nil, err
		}
	}
	if err := r.srv.FreshDatabases(ctx, dr.db); err != nil {
		app.Close()
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		app.Close()
		return nil, err
	}
	conf := filepath.Join(dr.dir, "tokentail.yaml")
	if err := r.tokentailConfig(conf, []string{filepath.Join(logs, "*.log")}, dr.db, filepath.Join(dr.dir, "state"), addr, r.cfg.BatchTimeout); err != nil {
		app.Close()
		return nil, err
	}
	d, err := StartDaemon(ctx, r.bin, conf, addr, filepath.Join(dr.dir, "tokentail.log"))
	if err != nil {
		app.Close()
		r.srv.DropDatabases(context.WithoutCancel(ctx), dr.db)
		return nil, err
	}
	dr.d = d
	return dr, nil
}

// close stops the daemon (returning its usage), closes the files and drops
// the databases. Idempotent through Daemon.Stop.
func (dr *daemonRun) close(ctx context.Context) (Usage, error) {
	u, err := dr.d.Stop()
	dr.app.Close()
	if derr := dr.r.srv.DropDatabases(context.WithoutCancel(ctx), dr.db); derr != nil {
		dr.r.log.Warn("drop databases", "db", dr.db, "err", derr)
	}
	return u, err
}

func (dr *daemonRun) rows(ctx context.Context) (int64, error) {
	return dr.r.srv.CountRows(ctx, dr.db, "ai_usage_events")
}

// waitRows waits until the table holds want rows and returns how long that took.
func (dr *daemonRun) waitRows(ctx context.Context, want int64, limit time.Duration) (time.Duration, int64, error) {
	start := time.Now()
	var got int64
	err := waitFor(ctx, limit, fmt.Sprintf("%d rows in ai_usage_events", want), func() (bool, error) {
		n, err := dr.rows(ctx)
		got = n
		return err == nil && n >= want, err
	})
	return time.Since(start), got, err
}

// latency measures ingested_at − occurred_at under a steady live load.
func (r *runner) latency(ctx context.Context) (s Section, err error) {
	c := &r.cfg
	s.Title = fmt.Sprintf("Live latency: tokentail run, %d files, %d records/s for %s", c.LiveFiles, c.LiveRate, c.LiveDuration)
	dr, err := r.startDaemonRun(ctx, PartLatency, c.LiveFiles, c.LiveRate, false)
	if err != nil {
		return s, err
	}
	defer func() {
		if _, cerr := dr.close(ctx); err == nil {
			err = cerr
		}
	}()
	written, err := dr.app.Run(ctx, c.LiveDuration)
	if err != nil {
		return s, err
	}
	drain, got, err := dr.waitRows(ctx, written, time.Minute)
	if err != nil {
		return s, err
	}
	var n int64
	var p50, p99, pmax float64
	if err := r.srv.PGQueryRow(ctx, dr.db, `SELECT count(*),
		percentile_cont(0.5) WITHIN GROUP (ORDER BY lat), percentile_cont(0.99) WITHIN GROUP (ORDER BY lat), max(lat)
		FROM (SELECT extract(epoch FROM ingested_at - occurred_at) * 1000 AS lat FROM ai_usage_events) l`,
		&n, &p50, &p99, &pmax); err != nil {
		return s, err
	}
	s.Rows = append(s.Rows,
		Row{What: "latency p50 (ingested_at − occurred_at)", Figure: fmt.Sprintf("%.1f ms", p50)},
		Row{What: "latency p99", Figure: fmt.Sprintf("%.1f ms", p99), Target: "≤ 250 ms", Met: met(p99 <= 250),
			Ratio: fmt.Sprintf("%.2f× the target", p99/250)},
		Row{What: "latency max", Figure: fmt.Sprintf("%.1f ms", pmax)},
		Row{What: "rows / records written", Figure: fmt.Sprintf("%d / %d (last row %s after the writer stopped)", got, written, ms(drain)),
			Target: "all", Met: met(got == written)},
	)
	s.Notes = append(s.Notes, fmt.Sprintf("postgres.batch_timeout and influxdb.batch_timeout: %s, batch_size %d", c.BatchTimeout, c.BatchSize))
	return s, nil
}

// idle measures the daemon's CPU while its files do not change.
func (r *runner) idle(ctx context.Context) (s Section, err error) {
	c := &r.cfg
	s.Title = fmt.Sprintf("Idle: tokentail run following %d unchanging files for %s", c.IdleFiles, c.IdleDuration)
	dr, err := r.startDaemonRun(ctx, PartIdle, c.IdleFiles, 1, true)
	if err != nil {
		return s, err
	}
	defer func() {
		if _, cerr := dr.close(ctx); err == nil {
			err = cerr
		}
	}()
	// Every file read once, its record written: from here on nothing moves.
	if _, _, err := dr.waitRows(ctx, int64(c.IdleFiles), time.Minute); err != nil {
		return s, err
	}
	if err := sleep(ctx, 2*time.Second); err != nil {
		return s, err
	}
	sm := StartSampler(dr.d.Pid(), time.Second)
	serr := sleep(ctx, c.IdleDuration)
	samples := sm.Stop()
	if serr != nil {
		return s, serr
	}
	share, wall := CPUShare(samples, "")
	s.Rows = append(s.Rows,
		Row{What: "CPU, share of one core (/proc/<pid>/stat)", Figure: fmt.Sprintf("%s (%s of CPU in %s)", pct(share), ms(time.Duration(share*float64(wall))), secs(wall)),
			Target: "~0 % (< 1 %)", Met: met(share < 0.01)},
		Row{What: "RSS (max of VmRSS each second)", Figure: mib(MaxRSS(samples, ""))},
	)
	return s, nil
}

// throughput pushes one file at a high rate and sees whether the daemon keeps up.
func (r *runner) throughput(ctx context.Context) (s Section, err error) {
	c := &r.cfg
	s.Title = fmt.Sprintf("Throughput: %d records/s through one file for %s", c.ThroughputRate, c.ThroughputDuration)
	dr, err := r.startDaemonRun(ctx, PartThroughput, 1, c.ThroughputRate, false)
	if err != nil {
		return s, err
	}
	defer func() {
		if _, cerr := dr.close(ctx); err == nil {
			err = cerr
		}
	}()
	sm := StartSampler(dr.d.Pid(), time.Second)
	defer sm.Stop()
	sm.SetPhase("write")
	start := time.Now()
	written, werr := dr.app.Run(ctx, c.ThroughputDuration)
	took := time.Since(start)
	if werr != nil {
		return s, werr
	}
	atEnd, err := dr.rows(ctx)
	if err != nil {
		return s, err
	}
	sm.SetPhase("drain")
	drain, got, err := dr.waitRows(ctx, written, 2*time.Minute)
	if err != nil {
		return s, err
	}
	samples := sm.Stop()
	share, _ := CPUShare(samples, "write")
	var total time.Duration
	if len(samples) > 1 {
		total = samples[len(samples)-1].CPU - samples[0].CPU
	}
	backlog := written - atEnd
	// Kept up: what was behind when the writer stopped is at most one
	// second of input, i.e. the daemon was not falling further behind.
	kept := float64(backlog) <= float64(c.ThroughputRate)
	s.Rows = append(s.Rows,
		Row{What: "records appended", Figure: fmt.Sprintf("%d in %s (%s records/s)", written, secs(took), si(float64(written)/took.Seconds()))},
		Row{What: "CPU while appending, share of one core", Figure: pct(share)},
		Row{What: "CPU per record (appending + catching up)", Figure: fmt.Sprintf("%.2f µs (%s)", float64(total.Microseconds())/float64(written), secs(total))},
		Row{What: "RSS (max of VmRSS each second)", Figure: mib(MaxRSS(samples, ""))},
		Row{What: "rows when the writer stopped", Figure: fmt.Sprintf("%d (%d behind)", atEnd, backlog),
			Target: "≤ 1 s of input behind", Met: met(kept), Ratio: fmt.Sprintf("%.3f of written", float64(atEnd)/float64(written))},
		Row{What: "all rows stored", Figure: fmt.Sprintf("%d / %d, %s after the writer stopped", got, written, ms(drain)),
			Target: "all", Met: met(got == written)},
	)
	if r.rawInfluxRate > 0 && r.rawInfluxRate < float64(c.ThroughputRate) {
		s.Notes = append(s.Notes, fmt.Sprintf("the raw InfluxDB load of the backfill part reached %s points/s on this machine, below the %d records/s asked here: InfluxDB, not tokentail, sets the ceiling", si(r.rawInfluxRate), c.ThroughputRate))
	}
	return s, nil
}

// outage stops one server for c.OutageDuration under a steady load and
// checks that every record arrives after its restart.
func (r *runner) outage(ctx context.Context, server string) (s Section, err error) {
	c := &r.cfg
	part, stop, start := PartOutagePG, r.srv.StopPG, r.srv.StartPG
	if server == "InfluxDB" {
		part, stop, start = PartOutageInflux, r.srv.StopInflux, r.srv.StartInflux
	}
	s.Title = fmt.Sprintf("%s down for %s while %d records/s are written", server, c.OutageDuration, c.OutageRate)
	dr, err := r.startDaemonRun(ctx, part, 1, c.OutageRate, false)
	if err != nil {
		return s, err
	}
	// The server must be up again whatever happens, for the parts after.
	restarted := true
	defer func() {
		if !restarted {
			if serr := start(context.WithoutCancel(ctx)); serr != nil {
				r.log.Error("restart after outage", "server", server, "err", serr)
			}
		}
		if _, cerr := dr.close(ctx); err == nil {
			err = cerr
		}
	}()
	sm := StartSampler(dr.d.Pid(), time.Second)
	defer sm.Stop()
	sm.SetPhase("before")

	wctx, stopWriter := context.WithCancel(ctx)
	defer stopWriter()
	type result struct {
		n   int64
		err error
	}
	wres := make(chan result, 1)
	// Owned here: stopWriter ends it and we wait on wres before returning.
	go func() {
		n, err := dr.app.Run(wctx, 24*time.Hour)
		wres <- result{n, err}
	}()
	waitWriter := func() result { stopWriter(); return <-wres }

	var downAt time.Time
	var downFor time.Duration
	steps := func() error {
		if err := sleep(ctx, c.OutageCalm); err != nil {
			return err
		}
		sm.SetPhase("during")
		r.log.Info("outage: stopping", "server", server)
		restarted = false
		downAt = time.Now()
		if err := stop(ctx); err != nil {
			return err
		}
		if err := sleep(ctx, c.OutageDuration); err != nil {
			return err
		}
		r.log.Info("outage: starting", "server", server)
		if err := start(ctx); err != nil {
			return err
		}
		restarted = true
		downFor = time.Since(downAt)
		sm.SetPhase("after")
		return sleep(ctx, c.OutageCalm)
	}
	serr := steps()
	w := waitWriter()
	if err := errors.Join(serr, w.err); err != nil {
		return s, err
	}
	stopped := time.Now()
	if _, _, err := dr.waitRows(ctx, w.n, 5*time.Minute); err != nil {
		return s, err
	}
	var points int64
	err = waitFor(ctx, 5*time.Minute, fmt.Sprintf("%d points in InfluxDB", w.n), func() (bool, error) {
		n, err := r.srv.InfluxCount(ctx, dr.db)
		points = n
		return err == nil && n >= w.n, err
	})
	if err != nil {
		return s, err
	}
	caughtUp := time.Since(stopped)
	// Exactly: not one more either (a duplicate would be a second row).
	got, err := dr.rows(ctx)
	if err != nil {
		return s, err
	}
	samples := sm.Stop()
	before, during, after := MaxRSS(samples, "before"), MaxRSS(samples, "during"), MaxRSS(samples, "after")
	s.Rows = append(s.Rows,
		Row{What: "max RSS before / during / after", Figure: fmt.Sprintf("%s / %s / %s", mib(before), mib(during), mib(after)),
			Target: "< 256 MiB", Met: met(max(before, during, after) < 256*1024),
			Ratio: ratio(float64(during), float64(before)) + " during vs before"},
		Row{What: "records written / rows / points", Figure: fmt.Sprintf("%d / %d / %d", w.n, got, points),
			Target: "exactly equal", Met: met(got == w.n && points == w.n)},
		Row{What: "server down (stop begun → answering again)", Figure: secs(downFor)},
		Row{What: "all stored, after the writer stopped", Figure: secs(caughtUp)},
	)
	return s, nil
}
