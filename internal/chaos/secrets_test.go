package chaos

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokentail/tokentail/internal/loggen"
)

// TestSecrets_NeverPrinted runs the real binary with a DSN password, an
// InfluxDB token and a webhook URL with a key, all taken from the
// environment, and greps everything it prints (config check, the daemon's
// log with a failing notifier retrying, /metrics, an error about an
// unreachable server) for them.
func TestSecrets_NeverPrinted(t *testing.T) {
	w := newWorld(t)
	const (
		password = "pw-Zq7Secret"
		token    = "tok-Xk9Secret"
		hookKey  = "hook-Vb3Secret"
	)
	u, err := url.Parse(w.dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password) // the harness trusts local users: any password works
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	env := append(os.Environ(),
		"TT_DSN="+u.String(),
		"TT_TOKEN="+token,
		"TT_HOOK=http://127.0.0.1:9/hook?key="+hookKey, // nothing listens on port 9: every send fails
	)
	rulesPath := filepath.Join(w.dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(`evaluation_interval: 1s
query_offset: 1s
notifiers:
  - {name: hook, type: webhook, url: "${TT_HOOK}", timeout: 1s, max_retries: 1}
rules:
  - {name: any-spend, metric: requests, window: 1m, warning: 0}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`sources:
  - name: app
    paths: [%q]
postgres: {dsn: "${TT_DSN}", batch_timeout: 50ms}
influxdb: {url: %q, bucket: %q, token: "${TT_TOKEN}", batch_timeout: 50ms}
state_dir: %q
rules_file: %q
http: {listen: %q}
log: {level: debug, format: json}
`, filepath.Join(w.dir, "logs", "*.log"), w.influx.URL, w.influx.Bucket, filepath.Join(w.dir, "state"), rulesPath, httpAddr)
	cfgPath := filepath.Join(w.dir, "secret.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil { // readable by others: the warning must not quote the secret either
		t.Fatal(err)
	}
	var seen bytes.Buffer
	run := func(args ...string) {
		cmd := exec.Command(w.bin, args...)
		cmd.Env = env
		out, _ := cmd.CombinedOutput()
		seen.Write(out)
	}
	run("config", "check", "--config", cfgPath, "--print")
	badPath := filepath.Join(w.dir, "unreachable.yaml")
	bad := strings.Replace(cfg, `"${TT_DSN}"`, fmt.Sprintf("%q", "postgres://tokentail:"+password+"@127.0.0.1:1/x?connect_timeout=1"), 1)
	if err := os.WriteFile(badPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	run("config", "check", "--config", badPath)

	// The daemon: a few records, alerts that the webhook can't deliver.
	f, err := os.Create(filepath.Join(w.dir, "logs", "app.log"))
	if err != nil {
		t.Fatal(err)
	}
	man, err := loggen.New(loggen.Options{Seed: 5, Now: time.Now}).WriteN(f, 200)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	logPath := filepath.Join(w.dir, "secret-daemon.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	d := exec.Command(w.bin, "run", "--config", cfgPath)
	d.Env, d.Stdout, d.Stderr = env, logf, logf
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	w.waitRows(t, man.Records)
	// A tick fires the rule, the webhook fails, is retried, and the daemon
	// says the alert was not delivered. The rules may wait for other tests'
	// transactions first, so this is waited for, not slept.
	for deadline := time.Now().Add(time.Minute); ; {
		b, _ := os.ReadFile(logPath)
		if bytes.Contains(b, []byte("alerts not delivered")) && bytes.Contains(b, []byte("any-spend")) {
			break
		}
		if time.Now().After(deadline) {
			break // the assertion below says what is missing
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err == nil {
		io.Copy(&seen, resp.Body)
		resp.Body.Close()
	} else {
		t.Errorf("/metrics: %v", err)
	}
	d.Process.Signal(syscall.SIGTERM)
	d.Wait()
	logf.Close()
	daemonLog, _ := os.ReadFile(logPath)
	seen.Write(daemonLog)

	if !bytes.Contains(daemonLog, []byte("any-spend")) {
		t.Errorf("the rule never fired, so the failing notifier was not exercised (%d bytes of log):\n%s\nother output:\n%s", len(daemonLog), daemonLog, seen.String())
	}
	for _, s := range []string{password, token, hookKey} {
		if i := bytes.Index(seen.Bytes(), []byte(s)); i >= 0 {
			lo, hi := max(i-200, 0), min(i+100, seen.Len())
			t.Errorf("secret %q printed: ...%s...", s, seen.Bytes()[lo:hi])
		}
	}
}
