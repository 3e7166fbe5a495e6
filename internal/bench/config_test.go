package bench

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv_Defaults(t *testing.T) {
	c, err := ConfigFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Records, 1_000_000; got != want {
		t.Errorf("records: got %d, want %d", got, want)
	}
	if got, want := len(c.Parts), len(Parts()); got != want {
		t.Errorf("parts: got %d, want every part (%d)", got, want)
	}
	if got, want := c.Out, "BENCHMARKS.md"; got != want {
		t.Errorf("out: got %q, want %q", got, want)
	}
	// Never the test harness's ports: a bench must not meet a test run's servers.
	if c.PGPort == 55432 || c.InfluxPort == 58086 {
		t.Errorf("ports %d/%d are the test harness's", c.PGPort, c.InfluxPort)
	}
}

func TestConfigFromEnv_Settings(t *testing.T) {
	c, err := ConfigFromEnv(env(map[string]string{
		"BENCH_ONLY": "backfill, outage", "BENCH_SKIP": "outage-influx", "BENCH_RECORDS": "100_000",
		"BENCH_NOISE": "0.3", "BENCH_BATCH_TIMEOUT": "20ms", "BENCH_LIVE_SECONDS": "2.5", "BENCH_OUT": "-",
		"TOKENTAIL_TEST_PG_PORT": "6000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Parts, map[string]bool{PartBackfill: true, PartOutagePG: true}; !reflect.DeepEqual(got, want) {
		t.Errorf("parts: got %v, want %v", got, want)
	}
	if c.Records != 100_000 || c.Noise != 0.3 || c.BatchTimeout != 20*time.Millisecond ||
		c.LiveDuration != 2500*time.Millisecond || c.Out != "" || c.PGPort != 6000 {
		t.Errorf("got %+v", c)
	}
}

func TestConfigFromEnv_Quick(t *testing.T) {
	c, err := ConfigFromEnv(env(map[string]string{"BENCH_QUICK": "1", "BENCH_IDLE_SECONDS": "3"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OutageDuration >= DefaultConfig().OutageDuration {
		t.Errorf("quick outage: got %s, want shorter than %s", c.OutageDuration, DefaultConfig().OutageDuration)
	}
	// An explicit setting wins over BENCH_QUICK.
	if got, want := c.IdleDuration, 3*time.Second; got != want {
		t.Errorf("idle: got %s, want %s", got, want)
	}
}

func TestConfigFromEnv_EveryProblem(t *testing.T) {
	_, err := ConfigFromEnv(env(map[string]string{
		"BENCH_ONLY": "backfil", "BENCH_RECORDS": "lots", "BENCH_NOISE": "1.5", "BENCH_BATCH_TIMEOUT": "50",
	}))
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{"unknown part backfil", "BENCH_RECORDS", "BENCH_NOISE", "BENCH_BATCH_TIMEOUT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
