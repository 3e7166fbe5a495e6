// Package loggen writes realistic AI-usage logs, and knows the truth about
// them.
//
// A Generator writes the lines that AI SaaS backends (FastAPI, Laravel,
// Next.js, LiteLLM proxies, OpenTelemetry-instrumented services) write: one
// record per LLM call in the many shapes and field names seen in the wild,
// mixed with noise (app logs, access lines, stack traces, multi-KB lines) and,
// on request, malformed records. Lines can be wrapped in Docker json-file or
// CRI envelopes. Its Manifest says what a correct parser must find: records,
// rejects by reason, the exact cost and token sums.
//
// The same seed and options give the same bytes (batch mode); Live appends
// at a rate to rotating files (live mode).
package loggen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/tokentail/tokentail/parse"
)

// Kind is what a generated entry is.
type Kind uint8

// The kinds of entries.
const (
	KindNoise     Kind = iota // no record: a parser skips it
	KindRecord                // a valid record
	KindMalformed             // a record a parser must reject
)

// String returns "noise", "record" or "malformed".
func (k Kind) String() string {
	switch k {
	case KindRecord:
		return "record"
	case KindMalformed:
		return "malformed"
	}
	return "noise"
}

// Generator writes log lines and keeps their manifest. It is not safe for
// concurrent use.
type Generator struct {
	o      Options
	marker []byte
	r      *rand.Rand
	zipf   *rand.Zipf

	shapeCDF     [numShapes]int
	modelCDF     []int
	openaiCDF    []int // indexes into models are found by pickWeighted over these
	anthropicCDF []int
	reasons      []parse.Reason
	reasonCDF    []int

	n      int64  // entries generated: the clock of batch mode
	idSeq  uint64 // ids are mix64(idTag+idSeq): unique by construction
	idTag  uint64
	c      call
	b      []byte // the record's JSON
	app    []byte // the entry's application lines, each ending in '\n'
	m      Manifest
	models map[string]*ModelStats
	// sound asks for a readable envelope on the next entry: live mode sets
	// it for the first entry of a new or truncated file.
	sound bool
}

// New returns a generator for o. Invalid options are reported by
// o.Validate; New clamps them so that it never fails.
func New(o Options) *Generator {
	o = o.withDefaults()
	o.Noise = min(max(o.Noise, 0), 0.99)
	o.Users = max(o.Users, 1)
	g := &Generator{
		o:      o,
		marker: []byte(o.Marker),
		r:      rand.New(rand.NewPCG(o.Seed, 0x70b3_7a11_c0de_5eed)),
		models: map[string]*ModelStats{},
	}
	g.idTag = mix64(o.Seed ^ 0x1d5_1d5_1d5)
	g.zipf = rand.NewZipf(g.r, 1.2, 2, uint64(o.Users-1))

	for i, w := range shapeWeights {
		g.shapeCDF[i] = w
		if i > 0 {
			g.shapeCDF[i] += g.shapeCDF[i-1]
		}
	}
	g.modelCDF = modelCDF(func(m *model) bool { return true })
	g.openaiCDF = modelCDF(func(m *model) bool { return m.family == familyOpenAI })
	g.anthropicCDF = modelCDF(func(m *model) bool { return m.family == familyAnthropic })

	g.reasons = o.MalformedReasons
	if len(g.reasons) == 0 {
		g.reasons = MalformedReasons(o)
	}
	for _, r := range g.reasons {
		if !canCarry(o, r) {
			continue
		}
		w := malformedWeights[r]
		if len(g.reasonCDF) > 0 {
			w += g.reasonCDF[len(g.reasonCDF)-1]
		}
		g.reasonCDF = append(g.reasonCDF, w)
	}
	g.reasons = g.reasons[:len(g.reasonCDF)]
	if len(g.reasonCDF) == 0 {
		g.o.Malformed = 0
	}

	g.m = Manifest{
		Seed:         o.Seed,
		Envelope:     o.Envelope.String(),
		Layout:       o.Layout.String(),
		MaxLineBytes: o.MaxLineBytes,
		Rejects:      map[parse.Reason]int64{},
	}
	if o.Layout == MarkerLayout {
		g.m.Marker = o.Marker
	}
	return g
}

// modelCDF returns cumulative weights over all models, zero weight for
// those keep refuses, so that pickWeighted returns an index into models.
func modelCDF(keep func(*model) bool) []int {
	cdf := make([]int, len(models))
	sum := 0
	for i := range models {
		if keep(&models[i]) {
			sum += models[i].weight
		}
		cdf[i] = sum
	}
	return cdf
}

// pickWeighted returns i with probability proportional to cdf[i]-cdf[i-1].
func pickWeighted(r *rand.Rand, cdf []int) int {
	x := r.IntN(cdf[len(cdf)-1])
	for i, c := range cdf {
		if x < c {
			return i
		}
	}
	return len(cdf) - 1
}

// clock returns the time of the next entry.
func (g *Generator) clock() time.Time {
	if g.o.Now != nil {
		return g.o.Now()
	}
	step := int64(g.o.Step)
	return g.o.Start.Add(time.Duration(g.n*step + g.r.Int64N(step)))
}

// Line appends the next entry to dst, envelope included: usually one line,
// several for a stack trace or a line split into partial chunks. Every
// physical line ends in '\n'.
func (g *Generator) Line(dst []byte) ([]byte, Kind) {
	t := g.clock()
	g.n++
	start := len(dst)
	g.app = g.app[:0]
	kind := KindRecord
	stderr := false
	lines := 1
	var reason parse.Reason
	switch {
	case g.o.Bench:
		c := g.benchCall(g.n-1, t)
		g.app = appendBench(g.app, c, g.n-1)
		g.count(c)
	case g.r.Float64() < g.o.Noise:
		kind = KindNoise
		g.app, lines, stderr = g.appendNoise(g.app, t)
		g.m.NoiseLines += int64(lines)
	default:
		c := g.newCall(t)
		if g.o.Malformed > 0 && g.r.Float64() < g.o.Malformed {
			reason = g.pickReason()
			if reason == parse.ReasonBadEnvelope && (g.n == 1 || g.sound) {
				// Format detection reads a file's first line: keep it sound.
				reason = ""
			}
		}
		if reason != "" {
			kind = KindMalformed
			g.breakCall(c, reason)
			g.m.Malformed++
			g.m.Rejects[reason]++
		}
		g.app = g.appendRecordLine(g.app, c, reason)
		if kind == KindRecord {
			g.count(c)
		}
	}
	g.sound = false
	g.m.Lines += int64(lines)
	if reason == parse.ReasonBadEnvelope {
		dst = g.appendBadEnvelope(dst, g.app[:len(g.app)-1], t)
	} else {
		dst = g.wrap(dst, g.app, t, stderr)
	}
	g.m.Bytes += int64(len(dst) - start)
	return dst, kind
}

// appendRecordLine appends the application line of c, newline included.
func (g *Generator) appendRecordLine(dst []byte, c *call, reason parse.Reason) []byte {
	if g.o.Layout == MarkerLayout {
		dst = g.appendPrefix(dst, c.t, "INFO", "app.llm")
		dst = append(dst, g.marker...)
		if g.r.IntN(16) != 0 {
			dst = append(dst, ' ')
		}
	}
	switch reason {
	case parse.ReasonNotJSON:
		dst = g.appendNotJSON(dst, c)
	case parse.ReasonNotObject:
		dst = g.appendNotObject(dst, c)
	default:
		g.b = g.b[:0]
		g.writeRecord()
		js := g.b
		if reason == parse.ReasonTruncatedJSON {
			js = js[:g.cutPoint(js)]
		}
		dst = append(dst, js...)
	}
	return append(dst, '\n')
}

// count adds the valid record c to the manifest.
func (g *Generator) count(c *call) {
	m := &g.m
	m.Records++
	if !c.success {
		m.ErrorRecords++
	}
	if c.hasID {
		m.DistinctRequestIDs++
	} else {
		m.RecordsWithoutID++
	}
	if !c.hasTime {
		m.RecordsWithoutTime++
	}
	m.InputTokens += c.input
	m.CachedInputTokens += c.cached
	m.OutputTokens += c.output
	m.TotalTokens += c.input + c.output
	s := g.models[c.modelKey]
	if s == nil {
		s = &ModelStats{}
		g.models[c.modelKey] = s
	}
	s.Records++
	s.InputTokens += c.input
	s.CachedInputTokens += c.cached
	s.OutputTokens += c.output
	if c.hasCost {
		m.Cost += parse.Money(c.cost)
		s.Cost += parse.Money(c.cost)
	} else {
		m.RecordsWithoutCost++
		s.RecordsWithoutCost++
		s.NoCostInputTokens += c.input
		s.NoCostCachedInputTokens += c.cached
		s.NoCostOutputTokens += c.output
	}
}

// Manifest returns the manifest of everything the generator has written.
func (g *Generator) Manifest() Manifest {
	m := g.m
	m.CostUSD = m.Cost.String()
	m.Rejects = make(map[parse.Reason]int64, len(g.m.Rejects))
	for r, n := range g.m.Rejects {
		m.Rejects[r] = n
	}
	m.Models = make(map[string]ModelStats, len(g.models))
	for k, s := range g.models {
		m.Models[k] = *s
	}
	return m
}

// WriteN writes entries to w until n of them are records (valid or
// malformed; noise comes on top), and returns the generator's manifest.
func (g *Generator) WriteN(w io.Writer, n int) (Manifest, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	var buf []byte
	for done := 0; done < n; {
		var k Kind
		buf, k = g.Line(buf[:0])
		if k != KindNoise {
			done++
		}
		if _, err := bw.Write(buf); err != nil {
			return g.Manifest(), fmt.Errorf("write log: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return g.Manifest(), fmt.Errorf("write log: %w", err)
	}
	return g.Manifest(), nil
}
