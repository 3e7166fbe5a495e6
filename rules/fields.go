package rules

import (
	"math"
	"path"
	"strconv"
	"strings"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/tokentail/tokentail/parse"
)

type fieldKind uint8

const (
	fieldOther fieldKind = iota // a source label, else an attribute
	fieldSource
	fieldUser
	fieldFeature
	fieldProvider
	fieldModel
	fieldErrorType
	fieldStatus // "ok" or "error", as the InfluxDB tag
	fieldCostSource
)

var fieldKinds = map[string]fieldKind{
	"source": fieldSource, "user_id": fieldUser, "feature": fieldFeature, "provider": fieldProvider,
	"model": fieldModel, "error_type": fieldErrorType, "status": fieldStatus, "cost_source": fieldCostSource,
}

// fieldRef names a field group_by and where read on a record.
type fieldRef struct {
	name string
	kind fieldKind
}

func newFieldRef(name string) fieldRef {
	return fieldRef{name: name, kind: fieldKinds[name]}
}

// recordView reads fields of the record being observed. Attributes are
// parsed at most once per record, and only if a rule asks for one.
type recordView struct {
	rec    *parse.Record
	parser fastjson.Parser
	obj    *fastjson.Object
	parsed bool
	num    []byte // scratch for numbers
}

func (rv *recordView) reset(rec *parse.Record) {
	rv.rec, rv.obj, rv.parsed = rec, nil, false
}

// get returns the field's value, "" when absent. The result may point into
// the parser's memory: it is valid until the next record, so it is copied
// before being kept.
func (rv *recordView) get(f fieldRef) string {
	r := rv.rec
	switch f.kind {
	case fieldSource:
		return r.Source
	case fieldUser:
		return r.UserID
	case fieldFeature:
		return r.Feature
	case fieldProvider:
		return r.Provider
	case fieldModel:
		return r.Model
	case fieldErrorType:
		return r.ErrorType
	case fieldStatus:
		if r.Success {
			return "ok"
		}
		return "error"
	case fieldCostSource:
		return r.CostSource.String()
	}
	for _, l := range r.Labels {
		if l.Key == f.name {
			return l.Value
		}
	}
	if !rv.parsed {
		rv.parsed = true
		if v, err := rv.parser.ParseBytes(r.Attributes); err == nil {
			rv.obj, _ = v.Object()
		}
	}
	if rv.obj == nil {
		return ""
	}
	v := rv.obj.Get(f.name)
	if v == nil {
		return ""
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return unsafe.String(unsafe.SliceData(b), len(b))
	case fastjson.TypeNull:
		return ""
	case fastjson.TypeTrue:
		return "true"
	case fastjson.TypeFalse:
		return "false"
	}
	rv.num = v.MarshalTo(rv.num[:0])
	return unsafe.String(unsafe.SliceData(rv.num), len(rv.num))
}

// matcher is one `where` condition.
type matcher struct {
	field   fieldRef
	glob    string
	literal bool // no glob metacharacters: plain equality
	any     bool // "*": everything matches, absent fields too
	// cache remembers the answers for the field's values: model and feature
	// have few values, and a map lookup is cheaper than path.Match.
	cache map[string]bool
}

const matcherCacheSize = 4096

func newMatcher(m Match) *matcher {
	return &matcher{
		field:   newFieldRef(m.Field),
		glob:    m.Glob,
		literal: !strings.ContainsAny(m.Glob, `*?[\`),
		any:     m.Glob == "*",
		cache:   map[string]bool{},
	}
}

func (m *matcher) match(rv *recordView) bool {
	if m.any {
		return true
	}
	v := rv.get(m.field)
	if m.literal {
		return v == m.glob
	}
	if ok, hit := m.cache[v]; hit {
		return ok
	}
	ok, _ := path.Match(m.glob, v)
	if len(m.cache) < matcherCacheSize {
		m.cache[strings.Clone(v)] = ok
	}
	return ok
}

// metricValue returns a record's value of metric m as an integer in the
// metric's unit (see metricScale), so sums are exact and do not depend on
// the order records arrive in; false when the record has no such value.
func metricValue(m Metric, r *parse.Record) (int64, bool) {
	switch m {
	case MetricCost:
		return int64(r.Cost), true
	case MetricInput:
		return r.InputTokens, true
	case MetricCachedInput:
		return r.CachedInputTokens, true
	case MetricOutput:
		return r.OutputTokens, true
	case MetricTotal:
		return r.TotalTokens, true
	case MetricRequests:
		return 1, true
	case MetricErrors, MetricErrorRate:
		if r.Success {
			return 0, true
		}
		return 1, true
	case MetricDuration:
		if !r.HasDuration || r.DurationMS < 0 || r.DurationMS > 1e12 {
			return 0, false
		}
		return int64(math.Round(r.DurationMS * 1000)), true // microseconds
	}
	return 0, false
}

// metricScale converts metricValue's unit to the rule's: picodollars to
// dollars, microseconds to milliseconds.
func metricScale(m Metric) float64 {
	switch m {
	case MetricCost:
		return 1e-12
	case MetricDuration:
		return 1e-3
	}
	return 1
}

// formatValue prints a value for annotations: short, and exact for integers.
func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}
