// Package notify sends alert transitions to people: Alertmanager-style
// webhooks, Alertmanager itself, Slack, or the log.
//
// Each notifier has its own bounded queue and goroutine: Notify never
// blocks, so a slow or failing receiver never slows ingestion. What cannot
// be queued or delivered is counted (Stats) and logged.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokentail/tokentail/rules"
)

// Alert is one alert as receivers see it.
type Alert struct {
	Firing      bool
	Rule        string
	Severity    rules.Severity
	Labels      rules.Labels
	Annotations rules.Labels
	StartsAt    time.Time
	// EndsAt is when a resolved alert ended; zero while firing.
	EndsAt      time.Time
	Value       float64
	HasValue    bool
	Fingerprint uint64
	// ValidUntil is when a receiver that expires alerts (Alertmanager)
	// should consider a firing alert gone if it hears nothing more.
	ValidUntil time.Time
}

// Status returns "firing" or "resolved".
func (a *Alert) Status() string {
	if a.Firing {
		return "firing"
	}
	return "resolved"
}

// FromTransition returns the Alert of t.
func FromTransition(t *rules.Transition) Alert {
	a := Alert{Firing: t.Firing, Rule: t.Rule, Severity: t.Severity, Labels: t.Labels, Annotations: t.Annotations,
		StartsAt: t.StartsAt, Value: t.Value, HasValue: t.HasValue, Fingerprint: t.Fingerprint}
	if !t.Firing {
		a.EndsAt = t.At
	}
	return a
}

// Sender delivers alerts of one rule to a receiver, once.
type Sender interface {
	Send(ctx context.Context, alerts []Alert) error
}

// SenderFunc is a Sender that is one function.
type SenderFunc func(ctx context.Context, alerts []Alert) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, alerts []Alert) error { return f(ctx, alerts) }

// permanentError is a failure that retrying cannot fix (a 4xx answer).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Stats are a notifier's counters, in alerts.
type Stats struct {
	Name    string
	Sent    uint64
	Failed  uint64 // given up after retries
	Dropped uint64 // the queue was full
	Queued  int
}

// Options are what a Notifier needs from outside.
type Options struct {
	// Client sends HTTP requests; nil uses a new http.Client.
	Client *http.Client
	Logger *slog.Logger
	// Backoff is the wait before retry n (1, 2, ...); nil is 1s, 2s, 4s... up to 30s.
	Backoff func(n int) time.Duration
	// Sender replaces the one of the notifier's type (tests).
	Sender Sender
}

// Notifier sends alerts to one configured receiver.
type Notifier struct {
	cfg     rules.Notifier
	send    Sender
	log     *slog.Logger
	backoff func(int) time.Duration
	queue   chan []Alert

	mu sync.Mutex
	// firing are the alerts sent as firing and not yet resolved, for
	// repeat_interval, by fingerprint.
	firing map[uint64]*tracked

	sent, failed, dropped atomic.Uint64
	// inflight counts batches queued or being sent, for Drain.
	inflight sync.WaitGroup

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

type tracked struct {
	alert    Alert
	lastSent time.Time
}

// New starts a notifier for cfg. Close stops it.
func New(cfg rules.Notifier, o Options) *Notifier {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Backoff == nil {
		o.Backoff = func(n int) time.Duration { return min(time.Second<<(n-1), 30*time.Second) }
	}
	log := o.Logger.With("notifier", cfg.Name)
	send := o.Sender
	if send == nil {
		switch cfg.Type {
		case rules.NotifierWebhook:
			send = &Webhook{URL: cfg.URL.Reveal(), Receiver: cfg.Name, Client: o.Client}
		case rules.NotifierAlertmanager:
			send = &Alertmanager{URL: cfg.URL.Reveal(), Client: o.Client}
		case rules.NotifierSlack:
			send = &Slack{URL: cfg.URL.Reveal(), Client: o.Client}
		default:
			send = &Log{Logger: o.Logger.With("notifier", cfg.Name)}
		}
	}
	qs := cfg.QueueSize
	if qs <= 0 {
		qs = rules.DefaultQueueSize
	}
	n := &Notifier{cfg: cfg, send: send, log: log, backoff: o.Backoff, queue: make(chan []Alert, qs),
		firing: map[uint64]*tracked{}, done: make(chan struct{})}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	go n.loop()
	return n
}

// Name is the notifier's configured name.
func (n *Notifier) Name() string { return n.cfg.Name }

// Notify queues the alerts this notifier takes (by min_severity and
// send_resolved) and returns at once. now is the wall clock, for repeats.
func (n *Notifier) Notify(alerts []Alert, now time.Time) {
	var out []Alert
	n.mu.Lock()
	for _, a := range alerts {
		if a.Severity < n.cfg.MinSeverity {
			continue
		}
		if a.Firing {
			a.ValidUntil = now.Add(4 * n.repeat())
			n.firing[a.Fingerprint] = &tracked{alert: a, lastSent: now}
		} else {
			delete(n.firing, a.Fingerprint)
			if !n.cfg.SendResolved {
				continue
			}
		}
		out = append(out, a)
	}
	n.mu.Unlock()
	n.enqueue(out)
}

func (n *Notifier) repeat() time.Duration {
	if n.cfg.RepeatInterval > 0 {
		return n.cfg.RepeatInterval
	}
	return rules.DefaultRepeatInterval
}

// Tick re-sends the firing alerts last sent repeat_interval or more before now.
func (n *Notifier) Tick(now time.Time) {
	var out []Alert
	n.mu.Lock()
	for _, t := range n.firing {
		if now.Sub(t.lastSent) >= n.repeat() {
			t.lastSent = now
			t.alert.ValidUntil = now.Add(4 * n.repeat())
			out = append(out, t.alert)
		}
	}
	n.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Fingerprint < out[j].Fingerprint })
	n.enqueue(out)
}

// enqueue queues alerts one rule at a time (as Alertmanager groups by
// alertname), dropping what does not fit.
func (n *Notifier) enqueue(alerts []Alert) {
	for len(alerts) > 0 {
		end := 1
		for end < len(alerts) && alerts[end].Rule == alerts[0].Rule {
			end++
		}
		batch := alerts[:end:end]
		alerts = alerts[end:]
		n.inflight.Add(1)
		select {
		case n.queue <- batch:
		default:
			n.inflight.Done()
			if n.dropped.Add(uint64(len(batch))) == uint64(len(batch)) || n.dropped.Load()%100 == 0 {
				n.log.Warn("notifier queue full: alerts dropped", "dropped_total", n.dropped.Load())
			}
		}
	}
}

func (n *Notifier) loop() {
	defer close(n.done)
	for {
		select {
		case <-n.ctx.Done():
			return
		case batch := <-n.queue:
			if n.ctx.Err() != nil {
				// Closing (select picks among ready cases at random):
				// not sent, and Close counts it with the rest.
				n.dropped.Add(uint64(len(batch)))
				n.inflight.Done()
				continue
			}
			n.deliver(batch)
			n.inflight.Done()
		}
	}
}

// deliver sends one batch with retries; it gives up on a permanent error,
// after max_retries, or when the notifier closes.
func (n *Notifier) deliver(batch []Alert) {
	var err error
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
		err = n.send.Send(ctx, batch)
		cancel()
		if err == nil {
			n.sent.Add(uint64(len(batch)))
			return
		}
		var perm *permanentError
		if errors.As(err, &perm) || attempt >= n.cfg.MaxRetries || n.ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(n.backoff(attempt + 1)):
		case <-n.ctx.Done():
		}
	}
	n.failed.Add(uint64(len(batch)))
	n.log.Error("alerts not delivered", "alertname", batch[0].Rule, "alerts", len(batch), "err", err)
}

// Stats returns the notifier's counters.
func (n *Notifier) Stats() Stats {
	return Stats{Name: n.cfg.Name, Sent: n.sent.Load(), Failed: n.failed.Load(), Dropped: n.dropped.Load(), Queued: len(n.queue)}
}

// Drain waits until every queued alert has been delivered or given up
// on, or ctx ends (at shutdown, to send the last resolutions).
func (n *Notifier) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { n.inflight.Wait(); close(done) }() // ends once the queue empties, even after ctx
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the notifier; alerts still queued are not sent (Drain
// first to send them). It is idempotent and waits for the goroutine.
func (n *Notifier) Close() {
	n.once.Do(n.cancel)
	<-n.done
	// What is still queued is not sent: count it, and let Drain return.
	var left uint64
	for {
		select {
		case batch := <-n.queue:
			left += uint64(len(batch))
			n.dropped.Add(uint64(len(batch)))
			n.inflight.Done()
		default:
			if left > 0 {
				n.log.Warn("notifier closed with alerts still queued: not sent", "alerts", left, "dropped_total", n.dropped.Load())
			}
			return
		}
	}
}

// Dispatcher routes transitions to the notifiers of their rule.
type Dispatcher struct {
	all    []*Notifier
	routes map[string][]*Notifier // rule name → notifiers; absent: all
}

// NewDispatcher starts a notifier for each of f's notifiers.
func NewDispatcher(f *rules.File, o Options) *Dispatcher {
	d := &Dispatcher{routes: map[string][]*Notifier{}}
	byName := map[string]*Notifier{}
	for _, c := range f.Notifiers {
		n := New(c, o)
		d.all = append(d.all, n)
		byName[c.Name] = n
	}
	for _, r := range f.Rules {
		if len(r.Notifiers) == 0 {
			continue
		}
		for _, name := range r.Notifiers {
			d.routes[r.Name] = append(d.routes[r.Name], byName[name])
		}
	}
	return d
}

// Notify hands each transition to its rule's notifiers; it never blocks.
func (d *Dispatcher) Notify(ts []rules.Transition, now time.Time) {
	if len(ts) == 0 {
		return
	}
	per := map[*Notifier][]Alert{}
	for i := range ts {
		a := FromTransition(&ts[i])
		targets, ok := d.routes[a.Rule]
		if !ok {
			targets = d.all
		}
		for _, n := range targets {
			per[n] = append(per[n], a)
		}
	}
	for _, n := range d.all {
		if as := per[n]; len(as) > 0 {
			n.Notify(as, now)
		}
	}
}

// Tick lets every notifier re-send what is due.
func (d *Dispatcher) Tick(now time.Time) {
	for _, n := range d.all {
		n.Tick(now)
	}
}

// Stats returns every notifier's counters.
func (d *Dispatcher) Stats() []Stats {
	out := make([]Stats, len(d.all))
	for i, n := range d.all {
		out[i] = n.Stats()
	}
	return out
}

// Drain waits for every notifier's queue to empty, or ctx to end.
func (d *Dispatcher) Drain(ctx context.Context) error {
	for _, n := range d.all {
		if err := n.Drain(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close stops every notifier.
func (d *Dispatcher) Close() {
	for _, n := range d.all {
		n.Close()
	}
}

func httpError(resp *http.Response) error {
	err := fmt.Errorf("receiver answered %s", resp.Status)
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
		return &permanentError{err}
	}
	return err
}

// Remember makes the notifiers treat ts (firing alerts) as sent at
// lastSent, without sending them: a new dispatcher after a reload, a
// restart or a change of leader repeats them on schedule instead of
// announcing them again.
func (d *Dispatcher) Remember(ts []rules.Transition, lastSent time.Time) {
	for i := range ts {
		a := FromTransition(&ts[i])
		if !a.Firing {
			continue
		}
		targets, ok := d.routes[a.Rule]
		if !ok {
			targets = d.all
		}
		for _, n := range targets {
			n.remember(a, lastSent)
		}
	}
}

func (n *Notifier) remember(a Alert, lastSent time.Time) {
	if a.Severity < n.cfg.MinSeverity {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	a.ValidUntil = lastSent.Add(4 * n.repeat())
	n.firing[a.Fingerprint] = &tracked{alert: a, lastSent: lastSent}
}
