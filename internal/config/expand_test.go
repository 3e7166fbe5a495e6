package config

import (
	"strings"
	"testing"
)

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestExpand_Variables(t *testing.T) {
	env := mapEnv(map[string]string{"HOST": "db", "EMPTY": "", "PW": "p$w"})
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "no dollar", in: "plain", want: "plain"},
		{name: "set", in: "postgres://${HOST}/x", want: "postgres://db/x"},
		{name: "twice", in: "${HOST}-${HOST}", want: "db-db"},
		{name: "set but empty", in: "[${EMPTY}]", want: "[]"},
		{name: "default when unset", in: "${NOPE:-fallback}", want: "fallback"},
		{name: "default when empty", in: "${EMPTY:-fallback}", want: "fallback"},
		{name: "default ignored when set", in: "${HOST:-other}", want: "db"},
		{name: "empty default", in: "a${NOPE:-}b", want: "ab"},
		{name: "default with colon", in: "${NOPE:-127.0.0.1:9464}", want: "127.0.0.1:9464"},
		{name: "escape", in: "$${HOST}", want: "${HOST}"},
		{name: "escape then var", in: "$$${HOST}", want: "$db"},
		{name: "lone dollar kept", in: "pa$s word$", want: "pa$s word$"},
		{name: "value not re-expanded", in: "${PW}", want: "p$w"},
		{name: "unset", in: "x ${NOPE} y", wantErr: "environment variable NOPE is not set"},
		{name: "unterminated", in: "${HOST", wantErr: "unterminated ${"},
		{name: "invalid name", in: "${1X}", wantErr: "invalid variable ${1X}"},
		{name: "empty name", in: "${}", wantErr: "invalid variable ${}"},
		{name: "unsupported operator", in: "${HOST:?no}", wantErr: "invalid variable ${HOST:?no}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(tt.in, env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Expand(%q): got (%q, %v), want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Expand(%q): got error %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Expand(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParse_EnvExpansion(t *testing.T) {
	env := mapEnv(map[string]string{"BUCKET": "ai/autogen", "BATCH": "250", "TAG": "true", "DIR": "/srv/tt"})
	data := `
state_dir: ${DIR}
influxdb:
  url: ${INFLUX_URL:-http://127.0.0.1:8086}
  bucket: ${BUCKET}
  batch_size: ${BATCH}
  user_tag: ${TAG}
  org: "$${literal}"
`
	c, err := Parse("env.yaml", []byte(data), env)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.StateDir, "/srv/tt"; got != want {
		t.Errorf("state_dir: got %q, want %q", got, want)
	}
	i := c.InfluxDB
	if got, want := i.URL, "http://127.0.0.1:8086"; got != want {
		t.Errorf("url: got %q, want %q", got, want)
	}
	if got, want := i.Bucket, "ai/autogen"; got != want {
		t.Errorf("bucket: got %q, want %q", got, want)
	}
	if got, want := i.BatchSize, 250; got != want {
		t.Errorf("batch_size: got %d, want %d", got, want)
	}
	if !i.UserTag {
		t.Errorf("user_tag: got false, want true")
	}
	if got, want := i.Org, "${literal}"; got != want {
		t.Errorf("org: got %q, want %q", got, want)
	}

	// Keys are never expanded, and an unset variable names its place.
	_, err = Parse("env.yaml", []byte("influxdb:\n  url: http://h\n  bucket: ${MISSING_BUCKET}\n"), env)
	if got, want := errString(err), "env.yaml:3:11: influxdb.bucket: environment variable MISSING_BUCKET is not set"; !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want prefix %q", got, want)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
