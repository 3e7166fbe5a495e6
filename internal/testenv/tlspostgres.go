package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// EnvPGBin is the directory of the PostgreSQL binaries (initdb, pg_ctl) that
// `scripts/testenv.sh env` prints.
const EnvPGBin = "TOKENTAIL_TEST_PG_BIN"

// PostgresTLS starts a second, private PostgreSQL cluster for this test that accepts only TLS
// connections from 127.0.0.1 with a client certificate signed by certs.CAFile (pg_hba
// `hostssl ... cert`; the role is the certificate's common name, and the cluster's superuser
// is tokentail). It returns the DSN of its `postgres` database without any ssl parameter:
// the test adds sslmode, sslrootcert, sslcert and sslkey. The cluster is stopped and removed
// in t.Cleanup.
//
// It is a cluster of its own, not the harness one restarted with ssl, so that no other test
// is disturbed. It needs the PostgreSQL binaries the harness uses (TOKENTAIL_TEST_PG_BIN, else
// /usr/lib/postgresql/*/bin); without them the test skips (fails under
// TOKENTAIL_REQUIRE_SERVERS=1). As root, the cluster runs as the postgres user, as the
// harness's does.
func PostgresTLS(t testing.TB, certs *Certs) string {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		unavailable(t, "testenv: no PostgreSQL binaries (set "+EnvPGBin+" or install postgresql); "+startHint)
	}
	owner, err := pgOwner()
	if err != nil {
		unavailable(t, "testenv: "+err.Error())
	}
	// Not t.TempDir: as root the cluster's user must be able to enter the directory, and the
	// unix socket path must stay under the kernel's 107 bytes.
	root, err := os.MkdirTemp("", "tt-pgtls-")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	data := filepath.Join(root, "data")
	run := func(name string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
		defer cancel()
		cmd := owner.command(ctx, filepath.Join(bin, name), args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			log, _ := os.ReadFile(filepath.Join(root, "postgres.log"))
			t.Fatalf("testenv: %s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, log)
		}
	}
	if err := owner.chown(root); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	run("initdb", "-D", data, "-U", "tokentail", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")

	// The server reads its key only when it is private to its owner.
	for _, f := range []struct {
		from, to string
		mode     os.FileMode
	}{{certs.ServerCert, "server.crt", 0o644}, {certs.ServerKey, "server.key", 0o600}, {certs.CAFile, "root.crt", 0o644}} {
		b, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		to := filepath.Join(data, f.to)
		if err := os.WriteFile(to, b, f.mode); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		if err := owner.chown(to); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	port := freePort(t)
	conf := fmt.Sprintf(`
# tokentail TLS test cluster
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
max_connections = 30
shared_buffers = 16MB
fsync = off
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'root.crt'
`, port, root)
	appendFile(t, filepath.Join(data, "postgresql.conf"), conf)
	// Replace the whole file: initdb's trust lines for 127.0.0.1 would let a plain connection in.
	hba := "local all all trust\nhostssl all all 127.0.0.1/32 cert\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := owner.chown(filepath.Join(data, "pg_hba.conf")); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	run("pg_ctl", "start", "-D", data, "-l", filepath.Join(root, "postgres.log"), "-w", "-t", "60")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
		defer cancel()
		// immediate: the data is thrown away, so a clean shutdown's checkpoint is wasted time.
		cmd := owner.command(ctx, filepath.Join(bin, "pg_ctl"), "stop", "-D", data, "-m", "immediate", "-w", "-t", "60")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("testenv: stop the TLS cluster: %v\n%s", err, out)
		}
	})
	return fmt.Sprintf("postgres://tokentail@127.0.0.1:%d/postgres", port)
}

// pgBinDir finds initdb and pg_ctl the way scripts/testenv.sh does: TOKENTAIL_TEST_PG_BIN,
// else the newest /usr/lib/postgresql/*/bin, else PATH.
func pgBinDir() string {
	ok := func(d string) bool {
		_, err := os.Stat(filepath.Join(d, "initdb"))
		return err == nil
	}
	if d := os.Getenv(EnvPGBin); d != "" && ok(d) {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if ok(d) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// pgRunner runs PostgreSQL's programs as the user that may: PostgreSQL refuses root.
type pgRunner struct {
	uid, gid int // -1 when not root: run as ourselves
	name     string
}

func pgOwner() (pgRunner, error) {
	if os.Geteuid() != 0 {
		return pgRunner{uid: -1, gid: -1}, nil
	}
	// The users scripts/testenv.sh runs its cluster as.
	for _, name := range []string{"postgres", "tokentail"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return pgRunner{uid: uid, gid: gid, name: name}, nil
	}
	return pgRunner{}, fmt.Errorf("running as root, and there is no postgres or tokentail user to run PostgreSQL as; run scripts/testenv.sh start first")
}

func (r pgRunner) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	if r.uid < 0 {
		return exec.CommandContext(ctx, prog, args...)
	}
	cmd := exec.CommandContext(ctx, "runuser", append([]string{"-u", r.name, "--", prog}, args...)...)
	cmd.Dir = "/" // the caller's directory may be closed to the cluster's user
	return cmd
}

func (r pgRunner) chown(path string) error {
	if r.uid < 0 {
		return nil
	}
	return os.Chown(path, r.uid, r.gid)
}

func appendFile(t testing.TB, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatalf("testenv: append %s: %v", path, err)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	return freePorts(t, 1)[0]
}

// freePorts returns n distinct ports that were free a moment ago: all are
// held open until all are chosen, so two of them are never the same.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: free port: %v", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
