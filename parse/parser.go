package parse

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// DefaultMarker precedes the JSON record in a line when a source sets none.
const DefaultMarker = "AI_COST:"

// DefaultMaxLineBytes is the longest line accepted when a source sets none.
const DefaultMaxLineBytes = 1 << 20

// Config is what a Parser needs to know about its source.
type Config struct {
	Source string
	// Marker precedes the record's JSON; "" means the whole line is a JSON object.
	Marker string
	// Match keeps only objects whose fields have these values (dotted paths allowed).
	Match map[string]string
	// Fields maps a record field name to the log field that carries it,
	// replacing the default aliases of that record field.
	Fields map[string]string
	// Labels are added to every record.
	Labels []Label
	// DropFields are removed (at any depth) like the content fields.
	DropFields []string
	// MaxLineBytes bounds a line; 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// Pricing prices records that carry no cost; nil leaves them unpriced.
	Pricing *PriceTable
}

// Outcome says what Parse made of a message.
type Outcome uint8

// Outcomes of Parse.
const (
	Skipped  Outcome = iota // not a record: no marker, or filtered out by match
	Parsed                  // *rec holds a record
	Rejected                // *rej says why the line is not a record
)

// Parser turns messages of one source into records. It reuses its buffers
// between calls and is not safe for concurrent use: use one per goroutine.
type Parser struct {
	cfg     Config
	marker  []byte
	aliases aliasTable
	keys    keyTable
	match   []matchRule
	drop    map[string]bool
	maxLine int

	jp fastjson.Parser

	// Per-call state, reset by Parse.
	vals     [numFields]*fastjson.Value
	valTop   [numFields]int32 // index of the top-level member a value is, -1 when nested
	prio     [numFields]uint8
	inputAnt bool // input_tokens came from Anthropic's usage.input_tokens
	consumed []*fastjson.Value
	path     []byte
	visitFn  func(key []byte, v *fastjson.Value)
	attrFn   func(key []byte, v *fastjson.Value)
	topSkip  []bool // per top-level member, in order: dropped by name
	topIndex int    // the attributes pass's position in topSkip, -1 below the top
	scratch  []byte
	num      []byte
	attrs    []byte

	// Undated counts records dated by the time they were read: no time in
	// the record, the envelope or the line. Re-reading such a line after a
	// crash stores it again, so operators should see this number.
	Undated int64

	prefix []byte // the line before the marker, for its timestamp

	intern    map[string]string
	recent    [256]string // direct-mapped cache of interned strings
	lastPrice struct {
		model, provider string
		group           int
	}
	priceGroup map[modelKey]int // model → first matching pricing glob
}

type modelKey struct{ model, provider string }

type matchRule struct {
	keys  []string
	value string
}

// maxInterned bounds the strings a Parser keeps for reuse (models, features,
// providers): beyond it new values are copied per record instead.
const maxInterned = 10000

// NewParser checks cfg and returns a parser for it.
func NewParser(cfg Config) (*Parser, error) {
	aliases, err := newAliasTable(cfg.Fields)
	if err != nil {
		return nil, err
	}
	p := &Parser{
		cfg:     cfg,
		marker:  []byte(cfg.Marker),
		aliases: aliases,
		drop:    map[string]bool{},
		maxLine: cfg.MaxLineBytes,
		intern:  map[string]string{},

		priceGroup: map[modelKey]int{},
	}
	if p.maxLine <= 0 {
		p.maxLine = DefaultMaxLineBytes
	}
	for _, f := range contentFields {
		p.drop[f] = true
	}
	for _, f := range cfg.DropFields {
		p.drop[f] = true
	}
	for k, v := range cfg.Match {
		p.match = append(p.match, matchRule{keys: strings.Split(k, "."), value: v})
	}
	p.keys = p.aliases.keys(p.drop)
	p.visitFn = p.visit
	return p, nil
}

// Parse turns one message into a record or a reject. readAt dates records
// whose line carries no time of its own. Strings of the record and reject are
// allocated in a; the other slices of msg are not retained.
func (p *Parser) Parse(msg *Message, readAt time.Time, a *Arena, rec *Record, rej *Reject) Outcome {
	text := msg.Text
	var payload []byte
	p.prefix = nil
	if len(p.marker) > 0 {
		i := bytes.Index(text, p.marker)
		if i < 0 {
			if msg.TooLong {
				return p.reject(msg, readAt, a, rej, ReasonLineTooLong, "line is longer than max_line_bytes and was cut before any marker")
			}
			return Skipped
		}
		payload = text[i+len(p.marker):]
		p.prefix = text[:i]
	} else {
		payload = text
	}
	payload = trimSpace(payload)
	if len(p.marker) == 0 && (len(payload) == 0 || payload[0] != '{') {
		if msg.TooLong {
			return p.reject(msg, readAt, a, rej, ReasonLineTooLong, "line is longer than max_line_bytes")
		}
		return Skipped // whole-line JSON logs: lines that are not objects are noise
	}
	if msg.TooLong || len(text) > p.maxLine {
		return p.reject(msg, readAt, a, rej, ReasonLineTooLong, fmt.Sprintf("line is longer than max_line_bytes (%d)", p.maxLine))
	}
	if len(payload) == 0 {
		return p.reject(msg, readAt, a, rej, ReasonNotJSON, "nothing after the marker")
	}
	if payload[0] != '{' {
		if payload[0] == '[' || payload[0] == '"' || (payload[0] >= '0' && payload[0] <= '9') {
			if _, err := p.jp.ParseBytes(payload); err == nil {
				return p.reject(msg, readAt, a, rej, ReasonNotObject, "the record is JSON but not an object")
			}
		}
		return p.reject(msg, readAt, a, rej, ReasonNotJSON, "the text after the marker is not a JSON object")
	}
	if !utf8.Valid(payload) {
		return p.reject(msg, readAt, a, rej, ReasonInvalidUTF8, "the record holds bytes that are not UTF-8")
	}
	// Most records end the line: parse them as they are, and look for the
	// object's end (a logger's suffix, or a cut line) only when that fails.
	v, err := p.jp.ParseBytes(payload)
	if err != nil {
		end, complete := objectEnd(payload)
		if !complete {
			return p.reject(msg, readAt, a, rej, ReasonTruncatedJSON, "the JSON object ends before it is closed")
		}
		if v, err = p.jp.ParseBytes(payload[:end]); err != nil {
			if hasNonFiniteLiteral(payload[:end]) {
				return p.reject(msg, readAt, a, rej, ReasonNotFinite, "the record holds a NaN or Infinity literal")
			}
			return p.reject(msg, readAt, a, rej, ReasonNotJSON, "invalid JSON: "+err.Error())
		}
	}
	if !p.matches(v) {
		return Skipped
	}
	o, _ := v.Object()

	// Find the values of the record fields.
	p.vals = [numFields]*fastjson.Value{}
	p.inputAnt = false
	p.consumed = p.consumed[:0]
	p.path = p.path[:0]
	p.topSkip = p.topSkip[:0]
	o.Visit(p.visitFn)
	for f := range p.vals {
		if p.vals[f] == nil {
			continue
		}
		if i := p.valTop[f]; i >= 0 {
			p.topSkip[i] = true // a top-level member taken by a field: skipped by name order
		} else {
			p.consumed = append(p.consumed, p.vals[f]) // nested: found by pointer
		}
	}
	if reason, detail := p.fill(msg, readAt, a, rec); reason != "" {
		return p.reject(msg, readAt, a, rej, reason, detail)
	}
	p.attrs = p.appendAttrs(p.attrs[:0], o, 0)
	rec.Attributes = a.Bytes(p.attrs)
	return Parsed
}

// visit records which record field each member maps to, descending into the
// objects that hold recognised dotted names. It runs under Object.Visit and
// uses p.path as the dotted prefix.
func (p *Parser) visit(key []byte, v *fastjson.Value) {
	n := len(p.path)
	if n > 0 {
		p.path = append(p.path, '.')
	}
	p.path = append(p.path, key...)
	info := p.keys.get(p.path)
	if n == 0 {
		p.topSkip = append(p.topSkip, info.drop)
	}
	if al := info.alias; info.hasAlias && (p.vals[al.field] == nil || al.prio < p.prio[al.field]) {
		if v.Type() != fastjson.TypeNull {
			p.vals[al.field] = v
			p.prio[al.field] = al.prio
			p.valTop[al.field] = -1
			if n == 0 {
				p.valTop[al.field] = int32(len(p.topSkip) - 1)
			}
			if al.field == fInputTokens {
				p.inputAnt = string(p.path) == anthropicInput
			}
		}
	}
	if info.prefix && v.Type() == fastjson.TypeObject {
		o, _ := v.Object()
		o.Visit(p.visitFn)
	}
	p.path = p.path[:n]
}

func (p *Parser) matches(v *fastjson.Value) bool {
	for _, m := range p.match {
		got := v.Get(m.keys...)
		if got == nil {
			return false
		}
		switch got.Type() {
		case fastjson.TypeString:
			if string(got.GetStringBytes()) != m.value {
				return false
			}
		default:
			p.scratch = got.MarshalTo(p.scratch[:0])
			if string(p.scratch) != m.value {
				return false
			}
		}
	}
	return true
}

// fill normalizes the found values into rec.
func (p *Parser) fill(msg *Message, readAt time.Time, a *Arena, rec *Record) (Reason, string) {
	*rec = Record{Source: p.cfg.Source, Labels: p.cfg.Labels, Offset: msg.Offset, Length: msg.End - msg.Offset, File: msg.File}

	// Model and provider.
	mv := p.vals[fModel]
	if mv == nil {
		return ReasonMissingModel, "no model field"
	}
	model, ok := stringValue(mv)
	if !ok {
		return ReasonWrongType, "model is not a string"
	}
	model = trimSpace(model)
	if len(model) == 0 {
		return ReasonMissingModel, "model is empty"
	}
	var provider []byte
	if pv := p.vals[fProvider]; pv != nil {
		if provider, ok = scalarText(pv, &p.num); !ok {
			return ReasonWrongType, "provider is not a string"
		}
	}
	if i := bytes.IndexByte(model, '/'); i > 0 && i < len(model)-1 {
		// "openai/gpt-4o-mini": the prefix names the provider.
		if len(provider) == 0 || bytes.EqualFold(provider, model[:i]) {
			if len(provider) == 0 {
				provider = model[:i]
			}
			model = model[i+1:]
		}
	}
	rec.Model = p.internBytes(model, a)
	rec.Provider = p.internBytes(provider, a)
	if rec.Provider == "" {
		rec.Provider = inferProvider(rec.Model)
	}

	// Identity and time.
	if iv := p.vals[fEventID]; iv != nil {
		id, ok := scalarText(iv, &p.num)
		if !ok {
			return ReasonWrongType, "event id is not a string or number"
		}
		if len(id) > 0 && len(id) <= 200 {
			rec.EventID = p.text(id, a)
		}
	}
	if rec.EventID == "" {
		var id []byte
		id, p.scratch = derivedID(p.num[:0], p.scratch, msg.Raw, msg.Offset)
		p.num = id
		rec.EventID = a.String(id)
	}
	switch tv := p.vals[fOccurredAt]; {
	case tv != nil:
		t, ok := p.timeValue(tv)
		if !ok {
			return ReasonBadTime, "the timestamp cannot be read"
		}
		rec.OccurredAt = t
	case !msg.Time.IsZero():
		rec.OccurredAt = msg.Time
	default:
		// The logger's own timestamp before the marker is stable across
		// re-reads; the read time is not (a record dated by it gets a new
		// identity when read again), so it is the last resort.
		if t, ok := leadingTime(p.prefix); ok {
			rec.OccurredAt = t
		} else {
			rec.OccurredAt = readAt.UTC()
			p.Undated++
		}
	}
	if !InTimeRange(rec.OccurredAt) {
		// PostgreSQL would store it but InfluxDB cannot: refused here, so
		// that rows and points stay one to one.
		return ReasonBadTime, "the timestamp is outside the years 1678-2261"
	}

	// Who and what.
	if v := p.vals[fUserID]; v != nil {
		u, ok := scalarText(v, &p.num)
		if !ok {
			return ReasonWrongType, "user id is not a string or number"
		}
		rec.UserID = p.text(u, a)
	}
	if v := p.vals[fFeature]; v != nil {
		f, ok := scalarText(v, &p.num)
		if !ok {
			return ReasonWrongType, "feature is not a string"
		}
		rec.Feature = p.internBytes(f, a)
	}

	// Tokens.
	var counts [numFields]int64
	for _, f := range [...]field{fInputTokens, fCachedInputTokens, fOutputTokens, fTotalTokens, fCacheCreation} {
		v := p.vals[f]
		if v == nil {
			continue
		}
		n, reason := p.tokenValue(v)
		if reason != "" {
			return reason, fieldNames[f] + " is " + reasonText(reason)
		}
		counts[f] = n
	}
	if p.inputAnt {
		// Anthropic's usage.input_tokens excludes the cache: the contract's
		// input_tokens counts every prompt token.
		counts[fInputTokens] += counts[fCachedInputTokens] + counts[fCacheCreation]
	}
	if counts[fCachedInputTokens] > counts[fInputTokens] {
		return ReasonAbsurdTokens, "cached_input_tokens is larger than input_tokens"
	}
	rec.InputTokens = counts[fInputTokens]
	rec.CachedInputTokens = counts[fCachedInputTokens]
	rec.OutputTokens = counts[fOutputTokens]
	if p.vals[fTotalTokens] != nil {
		rec.TotalTokens = counts[fTotalTokens]
	} else {
		rec.TotalTokens = rec.InputTokens + rec.OutputTokens
	}

	// Duration.
	if v := p.vals[fDuration]; v != nil {
		d, reason := p.floatValue(v)
		if reason != "" {
			return reason, "duration_ms is " + reasonText(reason)
		}
		if d < 0 {
			return ReasonBadDuration, "duration_ms is negative"
		}
		rec.DurationMS, rec.HasDuration = d, true
	}

	// Outcome.
	if v := p.vals[fErrorType]; v != nil {
		e, ok := errorText(v, &p.num)
		if !ok {
			return ReasonWrongType, "error is not a string or object"
		}
		rec.ErrorType = p.internBytes(e, a)
	}
	rec.Success = rec.ErrorType == ""
	if v := p.vals[fSuccess]; v != nil {
		s, known, ok := successValue(v)
		if !ok {
			return ReasonWrongType, "success/status has an unexpected type"
		}
		if known {
			rec.Success = s
		}
	}

	// Cost.
	if v := p.vals[fCost]; v != nil {
		m, reason := p.moneyValue(v)
		if reason != "" {
			return reason, "cost is " + reasonText(reason)
		}
		rec.Cost, rec.CostSource = m, CostFromLog
	} else if p.cfg.Pricing != nil {
		g := p.lastPrice.group
		if rec.Model != p.lastPrice.model || rec.Provider != p.lastPrice.provider {
			key := modelKey{rec.Model, rec.Provider}
			var cached bool
			g, cached = p.priceGroup[key]
			if !cached {
				g = p.cfg.Pricing.firstGroup(rec.Model, rec.Provider)
				if len(p.priceGroup) < maxInterned {
					p.priceGroup[key] = g
				}
			}
			p.lastPrice.model, p.lastPrice.provider, p.lastPrice.group = rec.Model, rec.Provider, g
		}
		if m, ok := p.cfg.Pricing.costFrom(g, rec); ok {
			rec.Cost, rec.CostSource = m, CostPricing
		} else {
			rec.CostSource = CostUnpriced
		}
	} else {
		rec.CostSource = CostUnpriced
	}
	return "", ""
}

// reject fills rej for msg.
func (p *Parser) reject(msg *Message, readAt time.Time, a *Arena, rej *Reject, reason Reason, detail string) Outcome {
	var id []byte
	id, p.scratch = derivedID(p.num[:0], p.scratch, msg.Raw, msg.Offset)
	p.num = id
	raw := msg.Text
	if len(raw) == 0 {
		raw = msg.Raw
	}
	p.attrs = SanitizeRaw(p.attrs[:0], raw, p.drop)
	*rej = Reject{
		ID:     a.String(id),
		Source: p.cfg.Source,
		File:   msg.File,
		Offset: msg.Offset,
		Reason: reason,
		Detail: detail,
		Raw:    a.Bytes(p.attrs),
		At:     readAt.UTC(),
	}
	return Rejected
}

// RejectEnvelope builds the reject for a line whose envelope Decode refused.
func (p *Parser) RejectEnvelope(msg *Message, detail string, readAt time.Time, a *Arena, rej *Reject) {
	p.reject(msg, readAt, a, rej, ReasonBadEnvelope, detail)
}

// text returns b as a string in a, with NUL bytes (which PostgreSQL's text
// type cannot hold) replaced by U+FFFD.
func (p *Parser) text(b []byte, a *Arena) string {
	if bytes.IndexByte(b, 0) >= 0 {
		p.scratch = bytes.ReplaceAll(b, []byte{0}, []byte("\ufffd"))
		b = p.scratch
	}
	return a.String(b)
}

func (p *Parser) internBytes(b []byte, a *Arena) string {
	if len(b) == 0 {
		return ""
	}
	// A direct-mapped cache in front of the map: models, providers and
	// features repeat from line to line, and a hit costs one compare.
	slot := &p.recent[keyHash(b)&uint32(len(p.recent)-1)]
	if *slot == string(b) {
		return *slot
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return p.text(b, a)
	}
	if s, ok := p.intern[string(b)]; ok {
		*slot = s
		return s
	}
	if len(p.intern) >= maxInterned || len(b) > 128 {
		return a.String(b)
	}
	s := string(b)
	p.intern[s] = s
	*slot = s
	return s
}

func reasonText(r Reason) string {
	switch r {
	case ReasonNegativeTokens:
		return "negative"
	case ReasonAbsurdTokens:
		return "not a plausible whole number"
	case ReasonNotFinite:
		return "NaN or infinite"
	case ReasonWrongType:
		return "of the wrong type"
	case ReasonBadCost:
		return "not a non-negative decimal"
	}
	return string(r)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// objectEnd finds the end of the JSON object that b starts with, so trailing
// text (Monolog's " []", a logger's suffix) is ignored. complete is false when
// b ends inside the object: a truncated line.
func objectEnd(b []byte) (end int, complete bool) {
	depth := 0
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
	}
	return len(b), false
}

// hasNonFiniteLiteral reports whether b holds, outside strings, a value
// spelled NaN, Inf or Infinity (any case, any sign): JSON has no such values,
// and fastjson accepts only some spellings.
func hasNonFiniteLiteral(b []byte) bool {
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case ':', ',', '[':
			j := i + 1
			for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '-' || b[j] == '+') {
				j++
			}
			k := j
			for k < len(b) && (b[k]|0x20 >= 'a' && b[k]|0x20 <= 'z') {
				k++
			}
			switch strings.ToLower(string(b[j:k])) {
			case "nan", "inf", "infinity":
				return true
			}
		}
	}
	return false
}
