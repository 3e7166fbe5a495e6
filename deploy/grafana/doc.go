// Package grafana holds tokentail's Grafana provisioning (a PostgreSQL and an InfluxDB data
// source, a dashboard provider) and its two dashboards, and the tests that keep them working:
// every panel's query is expanded the way Grafana would expand it (ExpandSQL, ExpandInfluxQL)
// and run against the real servers of the test harness, on records written by tokentail's own
// writers, so a dashboard never ships with a query the server refuses or that finds nothing.
//
// # Macros the dashboards may use
//
// Only these, because the tests must expand them exactly as Grafana does before running a
// query; a query with any other $name fails the tests:
//
//	PostgreSQL (rawSql)                    InfluxQL (query, raw mode)
//	$__timeFilter(expr)                    $timeFilter
//	$__timeFrom(), $__timeTo()             $__interval, $__interval_ms
//	$__timeGroup(expr, interval)
//	$__timeGroupAlias(expr, interval)
//	$__interval, $__interval_ms
//
// An interval argument is a Grafana duration ('1m', '1h', '1d', or $__interval), quoted or not;
// the fill argument of $__timeGroup is not supported.
package grafana
