#!/usr/bin/env bash
# The README's first command: shows tokentail's main job on a fresh machine.
# Builds tokentail, starts a throwaway PostgreSQL + InfluxDB (the test harness's),
# generates realistic AI usage logs in every envelope, loads them, loads them
# again (nothing is added twice), and prints what they cost. Cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
demo=${TOKENTAIL_DEMO_DIR:-$root/.demo}
records=${DEMO_RECORDS:-50000}

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
cleanup() { scripts/testenv.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
eval "$(scripts/testenv.sh env)"
pg_admin=$TOKENTAIL_TEST_PG_DSN
psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS demo" -c "CREATE DATABASE demo" >/dev/null
curl -sf -XPOST "$TOKENTAIL_TEST_INFLUX_URL/query" --data-urlencode "q=DROP DATABASE demo" >/dev/null
curl -sf -XPOST "$TOKENTAIL_TEST_INFLUX_URL/query" --data-urlencode "q=CREATE DATABASE demo" >/dev/null
demo_dsn=${pg_admin/\/tokentail\?/\/demo?}

say "generating $records AI usage records per format (plain, Docker, CRI, whole-line JSON) with noise and 1% malformed lines"
rm -rf "$demo/logs" && mkdir -p "$demo/logs"
bin/tokentail-loggen batch --format mixed --records "$records" --noise 0.5 --malformed 0.01 \
  --out "$demo/logs" --manifest "$demo/manifest.json"

cat > "$demo/tokentail.yaml" <<YAML
sources:
  - name: app
    paths: ["$demo/logs/plain.log", "$demo/logs/docker.log", "$demo/logs/cri.log"]
    format: auto
  - name: json-app
    paths: ["$demo/logs/json.log"]
    marker: ""
    match: {type: ai_cost}
postgres: {dsn: "$demo_dsn"}
influxdb: {url: "$TOKENTAIL_TEST_INFLUX_URL", bucket: "demo/autogen"}
pricing: {file: $root/pricing.yaml}
state_dir: $demo/state
YAML
chmod 600 "$demo/tokentail.yaml"

say "tokentail config check"
bin/tokentail config check --config "$demo/tokentail.yaml"

say "tokentail backfill (first run)"
bin/tokentail backfill --config "$demo/tokentail.yaml" "$demo/logs/*.log" 2>/dev/null

say "tokentail backfill (second run: nothing is added twice)"
bin/tokentail backfill --config "$demo/tokentail.yaml" "$demo/logs/*.log" 2>/dev/null

say "what the generator wrote vs what PostgreSQL and InfluxDB hold"
want_records=$(grep -o '"records": [0-9]*' "$demo/manifest.json" | head -1 | grep -o '[0-9]*$')
want_cost=$(grep -o '"cost_usd": "[0-9.]*"' "$demo/manifest.json" | grep -o '[0-9.]*')
psql -qAt "$demo_dsn" -F ' ' -c "SELECT 'generator: $want_records records, logged cost \$$want_cost'" \
  -c "SELECT 'postgres:  ' || count(*) || ' rows, ' || count(DISTINCT event_id) || ' distinct ids, logged cost \$' || sum(cost_usd) FILTER (WHERE cost_source = 'log') FROM ai_usage_events"
points=$(curl -sf "$TOKENTAIL_TEST_INFLUX_URL/query" --data-urlencode "db=demo" --data-urlencode "q=SELECT count(input_tokens) FROM ai_usage" | grep -o '"values":\[\[[^]]*\]' | grep -o '[0-9]*\]$' | tr -d ']')
echo "influxdb:  $points points"

say "cost by model (top 8)"
psql -q "$demo_dsn" -c "SELECT model, provider, count(*) AS requests, round(sum(cost_usd), 4) AS cost_usd,
  round(100.0 * count(*) FILTER (WHERE NOT success) / count(*), 2) AS error_pct,
  round(percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::numeric, 0) AS p95_ms
  FROM ai_usage_events GROUP BY 1, 2 ORDER BY cost_usd DESC NULLS LAST LIMIT 8"

say "cost by feature"
psql -q "$demo_dsn" -c "SELECT coalesce(feature, '(none)') AS feature, count(*) AS requests, round(sum(cost_usd), 4) AS cost_usd,
  count(DISTINCT user_id) AS users FROM ai_usage_events GROUP BY 1 ORDER BY cost_usd DESC NULLS LAST"

say "rejected lines by reason"
psql -q "$demo_dsn" -c "SELECT reason, count(*) FROM ai_usage_rejects GROUP BY 1 ORDER BY 2 DESC"

say "done"
echo "Config: $demo/tokentail.yaml   Logs: $demo/logs   (servers stopped; the files stay until the next run)"
