package security

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/internal/pipeline"
	"github.com/tokentail/tokentail/internal/testenv"
)

// tenRecords writes a log of ten ordinary records into dir.
func tenRecords(t *testing.T, dir string) string {
	lines := make([]string, 10)
	for i := range lines {
		lines[i] = normalLine("tls", i)
	}
	return writeLines(t, dir, "app.log", lines)
}

// openErr opens the configured writers and pings them, as `config check` does, and returns
// the first error.
func openErr(t *testing.T, cfg *config.Config) error {
	t.Helper()
	// config check gives each server 8s; a failure that takes longer is a retry loop.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, err := pipeline.OpenWriters(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer ws.Close()
	if ws.Postgres != nil {
		if err := ws.Postgres.Ping(ctx); err != nil {
			return err
		}
	}
	if ws.Influx != nil {
		return ws.Influx.Ping(ctx)
	}
	return nil
}

// TestTLS_Postgres runs a PostgreSQL that accepts only TLS with a client certificate
// (pg_hba hostssl ... cert) and checks that tokentail's DSN parameters reach the driver:
// verify-full with the CA and a client certificate writes rows over TLS, a wrong CA and a
// missing client certificate fail with an error that says so.
func TestTLS_Postgres(t *testing.T) {
	dir := t.TempDir()
	certs := testenv.NewCerts(t, filepath.Join(dir, "pki"), "tokentail")
	base := testenv.PostgresTLS(t, certs)
	dsn := func(params map[string]string) string {
		q := url.Values{}
		for k, v := range params {
			q.Set(k, v)
		}
		return base + "?" + q.Encode()
	}
	cfgFor := func(t *testing.T, dsn string) *config.Config {
		return loadConfig(t, t.TempDir(), fmt.Sprintf("sources: [{name: app, paths: [%q]}]\npostgres: {dsn: %q}\n",
			filepath.Join(dir, "*.log"), dsn))
	}
	log := tenRecords(t, dir)

	t.Run("verify-full with CA and client certificate writes rows", func(t *testing.T) {
		good := dsn(map[string]string{"sslmode": "verify-full", "sslrootcert": certs.CAFile,
			"sslcert": certs.ClientCert, "sslkey": certs.ClientKey})
		res := backfill(t, cfgFor(t, good), log)
		if got, want := res.Sum.Records, int64(10); got != want {
			t.Errorf("records parsed: got %d, want %d", got, want)
		}
		conn := pgConn(t, good)
		if got, want := queryInt(t, conn, "SELECT count(*) FROM ai_usage_events"), int64(10); got != want {
			t.Errorf("rows: got %d, want %d", got, want)
		}
		var ssl bool
		if err := conn.QueryRow(context.Background(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
			t.Errorf("pg_stat_ssl: got ssl %v (%v), want true", ssl, err)
		}
	})
	t.Run("host name checked", func(t *testing.T) {
		// localhost is in the certificate too; verify-full must accept it.
		good := strings.Replace(dsn(map[string]string{"sslmode": "verify-full", "sslrootcert": certs.CAFile,
			"sslcert": certs.ClientCert, "sslkey": certs.ClientKey}), "127.0.0.1", "localhost", 1)
		if err := openErr(t, cfgFor(t, good)); err != nil {
			t.Errorf("verify-full to localhost: got %v, want no error", err)
		}
	})

	refusals := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"wrong CA fails", map[string]string{"sslmode": "verify-full", "sslrootcert": certs.OtherCAFile,
			"sslcert": certs.ClientCert, "sslkey": certs.ClientKey}, "x509: certificate signed by unknown authority"},
		{"no client certificate is refused", map[string]string{"sslmode": "verify-full", "sslrootcert": certs.CAFile},
			"connection requires a valid client certificate"},
		{"plain connection is refused", map[string]string{"sslmode": "disable"}, "no encryption"},
		{"missing CA file is named", map[string]string{"sslmode": "verify-full", "sslrootcert": filepath.Join(dir, "nope.pem")},
			filepath.Join(dir, "nope.pem")},
		{"missing key file is named", map[string]string{"sslmode": "verify-full", "sslrootcert": certs.CAFile,
			"sslcert": certs.ClientCert, "sslkey": filepath.Join(dir, "gone-key.pem")}, filepath.Join(dir, "gone-key.pem")},
	}
	const password = "pw-Tls7Secret"
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			// A password in the DSN must not come back in the error.
			withPW := strings.Replace(dsn(tt.params), "tokentail@", "tokentail:"+password+"@", 1)
			err := openErr(t, cfgFor(t, withPW))
			t.Logf("error: %v", err)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), password) {
				t.Errorf("error %q reveals the DSN password", err)
			}
		})
	}
}

// TestTLS_InfluxHTTPS runs an influxd 1.8.10 that serves only https and checks
// influxdb.tls: ca_file writes points; a wrong CA, or none (the system's roots), fails with
// the verification error; insecure_skip_verify connects (and is warned about).
func TestTLS_InfluxHTTPS(t *testing.T) {
	dir := t.TempDir()
	certs := testenv.NewCerts(t, filepath.Join(dir, "pki"), "tokentail")
	srv := testenv.StartInfluxHTTPS(t, certs)
	log := tenRecords(t, dir)
	cfgFor := func(t *testing.T, tls string) *config.Config {
		return loadConfig(t, t.TempDir(), fmt.Sprintf("sources: [{name: app, paths: [%q]}]\ninfluxdb: {url: %q, bucket: %q%s}\n",
			filepath.Join(dir, "*.log"), srv.URL, srv.Bucket, tls))
	}

	t.Run("ca_file writes points", func(t *testing.T) {
		backfill(t, cfgFor(t, ", tls: {ca_file: "+certs.CAFile+"}"), log)
		if got, want := srv.CountPoints(t, "ai_usage"), 10; got != want {
			t.Errorf("points: got %d, want %d", got, want)
		}
	})
	t.Run("insecure_skip_verify connects and warns", func(t *testing.T) {
		cfg := cfgFor(t, ", tls: {insecure_skip_verify: true}")
		if err := openErr(t, cfg); err != nil {
			t.Errorf("got %v, want no error", err)
		}
		if got := strings.Join(cfg.Warnings(), "\n"); !strings.Contains(got, "insecure_skip_verify") {
			t.Errorf("warnings: got %q, want one about insecure_skip_verify", got)
		}
	})
	for _, tt := range []struct{ name, tls string }{
		{"wrong CA fails", ", tls: {ca_file: " + certs.OtherCAFile + "}"},
		{"system roots fail", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := openErr(t, cfgFor(t, tt.tls))
			if want := "x509: certificate signed by unknown authority"; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("got error %v, want one containing %q", err, want)
			}
		})
	}
}

// TestTLS_InfluxClientCertificate puts a proxy that requires a client certificate (as a
// TLS-terminating proxy in front of an InfluxDB 1.8 would, since 1.8 cannot) in front of the
// harness InfluxDB: with cert_file and key_file points are written; without them the
// handshake is refused and the error says so.
func TestTLS_InfluxClientCertificate(t *testing.T) {
	dir := t.TempDir()
	certs := testenv.NewCerts(t, filepath.Join(dir, "pki"), "tokentail")
	target := testenv.Influx(t)
	proxy := testenv.ClientCertProxy(t, certs, target.URL)
	log := tenRecords(t, dir)
	cfgFor := func(t *testing.T, tls string) *config.Config {
		return loadConfig(t, t.TempDir(), fmt.Sprintf("sources: [{name: app, paths: [%q]}]\ninfluxdb: {url: %q, bucket: %q, tls: {%s}}\n",
			filepath.Join(dir, "*.log"), proxy, target.Bucket, tls))
	}

	t.Run("client certificate writes points", func(t *testing.T) {
		backfill(t, cfgFor(t, fmt.Sprintf("ca_file: %s, cert_file: %s, key_file: %s", certs.CAFile, certs.ClientCert, certs.ClientKey)), log)
		if got, want := target.CountPoints(t, "ai_usage"), 10; got != want {
			t.Errorf("points: got %d, want %d", got, want)
		}
	})
	t.Run("no client certificate is refused", func(t *testing.T) {
		err := openErr(t, cfgFor(t, "ca_file: "+certs.CAFile))
		if want := "certificate required"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got error %v, want one containing %q", err, want)
		}
	})
}
