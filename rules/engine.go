package rules

import (
	"cmp"
	"hash/fnv"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tokentail/tokentail/parse"
)

// Engine evaluates the rules of a File on records, on event time.
//
// # Ticks
//
// Time is cut into ticks: the multiples of evaluation_interval since the Unix
// epoch. Eval(T) evaluates tick T over exactly the records with occurred_at
// < T (a window of length W covers [T-W, T); a calendar period covers
// [start of the period holding T-1ns, T)). A rule with a sliding window is
// evaluated on the ticks that are multiples of its step (window/60 rounded up
// to a multiple of the interval that divides the window; window/30 for
// percentiles), so its window always starts and ends on a bucket edge.
//
// Advance(now) evaluates every tick T with T + query_offset <= now that has
// not been evaluated yet. Live, now is the wall clock; in a replay (`rules
// test`, `backfill --alerts`) it is the latest occurred_at seen, records
// being read merged by time. Both give the same transitions as long as
// records are logged and read less than query_offset late. A record older
// than the last evaluated tick still counts from the next tick on, if its
// window or period is still open; older ones are counted as late and dropped.
//
// An Engine is not safe for concurrent use: the pipeline owns it from one
// goroutine.
type Engine struct {
	file     *File
	interval int64 // ns
	offset   int64 // ns
	rules    []*ruleState
	rv       recordView
	seq      uint64 // records observed, to know a grouping's key is current
	started  bool
	lastTick int64 // index of the last evaluated tick (time / interval)
	// fresh marks the rules that did not come from a previous engine
	// (Continue): ObserveFresh feeds them history.
	fresh []bool
	log   *slog.Logger
}

// RuleStats are a rule's counters, for metrics.
type RuleStats struct {
	Rule   string
	Groups int
	Firing int
	// GroupsDropped counts records not evaluated because the rule had
	// max_groups groups already.
	GroupsDropped uint64
	// Late counts records that came after their window or period closed.
	Late uint64
}

// New returns an engine for f's rules. log receives warnings (a group cap
// hit); nil discards them.
func New(f *File, log *slog.Logger) *Engine {
	return Continue(f, log, nil)
}

// File returns the rules the engine runs.
func (e *Engine) File() *File { return e.file }

// maxBuckets is how many steps a sliding window is cut into.
func maxBuckets(r *Rule) int64 {
	if r.Aggregate.percentile() {
		return 30
	}
	return 60
}

// stepFor is the evaluation step of a rule: the interval for a period, else
// the smallest multiple of the interval that divides the window into at
// most maxBuckets buckets.
func stepFor(r *Rule, interval time.Duration) time.Duration {
	if r.Window == 0 {
		return interval
	}
	for s := interval; s < r.Window; s += interval {
		if r.Window%s == 0 && int64(r.Window/s) <= maxBuckets(r) {
			return s
		}
	}
	return r.Window
}

const maxHistory = 400

// periodLength is a period's nominal length, to count periods in a span.
func periodLength(p Period) time.Duration {
	switch p {
	case PeriodWeek:
		return 7 * 24 * time.Hour
	case PeriodMonth:
		return 30 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// historyLen is how many earlier periods zscore_over compares with.
func historyLen(r *Rule) int {
	if r.ZScoreOver == 0 || r.Period == "" {
		return 0
	}
	return int(math.Round(float64(r.ZScoreOver) / float64(periodLength(r.Period))))
}

type ruleState struct {
	r       *Rule
	hash    string // r.Hash: what carries its state over a reload
	idx     int
	step    int64 // ns
	n, nb   int64 // buckets in the window and in the baseline span
	isP     bool  // a calendar period rule
	hist    int
	q       float64 // the percentile, for p50..p99
	scale   float64
	where   []*matcher
	groupBy []fieldRef
	// groups are indexed by their grouping's slot; nil is no group.
	grouping *grouping
	groups   []*group
	ngroups  int
	active   []*group
	thr      [3]float64
	has      [3]bool
	base     Labels // alertname and the rule's labels

	// The period holding the last record seen, to skip the timezone
	// arithmetic for the next one.
	pStart, pEnd int64
	curPeriod    int64 // period of the last evaluation
	stats        RuleStats
	capLogged    bool

	// histFrom is the start of the earliest period zscore_over compares
	// the period starting at histFor with.
	histFor, histFrom int64

	cur, prev agg // scratch
}

func newRuleState(r *Rule, idx int, interval time.Duration) *ruleState {
	rs := &ruleState{r: r, hash: r.Hash(interval), idx: idx, step: int64(stepFor(r, interval)), isP: r.Period != "",
		hist: historyLen(r), scale: metricScale(r.Metric),
		curPeriod: math.MinInt64, pStart: math.MaxInt64, pEnd: math.MinInt64, histFor: math.MinInt64}
	rs.stats.Rule = r.Name
	if r.Window != 0 {
		rs.n = int64(r.Window) / rs.step
		rs.nb = int64(r.Baseline) / rs.step
	}
	switch r.Aggregate {
	case AggP50:
		rs.q = 0.50
	case AggP90:
		rs.q = 0.90
	case AggP95:
		rs.q = 0.95
	case AggP99:
		rs.q = 0.99
	}
	if r.Aggregate.percentile() {
		rs.cur.sk, rs.prev.sk = &sketch{}, &sketch{}
	}
	for _, m := range r.Where {
		rs.where = append(rs.where, newMatcher(m))
	}
	for _, g := range r.GroupBy {
		rs.groupBy = append(rs.groupBy, newFieldRef(g))
	}
	if r.Warning != nil {
		rs.thr[SeverityWarning], rs.has[SeverityWarning] = *r.Warning, true
	}
	if r.Critical != nil {
		rs.thr[SeverityCritical], rs.has[SeverityCritical] = *r.Critical, true
	}
	rs.base = append(Labels{{Name: "alertname", Value: r.Name}}, r.Labels...)
	return rs
}

// agg is a mergeable summary of values, in the metric's integer unit.
type agg struct {
	n, sum, max int64
	sk          *sketch // percentiles only, in the rule's unit
}

func (a *agg) add(v int64, scale float64, pct bool) {
	if a.n == 0 || v > a.max {
		a.max = v
	}
	a.n++
	a.sum = satAdd(a.sum, v)
	if pct {
		if a.sk == nil {
			a.sk = &sketch{}
		}
		a.sk.add(float64(v) * scale)
	}
}

func (a *agg) merge(o *agg) {
	if o.n == 0 {
		return
	}
	if a.n == 0 || o.max > a.max {
		a.max = o.max
	}
	a.n += o.n
	a.sum = satAdd(a.sum, o.sum)
	if o.sk != nil && a.sk != nil {
		a.sk.merge(o.sk)
	}
}

func (a *agg) reset() {
	a.n, a.sum, a.max = 0, 0, 0
	if a.sk != nil {
		a.sk.reset()
	}
}

// satAdd adds without wrapping around: a sum that passes 9.2e18 (9.2
// million dollars in picodollars) stays there rather than turning negative.
func satAdd(a, b int64) int64 {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

type bucket struct {
	k  int64 // step index (window) or interval index (period)
	ps int64 // period start (period rules)
	a  agg
}

type histEntry struct {
	start int64
	v     float64
}

// group is one value of a rule's group_by, with its data and alert state.
type group struct {
	key    string
	slot   int32
	listed bool   // in the rule's active list
	labels Labels // base labels and group_by values, sorted; no severity

	ring []bucket // window rules: buckets by k, ascending
	// born is the time of the group's first record: it is not evaluated
	// before (a `below` rule would fire on a group that has not started),
	// and a baseline is compared with only once its whole span was observed.
	born int64

	ps      int64    // period rules: start of acc's period, MinInt64 if none
	last    int64    // start of the last period with a record in acc, MinInt64 if none
	acc     agg      // the period so far, up to the last evaluated tick
	pending []bucket // records of ticks not yet evaluated
	hist    []histEntry

	since       [3]int64 // when each level's condition began to hold; none = MinInt64
	firing      Severity
	firingSince int64
	cleared     int64 // keep_firing_for: when the firing level's condition stopped
	value       float64
	hasValue    bool
}

const none = math.MinInt64

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Observe adds a record to every rule it matches. The record is not kept:
// it may be reused once Observe returns.
func (e *Engine) Observe(rec *parse.Record) {
	e.observe(rec, false)
}

// ObserveFresh adds a record to the rules Fresh names only: history for the
// rules a reload added or changed, which the others have already counted.
func (e *Engine) ObserveFresh(rec *parse.Record) {
	e.observe(rec, true)
}

func (e *Engine) observe(rec *parse.Record, freshOnly bool) {
	e.rv.reset(rec)
	e.seq++
	t := rec.OccurredAt.UnixNano()
	lastT := int64(none)
	if e.started {
		lastT = e.lastTick * e.interval
	}
rules:
	for i, rs := range e.rules {
		if freshOnly && !e.fresh[i] {
			continue
		}
		for _, m := range rs.where {
			if !m.match(&e.rv) {
				continue rules
			}
		}
		v, ok := metricValue(rs.r.Metric, rec)
		if !ok {
			continue
		}
		if !rs.isP && lastT != none && t < lastT-int64(rs.r.Window)-int64(rs.r.Baseline) {
			rs.stats.Late++ // no future window can hold it
			continue
		}
		g := rs.group(e)
		if g == nil {
			continue
		}
		g.born = min(g.born, t)
		if rs.isP {
			rs.observePeriod(e, g, t, v, lastT)
		} else {
			rs.observeWindow(g, t, v)
		}
		if !g.listed {
			g.listed = true
			rs.active = append(rs.active, g)
		}
	}
}

// group returns the record's group, creating it; nil when the rule is at
// its max_groups.
func (rs *ruleState) group(e *Engine) *group {
	gr := rs.grouping
	slot := gr.lookup(e)
	if slot >= 0 && int(slot) < len(rs.groups) && rs.groups[slot] != nil {
		return rs.groups[slot]
	}
	if rs.ngroups >= rs.r.MaxGroups {
		rs.stats.GroupsDropped++
		if !rs.capLogged {
			rs.capLogged = true
			e.log.Warn("rule has reached its max_groups: records of new groups are not evaluated", "rule", rs.r.Name, "max_groups", rs.r.MaxGroups)
		}
		return nil
	}
	if slot < 0 {
		slot = gr.add()
	}
	values := make([]string, len(rs.groupBy))
	for i, f := range rs.groupBy {
		values[i] = strings.Clone(e.rv.get(f))
	}
	return rs.newGroup(slot, string(gr.key), values)
}

// groupOf returns the group with these group_by values, creating it (as
// Restore does); nil when the rule is at its max_groups.
func (rs *ruleState) groupOf(values []string) *group {
	gr := rs.grouping
	key := strings.Join(values, "\xff")
	slot, ok := gr.keys[key]
	if ok && int(slot) < len(rs.groups) && rs.groups[slot] != nil {
		return rs.groups[slot]
	}
	if rs.ngroups >= rs.r.MaxGroups {
		rs.stats.GroupsDropped++
		return nil
	}
	if !ok {
		gr.key = append(gr.key[:0], key...)
		slot = gr.add()
		gr.seq = ^uint64(0) // the cached lookup was for another key
	}
	return rs.newGroup(slot, key, values)
}

// newGroup makes the group of key in slot, whose group_by values are values.
func (rs *ruleState) newGroup(slot int32, key string, values []string) *group {
	gr := rs.grouping
	gr.refs[slot]++
	g := &group{key: key, slot: slot, ps: none, last: none, firingSince: none, cleared: none, born: math.MaxInt64}
	for i := range g.since {
		g.since[i] = none
	}
	g.labels = append(Labels(nil), rs.base...)
	for i, f := range rs.groupBy {
		v := values[i]
		if v == "" {
			continue // as Prometheus, an empty label is no label
		}
		j := slices.IndexFunc(g.labels, func(l Label) bool { return l.Name == f.name })
		if j >= 0 {
			g.labels[j].Value = v
		} else {
			g.labels = append(g.labels, Label{Name: f.name, Value: v})
		}
	}
	slices.SortFunc(g.labels, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	for int(slot) >= len(rs.groups) {
		rs.groups = append(rs.groups, nil)
	}
	rs.groups[slot] = g
	rs.ngroups++
	return g
}

// remove forgets g.
func (rs *ruleState) remove(g *group) {
	rs.groups[g.slot] = nil
	rs.ngroups--
	rs.grouping.release(g.slot, g.key)
}

func (rs *ruleState) observeWindow(g *group, t, v int64) {
	k := floorDiv(t, rs.step)
	i := len(g.ring)
	for i > 0 && g.ring[i-1].k > k {
		i--
	}
	if i == 0 || g.ring[i-1].k != k {
		g.ring = slices.Insert(g.ring, i, bucket{k: k})
		i++
	}
	g.ring[i-1].a.add(v, rs.scale, rs.q != 0)
}

func (rs *ruleState) periodOf(t int64) int64 {
	if t >= rs.pStart && t < rs.pEnd {
		return rs.pStart
	}
	loc := rs.r.Location
	tt := time.Unix(0, t).In(loc)
	y, m, d := tt.Date()
	var start, end time.Time
	switch rs.r.Period {
	case PeriodWeek:
		d -= (int(tt.Weekday()) + 6) % 7
		start, end = dayStart(y, m, d, loc), dayStart(y, m, d+7, loc)
	case PeriodMonth:
		start, end = dayStart(y, m, 1, loc), dayStart(y, m+1, 1, loc)
	default:
		start, end = dayStart(y, m, d, loc), dayStart(y, m, d+1, loc)
	}
	rs.pStart, rs.pEnd = start.UnixNano(), end.UnixNano()
	return rs.pStart
}

// dayStart is the first instant of the local date y-m-d in loc (the day
// and month normalized as by time.Date). time.Date alone misses it where a
// clock change happens at midnight: for a midnight that is skipped
// (America/Santiago on 2024-09-08 goes from 23:59:59 -04 to 01:00 -03) it
// gives 23:00 of the day before; for one that happens twice (Asia/Amman on
// 2021-10-29) it may give the second.
func dayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	want := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	ty, tm, td := t.Date()
	if time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC).Before(want) {
		// The day starts when the clock jumps: the end of t's zone.
		if _, end := t.ZoneBounds(); !end.IsZero() {
			return end
		}
		return t
	}
	if p := t.Add(-1); p.Day() == td {
		// The same clock time under the offset before t's: the first midnight.
		_, po := p.Zone()
		_, to := t.Zone()
		if u := t.Add(time.Duration(to-po) * time.Second); u.Before(t) && u.Day() == td && u.Add(-1).Day() != td {
			return u
		}
	}
	return t
}

func (rs *ruleState) nextPeriod(ps int64) int64 {
	rs.periodOf(ps)
	return rs.pEnd
}

// histStart is the start of the earliest of the rs.hist periods before the
// one starting at p: the ones zscore_over compares it with. It steps back
// period by period in the rule's timezone, a day being 23 to 25 hours and
// a month 28 to 31 days.
func (rs *ruleState) histStart(p int64) int64 {
	if p == rs.histFor {
		return rs.histFrom
	}
	rs.histFor, rs.histFrom = p, rs.periodsBack(p, rs.hist)
	return rs.histFrom
}

// periodsBack is the start of the period n periods before the one starting
// at p.
func (rs *ruleState) periodsBack(p int64, n int) int64 {
	ps, pe := rs.pStart, rs.pEnd
	for range n {
		p = rs.periodOf(p - 1)
	}
	rs.pStart, rs.pEnd = ps, pe
	return p
}

func (rs *ruleState) observePeriod(e *Engine, g *group, t, v, lastT int64) {
	ps := rs.periodOf(t)
	if lastT != none && t < lastT {
		// Its tick is past: it counts from the next one.
		var a agg
		a.add(v, rs.scale, rs.q != 0)
		rs.fold(g, ps, &a)
		return
	}
	k := floorDiv(t, e.interval)
	for i := len(g.pending) - 1; i >= 0; i-- {
		if b := &g.pending[i]; b.k == k && b.ps == ps {
			b.a.add(v, rs.scale, rs.q != 0)
			return
		}
	}
	g.pending = append(g.pending, bucket{k: k, ps: ps})
	g.pending[len(g.pending)-1].a.add(v, rs.scale, rs.q != 0)
}

// fold adds a's values, of the period starting at ps, to the group's period.
func (rs *ruleState) fold(g *group, ps int64, a *agg) {
	switch {
	case g.ps == none:
		g.ps = ps
	case ps > g.ps:
		rs.roll(g, ps)
	case ps < g.ps:
		rs.stats.Late++ // its period is over
		return
	}
	if a.sk != nil && g.acc.sk == nil {
		g.acc.sk = &sketch{}
	}
	g.acc.merge(a)
	g.last = g.ps
}

// roll closes the group's period and starts the one at ps, keeping the
// closed periods' values for zscore_over.
func (rs *ruleState) roll(g *group, ps int64) {
	if rs.hist > 0 && g.last < rs.histStart(ps) {
		// No record in any period compared with: the group starts afresh,
		// as one never seen (sweep forgets it, a start reads no further back).
		g.hist = g.hist[:0]
	} else if rs.hist > 0 && g.ps != none {
		if v, ok := rs.final(&g.acc, 0); ok {
			g.hist = append(g.hist, histEntry{start: g.ps, v: v})
		}
		// Periods with no record: a sum or count of zero.
		zero := rs.r.Aggregate == AggSum || rs.r.Aggregate == AggCount
		for p, i := rs.nextPeriod(g.ps), 0; zero && p < ps && i < rs.hist; p, i = rs.nextPeriod(p), i+1 {
			g.hist = append(g.hist, histEntry{start: p})
		}
		if over := len(g.hist) - rs.hist; over > 0 {
			g.hist = append(g.hist[:0], g.hist[over:]...)
		}
	}
	g.ps = ps
	g.acc.reset()
}

// Eval evaluates the tick holding ts (ts is truncated to the evaluation
// interval) and returns the transitions, ordered by rule then group. Ticks
// must be evaluated in order: a tick at or before the last one evaluated is
// ignored. Transitions belong to the caller.
func (e *Engine) Eval(ts time.Time) []Transition {
	K := floorDiv(ts.UnixNano(), e.interval)
	if e.started && K <= e.lastTick {
		return nil
	}
	e.started, e.lastTick = true, K
	T := K * e.interval
	var out []Transition
	for _, rs := range e.rules {
		if floorDiv(T, rs.step)*rs.step != T || len(rs.active) == 0 && !rs.isP {
			continue
		}
		out = rs.eval(T, out)
	}
	return out
}

// Advance evaluates every tick not evaluated yet whose time plus the
// query offset is at or before now. The first call starts at the tick of
// now: an engine does not evaluate the past before it was started.
func (e *Engine) Advance(now time.Time) []Transition {
	target := floorDiv(now.UnixNano()-e.offset, e.interval)
	if !e.started {
		return e.Eval(time.Unix(0, target*e.interval))
	}
	var out []Transition
	for K := e.lastTick + 1; K <= target; K++ {
		if K < target && !e.busy() {
			// No group has anything that could change before new records
			// come: the ticks between are no-ops.
			K = target
		}
		out = append(out, e.Eval(time.Unix(0, K*e.interval))...)
	}
	return out
}

// Evaluated returns the last evaluated tick, false before the first.
func (e *Engine) Evaluated() (time.Time, bool) {
	if !e.started {
		return time.Time{}, false
	}
	return time.Unix(0, e.lastTick*e.interval).UTC(), true
}

func (e *Engine) busy() bool {
	for _, rs := range e.rules {
		if len(rs.active) > 0 {
			return true
		}
	}
	return false
}

// Stats returns each rule's counters.
func (e *Engine) Stats() []RuleStats {
	out := make([]RuleStats, len(e.rules))
	for i, rs := range e.rules {
		s := rs.stats
		s.Groups = rs.ngroups
		for _, g := range rs.groups {
			if g != nil && g.firing != SeverityNone {
				s.Firing++
			}
		}
		out[i] = s
	}
	return out
}

func (rs *ruleState) eval(T int64, out []Transition) []Transition {
	if rs.isP {
		p := rs.periodOf(T - 1)
		if p != rs.curPeriod {
			if rs.curPeriod != none {
				rs.sweep(p)
			}
			rs.curPeriod = p
		}
	}
	start := len(out)
	keep := rs.active[:0]
	for _, g := range rs.active {
		var v float64
		var ok bool
		switch {
		case T <= g.born:
			// Not started yet: its records are all at or after T.
		case rs.isP:
			v, ok = rs.periodValue(g, T)
		default:
			v, ok = rs.windowValue(g, T)
		}
		out = rs.advanceAlert(g, v, ok, T, out)
		if rs.stillActive(g, T) {
			keep = append(keep, g)
			continue
		}
		g.listed = false
		if !rs.isP && len(g.ring) == 0 && g.firing == SeverityNone {
			rs.remove(g)
		}
	}
	clear(rs.active[len(keep):])
	rs.active = keep
	// The active list's order depends on the order records came in; the
	// output must not.
	// Within a group, the order is the order of events (resolved, then
	// the new severity firing).
	slices.SortStableFunc(out[start:], func(a, b Transition) int {
		return compareLabels(a.Labels, b.Labels)
	})
	return out
}

// compareLabels orders label sets, ignoring severity (one group's alerts
// stay together).
func compareLabels(a, b Labels) int {
	i, j := 0, 0
	for {
		for i < len(a) && a[i].Name == "severity" {
			i++
		}
		for j < len(b) && b[j].Name == "severity" {
			j++
		}
		if i == len(a) || j == len(b) {
			return cmp.Compare(len(a)-i, len(b)-j)
		}
		if c := cmp.Or(strings.Compare(a[i].Name, b[j].Name), strings.Compare(a[i].Value, b[j].Value)); c != 0 {
			return c
		}
		i, j = i+1, j+1
	}
}

// sweep forgets, when the period starting at p starts, the groups that have
// nothing left: no alert firing or pending, no record waiting, no record in
// the periods zscore_over compares with nor, for a below rule, in the period
// that ends (its value drops to zero now, and may cross). Such a group
// evaluates as one never seen: no alert until records come, and then the
// same ones (roll starts its history afresh).
func (rs *ruleState) sweep(p int64) {
	from := p // the first period whose records are kept
	switch {
	case rs.hist > 0:
		from = rs.histStart(p)
	case rs.r.Below:
		from = rs.periodsBack(p, 1)
	}
	listed := false
	for _, g := range rs.groups {
		if g == nil || g.listed && !rs.r.Below || g.hasAlertState() || len(g.pending) > 0 || g.ps >= p || g.last >= from {
			continue
		}
		rs.remove(g)
		if g.listed { // a below rule's group, evaluated on every tick
			g.listed, listed = false, true
		}
	}
	if listed {
		rs.active = slices.DeleteFunc(rs.active, func(g *group) bool { return !g.listed })
	}
}

func (rs *ruleState) stillActive(g *group, T int64) bool {
	for s := SeverityWarning; s <= SeverityCritical; s++ {
		if g.since[s] != none && T-g.since[s] < int64(rs.r.For) {
			return true // a `for` is running
		}
	}
	if g.cleared != none {
		return true // keep_firing_for is running
	}
	if rs.isP {
		// A firing alert resolves when its period ends; a below rule's
		// value drops to zero then.
		return len(g.pending) > 0 || g.firing != SeverityNone || rs.r.Below
	}
	return len(g.ring) > 0
}

func (rs *ruleState) windowValue(g *group, T int64) (float64, bool) {
	K := T / rs.step
	lo := K - rs.n - rs.nb
	i := 0
	for i < len(g.ring) && g.ring[i].k < lo {
		i++
	}
	if i > 0 {
		// Move down rather than reslice, so the ring keeps its capacity
		// and appends do not reallocate.
		n := copy(g.ring, g.ring[i:])
		clear(g.ring[n:])
		g.ring = g.ring[:n]
	}
	cur, prev := &rs.cur, &rs.prev
	cur.reset()
	prev.reset()
	for j := range g.ring {
		b := &g.ring[j]
		if b.k >= K {
			break
		}
		if b.k >= K-rs.n {
			cur.merge(&b.a)
		} else {
			prev.merge(&b.a)
		}
	}
	if cur.n < rs.r.MinCount {
		return 0, false
	}
	v, ok := rs.final(cur, rs.r.Window)
	if !ok || rs.r.Baseline == 0 {
		return v, ok
	}
	if floorDiv(g.born, rs.step) > lo {
		return 0, false // the baseline span is not all seen yet
	}
	bv, ok := rs.final(prev, rs.r.Baseline)
	if rs.r.Aggregate == AggSum || rs.r.Aggregate == AggCount {
		bv *= float64(rs.r.Window) / float64(rs.r.Baseline) // the same pace over the window's length
	}
	if !ok || bv == 0 {
		return 0, false // nothing to compare with
	}
	return v / bv, true
}

func (rs *ruleState) periodValue(g *group, T int64) (float64, bool) {
	K := T / rs.step
	keep := g.pending[:0]
	for _, b := range g.pending {
		if b.k < K {
			rs.fold(g, b.ps, &b.a)
		} else {
			keep = append(keep, b)
		}
	}
	clear(g.pending[len(keep):])
	g.pending = keep
	p := rs.periodOf(T - 1)
	if g.ps == none {
		g.ps = p
	} else if g.ps < p {
		rs.roll(g, p)
	}
	if g.acc.n < rs.r.MinCount {
		return 0, false
	}
	v, ok := rs.final(&g.acc, 0)
	if !ok || rs.hist == 0 {
		return v, ok
	}
	var n, mean, m2 float64 // Welford
	from := rs.histStart(p)
	for _, h := range g.hist {
		if h.start < from || h.start >= p {
			continue
		}
		n++
		d := h.v - mean
		mean += d / n
		m2 += d * (h.v - mean)
	}
	if n < 2 {
		return 0, false
	}
	sd := math.Sqrt(m2 / (n - 1))
	if sd == 0 {
		return 0, false
	}
	return (v - mean) / sd, true
}

// final is the aggregate's value; span is the window, for rate.
func (rs *ruleState) final(a *agg, span time.Duration) (float64, bool) {
	switch rs.r.Aggregate {
	case AggSum:
		return float64(a.sum) * rs.scale, true
	case AggCount:
		return float64(a.n), true
	case AggRate:
		return float64(a.sum) * rs.scale / span.Seconds(), true
	case AggAvg:
		if a.n == 0 {
			return 0, false
		}
		return float64(a.sum) * rs.scale / float64(a.n), true
	case AggMax:
		if a.n == 0 {
			return 0, false
		}
		return float64(a.max) * rs.scale, true
	}
	if a.sk == nil {
		return 0, false
	}
	return a.sk.quantile(rs.q)
}

func (rs *ruleState) crosses(v float64, s Severity) bool {
	if rs.r.Below {
		return v < rs.thr[s]
	}
	return v > rs.thr[s]
}

// advanceAlert moves the group's alert through its states, Prometheus's way: each
// level's condition must hold for `for` to be ready; the alert fires at the
// highest ready level; when that level is no longer ready it keeps firing
// for keep_firing_for, then resolves (and fires at the lower level still
// ready, if any).
func (rs *ruleState) advanceAlert(g *group, v float64, ok bool, T int64, out []Transition) []Transition {
	g.value, g.hasValue = v, ok
	ready := SeverityNone
	for s := SeverityWarning; s <= SeverityCritical; s++ {
		if !rs.has[s] || !ok || !rs.crosses(v, s) {
			g.since[s] = none
			continue
		}
		if g.since[s] == none {
			g.since[s] = T
		}
		if T-g.since[s] >= int64(rs.r.For) {
			ready = s
		}
	}
	if g.firing != SeverityNone {
		if ready >= g.firing {
			g.cleared = none
		} else {
			if g.cleared == none {
				g.cleared = T
			}
			if T-g.cleared < int64(rs.r.KeepFiringFor) {
				return out // still firing, by keep_firing_for
			}
		}
	}
	if ready == g.firing {
		return out
	}
	if g.firing != SeverityNone {
		out = append(out, rs.transition(g, g.firing, false, T, g.firingSince))
	}
	g.firing, g.cleared = ready, none
	if ready != SeverityNone {
		g.firingSince = g.since[ready]
		out = append(out, rs.transition(g, ready, true, T, g.firingSince))
	}
	return out
}

func (rs *ruleState) transition(g *group, sev Severity, firing bool, T, startsAt int64) Transition {
	labels := make(Labels, 0, len(g.labels)+1)
	for _, l := range g.labels {
		if l.Name > "severity" && (len(labels) == 0 || labels[len(labels)-1].Name < "severity") {
			labels = append(labels, Label{Name: "severity", Value: sev.String()})
		}
		labels = append(labels, l)
	}
	if labels.Get("severity") == "" {
		labels = append(labels, Label{Name: "severity", Value: sev.String()})
	}
	t := Transition{
		At: time.Unix(0, T).UTC(), Rule: rs.r.Name, Severity: sev, Firing: firing,
		Value: g.value, HasValue: g.hasValue, Threshold: rs.thr[sev],
		Labels: labels, StartsAt: time.Unix(0, startsAt).UTC(), Fingerprint: Fingerprint(labels),
	}
	t.Annotations = rs.annotate(&t)
	return t
}

// Fingerprint hashes a sorted label set: an alert's identity.
func Fingerprint(ls Labels) uint64 {
	h := fnv.New64a()
	for _, l := range ls {
		h.Write([]byte(l.Name))
		h.Write([]byte{0xff})
		h.Write([]byte(l.Value))
		h.Write([]byte{0xff})
	}
	return h.Sum64()
}
