package parse

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary lines through every envelope and the parser: it
// must never panic, and whatever it accepts must be storable: valid UTF-8
// without NUL in every string, attributes a JSON object, counts in range.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`AI_COST: {"model":"gpt-4o-mini","input_tokens":812,"output_tokens":96,"cost_usd":0.0002}`,
		`AI_COST: {"model":"m","usage":{"input_tokens":1,"cache_read_input_tokens":2},"prompt":"x"}`,
		`{"log":"AI_COST: {\"model\":\"m\"}\n","stream":"stdout","time":"2026-11-23T10:00:00Z"}`,
		`2026-11-23T10:00:00Z stdout P AI_COST: {"model":`,
		`2026-11-23T10:00:00Z stdout F "m"}`,
		`AI_COST: {"model":"m","gen_ai.usage.input_tokens":"5","ts":1763892000123,"a":[1,{"b":NaN}]}`,
		"AI_COST: {\"model\":\"m\",\"x\":\"\\u0000\xff\"}",
	} {
		f.Add([]byte(s), uint8(0))
	}
	pt, err := NewPriceTable([]Price{{Match: "*", Input: "1", Output: "2"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte, format uint8) {
		p, err := NewParser(Config{Source: "fuzz", Marker: DefaultMarker, Pricing: pt, MaxLineBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(Format(format%4), "f.log", 4096)
		a := NewArena(0)
		for i := 0; i < 2; i++ { // twice: partial lines join with the next
			msg, res, detail := d.Decode(line, int64(i*len(line)), int64((i+1)*len(line)))
			var rec Record
			var rej Reject
			switch res {
			case BadEnvelope:
				p.RejectEnvelope(&msg, detail, time.Now(), a, &rej)
				checkReject(t, &rej)
				continue
			case Held:
				continue
			}
			switch p.Parse(&msg, time.Now(), a, &rec, &rej) {
			case Parsed:
				checkRecord(t, &rec)
			case Rejected:
				checkReject(t, &rej)
			}
		}
	})
}

func checkRecord(t *testing.T, r *Record) {
	t.Helper()
	for _, s := range []string{r.EventID, r.Model, r.Provider, r.Feature, r.UserID, r.ErrorType} {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("invalid UTF-8 or NUL in record string %q", s)
		}
	}
	if r.Model == "" || r.EventID == "" {
		t.Fatalf("record without model or id: %+v", r)
	}
	if r.InputTokens < 0 || r.OutputTokens < 0 || r.CachedInputTokens < 0 || r.InputTokens > 3*MaxTokens || r.CachedInputTokens > r.InputTokens {
		t.Fatalf("token counts out of range: %+v", r)
	}
	if r.Cost < 0 {
		t.Fatalf("negative cost %s", r.Cost)
	}
	var obj map[string]any
	if err := json.Unmarshal(r.Attributes, &obj); err != nil {
		t.Fatalf("attributes are not a JSON object: %v: %s", err, r.Attributes)
	}
}

func checkReject(t *testing.T, r *Reject) {
	t.Helper()
	if r.Reason == "" || r.Detail == "" || r.ID == "" {
		t.Fatalf("incomplete reject %+v", r)
	}
	if len(r.Raw) > MaxRawReject {
		t.Fatalf("raw of %d bytes kept", len(r.Raw))
	}
}
