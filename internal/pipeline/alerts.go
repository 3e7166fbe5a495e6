package pipeline

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/rules"
	"github.com/tokentail/tokentail/rules/notify"
)

// Alerts evaluates the rules on the records the first writer has durably
// stored, on their event time, and hands transitions to the notifiers. A
// slow notifier never slows ingestion: the dispatcher queues and drops (and
// counts) rather than block.
type Alerts struct {
	path    string
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	mu     sync.Mutex // guards engine and disp: Observe runs in a writer goroutine, Run in its own
	engine *rules.Engine
	disp   *notify.Dispatcher
}

// NewAlerts starts evaluating f's rules.
func NewAlerts(f *rules.File, log *slog.Logger, m *Metrics, now func() time.Time) *Alerts {
	a := &Alerts{path: f.Path, log: log, metrics: m, now: now}
	a.engine = rules.New(f, log)
	a.disp = notify.NewDispatcher(f, notify.Options{Logger: log})
	m.RulesReloadOK.Set(1)
	return a
}

// Observe feeds records to the rules. It runs in the writer goroutine, before
// the batch (whose arena the records' strings live in) is released.
func (a *Alerts) Observe(recs []parse.Record) {
	a.mu.Lock()
	for i := range recs {
		a.engine.Observe(&recs[i])
	}
	a.mu.Unlock()
}

// Reload reads the rules file again. A broken file keeps the old rules
// running; the error (with file:line) is logged and the metric set to 0.
// Alert state starts afresh for the new rules.
func (a *Alerts) Reload() {
	f, err := rules.Load(a.path)
	if err != nil {
		a.metrics.RulesReloadOK.Set(0)
		a.log.Error("rules file not reloaded: the previous rules keep running", "file", a.path, "err", err)
		return
	}
	a.mu.Lock()
	old := a.disp
	a.engine = rules.New(f, a.log)
	a.disp = notify.NewDispatcher(f, notify.Options{Logger: a.log})
	a.mu.Unlock()
	old.Close()
	a.metrics.RulesReloadOK.Set(1)
	a.metrics.AlertsFiring.Reset()
	a.log.Info("rules reloaded", "file", a.path, "rules", len(f.Rules))
}

// Run evaluates once a second on the clock, so alerts also resolve (and
// `below` rules fire) when records stop coming, and reloads the rules file
// when it changes or on reload. It returns when ctx ends, after giving
// queued notifications a few seconds.
func (a *Alerts) Run(ctx context.Context, reload <-chan struct{}) {
	var events <-chan fsnotify.Event
	if w, err := fsnotify.NewWatcher(); err == nil {
		defer w.Close()
		// The directory, not the file: editors replace files by rename.
		if err := w.Add(filepath.Dir(a.path)); err == nil {
			events = w.Events
		}
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			a.mu.Lock()
			disp := a.disp
			a.mu.Unlock()
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := disp.Drain(dctx); err != nil {
				a.log.Warn("notifications still queued at shutdown were not sent", "err", err)
			}
			cancel()
			disp.Close()
			return
		case <-reload:
			a.Reload()
		case ev := <-events:
			if filepath.Clean(ev.Name) == filepath.Clean(a.path) && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				a.Reload()
			}
		case <-t.C:
			a.tick()
		}
	}
}

func (a *Alerts) tick() {
	now := a.now()
	a.mu.Lock()
	ts := a.engine.Advance(now)
	disp := a.disp
	a.mu.Unlock()
	if len(ts) > 0 {
		disp.Notify(ts, now)
	}
	disp.Tick(now)
	for i := range ts {
		tr := &ts[i]
		g := a.metrics.AlertsFiring.WithLabelValues(tr.Rule, tr.Severity.String())
		if tr.Firing {
			g.Inc()
			a.log.Warn("alert firing", "alertname", tr.Rule, "severity", tr.Severity.String(), "value", tr.Value, "labels", labelText(tr.Labels))
		} else {
			g.Dec()
			a.log.Info("alert resolved", "alertname", tr.Rule, "severity", tr.Severity.String(), "labels", labelText(tr.Labels))
		}
	}
}

// labelText formats labels as k=v,k=v for logs.
func labelText(ls rules.Labels) string {
	var b []byte
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, l.Name...)
		b = append(b, '=')
		b = append(b, l.Value...)
	}
	return string(b)
}
