package loggen

import (
	"strconv"
	"strings"
)

// The shapes: how each kind of backend writes a call. Each writes the
// fields through the role helpers of record.go, so that a malformed line can
// break any field whatever its name and nesting.

// writeRecord appends the record object of c to g.b.
func (g *Generator) writeRecord() {
	g.b = append(g.b, '{')
	if g.o.Layout == JSONLayout {
		g.frame()
	}
	switch g.c.shape {
	case shapeApp:
		g.writeApp()
	case shapeOpenAI:
		g.writeOpenAI()
	case shapeAnthropic:
		g.writeAnthropic()
	case shapeLiteLLM:
		g.writeLiteLLM()
	case shapeOTelFlat:
		g.writeOTelFlat()
	default:
		g.writeOTelNested()
	}
	if n := g.c.pad; n > 0 {
		// A pasted document in the prompt: the line grows past max_line_bytes.
		g.key("prompt")
		g.b = append(g.b, '"')
		for i := 0; i < n; i++ {
			g.b = append(g.b, "lorem ipsum dolor sit amet "[i%27])
		}
		g.b = append(g.b, '"')
	}
	g.close()
}

// frame writes the logging library's own fields of a whole-line JSON log,
// with the "type" that a `match: {type: ai_cost}` filter keeps.
func (g *Generator) frame() {
	switch g.r.IntN(3) {
	case 0: // pino (Next.js)
		g.int("level", 30)
		g.int("pid", 7)
		g.str("hostname", "web-7f9c6d-x2k4p")
		g.str("type", "ai_cost")
		g.str("msg", "llm usage")
	case 1: // python-json-logger (FastAPI)
		g.str("type", "ai_cost")
		g.str("levelname", "INFO")
		g.str("name", "app.llm")
		g.str("message", "AI usage")
	default: // Monolog JSON formatter (Laravel)
		g.str("message", "AI usage")
		g.str("channel", "production")
		g.str("level_name", "INFO")
		g.str("type", "ai_cost")
	}
}

var (
	appIDKeys      = [...]string{"request_id", "request_id", "event_id", "id"}
	appTimeKeys    = [...]string{"timestamp", "time", "ts", "created_at", "@timestamp"}
	appUserKeys    = [...]string{"user_id", "user_id", "user", "userId", "end_user"}
	appFeatureKeys = [...]string{"feature", "feature", "feature_name", "operation", "job_type"}
	appModelKeys   = [...]string{"model", "model", "model_name", "model_used", "resolved_model"}
	appCostKeys    = [...]string{"cost_usd", "cost_usd", "cost", "estimated_cost"}
	appDurKeys     = [...]string{"duration_ms", "response_time_ms", "latency_ms", "request_duration_ms"}
)

func pick[T any](g *Generator, s []T) T { return s[g.r.IntN(len(s))] }

// writeApp: an application's own flat record (FastAPI, Laravel, Next.js).
func (g *Generator) writeApp() {
	c := &g.c
	r := g.r
	g.id(pick(g, appIDKeys[:]), r.IntN(2))
	g.time(pick(g, appTimeKeys[:]))
	g.user(pick(g, appUserKeys[:]))
	g.feature(pick(g, appFeatureKeys[:]))
	if !c.prefixed && r.IntN(3) > 0 || c.prefixed && r.IntN(2) == 0 {
		g.str("provider", c.m.provider)
	}
	g.model(pick(g, appModelKeys[:]), c.modelName)
	openaiNames := r.IntN(2) == 0
	if openaiNames {
		g.tokens(roleInput, "prompt_tokens", c.input)
		g.tokens(roleOutput, "completion_tokens", c.output)
	} else {
		g.tokens(roleInput, "input_tokens", c.input)
		g.tokens(roleOutput, "output_tokens", c.output)
	}
	if c.cached > 0 || r.IntN(2) == 0 {
		if openaiNames {
			g.tokens(roleNone, "cached_tokens", c.cached)
		} else {
			g.tokens(roleNone, "cached_input_tokens", c.cached)
		}
	}
	if r.IntN(2) == 0 {
		g.tokens(roleNone, "total_tokens", c.input+c.output)
	}
	g.cost(pick(g, appCostKeys[:]))
	g.duration(pick(g, appDurKeys[:]))
	switch r.IntN(4) {
	case 0:
		g.raw("success", strconv.FormatBool(c.success))
	case 1:
		g.raw("ok", strconv.FormatBool(c.success))
	case 2:
		if c.success {
			g.str("status", pick(g, []string{"success", "ok"}))
		} else {
			g.str("status", pick(g, []string{"error", "failure"}))
		}
	}
	g.errorFields(pick(g, []string{"error_type", "error"}))
	g.attributes()
	g.content()
}

// writeOpenAI: a chat completion response as the SDK returns it, logged whole.
func (g *Generator) writeOpenAI() {
	c := &g.c
	g.id("id", idOpenAI)
	g.str("object", "chat.completion")
	g.int("created", c.started().Unix())
	g.model("model", c.modelName)
	g.open("usage")
	g.tokens(roleInput, "prompt_tokens", c.input)
	g.tokens(roleOutput, "completion_tokens", c.output)
	g.tokens(roleNone, "total_tokens", c.input+c.output)
	g.open("prompt_tokens_details")
	g.tokens(roleNone, "cached_tokens", c.cached)
	g.int("audio_tokens", 0)
	g.close()
	g.open("completion_tokens_details")
	var reasoning int64
	if strings.HasPrefix(c.m.name, "gpt-5") {
		reasoning = c.output / 3 * int64(c.user%2)
	}
	g.int("reasoning_tokens", reasoning)
	g.close()
	g.close()
	g.str("system_fingerprint", "fp_07871e2ad8")
	g.time("timestamp")
	g.user("user")
	g.feature("feature")
	g.cost("cost")
	g.duration("latency_ms")
	if !c.success {
		g.str("status", "error")
	}
	g.errorFields("error_type")
	g.attributes()
	g.content()
}

// writeAnthropic: a Messages API response. usage.input_tokens excludes the
// cache: the contract adds cache reads and writes back.
func (g *Generator) writeAnthropic() {
	c := &g.c
	g.id("id", idAnthropic)
	g.str("role", "assistant")
	g.model("model", c.modelName)
	g.str("stop_reason", "end_turn")
	g.open("usage")
	g.tokens(roleInput, "input_tokens", c.input-c.cached-c.write)
	g.tokens(roleNone, "cache_creation_input_tokens", c.write)
	g.tokens(roleNone, "cache_read_input_tokens", c.cached)
	g.tokens(roleOutput, "output_tokens", c.output)
	g.str("service_tier", "standard")
	g.close()
	g.time("ts")
	g.user("end_user")
	g.feature("job_type")
	g.cost("cost_usd")
	g.duration("request_duration_ms")
	if !c.success {
		g.raw("success", "false")
	}
	g.errorFields("error")
	g.attributes()
	g.content()
}

// writeLiteLLM: a LiteLLM proxy spend log row.
func (g *Generator) writeLiteLLM() {
	c := &g.c
	g.id("request_id", idLiteLLM)
	g.str("call_type", "acompletion")
	g.str("api_key", "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b")
	g.cost("spend")
	g.tokens(roleNone, "total_tokens", c.input+c.output)
	g.tokens(roleInput, "prompt_tokens", c.input)
	g.tokens(roleOutput, "completion_tokens", c.output)
	g.time("startTime")
	if c.hasTime && c.ov != roleTime {
		g.key("endTime")
		g.b = appendTime(g.b, c.t, tfNoZone, 0)
	}
	g.model("model", c.modelName)
	g.str("model_group", c.m.name)
	g.str("custom_llm_provider", c.m.provider)
	g.str("api_base", "https://api."+c.m.provider+".example/v1")
	g.user("user")
	g.str("cache_hit", "False")
	g.duration("response_time_ms")
	g.open("metadata")
	g.str("user_api_key_alias", "quiz-api-prod")
	g.key("user_api_key_team_id")
	g.b = append(g.b, `"team-`...)
	g.b = strconv.AppendInt(g.b, int64(c.user%37), 10)
	g.b = append(g.b, '"')
	g.close()
	if c.hasFeature && c.ov != roleFeature {
		g.key("request_tags")
		g.b = append(g.b, '[')
		g.b = appendJSONString(g.b, c.feature, false)
		g.b = append(g.b, ']')
	}
	g.feature("feature_name")
	if c.success {
		g.str("status", "success")
	} else {
		g.str("status", "failure")
		g.errorFields("error_type")
	}
	g.attributes()
}

// writeOTelFlat: a span's GenAI attributes exported as flat dotted keys.
func (g *Generator) writeOTelFlat() {
	c := &g.c
	r := g.r
	g.time(pick(g, []string{"@timestamp", "timestamp"}))
	g.id("event_id", idUUID)
	g.key("trace_id")
	g.b = append(g.b, '"')
	g.b = appendHex(g.b, r.Uint64(), 16)
	g.b = appendHex(g.b, r.Uint64(), 16)
	g.b = append(g.b, '"')
	g.feature("gen_ai.operation.name")
	g.str("gen_ai.provider.name", c.m.provider)
	g.model("gen_ai.request.model", c.modelName)
	if c.respModel != "" {
		g.model("gen_ai.response.model", c.respModel)
	}
	g.raw("gen_ai.request.temperature", "0.2")
	g.tokens(roleInput, "gen_ai.usage.input_tokens", c.input)
	g.tokens(roleOutput, "gen_ai.usage.output_tokens", c.output)
	if c.cached > 0 {
		g.tokens(roleNone, "gen_ai.usage.cache_read.input_tokens", c.cached)
	}
	g.duration("duration_ms")
	g.user("user_id")
	g.cost("cost_usd")
	if !c.success {
		g.str("status", "error")
	}
	g.errorFields("error_type")
	g.attributes()
}

// writeOTelNested: the same attributes as nested objects.
func (g *Generator) writeOTelNested() {
	c := &g.c
	g.time("time")
	g.id("event_id", idUUID)
	g.str("service", services[c.user%len(services)])
	g.open("gen_ai")
	if c.hasFeature || c.ov == roleFeature {
		g.open("operation")
		g.feature("name")
		g.close()
	}
	g.open("provider")
	g.str("name", c.m.provider)
	g.close()
	if c.ov != roleModel || !c.ovOmit {
		g.open("request")
		g.model("model", c.modelName)
		g.int("max_tokens", 4096)
		g.close()
	}
	if c.respModel != "" {
		g.open("response")
		g.model("model", c.respModel)
		g.key("finish_reasons")
		g.b = append(g.b, `["stop"]`...)
		g.close()
	}
	g.open("usage")
	g.tokens(roleInput, "input_tokens", c.input)
	g.tokens(roleOutput, "output_tokens", c.output)
	if c.cached > 0 {
		g.open("cache_read")
		g.tokens(roleNone, "input_tokens", c.cached)
		g.close()
	}
	g.close()
	g.close()
	g.user("user_id")
	g.cost("cost_usd")
	g.duration("latency_ms")
	if c.success {
		g.raw("ok", "true")
	} else {
		g.raw("ok", "false")
		g.errorFields("error_type")
	}
	g.attributes()
}
