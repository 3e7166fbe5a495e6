package testenv

import (
	"regexp"
	"strings"
	"testing"
)

func TestUniqueName_ValidAndDistinct(t *testing.T) {
	valid := regexp.MustCompile(`^tt_[a-z0-9_]+_[0-9a-f]{12}$`)
	long := strings.Repeat("Very/Long Test-Name", 10)
	for _, name := range []string{"", "Simple", "Case/with spaces & ünïcode", long} {
		t.Run(name, func(t *testing.T) {
			a, b := uniqueName(t), uniqueName(t)
			if !valid.MatchString(a) {
				t.Errorf("got %q, want it to match %s", a, valid)
			}
			if got, max := len(a), 63; got > max {
				t.Errorf("got length %d (%q), want at most %d (PostgreSQL truncates identifiers)", got, a, max)
			}
			if a == b {
				t.Errorf("two calls both gave %q, want distinct names", a)
			}
		})
	}
}

func TestWithDatabase_ReplacesDatabase(t *testing.T) {
	tests := []struct {
		dsn, want string
	}{
		{
			"postgres://tokentail@127.0.0.1:55432/tokentail?sslmode=disable",
			"postgres://tokentail@127.0.0.1:55432/tt_x?sslmode=disable",
		},
		{
			"postgresql://u:p%40ss@h:1/?sslmode=disable",
			"postgresql://u:p%40ss@h:1/tt_x?sslmode=disable",
		},
		{
			"host=127.0.0.1 port=55432 user=tokentail dbname=tokentail",
			"host=127.0.0.1 port=55432 user=tokentail dbname=tokentail dbname=tt_x",
		},
	}
	for _, tt := range tests {
		got, err := withDatabase(tt.dsn, "tt_x")
		if err != nil {
			t.Fatalf("withDatabase(%q): %v", tt.dsn, err)
		}
		if got != tt.want {
			t.Errorf("withDatabase(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
}

func TestQuoteIdent_Escapes(t *testing.T) {
	got, want := quoteIdent(`a"b\c`), `"a\"b\\c"`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestInfluxSeries_Column(t *testing.T) {
	s := InfluxSeries{Columns: []string{"time", "v"}, Values: [][]any{{1, "a"}, {2, "b"}}}
	if got := s.Column("v"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("Column(v) = %v, want [a b]", got)
	}
	if got := s.Column("missing"); got != nil {
		t.Errorf("Column(missing) = %v, want nil", got)
	}
}
