package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func parseString(t *testing.T, data string) (*Config, error) {
	t.Helper()
	return Parse("/etc/tokentail/t.yaml", []byte(data), mapEnv(map[string]string{
		"PG_DSN": "postgres://tt:pg-pass-123@db/ai", "INFLUX_TOKEN": "influx-tok-456",
	}))
}

// problems returns the problem lines of err, failing the test unless err is an *Error.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("got error %v (%T), want *config.Error", err, err)
	}
	var lines []string
	for _, p := range cerr.Problems {
		lines = append(lines, p.String())
	}
	return lines
}

func TestParse_Defaults(t *testing.T) {
	c, err := parseString(t, "sources:\n  - {name: api, paths: [a.log]}\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.StateDir, "/var/lib/tokentail"; got != want {
		t.Errorf("state_dir: got %q, want %q", got, want)
	}
	if got, want := c.MaxLineBytes, MiB; got != want {
		t.Errorf("max_line_bytes: got %v, want %v", got, want)
	}
	if got, want := c.ShutdownTimeout.D(), 10*time.Second; got != want {
		t.Errorf("shutdown_timeout: got %v, want %v", got, want)
	}
	if got, want := c.Log, (Log{Level: "info", Format: "auto"}); got != want {
		t.Errorf("log: got %+v, want %+v", got, want)
	}
	if c.Postgres != nil || c.InfluxDB != nil || c.Pricing != nil || c.HTTP != nil || c.Prices != nil || c.RulesFile != "" {
		t.Errorf("absent sections: got %+v, want all off", c)
	}
	s := c.Sources[0]
	want := Source{Name: "api", Paths: []string{"a.log"}, Format: FormatAuto, Marker: "AI_COST:", StartAt: StartBeginning, MaxLineBytes: MiB}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("source: got %+v, want %+v", s, want)
	}
}

func TestParse_SectionDefaults(t *testing.T) {
	c, err := parseString(t, "postgres: {dsn: \"${PG_DSN}\"}\ninfluxdb: {url: \"http://h:8086\", bucket: b}\nhttp:\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := *c.Postgres, (Postgres{DSN: "postgres://tt:pg-pass-123@db/ai", BatchSize: 5000, BatchTimeout: Duration(200 * time.Millisecond), MaxConns: 4}); got != want {
		t.Errorf("postgres: got %+v, want %+v", got, want)
	}
	if got, want := *c.InfluxDB, (InfluxDB{URL: "http://h:8086", Bucket: "b", BatchSize: 5000, BatchTimeout: Duration(200 * time.Millisecond), Timeout: Duration(10 * time.Second)}); got != want {
		t.Errorf("influxdb: got %+v, want %+v", got, want)
	}
	if c.HTTP == nil || c.HTTP.Listen != "127.0.0.1:9464" {
		t.Errorf("http: got %+v, want listen 127.0.0.1:9464 (an empty section is on)", c.HTTP)
	}
}

func TestParse_MarkerAbsentVersusEmpty(t *testing.T) {
	c, err := parseString(t, `
sources:
  - {name: a, paths: [a.log]}
  - {name: b, paths: [b.log], marker: ""}
  - {name: c, paths: [c.log], marker: "USAGE>"}
`)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"AI_COST:", "", "USAGE>"} {
		if got := c.Sources[i].Marker; got != want {
			t.Errorf("sources[%d].marker: got %q, want %q", i, got, want)
		}
	}
	_, err = parseString(t, "sources:\n  - name: a\n    paths: [a.log]\n    marker:\n")
	if got, want := errString(err), `t.yaml:4:12: sources[0].marker: has no value; write marker: ""`; !strings.Contains(got, want) {
		t.Errorf("got %q, want it to contain %q", got, want)
	}
}

func TestParse_UnknownKeys(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"top level", "sate_dir: /x\n", `t.yaml:1:1: sate_dir: unknown key (did you mean "state_dir"?)`},
		{"in a section", "postgres:\n  dsn: x=y\n  batchsize: 3\n", `t.yaml:3:3: postgres.batchsize: unknown key (did you mean "batch_size"?)`},
		{"in a list item", "sources:\n  - name: a\n    paths: [x]\n    formt: plain\n", `t.yaml:4:5: sources[0].formt: unknown key (did you mean "format"?)`},
		{"swapped letters", "postgres: {dns: x=y}\n", `postgres.dns: unknown key (did you mean "dsn"?)`},
		{"in log", "log: {levle: info}\n", `t.yaml:1:7: log.levle: unknown key (did you mean "level"?)`},
		{"in price entry", "pricing:\n  models:\n    - {match: a, input_per_mtok: 1, output_per_mtok: 1, output: 2}\n", `t.yaml:3:57: pricing.models[0].output: unknown key`},
		{"far from any key", "colour: blue\n", `t.yaml:1:1: colour: unknown key`},
		{"duplicate key", "state_dir: /a\nstate_dir: /b\n", `t.yaml:2:1: state_dir: duplicate key; it was first set at line 1`},
		{"duplicate label", "sources:\n  - name: a\n    paths: [x]\n    labels: {team: a, team: b}\n", `sources[0].labels.team: duplicate key`},
		{"merge key", "base: &b {dsn: x=y}\npostgres:\n  <<: *b\n", `t.yaml:1:1: base: unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(t, tt.data)
			got := problems(t, err)
			if !slicesContains(got, tt.want) {
				t.Errorf("got problems\n%s\nwant one containing %q", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

func slicesContains(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func TestParse_TypeErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"list for scalar", "state_dir: [a]\n", "t.yaml:1:12: state_dir: expected a single value, got a list"},
		{"scalar for list", "sources: api\n", "t.yaml:1:10: sources: expected a list, got a single value"},
		{"scalar for section", "postgres: on\n", "t.yaml:1:11: postgres: expected a mapping of keys, got a single value"},
		{"int", "postgres: {dsn: x=y, max_conns: four}\n", `postgres.max_conns: expected a whole number, got "four"`},
		{"float for int", "postgres: {dsn: x=y, batch_size: 1.5}\n", `postgres.batch_size: expected a whole number, got "1.5"`},
		{"bool", "influxdb: {url: http://h, bucket: b, user_tag: 1}\n", `influxdb.user_tag: expected true or false, got "1"`},
		{"duration", "shutdown_timeout: soon\n", `shutdown_timeout: invalid duration "soon"`},
		{"duration without unit", "postgres: {dsn: x=y, batch_timeout: 200}\n", `postgres.batch_timeout: duration "200" has no unit`},
		{"size", "max_line_bytes: lots\n", `max_line_bytes: invalid size "lots"`},
		{"null duration", "shutdown_timeout:\n", "t.yaml:1:18: shutdown_timeout: has no value"},
		{"map value", "sources:\n  - {name: a, paths: [x], match: {a: [1]}}\n", "sources[0].match.a: expected a single value, got a list"},
		{"date", "pricing:\n  models:\n    - {match: a, input_per_mtok: 1, output_per_mtok: 1, effective_from: 18/07/2024}\n", `pricing.models[0].effective_from: invalid date "18/07/2024"`},
		{"second document", "state_dir: /a\n---\nstate_dir: /b\n", "t.yaml:2:1: a second YAML document"},
		{"syntax", "sources: [a\n", "t.yaml:1: invalid YAML: did not find expected ',' or ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(t, tt.data)
			got := problems(t, err)
			if !slicesContains(got, tt.want) {
				t.Errorf("got problems\n%s\nwant one containing %q", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

func TestParse_ScalarsAsStrings(t *testing.T) {
	c, err := parseString(t, "sources:\n  - {name: a, paths: [x], match: {ok: true, level: 3, ratio: 0.5, none: null}}\n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ok": "true", "level": "3", "ratio": "0.5", "none": ""}
	if got := c.Sources[0].Match; !reflect.DeepEqual(got, want) {
		t.Errorf("match: got %v, want %v", got, want)
	}
}

func TestValidate_Rules(t *testing.T) {
	const src = "sources:\n  - name: api\n    paths: [a.log]\n"
	tests := []struct {
		name, data, want string
	}{
		{"source name required", "sources:\n  - paths: [a]\n", "t.yaml:2:5: sources[0].name: required"},
		{"source name charset", "sources:\n  - {name: My API, paths: [a]}\n", `sources[0].name: "My API" may hold only a-z, 0-9, _, . and -`},
		{"source name unique", src + "  - {name: api, paths: [b]}\n", `t.yaml:4:6: sources[1].name: "api" is already the name of sources[0] (line 2)`},
		{"paths required", "sources:\n  - name: a\n", "sources[0].paths: required"},
		{"paths empty list", "sources:\n  - {name: a, paths: []}\n", "sources[0].paths: required"},
		{"path empty", "sources:\n  - {name: a, paths: [\"\"]}\n", "sources[0].paths[0]: empty path"},
		{"path glob", "sources:\n  - {name: a, paths: [\"/x/[\"]}\n", `sources[0].paths[0]: invalid glob "/x/["`},
		{"format", src + "    format: journald\n", `t.yaml:4:5: sources[0].format: "journald" is not one of auto, plain, docker, cri`},
		{"format suggestion", src + "    format: dokcer\n", `(did you mean "docker"?)`},
		{"start_at", src + "    start_at: tail\n", `sources[0].start_at: "tail" is not one of beginning, end`},
		{"match empty key", src + "    match: {\"\": x}\n", "sources[0].match: empty field name"},
		{"fields key", src + "    fields: {tokens_in: x}\n", `sources[0].fields.tokens_in: "tokens_in" is not a record field`},
		{"fields attributes", src + "    fields: {attributes: x}\n", `sources[0].fields.attributes: "attributes" is not a record field`},
		{"fields empty value", src + "    fields: {model: \"\"}\n", "sources[0].fields.model: empty log field name"},
		{"labels builtin", src + "    labels: {status: x}\n", `sources[0].labels.status: "status" is a tag or field tokentail writes itself`},
		{"labels source", src + "    labels: {source: x}\n", `sources[0].labels.source: "source" is a tag or field`},
		{"labels field", src + "    labels: {cost_usd: x}\n", `sources[0].labels.cost_usd: "cost_usd" is a tag or field`},
		{"labels name", src + "    labels: {my-team: x}\n", `sources[0].labels.my-team: "my-team" is not a valid label name`},
		{"labels underscore", src + "    labels: {_start: x}\n", `sources[0].labels._start: "_start" is not a valid label name`},
		{"labels empty value", src + "    labels: {team: \"\"}\n", "sources[0].labels.team: empty value"},
		{"drop_fields empty", src + "    drop_fields: [\"\"]\n", "sources[0].drop_fields[0]: empty field name"},
		{"source line limit zero", src + "    max_line_bytes: 0\n", "sources[0].max_line_bytes: must be more than 0 bytes"},
		{"line limit too big", "max_line_bytes: 1GiB\n", "max_line_bytes: 1GiB is more than the limit of 64MiB"},
		{"state_dir", "state_dir: \"\"\n", "state_dir: required"},
		{"shutdown_timeout", "shutdown_timeout: 0\n", "shutdown_timeout: must be longer than 0"},
		{"log level", "log: {level: trace}\n", `log.level: "trace" is not one of debug, info, warn, error`},
		{"log format", "log: {format: logfmt}\n", `log.format: "logfmt" is not one of auto, text, json`},
		{"dsn required", "postgres: {batch_size: 10}\n", "t.yaml:1:1: postgres.dsn: required"},
		{"dsn form", "postgres: {dsn: \"db.example.com\"}\n", "postgres.dsn: not a PostgreSQL connection string"},
		{"batch_size", "postgres: {dsn: x=y, batch_size: 0}\n", "postgres.batch_size: must be at least 1, got 0"},
		{"batch_timeout", "postgres: {dsn: x=y, batch_timeout: 0}\n", "postgres.batch_timeout: must be longer than 0"},
		{"max_conns", "postgres: {dsn: x=y, max_conns: 0}\n", "postgres.max_conns: must be at least 1, got 0"},
		{"influx url required", "influxdb: {bucket: b}\n", "influxdb.url: required"},
		{"influx url scheme", "influxdb: {url: \"127.0.0.1:8086\", bucket: b}\n", `influxdb.url: "127.0.0.1:8086" is not an http:// or https:// URL`},
		{"influx bucket", "influxdb: {url: \"http://h\"}\n", "influxdb.bucket: required"},
		{"influx batch", "influxdb: {url: \"http://h\", bucket: b, batch_size: -5}\n", "influxdb.batch_size: must be at least 1, got -5"},
		{"influx timeout", "influxdb: {url: \"http://h\", bucket: b, timeout: 0}\n", "influxdb.timeout: must be longer than 0"},
		{"pricing empty", "pricing: {}\n", "pricing: set file (a pricing.yaml) or models"},
		{"pricing both", "pricing: {file: p.yaml, models: [{match: a, input_per_mtok: 1, output_per_mtok: 1}]}\n", "pricing: set either file or models, not both"},
		{"pricing currency", "pricing: {currency: EUR, file: p.yaml}\n", `pricing.currency: "EUR" is not supported`},
		{"price match", "pricing: {models: [{input_per_mtok: 1, output_per_mtok: 1}]}\n", "pricing.models[0].match: required"},
		{"price input", "pricing: {models: [{match: a, output_per_mtok: 1}]}\n", "pricing.models[0].input_per_mtok: required"},
		{"price output", "pricing: {models: [{match: a, input_per_mtok: 1}]}\n", "pricing.models[0].output_per_mtok: required"},
		{"price negative", "pricing: {models: [{match: a, input_per_mtok: -1, output_per_mtok: 1}]}\n", `pricing.models[0].input_per_mtok: price "-1" must not be negative`},
		{"price decimals", "pricing: {models: [{match: a, input_per_mtok: 0.0000001, output_per_mtok: 1}]}\n", "has more than 6 decimal places"},
		{"price exponent", "pricing: {models: [{match: a, input_per_mtok: 1e-7, output_per_mtok: 1}]}\n", "is not a plain decimal number"},
		{"price too large", "pricing: {models: [{match: a, input_per_mtok: 2000.01, output_per_mtok: 1}]}\n", "above the largest price"},
		{"price glob", "pricing: {models: [{match: \"[\", input_per_mtok: 1, output_per_mtok: 1}]}\n", `pricing.models[0].match: invalid glob "["`},
		{"price shadowed", "pricing: {models: [{match: \"gpt-4o*\", input_per_mtok: 1, output_per_mtok: 1}, {match: \"gpt-4o-mini\", input_per_mtok: 1, output_per_mtok: 1}]}\n", `pricing.models[1].match: "gpt-4o-mini" is never used`},
		{"http listen", "http: {listen: localhost}\n", `http.listen: "localhost" is not host:port`},
		{"http port", "http: {listen: \"127.0.0.1:99999\"}\n", `http.listen: "127.0.0.1:99999": port "99999" is not a number from 0 to 65535`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(t, tt.data)
			got := problems(t, err)
			if !slicesContains(got, tt.want) {
				t.Errorf("got problems\n%s\nwant one containing %q", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

func TestValidate_Accepts(t *testing.T) {
	tests := []struct{ name, data string }{
		{"empty", ""},
		{"dsn key=value", "postgres: {dsn: \"host=db user=tt password='a b' dbname=ai\"}\n"},
		{"dsn postgresql://", "postgres: {dsn: \"postgresql://db/ai\"}\n"},
		{"retention 0", "postgres: {dsn: x=y, retention: 0}\n"},
		{"http ipv6", "http: {listen: \"[::1]:9464\"}\n"},
		{"http all interfaces", "http: {listen: \":9464\"}\n"},
		{"price glob shadow with other date", "pricing: {models: [{match: \"o3*\", input_per_mtok: 2, output_per_mtok: 8, effective_from: 2025-06-10}, {match: \"o3*\", input_per_mtok: 10, output_per_mtok: 40}]}\n"},
		{"price glob not covering", "pricing: {models: [{match: \"gpt-4o?\", input_per_mtok: 1, output_per_mtok: 1}, {match: \"gpt-4o*\", input_per_mtok: 1, output_per_mtok: 1}]}\n"},
		{"price of zero", "pricing: {models: [{match: emb, input_per_mtok: 0.02, output_per_mtok: 0}]}\n"},
		{"labels", "sources:\n  - {name: a.b_c-1, paths: [x], labels: {team: ml, Region2: eu}}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseString(t, tt.data); err != nil {
				t.Errorf("got error\n%v\nwant none", err)
			}
		})
	}
	c, err := parseString(t, "sources:\n  - {name: a, paths: &p [a.log]}\n  - {name: b, paths: *p}\n")
	if err != nil {
		t.Fatalf("aliases: got error %v", err)
	}
	if got, want := c.Sources[1].Paths, []string{"a.log"}; !reflect.DeepEqual(got, want) {
		t.Errorf("aliased paths: got %v, want %v", got, want)
	}
}

func TestParse_ReportsEveryProblem(t *testing.T) {
	data := `sources:
  - name: API
    paths: []
    formt: plain
postgres:
  batch_size: none
influxdb:
  url: http://h
log: {level: loud}
`
	_, err := parseString(t, data)
	got := problems(t, err)
	want := []string{
		`/etc/tokentail/t.yaml:2:5: sources[0].name: "API" may hold only a-z, 0-9, _, . and -`,
		`/etc/tokentail/t.yaml:3:5: sources[0].paths: required`,
		`/etc/tokentail/t.yaml:4:5: sources[0].formt: unknown key (did you mean "format"?)`,
		`/etc/tokentail/t.yaml:5:1: postgres.dsn: required`,
		`/etc/tokentail/t.yaml:6:15: postgres.batch_size: expected a whole number, got "none"`,
		`/etc/tokentail/t.yaml:7:1: influxdb.bucket: required`,
		`/etc/tokentail/t.yaml:9:7: log.level: "loud" is not one of debug, info, warn, error`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems\n%s\nwant %d", len(got), strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d: got %q, want prefix %q", i, got[i], want[i])
		}
	}
	// The first line alone is a complete message naming the place.
	first, _, _ := strings.Cut(err.Error(), "\n")
	if first != got[0] {
		t.Errorf("first line: got %q, want %q", first, got[0])
	}
}

func TestError_Lines(t *testing.T) {
	err := &Error{Problems: []Problem{
		{File: "a.yaml", Line: 3, Column: 5, Key: "sources[0].format", Msg: "bad"},
		{File: "a.yaml", Key: "pricing.file", Msg: "missing"},
	}}
	if got, want := err.Error(), "a.yaml:3:5: sources[0].format: bad\na.yaml: pricing.file: missing"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParse_RelativePaths(t *testing.T) {
	c, err := Parse("/etc/tokentail/tokentail.yaml", []byte("pricing: {file: pricing.yaml}\nrules_file: rules/main.yaml\n"), mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Pricing.File, "/etc/tokentail/pricing.yaml"; got != want {
		t.Errorf("pricing.file: got %q, want %q", got, want)
	}
	if got, want := c.RulesFile, "/etc/tokentail/rules/main.yaml"; got != want {
		t.Errorf("rules_file: got %q, want %q", got, want)
	}
	c, err = Parse("/etc/tokentail/tokentail.yaml", []byte("pricing: {file: /opt/p.yaml}\n"), mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Pricing.File, "/opt/p.yaml"; got != want {
		t.Errorf("absolute pricing.file: got %q, want %q", got, want)
	}
}

func TestParse_InlinePricing(t *testing.T) {
	c, err := parseString(t, "pricing:\n  models:\n    - {match: \"gpt-4o-mini*\", input_per_mtok: 0.150, output_per_mtok: 0.60}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Prices == nil || len(c.Prices.Models) != 1 {
		t.Fatalf("Prices: got %+v, want the inline table", c.Prices)
	}
	want := PriceEntry{Match: "gpt-4o-mini*", InputPerMTok: "0.150", CachedInputPerMTok: "0.150", OutputPerMTok: "0.60", Line: 3}
	if got := c.Prices.Models[0]; got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestLoad_PricingFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("prices.yaml", "models:\n  - {match: \"a*\", input_per_mtok: 1, output_per_mtok: 2}\n")
	c, err := Load(write("ok.yaml", "pricing: {file: prices.yaml}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Prices == nil || len(c.Prices.Models) != 1 || c.Prices.Models[0].OutputPerMTok != "2" {
		t.Errorf("Prices: got %+v, want the table of prices.yaml", c.Prices)
	}

	write("bad-prices.yaml", "models:\n  - {match: \"a*\", input_per_mtok: 1}\n")
	_, err = Load(write("bad.yaml", "pricing: {file: bad-prices.yaml}\n"))
	if got, want := errString(err), "bad-prices.yaml:2:5: models[0].output_per_mtok: required"; !strings.Contains(got, want) {
		t.Errorf("got %q, want it to contain %q", got, want)
	}

	_, err = Load(filepath.Join(dir, "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing config: got %v, want an error wrapping os.ErrNotExist", err)
	}
}
