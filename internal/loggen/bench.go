package loggen

import (
	"strconv"
	"time"
)

// The benchmark shape: one fixed, typical ~300-byte AI_COST line, so that
// throughput figures of the tailer and parser compare across changes.
//
//	2026-11-01T00:00:00.000Z INFO app.llm AI_COST: {"request_id":"req_…","timestamp":"…",
//	"user_id":"user_42","feature":"chat","provider":"openai","model":"gpt-4o-mini",
//	"input_tokens":812,"output_tokens":96,"cost_usd":0.0001794,
//	"duration_ms":512.3,"success":true}

var benchFeatures = [...]string{"chat", "summarize", "quiz_generate", "rag_answer"}

// BenchLine returns the i-th benchmark line, newline included. Lines differ
// in id, time, user and token counts; each is a valid record with a cost.
func BenchLine(i int) []byte {
	return AppendBenchLine(make([]byte, 0, 320), int64(i))
}

// AppendBenchLine appends the i-th benchmark line to dst without allocating.
func AppendBenchLine(dst []byte, i int64) []byte {
	var g Generator
	c := g.benchCall(i, DefaultStart.Add(time.Duration(i)*DefaultStep))
	return appendBench(dst, c, i)
}

// benchCall returns the call of the i-th benchmark line, logged at t.
func (g *Generator) benchCall(i int64, t time.Time) *call {
	h := mix64(uint64(i) ^ 0xbe7c4)
	c := &g.c
	*c = call{t: t, m: &models[0], success: true, hasID: true, hasTime: true, hasCost: true, hasDuration: true}
	c.modelName, c.modelKey = c.m.name, c.m.name
	c.input = 200 + int64(h%1800)
	c.output = 20 + int64(h>>16%400)
	c.user = int(h>>32%1000) + 1
	c.feature = benchFeatures[h>>48%uint64(len(benchFeatures))]
	c.cost = (c.input*c.m.input + c.output*c.m.output + 50) / 100 * 100
	c.durTenths = 2000 + int64(h>>40%20000)
	return c
}

func appendBench(dst []byte, c *call, i int64) []byte {
	t := c.t.UTC()
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = append(dst, " INFO app.llm AI_COST: {\"request_id\":\"req_"...)
	dst = appendHex(dst, mix64(uint64(i)), 16)
	dst = append(dst, `","timestamp":"`...)
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = append(dst, `","user_id":"user_`...)
	dst = strconv.AppendInt(dst, int64(c.user), 10)
	dst = append(dst, `","feature":"`...)
	dst = append(dst, c.feature...)
	dst = append(dst, `","provider":"openai","model":"`...)
	dst = append(dst, c.modelName...)
	dst = append(dst, `","input_tokens":`...)
	dst = strconv.AppendInt(dst, c.input, 10)
	dst = append(dst, `,"output_tokens":`...)
	dst = strconv.AppendInt(dst, c.output, 10)
	dst = append(dst, `,"cost_usd":`...)
	dst = appendCost(dst, c.cost)
	dst = append(dst, `,"duration_ms":`...)
	dst = appendTenths(dst, c.durTenths)
	return append(dst, ",\"success\":true}\n"...)
}
