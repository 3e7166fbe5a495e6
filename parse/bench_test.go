package parse

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// benchLines returns n distinct ~300-byte AI_COST lines shaped like a FastAPI
// app's, the shape the target is stated for.
func benchLines(n int) [][]byte {
	models := []string{"gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "gemini-2.5-flash"}
	features := []string{"chat", "summarize", "quiz_generate", "embed_docs"}
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, `2026-11-23T10:00:%02d.%03dZ INFO app.llm AI_COST: {"request_id":"req-%08d","timestamp":"2026-11-23T10:00:%02d.%03dZ","model":"%s","feature":"%s","user_id":"user-%d","input_tokens":%d,"output_tokens":%d,"cached_tokens":%d,"duration_ms":%d.5,"success":true,"plan":"pro"}`,
			i%60, i%1000, i, i%60, i%1000, models[i%len(models)], features[i%len(features)], i%5000, 100+i%5000, 10+i%700, i%100, 200+i%3000)
	}
	return lines
}

func BenchmarkParse_Record(b *testing.B) {
	pt := mustBenchPricing(b)
	p, err := NewParser(Config{Source: "api", Marker: DefaultMarker, Pricing: pt})
	if err != nil {
		b.Fatal(err)
	}
	lines := benchLines(4096)
	var size int
	for _, l := range lines {
		size += len(l)
	}
	a := NewArena(1 << 20)
	var rec Record
	var rej Reject
	now := time.Now()
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := lines[i%len(lines)]
		if i%len(lines) == 0 {
			a.Reset()
		}
		msg := Message{Text: l, Raw: l, Offset: int64(i) * 300, End: int64(i)*300 + 300}
		if p.Parse(&msg, now, a, &rec, &rej) != Parsed {
			b.Fatalf("not parsed: %s %s", rej.Reason, rej.Detail)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkParse_Baseline is the floor the parser is measured against: a bare
// fastjson parse of the same records after finding the marker.
func BenchmarkParse_Baseline(b *testing.B) {
	p := newBarefast()
	lines := benchLines(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := lines[i%len(lines)]
		j := bytes.Index(l, []byte(DefaultMarker))
		if _, err := p.ParseBytes(l[j+len(DefaultMarker):]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkParse_Noise(b *testing.B) {
	p, err := NewParser(Config{Source: "api", Marker: DefaultMarker})
	if err != nil {
		b.Fatal(err)
	}
	line := []byte(`2026-11-23T10:00:00.123Z INFO uvicorn.access 10.0.3.7:51234 - "GET /api/v1/quiz/42/questions?include=answers HTTP/1.1" 200 OK user=7781 took=12.3ms trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7`)
	a := NewArena(0)
	var rec Record
	var rej Reject
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msg := Message{Text: line, Raw: line}
		if p.Parse(&msg, now, a, &rec, &rej) != Skipped {
			b.Fatal("noise parsed")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func mustBenchPricing(b *testing.B) *PriceTable {
	pt, err := NewPriceTable([]Price{
		{Match: "gpt-4o-mini*", Input: "0.15", CachedInput: "0.075", Output: "0.60"},
		{Match: "gpt-4o*", Input: "2.50", CachedInput: "1.25", Output: "10"},
		{Match: "claude-sonnet-4*", Input: "3", CachedInput: "0.30", Output: "15"},
		{Match: "gemini-2.5-flash*", Input: "0.30", CachedInput: "0.075", Output: "2.50"},
	})
	if err != nil {
		b.Fatal(err)
	}
	return pt
}

func newBarefast() *fastjsonParser { return &fastjsonParser{} }
