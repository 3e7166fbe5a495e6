package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokentail/tokentail/internal/loggen"
	"github.com/tokentail/tokentail/internal/testenv"
)

// TestBackfillAlerts_FailedReceiverSendsAgain: when the receiver fails,
// backfill --alerts stores nothing of what it could not deliver, so the
// next run sends it; once delivered and stored, a third run sends nothing.
func TestBackfillAlerts_FailedReceiverSendsAgain(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	var fail atomic.Bool
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "down", http.StatusBadRequest) // permanent: no retries
			return
		}
		got.Add(1)
	}))
	defer srv.Close()
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(fmt.Sprintf(`evaluation_interval: 10s
query_offset: 2h
notifiers:
  - {name: hook, type: webhook, url: %q, max_retries: 0}
rules:
  - {name: spend, metric: cost_usd, window: 5m, warning: 0.2}
`, srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "app.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loggen.New(loggen.Options{Seed: 3, Step: time.Second}).WriteN(f, 2000); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "tokentail.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf("sources:\n  - {name: app, paths: [%q]}\nstate_dir: %q\npostgres: {dsn: %q}\nrules_file: %q\n",
		logPath, filepath.Join(dir, "state"), dsn, rulesPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	stored := func() int {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM ai_alerts").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	fail.Store(true)
	code, _, errOut := run(t, "backfill", logPath, "--alerts", "--config", cfgPath)
	if code == 0 || !strings.Contains(errOut, "sends them again") {
		t.Fatalf("with a failing receiver: exit %d, stderr %q; want a failure saying a rerun sends them", code, errOut)
	}
	if n := stored(); n != 0 {
		t.Errorf("ai_alerts holds %d transitions that were never delivered", n)
	}

	fail.Store(false)
	code, out, errOut := run(t, "backfill", logPath, "--alerts", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("second run: exit %d: %s", code, errOut)
	}
	sent, n := got.Load(), stored()
	if sent == 0 || n == 0 || !strings.Contains(out, fmt.Sprintf("(0 already in ai_alerts, not notified again); notifications %d sent", n)) {
		t.Fatalf("second run: receiver got %d requests, ai_alerts holds %d; output:\n%s", sent, n, out)
	}

	code, out, errOut = run(t, "backfill", logPath, "--alerts", "--config", cfgPath)
	if code != 0 || got.Load() != sent || !strings.Contains(out, fmt.Sprintf("(%d already in ai_alerts, not notified again); notifications 0 sent", n)) {
		t.Errorf("third run: exit %d, receiver got %d more requests; output:\n%s%s", code, got.Load()-sent, out, errOut)
	}
}
