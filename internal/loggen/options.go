package loggen

import (
	"errors"
	"fmt"
	"time"

	"github.com/tokentail/tokentail/parse"
)

// Envelope is how a container runtime wraps the application's lines.
type Envelope uint8

// The envelopes, named as the `format:` config key names them.
const (
	Plain  Envelope = iota // the application's own lines
	Docker                 // Docker json-file: {"log":"<line>\n","stream":"stdout","time":"..."}
	CRI                    // Kubernetes CRI: <time> <stream> <P|F> <line>
)

// String returns the config spelling: "plain", "docker" or "cri".
func (e Envelope) String() string {
	switch e {
	case Docker:
		return "docker"
	case CRI:
		return "cri"
	}
	return "plain"
}

// ParseEnvelope reads "plain", "docker" or "cri".
func ParseEnvelope(s string) (Envelope, error) {
	switch s {
	case "plain":
		return Plain, nil
	case "docker":
		return Docker, nil
	case "cri":
		return CRI, nil
	}
	return 0, fmt.Errorf("unknown envelope %q (want plain, docker or cri)", s)
}

// Layout is where the record sits in an application line.
type Layout uint8

// The layouts.
const (
	// MarkerLayout: a log prefix, the marker, then the record's JSON
	// (sources with marker: "AI_COST:").
	MarkerLayout Layout = iota
	// JSONLayout: every line is a JSON object; records carry "type":"ai_cost"
	// and other objects carry another type (sources with marker: "" and
	// match: {type: ai_cost}).
	JSONLayout
)

// String returns "marker" or "json".
func (l Layout) String() string {
	if l == JSONLayout {
		return "json"
	}
	return "marker"
}

// Defaults of Options, used where a field is left zero.
const (
	DefaultMarker       = parse.DefaultMarker
	DefaultMaxLineBytes = parse.DefaultMaxLineBytes
	DefaultSplitBytes   = 16 * 1024 // containerd's and dockerd's line limit
	DefaultUsers        = 1000
	DefaultStep         = 100 * time.Millisecond
	DefaultErrorRate    = 0.03
)

// DefaultStart is the time of the first line in batch mode.
var DefaultStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Options describe what a Generator writes. The zero value is usable: plain
// marker lines, no noise, no malformed lines, every record with an id and a cost.
type Options struct {
	// Seed makes the output reproducible: the same seed and options give the
	// same bytes.
	Seed uint64

	Envelope Envelope
	Layout   Layout
	// Marker precedes the record in MarkerLayout; "" means DefaultMarker.
	Marker string

	// Noise is the fraction of application lines that are not records
	// (app logs, access lines, stack traces, multi-KB lines). Below 1.
	Noise float64
	// Malformed is the fraction of record lines that are broken in one way,
	// counted in the manifest by the reject reason a parser must give.
	Malformed float64
	// MalformedReasons restricts the kinds of malformed lines; nil means every
	// reason that the envelope and layout can carry.
	MalformedReasons []parse.Reason
	// NoCost is the fraction of valid records that carry no cost.
	NoCost float64
	// NoID is the fraction of valid records that carry no request id.
	NoID float64
	// NoTime is the fraction of valid records that carry no time of their own
	// (the parser then uses the envelope's time, or the time it read the line).
	NoTime float64
	// ErrorRate is the fraction of valid records of failed calls; 0 means
	// DefaultErrorRate, a negative value means none.
	ErrorRate float64

	// Users is how many distinct users call (Zipf-distributed); 0 means DefaultUsers.
	Users int

	// MaxLineBytes is the parser's max_line_bytes: noise stays below it and
	// line_too_long lines go above it. 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// SplitBytes is where Docker and CRI envelopes split a long line into
	// partial chunks; 0 means DefaultSplitBytes, a negative value never splits.
	SplitBytes int

	// Start is the time of the first line; the zero value means DefaultStart.
	Start time.Time
	// Step is the time between lines; 0 means DefaultStep.
	Step time.Duration
	// Now, when set, dates lines instead of Start and Step (live mode: the
	// wall clock). Output is then no longer reproducible.
	Now func() time.Time

	// Bench makes every line the fixed benchmark shape (see AppendBenchLine):
	// no noise, no malformed lines, ~300 bytes.
	Bench bool
}

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Marker == "" {
		o.Marker = DefaultMarker
	}
	if o.MaxLineBytes == 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.SplitBytes == 0 {
		o.SplitBytes = DefaultSplitBytes
	}
	if o.Users == 0 {
		o.Users = DefaultUsers
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	if o.Step == 0 {
		o.Step = DefaultStep
	}
	if o.ErrorRate == 0 {
		o.ErrorRate = DefaultErrorRate
	}
	if o.ErrorRate < 0 {
		o.ErrorRate = 0
	}
	return o
}

// Validate reports every problem with o.
func (o Options) Validate() error {
	var errs []error
	frac := func(name string, v float64, max float64) {
		if !(v >= 0 && v <= max) {
			errs = append(errs, fmt.Errorf("%s %v: want a fraction between 0 and %v", name, v, max))
		}
	}
	frac("noise", o.Noise, 0.99)
	frac("malformed", o.Malformed, 1)
	frac("no-cost", o.NoCost, 1)
	frac("no-id", o.NoID, 1)
	frac("no-time", o.NoTime, 1)
	if o.ErrorRate > 1 {
		errs = append(errs, fmt.Errorf("error rate %v: want at most 1", o.ErrorRate))
	}
	if o.Envelope > CRI {
		errs = append(errs, fmt.Errorf("envelope %d: unknown", o.Envelope))
	}
	if o.Layout > JSONLayout {
		errs = append(errs, fmt.Errorf("layout %d: unknown", o.Layout))
	}
	if o.Users < 0 {
		errs = append(errs, fmt.Errorf("users %d: want at least 1", o.Users))
	}
	if o.MaxLineBytes < 0 || (o.MaxLineBytes > 0 && o.MaxLineBytes < 1024) {
		errs = append(errs, fmt.Errorf("max line bytes %d: want at least 1024", o.MaxLineBytes))
	}
	if o.SplitBytes > 0 && o.SplitBytes < 64 {
		errs = append(errs, fmt.Errorf("split bytes %d: want at least 64", o.SplitBytes))
	}
	if o.Step < 0 {
		errs = append(errs, fmt.Errorf("step %v: want a positive duration", o.Step))
	}
	d := o.withDefaults()
	for _, r := range o.MalformedReasons {
		if !canCarry(d, r) {
			errs = append(errs, fmt.Errorf("malformed reason %q: not produced for %s envelope, %s layout", r, d.Envelope, d.Layout))
		}
	}
	if o.Malformed > 0 && o.MalformedReasons != nil && len(o.MalformedReasons) == 0 {
		errs = append(errs, errors.New("malformed reasons: empty list"))
	}
	return errors.Join(errs...)
}

// malformedWeights are the relative frequencies of the malformed kinds.
// line_too_long lines are as long as the parser's limit (1 MiB by default),
// so they are kept rare.
var malformedWeights = map[parse.Reason]int{
	parse.ReasonNotJSON:        100,
	parse.ReasonTruncatedJSON:  100,
	parse.ReasonNotObject:      40,
	parse.ReasonWrongType:      100,
	parse.ReasonNegativeTokens: 100,
	parse.ReasonAbsurdTokens:   100,
	parse.ReasonNotFinite:      100,
	parse.ReasonInvalidUTF8:    100,
	parse.ReasonMissingModel:   100,
	parse.ReasonBadTime:        100,
	parse.ReasonBadCost:        100,
	parse.ReasonBadEnvelope:    100,
	parse.ReasonLineTooLong:    2,
}

// reasonOrder is the order reasons are listed in.
var reasonOrder = [...]parse.Reason{
	parse.ReasonNotJSON, parse.ReasonTruncatedJSON, parse.ReasonNotObject, parse.ReasonWrongType,
	parse.ReasonNegativeTokens, parse.ReasonAbsurdTokens, parse.ReasonNotFinite, parse.ReasonBadCost,
	parse.ReasonInvalidUTF8, parse.ReasonMissingModel, parse.ReasonBadTime, parse.ReasonLineTooLong,
	parse.ReasonBadEnvelope,
}

// MalformedReasons lists the reasons a generator with these options can
// produce.
func MalformedReasons(o Options) []parse.Reason {
	o = o.withDefaults()
	var rs []parse.Reason
	for _, r := range reasonOrder {
		if canCarry(o, r) {
			rs = append(rs, r)
		}
	}
	return rs
}

// canCarry reports whether a line of o's envelope and layout can be broken so
// that a parser rejects it for reason r.
func canCarry(o Options, r parse.Reason) bool {
	if _, ok := malformedWeights[r]; !ok {
		return false // server_refused and reasons the generator cannot cause
	}
	switch r {
	case parse.ReasonBadEnvelope:
		return o.Envelope != Plain
	case parse.ReasonInvalidUTF8:
		// dockerd re-encodes the line as JSON, turning bad bytes into U+FFFD:
		// a Docker log never carries them.
		return o.Envelope != Docker
	case parse.ReasonNotObject:
		// A whole-line JSON source skips lines that are not objects.
		return o.Layout == MarkerLayout
	}
	return true
}
