package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/rules"
	"github.com/tokentail/tokentail/rules/notify"
	"github.com/tokentail/tokentail/writers/postgres"
)

// Alerts evaluates the rules, on event time, and hands transitions to the
// notifiers. A slow notifier never slows ingestion: the dispatcher queues
// and drops (and counts) rather than block.
//
// With PostgreSQL, the rules run on the database, so that a fleet of daemons
// writing to it alerts once, on the fleet's totals: the daemon holding the
// rules lock (a PostgreSQL advisory lock) reads every row any daemon writes,
// in transaction order, evaluates, stores each transition in ai_alerts and
// its state in tokentail_rules_state, and notifies. The others only try the
// lock. A new holder (after a crash, a restart, or on another host) reads
// the state and the history its rules need from the database, so a firing
// alert is not announced again, today's budget is not reset, and the ticks
// the last holder did not evaluate are evaluated.
//
// Without PostgreSQL, the rules run on the records this daemon stores (its
// first writer), and their state lives as long as the process.
type Alerts struct {
	path    string
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	pg      *postgres.Writer // nil: rules run on this daemon's own records
	id      string           // this daemon, in ai_alerts.recorded_by

	mu     sync.Mutex // guards what follows: Observe runs in a writer goroutine, Run in its own
	file   *rules.File
	engine *rules.Engine // nil while another daemon leads
	disp   *notify.Dispatcher

	// Leading (PostgreSQL only).
	lock    *postgres.Lock   // nil: not connected for the lock
	cursor  int64            // rows with a txid below it have been observed
	saved   []byte           // the state as last stored
	savedAt time.Time        // when it was
	unsaved []postgres.Alert // transitions not stored yet (the database failed)
	// held are the transitions of unsaved: they are notified once stored,
	// so that a leader that fails to store them and steps down never
	// announces what its successor (restoring the stored state) announces
	// again.
	held    []rules.Transition
	nextTry time.Time // when to try the lock again
	// marks are clocks not yet known complete, oldest first: each with the
	// next txid at that moment. complete is the latest clock before which
	// every row written is read: the engine never advances past it (but
	// for maxHeldBack), so that a transaction still open cannot bring rows
	// for ticks already evaluated.
	marks    []clockMark
	complete time.Time

	// retiring counts dispatchers still sending what they had queued
	// (retire); stop waits for them.
	retiring sync.WaitGroup
	// The horizon and since when it has not moved: a transaction open for
	// long holds evaluation back, and is named once in the log.
	lastHi     int64
	hiSince    time.Time
	hiReported bool
}

// How often a daemon that does not lead tries the rules lock, and how far
// back a new leader evaluates the ticks its predecessor missed.
const (
	leadEvery   = 2 * time.Second
	maxCatchUp  = 15 * time.Minute
	stateMaxAge = 10 * time.Second
	// maxHeldBack is how far behind the clock an open transaction may hold
	// evaluation: past it, rules are evaluated on the rows that are final
	// (its rows, when it commits, count if their window is still open),
	// rather than alerting on nothing for as long as someone leaves a
	// session idle in a transaction.
	maxHeldBack = 5 * time.Minute
	// drainOnStepDown is how long notifications already queued may take to
	// go out when this daemon stops leading or reloads its notifiers.
	drainOnStepDown = 5 * time.Second
)

// clockMark is a clock and the next txid at that moment.
type clockMark struct {
	clock time.Time
	xmax  int64
}

// NewAlerts starts evaluating f's rules; pg, when set, is where the rules
// get their records and keep their state (see Alerts).
func NewAlerts(f *rules.File, log *slog.Logger, m *Metrics, now func() time.Time, pg *postgres.Writer) *Alerts {
	host, _ := os.Hostname()
	a := &Alerts{path: f.Path, log: log, metrics: m, now: now, pg: pg, file: f,
		id: fmt.Sprintf("%s/%d", host, os.Getpid())}
	if pg == nil {
		a.engine = rules.New(f, log)
		a.disp = notify.NewDispatcher(f, notify.Options{Logger: log})
	}
	m.RulesReloadOK.Set(1)
	return a
}

// Local says whether the rules run on this daemon's own records: then the
// pipeline hands them to Observe.
func (a *Alerts) Local() bool { return a.pg == nil }

// Observe feeds records to the rules (local mode). It runs in the writer
// goroutine, before the batch (whose arena the records' strings live in) is
// released.
func (a *Alerts) Observe(recs []parse.Record) {
	a.mu.Lock()
	if a.engine != nil {
		for i := range recs {
			a.engine.Observe(&recs[i])
		}
	}
	a.mu.Unlock()
}

// Reload reads the rules file again. A broken file keeps the old rules
// running; the error (with file:line) is logged and the metric set to 0.
// Rules whose definition is unchanged keep their data and alert state; new
// and changed ones start from the database's history when there is one, and
// a changed one keeps its alerts when its identity (name, labels, group_by)
// is the same.
func (a *Alerts) Reload(ctx context.Context) {
	f, err := rules.Load(a.path)
	if err != nil {
		a.metrics.RulesReloadOK.Set(0)
		a.log.Error("rules file not reloaded: the previous rules keep running", "file", a.path, "err", err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.file = f
	if a.engine != nil {
		before := a.engine.Firing()
		prevT, prevOK := a.engine.Evaluated()
		e := rules.Continue(f, a.log, a.engine)
		if _, ok := e.Evaluated(); !ok && prevOK {
			// A new evaluation_interval carries no rule over: go on from
			// where the old rules were, with history from there (not the
			// whole table).
			e.StartAt(prevT)
		}
		if fresh := e.Fresh(); len(fresh) > 0 && a.pg != nil {
			t, _ := e.Evaluated()
			n, err := a.pg.ReadEvents(ctx, postgres.EventQuery{Since: f.HistoryStart(t), TxidFrom: math.MinInt64, TxidTo: a.cursor, Before: true, Attributes: f.NeedsAttributes()},
				func(r *parse.Record) error { e.ObserveFresh(r); return nil })
			if err != nil {
				// Start the new rules again from scratch when leading next.
				a.log.Error("history for new rules not read: stepping down", "err", err)
				a.engine = e
				a.stepDown(ctx)
				return
			}
			a.log.Info("history read for new and changed rules", "rules", fresh, "records", n)
		}
		old := a.disp
		a.engine = e
		a.disp = notify.NewDispatcher(f, notify.Options{Logger: a.log})
		a.disp.Remember(e.Firing(), a.now())
		// Alerts of rules deleted or given another identity are resolved,
		// through the notifiers that announced them, once stored: receivers
		// would otherwise keep them open for ever.
		if gone := resolved(before, e.Firing(), prevT); len(gone) > 0 {
			if a.pg == nil {
				a.logResolved(gone)
				old.Notify(gone, a.now())
			} else {
				a.hold(gone)
				a.flush(ctx, old)
			}
		}
		a.retire(ctx, old)
		a.setFiring(e.Firing())
	}
	a.metrics.RulesReloadOK.Set(1)
	a.log.Info("rules reloaded", "file", a.path, "rules", len(f.Rules))
}

// Run evaluates once a second on the clock, so alerts also resolve (and
// `below` rules fire) when records stop coming, and reloads the rules file
// when it changes or on reload. It returns when ctx ends, after giving
// queued notifications a few seconds.
func (a *Alerts) Run(ctx context.Context, reload <-chan struct{}) {
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	if w, err := fsnotify.NewWatcher(); err != nil {
		a.log.Warn("rules file not watched: reload it with SIGHUP", "file", a.path, "err", err)
	} else {
		defer w.Close()
		// The directory, not the file: editors replace files by rename,
		// and a Kubernetes ConfigMap swaps a symlink (..data) beside it.
		if err := w.Add(filepath.Dir(a.path)); err != nil {
			a.log.Warn("rules file not watched: reload it with SIGHUP", "file", a.path, "err", err)
		} else {
			events, watchErrs = w.Events, w.Errors
		}
	}
	// The baseline is what was loaded, not the file as it is now: an edit
	// made since is seen at the first poll (lastStat starts empty).
	a.mu.Lock()
	seen := a.file.Sum
	a.mu.Unlock()
	var lastStat statKey
	t := time.NewTicker(time.Second)
	defer t.Stop()
	a.Tick(ctx)
	for {
		select {
		case <-ctx.Done():
			a.stop(ctx)
			return
		case <-reload:
			seen = fileSum(a.path)
			a.Reload(ctx)
		case err := <-watchErrs:
			// An overflow may have hidden an edit: look at the file.
			a.log.Warn("rules file watch", "file", a.path, "err", err)
			if sum := fileSum(a.path); sum != seen {
				seen = sum
				a.Reload(ctx)
			}
		case <-events:
			// Any change in the directory: reload when the file's content
			// changed (the path itself may not be in the event, as with a
			// ConfigMap's symlink swap).
			if sum := fileSum(a.path); sum != seen {
				seen = sum
				a.Reload(ctx)
			}
		case <-t.C:
			if ctx.Err() != nil {
				// Shutting down (select picks among ready cases at
				// random): a tick now would fail and step down.
				a.stop(ctx)
				return
			}
			a.Tick(ctx)
			// A symlink's target edited in place (its directory is not
			// watched) or a missed event: the file's stat says so.
			if st := fileStat(a.path); st != lastStat {
				lastStat = st
				if sum := fileSum(a.path); sum != seen {
					seen = sum
					a.Reload(ctx)
				}
			}
		}
	}
}

func (a *Alerts) stop(ctx context.Context) {
	a.mu.Lock()
	disp := a.disp
	if a.leading() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		a.flush(sctx, disp)
		cancel()
	}
	if a.lock != nil {
		a.lock.Close(context.WithoutCancel(ctx))
		a.lock = nil
	}
	a.mu.Unlock()
	if disp != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainOnStepDown)
		if err := disp.Drain(dctx); err != nil {
			a.log.Warn("notifications still queued at shutdown were not sent", "err", err)
		}
		cancel()
		disp.Close()
	}
	a.retiring.Wait() // each ends within drainOnStepDown
}

// Tick evaluates the rules up to now (the clock NewAlerts was given), as Run
// does every second: with PostgreSQL, it first takes or checks the rules
// lock and reads the rows written since the last tick.
func (a *Alerts) Tick(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	clock := now
	if a.pg != nil {
		if !a.leading() && !a.lead(ctx, now) {
			return
		}
		var ok bool
		if clock, ok = a.follow(ctx); !ok {
			if a.disp != nil {
				// Repeats (and Alertmanager's re-sends, which keep its
				// alerts from expiring) go on while the database is away.
				a.disp.Tick(now)
			}
			return
		}
	}
	ts := a.engine.Advance(clock)
	if a.pg != nil {
		for i := range ts {
			a.unsaved = append(a.unsaved, StoredAlert(&ts[i]))
		}
		a.held = append(a.held, ts...)
		ts = nil
		if a.save(ctx, len(a.held) > 0) {
			ts, a.held = a.held, nil
		}
	}
	if len(ts) > 0 {
		a.disp.Notify(ts, now)
	}
	a.disp.Tick(now)
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

// lead tries the rules lock and, when it gets it, starts the engine from
// the stored state and the database's history. It says whether this daemon
// leads now.
func (a *Alerts) lead(ctx context.Context, now time.Time) bool {
	if now.Before(a.nextTry) {
		return false
	}
	a.nextTry = now.Add(leadEvery)
	if a.lock == nil {
		l, err := a.pg.NewLock(ctx)
		if err != nil {
			a.log.Warn("rules lock not tried", "err", err)
			return false
		}
		a.lock = l
	}
	held, err := a.lock.Try(ctx)
	if err != nil {
		a.log.Warn("rules lock not tried", "err", err)
		a.lock.Close(ctx)
		a.lock = nil
		return false
	}
	if !held {
		return false
	}
	if err := a.start(ctx, now); err != nil {
		a.log.Error("rules not started: letting another daemon try", "err", err)
		a.stepDown(ctx)
		return false
	}
	a.metrics.RulesLeader.Set(1)
	return true
}

func (a *Alerts) start(ctx context.Context, now time.Time) error {
	f := a.file
	e := rules.New(f, a.log)
	saved, err := a.pg.LoadRules(ctx)
	if err != nil {
		return err
	}
	var st rules.State
	if saved != nil {
		if err := json.Unmarshal(saved, &st); err != nil {
			a.log.Warn("stored rules state unreadable: starting afresh", "err", err)
			st = rules.State{}
		}
	}
	live := now.Add(-f.QueryOffset)
	if st.Tick.IsZero() || live.Sub(st.Tick) > maxCatchUp {
		if !st.Tick.IsZero() {
			a.log.Warn("rules were last evaluated too long ago: evaluation resumes now, the ticks between are not evaluated", "last", st.Tick, "max_catch_up", maxCatchUp)
		}
		e.StartAt(live)
	}
	e.Restore(&st)
	a.lock.Reseed() // what it would ask for, start does now
	// Advisory: a failed look does not keep the fleet without a leader.
	t, _ := e.Evaluated()
	since := f.HistoryStart(t)
	if ahead, err := a.pg.TxidsAhead(ctx, since); err != nil {
		a.log.Warn("could not look for rows restored from another cluster", "err", err)
	} else if ahead {
		a.log.Warn("ai_usage_events holds rows with txids this server has not issued yet (restored from a dump of another cluster?): the rules skip them; run the fix once, then restart the daemons", "fix", postgres.FixTxidsAhead(since))
	}
	hi, xmax, err := a.pg.Snapshot(ctx)
	if err != nil {
		return err
	}
	a.marks = a.marks[:0]
	if hi < xmax {
		// Transactions begun before now are still open: their rows come
		// before the engine may pass now.
		a.marks = append(a.marks[:0], clockMark{now, xmax})
	}
	n, err := a.pg.ReadEvents(ctx, postgres.EventQuery{Since: since, TxidFrom: math.MinInt64, TxidTo: hi, Before: true, Attributes: f.NeedsAttributes()},
		func(r *parse.Record) error { e.Observe(r); return nil })
	if err != nil {
		return err
	}
	a.engine, a.cursor, a.saved, a.savedAt = e, hi, saved, time.Time{}
	a.complete = now
	if len(a.marks) > 0 {
		a.complete = time.Time{} // nothing is known complete yet: the engine waits (maxHeldBack at most)
	}
	a.disp = notify.NewDispatcher(f, notify.Options{Logger: a.log})
	firing := e.Firing()
	a.disp.Remember(firing, now)
	a.setFiring(firing)
	// Alerts stored as firing that the rules no longer fire (a rule
	// edited or removed while no daemon ran it): resolved, stored and
	// notified with the first save.
	open, err := a.pg.OpenAlerts(ctx)
	if err != nil {
		return err
	}
	a.hold(resolved(openTransitions(open), firing, t))
	a.log.Info("this daemon now evaluates the rules for every daemon writing to the database",
		"history_from", f.HistoryStart(t), "records", n, "resumes_after", t, "firing", len(firing))
	return nil
}

// follow reads the rows written since the last call and returns the clock
// the engine may advance to: the time the rows read are complete for. False
// when the database failed: no tick is evaluated on partial data.
func (a *Alerts) follow(ctx context.Context) (time.Time, bool) {
	if err := a.lock.Check(ctx); err != nil {
		if ctx.Err() != nil {
			return time.Time{}, false // shutting down: stop saves and gives the lock up
		}
		a.log.Error("rules lock lost: another daemon may evaluate the rules now", "err", err)
		a.stepDown(ctx)
		return time.Time{}, false
	}
	if a.lock.Reseed() {
		// reprice changed stored costs: what the engine summed is stale.
		// Store what it has, then start again from the stored state and
		// the database's history, as a new leader would.
		a.log.Info("stored costs changed (reprice): the rules read their history again")
		if !a.flush(ctx, a.disp) {
			a.lock.AskReseed() // try again next tick
			return time.Time{}, false
		}
		a.retire(ctx, a.disp)
		a.engine, a.disp = nil, nil
		if err := a.start(ctx, a.now()); err != nil {
			a.log.Error("rules not started again after reprice: letting another daemon try", "err", err)
			a.stepDown(ctx)
			return time.Time{}, false
		}
	}
	clock := a.now()
	hi, xmax, err := a.pg.Snapshot(ctx)
	if err != nil {
		a.log.Warn("rules: new rows not read", "err", err)
		return time.Time{}, false
	}
	a.watchHorizon(ctx, hi, clock)
	if hi > a.cursor {
		t, _ := a.engine.Evaluated()
		_, err := a.pg.ReadEvents(ctx, postgres.EventQuery{Since: a.file.HistoryStart(t), TxidFrom: a.cursor, TxidTo: hi, Attributes: a.file.NeedsAttributes()},
			func(r *parse.Record) error { a.engine.Observe(r); return nil })
		if err != nil {
			a.log.Warn("rules: new rows not read", "err", err)
			return time.Time{}, false
		}
		a.cursor = hi
	}
	return a.completeAt(clock, hi, xmax), true
}

// completeAt records that at clock the next txid was xmax, now that every
// txid below hi is read, and returns the clock the engine may advance to:
// the latest clock whose transactions have all ended, or clock less
// maxHeldBack when a transaction has stayed open longer than that.
func (a *Alerts) completeAt(clock time.Time, hi, xmax int64) time.Time {
	floor := clock.Add(-maxHeldBack)
	if n := len(a.marks); n > 0 && a.marks[n-1].xmax == xmax {
		a.marks[n-1].clock = clock // nothing began since: the later clock says more
	} else {
		a.marks = append(a.marks, clockMark{clock, xmax})
	}
	i := 0
	for ; i < len(a.marks) && (a.marks[i].xmax <= hi || a.marks[i].clock.Before(floor)); i++ {
		if a.marks[i].xmax <= hi && a.marks[i].clock.After(a.complete) {
			a.complete = a.marks[i].clock
		}
	}
	a.marks = a.marks[:copy(a.marks, a.marks[i:])]
	eval := a.complete
	if eval.Before(floor) {
		eval = floor
	}
	a.metrics.RulesBehind.Set(max(0, clock.Sub(eval).Seconds()))
	return eval
}

// heldBackAfter is how long the horizon may stay still, while rows are
// written, before the transaction holding it is named in the log.
const heldBackAfter = time.Minute

// watchHorizon logs, once per horizon, a transaction that has held it for
// heldBackAfter: rows written since are not evaluated until it ends.
func (a *Alerts) watchHorizon(ctx context.Context, hi int64, now time.Time) {
	if hi != a.lastHi {
		a.lastHi, a.hiSince, a.hiReported = hi, now, false
		return
	}
	if a.hiReported || now.Sub(a.hiSince) < heldBackAfter {
		return
	}
	who, err := a.pg.Blocker(ctx, hi)
	if err != nil || who == "" {
		return // no transaction holds it: nothing was written
	}
	a.hiReported = true
	a.log.Warn("a transaction open for long holds back alert evaluation: rows written after it started are evaluated once it ends",
		"transaction", who, "held_for", now.Sub(a.hiSince).Round(time.Second))
}

// save stores the transitions not stored yet and the engine's state, when
// either changed or the stored tick is stateMaxAge old (or force). It says
// whether every transition is stored now.
func (a *Alerts) save(ctx context.Context, force bool) bool {
	if a.engine == nil {
		return false
	}
	st := a.engine.State()
	b, err := json.Marshal(st)
	if err != nil {
		a.log.Error("rules state not encoded", "err", err)
		return len(a.unsaved) == 0
	}
	now := a.now()
	if !force && len(a.unsaved) == 0 && now.Sub(a.savedAt) < stateMaxAge && sameState(a.saved, b) {
		return true
	}
	if a.lock == nil {
		return false
	}
	if err := a.lock.SaveRules(ctx, a.unsaved, st.Tick, b, a.id); err != nil {
		a.log.Warn("alert transitions and rules state not stored: notifications wait for it, retrying next tick", "err", err, "transitions", len(a.unsaved))
		return false
	}
	a.unsaved, a.saved, a.savedAt = a.unsaved[:0], b, now
	return true
}

// sameState compares stored states but for their tick.
func sameState(a, b []byte) bool {
	var x, y rules.State
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	x.Tick, y.Tick = time.Time{}, time.Time{}
	p, _ := json.Marshal(x)
	q, _ := json.Marshal(y)
	return string(p) == string(q)
}

// leading says whether this daemon evaluates the rules for the fleet.
func (a *Alerts) leading() bool { return a.lock != nil && a.lock.Held() && a.engine != nil }

// stepDown stops evaluating: another daemon may hold the lock now.
func (a *Alerts) stepDown(ctx context.Context) {
	if a.lock != nil {
		// Closing the connection frees the lock even if the server never
		// heard from this daemon again.
		a.lock.Close(context.WithoutCancel(ctx))
		a.lock = nil
	}
	a.engine = nil
	// Notifications already queued are of stored transitions: no successor
	// announces them again, so they still go out. Transitions not stored
	// are dropped unannounced: the successor, from the stored state,
	// evaluates and announces them.
	a.retire(ctx, a.disp)
	a.disp = nil
	a.unsaved, a.held = nil, nil
	a.marks, a.complete = a.marks[:0], time.Time{}
	a.metrics.RulesLeader.Set(0)
	a.metrics.RulesBehind.Set(0)
	a.metrics.AlertsFiring.Reset()
}

// retire lets the notifications d has queued go out for drainOnStepDown,
// in the background, then closes d; what is left is counted and logged.
func (a *Alerts) retire(ctx context.Context, d *notify.Dispatcher) {
	if d == nil {
		return
	}
	a.retiring.Add(1)
	go func() {
		defer a.retiring.Done()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainOnStepDown)
		defer cancel()
		_ = d.Drain(dctx) // Close counts and logs what is left
		d.Close()
	}()
}

// statKey is what a file's stat says of its content.
type statKey struct {
	mod  time.Time
	size int64
}

// fileStat stats path, through symlinks (zero when it cannot).
func fileStat(path string) statKey {
	fi, err := os.Stat(path)
	if err != nil {
		return statKey{}
	}
	return statKey{fi.ModTime(), fi.Size()}
}

// fileSum is a hash of the file's content (the zero hash when unreadable).
func fileSum(path string) [sha256.Size]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return [sha256.Size]byte{}
	}
	return sha256.Sum256(b)
}

// resolved returns, as resolved at t, the alerts of before (firing) that
// are not among firing: their rule was removed or is now other alerts
// (renamed, relabelled, regrouped). One resolved later than its firing's
// tick, whatever the clock, comes a nanosecond after it.
func resolved(before, firing []rules.Transition, t time.Time) []rules.Transition {
	still := make(map[uint64]bool, len(firing))
	for i := range firing {
		still[firing[i].Fingerprint] = true
	}
	var out []rules.Transition
	for _, tr := range before {
		if still[tr.Fingerprint] {
			continue
		}
		at := t
		if t.Before(tr.At) {
			at = tr.At.Add(time.Nanosecond)
		}
		tr.Firing, tr.At, tr.HasValue, tr.Value = false, at, false, 0
		out = append(out, tr)
	}
	return out
}

// openTransitions are stored firing alerts as the engine's transitions.
func openTransitions(open []postgres.Alert) []rules.Transition {
	out := make([]rules.Transition, len(open))
	for i, o := range open {
		out[i] = rules.Transition{At: o.At, Rule: o.Rule, Severity: rules.SeverityWarning, Firing: true, Threshold: o.Threshold,
			Fingerprint: o.Fingerprint, StartsAt: o.StartsAt, Labels: labelsOf(o.Labels), Annotations: labelsOf(o.Annotations)}
		if o.Severity == rules.SeverityCritical.String() {
			out[i].Severity = rules.SeverityCritical
		}
	}
	return out
}

// hold logs resolutions of changed or removed rules and keeps them to be
// stored, then notified (flush, or the next tick).
func (a *Alerts) hold(ts []rules.Transition) {
	a.logResolved(ts)
	for i := range ts {
		a.unsaved = append(a.unsaved, StoredAlert(&ts[i]))
	}
	a.held = append(a.held, ts...)
}

func (a *Alerts) logResolved(ts []rules.Transition) {
	for i := range ts {
		a.log.Info("alert resolved: its rule was removed, renamed, relabelled or regrouped", "alertname", ts[i].Rule, "severity", ts[i].Severity.String(), "labels", labelText(ts[i].Labels))
	}
}

// flush stores the engine's state and the transitions not stored yet, then
// hands the held ones to d. It says whether everything is stored.
func (a *Alerts) flush(ctx context.Context, d *notify.Dispatcher) bool {
	if !a.save(ctx, true) {
		return false
	}
	if len(a.held) > 0 {
		d.Notify(a.held, a.now())
		a.held = nil
	}
	return true
}

// labelsOf is m as sorted labels.
func labelsOf(m map[string]string) rules.Labels {
	ls := make(rules.Labels, 0, len(m))
	for k, v := range m {
		ls = append(ls, rules.Label{Name: k, Value: v})
	}
	slices.SortFunc(ls, func(x, y rules.Label) int { return strings.Compare(x.Name, y.Name) })
	return ls
}

// setFiring sets the firing gauge to the engine's firing alerts.
func (a *Alerts) setFiring(firing []rules.Transition) {
	a.metrics.AlertsFiring.Reset()
	for i := range firing {
		a.metrics.AlertsFiring.WithLabelValues(firing[i].Rule, firing[i].Severity.String()).Inc()
	}
}

// StoredAlert is t as a row of ai_alerts.
func StoredAlert(t *rules.Transition) postgres.Alert {
	a := postgres.Alert{At: t.At, Rule: t.Rule, Severity: t.Severity.String(), Firing: t.Firing,
		Threshold: t.Threshold, Labels: t.Labels.Map(), Annotations: t.Annotations.Map(),
		Fingerprint: t.Fingerprint, StartsAt: t.StartsAt}
	if t.HasValue && !math.IsInf(t.Value, 0) && !math.IsNaN(t.Value) {
		v := t.Value
		a.Value = &v
	}
	return a
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
