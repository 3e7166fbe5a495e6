package parse

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// appendAttrs appends the JSON object of every member of o that no record
// field took and that is not content, to dst. It is called once per record and
// uses p's pre-built visitor, so it allocates nothing.
func (p *Parser) appendAttrs(dst []byte, o *fastjson.Object, _ int) []byte {
	p.attrs = append(dst, '{')
	p.topIndex = 0
	o.Visit(p.attrVisit())
	return append(p.attrs, '}')
}

// attrVisit returns the visitor that writes one member into p.attrs. The
// closure is built once per parser (Visit takes a func value, and building it
// per call would allocate).
func (p *Parser) attrVisit() func(key []byte, v *fastjson.Value) {
	if p.attrFn == nil {
		p.attrFn = func(key []byte, v *fastjson.Value) { p.attrMember(key, v) }
	}
	return p.attrFn
}

func (p *Parser) attrMember(key []byte, v *fastjson.Value) {
	var drop bool
	if top := p.topIndex; top >= 0 {
		// Top-level members were looked up by visit, in the same order.
		drop = p.topSkip[top]
		p.topIndex++
	} else {
		drop = p.keys.get(key).drop
	}
	if drop || (len(p.consumed) > 0 && p.isConsumed(v)) {
		return
	}
	start := len(p.attrs)
	if p.attrs[len(p.attrs)-1] != '{' {
		p.attrs = append(p.attrs, ',')
	}
	p.attrs = appendJSONString(p.attrs, key)
	p.attrs = append(p.attrs, ':')
	if v.Type() == fastjson.TypeObject {
		o, _ := v.Object()
		p.attrs = append(p.attrs, '{')
		saved := p.topIndex
		p.topIndex = -1
		o.Visit(p.attrFn)
		p.topIndex = saved
		p.attrs = append(p.attrs, '}')
		if o.Len() > 0 && p.attrs[len(p.attrs)-2] == '{' {
			// Everything in it was taken or dropped ("usage"): leave it out.
			p.attrs = p.attrs[:start]
		}
		return
	}
	p.attrs = p.appendValue(p.attrs, v)
}

func (p *Parser) isConsumed(v *fastjson.Value) bool {
	for _, c := range p.consumed {
		if c == v {
			return true
		}
	}
	return false
}

// appendValue writes v as JSON that PostgreSQL's jsonb accepts: strings valid
// UTF-8 without NUL, NaN and infinities as strings, content fields dropped.
func (p *Parser) appendValue(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeString:
		return appendJSONString(dst, v.GetStringBytes())
	case fastjson.TypeNumber:
		start := len(dst)
		dst = v.MarshalTo(dst)
		if !validJSONNumber(dst[start:]) {
			// NaN, Inf, 00, 1. : fastjson reads them, jsonb would not.
			p.num = append(p.num[:0], dst[start:]...)
			dst = appendJSONString(dst[:start], p.num)
		}
		return dst
	case fastjson.TypeArray:
		dst = append(dst, '[')
		for i, e := range v.GetArray() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = p.appendValue(dst, e)
		}
		return append(dst, ']')
	case fastjson.TypeObject:
		o, _ := v.Object()
		saved, savedTop := p.attrs, p.topIndex
		p.attrs = append(dst, '{')
		p.topIndex = -1
		o.Visit(p.attrFn)
		dst = append(p.attrs, '}')
		p.attrs, p.topIndex = saved, savedTop
		return dst
	}
	return v.MarshalTo(dst)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 and NUL become
// U+FFFD: PostgreSQL's text and jsonb types cannot hold either.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == 0:
				dst = append(dst, "\ufffd"...)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// SanitizeRaw appends to dst the first MaxRawReject bytes of a rejected line
// with the values of content fields (prompts, completions, and the drop list)
// replaced by "[dropped]", so a reject never stores content either. A line too
// broken to find where such a value ends is cut before the field's name.
func SanitizeRaw(dst, raw []byte, drop map[string]bool) []byte {
	start := len(dst)
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '"' {
			dst = append(dst, c)
			i++
			continue
		}
		// A quoted name: is it a content key followed by ':'?
		j := i + 1
		for j < len(raw) && isKeyByte(raw[j]) {
			j++
		}
		name := raw[i+1 : j]
		if j < len(raw) && raw[j] == '\\' {
			// An escaped name ("\u0070rompt" is "prompt"): decode it to
			// compare. Rejects are rare; the cost does not matter.
			if e := skipJSONValue(raw, i); e-1 > i && raw[e-1] == '"' {
				var s string
				if json.Unmarshal(raw[i:e], &s) == nil {
					name, j = []byte(s), e-1
				}
			}
		}
		if j < len(raw) && raw[j] == '"' && drop[string(name)] {
			k := j + 1
			for k < len(raw) && (raw[k] == ' ' || raw[k] == '\t') {
				k++
			}
			if k < len(raw) && raw[k] == ':' {
				k++
				for k < len(raw) && (raw[k] == ' ' || raw[k] == '\t') {
					k++
				}
				end := skipJSONValue(raw, k)
				dst = append(dst, raw[i:j+1]...)
				dst = append(dst, `:"[dropped]"`...)
				i = end
				continue
			}
		}
		dst = append(dst, c)
		i++
	}
	out := dst[start:]
	// Names of content fields left in an escaped form (a broken Docker line)
	// cut the copy short.
	for name := range drop {
		if n := bytes.Index(out, []byte(`\"`+name+`\"`)); n >= 0 {
			out = append(out[:n], "[cut: content field]"...)
		}
	}
	if len(out) > MaxRawReject {
		n := MaxRawReject
		for n > 0 && !utf8.RuneStart(out[n]) {
			n--
		}
		out = out[:n]
	}
	return dst[:start+len(out)]
}

func isKeyByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// skipJSONValue returns the index just past the JSON value starting at b[i],
// or len(b) when the value runs off the end.
func skipJSONValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(b)
	case '{', '[':
		end, _ := objectEnd(b[i:])
		return i + end
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	return j
}

// validJSONNumber reports whether b is a number as RFC 8259 spells it.
func validJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(b)
}
