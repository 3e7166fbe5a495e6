package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
)

// t0 is a Monday, 00:00 UTC.
var t0 = time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)

// rec builds a record at t0+at.
type rec struct {
	at      time.Duration
	model   string
	feature string
	user    string
	cost    string // dollars
	tokens  int64
	ms      float64 // 0: no duration
	fail    bool
	attrs   string
}

func (r rec) record(t *testing.T) parse.Record {
	t.Helper()
	p := parse.Record{OccurredAt: t0.Add(r.at), Model: r.model, Feature: r.feature, UserID: r.user,
		TotalTokens: r.tokens, Success: !r.fail, Attributes: []byte(r.attrs), Source: "api"}
	if p.Model == "" {
		p.Model = "gpt-4o-mini"
	}
	if r.attrs == "" {
		p.Attributes = []byte("{}")
	}
	if r.cost != "" {
		m, err := parse.ParseMoney(r.cost)
		if err != nil {
			t.Fatal(err)
		}
		p.Cost = m
	}
	if r.ms > 0 {
		p.DurationMS, p.HasDuration = r.ms, true
	}
	return p
}

func mustParse(t *testing.T, y string) *File {
	t.Helper()
	f, err := Parse("test.yaml", []byte(y), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parse rules: %v", err)
	}
	return f
}

// replay drives an engine as `rules test` does, with the given records in
// order, then advances to t0+until. It returns the transitions as
// "+1m0s firing warning 15 {feature=x}" lines.
func replay(t *testing.T, f *File, recs []rec, until time.Duration) []string {
	t.Helper()
	e := New(f, nil)
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

func fmtTransition(tr Transition) string {
	v := "none"
	if tr.HasValue {
		v = formatValue(tr.Value)
	}
	var ls []string
	for _, l := range tr.Labels {
		if l.Name != "alertname" && l.Name != "severity" {
			ls = append(ls, l.Name+"="+l.Value)
		}
	}
	return fmt.Sprintf("+%s %s %s %s {%s}", tr.At.Sub(t0), tr.State(), tr.Severity, v, strings.Join(ls, ","))
}

func check(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("transitions:\ngot:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

const head = "query_offset: 0s\nrules:\n"

func TestEngine_Transitions(t *testing.T) {
	tests := []struct {
		name  string
		rule  string
		recs  []rec
		until time.Duration
		want  []string
	}{
		{
			name: "window sum: warning, escalation, downgrade, resolve",
			rule: `{name: spend, metric: cost_usd, window: 1m, warning: 10, critical: 20}`,
			recs: []rec{{at: 5 * time.Second, cost: "15"}, {at: 15 * time.Second, cost: "10"}},
			// The window at T is [T-1m, T): the 15 leaves it at 1m10s, the 10 at 1m20s.
			until: 3 * time.Minute,
			want: []string{
				"+10s firing warning 15 {}",
				"+20s resolved warning 25 {}",
				"+20s firing critical 25 {}",
				"+1m10s resolved critical 10 {}", // 10 is not above 10

			},
		},
		{
			name: "for: the condition must hold that long; a dip restarts it",
			rule: `{name: slow, metric: duration_ms, aggregate: max, window: 30s, warning: 1000, for: 20s}`,
			recs: []rec{
				{at: 1 * time.Second, ms: 2000}, // crosses at 10s; would fire at 30s
				{at: 31 * time.Second, ms: 100}, // window at 40s holds only 100: dip
				{at: 45 * time.Second, ms: 3000},
			},
			until: 2 * time.Minute,
			want: []string{
				"+30s firing warning 2000 {}", // held at 10s, 20s, 30s
				"+40s resolved warning 100 {}",
				"+1m10s firing warning 3000 {}", // 50s + 20s
				"+1m20s resolved warning none {}",
			},
		},
		{
			name:  "keep_firing_for holds a firing alert after the condition clears",
			rule:  `{name: burst, metric: requests, window: 10s, warning: 1, keep_firing_for: 30s}`,
			recs:  []rec{{at: 1 * time.Second}, {at: 2 * time.Second}},
			until: time.Minute,
			want: []string{
				"+10s firing warning 2 {}",
				"+50s resolved warning 0 {}", // cleared at 20s, kept until 50s
			},
		},
		{
			name:  "min_count: too few events is no value",
			rule:  `{name: errs, metric: error_rate, window: 1m, warning: 0.5, min_count: 3}`,
			recs:  []rec{{at: 1 * time.Second, fail: true}, {at: 2 * time.Second, fail: true}, {at: 12 * time.Second, fail: false}},
			until: 2 * time.Minute,
			want: []string{
				"+20s firing warning 0.666667 {}",
				"+1m10s resolved warning none {}",
			},
		},
		{
			name: "below: traffic that stops",
			rule: `{name: quiet, metric: requests, window: 1m, critical: 1, below: true, group_by: [feature]}`,
			recs: []rec{{at: 1 * time.Second, feature: "quiz"}, {at: 50 * time.Second, feature: "quiz"},
				{at: 3 * time.Minute, feature: "quiz"}},
			until: 4*time.Minute + 10*time.Second,
			want: []string{
				"+2m0s firing critical 0 {feature=quiz}", // [1m, 2m) is empty
				"+3m10s resolved critical 1 {feature=quiz}",
				"+4m10s firing critical 0 {feature=quiz}",
			},
		},
		{
			name: "baseline: a window against the pace of the span before it",
			rule: `{name: surge, metric: total_tokens, window: 1m, baseline: 5m, warning: 3}`,
			recs: func() []rec {
				var rs []rec
				for i := range 7 { // 100 tokens a minute
					rs = append(rs, rec{at: time.Duration(i)*time.Minute + 5*time.Second, tokens: 100})
				}
				rs = append(rs, rec{at: 7*time.Minute + 5*time.Second, tokens: 350})
				return rs
			}(),
			// Before 6m the baseline span [T-6m, T-1m) is not all observed: no value.
			until: 9 * time.Minute,
			want: []string{
				"+7m10s firing warning 3.5 {}", // 350 ÷ (500 × 1m/5m)
				"+8m10s resolved warning 0 {}", // the window [7m10s, 8m10s) is empty
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustParse(t, head+"  - "+tc.rule+"\n")
			check(t, replay(t, f, tc.recs, tc.until), tc.want)
		})
	}
}

func TestEngine_Periods(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name  string
		rule  string
		recs  []rec
		until time.Duration
		want  []string
	}{
		{
			name: "daily budget per user resets at midnight in its timezone",
			// Europe/Paris is UTC+2 in June: its day starts at 22:00 UTC.
			rule: `{name: user-budget, metric: cost_usd, period: day, timezone: Europe/Paris, group_by: [user_id], warning: 5, critical: 10}`,
			recs: []rec{
				{at: 1 * h, user: "ann", cost: "6"},
				{at: 2 * h, user: "bob", cost: "4"},
				{at: 3 * h, user: "ann", cost: "4.5"},
				{at: 21*h + 59*time.Minute, user: "bob", cost: "2"},
				{at: 22*h + 5*time.Minute, user: "bob", cost: "2"}, // the next Paris day
			},
			until: 23 * h,
			want: []string{
				"+1h0m10s firing warning 6 {user_id=ann}",
				"+3h0m10s resolved warning 10.5 {user_id=ann}",
				"+3h0m10s firing critical 10.5 {user_id=ann}",
				"+21h59m10s firing warning 6 {user_id=bob}",
				"+22h0m10s resolved critical 0 {user_id=ann}",
				"+22h0m10s resolved warning 0 {user_id=bob}",
			},
		},
		{
			name: "zscore_over: today against each of the earlier days",
			rule: `{name: cost-anomaly, metric: cost_usd, period: day, zscore_over: 5d, warning: 2}`,
			recs: []rec{
				{at: 0*24*h + h, cost: "10"}, {at: 1*24*h + h, cost: "12"}, {at: 2*24*h + h, cost: "8"},
				{at: 3*24*h + h, cost: "10"}, {at: 4*24*h + h, cost: "10"}, // mean 10, sd √2
				{at: 5*24*h + h, cost: "12"},  // z = 1.41
				{at: 5*24*h + 2*h, cost: "1"}, // 13: z = 2.12
			},
			until: 6*24*h + h,
			want: []string{
				"+122h0m10s firing warning 2.12132 {}",
				"+144h0m10s resolved warning -5.43769 {}", // the next day starts at zero; days 1-5 are 12 8 10 10 13
			},
		},
		{
			name: "p95 latency per model",
			rule: `{name: p95, metric: duration_ms, aggregate: p95, window: 5m, group_by: [model], warning: 2000, critical: 4000}`,
			recs: func() []rec {
				var rs []rec
				for i := range 100 {
					ms := 100.0
					if i >= 90 {
						ms = 3000 // 10% slow: p95 is 3000
					}
					rs = append(rs, rec{at: time.Duration(i) * time.Second, model: "m1", ms: ms})
				}
				return rs
			}(),
			until: 10 * time.Minute,
			want: []string{
				"+1m40s firing warning 3011.57 {model=m1}", // within 1% of 3000
				"+6m40s resolved warning none {model=m1}",  // the slow ones leave at 1m30s+5m
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustParse(t, head+"  - "+tc.rule+"\n")
			check(t, replay(t, f, tc.recs, tc.until), tc.want)
		})
	}
}

func TestEngine_GroupAndWhere(t *testing.T) {
	f := mustParse(t, head+`  - name: school-spend
    metric: cost_usd
    window: 1m
    group_by: [school, feature]
    where: {model: "gpt-4o*", plan: "[^f]*", status: ok}
    warning: 1
`)
	e := New(f, nil)
	recs := []rec{
		{at: time.Second, model: "gpt-4o-mini", feature: "quiz", cost: "2", attrs: `{"school":"lycee-1","plan":"pro"}`},
		{at: time.Second, model: "gpt-4o", feature: "quiz", cost: "2", attrs: `{"school":"lycee-2","plan":"free"}`},
		{at: time.Second, model: "claude-3", feature: "quiz", cost: "2", attrs: `{"school":"lycee-3","plan":"pro"}`},
		{at: time.Second, model: "gpt-4o", feature: "chat", cost: "2", fail: true, attrs: `{"school":"lycee-4","plan":"pro"}`},
		{at: time.Second, model: "gpt-4o", cost: "3", attrs: `{"school":12,"plan":"pro"}`},
	}
	var got []string
	for _, r := range recs {
		p := r.record(t)
		e.Observe(&p)
	}
	for _, tr := range e.Eval(t0.Add(10 * time.Second)) {
		got = append(got, fmtTransition(tr))
	}
	check(t, got, []string{
		"+10s firing warning 2 {feature=quiz,school=lycee-1}",
		"+10s firing warning 3 {school=12}", // no feature: no label
	})
}

func TestEngine_GroupCap(t *testing.T) {
	f := mustParse(t, head+"  - {name: u, metric: requests, period: day, group_by: [user_id], warning: 1, max_groups: 2}\n")
	e := New(f, nil)
	for _, u := range []string{"a", "b", "c", "a", "d"} {
		p := rec{at: time.Second, user: u}.record(t)
		e.Observe(&p)
	}
	st := e.Stats()[0]
	if got, want := st.Groups, 2; got != want {
		t.Errorf("groups: got %d, want %d", got, want)
	}
	if got, want := st.GroupsDropped, uint64(2); got != want {
		t.Errorf("dropped: got %d, want %d", got, want)
	}
}

// TestEngine_OrderIndependent checks that records shuffled within the
// query offset (as when several files are read in turn) give exactly the
// transitions of the ordered stream.
func TestEngine_OrderIndependent(t *testing.T) {
	f := mustParse(t, `query_offset: 30s
rules:
  - {name: spend, metric: cost_usd, window: 2m, group_by: [feature], warning: 3, critical: 6, for: 20s}
  - {name: p90, metric: duration_ms, aggregate: p90, window: 1m, warning: 500}
  - {name: day, metric: total_tokens, period: day, group_by: [user_id], warning: 2000}
  - {name: errors, metric: error_rate, window: 1m, warning: 0.2, min_count: 5}
  - {name: quiet, metric: requests, window: 1m, critical: 1, below: true}
`)
	var recs []rec
	seed := uint64(1)
	rnd := func(n int) int { seed = seed*6364136223846793005 + 1442695040888963407; return int(seed>>33) % n }
	for i := range 3000 {
		at := time.Duration(i)*2*time.Second + time.Duration(rnd(1000))*time.Millisecond
		if i > 1500 && i < 1600 {
			continue // a gap: the quiet rule fires
		}
		recs = append(recs, rec{at: at, feature: []string{"quiz", "chat"}[rnd(2)], user: fmt.Sprint("u", rnd(7)),
			cost: fmt.Sprintf("0.%02d", rnd(30)), tokens: int64(rnd(100)), ms: float64(100 + rnd(800)), fail: rnd(5) == 0})
	}
	ordered := replay(t, f, recs, 3*time.Hour)
	if len(ordered) < 10 {
		t.Fatalf("only %d transitions: the data does not exercise the rules", len(ordered))
	}
	// Each record arrives up to 20s late: order by time plus a delay.
	type delayed struct {
		r   rec
		key time.Duration
	}
	var ds []delayed
	for _, r := range recs {
		ds = append(ds, delayed{r, r.at + time.Duration(rnd(20000))*time.Millisecond})
	}
	slices.SortStableFunc(ds, func(a, b delayed) int { return int(a.key - b.key) })
	var shuffled []rec
	moved := 0
	for i, d := range ds {
		shuffled = append(shuffled, d.r)
		if d.r != recs[i] {
			moved++
		}
	}
	if moved < len(recs)/2 {
		t.Fatalf("only %d records moved", moved)
	}
	// The replay clock is the latest time seen, as in `rules test`.
	e := New(f, nil)
	var got []string
	var clock time.Time
	for _, r := range shuffled {
		p := r.record(t)
		if p.OccurredAt.After(clock) {
			clock = p.OccurredAt
		}
		for _, tr := range e.Advance(clock) {
			got = append(got, fmtTransition(tr))
		}
		e.Observe(&p)
	}
	for _, tr := range e.Advance(t0.Add(3 * time.Hour)) {
		got = append(got, fmtTransition(tr))
	}
	check(t, got, ordered)
}
