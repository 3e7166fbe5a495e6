package parse

import "strings"

// knownProviders maps model-name prefixes to the provider that serves them
// under that name. Models served by many providers (llama, qwen, mixtral on
// Groq or Together) are left out: for those only a provider field or a
// provider/ prefix can tell.
var knownProviders = [...]struct{ prefix, provider string }{
	{"gpt-", "openai"}, {"chatgpt-", "openai"}, {"o1", "openai"}, {"o3", "openai"}, {"o4", "openai"},
	{"text-embedding-", "openai"}, {"dall-e", "openai"}, {"whisper", "openai"}, {"tts-", "openai"},
	{"claude", "anthropic"},
	{"gemini", "google"}, {"text-bison", "google"},
	{"mistral", "mistral"}, {"codestral", "mistral"}, {"ministral", "mistral"}, {"pixtral", "mistral"},
	{"magistral", "mistral"}, {"devstral", "mistral"},
	{"deepseek", "deepseek"},
	{"grok", "xai"},
	{"command", "cohere"},
}

// inferProvider names the provider of a well-known model, or "".
func inferProvider(model string) string {
	for _, k := range knownProviders {
		if strings.HasPrefix(model, k.prefix) {
			return k.provider
		}
	}
	return ""
}
