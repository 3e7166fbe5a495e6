package parse

import (
	"strings"
	"testing"
	"time"
)

var readAt = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func testPricing(t *testing.T) *PriceTable {
	t.Helper()
	pt, err := NewPriceTable([]Price{
		{Match: "gpt-4o-mini*", Input: "0.15", CachedInput: "0.075", Output: "0.60"},
		{Match: "gpt-4o*", Input: "2.50", CachedInput: "1.25", Output: "10"},
		{Match: "gpt-4o*", Input: "5", Output: "15", EffectiveFrom: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{Match: "claude-sonnet-4*", Input: "3", CachedInput: "0.30", Output: "15"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func newTestParser(t *testing.T, cfg Config) *Parser {
	t.Helper()
	if cfg.Source == "" {
		cfg.Source = "api"
	}
	if cfg.Pricing == nil {
		cfg.Pricing = testPricing(t)
	}
	p, err := NewParser(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func parseLine(t *testing.T, p *Parser, line string) (Outcome, Record, Reject) {
	t.Helper()
	var rec Record
	var rej Reject
	msg := Message{Text: []byte(line), Raw: []byte(line), File: "app.log", Offset: 100, End: 100 + int64(len(line)) + 1}
	out := p.Parse(&msg, readAt, NewArena(1024), &rec, &rej)
	return out, rec.Clone(), rej
}

func TestParser_Aliases(t *testing.T) {
	p := newTestParser(t, Config{Marker: DefaultMarker})
	tests := []struct {
		name string
		line string
		want func(r Record) string // returns "" when the record is right
	}{
		{"flat openai", `INFO AI_COST: {"model":"gpt-4o-mini","prompt_tokens":812,"completion_tokens":96,"cost":0.0002,"request_id":"r1","user_id":"u1","feature":"chat","duration_ms":123.5,"timestamp":"2026-11-20T10:00:00.123Z"}`,
			func(r Record) string {
				return expect(r.Model == "gpt-4o-mini" && r.InputTokens == 812 && r.OutputTokens == 96 && r.TotalTokens == 908 &&
					r.Cost.String() == "0.0002" && r.CostSource == CostFromLog && r.EventID == "r1" && r.UserID == "u1" &&
					r.Feature == "chat" && r.HasDuration && r.DurationMS == 123.5 && r.Success &&
					r.OccurredAt.Equal(time.Date(2026, 11, 20, 10, 0, 0, 123e6, time.UTC)), r)
			}},
		{"nested openai usage with cache", `AI_COST: {"model":"gpt-4o-mini","usage":{"prompt_tokens":1000,"completion_tokens":10,"total_tokens":1010,"prompt_tokens_details":{"cached_tokens":400,"audio_tokens":0}},"id":"x"}`,
			func(r Record) string {
				// (600*0.15 + 400*0.075 + 10*0.6)/1e6 = 0.000126
				return expect(r.InputTokens == 1000 && r.CachedInputTokens == 400 && r.TotalTokens == 1010 &&
					r.CostSource == CostPricing && r.Cost.String() == "0.000126" &&
					string(r.Attributes) == `{"usage":{"prompt_tokens_details":{"audio_tokens":0}}}`, r)
			}},
		{"anthropic usage excludes cache", `AI_COST: {"model":"claude-sonnet-4-5","usage":{"input_tokens":100,"output_tokens":50,"cache_read_input_tokens":1000,"cache_creation_input_tokens":200}}`,
			func(r Record) string {
				// input = 100+1000+200; cost = (300*3 + 1000*0.3 + 50*15)/1e6
				return expect(r.InputTokens == 1300 && r.CachedInputTokens == 1000 && r.OutputTokens == 50 &&
					r.Cost.String() == "0.00195" && string(r.Attributes) == `{}`, r)
			}},
		{"otel flat dotted", `AI_COST: {"gen_ai.request.model":"gpt-4o","gen_ai.response.model":"gpt-4o-2024-08-06","gen_ai.provider.name":"openai","gen_ai.usage.input_tokens":10,"gen_ai.usage.output_tokens":"20","gen_ai.operation.name":"chat"}`,
			func(r Record) string {
				return expect(r.Model == "gpt-4o-2024-08-06" && r.Provider == "openai" && r.InputTokens == 10 && r.OutputTokens == 20 &&
					r.Feature == "chat" && string(r.Attributes) == `{"gen_ai.request.model":"gpt-4o"}`, r)
			}},
		{"otel nested", `AI_COST: {"gen_ai":{"request":{"model":"gpt-4o"},"usage":{"input_tokens":7,"output_tokens":3,"cache_read":{"input_tokens":2}}}}`,
			func(r Record) string {
				return expect(r.Model == "gpt-4o" && r.InputTokens == 7 && r.OutputTokens == 3 && r.CachedInputTokens == 2 && string(r.Attributes) == `{}`, r)
			}},
		{"litellm", `AI_COST: {"model":"anthropic/claude-sonnet-4-5","custom_llm_provider":"anthropic","spend":"0.0123","response_time_ms":"950","end_user":"42","status":"failure","error":{"type":"rate_limit_error"}}`,
			func(r Record) string {
				return expect(r.Model == "claude-sonnet-4-5" && r.Provider == "anthropic" && r.Cost.String() == "0.0123" &&
					r.DurationMS == 950 && r.UserID == "42" && !r.Success && r.ErrorType == "rate_limit_error", r)
			}},
		{"provider inferred", `AI_COST: {"model":"openai/gpt-4o-mini","input_tokens":1,"output_tokens":1}`,
			func(r Record) string { return expect(r.Provider == "openai" && r.Model == "gpt-4o-mini", r) }},
		{"provider from a well-known model name", `AI_COST: {"model":"claude-haiku-4-5"}`,
			func(r Record) string { return expect(r.Provider == "anthropic", r) }},
		{"no provider for models served by many", `AI_COST: {"model":"llama-3.3-70b-versatile"}`,
			func(r Record) string { return expect(r.Provider == "", r) }},
		{"error field without status", `AI_COST: {"model":"gpt-4o","error":"timeout"}`,
			func(r Record) string { return expect(!r.Success && r.ErrorType == "timeout", r) }},
		{"ok false", `AI_COST: {"model":"gpt-4o","ok":false}`,
			func(r Record) string { return expect(!r.Success && r.ErrorType == "", r) }},
		{"epoch ms and numeric id", `AI_COST: {"model":"m","ts":1763632800123,"id":12345,"user":7}`,
			func(r Record) string {
				return expect(r.OccurredAt.Equal(time.UnixMilli(1763632800123)) && r.EventID == "12345" && r.UserID == "7" && r.CostSource == CostUnpriced, r)
			}},
		{"epoch seconds fractional", `AI_COST: {"model":"m","time":1763632800.5}`,
			func(r Record) string { return expect(r.OccurredAt.Equal(time.Unix(1763632800, 5e8)), r) }},
		{"epoch seconds with millis are exact", `AI_COST: {"model":"m","time":1763632800.123}`,
			func(r Record) string { return expect(r.OccurredAt.Equal(time.Unix(1763632800, 123e6)), r) }},
		{"epoch seconds as text with micros", `AI_COST: {"model":"m","time":"1763632800.123456"}`,
			func(r Record) string { return expect(r.OccurredAt.Equal(time.Unix(1763632800, 123456e3)), r) }},
		{"epoch ns", `AI_COST: {"model":"m","time":1763632800123456789}`,
			func(r Record) string { return expect(r.OccurredAt.Equal(time.Unix(0, 1763632800123456789)), r) }},
		{"rfc3339 zone offset", `AI_COST: {"model":"m","@timestamp":"2026-11-20T15:30:00+05:30"}`,
			func(r Record) string {
				return expect(r.OccurredAt.Equal(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)), r)
			}},
		{"no zone, space", `AI_COST: {"model":"m","created_at":"2026-11-20 10:00:00.5"}`,
			func(r Record) string {
				return expect(r.OccurredAt.Equal(time.Date(2026, 11, 20, 10, 0, 0, 5e8, time.UTC)), r)
			}},
		{"no time uses read time", `AI_COST: {"model":"m"}`,
			func(r Record) string { return expect(r.OccurredAt.Equal(readAt), r) }},
		{"no time in the record: the line's own timestamp", `2026-11-20T10:00:00.250+01:00 INFO app AI_COST: {"model":"m"}`,
			func(r Record) string {
				return expect(r.OccurredAt.Equal(time.Date(2026, 11, 20, 9, 0, 0, 250e6, time.UTC)), r)
			}},
		{"laravel prefix timestamp", `[2026-11-20 10:00:00] production.INFO: AI_COST: {"model":"m"} []`,
			func(r Record) string {
				return expect(r.OccurredAt.Equal(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)), r)
			}},
		{"python logging comma millis", `2026-11-20 10:00:00,5 - app - INFO - AI_COST: {"model":"m"}`,
			func(r Record) string {
				return expect(r.OccurredAt.Equal(time.Date(2026, 11, 20, 10, 0, 0, 5e8, time.UTC)), r)
			}},
		{"content dropped, attributes kept", `AI_COST: {"model":"m","prompt":"secret","messages":[{"role":"user","content":"hi"}],"school":"s1","plan":"pro","meta":{"response":"x","k":1}}`,
			func(r Record) string {
				return expect(string(r.Attributes) == `{"school":"s1","plan":"pro","meta":{"k":1}}`, r)
			}},
		{"monolog trailing context", `[2026-11-20 10:00:00] production.INFO: AI_COST: {"model":"m","input_tokens":5} []`,
			func(r Record) string { return expect(r.InputTokens == 5, r) }},
		{"first alias wins", `AI_COST: {"model_name":"b","model":"a"}`,
			func(r Record) string {
				return expect(r.Model == "a" && string(r.Attributes) == `{"model_name":"b"}`, r)
			}},
		{"pricing effective_from", `AI_COST: {"model":"gpt-4o","input_tokens":1000000,"output_tokens":0,"timestamp":"2026-12-02T00:00:00Z"}`,
			func(r Record) string { return expect(r.Cost.String() == "5" && r.CostSource == CostPricing, r) }},
		{"pricing before effective_from", `AI_COST: {"model":"gpt-4o","input_tokens":1000000,"output_tokens":0,"timestamp":"2026-11-02T00:00:00Z"}`,
			func(r Record) string { return expect(r.Cost.String() == "2.5", r) }},
		{"derived id is stable", `AI_COST: {"model":"m"}`,
			func(r Record) string { return expect(len(r.EventID) == 32, r) }},
		{"nul and bad escapes in attributes", `AI_COST: {"model":"m","note":"a\u0000b","n":1e400}`,
			func(r Record) string { return expect(!strings.Contains(string(r.Attributes), `\u0000`), r) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, rec, rej := parseLine(t, p, tt.line)
			if out != Parsed {
				t.Fatalf("outcome %d, reject %s: %s", out, rej.Reason, rej.Detail)
			}
			if msg := tt.want(rec); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func expect(ok bool, r Record) string {
	if ok {
		return ""
	}
	return "unexpected record: " + debugRecord(r)
}

func debugRecord(r Record) string {
	var b strings.Builder
	b.WriteString("id=" + r.EventID + " model=" + r.Model + " provider=" + r.Provider + " feature=" + r.Feature + " user=" + r.UserID)
	b.WriteString(" at=" + r.OccurredAt.Format(time.RFC3339Nano))
	b.WriteString(" cost=" + r.Cost.String() + "/" + r.CostSource.String())
	b.WriteString(" attrs=" + string(r.Attributes))
	return b.String() + " " + strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(
		fmtInts(r.InputTokens, r.CachedInputTokens, r.OutputTokens, r.TotalTokens), "\n", " "), "  ", " "))
}

func fmtInts(v ...int64) string {
	var s []string
	for _, n := range v {
		s = append(s, time.Duration(n).String())
	}
	return "tokens(in,cached,out,total)=" + strings.Join(s, ",")
}

func TestParser_Rejects(t *testing.T) {
	p := newTestParser(t, Config{Marker: DefaultMarker, MaxLineBytes: 200})
	tests := []struct {
		line string
		want Reason
	}{
		{`AI_COST: not json`, ReasonNotJSON},
		{`AI_COST: `, ReasonNotJSON},
		{`AI_COST: {"model":"m","input_tokens":5`, ReasonTruncatedJSON},
		{`AI_COST: {"model":"m","x":"unterminated`, ReasonTruncatedJSON},
		{`AI_COST: [1,2]`, ReasonNotObject},
		{`AI_COST: {"model":"m" "x":1}`, ReasonNotJSON},
		{`AI_COST: {"model":"m","input_tokens":{}}`, ReasonWrongType},
		{`AI_COST: {"model":"m","input_tokens":true}`, ReasonWrongType},
		{`AI_COST: {"model":"m","input_tokens":"abc"}`, ReasonWrongType},
		{`AI_COST: {"model":"m","input_tokens":-5}`, ReasonNegativeTokens},
		{`AI_COST: {"model":"m","output_tokens":"-1"}`, ReasonNegativeTokens},
		{`AI_COST: {"model":"m","input_tokens":5000000000}`, ReasonAbsurdTokens},
		{`AI_COST: {"model":"m","input_tokens":1.5}`, ReasonAbsurdTokens},
		{`AI_COST: {"model":"m","input_tokens":10,"cached_tokens":20}`, ReasonAbsurdTokens},
		{`AI_COST: {"model":"m","input_tokens":NaN}`, ReasonNotFinite},
		{`AI_COST: {"model":"m","duration_ms":-Infinity}`, ReasonNotFinite},
		{`AI_COST: {"model":"m","duration_ms":Infinity}`, ReasonNotFinite},
		{`AI_COST: {"model":"m","cost":nan}`, ReasonNotFinite},
		{`AI_COST: {"model":"m","cost":"Infinity"}`, ReasonNotFinite},
		{`AI_COST: {"model":"m","duration_ms":"-inf"}`, ReasonNotFinite},
		{`AI_COST: {"model":"m","cost":-0.5}`, ReasonBadCost},
		{`AI_COST: {"model":"m","cost":"12 dollars"}`, ReasonBadCost},
		{`AI_COST: {"model":"m","cost":"n/a"}`, ReasonBadCost},
		{`AI_COST: {"model":"m","cost":"none"}`, ReasonBadCost},
		{`AI_COST: {"model":"m","input_tokens":"invalid"}`, ReasonWrongType},
		{"AI_COST: {\"model\":\"m\xff\"}", ReasonInvalidUTF8},
		{`AI_COST: {"input_tokens":5}`, ReasonMissingModel},
		{`AI_COST: {"model":""}`, ReasonMissingModel},
		{`AI_COST: {"model":null}`, ReasonMissingModel},
		{`AI_COST: {"model":42}`, ReasonWrongType},
		{`AI_COST: {"model":"m","timestamp":"yesterday"}`, ReasonBadTime},
		{`AI_COST: {"model":"m","timestamp":"2026-02-30T00:00:00Z"}`, ReasonBadTime},
		{`AI_COST: {"model":"m","timestamp":"2300-01-01T00:00:00Z"}`, ReasonBadTime}, // InfluxDB cannot store it
		{`AI_COST: {"model":"m","timestamp":"1600-01-01T00:00:00Z"}`, ReasonBadTime},
		{`AI_COST: {"model":"m","duration_ms":-3}`, ReasonBadDuration},
		{`AI_COST: {"model":"m","pad":"` + strings.Repeat("x", 300) + `"}`, ReasonLineTooLong},
	}
	for _, tt := range tests {
		t.Run(string(tt.want)+"/"+truncate(tt.line, 40), func(t *testing.T) {
			out, rec, rej := parseLine(t, p, tt.line)
			if out != Rejected {
				t.Fatalf("outcome %d, want reject %s; record %s", out, tt.want, debugRecord(rec))
			}
			if rej.Reason != tt.want {
				t.Errorf("reason %s (%s), want %s", rej.Reason, rej.Detail, tt.want)
			}
			if rej.Detail == "" || rej.ID == "" || rej.Source != "api" || rej.Offset != 100 || len(rej.Raw) == 0 {
				t.Errorf("incomplete reject %+v", rej)
			}
		})
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func TestParser_Skips(t *testing.T) {
	p := newTestParser(t, Config{Marker: DefaultMarker})
	for _, line := range []string{"", "INFO GET /healthz 200", `{"model":"gpt-4o"}`, "AI_COSTS are high"} {
		if out, _, rej := parseLine(t, p, line); out != Skipped {
			t.Errorf("%q: outcome %d (%s), want skipped", line, out, rej.Reason)
		}
	}
}

func TestParser_WholeLineAndMatch(t *testing.T) {
	p := newTestParser(t, Config{Marker: "", Match: map[string]string{"type": "ai_cost"}})
	tests := []struct {
		line string
		want Outcome
	}{
		{`{"type":"ai_cost","model":"m"}`, Parsed},
		{`{"type":"http","path":"/"}`, Skipped},
		{`plain startup line`, Skipped},
		{`{"type":"ai_cost","model":"m"`, Rejected},
	}
	for _, tt := range tests {
		if out, _, _ := parseLine(t, p, tt.line); out != tt.want {
			t.Errorf("%q: got %d, want %d", tt.line, out, tt.want)
		}
	}
}

func TestParser_FieldsOverride(t *testing.T) {
	p := newTestParser(t, Config{Marker: DefaultMarker, Fields: map[string]string{"feature": "endpoint", "user_id": "account.id"}})
	out, rec, _ := parseLine(t, p, `AI_COST: {"model":"m","feature":"flags","endpoint":"/quiz","account":{"id":"a9"}}`)
	if out != Parsed {
		t.Fatal("not parsed")
	}
	if rec.Feature != "/quiz" || rec.UserID != "a9" {
		t.Errorf("got feature %q user %q, want /quiz a9", rec.Feature, rec.UserID)
	}
	if string(rec.Attributes) != `{"feature":"flags"}` {
		t.Errorf("attributes %s", rec.Attributes)
	}
	if _, err := NewParser(Config{Fields: map[string]string{"nope": "x"}}); err == nil {
		t.Error("unknown record field in fields: accepted")
	}
}

func TestParser_DerivedIDs(t *testing.T) {
	p := newTestParser(t, Config{Marker: DefaultMarker})
	line := []byte(`AI_COST: {"model":"m"}`)
	id := func(off int64, file string) string {
		var rec Record
		var rej Reject
		msg := Message{Text: line, Raw: line, File: file, Offset: off, End: off + 10}
		if p.Parse(&msg, readAt, NewArena(0), &rec, &rej) != Parsed {
			t.Fatal("not parsed")
		}
		return rec.EventID
	}
	if id(0, "a.log") != id(0, "a.log.1.gz") {
		t.Error("the same line at the same offset got two ids in two files")
	}
	if id(0, "a.log") == id(10, "a.log") {
		t.Error("identical lines at two offsets got one id")
	}
}

func TestSanitizeRaw(t *testing.T) {
	drop := map[string]bool{"prompt": true, "messages": true}
	tests := []struct{ in, want string }{
		{`AI_COST: {"model":"m","prompt":"my secret \"x\"","n":1}`, `AI_COST: {"model":"m","prompt":"[dropped]","n":1}`},
		{`AI_COST: {"messages":[{"content":"secret"}],"model":"m"`, `AI_COST: {"messages":"[dropped]","model":"m"`},
		{`AI_COST: {"model":"m","prompt":"cut here`, `AI_COST: {"model":"m","prompt":"[dropped]"`},
		{`{"log":"AI_COST: {\"prompt\":\"secret\"}"}`, `{"log":"AI_COST: {[cut: content field]`},
		// Escaped names are content names too.
		{`AI_COST: {"\u0070rompt":"secret","x":{"me\u0073sages":["secret"]},"model":`, `AI_COST: {"\u0070rompt":"[dropped]","x":{"me\u0073sages":"[dropped]"},"model":`},
	}
	for _, tt := range tests {
		if got := string(SanitizeRaw(nil, []byte(tt.in), drop)); got != tt.want {
			t.Errorf("SanitizeRaw(%s)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}
