package rules

import (
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Hash identifies what a rule computes and when it fires: two rules with the
// same hash keep the same data and alert state, so a reload or a restart
// carries them over. Annotations and notifier routing are left out: editing
// a summary must not reset a firing alert. The evaluation interval is in,
// since it cuts windows into buckets.
func (r *Rule) Hash(interval time.Duration) string {
	var b strings.Builder
	f := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\x00", k, v) }
	f("name", r.Name)
	f("metric", r.Metric)
	f("aggregate", r.Aggregate)
	f("window", r.Window)
	f("period", r.Period)
	if r.Location != nil {
		f("timezone", r.Location.String())
	}
	f("group_by", strings.Join(r.GroupBy, "\x01"))
	for _, m := range r.Where {
		f("where."+m.Field, m.Glob)
	}
	if r.Warning != nil {
		f("warning", strconv.FormatFloat(*r.Warning, 'g', -1, 64))
	}
	if r.Critical != nil {
		f("critical", strconv.FormatFloat(*r.Critical, 'g', -1, 64))
	}
	f("below", r.Below)
	f("for", r.For)
	f("keep_firing_for", r.KeepFiringFor)
	f("min_count", r.MinCount)
	f("baseline", r.Baseline)
	f("zscore_over", r.ZScoreOver)
	for _, l := range r.Labels {
		f("label."+l.Name, l.Value)
	}
	f("max_groups", r.MaxGroups)
	f("interval", interval)
	h := fnv.New64a()
	h.Write([]byte(b.String()))
	return strconv.FormatUint(h.Sum64(), 16)
}

// Continue returns an engine for f that takes over, from prev, the data and
// alert state of every rule whose definition (Hash) is unchanged: a reload
// that edits one rule does not reset today's budget of the others, nor
// announce their firing alerts again. The other rules start without data;
// Fresh says which, and ObserveFresh feeds them history. Of those, an
// edited rule with the same identity (name, labels, group_by) keeps the
// alerts of the rule it replaces, so its next evaluation decides whether
// they still fire. prev must not be used afterwards. A nil prev is New.
func Continue(f *File, log *slog.Logger, prev *Engine) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{file: f, interval: int64(f.EvaluationInterval), offset: int64(f.QueryOffset), log: log}
	old := map[string]*ruleState{}
	byName := map[string]*ruleState{}
	if prev != nil {
		for _, rs := range prev.rules {
			if byName[rs.r.Name] == nil {
				byName[rs.r.Name] = rs
			}
		}
	}
	if prev != nil && prev.interval == e.interval {
		for _, rs := range prev.rules {
			old[rs.r.Name+"\x00"+rs.hash] = rs
		}
		e.seq, e.started, e.lastTick = prev.seq, prev.started, prev.lastTick
	}
	e.rules = make([]*ruleState, len(f.Rules))
	e.fresh = make([]bool, len(f.Rules))
	groupings := map[string]*grouping{}
	kept := map[*ruleState]bool{}
	// Carried rules first: they bring their groupings, which new rules with
	// the same group_by then share.
	for i := range f.Rules {
		r := &f.Rules[i]
		rs := old[r.Name+"\x00"+r.Hash(f.EvaluationInterval)]
		if rs == nil || kept[rs] {
			continue
		}
		kept[rs] = true
		rs.r, rs.idx = r, i
		rs.stats.Rule = r.Name
		e.rules[i] = rs
		groupings[groupingName(r.GroupBy)] = rs.grouping
	}
	if prev != nil {
		// Rules that are gone give their groups' slots back.
		for _, rs := range prev.rules {
			if kept[rs] {
				continue
			}
			for _, g := range rs.groups {
				if g != nil {
					rs.grouping.release(g.slot, g.key)
				}
			}
		}
	}
	for i := range f.Rules {
		if e.rules[i] != nil {
			continue
		}
		rs := newRuleState(&f.Rules[i], i, f.EvaluationInterval)
		name := groupingName(f.Rules[i].GroupBy)
		if groupings[name] == nil {
			groupings[name] = newGrouping(rs.groupBy)
		}
		rs.grouping = groupings[name]
		e.rules[i] = rs
		e.fresh[i] = true
		// An edited rule keeps the alerts of the rule it replaces, as
		// Prometheus does: a new threshold does not resolve and fire again
		// what still holds; the next evaluation decides.
		if p := byName[rs.r.Name]; p != nil && !kept[p] && p.identity() == rs.identity() {
			kept[p] = true
			for _, g := range p.groups {
				if g != nil && g.hasAlertState() {
					// The group's first record stands when only when to fire
					// changed (history may not reach back to it, as for a
					// below alert on traffic that stopped long ago); if the
					// records the rule sees changed, history alone says.
					gs := p.stateOf(g)
					if !sameRecords(p.r, rs.r) {
						gs.Born = math.MaxInt64
					}
					rs.adopt(gs, true)
				}
			}
		}
	}
	return e
}

// identity is what makes a rule's alerts the same alerts: its name, its
// labels and the labels its groups add. An edited rule with the same
// identity takes over the alerts of the old one (Continue, Restore).
func (rs *ruleState) identity() string {
	h := fnv.New64a()
	for _, l := range rs.base {
		h.Write([]byte(l.Name))
		h.Write([]byte{0xff})
		h.Write([]byte(l.Value))
		h.Write([]byte{0xff})
	}
	h.Write([]byte{0xfe})
	for _, f := range rs.groupBy {
		h.Write([]byte(f.name))
		h.Write([]byte{0xff})
	}
	return strconv.FormatUint(h.Sum64(), 16)
}

// sameRecords says whether a and b compute their values from the same
// records in the same way: only thresholds, for, keep_firing_for,
// min_count, below, labels or annotations differ.
func sameRecords(a, b *Rule) bool {
	loc := func(r *Rule) string {
		if r.Location == nil {
			return ""
		}
		return r.Location.String()
	}
	return a.Metric == b.Metric && a.Aggregate == b.Aggregate && a.Window == b.Window && a.Period == b.Period &&
		loc(a) == loc(b) && slices.Equal(a.GroupBy, b.GroupBy) && slices.Equal(a.Where, b.Where) &&
		a.Baseline == b.Baseline && a.ZScoreOver == b.ZScoreOver
}

// stateOf is g's alert state, with its group_by values in group_by order.
func (rs *ruleState) stateOf(g *group) GroupState {
	var vals []string
	if len(rs.groupBy) > 0 {
		vals = strings.Split(g.key, "\xff")
	}
	return GroupState{Values: vals, Born: g.born, Since: g.since, Firing: g.firing, FiringSince: g.firingSince, Cleared: g.cleared}
}

// adopt gives the group of gs.Values the alert state gs. For an edited rule
// an alert of a severity the rule no longer has is not taken (it is
// resolved with the old rule's values instead), and a pending severity it
// no longer has is dropped.
//
// gs.Born, the group's first record, is MaxInt64 when the records an edited
// rule sees may differ: then only history sets it, so a group the new where
// or metric no longer sees has no value and resolves.
func (rs *ruleState) adopt(gs GroupState, edited bool) {
	if len(gs.Values) != len(rs.groupBy) {
		return
	}
	if edited && gs.Firing != SeverityNone && !rs.has[gs.Firing] {
		return
	}
	g := rs.groupOf(gs.Values)
	if g == nil {
		return
	}
	g.born = min(g.born, gs.Born)
	g.since, g.firing, g.firingSince, g.cleared = gs.Since, gs.Firing, gs.FiringSince, gs.Cleared
	if edited {
		for sev := range g.since {
			if !rs.has[sev] {
				g.since[sev] = none
			}
		}
	}
	if !g.listed {
		g.listed = true
		rs.active = append(rs.active, g)
	}
}

// Fresh returns the names of the rules that did not come from the previous
// engine: they need history (ObserveFresh) to be right from the start.
func (e *Engine) Fresh() []string {
	var out []string
	for i, rs := range e.rules {
		if e.fresh[i] {
			out = append(out, rs.r.Name)
		}
	}
	return out
}

// StartAt makes t's tick the last one evaluated, so that records before it
// are history (summed into their periods and windows, never evaluated on
// their own ticks) and the next Advance evaluates the ticks after it. It
// does nothing once the engine has evaluated a tick.
func (e *Engine) StartAt(t time.Time) {
	if e.started {
		return
	}
	e.started, e.lastTick = true, floorDiv(t.UnixNano(), e.interval)
}

// State is what an engine must remember across a restart or a change of
// leader beyond the records themselves (which come back from the database):
// the last evaluated tick and, per rule, the groups with an alert pending,
// firing, or in keep_firing_for.
type State struct {
	// Tick is the last evaluated tick; zero before the first.
	Tick  time.Time   `json:"tick"`
	Rules []RuleState `json:"rules"`
}

// RuleState is one rule's part of a State.
type RuleState struct {
	Rule string `json:"rule"`
	Hash string `json:"hash"`
	// Identity lets an edited rule take the alerts over (empty in state
	// stored before it was kept: then only an unchanged rule does).
	Identity string       `json:"identity,omitempty"`
	Groups   []GroupState `json:"groups"`
}

// GroupState is one group's alert. Times are Unix nanoseconds, MinInt64
// for none.
type GroupState struct {
	// Values are the group_by values, in group_by order.
	Values      []string `json:"values"`
	Born        int64    `json:"born"`
	Since       [3]int64 `json:"since"`
	Firing      Severity `json:"firing"`
	FiringSince int64    `json:"firing_since"`
	Cleared     int64    `json:"cleared"`
}

// State returns the engine's alert state.
func (e *Engine) State() *State {
	s := &State{}
	if t, ok := e.Evaluated(); ok {
		s.Tick = t
	}
	for _, rs := range e.rules {
		r := RuleState{Rule: rs.r.Name, Hash: rs.hash, Identity: rs.identity()}
		for _, g := range rs.groups {
			if g == nil || !g.hasAlertState() {
				continue
			}
			r.Groups = append(r.Groups, rs.stateOf(g))
		}
		if len(r.Groups) > 0 {
			s.Rules = append(s.Rules, r)
		}
	}
	return s
}

func (g *group) hasAlertState() bool {
	return g.firing != SeverityNone || g.cleared != none || g.since[SeverityWarning] != none || g.since[SeverityCritical] != none
}

// Restore brings back the alert state of the rules that are unchanged
// (same name and Hash) or edited with the same identity (name, labels,
// group_by), and makes s.Tick the last evaluated tick (StartAt). Call it
// on a new engine, before records are observed.
func (e *Engine) Restore(s *State) {
	if s == nil {
		return
	}
	if !s.Tick.IsZero() {
		e.StartAt(s.Tick)
	}
	byName := map[string]*ruleState{}
	for _, rs := range e.rules {
		byName[rs.r.Name] = rs
	}
	for _, r := range s.Rules {
		rs := byName[r.Rule]
		if rs == nil || rs.hash != r.Hash && (r.Identity == "" || r.Identity != rs.identity()) {
			continue
		}
		edited := rs.hash != r.Hash
		for _, gs := range r.Groups {
			if edited {
				gs.Born = math.MaxInt64 // the stored state does not say what the old rule saw
			}
			rs.adopt(gs, edited)
		}
	}
}

// Firing returns a firing transition for every alert firing now, as last
// evaluated: what a notifier must know to repeat them without announcing
// them again.
func (e *Engine) Firing() []Transition {
	var out []Transition
	T := e.lastTick * e.interval
	for _, rs := range e.rules {
		for _, g := range rs.groups {
			if g != nil && g.firing != SeverityNone {
				out = append(out, rs.transition(g, g.firing, true, T, g.firingSince))
			}
		}
	}
	return out
}

// HistoryStart is the earliest event time the rules need at t: the start of
// the longest window with its baseline, or of the oldest period a
// zscore_over compares with. A daemon that starts evaluating reads the
// records from there on.
func (f *File) HistoryStart(t time.Time) time.Time {
	from := t
	for i := range f.Rules {
		r := &f.Rules[i]
		var s time.Time
		if r.Period != "" {
			rs := ruleState{r: r, hist: historyLen(r), pStart: math.MaxInt64, pEnd: math.MinInt64, histFor: math.MinInt64}
			// The period holding the tick before t, and the ones before it
			// that zscore_over compares it with.
			s = time.Unix(0, rs.histStart(rs.periodOf(t.UnixNano()-1)))
		} else {
			s = t.Add(-r.Window - r.Baseline - f.EvaluationInterval - f.QueryOffset)
		}
		if s.Before(from) {
			from = s
		}
	}
	return from
}

// NeedsAttributes says whether a rule groups or filters by a field that is
// neither a record column nor status: an attribute or a source label, which
// PostgreSQL keeps in the attributes column. Reading history without it is
// much cheaper.
func (f *File) NeedsAttributes() bool {
	for i := range f.Rules {
		r := &f.Rules[i]
		for _, g := range r.GroupBy {
			if newFieldRef(g).kind == fieldOther {
				return true
			}
		}
		for _, m := range r.Where {
			if newFieldRef(m.Field).kind == fieldOther {
				return true
			}
		}
	}
	return false
}
