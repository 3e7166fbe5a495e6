package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/rules"
)

// receiver is a real HTTP server that hands each request body to the test.
type receiver struct {
	*httptest.Server
	bodies chan []byte
	paths  chan string
	// status answers the n-th request (0-based); nil is 200.
	status func(n int) int
	mu     sync.Mutex
	n      int
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	r := &receiver{bodies: make(chan []byte, 100), paths: make(chan string, 100), status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := r.n
		r.n++
		r.mu.Unlock()
		code := 200
		if r.status != nil {
			code = r.status(n)
		}
		w.WriteHeader(code)
		if code == 200 {
			r.paths <- req.URL.Path
			r.bodies <- b
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-r.bodies:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver got nothing")
		return nil
	}
}

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

// transitions runs a real engine: a budget rule fires, then resolves.
func transitions(t *testing.T) (fire, resolve []rules.Transition) {
	t.Helper()
	f, err := rules.Parse("r.yaml", []byte(`query_offset: 0s
rules:
  - name: budget
    metric: cost_usd
    window: 1m
    group_by: [feature]
    critical: 1
    annotations: {summary: "{{ .Labels.feature }} spent {{ .Value }} USD"}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := rules.New(f, nil)
	e.Advance(t0)
	rec := parse.Record{OccurredAt: t0.Add(time.Second), Model: "m", Feature: "quiz", Cost: 2_000_000_000_000, Attributes: []byte("{}")}
	e.Observe(&rec)
	fire = e.Advance(t0.Add(10 * time.Second))
	resolve = e.Advance(t0.Add(2 * time.Minute))
	if len(fire) != 1 || len(resolve) != 1 {
		t.Fatalf("got %d and %d transitions, want 1 and 1", len(fire), len(resolve))
	}
	return fire, resolve
}

func fastBackoff(int) time.Duration { return time.Millisecond }

func TestWebhook_AlertmanagerV4(t *testing.T) {
	recv := newReceiver(t, nil)
	fire, resolve := transitions(t)
	d := NewDispatcher(&rules.File{Notifiers: []rules.Notifier{{Name: "ops", Type: rules.NotifierWebhook,
		URL: config.Secret(recv.URL + "/hook"), Timeout: 5 * time.Second, SendResolved: true, MinSeverity: rules.SeverityWarning}}}, Options{})
	defer d.Close()

	d.Notify(fire, t0)
	var m webhookMessage
	if err := json.Unmarshal(recv.next(t), &m); err != nil {
		t.Fatal(err)
	}
	if got, want := <-recv.paths, "/hook"; got != want {
		t.Errorf("path: got %q, want %q", got, want)
	}
	if m.Version != "4" || m.Status != "firing" || m.Receiver != "ops" || len(m.Alerts) != 1 {
		t.Fatalf("message: got %+v", m)
	}
	a := m.Alerts[0]
	for k, want := range map[string]string{"alertname": "budget", "severity": "critical", "feature": "quiz"} {
		if got := a.Labels[k]; got != want {
			t.Errorf("label %s: got %q, want %q", k, got, want)
		}
	}
	if got, want := a.Annotations["summary"], "quiz spent 2 USD"; got != want {
		t.Errorf("summary: got %q, want %q", got, want)
	}
	if got, want := a.StartsAt, t0.Add(10*time.Second); !got.Equal(want) {
		t.Errorf("startsAt: got %v, want %v", got, want)
	}
	if !a.EndsAt.IsZero() {
		t.Errorf("endsAt of a firing alert: got %v, want zero", a.EndsAt)
	}

	d.Notify(resolve, t0.Add(2*time.Minute))
	m = webhookMessage{}
	if err := json.Unmarshal(recv.next(t), &m); err != nil {
		t.Fatal(err)
	}
	if m.Status != "resolved" || m.Alerts[0].Status != "resolved" || !m.Alerts[0].EndsAt.Equal(resolve[0].At) {
		t.Errorf("resolved message: got %+v", m)
	}
	if m.Alerts[0].Fingerprint == "" || m.Alerts[0].Fingerprint != fingerprint(fire[0].Fingerprint) {
		t.Errorf("fingerprint: got %q, want that of the firing alert", m.Alerts[0].Fingerprint)
	}
}

func TestAlertmanager_PostsAPIv2(t *testing.T) {
	recv := newReceiver(t, nil)
	fire, _ := transitions(t)
	n := New(rules.Notifier{Name: "am", Type: rules.NotifierAlertmanager, URL: config.Secret(recv.URL),
		Timeout: 5 * time.Second, RepeatInterval: time.Minute, SendResolved: true}, Options{})
	defer n.Close()
	n.Notify([]Alert{FromTransition(&fire[0])}, t0)
	var got []amAlert
	if err := json.Unmarshal(recv.next(t), &got); err != nil {
		t.Fatal(err)
	}
	if p := <-recv.paths; p != "/api/v2/alerts" {
		t.Errorf("path: got %q, want /api/v2/alerts", p)
	}
	if len(got) != 1 || got[0].Labels["alertname"] != "budget" || !got[0].EndsAt.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("alerts: got %+v, want budget ending 4 repeat intervals after sending", got)
	}
}

func TestSlack_Text(t *testing.T) {
	recv := newReceiver(t, nil)
	fire, _ := transitions(t)
	n := New(rules.Notifier{Name: "chat", Type: rules.NotifierSlack, URL: config.Secret(recv.URL), Timeout: 5 * time.Second}, Options{})
	defer n.Close()
	n.Notify([]Alert{FromTransition(&fire[0])}, t0)
	var m map[string]string
	if err := json.Unmarshal(recv.next(t), &m); err != nil {
		t.Fatal(err)
	}
	if got, want := m["text"], "[FIRING:1] budget\n:red_circle: *critical* firing (feature=quiz): quiz spent 2 USD"; got != want {
		t.Errorf("text: got %q, want %q", got, want)
	}
}

func TestNotifier_RetriesThenDelivers(t *testing.T) {
	recv := newReceiver(t, func(n int) int {
		if n < 2 {
			return http.StatusServiceUnavailable
		}
		return 200
	})
	fire, _ := transitions(t)
	n := New(rules.Notifier{Name: "ops", Type: rules.NotifierWebhook, URL: config.Secret(recv.URL), Timeout: 5 * time.Second, MaxRetries: 3},
		Options{Backoff: fastBackoff})
	n.Notify([]Alert{FromTransition(&fire[0])}, t0)
	drain(t, n)
	recv.next(t)
	n.Close()
	if got, want := n.Stats(), (Stats{Name: "ops", Sent: 1}); got != want {
		t.Errorf("stats: got %+v, want %+v", got, want)
	}
	if got, want := recv.n, 3; got != want {
		t.Errorf("requests: got %d, want %d", got, want)
	}
}

func TestNotifier_FailingReceiverIsCountedAndLoggedWithoutURL(t *testing.T) {
	var mu sync.Mutex
	attempts := 0
	failed := make(chan struct{})
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &logs, mu: &mu}, nil))
	secretURL := "http://127.0.0.1:1/hook?token=very-secret"
	n := New(rules.Notifier{Name: "ops", Type: rules.NotifierWebhook, URL: config.Secret(secretURL), Timeout: time.Second, MaxRetries: 2},
		Options{Backoff: fastBackoff, Logger: log, Sender: nil, Client: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			attempts++
			a := attempts
			mu.Unlock()
			if a == 3 {
				defer close(failed)
			}
			return http.DefaultTransport.RoundTrip(r)
		})}})
	fire, _ := transitions(t)
	n.Notify([]Alert{FromTransition(&fire[0])}, t0)
	<-failed
	n.Close()
	if got := n.Stats(); got.Failed != 1 || got.Sent != 0 {
		t.Errorf("stats: got %+v, want 1 failed", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := logs.String(); !strings.Contains(got, "alerts not delivered") || strings.Contains(got, "very-secret") {
		t.Errorf("log: got %q, want the failure, without the URL", got)
	}
}

func TestNotifier_PermanentErrorIsNotRetried(t *testing.T) {
	recv := newReceiver(t, func(int) int { return http.StatusBadRequest })
	done := make(chan struct{})
	calls := 0
	inner := &Webhook{URL: recv.URL, Client: http.DefaultClient}
	n := New(rules.Notifier{Name: "ops", Timeout: time.Second, MaxRetries: 5}, Options{Backoff: fastBackoff,
		Sender: SenderFunc(func(ctx context.Context, a []Alert) error {
			calls++
			err := inner.Send(ctx, a)
			close(done)
			return err
		})})
	fire, _ := transitions(t)
	n.Notify([]Alert{FromTransition(&fire[0])}, t0)
	<-done
	n.Close()
	if calls != 1 || n.Stats().Failed != 1 {
		t.Errorf("got %d calls and %+v, want 1 call, 1 failed", calls, n.Stats())
	}
}

// TestNotifier_SlowReceiverNeverBlocks: with the receiver stuck, Notify
// keeps returning and counts what its queue cannot hold.
func TestNotifier_SlowReceiverNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	n := New(rules.Notifier{Name: "slow", Timeout: time.Minute, QueueSize: 2}, Options{
		Sender: SenderFunc(func(ctx context.Context, a []Alert) error {
			select {
			case started <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})})
	fire, _ := transitions(t)
	a := FromTransition(&fire[0])
	n.Notify([]Alert{a}, t0)
	<-started // the goroutine holds the first; the queue is empty
	for range 10 {
		n.Notify([]Alert{a}, t0)
	}
	if got, want := n.Stats().Dropped, uint64(8); got != want {
		t.Errorf("dropped: got %d, want %d", got, want)
	}
	close(release)
	n.Close()
}

func TestNotifier_RepeatResolvedAndSeverity(t *testing.T) {
	var mu sync.Mutex
	var got []string
	capture := SenderFunc(func(_ context.Context, as []Alert) error {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range as {
			got = append(got, a.Status()+" "+a.Severity.String())
		}
		return nil
	})
	fire, resolve := transitions(t)
	f, r := FromTransition(&fire[0]), FromTransition(&resolve[0])
	warn := f
	warn.Severity, warn.Fingerprint = rules.SeverityWarning, 99

	n := New(rules.Notifier{Name: "x", Timeout: time.Second, RepeatInterval: time.Hour, SendResolved: false, MinSeverity: rules.SeverityCritical},
		Options{Sender: capture})
	n.Notify([]Alert{f, warn}, t0)            // the warning is below min_severity
	n.Tick(t0.Add(30 * time.Minute))          // not due
	n.Tick(t0.Add(time.Hour))                 // due: repeated
	n.Notify([]Alert{r}, t0.Add(2*time.Hour)) // resolved: not sent
	n.Tick(t0.Add(5 * time.Hour))             // nothing firing any more
	drain(t, n)
	n.Close()
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"firing critical", "firing critical"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("sent: got %q, want %q", got, want)
	}
}

func drain(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Drain(ctx); err != nil {
		t.Fatalf("drain: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type syncWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
