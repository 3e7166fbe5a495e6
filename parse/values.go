package parse

import (
	"time"

	"github.com/valyala/fastjson"
)

// stringValue returns the bytes of a JSON string.
func stringValue(v *fastjson.Value) ([]byte, bool) {
	if v.Type() != fastjson.TypeString {
		return nil, false
	}
	return v.GetStringBytes(), true
}

// scalarText returns a string's bytes or a number's text (ids, user ids
// logged as numbers). buf is scratch space for the number's text.
func scalarText(v *fastjson.Value, buf *[]byte) ([]byte, bool) {
	switch v.Type() {
	case fastjson.TypeString:
		return v.GetStringBytes(), true
	case fastjson.TypeNumber:
		*buf = v.MarshalTo((*buf)[:0])
		return *buf, true
	}
	return nil, false
}

// numberText returns the decimal text of a number, or of a numeric string.
func (p *Parser) numberText(v *fastjson.Value) ([]byte, bool) {
	switch v.Type() {
	case fastjson.TypeNumber:
		p.num = v.MarshalTo(p.num[:0])
		return p.num, true
	case fastjson.TypeString:
		return trimSpace(v.GetStringBytes()), true
	}
	return nil, false
}

func (p *Parser) tokenValue(v *fastjson.Value) (int64, Reason) {
	text, ok := p.numberText(v)
	if !ok {
		return 0, ReasonWrongType
	}
	if n, ok := atoiAll(text); ok {
		if n > MaxTokens {
			return 0, ReasonAbsurdTokens
		}
		return n, ""
	}
	if isNonFiniteText(text) {
		return 0, ReasonNotFinite
	}
	f, ok := parseFloatText(text)
	if !ok {
		return 0, ReasonWrongType
	}
	return tokenCount(f)
}

func (p *Parser) floatValue(v *fastjson.Value) (float64, Reason) {
	text, ok := p.numberText(v)
	if !ok {
		return 0, ReasonWrongType
	}
	if isNonFiniteText(text) {
		return 0, ReasonNotFinite
	}
	f, ok := parseFloatText(text)
	if !ok {
		return 0, ReasonWrongType
	}
	return f, ""
}

func (p *Parser) moneyValue(v *fastjson.Value) (Money, Reason) {
	text, ok := p.numberText(v)
	if !ok {
		return 0, ReasonWrongType
	}
	if isNonFiniteText(text) {
		return 0, ReasonNotFinite
	}
	if len(text) > 0 && text[0] == '$' {
		text = text[1:] // "$0.0021"
	}
	m, err := parseMoneyBytes(text)
	if err != nil {
		return 0, ReasonBadCost
	}
	return m, ""
}

func (p *Parser) timeValue(v *fastjson.Value) (time.Time, bool) {
	switch v.Type() {
	case fastjson.TypeString:
		return parseTimeText(trimSpace(v.GetStringBytes()))
	case fastjson.TypeNumber:
		p.num = v.MarshalTo(p.num[:0])
		if isNonFiniteText(p.num) {
			return time.Time{}, false
		}
		f, ok := parseFloatText(p.num)
		if !ok {
			return time.Time{}, false
		}
		return epochTime(f, p.num)
	}
	return time.Time{}, false
}

// errorText reads error_type / error: a string, a number, true, or an object
// with a type or code. null and false mean no error.
func errorText(v *fastjson.Value, buf *[]byte) ([]byte, bool) {
	switch v.Type() {
	case fastjson.TypeString:
		return trimSpace(v.GetStringBytes()), true
	case fastjson.TypeNumber:
		*buf = v.MarshalTo((*buf)[:0])
		return *buf, true
	case fastjson.TypeFalse:
		return nil, true
	case fastjson.TypeTrue:
		return []byte("error"), true
	case fastjson.TypeObject:
		for _, k := range [...]string{"type", "code", "name"} {
			if t := v.Get(k); t != nil {
				if s, ok := scalarText(t, buf); ok && len(s) > 0 {
					return s, true
				}
			}
		}
		return []byte("error"), true
	}
	return nil, false
}

// successValue reads success / ok / status. known is false for a status it
// doesn't recognise (then the error field decides).
func successValue(v *fastjson.Value) (success, known, ok bool) {
	switch v.Type() {
	case fastjson.TypeTrue:
		return true, true, true
	case fastjson.TypeFalse:
		return false, true, true
	case fastjson.TypeNumber:
		n := v.GetFloat64()
		if n >= 100 && n < 600 { // an HTTP status
			return n < 400, true, true
		}
		return n != 0, true, true
	case fastjson.TypeString:
		s := trimSpace(v.GetStringBytes())
		switch string(s) {
		case "success", "ok", "OK", "Success", "SUCCESS", "succeeded", "true", "completed", "1":
			return true, true, true
		case "failure", "error", "ERROR", "Error", "failed", "fail", "false", "Failure", "0":
			return false, true, true
		}
		return false, false, true
	}
	return false, false, false
}
