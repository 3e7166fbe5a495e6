package rules

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
)

// drive feeds recs to e as a replay does and advances to t0+until.
func drive(t *testing.T, e *Engine, recs []rec, until time.Duration) []string {
	t.Helper()
	var out []string
	add := func(ts []Transition) {
		for _, tr := range ts {
			out = append(out, fmtTransition(tr))
		}
	}
	for _, r := range recs {
		p := r.record(t)
		add(e.Advance(p.OccurredAt))
		e.Observe(&p)
	}
	add(e.Advance(t0.Add(until)))
	return out
}

// feed gives recs to observe (Observe, or ObserveFresh for history), as
// records read back from the database.
func feed(t *testing.T, observe func(*parse.Record), recs []rec) {
	t.Helper()
	for _, r := range recs {
		p := r.record(t)
		observe(&p)
	}
}

const budgets = head + `  - {name: daily, metric: cost_usd, period: day, warning: 80, critical: 100}
  - {name: per-user, metric: cost_usd, period: day, group_by: [user_id], warning: 50}
`

func TestContinue_KeepsUnchangedRules(t *testing.T) {
	e := New(mustParse(t, budgets), nil)
	check(t, drive(t, e, []rec{{at: time.Hour, cost: "60", user: "ann"}, {at: 2 * time.Hour, cost: "30", user: "bob"}}, 3*time.Hour), []string{
		"+1h0m10s firing warning 60 {user_id=ann}",
		"+2h0m10s firing warning 90 {}",
	})

	// A reload: daily is unchanged, per-user has a new threshold, a rule is added.
	f := mustParse(t, budgets[:len(budgets)-len("warning: 50}\n")]+"warning: 70}\n"+
		`  - {name: hourly, metric: requests, window: 1h, warning: 0}
`)
	e2 := Continue(f, nil, e)
	if got, want := e2.Fresh(), []string{"per-user", "hourly"}; !equal(got, want) {
		t.Fatalf("Fresh() = %v, want %v", got, want)
	}
	// History for the fresh rules only: daily has counted it already.
	feed(t, e2.ObserveFresh, []rec{{at: time.Hour, cost: "60", user: "ann"}, {at: 2 * time.Hour, cost: "30", user: "bob"}})
	// daily keeps its 90 and its firing warning (not announced again); it
	// turns critical with 15 more. per-user keeps ann's firing alert, as
	// Prometheus does for an edited rule; its next evaluation resolves it
	// (60 is under 70), and 15 more fire it again.
	check(t, drive(t, e2, []rec{{at: 3*time.Hour + time.Minute, cost: "15", user: "ann"}}, 4*time.Hour), []string{
		"+3h0m10s resolved warning 60 {user_id=ann}",
		"+3h1m10s resolved warning 105 {}",
		"+3h1m10s firing critical 105 {}",
		"+3h1m10s firing warning 75 {user_id=ann}",
		"+3h2m0s firing warning 1 {}", // hourly, new, counts from its history on
	})
}

func TestRestore_NotAnnouncedAgain(t *testing.T) {
	f := mustParse(t, head+`  - {name: slow, metric: duration_ms, aggregate: max, window: 1m, warning: 1000, for: 30s}
  - {name: daily, metric: cost_usd, period: day, group_by: [feature], warning: 10}
`)
	history := []rec{
		{at: 5 * time.Second, ms: 2000, feature: "quiz", cost: "12"},
		{at: 50 * time.Second, ms: 2500, feature: "chat", cost: "1"},
	}
	// The first daemon: slow fires at 40s (held since 10s), daily for quiz at 10s.
	a := New(f, nil)
	check(t, drive(t, a, history, 55*time.Second), []string{
		"+10s firing warning 12 {feature=quiz}",
		"+40s firing warning 2000 {}",
	})
	b, err := json.Marshal(a.State())
	if err != nil {
		t.Fatal(err)
	}

	// The next one (a restart, or a new leader): state from storage,
	// records from the database.
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	n := New(f, nil)
	n.Restore(&st)
	if got, want := len(n.Firing()), 2; got != want {
		t.Fatalf("Firing() after Restore: %d alerts, want %d", got, want)
	}
	feed(t, n.Observe, history)
	// Nothing is announced again; slow resolves once when 2500 (in the
	// bucket [50s, 60s)) leaves the window at 2m, and chat's day stays under 10.
	check(t, drive(t, n, nil, 3*time.Minute), []string{
		"+2m0s resolved warning none {}",
	})

	t.Run("an edited rule keeps its alerts", func(t *testing.T) {
		// A new threshold that 2500 still passes: slow stays firing, not
		// announced again, and resolves when 2500 leaves the window.
		g := mustParse(t, head+`  - {name: slow, metric: duration_ms, aggregate: max, window: 1m, warning: 1500, for: 30s}
`)
		n := New(g, nil)
		n.Restore(&st)
		if got := len(n.Firing()); got != 1 {
			t.Fatalf("Firing() = %d alerts, want slow's 1", got)
		}
		feed(t, n.Observe, history)
		check(t, drive(t, n, nil, 3*time.Minute), []string{"+2m0s resolved warning none {}"})
	})
	t.Run("a rule with other labels or groups starts afresh", func(t *testing.T) {
		for _, rule := range []string{
			`{name: slow, metric: duration_ms, aggregate: max, window: 1m, warning: 1000, for: 30s, labels: {team: web}}`,
			`{name: daily, metric: cost_usd, period: day, group_by: [model], warning: 10}`,
		} {
			n := New(mustParse(t, head+"  - "+rule+"\n"), nil)
			n.Restore(&st)
			if got := len(n.Firing()); got != 0 {
				t.Errorf("%s: Firing() = %d alerts, want 0: its alerts are other alerts", rule, got)
			}
		}
	})
	t.Run("state stored without identities", func(t *testing.T) {
		old := st
		old.Rules = append([]RuleState(nil), st.Rules...)
		for i := range old.Rules {
			old.Rules[i].Identity = ""
		}
		g := mustParse(t, head+`  - {name: slow, metric: duration_ms, aggregate: max, window: 1m, warning: 1500, for: 30s}
`)
		n := New(g, nil)
		n.Restore(&old)
		if got := len(n.Firing()); got != 0 {
			t.Errorf("Firing() = %d alerts, want 0: an edited rule is told from an unchanged one by its hash only", got)
		}
	})
	t.Run("pending keeps its for", func(t *testing.T) {
		a := New(f, nil)
		drive(t, a, history[:1], 20*time.Second) // pending since 10s
		n := New(f, nil)
		n.Restore(a.State())
		p := history[0].record(t)
		n.Observe(&p)
		// Fires at 40s as the first daemon would have, not 30s after the restart.
		got := drive(t, n, nil, 45*time.Second)
		check(t, got, []string{"+40s firing warning 2000 {}"})
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestContinue_NewInterval: a new evaluation_interval carries no data (it
// cuts windows into other buckets) but keeps the alerts: what still holds
// is not announced again.
func TestContinue_NewInterval(t *testing.T) {
	e := New(mustParse(t, budgets), nil)
	check(t, drive(t, e, []rec{{at: time.Hour, cost: "60", user: "ann"}, {at: 2 * time.Hour, cost: "30", user: "bob"}}, 3*time.Hour), []string{
		"+1h0m10s firing warning 60 {user_id=ann}",
		"+2h0m10s firing warning 90 {}",
	})
	f := mustParse(t, "evaluation_interval: 30s\n"+budgets)
	if f.EvaluationInterval != 30*time.Second {
		t.Fatalf("the test's rules file has evaluation_interval %v, want 30s", f.EvaluationInterval)
	}
	e2 := Continue(f, nil, e)
	if got, want := e2.Fresh(), []string{"daily", "per-user"}; !equal(got, want) {
		t.Fatalf("Fresh() = %v, want %v", got, want)
	}
	if got := len(e2.Firing()); got != 2 {
		t.Fatalf("Firing() = %d alerts, want the 2 that fired", got)
	}
	t3, _ := e.Evaluated()
	e2.StartAt(t3)
	feed(t, e2.ObserveFresh, []rec{{at: time.Hour, cost: "60", user: "ann"}, {at: 2 * time.Hour, cost: "30", user: "bob"}})
	check(t, drive(t, e2, []rec{{at: 3*time.Hour + time.Minute, cost: "15", user: "ann"}}, 4*time.Hour), []string{
		"+3h1m30s resolved warning 105 {}",
		"+3h1m30s firing critical 105 {}",
	})
}

// TestContinue_EditedRuleEdges: what an edited rule does not take over.
func TestContinue_EditedRuleEdges(t *testing.T) {
	t.Run("a below rule's group the new where no longer sees resolves", func(t *testing.T) {
		const rule = `  - {name: quiet, metric: requests, window: 1m, critical: 1, below: true, group_by: [feature], where: {model: MODEL}}` + "\n"
		history := []rec{{at: time.Second, feature: "quiz", model: "a"}, {at: 50 * time.Second, feature: "quiz", model: "a"}}
		e := New(mustParse(t, head+strings.ReplaceAll(rule, "MODEL", "a")), nil)
		check(t, drive(t, e, history, 2*time.Minute+5*time.Second), []string{"+2m0s firing critical 0 {feature=quiz}"})
		e2 := Continue(mustParse(t, head+strings.ReplaceAll(rule, "MODEL", "b")), nil, e)
		if got := len(e2.Firing()); got != 1 {
			t.Fatalf("Firing() = %d alerts, want quiz's 1, taken over", got)
		}
		feed(t, e2.ObserveFresh, history)
		check(t, drive(t, e2, nil, 10*time.Minute), []string{"+2m10s resolved critical none {feature=quiz}"})
	})
	t.Run("a below alert on traffic stopped long ago stays when only its threshold changes", func(t *testing.T) {
		const rule = `  - {name: quiet, metric: requests, window: 1m, critical: CRIT, below: true, group_by: [feature]}` + "\n"
		e := New(mustParse(t, head+strings.ReplaceAll(rule, "CRIT", "1")), nil)
		check(t, drive(t, e, []rec{{at: time.Second, feature: "quiz"}, {at: 50 * time.Second, feature: "quiz"}}, 30*time.Minute),
			[]string{"+2m0s firing critical 0 {feature=quiz}"})
		// History (the last minute or so) holds nothing of quiz.
		e2 := Continue(mustParse(t, head+strings.ReplaceAll(rule, "CRIT", "2")), nil, e)
		check(t, drive(t, e2, nil, time.Hour), nil)
		if got := len(e2.Firing()); got != 1 {
			t.Errorf("Firing() = %d alerts, want quiz's 1: its traffic is still stopped", got)
		}
		check(t, drive(t, e2, []rec{{at: time.Hour + time.Second, feature: "quiz"}, {at: time.Hour + 2*time.Second, feature: "quiz"}}, time.Hour+20*time.Second),
			[]string{"+1h0m10s resolved critical 2 {feature=quiz}"})
	})
	t.Run("a severity the rule no longer has is not taken over", func(t *testing.T) {
		e := New(mustParse(t, budgets), nil)
		check(t, drive(t, e, []rec{{at: time.Hour, cost: "105", user: "ann"}}, 2*time.Hour), []string{
			"+1h0m10s firing critical 105 {}",
			"+1h0m10s firing warning 105 {user_id=ann}",
		})
		e2 := Continue(mustParse(t, head+`  - {name: daily, metric: cost_usd, period: day, warning: 80}
  - {name: per-user, metric: cost_usd, period: day, group_by: [user_id], warning: 50}
`), nil, e)
		var got []string
		for _, tr := range e2.Firing() {
			got = append(got, fmtTransition(tr))
		}
		if want := []string{"+2h0m0s firing warning 105 {user_id=ann}"}; !equal(got, want) {
			t.Errorf("Firing() = %q, want %q (daily's critical is resolved by the reload)", got, want)
		}
	})
}
