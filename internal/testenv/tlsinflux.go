package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// EnvInfluxd is the influxd 1.8.10 binary that `scripts/testenv.sh env` prints.
const EnvInfluxd = "TOKENTAIL_TEST_INFLUXD"

// InfluxHTTPS is an InfluxDB 1.8 of the test's own that serves only https, with a database
// created for the test. Query and CountPoints go over https, trusting certs.CAFile.
type InfluxHTTPS struct {
	InfluxTarget
	client *http.Client
}

// Query runs an InfluxQL query against the test's database over https.
func (s InfluxHTTPS) Query(t testing.TB, influxql string) []InfluxSeries {
	t.Helper()
	series, err := influxQLWith(s.client, http.MethodGet, s.URL, s.DB, influxql)
	if err != nil {
		t.Fatalf("testenv: influx query %q: %v", influxql, err)
	}
	return series
}

// CountPoints returns how many points the measurement holds.
func (s InfluxHTTPS) CountPoints(t testing.TB, measurement string) int {
	t.Helper()
	n := 0
	for _, sr := range s.Query(t, "SELECT * FROM "+quoteIdent(measurement)) {
		n += len(sr.Values)
	}
	return n
}

// StartInfluxHTTPS runs a second influxd (the harness's binary) for this test, on free
// loopback ports, with `[http] https-enabled = true` and certs' server certificate. It is
// stopped and its data removed in t.Cleanup. InfluxDB 1.8 cannot ask for client
// certificates: put ClientCertProxy in front of a server to test those.
func StartInfluxHTTPS(t testing.TB, certs *Certs) InfluxHTTPS {
	t.Helper()
	bin := influxdBinary()
	if bin == "" {
		unavailable(t, "testenv: no influxd binary (set "+EnvInfluxd+"); "+startHint)
	}
	pool, err := certPool(certs.CAFile)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)

	dir := t.TempDir()
	ports := freePorts(t, 2)
	port, rpc := ports[0], ports[1]
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = "%[2]s/meta"
[data]
  dir = "%[2]s/data"
  wal-dir = "%[2]s/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:%[3]d"
  auth-enabled = false
  log-enabled = false
  https-enabled = true
  https-certificate = "%[4]s"
  https-private-key = "%[5]s"
[logging]
  level = "warn"
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
`, rpc, dir, port, certs.ServerCert, certs.ServerKey)
	confPath := filepath.Join(dir, "influxd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	logf, err := os.Create(filepath.Join(dir, "influxd.log"))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run", "-config", confPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start influxd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	if err := waitPing(client, base+"/ping", exited); err != nil {
		out, _ := os.ReadFile(logf.Name())
		t.Fatalf("testenv: influxd https on %s: %v\n%s", base, err, out)
	}
	s := InfluxHTTPS{InfluxTarget: InfluxTarget{URL: base, DB: uniqueName(t)}, client: client}
	s.Bucket = s.DB + "/autogen"
	if _, err := influxQLWith(client, http.MethodPost, base, "", "CREATE DATABASE "+quoteIdent(s.DB)); err != nil {
		t.Fatalf("testenv: create influx database %s: %v", s.DB, err)
	}
	return s
}

// waitPing polls url until it answers 2xx, the process exits, or a minute passes. Polling
// is the only way to learn when influxd listens: it has no readiness notification.
func waitPing(client *http.Client, url string, exited <-chan error) error {
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			cancel()
			if resp.StatusCode/100 == 2 {
				return nil
			}
		} else {
			cancel()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within a minute (last: %v)", err)
		}
		select {
		case err := <-exited:
			return fmt.Errorf("influxd exited: %v", err)
		case <-tick.C:
		}
	}
}

func influxdBinary() string {
	cands := []string{os.Getenv(EnvInfluxd)}
	if c := os.Getenv("TOKENTAIL_CACHE"); c != "" {
		cands = append(cands, filepath.Join(c, "bin", "influxd"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		cands = append(cands, filepath.Join(h, ".cache", "tokentail", "bin", "influxd"))
	}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c
		}
	}
	return ""
}

// ClientCertProxy starts an https reverse proxy to backend (an http:// URL, such as the
// harness InfluxDB) that refuses any client without a certificate signed by certs.CAFile,
// and returns its https:// URL. It stands in for the TLS-terminating proxy a deployment puts
// in front of an InfluxDB 1.8, which cannot require client certificates itself. Closed in
// t.Cleanup.
func ClientCertProxy(t testing.TB, certs *Certs, backend string) string {
	t.Helper()
	target, err := url.Parse(backend)
	if err != nil {
		t.Fatalf("testenv: proxy backend %q: %v", backend, err)
	}
	pool, err := certPool(certs.CAFile)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	srv := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
	// Refused handshakes are what the tests provoke; they need not fill the test log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func certPool(caFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	return pool, nil
}
