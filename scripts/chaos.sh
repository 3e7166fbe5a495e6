#!/usr/bin/env bash
# chaos.sh: the long chaos run (`make chaos`). Kills the real daemon with SIGKILL
# TOKENTAIL_CHAOS_KILLS times (default 100) per rotation mode while files grow and
# rotate for TOKENTAIL_CHAOS_DURATION (default 120s), then crashes each database
# mid-stream, and compares rows, points and rejects with what the generator wrote.
# `make test` runs the short version (20 kills per mode).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TOKENTAIL_CHAOS_KILLS=${TOKENTAIL_CHAOS_KILLS:-100}
export TOKENTAIL_CHAOS_DURATION=${TOKENTAIL_CHAOS_DURATION:-120s}
export TOKENTAIL_CHAOS_RATE=${TOKENTAIL_CHAOS_RATE:-1500}
scripts/testenv.sh start
trap 'scripts/testenv.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(scripts/testenv.sh env)"
export TOKENTAIL_REQUIRE_SERVERS=1
echo "chaos: $TOKENTAIL_CHAOS_KILLS kills per rotation mode over $TOKENTAIL_CHAOS_DURATION at $TOKENTAIL_CHAOS_RATE lines/s"
go test -count=1 -timeout 60m -v -run 'TestChaos_' ./internal/chaos 2>&1 | grep -v '^        {'
TOKENTAIL_TEST_OUTAGE=1 go test -count=1 -timeout 30m -v -run 'TestRun_Outage' ./internal/chaos 2>&1 | grep -v '^        {'
