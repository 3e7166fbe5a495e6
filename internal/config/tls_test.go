package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentail/tokentail/internal/testenv"
)

// loadTLSConfig writes data as dir/tokentail.yaml with mode 0600 and loads it.
func loadTLSConfig(t *testing.T, dir, data string) (*Config, error) {
	t.Helper()
	path := filepath.Join(dir, "tokentail.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func TestLoad_InfluxTLS(t *testing.T) {
	dir := t.TempDir()
	certs := testenv.NewCerts(t, filepath.Join(dir, "pki"), "tokentail")
	// Relative paths are read from the config file's directory.
	c, err := loadTLSConfig(t, dir, `
influxdb:
  url: https://127.0.0.1:8086
  bucket: ai/autogen
  tls: {ca_file: pki/ca.pem, cert_file: pki/client.pem, key_file: pki/client-key.pem}
`)
	if err != nil {
		t.Fatal(err)
	}
	tl := c.InfluxDB.TLS
	if got, want := tl.CAFile, certs.CAFile; got != want {
		t.Errorf("ca_file: got %q, want %q", got, want)
	}
	tc, err := tl.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.InsecureSkipVerify {
		t.Errorf("client config: got roots %v, %d certificates, insecure %v; want roots, 1, false",
			tc.RootCAs != nil, len(tc.Certificates), tc.InsecureSkipVerify)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings: got %q, want none", w)
	}
	var none *TLS
	if tc, err := none.ClientConfig(); tc != nil || err != nil {
		t.Errorf("nil TLS: got %v, %v; want nil, nil", tc, err)
	}
}

func TestLoad_InfluxTLSProblems(t *testing.T) {
	dir := t.TempDir()
	certs := testenv.NewCerts(t, dir, "tokentail")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	section := func(url, tls string) string {
		return "influxdb:\n  url: " + url + "\n  bucket: b\n  tls:\n" + tls
	}
	tests := []struct {
		name, data, want string
	}{
		{"missing CA", section("https://h", "    ca_file: "+dir+"/nope.pem\n"),
			"tokentail.yaml:5:5: influxdb.tls.ca_file: open " + dir + "/nope.pem: no such file or directory"},
		{"CA not PEM", section("https://h", "    ca_file: "+notPEM+"\n"),
			"tokentail.yaml:5:5: influxdb.tls.ca_file: " + notPEM + " holds no PEM certificate"},
		{"cert without key", section("https://h", "    cert_file: "+certs.ClientCert+"\n"),
			"tokentail.yaml:4:3: influxdb.tls.key_file: required with cert_file"},
		{"key without cert", section("https://h", "    key_file: "+certs.ClientKey+"\n"),
			"tokentail.yaml:4:3: influxdb.tls.cert_file: required with key_file"},
		{"missing key file", section("https://h", "    cert_file: "+certs.ClientCert+"\n    key_file: "+dir+"/gone-key.pem\n"),
			"tokentail.yaml:6:5: influxdb.tls.key_file: open " + dir + "/gone-key.pem: no such file"},
		{"key of another certificate", section("https://h", "    cert_file: "+certs.ClientCert+"\n    key_file: "+certs.ServerKey+"\n"),
			"influxdb.tls.cert_file: load " + certs.ClientCert + " and " + certs.ServerKey + ": tls: private key does not match public key"},
		{"plain http", section("http://h", "    ca_file: "+certs.CAFile+"\n"),
			"tokentail.yaml:4:3: influxdb.tls: set, but the url is http://"},
		{"insecure and CA", section("https://h", "    ca_file: "+certs.CAFile+"\n    insecure_skip_verify: true\n"),
			"influxdb.tls.insecure_skip_verify: true makes ca_file pointless"},
		{"unknown key", section("https://h", "    ca: x\n"), `influxdb.tls.ca: unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadTLSConfig(t, t.TempDir(), tt.data)
			got := problems(t, err)
			if !slicesContains(got, tt.want) {
				t.Errorf("got problems\n%s\nwant one containing %q", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

func TestConfig_WarningsTLS(t *testing.T) {
	dir := t.TempDir()
	certs := testenv.NewCerts(t, dir, "tokentail")
	c, err := loadTLSConfig(t, t.TempDir(), "influxdb: {url: \"https://h\", bucket: b, tls: {insecure_skip_verify: true}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(c.Warnings(), "\n"), "influxdb.tls.insecure_skip_verify is true"; !strings.Contains(got, want) {
		t.Errorf("got warnings %q, want one containing %q", got, want)
	}
	if err := os.Chmod(certs.ClientKey, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = loadTLSConfig(t, t.TempDir(), "influxdb: {url: \"https://h\", bucket: b, tls: {cert_file: "+certs.ClientCert+", key_file: "+certs.ClientKey+"}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(c.Warnings(), "\n"), certs.ClientKey+" (influxdb.tls.key_file) is readable by other users (mode 0644); run chmod 600"; !strings.Contains(got, want) {
		t.Errorf("got warnings %q, want one containing %q", got, want)
	}
}
