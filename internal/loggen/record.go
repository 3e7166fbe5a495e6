package loggen

import (
	"math"
	"strconv"
	"time"
)

// shape is a wire form of a record: which fields, which names, how nested.
type shape uint8

const (
	shapeApp        shape = iota // an application's own flat record, aliases chosen per record
	shapeOpenAI                  // an OpenAI chat completion, usage nested
	shapeAnthropic               // an Anthropic message, usage excluding the cache
	shapeLiteLLM                 // a LiteLLM proxy spend log
	shapeOTelFlat                // OpenTelemetry GenAI attributes, flat dotted keys
	shapeOTelNested              // OpenTelemetry GenAI attributes, nested objects
	numShapes
)

var shapeWeights = [numShapes]int{
	shapeApp:        34,
	shapeOpenAI:     18,
	shapeAnthropic:  14,
	shapeLiteLLM:    10,
	shapeOTelFlat:   12,
	shapeOTelNested: 12,
}

// role is a record field a malformed line may break, whatever name and
// nesting the shape gives it.
type role uint8

const (
	roleNone role = iota
	roleModel
	roleInput
	roleOutput
	roleCost
	roleDuration
	roleTime
	roleFeature
)

// call is one LLM call: the truth a record line is written from.
type call struct {
	t     time.Time // when the line was logged; the call started duration earlier
	shape shape
	m     *model

	modelName string // as written in the model field(s)
	respModel string // the response model of shapes that log two, "" for none
	modelKey  string // what a parser records: the manifest key
	prefixed  bool   // modelName is "provider/name"

	feature string
	user    int

	input, cached, write, output int64 // input includes cached and write (the contract's input)
	cost                         int64 // picodollars, a multiple of 1e-10 USD
	durTenths                    int64 // duration in tenths of a millisecond

	success bool
	errType string

	hasID, hasTime, hasCost, hasDuration, hasUser, hasFeature bool
	hasContent                                                bool
	timeFmt                                                   timeFormat
	ascii                                                     bool // escape non-ASCII like Python's json.dumps
	quote                                                     bool // numbers as numeric strings, like PHP apps

	// A malformed line breaks exactly one field: ov names it, ovRaw is the
	// JSON text written in place of its value, ovOmit drops it.
	ov     role
	ovRaw  []byte
	ovOmit bool
	pad    int // bytes of content added to make the line too long
}

// newCall draws a call at time t.
func (g *Generator) newCall(t time.Time) *call {
	c := &g.c
	raw := c.ovRaw[:0]
	*c = call{t: t, ovRaw: raw}
	r := g.r
	c.shape = shape(pickWeighted(r, g.shapeCDF[:]))
	switch c.shape {
	case shapeOpenAI:
		c.m = &models[pickWeighted(r, g.openaiCDF)]
	case shapeAnthropic:
		c.m = &models[pickWeighted(r, g.anthropicCDF)]
	default:
		c.m = &models[pickWeighted(r, g.modelCDF)]
	}
	m := c.m
	c.modelName, c.modelKey = m.name, m.name
	switch c.shape {
	case shapeApp, shapeLiteLLM:
		p := 0.12
		if c.shape == shapeLiteLLM {
			p = 0.3
		}
		if r.Float64() < p {
			c.prefixed = true
			c.modelName = m.provider + "/" + m.name
		}
	case shapeOpenAI, shapeAnthropic:
		if m.snapshot != "" && r.Float64() < 0.6 {
			c.modelName, c.modelKey = m.snapshot, m.snapshot
		}
	case shapeOTelFlat, shapeOTelNested:
		switch x := r.Float64(); {
		case x < 0.6 && m.snapshot != "":
			c.respModel = m.snapshot
		case x < 0.8:
			c.respModel = m.name
		}
		if c.respModel != "" {
			c.modelKey = c.respModel
		}
	}

	if c.shape == shapeOTelFlat || c.shape == shapeOTelNested {
		c.feature = otelOperations[r.IntN(len(otelOperations))]
	} else {
		c.feature = features[r.IntN(len(features))]
	}
	c.user = int(g.zipf.Uint64()) + 1

	// Token counts are log-normal: most calls are small, a few are huge.
	c.input = logNormal(r, 800, 1.0, 50, 20000)
	c.output = logNormal(r, 160, 0.9, 10, 4000)
	embed := c.feature == "embed_docs" || c.feature == "embeddings"
	if embed {
		c.output = 0
	}
	canCache := c.shape != shapeLiteLLM && !embed
	if canCache && m.family == familyAnthropic && c.shape == shapeAnthropic {
		if r.Float64() < 0.35 {
			c.cached = c.input * int64(20+r.IntN(75)) / 100
		}
		if r.Float64() < 0.1 {
			c.write = (c.input - c.cached) * int64(10+r.IntN(80)) / 100
		}
	} else if canCache && c.input >= 1024 && r.Float64() < 0.35 {
		// OpenAI caches prompt prefixes in steps of 128 tokens.
		c.cached = c.input * int64(30+r.IntN(66)) / 100 / 128 * 128
	}

	c.success = true
	if r.Float64() < g.o.ErrorRate {
		c.success = false
		c.errType = errorTypes[r.IntN(len(errorTypes))]
		c.output, c.cached, c.write = 0, 0, 0
		if r.IntN(2) == 0 {
			c.input = 0
		}
	}

	// Cost: the model's list price, rounded to 1e-10 USD as apps log it.
	pico := (c.input-c.cached-c.write)*m.input + c.cached*m.cached + c.write*m.cacheWrite + c.output*m.output
	c.cost = (pico + 50) / 100 * 100

	// Latency: time to first token plus per-token time, with a long tail.
	ms := 180 + float64(c.output)*(4+r.Float64()*16) + float64(c.input)*0.01
	if r.Float64() < 0.03 {
		ms *= 3 + r.Float64()*12
	}
	switch c.errType {
	case "timeout":
		ms = 30000 + r.Float64()*90000
	case "rate_limit":
		ms = 20 + r.Float64()*200
	}
	c.durTenths = int64(ms * 10)

	c.hasID = r.Float64() >= g.o.NoID
	c.hasTime = r.Float64() >= g.o.NoTime
	c.hasCost = r.Float64() >= g.o.NoCost
	c.hasDuration = r.Float64() < 0.9
	c.hasUser = r.Float64() < 0.92
	c.hasFeature = r.Float64() < 0.95
	c.hasContent = r.Float64() < 0.08
	c.timeFmt = timeFormat(r.IntN(int(numTimeFormats)))
	c.ascii = r.IntN(4) == 0
	c.quote = c.shape == shapeApp && r.IntN(8) == 0
	return c
}

// logNormal draws a rounded log-normal value with the given median, clamped.
func logNormal(r interface{ NormFloat64() float64 }, median, sigma float64, lo, hi int64) int64 {
	v := int64(math.Round(median * math.Exp(sigma*r.NormFloat64())))
	return min(max(v, lo), hi)
}

// started is when the call began: the record's own time.
func (c *call) started() time.Time {
	return c.t.Add(-time.Duration(c.durTenths) * 100 * time.Microsecond)
}

// --- JSON writing. Keys are constant ASCII and written unescaped. ---

func (g *Generator) key(k string) {
	if n := len(g.b); n > 0 && g.b[n-1] != '{' && g.b[n-1] != '[' {
		g.b = append(g.b, ',')
	}
	g.b = append(g.b, '"')
	g.b = append(g.b, k...)
	g.b = append(g.b, '"', ':')
}

func (g *Generator) str(k, v string) {
	g.key(k)
	g.b = appendJSONString(g.b, v, g.c.ascii)
}

func (g *Generator) int(k string, v int64) {
	g.key(k)
	g.b = strconv.AppendInt(g.b, v, 10)
}

func (g *Generator) raw(k, v string) {
	g.key(k)
	g.b = append(g.b, v...)
}

func (g *Generator) open(k string) {
	g.key(k)
	g.b = append(g.b, '{')
}

func (g *Generator) close() { g.b = append(g.b, '}') }

// broken writes the override of role ro under k, if ro is the broken one.
func (g *Generator) broken(ro role, k string) bool {
	c := &g.c
	if c.ov != ro || ro == roleNone {
		return false
	}
	if !c.ovOmit {
		g.key(k)
		g.b = append(g.b, c.ovRaw...)
	}
	return true
}

func (g *Generator) model(k, name string) {
	if g.broken(roleModel, k) {
		return
	}
	g.str(k, name)
}

func (g *Generator) tokens(ro role, k string, v int64) {
	if g.broken(ro, k) {
		return
	}
	g.key(k)
	if g.c.quote {
		g.b = append(g.b, '"')
		g.b = strconv.AppendInt(g.b, v, 10)
		g.b = append(g.b, '"')
		return
	}
	g.b = strconv.AppendInt(g.b, v, 10)
}

func (g *Generator) cost(k string) {
	c := &g.c
	if !c.hasCost || g.broken(roleCost, k) {
		return
	}
	g.key(k)
	switch {
	case c.quote:
		g.b = append(g.b, '"')
		g.b = appendCost(g.b, c.cost)
		g.b = append(g.b, '"')
	case c.cost == 0:
		g.b = append(g.b, "0.0"...)
	case c.cost < 100_000_000 && c.ascii:
		// Python's json.dumps writes floats below 1e-4 in exponent form.
		g.b = appendCostSci(g.b, c.cost)
	default:
		g.b = appendCost(g.b, c.cost)
	}
}

func (g *Generator) duration(k string) {
	c := &g.c
	if !c.hasDuration || g.broken(roleDuration, k) {
		return
	}
	g.key(k)
	if c.durTenths%3 == 0 {
		g.b = strconv.AppendInt(g.b, c.durTenths/10, 10)
		return
	}
	g.b = appendTenths(g.b, c.durTenths)
}

func (g *Generator) feature(k string) {
	c := &g.c
	if !c.hasFeature || g.broken(roleFeature, k) {
		return
	}
	g.str(k, c.feature)
}

func (g *Generator) user(k string) {
	c := &g.c
	if !c.hasUser {
		return
	}
	g.key(k)
	if c.user%5 == 0 {
		g.b = strconv.AppendInt(g.b, int64(c.user), 10) // numeric user ids
		return
	}
	g.b = append(g.b, `"user_`...)
	g.b = strconv.AppendInt(g.b, int64(c.user), 10)
	g.b = append(g.b, '"')
}

// timeFormat is how a record writes its own time.
type timeFormat uint8

const (
	tfRFC3339Milli  timeFormat = iota // "2026-11-23T10:00:00.123Z"
	tfRFC3339Nano                     // "2026-11-23T10:00:00.123456789Z"
	tfRFC3339Offset                   // "2026-11-23T11:00:00.123+01:00"
	tfNoZone                          // "2026-11-23T10:00:00.123456" (UTC)
	tfEpochS                          // 1795426800
	tfEpochSFrac                      // 1795426800.123
	tfEpochMS                         // 1795426800123
	tfEpochNS                         // 1795426800123456789
	numTimeFormats
)

func (g *Generator) time(k string) {
	c := &g.c
	if !c.hasTime || g.broken(roleTime, k) {
		return
	}
	g.key(k)
	g.b = appendTime(g.b, c.started(), c.timeFmt, c.user)
}

func appendTime(dst []byte, t time.Time, f timeFormat, salt int) []byte {
	t = t.UTC()
	switch f {
	case tfRFC3339Milli:
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
		return append(dst, '"')
	case tfRFC3339Nano:
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	case tfRFC3339Offset:
		dst = append(dst, '"')
		dst = t.In(zones[salt%len(zones)]).AppendFormat(dst, "2006-01-02T15:04:05.000-07:00")
		return append(dst, '"')
	case tfNoZone:
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000000")
		return append(dst, '"')
	case tfEpochS:
		return strconv.AppendInt(dst, t.Unix(), 10)
	case tfEpochSFrac:
		ms := t.UnixMilli()
		dst = strconv.AppendInt(dst, ms/1000, 10)
		dst = append(dst, '.')
		return append(dst, byte('0'+ms/100%10), byte('0'+ms/10%10), byte('0'+ms%10))
	case tfEpochMS:
		return strconv.AppendInt(dst, t.UnixMilli(), 10)
	default:
		return strconv.AppendInt(dst, t.UnixNano(), 10)
	}
}

func (g *Generator) errorFields(errKey string) {
	c := &g.c
	if c.success {
		return
	}
	g.str(errKey, c.errType)
}

// id writes a unique request id in a provider's style.
func (g *Generator) id(k string, style int) {
	if !g.c.hasID {
		return
	}
	g.idSeq++
	a := mix64(g.idTag + g.idSeq)
	b := mix64(a ^ 0x9e3779b97f4a7c15)
	g.key(k)
	g.b = append(g.b, '"')
	switch style {
	case idOpenAI:
		g.b = append(g.b, "chatcmpl-"...)
		g.b = appendBase62(g.b, a)
		g.b = appendBase62(g.b, b)
	case idAnthropic:
		g.b = append(g.b, "msg_01"...)
		g.b = appendBase62(g.b, a)
		g.b = appendBase62(g.b, b)
	case idUUID, idLiteLLM:
		if style == idLiteLLM {
			g.b = append(g.b, "chatcmpl-"...)
		}
		g.b = appendHex(g.b, a>>32, 8)
		g.b = append(g.b, '-')
		g.b = appendHex(g.b, a>>16, 4)
		g.b = append(g.b, '-')
		g.b = appendHex(g.b, a, 4)
		g.b = append(g.b, '-')
		g.b = appendHex(g.b, b>>48, 4)
		g.b = append(g.b, '-')
		g.b = appendHex(g.b, b, 12)
	default:
		g.b = append(g.b, "req_"...)
		g.b = appendHex(g.b, a, 16)
		g.b = appendHex(g.b, b>>32, 8)
	}
	g.b = append(g.b, '"')
}

const (
	idReq = iota
	idUUID
	idOpenAI
	idAnthropic
	idLiteLLM
)

// attributes writes a few of the extra fields apps add (kept by the parser).
func (g *Generator) attributes() {
	r := g.r
	n := r.IntN(4)
	var used uint8 // a key twice would leave which value counts to the JSON library
	for i := 0; i < n; i++ {
		k := r.IntN(7)
		if used&(1<<k) != 0 {
			continue
		}
		used |= 1 << k
		switch k {
		case 0:
			g.str("school", schools[g.c.user%len(schools)])
		case 1:
			g.str("plan", plans[g.c.user%len(plans)])
		case 2:
			g.key("team_id")
			g.b = append(g.b, `"t-`...)
			g.b = strconv.AppendInt(g.b, int64(g.c.user%37), 10)
			g.b = append(g.b, '"')
		case 3:
			g.str("region", regions[r.IntN(len(regions))])
		case 4:
			g.str("env", envs[r.IntN(len(envs))])
		case 5:
			g.str("app_version", versions[r.IntN(len(versions))])
		case 6:
			g.int("tenant_id", int64(g.c.user%101))
		}
	}
}

// content writes prompt and completion text, which the parser must drop.
func (g *Generator) content() {
	c := &g.c
	r := g.r
	if !c.hasContent {
		return
	}
	p, q := prompts[r.IntN(len(prompts))], completions[r.IntN(len(completions))]
	switch r.IntN(4) {
	case 0:
		g.str("prompt", p)
		g.str("completion", q)
	case 1:
		g.key("messages")
		g.b = append(g.b, `[{"role":"system","content":"You are a patient tutor."},{"role":"user","content":`...)
		g.b = appendJSONString(g.b, p, c.ascii)
		g.b = append(g.b, "}]"...)
		g.str("response", q)
	case 2:
		g.str("prompt", p)
	default:
		g.str("response", q)
	}
}
