package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"

	"github.com/tokentail/tokentail/internal/loggen"
	"github.com/tokentail/tokentail/internal/pipeline"
	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/rules"
	"github.com/tokentail/tokentail/writers/postgres"
)

// agreeRules have thresholds low enough for generated traffic to cross them
// and fall back, in every kind of rule.
//
// Generated lines are out of time order (a few are dated an hour off, as
// with a logger writing local time without its zone): a query_offset longer
// than that makes every record on time, so that what is compared is what
// the rules compute from the database's rows and from the log lines.
const agreeRules = `evaluation_interval: 10s
query_offset: 2h
notifiers:
  - {name: log, type: log}
rules:
  - {name: spend, metric: cost_usd, window: 5m, group_by: [feature], warning: 0.2, critical: 0.5}
  - {name: errors, metric: error_rate, window: 5m, warning: 3%, critical: 7%, for: 1m, min_count: 20}
  - {name: p95, metric: duration_ms, aggregate: p95, window: 5m, group_by: [model], warning: 2000, critical: 4000, min_count: 5}
  - {name: tokens, metric: total_tokens, aggregate: rate, window: 1m, baseline: 10m, warning: 1.3}
  - {name: daily, metric: cost_usd, period: day, warning: 0.5, critical: 1}
  - {name: user-daily, metric: cost_usd, period: day, group_by: [user_id], warning: 0.1}
  - {name: quiet, metric: requests, window: 2m, group_by: [feature], critical: 1, below: true}
`

// TestRulesTest_AgreesWithRun: `rules test` over log files, and the daemon
// evaluating the same records from the database (as `run` does with
// PostgreSQL), give the same transitions.
func TestRulesTest_AgreesWithRun(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(agreeRules), 0o600); err != nil {
		t.Fatal(err)
	}
	var files []string
	for i := range 2 {
		p := filepath.Join(dir, fmt.Sprintf("app-%d.log", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		g := loggen.New(loggen.Options{Seed: uint64(10 + i), Noise: 0.2, Malformed: 0.02, Step: time.Second})
		if _, err := g.WriteN(f, 2500); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	cfgPath := filepath.Join(dir, "tokentail.yaml")
	cfg := fmt.Sprintf("sources:\n  - {name: app, paths: [%q]}\nstate_dir: %q\npostgres: {dsn: %q}\nrules_file: %q\n",
		filepath.Join(dir, "*.log"), filepath.Join(dir, "state"), dsn, rulesPath)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run(t, "rules", "test", "--config", cfgPath, "--rules", rulesPath, files[0], files[1])
	if code != 0 {
		t.Fatalf("rules test: exit %d: %s", code, errOut)
	}
	t.Logf("rules test: %s", strings.TrimSpace(errOut))
	replayed := canonical(t, strings.Split(strings.TrimSpace(out), "\n"))
	if len(replayed) < 10 {
		t.Fatalf("rules test gave %d transitions: too few for a comparison to mean anything:\n%s", len(replayed), out)
	}
	if code, _, errOut := run(t, "backfill", "--config", cfgPath, files[0], files[1]); code != 0 {
		t.Fatalf("backfill: exit %d: %s", code, errOut)
	}

	// The daemon: the database's rows, its clock stepping through the
	// records' hours.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var first, last time.Time
	if err := conn.QueryRow(ctx, "SELECT min(occurred_at), max(occurred_at) FROM ai_usage_events").Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	var nrows int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM ai_usage_events").Scan(&nrows); err != nil {
		t.Fatal(err)
	}
	t.Logf("stored %d rows", nrows)
	f, err := rules.Load(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	w, err := postgres.Open(ctx, postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	now := first
	metrics := pipeline.NewMetrics()
	a := pipeline.NewAlerts(f, slog.New(slog.DiscardHandler), metrics, func() time.Time { return now }, w)
	end := last.Add(f.QueryOffset + f.EvaluationInterval)
	for ; !now.After(end); now = now.Add(30 * time.Second) {
		a.Tick(ctx)
	}
	now = end
	// Other tests' transactions in the cluster may hold the horizon for a
	// while, and the leader then waits for them: tick again at the same
	// clock until it has evaluated up to it.
	for deadline := time.Now().Add(time.Minute); ; {
		a.Tick(ctx)
		var m, leader dto.Metric
		if err := metrics.RulesBehind.Write(&m); err != nil {
			t.Fatal(err)
		}
		if err := metrics.RulesLeader.Write(&leader); err != nil {
			t.Fatal(err)
		}
		if leader.GetGauge().GetValue() == 1 && m.GetGauge().GetValue() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules still %v s behind (leading: %v) after a minute: a transaction of another test stays open", m.GetGauge().GetValue(), leader.GetGauge().GetValue() == 1)
		}
		time.Sleep(25 * time.Millisecond)
	}

	rows, err := conn.Query(ctx, `SELECT json_build_object('at', at, 'alertname', rule, 'severity', severity, 'state', state, 'value', value, 'labels', labels)::text FROM ai_alerts`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	stored := canonical(t, lines)
	if !slices.Equal(stored, replayed) {
		t.Errorf("run stored %d transitions, rules test printed %d; they differ:\nrun:\n  %s\nrules test:\n  %s",
			len(stored), len(replayed), strings.Join(stored, "\n  "), strings.Join(replayed, "\n  "))
	}

	// backfill --alerts stores the history's transitions too, the same
	// ones: with the resolved ones deleted, it brings back exactly those,
	// and notifies only those (the others were announced before).
	tag, err := conn.Exec(ctx, "DELETE FROM ai_alerts WHERE state = 'resolved'")
	if err != nil {
		t.Fatal(err)
	}
	deleted := int(tag.RowsAffected())
	code, out, errOut = run(t, "backfill", "--alerts", "--config", cfgPath, files[0], files[1])
	if code != 0 {
		t.Fatalf("backfill --alerts: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, fmt.Sprintf("%d firing and", countState(replayed, "firing"))) {
		t.Errorf("backfill --alerts summary: %s", out)
	}
	if want := fmt.Sprintf("(%d already in ai_alerts, not notified again); notifications %d sent, 0 failed", len(replayed)-deleted, deleted); !strings.Contains(out, want) {
		t.Errorf("backfill --alerts summary:\n%s\nwant %q", out, want)
	}
	var total, byBackfill int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE recorded_by = 'backfill') FROM ai_alerts").Scan(&total, &byBackfill); err != nil {
		t.Fatal(err)
	}
	if total != len(replayed) || byBackfill != deleted || deleted == 0 {
		t.Errorf("after backfill --alerts: ai_alerts holds %d transitions (%d from backfill), want %d (%d from backfill)", total, byBackfill, len(replayed), deleted)
	}
}

func countState(lines []string, state string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, " "+state+" ") {
			n++
		}
	}
	return n
}

// canonical decodes transition lines and prints them back one way (times in
// UTC, values rounded to 9 digits), sorted.
func canonical(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		var tr struct {
			At        time.Time         `json:"at"`
			Alertname string            `json:"alertname"`
			Severity  string            `json:"severity"`
			State     string            `json:"state"`
			Value     *float64          `json:"value"`
			Labels    map[string]string `json:"labels"`
		}
		if err := json.Unmarshal([]byte(l), &tr); err != nil {
			t.Fatalf("transition %q: %v", l, err)
		}
		v := "null"
		if tr.Value != nil {
			v = fmt.Sprintf("%.9g", *tr.Value)
		}
		lb, _ := json.Marshal(tr.Labels)
		out = append(out, fmt.Sprintf("%s %s %s %s %s %s", tr.At.UTC().Format(time.RFC3339Nano), tr.Alertname, tr.Severity, tr.State, v, lb))
	}
	slices.Sort(out)
	return out
}
