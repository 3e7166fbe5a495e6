package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/writers/influx"
)

// TestValidate_LabelsTheInfluxWriterDrops: a label the InfluxDB writer
// would silently drop (it names a tag the writer sets itself, user among
// them) is refused up front, at its file:line; a label the writer keeps is
// accepted. The writer's line protocol is the reference, so a tag added to
// it without a matching check here fails this test.
func TestValidate_LabelsTheInfluxWriterDrops(t *testing.T) {
	const src = "sources:\n  - name: api\n    paths: [a.log]\n"
	candidates := []string{
		"user", "user_id", "model", "provider", "feature", "status", "error_type", "source", "time",
		"input_tokens", "cost_usd", "duration_ms",
		"users", "team", "service", "region", "measurement", "field", "value", "start", "stop", "tag",
	}
	for _, k := range candidates {
		t.Run(k, func(t *testing.T) {
			rec := parse.Record{OccurredAt: time.Unix(1_700_000_000, 0), Model: "m", Source: "api", Success: true,
				Labels: []parse.Label{{Key: k, Value: "labelvalue"}}}
			line, err := influx.AppendLine(nil, &rec)
			if err != nil {
				t.Fatal(err)
			}
			dropped := !strings.Contains(string(line), ","+k+"=labelvalue")
			_, err = parseString(t, src+"    labels: {"+k+": labelvalue}\n")
			switch {
			case dropped && err == nil:
				t.Errorf("label %q: the InfluxDB writer drops it (%q) but the config accepts it", k, line)
			case dropped:
				want := `t.yaml:4:14: sources[0].labels.` + k + `: "` + k + `" is a tag or field tokentail writes itself`
				if got := strings.Join(problems(t, err), "\n"); !strings.Contains(got, want) {
					t.Errorf("label %q: got\n%s\nwant it to contain\n%s", k, got, want)
				}
			case err != nil && !isReserved(k):
				t.Errorf("label %q: the writer keeps it, but the config refuses it: %v", k, err)
			}
		})
	}
}

// isReserved: token and cost names are fields, not tags; the writer would
// keep a label so named, but it would be confusing, and the config refuses it.
func isReserved(k string) bool {
	for _, r := range reservedLabels {
		if r == k {
			return true
		}
	}
	return false
}

// TestExampleConfig_FilesExist: the files config.example.yaml points to
// (rules_file, pricing.file) lie next to it, so the example runs as shipped.
func TestExampleConfig_FilesExist(t *testing.T) {
	t.Setenv("TOKENTAIL_PG_DSN", "postgres://tokentail:example-pw@127.0.0.1:5432/ai")
	t.Setenv("INFLUX_TOKEN", "example-token")
	c, err := Load("../../config.example.yaml")
	if err != nil {
		t.Fatalf("config.example.yaml:\n%v", err)
	}
	paths := []string{c.RulesFile}
	if c.Pricing != nil && c.Pricing.File != "" {
		paths = append(paths, c.Pricing.File)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("config.example.yaml points to a file that is not there: %v", err)
		}
	}
}
