package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokentail/tokentail/internal/testenv"
)

// TestRun_FleetAlerts: two real daemons write to one database, each from
// its own files. One evaluates the rules on both daemons' rows and notifies;
// it is killed with SIGKILL; the other takes over and notifies what follows,
// and nothing is announced twice, even when the killed one comes back.
func TestRun_FleetAlerts(t *testing.T) {
	bin := buildTokentail(t)
	dsn := testenv.PostgresDSN(t)
	dir := t.TempDir()

	var mu sync.Mutex
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []struct {
				Status string            `json:"status"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			t.Errorf("webhook: %v", err)
		}
		mu.Lock()
		for _, a := range msg.Alerts {
			got = append(got, a.Labels["severity"]+" "+a.Status)
		}
		mu.Unlock()
	}))
	defer hook.Close()
	notified := func(n int, within time.Duration) []string {
		deadline := time.Now().Add(within)
		for {
			mu.Lock()
			g := slices.Clone(got)
			mu.Unlock()
			if len(g) >= n || time.Now().After(deadline) {
				return g
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	rulesPath := filepath.Join(dir, "rules.yaml")
	writeFile(t, rulesPath, fmt.Sprintf(`evaluation_interval: 1s
query_offset: 2s
notifiers:
  - {name: hook, type: webhook, url: %q, repeat_interval: 1h}
rules:
  - {name: spend, metric: cost_usd, window: 2m, warning: 1, critical: 2}
`, hook.URL))
	type daemon struct {
		name, log, cfg string
		cmd            *exec.Cmd
	}
	newDaemon := func(name string) *daemon {
		d := &daemon{name: name, log: filepath.Join(dir, name, "logs", "app.log"), cfg: filepath.Join(dir, name, "tokentail.yaml")}
		if err := os.MkdirAll(filepath.Dir(d.log), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, d.log, "")
		writeFile(t, d.cfg, fmt.Sprintf(`sources:
  - {name: %s, paths: [%q]}
postgres: {dsn: %q, batch_timeout: 50ms}
state_dir: %q
rules_file: %q
log: {level: info, format: json}
`, name, d.log, dsn, filepath.Join(dir, name, "state"), rulesPath))
		return d
	}
	start := func(d *daemon) {
		logf, err := os.OpenFile(filepath.Join(dir, d.name+".out"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		d.cmd = exec.Command(bin, "run", "--config", d.cfg)
		d.cmd.Stdout, d.cmd.Stderr = logf, logf
		if err := d.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.cmd.Process.Kill(); _, _ = d.cmd.Process.Wait() })
	}
	leads := func(d *daemon) bool {
		b, _ := os.ReadFile(filepath.Join(dir, d.name+".out"))
		return strings.Count(string(b), "this daemon now evaluates the rules") > 0
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	n := 0
	spend := func(d *daemon, cost string) {
		t.Helper()
		f, err := os.OpenFile(d.log, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		n++
		fmt.Fprintf(f, `INFO AI_COST: {"request_id":"%s-%d","timestamp":"%s","model":"gpt-4o-mini","cost_usd":%s}`+"\n",
			d.name, n, time.Now().UTC().Format(time.RFC3339Nano), cost)
	}

	a, b := newDaemon("a"), newDaemon("b")
	start(a)
	waitFor("a to lead", func() bool { return leads(a) })
	start(b)
	// 0.6 + 0.6 USD from two daemons: over 1 only together.
	spend(a, "0.6")
	spend(b, "0.6")
	if g, want := notified(1, time.Minute), []string{"warning firing"}; !slices.Equal(g, want) {
		t.Fatalf("after 1.2 USD: notified %q, want %q", g, want)
	}

	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = a.cmd.Process.Wait()
	waitFor("b to take over", func() bool { return leads(b) })
	spend(b, "1")
	want := []string{"warning firing", "critical firing", "warning resolved"}
	g := notified(3, time.Minute)
	// The resolved warning and the firing critical are one batch per rule, in either order.
	if len(g) != 3 || g[0] != want[0] || !slices.Equal(sorted(g[1:]), sorted(want[1:])) {
		t.Fatalf("after 2.2 USD and a takeover: notified %q, want %q", g, want)
	}
	// a comes back: it does not lead, and nothing is announced again.
	start(a)
	time.Sleep(5 * time.Second)
	if g := notified(4, 0); len(g) != 3 {
		t.Errorf("after a restarted: notified %q, want the 3 above only", g)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var stored, by int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT recorded_by) FROM ai_alerts").Scan(&stored, &by); err != nil {
		t.Fatal(err)
	}
	if stored != 3 || by != 2 {
		t.Errorf("ai_alerts: %d transitions recorded by %d daemons, want 3 by 2", stored, by)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
