package testenv

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Server names a harness server for Stop, Crash and Start.
type Server string

// The harness servers.
const (
	Postgres Server = "pg"
	InfluxDB Server = "influx"
	VM       Server = "vm"
)

// controlTimeout bounds one stop or start; the script bounds its own waits below this.
const controlTimeout = 3 * time.Minute

// OutageTest marks t as a test that stops servers every other test shares. Call it first.
// It skips the test unless TOKENTAIL_TEST_OUTAGE=1, which `make test` sets for a phase that
// runs only tests named *Outage*, one package at a time; and it fails a test whose top-level
// name lacks "Outage", which that phase would never select. Such a test must not call
// t.Parallel.
func OutageTest(t testing.TB) {
	t.Helper()
	if top, _, _ := strings.Cut(t.Name(), "/"); !strings.Contains(top, "Outage") {
		t.Fatalf("testenv: %s stops shared servers, so its name must contain \"Outage\" "+
			"(make test runs those tests alone, selected by name)", top)
	}
	if os.Getenv(EnvOutage) != "1" {
		t.Skipf("testenv: outage test: runs in make test's outage phase, alone; "+
			"set %s=1 to run it by hand while no other tests use the servers", EnvOutage)
	}
	getenv(t, EnvScript)
}

// Stop shuts s down cleanly and returns once it has stopped. Unless the test starts it
// again, it is started in t.Cleanup (before cleanups registered earlier, such as dropping
// the test's database, run).
func Stop(t testing.TB, s Server) {
	t.Helper()
	control(t, "stop", s)
	t.Cleanup(func() { restart(t, s) })
}

// Crash kills s without a clean shutdown (PostgreSQL: immediate mode, recovery on the next
// start; InfluxDB and VictoriaMetrics: SIGKILL). It is started again in t.Cleanup.
func Crash(t testing.TB, s Server) {
	t.Helper()
	control(t, "crash", s)
	t.Cleanup(func() { restart(t, s) })
}

// Start starts s again with its data and returns once it accepts connections. Starting a
// running server does nothing.
func Start(t testing.TB, s Server) {
	t.Helper()
	control(t, "start", s)
}

func control(t testing.TB, verb string, s Server) {
	t.Helper()
	if os.Getenv(EnvOutage) != "1" {
		t.Fatalf("testenv: %s %s: call testenv.OutageTest(t) first", verb, s)
	}
	if out, err := runScript(verb, s); err != nil {
		t.Fatalf("testenv: %s %s: %v\n%s", verb, s, err, out)
	}
}

func restart(t testing.TB, s Server) {
	if out, err := runScript("start", s); err != nil {
		t.Errorf("testenv: start %s again after the test: %v\n%s", s, err, out)
	}
}

func runScript(verb string, s Server) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Getenv(EnvScript), verb+"-"+string(s))
	// The script must act on the directory the servers run from, not on its default.
	cmd.Env = append(os.Environ(), "TOKENTAIL_TESTENV_DIR="+os.Getenv(EnvDir))
	// The servers it starts write to their own logs; should one ever hold our output pipe,
	// this stops Wait from waiting for the server's whole life.
	cmd.WaitDelay = 10 * time.Second
	return cmd.CombinedOutput()
}
