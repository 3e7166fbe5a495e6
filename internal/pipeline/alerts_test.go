package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"

	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/rules"
	"github.com/tokentail/tokentail/writers/postgres"
)

// hook is a webhook receiver: what it got, as "alertname severity status".
type hook struct {
	mu  sync.Mutex
	got []string
	srv *httptest.Server
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []struct {
				Status string            `json:"status"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		h.mu.Lock()
		for _, a := range msg.Alerts {
			h.got = append(h.got, a.Labels["alertname"]+" "+a.Labels["severity"]+" "+a.Status)
		}
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// file is a rules file with rulesYAML as its rules and h as its notifier.
func (h *hook) file(t *testing.T, rulesYAML string) *rules.File {
	t.Helper()
	f, err := rules.Parse("rules.yaml", []byte(fmt.Sprintf("notifiers:\n  - {name: hook, type: webhook, url: %q}\nrules:\n%s", h.srv.URL, rulesYAML)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// wait returns what the receiver got once it has n notifications (or
// after 10 s: the comparison then says what is missing).
func (h *hook) wait(n int) []string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		got := slices.Clone(h.got)
		h.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settled is what the receiver got once it has n notifications and 200 ms
// more have passed, so that one too many would be seen.
func (h *hook) settled(n int) []string {
	h.wait(n)
	time.Sleep(200 * time.Millisecond)
	return h.wait(0)
}

// countResolved counts the resolved transitions of rule in ai_alerts.
func countResolved(t *testing.T, dsn, rule string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM ai_alerts WHERE rule = $1 AND state = 'resolved'", rule).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// clock is a test's wall clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// daemon is what a tokentail run holds for its rules: a PostgreSQL writer
// of its own and the Alerts.
type daemon struct {
	w *postgres.Writer
	a *Alerts
}

func newDaemon(t *testing.T, dsn string, f *rules.File, c *clock) *daemon {
	t.Helper()
	w, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	a := NewAlerts(f, slog.New(slog.NewTextHandler(testWriter{t}, nil)), NewMetrics(), c.now, w)
	return &daemon{w: w, a: a}
}

// write stores records as a daemon's pipeline does.
func (d *daemon) write(t *testing.T, at time.Time, id, user string, cost string) {
	t.Helper()
	m, err := parse.ParseMoney(cost)
	if err != nil {
		t.Fatal(err)
	}
	rec := parse.Record{EventID: id, OccurredAt: at, Source: "api", UserID: user, Model: "gpt-4o-mini",
		Cost: m, Success: true, Attributes: []byte("{}")}
	if _, err := d.w.Write(context.Background(), []parse.Record{rec}); err != nil {
		t.Fatal(err)
	}
}

// crash ends the daemon's hold on the rules as a kill -9 would: its lock
// connection closes, nothing more is saved.
func (d *daemon) crash() {
	d.a.mu.Lock()
	defer d.a.mu.Unlock()
	if d.a.lock != nil {
		d.a.lock.Close(context.Background())
		d.a.lock = nil
	}
	d.a.engine = nil
	if d.a.disp != nil {
		d.a.disp.Close() // a kill loses what is queued; here it was delivered
		d.a.disp = nil
	}
}

// TestAlerts_Fleet: two daemons write to one database; one evaluates, on
// both daemons' rows, and notifies once; it crashes; the other takes over
// without announcing again what fired, and goes on from the stored totals.
func TestAlerts_Fleet(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	h := newHook(t)
	f, err := rules.Parse("rules.yaml", []byte(fmt.Sprintf(`
evaluation_interval: 10s
query_offset: 10s
notifiers:
  - {name: hook, type: webhook, url: %q, repeat_interval: 48h} # the clock jumps 14 h: no repeats in what is counted
rules:
  - {name: daily, metric: cost_usd, period: day, warning: 10, critical: 20}
  - {name: user-daily, metric: cost_usd, period: day, group_by: [user_id], warning: 8}
`, h.srv.URL)), nil)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	c := &clock{t: day.Add(10 * time.Hour)}
	a, b := newDaemon(t, dsn, f, c), newDaemon(t, dsn, f, c)
	ctx := context.Background()
	defer a.a.stop(ctx)
	defer b.a.stop(ctx)

	live := []*daemon{a, b}
	step := func(d time.Duration) {
		c.set(c.now().Add(d))
		for _, d := range live {
			settle(t, ctx, d.a)
		}
	}
	step(0)
	if !a.a.leading() || b.a.leading() {
		t.Fatalf("leading: a %v, b %v; want a only", a.a.leading(), b.a.leading())
	}
	// 6 + 6 USD from two daemons: the fleet's total crosses 10.
	at := c.now().Add(-time.Minute)
	a.write(t, at, "a1", "ann", "6")
	b.write(t, at, "b1", "bob", "6")
	step(20 * time.Second)
	if got, want := h.wait(1), []string{"daily warning firing"}; !slices.Equal(got, want) {
		t.Fatalf("after 12 USD: notified %q, want %q", got, want)
	}

	a.crash()
	live = []*daemon{b}
	// b tries the lock every 2 s; the server frees it once it has seen
	// the connection close, a moment later.
	for deadline := time.Now().Add(15 * time.Second); !b.a.leading() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		step(2 * time.Second)
	}
	if !b.a.leading() {
		t.Fatal("b did not take over after a crashed")
	}
	// ann reaches 9 (over 8 per user), the day 15: one new alert only.
	b.write(t, c.now().Add(-5*time.Second), "b2", "ann", "3")
	step(20 * time.Second)
	// a restarts: it does not lead while b does.
	a2 := newDaemon(t, dsn, f, c)
	defer a2.a.stop(ctx)
	settle(t, ctx, a2.a)
	if a2.a.leading() {
		t.Fatal("a restarted daemon took the lock b holds")
	}
	// b stops cleanly; a2 takes over and sees the day reach 21.
	b.a.stop(ctx)
	a2.write(t, c.now().Add(-5*time.Second), "a3", "cat", "6")
	for deadline := time.Now().Add(15 * time.Second); !a2.a.leading() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		c.set(c.now().Add(2 * time.Second))
		settle(t, ctx, a2.a)
	}
	if !a2.a.leading() {
		t.Fatal("a2 did not take over after b stopped")
	}
	c.set(c.now().Add(20 * time.Second))
	settle(t, ctx, a2.a)
	// The next day: everything resolves, once.
	c.set(day.Add(24*time.Hour + 30*time.Second))
	settle(t, ctx, a2.a)
	want := []string{
		"daily warning firing",
		"user-daily warning firing",
		"daily warning resolved", "daily critical firing",
		"daily critical resolved", "user-daily warning resolved",
	}
	got := h.wait(len(want))
	if !slices.Equal(sorted(got[2:4]), sorted(want[2:4])) || !slices.Equal(sorted(got[4:]), sorted(want[4:])) || !slices.Equal(got[:2], want[:2]) {
		t.Errorf("notified:\n  %s\nwant (each once):\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// Every transition is stored once.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT rule || ' ' || severity || ' ' || state FROM ai_alerts ORDER BY at, rule, state DESC")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sorted(stored), sorted(want)) {
		t.Errorf("ai_alerts:\n  %s\nwant:\n  %s", strings.Join(stored, "\n  "), strings.Join(want, "\n  "))
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// testWriter sends a logger's lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// TestAlerts_ReloadKeepsState: a reload keeps the sums and firing alerts of
// unchanged rules (not announced again) and gives a new rule its history
// from the database.
func TestAlerts_ReloadKeepsState(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	h := newHook(t)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(extra string) *rules.File {
		t.Helper()
		y := fmt.Sprintf(`notifiers:
  - {name: hook, type: webhook, url: %q}
rules:
  - {name: daily, metric: cost_usd, period: day, warning: 10, annotations: {summary: "%s"}}
%s`, h.srv.URL, extra, extra)
		if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := rules.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := write("")
	day := time.Now().UTC().Truncate(24 * time.Hour)
	c := &clock{t: day.Add(10 * time.Hour)}
	d := newDaemon(t, dsn, f, c)
	ctx := context.Background()
	defer d.a.stop(ctx)
	settle(t, ctx, d.a)
	d.write(t, c.now().Add(-time.Minute), "r1", "ann", "12")
	c.set(c.now().Add(20 * time.Second))
	settle(t, ctx, d.a)
	if got, want := h.wait(1), []string{"daily warning firing"}; !slices.Equal(got, want) {
		t.Fatalf("before the reload: notified %q, want %q", got, want)
	}

	// The summary changes (daily is unchanged for state) and a rule is added.
	write("  - {name: user-daily, metric: cost_usd, period: day, group_by: [user_id], warning: 5}\n")
	d.a.Reload(ctx)
	c.set(c.now().Add(20 * time.Second))
	settle(t, ctx, d.a)
	want := []string{"daily warning firing", "user-daily warning firing"}
	if got := h.wait(len(want)); !slices.Equal(got, want) {
		t.Errorf("after the reload: notified %q, want %q (daily not again; user-daily from the stored 12 USD)", got, want)
	}

	// A broken file keeps the rules running, and says so in the metric.
	if err := os.WriteFile(path, []byte("rules:\n  - {name: x, metric: nope}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.a.Reload(ctx)
	var m dto.Metric
	if err := d.a.metrics.RulesReloadOK.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetGauge().GetValue(); got != 0 {
		t.Errorf("rules_last_reload_ok = %v after a broken file, want 0", got)
	}
	d.write(t, c.now().Add(-5*time.Second), "r2", "bob", "6")
	c.set(c.now().Add(20 * time.Second))
	settle(t, ctx, d.a)
	want = append(want, "user-daily warning firing")
	if got := h.wait(len(want)); !slices.Equal(got, want) {
		t.Errorf("after a broken reload: notified %q, want %q (the previous rules still run)", got, want)
	}

	// Removing user-daily resolves its two firing alerts, once, and stores
	// that; daily goes on firing.
	write("")
	d.a.Reload(ctx)
	c.set(c.now().Add(20 * time.Second))
	settle(t, ctx, d.a)
	want = append(want, "user-daily warning resolved", "user-daily warning resolved")
	if got := h.settled(len(want)); !slices.Equal(got, want) {
		t.Errorf("after removing a rule: notified %q, want %q", got, want)
	}
	if resolved := countResolved(t, dsn, "user-daily"); resolved != 2 {
		t.Errorf("ai_alerts holds %d resolved user-daily transitions, want 2", resolved)
	}

	// Editing daily's threshold keeps its alert, as Prometheus does: the
	// day's 18 USD still pass 11, so nothing is sent; they do not pass 20,
	// and the alert resolves, once.
	for _, warning := range []string{"11", "20"} {
		y := fmt.Sprintf("notifiers:\n  - {name: hook, type: webhook, url: %q}\nrules:\n  - {name: daily, metric: cost_usd, period: day, warning: %s}\n", h.srv.URL, warning)
		if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		d.a.Reload(ctx)
		c.set(c.now().Add(20 * time.Second))
		settle(t, ctx, d.a)
		if warning == "11" {
			if got := h.settled(len(want)); !slices.Equal(got, want) {
				t.Errorf("after a new threshold that still holds: notified %q, want %q (nothing new)", got, want)
			}
		}
	}
	want = append(want, "daily warning resolved")
	if got := h.settled(len(want)); !slices.Equal(got, want) {
		t.Errorf("after a threshold that no longer holds: notified %q, want %q", got, want)
	}
}

// TestAlerts_RestoredRowsNamed: rows restored from another cluster's dump
// carry txids ahead of the server's; the leader says so at its start with
// the statement that fixes it, and after the fix and a restart they count.
func TestAlerts_RestoredRowsNamed(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	h := newHook(t)
	f := h.file(t, "  - {name: daily, metric: cost_usd, period: day, warning: 10}\n")
	day := time.Now().UTC().Truncate(24 * time.Hour)
	c := &clock{t: day.Add(10 * time.Hour)}
	ctx := context.Background()
	w := newDaemon(t, dsn, f, c) // writes only: it never ticks
	w.write(t, c.now().Add(-time.Hour), "restored", "ann", "12")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "UPDATE ai_usage_events SET txid = txid_current() + 5000000"); err != nil {
		t.Fatal(err)
	}

	d := newDaemon(t, dsn, f, c)
	var mu sync.Mutex
	var logs strings.Builder
	d.a.log = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	settle(t, ctx, d.a)
	d.a.stop(ctx)
	mu.Lock()
	text := logs.String()
	mu.Unlock()
	m := regexp.MustCompile(`txids this server has not issued.* fix=("(?:[^"\\]|\\.)*")`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the leader did not name the restored rows:\n%s", text)
	}
	if got := h.wait(0); len(got) != 0 {
		t.Fatalf("notified %q before the fix, want nothing: the restored rows are skipped", got)
	}
	fix, err := strconv.Unquote(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, fix); err != nil {
		t.Fatalf("%s: %v", fix, err)
	}

	// Restarted, the leader counts them.
	d2 := newDaemon(t, dsn, f, c)
	defer d2.a.stop(ctx)
	c.set(c.now().Add(20 * time.Second))
	settle(t, ctx, d2.a)
	if got, want := h.wait(1), []string{"daily warning firing"}; !slices.Equal(got, want) {
		t.Errorf("after the fix: notified %q, want %q", got, want)
	}
}

// TestAlerts_HeldBackIsNamed: a transaction left open holds back evaluation
// (its rows, and every row after it, are not final); after a minute the
// log names it.
func TestAlerts_HeldBackIsNamed(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	f, err := rules.Parse("rules.yaml", []byte("rules:\n  - {name: spend, metric: cost_usd, window: 5m, warning: 1}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	d := newDaemon(t, dsn, f, c)
	var logs strings.Builder
	var mu sync.Mutex
	d.a.log = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	ctx := context.Background()
	defer d.a.stop(ctx)
	settle(t, ctx, d.a)

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SELECT txid_current()"); err != nil {
		t.Fatal(err)
	}
	// Other tests' transactions in the cluster may hold the horizon below
	// this one's for a moment and then let it move: it is named once it has
	// stood still for a minute at this transaction (3 ticks, or a few more).
	var got string
	for i := 0; i < 3 || i < 30 && !strings.Contains(got, "holds back"); i++ {
		c.set(c.now().Add(40 * time.Second))
		d.a.Tick(ctx)
		mu.Lock()
		got = logs.String()
		mu.Unlock()
	}
	if !strings.Contains(got, "holds back alert evaluation") || !strings.Contains(got, "pid ") {
		t.Errorf("log after 2 minutes behind an open transaction:\n%s\nwant the transaction named", got)
	}
}

// settle ticks a until its rules are evaluated up to its clock: tests
// sharing the cluster may hold the transaction horizon for a moment, as a
// busy database does for a second, and the leader waits for it. A daemon
// that does not lead ticks once.
func settle(t *testing.T, ctx context.Context, a *Alerts) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		a.Tick(ctx)
		var m dto.Metric
		a.mu.Lock()
		leading := a.leading()
		a.mu.Unlock()
		if err := a.metrics.RulesBehind.Write(&m); err != nil {
			t.Fatal(err)
		}
		if !leading || m.GetGauge().GetValue() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules still %v s behind after a minute: a transaction of another test stays open", m.GetGauge().GetValue())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestAlerts_WaitsForOpenTransaction: a row whose transaction is still open
// while the clock passes its time is evaluated at its time once the
// transaction commits: no tick is evaluated without it, and it is not
// dropped as late (which would lose the alert it brings).
func TestAlerts_WaitsForOpenTransaction(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	h := newHook(t)
	f, err := rules.Parse("rules.yaml", []byte(fmt.Sprintf(`
evaluation_interval: 10s
query_offset: 10s
notifiers:
  - {name: hook, type: webhook, url: %q}
rules:
  - {name: spend, metric: cost_usd, window: 1m, warning: 1}
`, h.srv.URL)), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Truncate(time.Minute)
	c := &clock{t: start}
	d := newDaemon(t, dsn, f, c)
	ctx := context.Background()
	defer d.a.stop(ctx)
	d.write(t, start, "early", "ann", "0") // makes the day's partition (start+5s is on the same UTC day)
	settle(t, ctx, d.a)
	if !d.a.leading() {
		t.Fatal("the only daemon does not lead")
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `INSERT INTO ai_usage_events (event_id, occurred_at, source, model, input_tokens,
		cached_input_tokens, output_tokens, total_tokens, cost_usd, cost_source, success)
		VALUES ('held', $1, 'api', 'gpt-4o-mini', 0, 0, 0, 0, 2, 'log', true)`, start.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Three minutes pass with the transaction open: the 1m window of its
	// row closes on the clock, but not on the evaluation.
	for range 18 {
		c.set(c.now().Add(10 * time.Second))
		d.a.Tick(ctx)
	}
	h.mu.Lock()
	early := slices.Clone(h.got)
	h.mu.Unlock()
	if len(early) != 0 {
		t.Errorf("notified %q while the row was held back", early)
	}
	var m dto.Metric
	if err := d.a.metrics.RulesBehind.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetGauge().GetValue(); got < 170 {
		t.Errorf("rules_behind_seconds = %v behind a transaction open for 3 minutes, want about 180", got)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	c.set(c.now().Add(10 * time.Second))
	settle(t, ctx, d.a)
	if got, want := h.wait(2), []string{"spend warning firing", "spend warning resolved"}; !slices.Equal(got, want) {
		t.Errorf("after the commit: notified %q, want %q", got, want)
	}
	var firedAt time.Time
	if err := conn.QueryRow(ctx, "SELECT at FROM ai_alerts WHERE rule = 'spend' AND state = 'firing'").Scan(&firedAt); err != nil {
		t.Fatal(err)
	}
	if firedAt.Before(start) || firedAt.After(start.Add(30*time.Second)) {
		t.Errorf("fired at %s, want the row's time (%s) or the tick after it", firedAt, start.Add(5*time.Second))
	}
}

// TestAlerts_WatchesFile: the rules file reloads when edited in place and
// when a Kubernetes ConfigMap update swaps its ..data symlink (no event
// names the file itself then).
func TestAlerts_WatchesFile(t *testing.T) {
	dir := t.TempDir()
	version := func(name string, rulesN int) {
		t.Helper()
		var b strings.Builder
		b.WriteString("rules:\n")
		for i := range rulesN {
			fmt.Fprintf(&b, "  - {name: r%d, metric: cost_usd, window: 5m, warning: 1}\n", i)
		}
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "rules.yaml"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		// The kubelet's swap: a new symlink renamed over ..data.
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", 1)
	path := filepath.Join(dir, "rules.yaml")
	if err := os.Symlink("..data/rules.yaml", path); err != nil {
		t.Fatal(err)
	}
	f, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAlerts(f, slog.New(slog.NewTextHandler(testWriter{t}, nil)), NewMetrics(), time.Now, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx, nil) }()
	defer func() { cancel(); <-done }()
	rulesNow := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			a.mu.Lock()
			n := len(a.file.Rules)
			a.mu.Unlock()
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("rules loaded: %d, want %d", n, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(100 * time.Millisecond) // the watcher is set up
	version("..v2", 3)
	rulesNow(3)
	// An edit in place of the file the link points to.
	if err := os.WriteFile(filepath.Join(dir, "..v2", "rules.yaml"), []byte("rules:\n  - {name: only, metric: cost_usd, window: 5m, warning: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rulesNow(1)
}

// TestAlerts_EditedBeforeRun: an edit between loading the rules and the
// watch starting is not missed (the watch compares with what was loaded).
func TestAlerts_EditedBeforeRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte("rules:\n  - {name: a, metric: cost_usd, window: 5m, warning: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAlerts(f, slog.New(slog.NewTextHandler(testWriter{t}, nil)), NewMetrics(), time.Now, nil)
	if err := os.WriteFile(path, []byte("rules:\n  - {name: a, metric: cost_usd, window: 5m, warning: 1}\n  - {name: b, metric: cost_usd, window: 5m, warning: 2}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx, nil) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		n := len(a.file.Rules)
		a.mu.Unlock()
		if n == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules loaded: %d, want the edited file's 2", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAlerts_RepriceReseeds: when reprice changes stored costs, the leader
// reads its history again, so today's budget counts the new costs.
func TestAlerts_RepriceReseeds(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	h := newHook(t)
	f := h.file(t, "  - {name: daily, metric: cost_usd, period: day, warning: 10}\n")
	day := time.Now().UTC().Truncate(24 * time.Hour)
	c := &clock{t: day.Add(10 * time.Hour)}
	d := newDaemon(t, dsn, f, c)
	ctx := context.Background()
	defer d.a.stop(ctx)
	settle(t, ctx, d.a)
	d.write(t, c.now().Add(-time.Minute), "p1", "ann", "6")
	c.set(c.now().Add(20 * time.Second))
	settle(t, ctx, d.a)

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "UPDATE ai_usage_events SET cost_usd = 12 WHERE event_id = 'p1'"); err != nil {
		t.Fatal(err)
	}
	if err := postgres.NotifyReseed(ctx, conn, "reprice"); err != nil {
		t.Fatal(err)
	}
	c.set(c.now().Add(20 * time.Second))
	settle(t, ctx, d.a)
	settle(t, ctx, d.a)
	if got, want := h.wait(1), []string{"daily warning firing"}; !slices.Equal(got, want) {
		t.Errorf("after the cost went from 6 to 12 USD: notified %q, want %q", got, want)
	}
}

// TestAlerts_StartResolvesRemovedRule: a rule removed from the file while
// no daemon ran has its firing alerts resolved by the next leader, once.
func TestAlerts_StartResolvesRemovedRule(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	h := newHook(t)
	day := time.Now().UTC().Truncate(24 * time.Hour)
	c := &clock{t: day.Add(10 * time.Hour)}
	ctx := context.Background()
	d1 := newDaemon(t, dsn, h.file(t, "  - {name: daily, metric: cost_usd, period: day, warning: 10}\n"), c)
	settle(t, ctx, d1.a)
	d1.write(t, c.now().Add(-time.Minute), "s1", "ann", "12")
	c.set(c.now().Add(20 * time.Second))
	settle(t, ctx, d1.a)
	h.wait(1)
	d1.a.stop(ctx)

	f2 := h.file(t, "  - {name: other, metric: cost_usd, period: day, warning: 1000}\n")
	for range 2 { // the second start finds nothing open
		d := newDaemon(t, dsn, f2, c)
		c.set(c.now().Add(20 * time.Second))
		settle(t, ctx, d.a)
		settle(t, ctx, d.a)
		d.a.stop(ctx)
	}
	want := []string{"daily warning firing", "daily warning resolved"}
	if got := h.settled(len(want)); !slices.Equal(got, want) {
		t.Errorf("notified %q, want %q", got, want)
	}
	if n := countResolved(t, dsn, "daily"); n != 1 {
		t.Errorf("ai_alerts holds %d resolved daily transitions, want 1", n)
	}
}
