#!/usr/bin/env bash
# chaos.sh: the long chaos run (`make chaos`, about 10 minutes on 2 cores). Two generators
# write TOKENTAIL_CHAOS_RECORDS record lines (default 1,000,000) to eight files rotated by
# rename and by copytruncate, while the real daemon is killed with SIGKILL
# TOKENTAIL_CHAOS_KILLS times (default 100) at random moments and PostgreSQL and InfluxDB
# are each taken down TOKENTAIL_CHAOS_OUTAGES times (default 2: a crash, then a clean stop)
# for TOKENTAIL_CHAOS_OUTAGE (default 15s). Then rows, points and rejects by reason are
# compared with what the generators wrote, and RELIABILITY.md is rewritten with the
# report (also when the run fails: it says so).
# `make test` runs the same test short (24,000 records, 20 kills, one crash per database).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TOKENTAIL_CHAOS_RECORDS=${TOKENTAIL_CHAOS_RECORDS:-1000000}
export TOKENTAIL_CHAOS_KILLS=${TOKENTAIL_CHAOS_KILLS:-100}
export TOKENTAIL_CHAOS_RATE=${TOKENTAIL_CHAOS_RATE:-3500}
export TOKENTAIL_CHAOS_OUTAGES=${TOKENTAIL_CHAOS_OUTAGES:-2}
export TOKENTAIL_CHAOS_OUTAGE=${TOKENTAIL_CHAOS_OUTAGE:-15s}
OUT=${TOKENTAIL_CHAOS_OUT:-RELIABILITY.md}
report=$(mktemp)
log=$(mktemp)
scripts/testenv.sh start
trap 'scripts/testenv.sh stop >/dev/null 2>&1 || true; rm -f "$report" "$log"' EXIT
eval "$(scripts/testenv.sh env)"
export TOKENTAIL_REQUIRE_SERVERS=1 TOKENTAIL_TEST_OUTAGE=1 TOKENTAIL_CHAOS_REPORT=$report
echo "chaos: $TOKENTAIL_CHAOS_RECORDS record lines at $TOKENTAIL_CHAOS_RATE lines/s," \
	"$TOKENTAIL_CHAOS_KILLS kills, $TOKENTAIL_CHAOS_OUTAGES outages of $TOKENTAIL_CHAOS_OUTAGE per database"
rc=0
go test -count=1 -timeout 90m -v -run 'TestChaos_KillNineOutage' ./internal/chaos 2>&1 |
	grep -v '^        {' | tee "$log" || rc=1
grep -q '^--- PASS: TestChaos_KillNineOutage' "$log" || rc=1
if [[ ! -s $report ]]; then
	echo "chaos: the test wrote no report; $OUT left as it was" >&2
	exit 1
fi
{
	cat <<'EOF'
# Reliability

The last long chaos run, written by `make chaos` (scripts/chaos.sh). It runs
`TestChaos_KillNineOutage` (internal/chaos) with a million records: two generators
append AI_COST lines, with noise and malformed lines, to eight files, four rotated by
rename and four by copytruncate (every rotated file kept), while the real `tokentail run`
is killed with `kill -9` at uniformly random moments and started again at once, and
PostgreSQL and InfluxDB are each taken down twice (a crash, then a clean stop) while
lines keep coming. Then the last daemon catches up and the databases are compared with
the generators' manifests, exactly. `make test` runs the same test short on every change
(24,000 records, 20 kills, one crash per database).

EOF
	cat "$report"
} >"$OUT"
echo "chaos: report written to $OUT"
exit $rc
