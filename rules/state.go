package rules

import (
	"encoding/json"
	"time"
)

// Severity is an alert's level. An alert carries the highest level whose
// threshold its value crosses; a change of level ends the alert at the old
// level (resolved) and starts one at the new level (firing), because
// Alertmanager identifies an alert by its labels, severity included.
type Severity uint8

// The severities, in increasing order.
const (
	SeverityNone Severity = iota
	SeverityWarning
	SeverityCritical
)

// String returns "warning", "critical" or "none".
func (s Severity) String() string {
	switch s {
	case SeverityWarning:
		return "warning"
	case SeverityCritical:
		return "critical"
	}
	return "none"
}

// ParseSeverity reads "warning" or "critical".
func ParseSeverity(s string) (Severity, bool) {
	switch s {
	case "warning":
		return SeverityWarning, true
	case "critical":
		return SeverityCritical, true
	}
	return SeverityNone, false
}

// AlertState is where an alert is in its life, as in Prometheus.
type AlertState uint8

// The alert states.
const (
	StateInactive AlertState = iota
	// StatePending: the condition holds, but not yet for `for`.
	StatePending
	StateFiring
)

// String returns "inactive", "pending" or "firing".
func (s AlertState) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateFiring:
		return "firing"
	}
	return "inactive"
}

// Label is one name=value pair of an alert.
type Label struct {
	Name, Value string
}

// Labels are an alert's labels, sorted by name.
type Labels []Label

// Get returns the value of label name, "" if absent.
func (ls Labels) Get(name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Map returns ls as a map.
func (ls Labels) Map() map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// MarshalJSON writes ls as a JSON object in label-name order.
func (ls Labels) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(l.Name)
		v, _ := json.Marshal(l.Value)
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// Transition is an alert starting to fire, or resolving.
type Transition struct {
	// At is the evaluation tick (event time) at which it happened.
	At       time.Time
	Rule     string
	Severity Severity
	// Firing is true for "firing", false for "resolved".
	Firing bool
	// Value is the rule's value at At; HasValue is false when there was
	// none (no data, or fewer than min_count events).
	Value    float64
	HasValue bool
	// Threshold is the crossed threshold of Severity.
	Threshold float64
	// Labels include alertname and severity.
	Labels      Labels
	Annotations Labels
	// StartsAt is when the condition of this severity began to hold
	// (Prometheus's activeAt); for a resolved alert, when it began.
	StartsAt time.Time
	// Fingerprint identifies the alert: a hash of its labels.
	Fingerprint uint64
}

// State returns "firing" or "resolved".
func (t *Transition) State() string {
	if t.Firing {
		return "firing"
	}
	return "resolved"
}

// AppendJSON appends the contract's JSON line for t (without newline):
// {"at","alertname","severity","state","value","labels"}; value is null
// when there was none.
func (t *Transition) AppendJSON(b []byte) []byte {
	b = append(b, `{"at":"`...)
	b = t.At.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","alertname":`...)
	name, _ := json.Marshal(t.Rule)
	b = append(b, name...)
	b = append(b, `,"severity":"`...)
	b = append(b, t.Severity.String()...)
	b = append(b, `","state":"`...)
	b = append(b, t.State()...)
	b = append(b, `","value":`...)
	if t.HasValue {
		v, err := json.Marshal(t.Value)
		if err != nil { // ±Inf cannot be JSON
			v = []byte("null")
		}
		b = append(b, v...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"labels":`...)
	l, _ := t.Labels.MarshalJSON()
	b = append(b, l...)
	return append(b, '}')
}
