package loggen

// A naive, independent reading of the output, following the record table of
// CONTRACT.md with encoding/json and math/big: tests recount what the
// manifest claims with it. It shares no code with the generator.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var contractAliases = map[string][]string{
	"occurred_at":         {"timestamp", "time", "ts", "created_at", "@timestamp", "startTime"},
	"event_id":            {"request_id", "id", "event_id"},
	"user_id":             {"user_id", "user", "userId", "end_user"},
	"feature":             {"feature", "feature_name", "operation", "job_type", "gen_ai.operation.name"},
	"provider":            {"provider", "custom_llm_provider", "gen_ai.provider.name"},
	"model":               {"model", "model_name", "model_used", "resolved_model", "gen_ai.response.model", "gen_ai.request.model"},
	"input_tokens":        {"input_tokens", "prompt_tokens", "usage.prompt_tokens", "usage.input_tokens", "gen_ai.usage.input_tokens"},
	"cached_input_tokens": {"cached_input_tokens", "cached_tokens", "usage.prompt_tokens_details.cached_tokens", "usage.cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens"},
	"output_tokens":       {"output_tokens", "completion_tokens", "usage.completion_tokens", "usage.output_tokens", "gen_ai.usage.output_tokens"},
	"total_tokens":        {"total_tokens", "usage.total_tokens"},
	"cost_usd":            {"cost_usd", "cost", "estimated_cost", "spend"},
	"duration_ms":         {"duration_ms", "response_time_ms", "latency_ms", "request_duration_ms"},
	"success":             {"success", "ok", "status"},
	"error_type":          {"error_type", "error"},
}

// naiveRecord is a record as the contract defines it.
type naiveRecord struct {
	id                     string
	model                  string
	input, cached, output  int64
	total                  int64
	cost                   *big.Rat // nil: no cost in the log
	success                bool
	aliasesUsed            []string // the log field names that supplied values
	anthropicNormalization bool
}

// flatten maps every leaf and object of v to its dotted path.
func flatten(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if prefix != "" {
		out[prefix] = v
	}
	if !ok {
		return
	}
	for k, x := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		flatten(p, x, out)
	}
}

func (f flatFields) find(field string) (string, any, bool) {
	for _, a := range contractAliases[field] {
		if v, ok := f[a]; ok && v != nil {
			return a, v, true
		}
	}
	return "", nil, false
}

type flatFields map[string]any

// naiveParse reads one application line; ok false means a parser must
// reject it (why is not the question here).
func naiveParse(line []byte, marker string, maxLine int) (rec naiveRecord, isRecord, ok bool) {
	payload := line
	if marker != "" {
		i := bytes.Index(line, []byte(marker))
		if i < 0 {
			return rec, false, false
		}
		payload = bytes.TrimSpace(line[i+len(marker):])
	} else if len(line) == 0 || line[0] != '{' {
		return rec, false, false
	}
	if len(line) > maxLine || !utf8.Valid(payload) {
		return rec, true, false
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return rec, true, false // noise objects are always whole JSON
	}
	if marker == "" && obj["type"] != "ai_cost" {
		return rec, false, false
	}
	f := flatFields{}
	flatten("", obj, f)

	use := func(field string) (any, bool) {
		a, v, ok := f.find(field)
		if ok {
			rec.aliasesUsed = append(rec.aliasesUsed, a)
		}
		return v, ok
	}
	mv, ok := use("model")
	ms, isStr := mv.(string)
	if !ok || !isStr || strings.TrimSpace(ms) == "" {
		return rec, true, false
	}
	pv, _ := use("provider")
	ps, _ := pv.(string)
	if i := strings.IndexByte(ms, '/'); i > 0 && (ps == "" || ps == ms[:i]) {
		ms = ms[i+1:]
	}
	rec.model = ms
	if v, ok := use("event_id"); ok {
		rec.id = fmt.Sprint(v)
	}
	use("user_id")
	if v, ok := use("feature"); ok {
		if _, isStr := v.(string); !isStr {
			return rec, true, false
		}
	}
	if v, ok := use("occurred_at"); ok && !validTime(v) {
		return rec, true, false
	}
	tok := func(field string) (int64, bool) {
		v, present := use(field)
		if !present {
			return 0, true
		}
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case string:
			s = x
		default:
			return 0, false
		}
		n, ok := new(big.Int).SetString(s, 10)
		if !ok || n.Sign() < 0 || n.Cmp(big.NewInt(1_000_000_000)) > 0 {
			return 0, false
		}
		return n.Int64(), true
	}
	var good [4]bool
	rec.input, good[0] = tok("input_tokens")
	rec.cached, good[1] = tok("cached_input_tokens")
	rec.output, good[2] = tok("output_tokens")
	rec.total, good[3] = tok("total_tokens")
	for _, g := range good {
		if !g {
			return rec, true, false
		}
	}
	if a, _, _ := f.find("input_tokens"); a == "usage.input_tokens" {
		rec.anthropicNormalization = true
		cw, _ := f["usage.cache_creation_input_tokens"].(json.Number)
		n, _ := cw.Int64()
		rec.input += rec.cached + n
	}
	if _, _, present := f.find("total_tokens"); !present {
		rec.total = rec.input + rec.output
	}
	if v, ok := use("cost_usd"); ok {
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case string:
			s = x
		default:
			return rec, true, false
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok || r.Sign() < 0 {
			return rec, true, false
		}
		rec.cost = r
	}
	if v, ok := use("duration_ms"); ok {
		if _, isNum := v.(json.Number); !isNum {
			return rec, true, false
		}
	}
	rec.success = true
	if _, ok := use("error_type"); ok {
		rec.success = false
	}
	if v, ok := use("success"); ok {
		switch x := v.(type) {
		case bool:
			rec.success = x
		case string:
			rec.success = x == "success" || x == "ok"
		}
	}
	return rec, true, true
}

func validTime(v any) bool {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return err == nil && f > 0
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
			if _, err := time.Parse(layout, x); err == nil {
				return true
			}
		}
	}
	return false
}

// unwrap returns the application lines of out, envelopes removed and
// partial chunks joined, and how many physical lines had a broken envelope.
func unwrap(t *testing.T, out []byte, env Envelope) (lines [][]byte, broken int) {
	t.Helper()
	var partial []byte
	holding := false
	for len(out) > 0 {
		i := bytes.IndexByte(out, '\n')
		if i < 0 {
			t.Fatalf("output does not end in a newline: %q", out)
		}
		phys := out[:i]
		out = out[i+1:]
		switch env {
		case Plain:
			lines = append(lines, phys)
		case Docker:
			var e struct {
				Log    *string `json:"log"`
				Stream string  `json:"stream"`
				Time   string  `json:"time"`
			}
			if err := json.Unmarshal(phys, &e); err != nil || e.Log == nil {
				broken++
				continue
			}
			if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil || (e.Stream != "stdout" && e.Stream != "stderr") {
				t.Fatalf("docker line %q: bad time or stream", phys)
			}
			partial = append(partial, *e.Log...)
			if strings.HasSuffix(*e.Log, "\n") {
				lines = append(lines, bytes.Clone(partial[:len(partial)-1]))
				partial = partial[:0]
			}
		case CRI:
			parts := bytes.SplitN(phys, []byte(" "), 4)
			if len(parts) < 3 {
				broken++
				continue
			}
			_, err := time.Parse(time.RFC3339Nano, string(parts[0]))
			tag := string(parts[2])
			stream := string(parts[1])
			if err != nil || (stream != "stdout" && stream != "stderr") || (tag != "P" && tag != "F") {
				broken++
				continue
			}
			var msg []byte
			if len(parts) == 4 {
				msg = parts[3]
			}
			partial = append(partial, msg...)
			holding = tag == "P"
			if !holding {
				lines = append(lines, bytes.Clone(partial))
				partial = partial[:0]
			}
		}
	}
	if len(partial) > 0 || holding {
		t.Fatalf("output ends inside a partial line")
	}
	return lines, broken
}
