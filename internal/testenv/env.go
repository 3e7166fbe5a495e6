package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// Environment variables that `scripts/testenv.sh env` prints.
const (
	// EnvPostgresDSN is the DSN of the harness cluster's maintenance database.
	EnvPostgresDSN = "TOKENTAIL_TEST_PG_DSN"
	// EnvInfluxURL is the base URL of the harness InfluxDB 1.8.
	EnvInfluxURL = "TOKENTAIL_TEST_INFLUX_URL"
	// EnvVMURL is the base URL of the harness VictoriaMetrics.
	EnvVMURL = "TOKENTAIL_TEST_VM_URL"
	// EnvVMSkip, when set, says why VictoriaMetrics is unavailable; its tests skip with it.
	EnvVMSkip = "TOKENTAIL_TEST_VM_SKIP"
	// EnvDir is the directory that holds the servers' data and logs.
	EnvDir = "TOKENTAIL_TEST_DIR"
	// EnvScript is the path of scripts/testenv.sh, which Stop, Crash and Start call.
	EnvScript = "TOKENTAIL_TEST_SCRIPT"
	// EnvRequire set to 1 turns a missing server from a skip into a failure.
	EnvRequire = "TOKENTAIL_REQUIRE_SERVERS"
	// EnvOutage set to 1 marks the phase in which outage tests run; see OutageTest.
	EnvOutage = "TOKENTAIL_TEST_OUTAGE"
)

// timeout bounds every call a helper makes to a server, so a hung server fails a test with a
// message instead of eating the whole go test timeout.
const timeout = 30 * time.Second

const startHint = "run `make test`, or `scripts/testenv.sh start` and `eval \"$(scripts/testenv.sh env)\"`"

// getenv returns the variable, or ends the test: t.Fatal under TOKENTAIL_REQUIRE_SERVERS=1,
// t.Skip otherwise.
func getenv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		unavailable(t, fmt.Sprintf("testenv: %s is not set; %s", name, startHint))
	}
	return v
}

func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// uniqueName is a name for the test's own database or label value: "tt_", the test name in
// a form every server accepts as an identifier, and random hex, because the same test runs in
// several processes at once (-count, two engineers, a CI retry) and a leftover from a killed
// run must not collide. PostgreSQL cuts identifiers at 63 bytes, so the whole stays under it.
func uniqueName(t testing.TB) string {
	var b strings.Builder
	b.WriteString("tt_")
	for _, r := range strings.ToLower(t.Name()) {
		if b.Len() >= 44 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatalf("testenv: random name: %v", err)
	}
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString(rnd[:]))
	return b.String()
}
