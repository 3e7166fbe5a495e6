package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentail/tokentail/internal/config"
)

func fixtureEnv(name string) (string, bool) {
	switch name {
	case "ALERT_WEBHOOK":
		return "https://hooks.example/secret-fixture-token", true
	}
	return "", false
}

// wants reads the "# want: ..." lines of a fixture: each is a substring of
// exactly one reported problem.
func wants(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w []string
	for _, line := range strings.Split(string(data), "\n") {
		if s, ok := strings.CutPrefix(line, "# want: "); ok {
			w = append(w, s)
		}
	}
	return w
}

func TestParse_Fixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) < 5 {
		t.Fatalf("only %d fixtures", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(name, data, fixtureEnv)
			if strings.HasSuffix(name, ".good.yaml") {
				if err != nil {
					t.Fatalf("got %v, want no problem", err)
				}
				return
			}
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("got %v (%T), want a *config.Error", err, err)
			}
			want := wants(t, path)
			used := make([]bool, len(cerr.Problems))
			for _, w := range want {
				found := false
				for i, p := range cerr.Problems {
					if !used[i] && strings.Contains(p.String(), w) {
						used[i], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("no problem matches %q", w)
				}
			}
			for i, p := range cerr.Problems {
				if !used[i] {
					t.Errorf("unexpected problem %q", p.String())
				}
				if strings.Contains(p.String(), "secret") {
					t.Errorf("problem shows a secret: %q", p.String())
				}
			}
		})
	}
}

func TestParse_Defaults(t *testing.T) {
	f, err := Parse("all-kinds.good.yaml", mustRead(t, "testdata/all-kinds.good.yaml"), fixtureEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Rules), 5; got != want {
		t.Fatalf("rules: got %d, want %d", got, want)
	}
	if got, want := f.Notifiers[0].URL.Reveal(), "https://hooks.example/secret-fixture-token"; got != want {
		t.Errorf("expanded url: got %q, want %q", got, want)
	}
	if got, want := f.Notifiers[1].RepeatInterval, DefaultAlertmanagerRepeat; got != want {
		t.Errorf("alertmanager repeat: got %v, want %v", got, want)
	}
	if got, want := f.Notifiers[3].RepeatInterval, DefaultRepeatInterval; got != want {
		t.Errorf("log repeat: got %v, want %v", got, want)
	}
	if !f.Notifiers[0].SendResolved || f.Notifiers[2].SendResolved {
		t.Errorf("send_resolved: got %v %v, want true false", f.Notifiers[0].SendResolved, f.Notifiers[2].SendResolved)
	}
	errs := f.Rules[1]
	if got, want := *errs.Warning, 0.03; got != want {
		t.Errorf("3%%: got %v, want %v", got, want)
	}
	if got, want := errs.Aggregate, AggAvg; got != want {
		t.Errorf("error_rate default aggregate: got %v, want %v", got, want)
	}
	if got, want := f.Rules[0].MaxGroups, DefaultMaxGroups; got != want {
		t.Errorf("max_groups: got %v, want %v", got, want)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoad_Example(t *testing.T) {
	t.Setenv("ALERT_WEBHOOK", "https://hooks.example/x")
	f, err := Load("../rules.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"error-rate", "p95-latency", "token-surge", "cost-anomaly", "daily-budget", "monthly-budget", "user-daily-budget", "no-traffic"}
	if len(f.Rules) != len(want) {
		t.Fatalf("rules: got %d, want %d", len(f.Rules), len(want))
	}
	for i, r := range f.Rules {
		if r.Name != want[i] {
			t.Errorf("rule %d: got %q, want %q", i, r.Name, want[i])
		}
	}
	if got := f.Rules[0]; *got.Warning != 0.03 || *got.Critical != 0.07 || got.For != 5*60e9 {
		t.Errorf("error-rate: got warning %v critical %v for %v", *got.Warning, *got.Critical, got.For)
	}
	if got := f.Rules[3]; got.ZScoreOver != 30*24*3600e9 || *got.Warning != 2 {
		t.Errorf("cost-anomaly: got zscore_over %v warning %v", got.ZScoreOver, *got.Warning)
	}
}

func TestFile_WarningsLiteralURL(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		url  string
		mode os.FileMode
		warn bool
	}{
		{"literal, readable by others", "https://hooks.example/T0/secret", 0o644, true},
		{"literal, owner only", "https://hooks.example/T0/secret", 0o600, false},
		{"from the environment", "${HOOK_URL}", 0o644, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("r%d.yaml", i))
			y := "notifiers:\n  - {name: ops, type: webhook, url: \"" + tt.url + "\"}\nrules:\n  - {name: x, metric: requests, window: 1m, warning: 1}\n"
			if err := os.WriteFile(path, []byte(y), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			t.Setenv("HOOK_URL", "https://hooks.example/T0/env")
			f, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			w := f.Warnings()
			if got := len(w) > 0; got != tt.warn {
				t.Fatalf("Warnings() = %q, want a warning: %v", w, tt.warn)
			}
			if tt.warn && (!strings.Contains(w[0], path) || !strings.Contains(w[0], "chmod 600") || strings.Contains(w[0], "hooks.example")) {
				t.Errorf("warning %q: want the path and chmod 600, and not the URL", w[0])
			}
		})
	}
}
