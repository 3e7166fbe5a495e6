package postgres

import (
	"context"
	"math/big"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/tokentail/tokentail/parse"
)

// Benchmarks write benchRows records per op, in batches of benchBatch, time
// ordered over a week: a backfill. Compare Writer_Write with RawCopy, the
// same rows COPYed into a plain table with a unique key and a time index:
//
//	go test ./writers/postgres -run '^$' -bench 'Write|RawCopy' -benchtime 3x -benchmem
//
// TOKENTAIL_BENCH_ROWS overrides benchRows (e.g. 1000000).
const (
	benchRowsDefault = 200_000
	benchBatch       = 10_000
)

func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("TOKENTAIL_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return benchRowsDefault
}

func benchRecords(n int) []parse.Record {
	recs := makeRecords(n, time.Now(), 7, 42)
	slices.SortFunc(recs, func(a, b parse.Record) int { return a.OccurredAt.Compare(b.OccurredAt) })
	return recs
}

func BenchmarkWriter_Write(b *testing.B) {
	n := benchRows()
	recs := benchRecords(n)
	ctx := context.Background()
	for _, bc := range []struct {
		name  string
		setup string // extra DDL, to price an index
		dup   bool   // rows already present: the staged path
	}{
		{name: "fresh"},
		{name: "duplicates", dup: true},
		{name: "fresh+user_index", setup: "CREATE INDEX ON ai_usage_events (user_id, occurred_at)"},
		{name: "fresh+brin", setup: "CREATE INDEX ON ai_usage_events USING brin (occurred_at)"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w, dsn := openTest(b, Config{})
			conn := connect(b, dsn)
			if bc.setup != "" {
				if _, err := conn.Exec(ctx, bc.setup); err != nil {
					b.Fatal(err)
				}
			}
			writeAll := func() Result {
				var total Result
				for batch := range slices.Chunk(recs, benchBatch) {
					res, err := w.Write(ctx, batch)
					if err != nil {
						b.Fatal(err)
					}
					total.Inserted += res.Inserted
					total.Duplicates += res.Duplicates
				}
				return total
			}
			if bc.dup {
				writeAll()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if !bc.dup {
					b.StopTimer()
					if _, err := conn.Exec(ctx, "TRUNCATE ai_usage_events"); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				res := writeAll()
				if got := res.Inserted + res.Duplicates; got != n {
					b.Fatalf("rows written: got %d, want %d", got, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}

// BenchmarkRawCopy is the baseline: the same rows COPYed, in the same batches,
// into a plain table with a unique key on event_id and a time index.
// "binary" uses our encoder; "pgx" uses pgx.CopyFrom with a []any per row.
func BenchmarkRawCopy(b *testing.B) {
	n := benchRows()
	recs := benchRecords(n)
	ctx := context.Background()
	for _, enc := range []string{"binary", "pgx"} {
		b.Run(enc, func(b *testing.B) {
			_, dsn := openTest(b, Config{})
			conn := connect(b, dsn)
			const ddl = `CREATE TABLE raw_events (LIKE ai_usage_events INCLUDING DEFAULTS);
				ALTER TABLE raw_events ADD UNIQUE (event_id);
				CREATE INDEX ON raw_events (occurred_at)`
			if _, err := conn.Exec(ctx, ddl); err != nil {
				b.Fatal(err)
			}
			cr := &copyReader{}
			sql := "COPY raw_events (" + eventColumnList + ") FROM STDIN (FORMAT binary)"
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				if _, err := conn.Exec(ctx, "TRUNCATE raw_events"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for batch := range slices.Chunk(recs, benchBatch) {
					var err error
					if enc == "binary" {
						cr.reset(batch)
						_, err = conn.PgConn().CopyFrom(ctx, cr, sql)
					} else {
						_, err = conn.CopyFrom(ctx, pgx.Identifier{"raw_events"}, eventColumns, pgx.CopyFromSlice(len(batch), func(i int) ([]any, error) {
							return recordValues(&batch[i]), nil
						}))
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}

// recordValues is how a record goes through pgx.CopyFrom: one boxed value
// per column.
func recordValues(r *parse.Record) []any {
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var dur any
	if r.HasDuration {
		dur = r.DurationMS
	}
	return []any{r.EventID, r.OccurredAt, r.Source, null(r.UserID), null(r.Feature), null(r.Provider), r.Model,
		r.InputTokens, r.CachedInputTokens, r.OutputTokens, r.TotalTokens, pgtype.Numeric{Int: big.NewInt(int64(r.Cost)), Exp: -parse.MoneyScale, Valid: true}, r.CostSource.String(),
		dur, r.Success, null(r.ErrorType), string(r.Attributes)}
}

// BenchmarkEncode is the client side alone: records to COPY bytes.
func BenchmarkEncode(b *testing.B) {
	recs := benchRecords(benchBatch)
	cr := &copyReader{}
	buf := make([]byte, 65536)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cr.reset(recs)
		for {
			if _, err := cr.Read(buf); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/row")
}
