// Package security holds tokentail's security test suite, run against the
// real PostgreSQL and InfluxDB of the test harness (internal/testenv):
//
//   - TLS: PostgreSQL with verify-full and a required client certificate (a
//     TLS-only cluster of the test's own), InfluxDB over https (an influxd of
//     the test's own) and behind a proxy that requires a client certificate;
//     a wrong CA and a missing client certificate fail with clear errors.
//   - Hostile input: SQL metacharacters, huge numbers, deep nesting, NUL
//     bytes, invalid UTF-8 and a 100 MB line, each stored verbatim or
//     rejected with a reason, never stopping ingestion or touching another row
//     (the corpus is testdata/hostile/).
//   - Content (prompts, completions) never reaches storage, the rejects
//     table included, nor the log.
//
// Every test drives the code path `tokentail backfill` uses: config.Load,
// pipeline.OpenWriters, pipeline.Backfill. The package has no non-test code
// beyond this comment.
package security
