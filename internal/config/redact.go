package config

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// kvPasswordRE finds password values in key=value connection strings and
// URL queries: password=x, sslpassword='a b', &password=x.
var kvPasswordRE = regexp.MustCompile(`(?i)(^|[\s?&])((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&]*)`)

// RedactDSN returns dsn with its passwords replaced by "***", in URL form
// (postgres://user:pw@host/db, ?password=pw) and in key=value form
// (host=h password=pw). It does not need the DSN to be valid: passwords
// with unescaped '@' or '/' are still hidden, so it is safe on any input.
func RedactDSN(dsn string) string {
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok && !strings.ContainsAny(scheme, " =") {
		// The userinfo ends at the last '@' before the query: a password may
		// hold '@' or '/' that its writer did not escape.
		query := ""
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			rest, query = rest[:q], rest[q:]
		}
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			if user, _, hasPW := strings.Cut(rest[:at], ":"); hasPW {
				rest = user + ":" + masked + rest[at:]
			}
		}
		return scheme + "://" + rest + kvPasswordRE.ReplaceAllString(query, "${1}${2}"+masked)
	}
	return kvPasswordRE.ReplaceAllString(dsn, "${1}${2}"+masked)
}

// Redacted returns the effective configuration as YAML, defaults filled in
// and every secret masked (DSN passwords replaced by ***, keeping the rest of
// the DSN readable), for `tokentail config check` to print.
func (c *Config) Redacted() ([]byte, error) {
	var root yaml.Node
	if err := root.Encode(c); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	// Secret marshals as "***"; the DSN is more useful with only its
	// password hidden, and an InfluxDB URL may carry a password too.
	if c.Postgres != nil {
		if n := child(&root, "postgres", "dsn"); n != nil {
			n.Value, n.Style = RedactDSN(c.Postgres.DSN.Reveal()), 0
		}
	}
	if c.InfluxDB != nil {
		if n := child(&root, "influxdb", "url"); n != nil {
			n.Value, n.Style = RedactDSN(c.InfluxDB.URL), 0
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return b.Bytes(), nil
}

// child follows keys down a mapping node.
func child(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// Warnings returns things the daemon should log at start that are allowed
// but risky: a config file readable by other users while it holds a secret
// written in clear (not taken from ${VAR}), a TLS private key readable by
// other users, a TLS section that checks no certificate, and an HTTP server
// listening beyond loopback.
func (c *Config) Warnings() []string {
	var w []string
	if secrets := c.literalSecrets(); len(secrets) > 0 {
		if fi, err := os.Stat(c.File); err == nil && fi.Mode().Perm()&0o044 != 0 {
			w = append(w, fmt.Sprintf("%s is readable by other users (mode %04o) and holds a secret in clear (%s); run chmod 600 %s, or take the secret from the environment with ${VAR}",
				c.File, fi.Mode().Perm(), strings.Join(secrets, ", "), c.File))
		}
	}
	if c.InfluxDB != nil && c.InfluxDB.TLS != nil {
		t := c.InfluxDB.TLS
		if t.InsecureSkipVerify {
			w = append(w, "influxdb.tls.insecure_skip_verify is true: the server's certificate is not checked, so anyone between tokentail and InfluxDB can read the token and the data")
		}
		if t.KeyFile != "" {
			if fi, err := os.Stat(t.KeyFile); err == nil && fi.Mode().Perm()&0o044 != 0 {
				w = append(w, fmt.Sprintf("%s (influxdb.tls.key_file) is readable by other users (mode %04o); run chmod 600 %s",
					t.KeyFile, fi.Mode().Perm(), t.KeyFile))
			}
		}
	}
	if c.HTTP != nil {
		if host, _, err := splitListen(c.HTTP.Listen); err == nil && !isLoopback(host) {
			w = append(w, fmt.Sprintf("http.listen %s is not a loopback address: /metrics is reachable from the network", c.HTTP.Listen))
		}
	}
	return w
}

// literalSecrets lists the key paths of non-empty secrets written in the file.
func (c *Config) literalSecrets() []string {
	var keys []string
	for k, lit := range c.literal {
		if !lit {
			continue
		}
		switch k {
		case "postgres.dsn":
			// A DSN without a password (peer or .pgpass auth) holds no secret.
			if c.Postgres != nil && RedactDSN(c.Postgres.DSN.Reveal()) != c.Postgres.DSN.Reveal() {
				keys = append(keys, k)
			}
		case "influxdb.token":
			if c.InfluxDB != nil && c.InfluxDB.Token != "" {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
