#!/usr/bin/env bash
# bench.sh: `make bench`. Builds cmd/tokentail-bench and runs it: the performance figures of
# tokentail measured side by side in one run, printed and written to BENCHMARKS.md.
#
#   make bench                                   the full run (1M-record backfill; ~15 minutes)
#   make bench BENCH_RECORDS=100000 BENCH_QUICK=1   a quick run (a few minutes; noisy figures)
#   make bench BENCH_ONLY=backfill,latency       some parts only (see: go run ./cmd/tokentail-bench -h)
#
# The program starts its own PostgreSQL and InfluxDB (scripts/testenv.sh, on ports of its own, never
# the test harness's) and stops them and removes its files whatever happens; the trap below is the
# safety net for a program that was killed before it could.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

# The ports are fixed here so that the program and the safety net agree on them.
export TOKENTAIL_TEST_PG_PORT=${TOKENTAIL_TEST_PG_PORT:-56532}
export TOKENTAIL_TEST_INFLUX_PORT=${TOKENTAIL_TEST_INFLUX_PORT:-59186}
export TOKENTAIL_TEST_INFLUX_RPC_PORT=${TOKENTAIL_TEST_INFLUX_RPC_PORT:-59188}
export TOKENTAIL_TEST_VM_PORT=${TOKENTAIL_TEST_VM_PORT:-59528}

work=$(mktemp -d "${TMPDIR:-/tmp}/tokentail-bench.XXXXXX")
if [[ -z ${BENCH_DIR:-} ]]; then
	if [[ -n ${BENCH_KEEP:-} && ${BENCH_KEEP} != 0 ]]; then
		BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tokentail-bench-run.XXXXXX")
	else
		BENCH_DIR=$work/run
	fi
fi
export BENCH_DIR

cleanup() {
	local rc=$?
	if [[ -d $BENCH_DIR/testenv ]]; then
		TOKENTAIL_TESTENV_DIR=$BENCH_DIR/testenv scripts/testenv.sh stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT

go build -o "$work/tokentail-bench" ./cmd/tokentail-bench
# In the background, so that a SIGINT or SIGTERM to this script is passed on at once (bash
# would otherwise wait for the child first): the program then cleans up and exits.
"$work/tokentail-bench" "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true' INT TERM
status=0
while true; do
	wait "$child" && status=0 || status=$?
	# wait returns >128 when a trapped signal interrupted it: the child may still be running.
	kill -0 "$child" 2>/dev/null || break
done
exit "$status"
