// Package testenv gives integration tests an isolated place on the harness servers that
// scripts/testenv.sh runs: a fresh PostgreSQL database (PostgresDSN), a fresh InfluxDB
// database (Influx), and a private label on VictoriaMetrics (VictoriaMetrics). Each is removed
// again in t.Cleanup, so tests may run in parallel with t.Parallel.
//
// The servers are found through environment variables that `scripts/testenv.sh env` prints
// and `make test` exports. When they are missing a test skips, so `go test ./...` works on a
// laptop without servers; with TOKENTAIL_REQUIRE_SERVERS=1 (set by `make test`) it fails
// instead, so CI can never pass by skipping.
//
// # Outage tests
//
// Stop, Crash and Start take a server down and bring it back. The servers are shared by every
// test package, so such a test must not run while others use them:
//
//   - its top-level name contains "Outage" (TestWriter_OutageRecovers): `make test` runs those
//     tests on their own, one package at a time (-p 1), before everything else;
//   - it calls OutageTest(t) first, which skips it outside that phase (TOKENTAIL_TEST_OUTAGE=1
//     marks the phase; set it by hand to run one package's outage tests alone);
//   - it does not call t.Parallel.
//
// A server that a test stopped is started again in t.Cleanup even when the test fails.
package testenv
