package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/rules"
	"github.com/tokentail/tokentail/tailer"
)

// DaemonOptions configure the live daemon.
type DaemonOptions struct {
	Config  *config.Config
	Writers *Writers
	Prices  *parse.PriceTable
	Logger  *slog.Logger
	Metrics *Metrics
	// Listener serves /healthz, /readyz and /metrics; nil serves nothing.
	Listener net.Listener
	// PollInterval is the follower's fallback scan period; default 2s.
	// Change events (fsnotify) drive most reading, but some appends are only
	// seen at the next poll (measured: p99 append-to-row 52 ms at 1s and 2s,
	// 265 ms at 5s), and with hundreds of idle files every poll costs a stat
	// per file (500 idle files: 1.0% of a core at 1s, 0.5% at 2s).
	PollInterval time.Duration
	// ReadyEvery is how often writers are pinged for /readyz; default 5s.
	ReadyEvery time.Duration
	// Rules, when set, are evaluated on the records the first writer stores.
	Rules *rules.File
	// Reload asks for the rules file to be read again (SIGHUP).
	Reload <-chan struct{}
	Now    func() time.Time
}

// Daemon tails every source for every writer until its context ends.
type Daemon struct {
	opts     DaemonOptions
	metrics  *Metrics
	now      func() time.Time
	stopping chan struct{} // closed when shutdown begins
	readers  []*sourceReader

	statsMu sync.Mutex
	stats   map[string]*tailer.Stats // per writer
}

// NewDaemon checks the options and prepares the lanes.
func NewDaemon(o DaemonOptions) (*Daemon, error) {
	if len(o.Config.Sources) == 0 {
		return nil, errNoSources
	}
	if len(o.Writers.List()) == 0 {
		return nil, errors.New("no writer configured: add a postgres or influxdb section")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadyEvery <= 0 {
		o.ReadyEvery = 5 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	return &Daemon{opts: o, metrics: o.Metrics, now: o.Now, stopping: make(chan struct{}), stats: map[string]*tailer.Stats{}}, nil
}

// Metrics are the daemon's metrics.
func (d *Daemon) Metrics() *Metrics { return d.metrics }

func (d *Daemon) followStats(writer string) *tailer.Stats {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	s := d.stats[writer]
	if s == nil {
		s = &tailer.Stats{}
		d.stats[writer] = s
	}
	return s
}

func (d *Daemon) batchSize(w Writer) int {
	c := d.opts.Config
	switch w.Name() {
	case "postgres":
		if c.Postgres != nil && c.Postgres.BatchSize > 0 {
			return c.Postgres.BatchSize
		}
	case "influxdb":
		if c.InfluxDB != nil && c.InfluxDB.BatchSize > 0 {
			return c.InfluxDB.BatchSize
		}
	}
	return 5000
}

func (d *Daemon) batchTimeout(w Writer) time.Duration {
	c := d.opts.Config
	switch w.Name() {
	case "postgres":
		if c.Postgres != nil && c.Postgres.BatchTimeout > 0 {
			return c.Postgres.BatchTimeout.D()
		}
	case "influxdb":
		if c.InfluxDB != nil && c.InfluxDB.BatchTimeout > 0 {
			return c.InfluxDB.BatchTimeout.D()
		}
	}
	return 200 * time.Millisecond
}

// Run follows and writes until ctx ends, then shuts down: reading stops,
// batches already read get shutdown_timeout to land, positions are saved.
func (d *Daemon) Run(ctx context.Context) error {
	cfg := d.opts.Config
	log := d.opts.Logger
	shutdown := cfg.ShutdownTimeout.D()
	if shutdown <= 0 {
		shutdown = 10 * time.Second
	}

	// Writers get their own context: on shutdown reading stops first, then
	// what was read has shutdown_timeout to be written.
	writeCtx, cancelWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrites()
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	stopAfter := context.AfterFunc(ctx, func() {
		close(d.stopping)
		t := time.NewTimer(shutdown)
		defer t.Stop()
		select {
		case <-t.C:
			log.Warn("shutdown_timeout reached: abandoning writes in flight (they are read again at next start)", "timeout", shutdown)
			cancelWrites()
		case <-writeCtx.Done():
		}
	})
	defer stopAfter()

	// Background services: HTTP, readiness, retention.
	var bg sync.WaitGroup
	bgCtx, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { stopBG(); bg.Wait() }()
	var pingers []Pinger
	var names []string
	for _, w := range d.opts.Writers.List() {
		if p, ok := w.(Pinger); ok {
			pingers = append(pingers, p)
			names = append(names, w.Name())
		}
	}
	ready := NewReadiness(names)
	bg.Add(1)
	go func() { defer bg.Done(); ready.Watch(bgCtx, pingers, d.opts.ReadyEvery, d.metrics, log) }()
	if d.opts.Listener != nil {
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := Serve(bgCtx, d.opts.Listener, ready, d.metrics, log); err != nil {
				log.Error("http server stopped", "err", err)
			}
		}()
	}
	if pg := d.opts.Writers.Postgres; pg != nil && cfg.Postgres.Retention > 0 {
		bg.Add(1)
		go func() { defer bg.Done(); d.retention(bgCtx, pg, log) }()
	}
	bg.Add(1)
	go func() { defer bg.Done(); d.gauges(bgCtx) }()
	var alerts *Alerts
	if d.opts.Rules != nil {
		alerts = NewAlerts(d.opts.Rules, log.With("component", "rules"), d.metrics, d.now, d.opts.Writers.Postgres)
		bg.Add(1)
		go func() { defer bg.Done(); alerts.Run(bgCtx, d.opts.Reload) }()
	}

	// One lane per writer, one reader per source in each lane.
	var lanes []*lane
	errs := make(chan error, 64)
	var readersWG sync.WaitGroup
	for li, w := range d.opts.Writers.List() {
		l := &lane{writer: w}
		// Without PostgreSQL, rules see each record once: as the first
		// writer stores it. With it, they read the database.
		observe := alerts != nil && alerts.Local() && li == 0
		l.fan = NewFanout(writeCtx, []Writer{w}, 2, log, stopReading, func(_ int, b *Batch) {
			if observe {
				alerts.Observe(b.Records)
			}
			if b.owner != nil {
				b.owner.written(b)
			}
		})
		lanes = append(lanes, l)
		for i := range cfg.Sources {
			src := &cfg.Sources[i]
			p, err := parse.NewParser(ParserConfig(src, d.opts.Prices))
			if err != nil {
				return fmt.Errorf("source %s: %w", src.Name, err)
			}
			r := &sourceReader{
				d: d, lane: l, src: src, parser: p,
				posPath: positionsPath(cfg.StateDir, w.Name(), src.Name),
				log:     log.With("component", "tailer", "writer", w.Name(), "source", src.Name),
			}
			d.readers = append(d.readers, r)
			pool := NewBatchPool(3, d.batchSize(w))
			readersWG.Add(1)
			go func() {
				defer readersWG.Done()
				if err := r.run(readCtx, pool); err != nil && !errors.Is(err, context.Canceled) {
					errs <- fmt.Errorf("%s/%s: %w", w.Name(), src.Name, err)
					stopReading()
				}
			}()
		}
	}
	log.Info("tokentail running", "sources", len(cfg.Sources), "writers", names)
	readersWG.Wait()
	var firstErr error
	for _, l := range lanes {
		if err := l.fan.Close(); err != nil && !errors.Is(err, context.Canceled) && firstErr == nil {
			firstErr = err
		}
	}
	close(errs)
	for err := range errs {
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		log.Info("tokentail stopped; positions saved")
	}
	return firstErr
}

// retention drops expired partitions hourly; the writer makes sure one
// daemon of a fleet does it at a time.
func (d *Daemon) retention(ctx context.Context, pg interface {
	EnforceRetention(context.Context, time.Time) ([]string, error)
}, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		dropped, err := pg.EnforceRetention(ctx, d.now())
		if err != nil && ctx.Err() == nil {
			log.Warn("retention failed; will retry in an hour", "err", err)
		} else if len(dropped) > 0 {
			log.Info("retention dropped partitions", "partitions", dropped)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// gauges refreshes the bytes-behind and loss metrics every ten seconds
// (often enough for a scrape, cheap with hundreds of files).
func (d *Daemon) gauges(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	last := map[string][3]int64{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.metrics.BytesBehind.Reset()
		for _, r := range d.readers {
			for _, f := range r.files() {
				d.metrics.BytesBehind.WithLabelValues(r.lane.writer.Name(), f.Path).Set(float64(f.Behind()))
			}
		}
		d.statsMu.Lock()
		for w, s := range d.stats {
			now := [3]int64{s.LinesCut.Load(), s.BytesSkipped.Load(), s.FilesMissed.Load()}
			prev := last[w]
			d.metrics.LinesCut.WithLabelValues(w).Add(float64(now[0] - prev[0]))
			d.metrics.BytesSkipped.WithLabelValues(w).Add(float64(now[1] - prev[1]))
			d.metrics.FilesMissed.WithLabelValues(w).Add(float64(now[2] - prev[2]))
			last[w] = now
		}
		d.statsMu.Unlock()
	}
}
