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
				"+7m10s firing warning 3.5 {}",  // 350 ÷ (500 × 1m/5m)
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
