package config

import (
	"os"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"
)

// firstMatch is the entry the first-match-wins rule picks for model at t.
func firstMatch(p *Pricing, model string, at time.Time) (PriceEntry, bool) {
	for _, e := range p.Models {
		if ok, _ := path.Match(e.Match, model); ok && !e.EffectiveFrom.After(at) {
			return e, true
		}
	}
	return PriceEntry{}, false
}

func TestLoadPricing_RepoFile(t *testing.T) {
	p, err := LoadPricing("../../pricing.yaml")
	if err != nil {
		t.Fatalf("pricing.yaml:\n%v", err)
	}
	if got, want := p.Currency, "USD"; got != want {
		t.Errorf("currency: got %q, want %q", got, want)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		model              string
		at                 time.Time
		in, cached, output string
	}{
		{"gpt-4o-mini-2024-07-18", now, "0.15", "0.075", "0.60"},
		{"gpt-4o-2024-08-06", now, "2.50", "1.25", "10.00"},
		{"gpt-4o-2024-05-13", now, "5.00", "5.00", "15.00"},
		{"gpt-4.1-mini", now, "0.40", "0.10", "1.60"},
		{"gpt-4.1", now, "2.00", "0.50", "8.00"},
		{"gpt-4", now, "30.00", "30.00", "60.00"},
		{"gpt-5-mini", now, "0.25", "0.025", "2.00"},
		{"gpt-5", now, "1.25", "0.125", "10.00"},
		{"o4-mini", now, "1.10", "0.275", "4.40"},
		{"o3-mini", now, "1.10", "0.55", "4.40"},
		{"o3", now, "2.00", "0.50", "8.00"},
		{"o3", time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC), "10.00", "2.50", "40.00"},
		{"o1", now, "15.00", "7.50", "60.00"},
		{"claude-opus-4-5-20251101", now, "5.00", "0.50", "25.00"},
		{"claude-opus-4-1-20250805", now, "15.00", "1.50", "75.00"},
		{"claude-sonnet-4-5-20250929", now, "3.00", "0.30", "15.00"},
		{"claude-haiku-4-5-20251001", now, "1.00", "0.10", "5.00"},
		{"claude-3-5-haiku-20241022", now, "0.80", "0.08", "4.00"},
		{"gemini-2.5-flash-lite", now, "0.10", "0.01", "0.40"},
		{"gemini-2.5-flash", now, "0.30", "0.03", "2.50"},
		{"gemini-2.5-pro", now, "1.25", "0.125", "10.00"},
		{"gemini-2.0-flash-001", now, "0.10", "0.025", "0.40"},
		{"mistral-large-latest", now, "2.00", "2.00", "6.00"},
		{"codestral-latest", now, "0.30", "0.30", "0.90"},
		{"deepseek-chat", now, "0.28", "0.028", "0.42"},
		{"deepseek-reasoner", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), "0.55", "0.14", "2.19"},
		{"llama-3.3-70b-versatile", now, "0.59", "0.59", "0.79"},
		{"meta-llama/llama-4-scout-17b-16e-instruct", now, "0.11", "0.11", "0.34"},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			e, ok := firstMatch(p, tt.model, tt.at)
			if !ok {
				t.Fatalf("no entry matches %q", tt.model)
			}
			if e.InputPerMTok != tt.in || e.CachedInputPerMTok != tt.cached || e.OutputPerMTok != tt.output {
				t.Errorf("%s (line %d): got %s/%s/%s, want %s/%s/%s", e.Match, e.Line,
					e.InputPerMTok, e.CachedInputPerMTok, e.OutputPerMTok, tt.in, tt.cached, tt.output)
			}
		})
	}
	for _, e := range p.Models {
		if e.Line == 0 {
			t.Errorf("%s: Line is 0, want its line in the file", e.Match)
		}
	}
}

func TestParsePricing_KeepsDecimalText(t *testing.T) {
	p, err := ParsePricing("p.yaml", []byte(`
models:
  - match: "a*"
    input_per_mtok: 0.075
    output_per_mtok: 0.60
  - match: "b*"
    input_per_mtok: "1.000000"
    cached_input_per_mtok: 0
    output_per_mtok: 007
    effective_from: 2024-07-18
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.Models[0], p.Models[1]
	if a.InputPerMTok != "0.075" || a.CachedInputPerMTok != "0.075" || a.OutputPerMTok != "0.60" {
		t.Errorf("models[0]: got %+v, want the text as written, cached = input", a)
	}
	if b.InputPerMTok != "1.000000" || b.CachedInputPerMTok != "0" || b.OutputPerMTok != "007" {
		t.Errorf("models[1]: got %+v, want the text as written, explicit 0 cached kept", b)
	}
	if got, want := b.EffectiveFrom, time.Date(2024, 7, 18, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("effective_from: got %v, want %v", got, want)
	}
	if a.Line != 3 || b.Line != 6 {
		t.Errorf("lines: got %d, %d, want 3, 6", a.Line, b.Line)
	}
}

func TestParsePricing_NoExpansion(t *testing.T) {
	_, err := ParsePricing("p.yaml", []byte("models:\n  - {match: \"${X}\", input_per_mtok: 1, output_per_mtok: 1}\n"))
	if err != nil {
		t.Errorf("got %v, want ${X} kept as a literal glob", err)
	}
	_, err = ParsePricing("p.yaml", []byte("models:\n  - {match: a, input_per_mtok: \"${PRICE}\", output_per_mtok: 1}\n"))
	if got, want := errString(err), `p.yaml:2:32: models[0].input_per_mtok: price "${PRICE}" is not a plain decimal`; !strings.Contains(got, want) {
		t.Errorf("got %q, want it to contain %q", got, want)
	}
}

func TestGlobCovers(t *testing.T) {
	tests := []struct {
		earlier, later string
		want           bool
	}{
		{"gpt-4o*", "gpt-4o-mini*", true},
		{"gpt-4o*", "gpt-4o-mini", true},
		{"gpt-4o*", "gpt-4o*", true},
		{"*", "anything*", true},
		{"gpt-4o-mini*", "gpt-4o*", false},
		{"gpt-4o?", "gpt-4o*", false}, // ? covers one character, * many
		{"gpt-4o?", "gpt-4ox", true},
		{"gpt-4o", "gpt-4o*", false},
		{"gpt-4o*", "gpt-4o-[a-z]*", false}, // a class in the later glob: stay silent
		{"gpt-4o*", "*-mini", false},
		{"claude-3*", "claude-3-5-sonnet*", true},
		{"o3*", "o4-mini*", false},
	}
	for _, tt := range tests {
		if got := globCovers(tt.earlier, tt.later); got != tt.want {
			t.Errorf("globCovers(%q, %q): got %v, want %v", tt.earlier, tt.later, got, tt.want)
		}
	}
}

func TestExampleConfig_Validates(t *testing.T) {
	t.Setenv("TOKENTAIL_PG_DSN", "postgres://tokentail:example-pw@127.0.0.1:5432/ai")
	t.Setenv("INFLUX_TOKEN", "example-token")
	c, err := Load("../../config.example.yaml")
	if err != nil {
		t.Fatalf("config.example.yaml:\n%v", err)
	}
	if got, want := len(c.Sources), 2; got != want {
		t.Fatalf("sources: got %d, want %d", got, want)
	}
	if got, want := c.Sources[0].Marker, "AI_COST:"; got != want {
		t.Errorf("sources[0].marker: got %q, want %q", got, want)
	}
	if got, want := c.Sources[1].Format, FormatAuto; got != want {
		t.Errorf("sources[1].format: got %q, want %q", got, want)
	}
	if c.Postgres == nil || c.InfluxDB == nil || c.HTTP == nil || c.Prices == nil || c.RulesFile == "" {
		t.Errorf("the example should turn every section on: %+v", c)
	}
	if c.Prices != nil && len(c.Prices.Models) < 50 {
		t.Errorf("prices: got %d models from pricing.yaml, want the full table", len(c.Prices.Models))
	}
	// Every key the package knows appears in the example.
	data, err := osReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range allKeys() {
		if !strings.Contains(data, key+":") {
			t.Errorf("config.example.yaml does not show key %q", key)
		}
	}
	// Without the variables it names, the example fails and says which.
	t.Setenv("INFLUX_TOKEN", "")
	_, err = Parse("config.example.yaml", []byte(data), mapEnv(map[string]string{"INFLUX_TOKEN": "x"}))
	if got, want := errString(err), "postgres.dsn: environment variable TOKENTAIL_PG_DSN is not set"; !strings.Contains(got, want) {
		t.Errorf("got %q, want it to contain %q", got, want)
	}
}

func osReadFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

// allKeys lists every YAML key of Config, walking its types.
func allKeys() []string {
	seen := map[string]bool{}
	var keys []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !seen[name] {
				seen[name] = true
				keys = append(keys, name)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[Config]())
	return keys
}
