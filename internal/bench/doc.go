// Package bench measures tokentail's performance figures side by side in one
// run and renders them as a table of ratios: the parser against bare
// fastjson, a backfill against raw loads of the same rows and points, and the
// daemon's latency, idle CPU, throughput and memory during an outage.
//
// It drives the real binaries (tokentail, tokentail-loggen) against private
// PostgreSQL and InfluxDB servers started with scripts/testenv.sh on their
// own ports and directory, and removes everything it started when it ends,
// also on failure or interrupt.
package bench
