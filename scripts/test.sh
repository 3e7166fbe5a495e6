#!/usr/bin/env bash
# test.sh: the body of `make test` (lint runs before it, from make): start the harness
# servers, run the fuzz targets briefly, run the outage tests alone, then every test with the
# race detector, and stop the servers whatever happens. Every step runs even when an earlier
# one fails, so one run shows every problem; the exit status is 1 when any failed.
#
# The `go test ./...` run comes last so that the run ends with its summary lines, which CI
# reads. TOKENTAIL_KEEP_TESTENV=1 leaves the servers running afterwards (for a rerun of one
# package by hand).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DIR=${TOKENTAIL_TESTENV_DIR:-$PWD/.testenv}
mkdir -p "$DIR"

# Two `make test` in one working tree would stop each other's servers: the second waits.
# Bounded, like every wait here, so CI never hangs.
exec 8>"$DIR/.test.lock"
if ! flock -w 3600 8; then
	echo "test: another make test held $DIR/.test.lock for an hour" >&2
	exit 1
fi

stop_servers() {
	if [[ ${TOKENTAIL_KEEP_TESTENV:-} == 1 ]]; then
		echo "test: servers left running (TOKENTAIL_KEEP_TESTENV=1); scripts/testenv.sh stop" >&2
		return 0
	fi
	# Quiet, so that go test's summary stays the last thing printed; loud only on failure.
	if ! scripts/testenv.sh stop >"$DIR/stop.log" 2>&1; then
		echo "test: stopping the servers failed:" >&2
		cat "$DIR/stop.log" >&2
	fi
}
trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 8>&- on every child: a server (started here, or restarted by an outage test) must not
# inherit the lock, or it would outlive this run.
scripts/testenv.sh start 8>&-
eval "$(scripts/testenv.sh env)"
export TOKENTAIL_REQUIRE_SERVERS=1
# Set only for the outage phase below: inherited from a shell, it would let outage tests stop
# servers under the parallel main run.
unset TOKENTAIL_TEST_OUTAGE

rc=0

scripts/fuzz.sh 8>&- || rc=1

# Outage tests stop servers every test shares, so they run alone: only packages that have a
# test named *Outage*, one package at a time, before the main run (see internal/testenv).
# Among them is the short chaos run (internal/chaos TestChaos_KillNineOutage: 24,000 records,
# 20 kill -9, one crash per database, about 40 s); `make chaos` runs it long.
outage_pkgs=$(grep -rlE --include='*_test.go' --exclude-dir=.git --exclude-dir=.testenv \
	--exclude-dir=testdata '^func Test[A-Za-z0-9_]*Outage' . | xargs -r -n1 dirname | sort -u) || true
if [[ -n $outage_pkgs ]]; then
	echo "test: outage tests in" $outage_pkgs
	# shellcheck disable=SC2086 # one argument per package
	TOKENTAIL_TEST_OUTAGE=1 go test -race -count=1 -p 1 -run 'Outage' $outage_pkgs 8>&- || rc=1
fi

go test -race -count=1 ./... 8>&- || rc=1

exit $rc
