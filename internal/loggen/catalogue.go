package loggen

import "time"

// model is one entry of the fixed model catalogue. Prices are in picodollars
// per token, which is dollars per million tokens times 1e6: integer cost
// arithmetic stays exact.
type model struct {
	name     string
	provider string
	weight   int
	// snapshot is the dated name a provider answers with ("gpt-4o-mini-2024-07-18"),
	// used as the response model in shapes that log both; "" for none.
	snapshot string
	family   family

	input, cached, cacheWrite, output int64 // picodollars per token
}

// family says which wire shapes can carry a model's usage.
type family uint8

const (
	familyOpenAI    family = iota // OpenAI and OpenAI-compatible APIs
	familyAnthropic               // Anthropic's Messages API
)

// models is the catalogue. Weights give a realistic mix: mostly cheap models.
var models = [...]model{
	{name: "gpt-4o-mini", provider: "openai", weight: 30, snapshot: "gpt-4o-mini-2024-07-18", input: 150_000, cached: 75_000, output: 600_000},
	{name: "gpt-4o", provider: "openai", weight: 8, snapshot: "gpt-4o-2024-08-06", input: 2_500_000, cached: 1_250_000, output: 10_000_000},
	{name: "gpt-4.1", provider: "openai", weight: 6, snapshot: "gpt-4.1-2025-04-14", input: 2_000_000, cached: 500_000, output: 8_000_000},
	{name: "gpt-4.1-mini", provider: "openai", weight: 8, snapshot: "gpt-4.1-mini-2025-04-14", input: 400_000, cached: 100_000, output: 1_600_000},
	{name: "gpt-5-mini", provider: "openai", weight: 10, snapshot: "gpt-5-mini-2025-08-07", input: 250_000, cached: 25_000, output: 2_000_000},
	{name: "gpt-5", provider: "openai", weight: 3, snapshot: "gpt-5-2025-08-07", input: 1_250_000, cached: 125_000, output: 10_000_000},
	{name: "claude-sonnet-4-5", provider: "anthropic", weight: 10, snapshot: "claude-sonnet-4-5-20250929", family: familyAnthropic, input: 3_000_000, cached: 300_000, cacheWrite: 3_750_000, output: 15_000_000},
	{name: "claude-haiku-4-5", provider: "anthropic", weight: 8, snapshot: "claude-haiku-4-5-20251001", family: familyAnthropic, input: 1_000_000, cached: 100_000, cacheWrite: 1_250_000, output: 5_000_000},
	{name: "gemini-2.5-flash", provider: "google", weight: 8, input: 300_000, cached: 75_000, output: 2_500_000},
	{name: "gemini-2.5-pro", provider: "google", weight: 2, input: 1_250_000, cached: 310_000, output: 10_000_000},
	{name: "deepseek-chat", provider: "deepseek", weight: 4, input: 270_000, cached: 70_000, output: 1_100_000},
	{name: "llama-3.3-70b-versatile", provider: "groq", weight: 3, input: 590_000, cached: 590_000, output: 790_000},
	{name: "mistral-small-latest", provider: "mistral", weight: 2, input: 100_000, cached: 100_000, output: 300_000},
}

// features are what the calling application was doing.
var features = [...]string{
	"chat", "chat", "chat", "summarize", "summarize", "quiz_generate", "quiz_generate",
	"embed_docs", "grade_essay", "translate", "classify_ticket", "rag_answer",
	"code_review", "extract_entities",
}

// otelOperations are gen_ai.operation.name values.
var otelOperations = [...]string{"chat", "chat", "chat", "text_completion", "generate_content", "embeddings"}

// errorTypes are the failures of real LLM APIs, weighted by repetition.
var errorTypes = [...]string{
	"rate_limit", "rate_limit", "rate_limit", "timeout", "timeout",
	"context_length", "server_error", "server_error",
}

var (
	schools  = [...]string{"Lycée Victor Hugo", "Springfield High", "Gymnasium Am Markt", "Escola São Paulo", "北京第四中学", "St. Mary's Academy"}
	plans    = [...]string{"free", "free", "free", "pro", "pro", "team", "enterprise"}
	regions  = [...]string{"eu-west-1", "us-east-1", "us-west-2", "ap-southeast-1"}
	envs     = [...]string{"production", "production", "production", "staging"}
	versions = [...]string{"1.42.0", "1.42.1", "1.43.0-rc.1", "2.0.3"}
	services = [...]string{"quiz-api", "tutor-web", "grader-worker", "docs-indexer"}
)

// zones are offsets that timestamps "with a zone" are written in.
var zones = [...]*time.Location{
	time.FixedZone("CET", 3600),
	time.FixedZone("EST", -5*3600),
	time.FixedZone("IST", 5*3600+1800),
	time.UTC,
}

// Content snippets: realistic prompt and completion text with quotes,
// backslashes, newlines, tabs and non-ASCII, so escaping is exercised.
var prompts = [...]string{
	"Summarize the following chapter in 5 bullet points:\n\n\"The French Revolution (1789–1799) was a period of political and societal change in France…\"",
	"You are a helpful tutor. Generate 3 multiple-choice questions about photosynthesis.\nFormat: JSON with keys \"question\", \"choices\", \"answer\".",
	"Translate to Japanese: 'Where is the train station?' → ",
	"Grade this essay from 0 to 20 and explain why. Essay:\n\tL'été dernier, nous sommes allés à la mer…",
	"Classify this support ticket: \"My invoice shows €49.99 but I'm on the free plan!!\" Categories: billing, bug, other",
	"Review this code:\n```go\nif err != nil {\n\treturn fmt.Errorf(\"open %s: %w\", path, err)\n}\n```",
	"Extract the people and places from: Dr. Müller met Zoë in Zürich on 2026-03-14 😀",
	"C:\\Users\\student\\Documents\\homework.docx — what does this path mean?",
}

var completions = [...]string{
	"- The monarchy was abolished\n- The Declaration of the Rights of Man was adopted\n- …",
	"{\"question\": \"What gas do plants absorb?\", \"choices\": [\"O2\", \"CO2\", \"N2\"], \"answer\": \"CO2\"}",
	"駅はどこですか？",
	"Note : 14/20. L'argument est clair mais la conclusion manque de \"nuance\".",
	"billing",
	"Looks good 👍 — consider wrapping the error with the path, as you did.",
	"{\"people\": [\"Dr. Müller\", \"Zoë\"], \"places\": [\"Zürich\"]}",
	"It is a Windows path: C:\\Users\\student\\…",
}

// Noise vocabulary.
var (
	httpPaths   = [...]string{"/v1/chat", "/v1/quiz/generate", "/api/essays/grade", "/healthz", "/metrics", "/api/docs/index", "/login", "/static/app.3f9c1.js"}
	httpMethods = [...]string{"GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"}
	httpCodes   = [...]int{200, 200, 200, 200, 201, 204, 301, 400, 401, 404, 429, 500, 502}
	userAgents  = [...]string{"kube-probe/1.30", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "python-httpx/0.27.0", "curl/8.5.0"}
	loggers     = [...]string{"app.db", "app.auth", "app.cache", "app.worker", "uvicorn.error", "app.billing"}
	appMessages = [...]string{
		"query took 12ms rows=3",
		"user logged in",
		"cache miss for key quiz:8812",
		"retrying request to https://api.openai.com/v1/chat/completions in 0.8 seconds",
		"AI_COST budget at 82% for team t-12",
		"ai_cost rollup finished: 1204 rows",
		"Started server process [1]",
		"Waiting for application startup.",
		"model=gpt-4o-mini tokens=812 (usage logged below)",
		"slow request: POST /v1/chat took 8.2s",
		"connection pool exhausted, waiting",
		"Écriture du cache terminée — 3 entrées",
	}
	pythonTrace = [...]string{
		"Traceback (most recent call last):",
		"  File \"/app/llm/client.py\", line 88, in complete",
		"    resp = await self._client.chat.completions.create(**kwargs)",
		"  File \"/usr/local/lib/python3.12/site-packages/openai/_base_client.py\", line 1634, in _request",
		"    raise self._make_status_error_from_response(err.response) from None",
		"openai.RateLimitError: Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o-mini', 'type': 'requests', 'code': 'rate_limit_exceeded'}}",
	}
	nodeTrace = [...]string{
		"Error: connect ECONNREFUSED 10.0.0.5:5432",
		"    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
		"    at async Pool.connect (/app/node_modules/pg-pool/index.js:45:11)",
		"    at async handler (/app/.next/server/app/api/chat/route.js:1:2231)",
	}
	noiseTypes = [...]string{"http_request", "http_request", "job", "cache", "ai_cost_summary", "audit"}
)
