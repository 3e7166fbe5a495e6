package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRulesCheck(t *testing.T) {
	t.Setenv("ALERT_WEBHOOK", "https://hooks.example/secret-token")
	code, out, errOut := run(t, "rules", "check", "../../rules.example.yaml")
	if code != 0 || !strings.Contains(out, "ok: 8 rules, 2 notifiers") {
		t.Errorf("example: got exit %d, %q %q; want 0 and ok", code, out, errOut)
	}
	code, _, errOut = run(t, "rules", "check", "../../rules/testdata/combos.bad.yaml")
	if code != 2 || !strings.Contains(errOut, "combos.bad.yaml:10:5: rules[0].window: missing") {
		t.Errorf("bad file: got exit %d, %q; want 2 and file:line", code, errOut)
	}
	code, _, errOut = run(t, "rules", "check", filepath.Join(t.TempDir(), "none.yaml"))
	if code != 2 || !strings.Contains(errOut, "none.yaml") {
		t.Errorf("missing file: got exit %d, %q; want 2", code, errOut)
	}
	if code, _, _ = run(t, "rules", "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: got exit %d, want 2", code)
	}
}

// TestRulesTest_ExactTransitions replays two files written side by side:
// whichever order they are given in, the transitions are the same, exactly.
func TestRulesTest_ExactTransitions(t *testing.T) {
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(`query_offset: 5s
rules:
  - {name: spend, metric: cost_usd, window: 1m, group_by: [feature], warning: 0.5, critical: 1}
  - {name: quiet, metric: requests, window: 1m, critical: 1, below: true}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var a, b strings.Builder
	// Two servers each log a call every 2 s, a second apart, for 2 minutes;
	// from 0:30 the quiz feature costs 0.05 USD a call.
	for i := range 120 {
		w, feature := &a, "quiz"
		if i%2 == 1 {
			w, feature = &b, "chat"
		}
		cost := "0.001"
		if feature == "quiz" && i >= 30 {
			cost = "0.05"
		}
		fmt.Fprintf(w, `%s INFO llm AI_COST: {"request_id":"r%d","timestamp":"%s","model":"gpt-4o-mini","feature":"%s","cost_usd":%s}`+"\n",
			start.Format(time.RFC3339), i, start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), feature, cost)
	}
	fa, fb := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	for p, s := range map[string]string{fa: a.String(), fb: b.String()} {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := run(t, "rules", "test", "--rules", rulesPath, fa, fb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := strings.Join([]string{
		`{"at":"2026-11-01T12:00:50Z","alertname":"spend","severity":"warning","state":"firing","value":0.515,"labels":{"alertname":"spend","feature":"quiz","severity":"warning"}}`,
		// [12:00:10, 12:01:10) holds 10 quiz calls at 0.001 and 20 at 0.05.
		`{"at":"2026-11-01T12:01:10Z","alertname":"spend","severity":"warning","state":"resolved","value":1.01,"labels":{"alertname":"spend","feature":"quiz","severity":"warning"}}`,
		`{"at":"2026-11-01T12:01:10Z","alertname":"spend","severity":"critical","state":"firing","value":1.01,"labels":{"alertname":"spend","feature":"quiz","severity":"critical"}}`,
		// The replay ends at the first tick after the last record (12:02:00),
		// so the quiet rule has not fired yet.
	}, "\n") + "\n"
	if out != want {
		t.Errorf("transitions:\ngot:\n%s\nwant:\n%s", out, want)
	}
	_, out2, _ := run(t, "rules", "test", "--rules", rulesPath, fb, fa)
	if out2 != out {
		t.Errorf("files in the other order:\ngot:\n%s\nwant:\n%s", out2, out)
	}
	if !strings.Contains(errOut, "2 files, 120 records, 0 rejects, 3 transitions") {
		t.Errorf("summary: got %q", errOut)
	}
}
