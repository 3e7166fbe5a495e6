#!/usr/bin/env bash
# The README's first command: shows tokentail's main job on a fresh machine.
# Builds tokentail, starts a throwaway PostgreSQL + InfluxDB (the test harness's),
# runs an app-like process that writes realistic AI usage logs and rotates them,
# runs `tokentail run` on them with alert rules, shows a budget and a latency
# alert arriving through the log notifier, checks every record landed exactly
# once, loads the rotated files again with backfill (nothing is added twice),
# prints `tokentail report` and writes its HTML form to .demo/report.html.
# Cleans up after itself; runs again as often as you like.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
demo=${TOKENTAIL_DEMO_DIR:-$root/.demo}
seconds=${DEMO_SECONDS:-30}
rate=${DEMO_RATE:-400}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building tokentail"
make -s build
go build -o bin/tokentail-loggen ./cmd/tokentail-loggen

say "starting a private PostgreSQL and InfluxDB"
# Ports of their own, so the demo never meets a test run's servers.
export TOKENTAIL_TESTENV_DIR="$demo/servers"
export TOKENTAIL_TEST_PG_PORT=${DEMO_PG_PORT:-55532} TOKENTAIL_TEST_INFLUX_PORT=${DEMO_INFLUX_PORT:-58186}
export TOKENTAIL_TEST_INFLUX_RPC_PORT=${DEMO_INFLUX_RPC_PORT:-58188} TOKENTAIL_TEST_VM_PORT=${DEMO_VM_PORT:-58528}
scripts/testenv.sh start >/dev/null
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	scripts/testenv.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
eval "$(scripts/testenv.sh env)"
pg_admin=$TOKENTAIL_TEST_PG_DSN
psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS demo" -c "CREATE DATABASE demo" >/dev/null
curl -sf -XPOST "$TOKENTAIL_TEST_INFLUX_URL/query" --data-urlencode "q=DROP DATABASE demo" >/dev/null
curl -sf -XPOST "$TOKENTAIL_TEST_INFLUX_URL/query" --data-urlencode "q=CREATE DATABASE demo" >/dev/null
demo_dsn=${pg_admin/\/tokentail\?/\/demo?}

rm -rf "$demo/logs" "$demo/state" && mkdir -p "$demo/logs"
cat > "$demo/rules.yaml" <<'YAML'
# Demo thresholds, low enough to fire within a minute of generated traffic.
evaluation_interval: 1s
query_offset: 2s
notifiers:
  - {name: console, type: log}
rules:
  - name: minute-budget
    metric: cost_usd
    window: 1m
    warning: 0.5
    critical: 1
    annotations: {summary: "AI spend in the last minute is {{ humanize .Value }} USD"}
  - name: p95-latency
    metric: duration_ms
    aggregate: p95
    window: 1m
    group_by: [model]
    where: {model: "gpt-4o*"}
    warning: 2000
    critical: 4000
    min_count: 10
    annotations: {summary: "p95 latency of {{ .Labels.model }} is {{ humanize .Value }} ms"}
YAML
cat > "$demo/tokentail.yaml" <<YAML
sources:
  - name: app
    paths: ["$demo/logs/*.log"]
    labels: {service: demo-app}
postgres: {dsn: "$demo_dsn", batch_timeout: 100ms}
influxdb: {url: "$TOKENTAIL_TEST_INFLUX_URL", bucket: "demo/autogen", batch_timeout: 100ms}
pricing: {file: $root/pricing.yaml}
rules_file: rules.yaml
state_dir: $demo/state
http: {listen: "127.0.0.1:${DEMO_HTTP_PORT:-19464}"}
log: {format: json}
YAML
chmod 600 "$demo/tokentail.yaml"

say "tokentail config check"
bin/tokentail config check --config "$demo/tokentail.yaml"

say "tokentail run, and an app writing ~$rate lines/s of AI usage logs for ${seconds}s (3 files, rotated every 10s, 1% malformed)"
bin/tokentail run --config "$demo/tokentail.yaml" >"$demo/daemon.log" 2>&1 &
pids+=($!)
daemon=$!
bin/tokentail-loggen live --out "$demo/logs" --files 3 --rate "$rate" --duration "${seconds}s" \
	--rotate rename --rotate-every 10s --keep 0 --malformed 0.01 --manifest "$demo/manifest.json"

want_records=$(grep -o '"records": [0-9]*' "$demo/manifest.json" | head -1 | grep -o '[0-9]*$')
want_cost=$(grep -o '"cost_usd": "[0-9.]*"' "$demo/manifest.json" | head -1 | grep -o '[0-9.]*')
for _ in $(seq 1 120); do
	rows=$(psql -qAt "$demo_dsn" -c "SELECT count(*) FROM ai_usage_events")
	[[ $rows -ge $want_records ]] && break
	sleep 0.5
done
sleep 3 # let the rules tick past the last records
say "/readyz and a few /metrics"
curl -s "127.0.0.1:${DEMO_HTTP_PORT:-19464}/readyz"
curl -s "127.0.0.1:${DEMO_HTTP_PORT:-19464}/metrics" | grep -E '^tokentail_(records_written_total|records_rejected_total|alerts_firing)' | head -12
kill -TERM "$daemon"
wait "$daemon" || true

say "alerts that reached the log notifier"
grep '"notifier":"console"' "$demo/daemon.log" |
	sed -E 's/.*"alertname":"([^"]*)","severity":"([^"]*)","state":"([^"]*)".*"summary":"([^"]*)".*/\3 \2 \1: \4/' | head -8 || echo "(none)"

say "what the app wrote vs what PostgreSQL and InfluxDB hold"
echo "app:       $want_records records, logged cost \$$want_cost"
psql -qAt "$demo_dsn" -c "SELECT 'postgres:  ' || count(*) || ' rows, ' || count(DISTINCT event_id) || ' distinct ids, logged cost \$' || trim_scale(sum(cost_usd) FILTER (WHERE cost_source = 'log')) || ', ' || (SELECT count(*) FROM ai_usage_rejects) || ' rejects' FROM ai_usage_events"
points=$(curl -sf "$TOKENTAIL_TEST_INFLUX_URL/query" --data-urlencode "db=demo" --data-urlencode "q=SELECT count(input_tokens) FROM ai_usage" | grep -o '"values":\[\[[^]]*\]' | grep -o '[0-9]*\]$' | tr -d ']')
echo "influxdb:  $points points"

say "backfill of the rotated files the daemon already read: nothing is added twice"
bin/tokentail backfill --config "$demo/tokentail.yaml" "$demo/logs/*.log*" 2>/dev/null

say "tokentail report --by model --top 8"
bin/tokentail report --config "$demo/tokentail.yaml" --by model --top 8
say "tokentail report --by feature --top 6"
bin/tokentail report --config "$demo/tokentail.yaml" --by feature --top 6

say "tokentail report --by feature --format html"
# Made now: the servers stop when the demo ends.
bin/tokentail report --config "$demo/tokentail.yaml" --by feature --format html --output "$demo/report.html"
echo "wrote $demo/report.html"

say "done"
echo "Next: open $demo/report.html in a browser (one self-contained file, charts included);"
echo "the daemon log is $demo/daemon.log."
echo "(The servers stop now; run make demo again for a fresh run.)"
