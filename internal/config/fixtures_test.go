package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureEnv is the environment the fixtures in testdata/config expect.
var fixtureEnv = map[string]string{
	"PG_DSN":       "postgres://tokentail:pg-fixture-secret@db:5432/ai",
	"INFLUX_TOKEN": "influx-fixture-secret",
	"BATCH_WORD":   "ten",
}

func setFixtureEnv(t *testing.T) {
	t.Helper()
	for k, v := range fixtureEnv {
		t.Setenv(k, v)
	}
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

// checkProblems fails unless every want matches its own problem and
// every problem is wanted.
func checkProblems(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d problems", len(want))
	}
	cerr, ok := err.(*Error)
	if !ok {
		t.Fatalf("got error %T %q, want *config.Error", err, err)
	}
	got := make([]string, len(cerr.Problems))
	for i, p := range cerr.Problems {
		got[i] = p.String()
	}
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && strings.Contains(g, w) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no problem matches %q", w)
		}
	}
	for i, g := range got {
		if !used[i] {
			t.Errorf("unexpected problem %q", g)
		}
	}
	if t.Failed() {
		t.Logf("all problems:\n%s", err)
	}
}

func TestLoad_Fixtures(t *testing.T) {
	setFixtureEnv(t)
	good, _ := filepath.Glob("../../testdata/config/*.good.yaml")
	bad, _ := filepath.Glob("../../testdata/config/*.bad.yaml")
	if len(good) < 3 || len(bad) < 5 {
		t.Fatalf("found %d good and %d bad fixtures; is testdata/config missing?", len(good), len(bad))
	}
	for _, path := range good {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if _, err := Load(path); err != nil {
				t.Errorf("Load: got error\n%v\nwant none", err)
			}
		})
	}
	for _, path := range bad {
		t.Run(filepath.Base(path), func(t *testing.T) {
			w := wants(t, path)
			if len(w) == 0 {
				t.Fatal("fixture has no # want: lines")
			}
			_, err := Load(path)
			checkProblems(t, err, w)
		})
	}
}

func TestLoadPricing_Fixtures(t *testing.T) {
	good, _ := filepath.Glob("../../testdata/config/pricing/*.good.yaml")
	bad, _ := filepath.Glob("../../testdata/config/pricing/*.bad.yaml")
	if len(good) < 1 || len(bad) < 2 {
		t.Fatalf("found %d good and %d bad fixtures; is testdata/config/pricing missing?", len(good), len(bad))
	}
	for _, path := range good {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if _, err := LoadPricing(path); err != nil {
				t.Errorf("LoadPricing: got error\n%v\nwant none", err)
			}
		})
	}
	for _, path := range bad {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, err := LoadPricing(path)
			checkProblems(t, err, wants(t, path))
		})
	}
}
