package loggen

import (
	"strconv"
	"unicode/utf8"

	"github.com/tokentail/tokentail/parse"
)

// Each malformed line has exactly one problem, so the reason a parser must
// give is not a matter of which check it runs first.

var (
	wrongTypeValues = [...]string{`{}`, `true`, `[]`, `false`, `{"value":812}`, `[812]`}
	absurdValues    = [...]string{"4294967296000", "2500000000", "1000000001", "812.5", "1.5e10", `"99999999999"`}
	badTimeValues   = [...]string{`"2026-11-31T10:00:00Z"`, `"yesterday"`, `"23/11/2026 10:00"`, `"2026-11-23T25:00:00Z"`, `"Mon Nov 23 10:00:00 2026"`, `"N/A"`}
	badCostValues   = [...]string{"-0.0012", "-0.00042", `"-0.5"`, `"0,0025"`, "-3.2e-05"}
	badUTF8Values   = [...]string{"\"quiz_gen\xff\xfe\"", "\"r\xe9sum\xe9\"", "\"chat\xc3\"", "\"\xed\xa0\x80summarize\""}
)

// pickReason draws the kind of a malformed line.
func (g *Generator) pickReason() parse.Reason {
	return g.reasons[pickWeighted(g.r, g.reasonCDF)]
}

// breakCall sets c up so that its line is rejected for reason. Reasons
// about the line as a whole (not_json, truncated_json, bad_envelope, ...)
// are handled when the line is assembled.
func (g *Generator) breakCall(c *call, reason parse.Reason) {
	r := g.r
	c.ovRaw = c.ovRaw[:0]
	set := func(ro role, v string) {
		c.ov = ro
		c.ovRaw = append(c.ovRaw, v...)
	}
	switch reason {
	case parse.ReasonWrongType:
		ro := roleOutput
		if r.IntN(2) == 0 {
			ro = roleInput
		}
		set(ro, wrongTypeValues[r.IntN(len(wrongTypeValues))])
	case parse.ReasonNegativeTokens:
		c.ov = roleOutput
		c.ovRaw = append(c.ovRaw, '-')
		c.ovRaw = strconv.AppendInt(c.ovRaw, int64(1+r.IntN(500)), 10)
	case parse.ReasonAbsurdTokens:
		set(roleOutput, absurdValues[r.IntN(len(absurdValues))])
	case parse.ReasonNotFinite:
		// Python's json.dumps writes these for float('nan') and float('inf').
		switch r.IntN(5) {
		case 0:
			c.hasCost = true
			set(roleCost, "NaN")
		case 1:
			set(roleOutput, "NaN")
		default:
			c.hasDuration = true
			set(roleDuration, pick(g, []string{"NaN", "Infinity", "-Infinity"}))
		}
	case parse.ReasonInvalidUTF8:
		c.hasFeature = true
		set(roleFeature, badUTF8Values[r.IntN(len(badUTF8Values))])
	case parse.ReasonMissingModel:
		c.ov = roleModel
		switch r.IntN(3) {
		case 0:
			c.ovRaw = append(c.ovRaw, `""`...)
		case 1:
			c.ovRaw = append(c.ovRaw, `"  "`...)
		default:
			c.ovOmit = true
		}
	case parse.ReasonBadTime:
		c.hasTime = true
		set(roleTime, badTimeValues[r.IntN(len(badTimeValues))])
	case parse.ReasonBadCost:
		c.hasCost = true
		set(roleCost, badCostValues[r.IntN(len(badCostValues))])
	case parse.ReasonLineTooLong:
		c.hasContent = false
		c.pad = g.o.MaxLineBytes + 1 + r.IntN(256)
	}
}

// appendNotJSON appends text after the marker that is not JSON: a Python
// dict's repr (a logging mistake seen in real apps) or key=value pairs.
func (g *Generator) appendNotJSON(dst []byte, c *call) []byte {
	if g.o.Layout == JSONLayout || g.r.IntN(2) == 0 {
		dst = append(dst, '{')
		if g.o.Layout == JSONLayout {
			dst = append(dst, "'type': 'ai_cost', "...)
		}
		dst = append(dst, "'model': '"...)
		dst = append(dst, c.modelName...)
		dst = append(dst, "', 'input_tokens': "...)
		dst = strconv.AppendInt(dst, c.input, 10)
		dst = append(dst, ", 'output_tokens': "...)
		dst = strconv.AppendInt(dst, c.output, 10)
		dst = append(dst, ", 'cost': "...)
		dst = appendCost(dst, c.cost)
		dst = append(dst, ", 'success': True, 'error': None}"...)
		return dst
	}
	dst = append(dst, "model="...)
	dst = append(dst, c.modelName...)
	dst = append(dst, " input_tokens="...)
	dst = strconv.AppendInt(dst, c.input, 10)
	dst = append(dst, " output_tokens="...)
	dst = strconv.AppendInt(dst, c.output, 10)
	dst = append(dst, " cost="...)
	return appendCost(dst, c.cost)
}

// appendNotObject appends JSON that is not an object.
func (g *Generator) appendNotObject(dst []byte, c *call) []byte {
	switch g.r.IntN(3) {
	case 0:
		dst = append(dst, `["`...)
		dst = append(dst, c.modelName...)
		dst = append(dst, `",`...)
		dst = strconv.AppendInt(dst, c.input, 10)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, c.output, 10)
		return append(dst, ']')
	case 1:
		dst = append(dst, '"')
		dst = append(dst, c.modelName...)
		dst = append(dst, ": "...)
		dst = strconv.AppendInt(dst, c.input, 10)
		return append(dst, ` tokens in"`...)
	}
	return strconv.AppendInt(dst, c.input+c.output, 10)
}

// cutPoint returns where to cut a JSON object so that what is left is an
// unfinished object: inside it, and never inside a UTF-8 sequence (that
// would make the line invalid_utf8 as well).
func (g *Generator) cutPoint(js []byte) int {
	n := len(js) - 1 // the closing brace always goes
	cut := 1 + g.r.IntN(n)
	for cut > 1 && !utf8.RuneStart(js[cut]) {
		cut--
	}
	return cut
}
