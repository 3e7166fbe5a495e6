// Package parse turns one log line into a normalized, priced Record, or a
// Reject that says why it could not. It owns the Record type, the envelope
// decoders (plain, Docker json-file, Kubernetes CRI), field normalization and
// the pricing table. It knows nothing of files, databases or alerts.
package parse

import "time"

// CostSource says where a record's cost came from.
type CostSource uint8

// The cost sources, as stored in ai_usage_events.cost_source.
const (
	CostFromLog  CostSource = iota // the log line carried the cost
	CostPricing                    // computed from the pricing table
	CostUnpriced                   // no cost in the log and no matching price
)

// String returns the stored name: "log", "pricing" or "unpriced".
func (c CostSource) String() string {
	switch c {
	case CostFromLog:
		return "log"
	case CostPricing:
		return "pricing"
	default:
		return "unpriced"
	}
}

// Label is one configured key/value added to every record of a source.
type Label struct {
	Key, Value string
}

// Record is one LLM call, normalized.
//
// Strings in a Record may point into an Arena owned by the batch the record
// belongs to: a Record must not outlive its batch's arena (copy it with Clone
// to keep it longer).
type Record struct {
	// EventID identifies the call: the log's own id (request_id, id,
	// event_id), else a hash of the line's content and byte offset, so the
	// same line read twice (live, then from its rotated .gz) gets the same id.
	EventID    string
	OccurredAt time.Time
	Source     string

	UserID   string // "" is NULL
	Feature  string // "" is NULL
	Provider string // "" is NULL
	Model    string // never empty

	InputTokens       int64 // every prompt token, cached ones included
	CachedInputTokens int64
	OutputTokens      int64
	TotalTokens       int64

	Cost       Money
	CostSource CostSource

	DurationMS  float64
	HasDuration bool // false: duration_ms is NULL

	Success   bool
	ErrorType string // "" is NULL

	// Attributes is a JSON object of every other field the line carried,
	// content fields (prompts, completions) removed. Never nil for a parsed record.
	Attributes []byte

	// Labels are the source's configured labels, shared by all its records.
	Labels []Label

	// Offset is the byte offset of the line in its file; the position
	// just after the line is Offset+Length.
	Offset int64
	Length int64
	File   string // path the line was read from, "" for stdin
}

// Clone returns a copy of r that owns all its memory.
func (r *Record) Clone() Record {
	c := *r
	c.EventID = string([]byte(r.EventID))
	c.Source = string([]byte(r.Source))
	c.UserID = string([]byte(r.UserID))
	c.Feature = string([]byte(r.Feature))
	c.Provider = string([]byte(r.Provider))
	c.Model = string([]byte(r.Model))
	c.ErrorType = string([]byte(r.ErrorType))
	c.Attributes = append([]byte(nil), r.Attributes...)
	return c
}

// Reject is a line that could not become a record.
type Reject struct {
	// ID identifies the rejected line the way EventID identifies a record
	// (a hash of its content and offset), so re-reading a file adds no reject twice.
	ID     string
	Source string
	File   string // path the line was read from, "" for stdin
	Offset int64
	Reason Reason
	Detail string // one short sentence for humans
	Raw    []byte // the line, at most MaxRawReject bytes, content fields removed (SanitizeRaw)
	At     time.Time
}

// MaxRawReject is how much of a rejected line is kept.
const MaxRawReject = 4096
