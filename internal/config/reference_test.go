package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// referencePath is the configuration reference the tests hold to the code.
const referencePath = "../../docs/config.md"

// keyPaths lists every key of t as a path: "postgres.dsn", and for lists of
// objects "sources[].name". A section (a struct or a list of structs) is a
// key of its own as well as the parent of its keys; maps are values.
func keyPaths(t reflect.Type, prefix string) []string {
	var paths []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		path := prefix + name
		paths = append(paths, path)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]():
			paths = append(paths, keyPaths(ft, path+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			paths = append(paths, keyPaths(ft.Elem(), path+"[].")...)
		}
	}
	return paths
}

// referenceRow is one key's row of the reference tables.
type referenceRow struct {
	line                  int
	key, typ, def, effect string
}

// rowRE matches a table row whose first cell is a backquoted key path.
var rowRE = regexp.MustCompile("^\\| `([a-z_\\[\\].]+)` \\|(.*)\\|\\s*$")

func readReference(t *testing.T) map[string]referenceRow {
	t.Helper()
	b, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatalf("read the configuration reference: %v", err)
	}
	rows := map[string]referenceRow{}
	for i, line := range strings.Split(string(b), "\n") {
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		cells := strings.Split(m[2], " | ")
		if len(cells) != 4 {
			t.Errorf("%s:%d: key %s has %d cells after the key, want 4 (type, default, meaning, example)", referencePath, i+1, m[1], len(cells))
			continue
		}
		if prev, dup := rows[m[1]]; dup {
			t.Errorf("%s:%d: key %s is already listed on line %d", referencePath, i+1, m[1], prev.line)
		}
		rows[m[1]] = referenceRow{line: i + 1, key: m[1], typ: strings.TrimSpace(cells[0]), def: strings.TrimSpace(cells[1]), effect: strings.TrimSpace(cells[2])}
	}
	return rows
}

func TestConfigReference_ListsEveryKey(t *testing.T) {
	code := keyPaths(reflect.TypeFor[Config](), "")
	if len(code) < 40 {
		t.Fatalf("walked only %d keys of Config: the walk is broken", len(code))
	}
	doc := readReference(t)
	for _, k := range code {
		if _, ok := doc[k]; !ok {
			t.Errorf("key %s is not in %s: add a row (type, default, meaning, example)", k, referencePath)
		}
	}
	for k, row := range doc {
		if !slices.Contains(code, k) {
			t.Errorf("%s:%d: key %s is documented but the code has no such key", referencePath, row.line, k)
		}
		if row.typ == "" || row.def == "" || row.effect == "" {
			t.Errorf("%s:%d: key %s needs a type, a default and a meaning", referencePath, row.line, k)
		}
	}
}

// minimalConfig turns every section on with only its required keys, so that
// everything else holds its default.
const minimalConfig = `sources:
  - {name: api, paths: [/var/log/app/*.log]}
postgres: {dsn: "host=db"}
influxdb: {url: "https://127.0.0.1:8086", bucket: ai, tls: {}}
pricing:
  models:
    - {match: "gpt-*", input_per_mtok: 1, output_per_mtok: 2}
http: {}
report: {}
`

// defaultRE is a default written as one backquoted value, which the test
// compares with the code's; prose defaults ("required", "none") are not.
var defaultRE = regexp.MustCompile("^`([^`]*)`$")

func TestConfigReference_DefaultsMatchTheCode(t *testing.T) {
	c, err := Parse("minimal.yaml", []byte(minimalConfig), nil)
	if err != nil {
		t.Fatalf("parse the minimal config: %v", err)
	}
	checked := 0
	for k, row := range readReference(t) {
		m := defaultRE.FindStringSubmatch(row.def)
		if m == nil {
			continue
		}
		v, ok := valueAt(reflect.ValueOf(c).Elem(), k)
		if !ok {
			t.Errorf("%s:%d: key %s: no value in the parsed config", referencePath, row.line, k)
			continue
		}
		if got, want := fmt.Sprint(v.Interface()), m[1]; got != want {
			t.Errorf("%s:%d: key %s: default in the code %q, documented %q", referencePath, row.line, k, got, want)
		}
		checked++
	}
	if checked < 15 {
		t.Errorf("compared %d documented defaults with the code, want at least 15: is the default column still backquoted?", checked)
	}
}

// valueAt follows a key path through v, taking the first item of lists.
func valueAt(v reflect.Value, path string) (reflect.Value, bool) {
	for part := range strings.SplitSeq(path, ".") {
		name, list := strings.CutSuffix(part, "[]")
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		found := false
		for i := range v.NumField() {
			if tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); tag == name {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return v, false
		}
		if list {
			if v.Len() == 0 {
				return v, false
			}
			v = v.Index(0)
		}
	}
	return v, true
}

func TestConfigReference_ExampleParses(t *testing.T) {
	data, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) {
		switch name {
		case "TOKENTAIL_PG_DSN":
			return "postgres://tokentail@127.0.0.1:5432/ai", true
		case "INFLUX_TOKEN":
			return "token", true
		}
		return "", false
	}
	c, err := Parse("../../config.example.yaml", data, env)
	if err != nil {
		t.Fatalf("config.example.yaml does not parse:\n%v", err)
	}
	// Every section the reference describes is shown on in the example,
	// except report, which the example leaves commented out (USD).
	if c.Postgres == nil || c.InfluxDB == nil || c.Pricing == nil || c.HTTP == nil || len(c.Sources) == 0 {
		t.Errorf("config.example.yaml should turn every writer and server section on: %+v", c)
	}
}

func TestKeyPaths_WalksNestedSections(t *testing.T) {
	got := keyPaths(reflect.TypeFor[Config](), "")
	for _, want := range []string{"state_dir", "sources", "sources[].name", "log.level", "postgres.dsn", "pricing.models[].effective_from", "report.rate"} {
		if !slices.Contains(got, want) {
			t.Errorf("keyPaths lacks %q; got %v", want, got)
		}
	}
	for _, bad := range []string{"File", "Prices", "pricing.models[].Line", "sources[].match.type"} {
		if slices.Contains(got, bad) {
			t.Errorf("keyPaths lists %q, which is not a YAML key", bad)
		}
	}
}
