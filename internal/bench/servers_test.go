package bench

import "testing"

func TestParseInfluxCount(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       int64
		err        bool
	}{
		{"count", `{"results":[{"statement_id":0,"series":[{"name":"ai_usage","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",106942]]}]}]}`, 106942, false},
		{"empty database", `{"results":[{"statement_id":0}]}`, 0, false},
		{"not json", `<html>`, 0, true},
		{"no count", `{"results":[{"series":[{"values":[["1970-01-01T00:00:00Z"]]}]}]}`, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseInfluxCount([]byte(tc.body))
			if (err != nil) != tc.err {
				t.Fatalf("err: got %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestParseExports(t *testing.T) {
	out := "export TOKENTAIL_TEST_PG_BIN=/usr/lib/postgresql/17/bin\nexport TOKENTAIL_TEST_PG_DATA='/tmp/a b/data'\nnoise\n"
	m := parseExports(out)
	if got, want := m["TOKENTAIL_TEST_PG_BIN"], "/usr/lib/postgresql/17/bin"; got != want {
		t.Errorf("PG_BIN: got %q, want %q", got, want)
	}
	if got, want := m["TOKENTAIL_TEST_PG_DATA"], "/tmp/a b/data"; got != want {
		t.Errorf("PG_DATA: got %q, want %q", got, want)
	}
}
