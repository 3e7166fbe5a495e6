package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestRedactDSN_Forms(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:pw@h/db", "postgres://u:***@h/db"},
		{"postgresql://u:pw@h:5432/db?sslmode=require", "postgresql://u:***@h:5432/db?sslmode=require"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h/db", "postgres://h/db"},
		{"postgres://u:p@ss/w:rd@h/db", "postgres://u:***@h/db"},
		{"postgres://u@h/db?password=pw&sslmode=disable", "postgres://u@h/db?password=***&sslmode=disable"},
		{"postgres://u@h/db?sslmode=disable&sslpassword=k", "postgres://u@h/db?sslmode=disable&sslpassword=***"},
		{"host=h user=u password=pw dbname=db", "host=h user=u password=*** dbname=db"},
		{"host=h password='p w \\' x' dbname=db", "host=h password=*** dbname=db"},
		{"password=pw", "password=***"},
		{"host=h PASSWORD = pw", "host=h PASSWORD = ***"},
		{"host=h sslpassword=k", "host=h sslpassword=***"},
		{"host=h user=u", "host=h user=u"},
		{"http://admin:hunter2@influx:8086", "http://admin:***@influx:8086"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := RedactDSN(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestParse_SecretsNeverInErrors feeds secrets to every place an error
// message could quote them.
func TestParse_SecretsNeverInErrors(t *testing.T) {
	const pgPass, token, urlPass = "pg-S3CRET-pw", "influx-S3CRET-token", "url-S3CRET-pw"
	env := mapEnv(map[string]string{"PG_DSN": "db.example.com/" + pgPass, "TOKEN": token})
	tests := []struct{ name, data string }{
		{"dsn from env not a dsn", "postgres: {dsn: \"${PG_DSN}\"}\n"},
		{"dsn literal not a dsn", "postgres: {dsn: \"" + pgPass + "\"}\n"},
		{"dsn unterminated var", "postgres: {dsn: \"postgres://u:" + pgPass + "${X@h/db\"}\n"},
		{"token unterminated var", "influxdb: {url: \"http://h\", bucket: b, token: \"" + token + "${\"}\n"},
		{"url with password", "influxdb: {url: \"ftp://u:" + urlPass + "@h\", bucket: b, token: \"${TOKEN}\"}\n"},
		{"other problems around", "postgres: {dsn: \"postgres://u:" + pgPass + "@h/db\", max_conns: x}\ninfluxdb: {token: \"" + token + "\", tocken: 1}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.data), env)
			if err == nil {
				t.Fatal("got no error, want one")
			}
			for _, s := range []string{pgPass, token, urlPass} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error reveals %q:\n%v", s, err)
				}
			}
		})
	}
}

func TestConfig_Redacted(t *testing.T) {
	const pgPass, token = "pg-S3CRET-pw", "influx-S3CRET-token"
	env := mapEnv(map[string]string{"PG_DSN": "postgres://tt:" + pgPass + "@db:5432/ai?sslmode=require", "TOKEN": token})
	data := `
sources:
  - {name: api, paths: [/var/log/*.log], marker: "", labels: {team: ml}}
postgres: {dsn: "${PG_DSN}", retention: 400d}
influxdb: {url: "http://admin:` + pgPass + `@influx:8086", token: "${TOKEN}", bucket: ai}
pricing: {models: [{match: "gpt-4o*", input_per_mtok: 2.50, output_per_mtok: 10, effective_from: 2024-10-01}, {match: "*mini", input_per_mtok: 0.15, output_per_mtok: 0.6}]}
http: {}
`
	c, err := Parse("/etc/tokentail/t.yaml", []byte(data), env)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	dump := string(out)
	for _, s := range []string{pgPass, token} {
		if strings.Contains(dump, s) {
			t.Errorf("dump reveals %q:\n%s", s, dump)
		}
	}
	for _, want := range []string{
		"dsn: postgres://tt:***@db:5432/ai?sslmode=require",
		"token: '***'",
		"url: http://admin:***@influx:8086",
		"retention: 400d",
		"batch_timeout: 200ms",
		`marker: ""`,
		"listen: 127.0.0.1:9464",
		"input_per_mtok: 2.50",
		"effective_from: 2024-10-01",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("dump lacks %q:\n%s", want, dump)
		}
	}
	if c.Postgres.DSN.Reveal() != "postgres://tt:"+pgPass+"@db:5432/ai?sslmode=require" {
		t.Errorf("Redacted changed the config itself: dsn is now %q", c.Postgres.DSN.Reveal())
	}

	// The dump, secrets put back, is a valid config with the same values.
	dump = strings.Replace(dump, "'***'", "${TOKEN}", 1)
	dump = strings.Replace(dump, "tt:***@", "tt:"+pgPass+"@", 1)
	dump = strings.Replace(dump, "admin:***@", "admin:"+pgPass+"@", 1)
	again, err := Parse("/etc/tokentail/t.yaml", []byte(dump), env)
	if err != nil {
		t.Fatalf("dump does not parse back:\n%v\n%s", err, dump)
	}
	out2, _ := again.Redacted()
	if string(out2) != string(out) {
		t.Errorf("round trip changed the dump:\n%s\nwant\n%s", out2, out)
	}
}

func TestConfig_Warnings(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TT_TEST_DSN", "postgres://u:from-env@h/db")
	tests := []struct {
		name string
		data string
		mode os.FileMode
		want string // "" = no warning
	}{
		{"literal password, world readable", "postgres: {dsn: \"postgres://u:pw@h/db\"}\n", 0o644, "holds a secret in clear (postgres.dsn)"},
		{"literal password, group readable", "postgres: {dsn: \"host=h password=pw\"}\n", 0o640, "(mode 0640)"},
		{"literal token", "influxdb: {url: \"http://h\", bucket: b, token: abc}\n", 0o604, "(influxdb.token)"},
		{"literal password, private", "postgres: {dsn: \"postgres://u:pw@h/db\"}\n", 0o600, ""},
		{"password from env", "postgres: {dsn: \"${TT_TEST_DSN}\"}\n", 0o644, ""},
		{"dsn without password", "postgres: {dsn: \"postgres://u@h/db\"}\n", 0o644, ""},
		{"empty token", "influxdb: {url: \"http://h\", bucket: b, token: \"\"}\n", 0o644, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.Repeat("c", i+1)+".yaml")
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			w := strings.Join(c.Warnings(), "\n")
			switch {
			case tt.want == "" && w != "":
				t.Errorf("got warning %q, want none", w)
			case tt.want != "" && !strings.Contains(w, tt.want):
				t.Errorf("got warnings %q, want one containing %q", w, tt.want)
			}
			if strings.Contains(w, "pw") || strings.Contains(w, "abc") {
				t.Errorf("warning %q reveals the secret", w)
			}
		})
	}
}

func TestConfig_WarningsListen(t *testing.T) {
	for listen, warn := range map[string]bool{
		"127.0.0.1:9464": false, "localhost:9464": false, "[::1]:9464": false,
		"0.0.0.0:9464": true, ":9464": true, "10.0.0.5:9464": true,
	} {
		c, err := Parse("t.yaml", []byte("http: {listen: \""+listen+"\"}\n"), mapEnv(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(c.Warnings()) > 0; got != warn {
			t.Errorf("listen %s: got warning %v, want %v (%q)", listen, got, warn, c.Warnings())
		}
	}
}

// TestPriceEntry_MarshalYAML checks that a dumped entry reads back the same.
func TestPriceEntry_MarshalYAML(t *testing.T) {
	p, err := ParsePricing("p.yaml", []byte("models:\n  - {match: \"true\", input_per_mtok: 0.10, output_per_mtok: 0.400, effective_from: \"2025-01-02T03:04:05Z\"}\n  - {match: \"*-mini\", provider: openai, input_per_mtok: 1, output_per_mtok: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePricing("p2.yaml", out)
	if err != nil {
		t.Fatalf("dump does not parse back: %v\n%s", err, out)
	}
	for i := range p.Models {
		a, b := p.Models[i], back.Models[i]
		a.Line, b.Line = 0, 0
		if !a.EffectiveFrom.Equal(b.EffectiveFrom) {
			t.Errorf("models[%d].effective_from: got %v, want %v", i, b.EffectiveFrom, a.EffectiveFrom)
		}
		a.EffectiveFrom = b.EffectiveFrom
		if a != b {
			t.Errorf("models[%d]: got %+v, want %+v\n%s", i, b, a, out)
		}
	}
}
