package report

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DB is what a report reads from: a *pgx.Conn or a *pgxpool.Pool.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Result is a computed report.
type Result struct {
	Query Query
	// Currency is the code money is shown in ("USD" unless converted).
	Currency string
	// Rows are the groups in report order; Total covers the whole range
	// and every group, those Top left out included.
	Rows  []Row
	Total Row
	// Groups is how many groups there are before Top keeps the first ones.
	Groups int
}

// Row is one group's numbers.
type Row struct {
	// Keys are the group's values, one per Query.By; nil is absent.
	Keys []*string

	// Cost is exact decimal text in the report currency.
	Cost              Decimal
	Requests          int64
	InputTokens       int64 // every prompt token, cached ones included
	CachedInputTokens int64
	OutputTokens      int64
	Errors            int64
	// Users counts distinct user ids; rows without one are not counted.
	Users int64
	// Unpriced counts requests whose cost is unknown (counted as 0).
	Unpriced int64
	// Latency is nil when no request of the group has a duration.
	Latency *Percentiles
}

// Percentiles of duration_ms, nearest rank, each within 0.5% of the exact
// value (they are read from 1%-wide log buckets).
type Percentiles struct {
	P50, P95, P99 float64
}

// ErrorRate is Errors / Requests; 0 without requests.
func (r *Row) ErrorRate() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Requests)
}

// CostPerUser is Cost / Users, rounded to 12 decimals; ok is false without users.
func (r *Row) CostPerUser() (Decimal, bool) {
	if r.Users == 0 {
		return "", false
	}
	return r.Cost.Div(r.Users), true
}

// workMem lets the hash aggregates of a large range (latency buckets and
// distinct users per group) stay in memory rather than spill to disk; it
// lasts for the report's own read-only transaction only.
const workMem = "256MB"

// Run computes the report.
func Run(ctx context.Context, db DB, q Query, currency string) (*Result, error) {
	if !q.Until.After(q.Since) {
		return nil, fmt.Errorf("the range is empty: --until (%s) must come after --since (%s)", q.Until.Format(time.RFC3339), q.Since.Format(time.RFC3339))
	}
	if currency == "" {
		currency = "USD"
	}
	res := &Result{Query: q, Currency: currency}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("query postgres: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET TRANSACTION READ ONLY"); err != nil {
		return nil, fmt.Errorf("query postgres: %w", err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL work_mem = '"+workMem+"'"); err != nil {
		return nil, fmt.Errorf("query postgres: %w", err)
	}
	// JIT compiling the report's many expressions costs more than it saves
	// (about 1 s of CPU per query on 10 million rows), and the HTML report
	// runs five queries.
	if _, err := tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
		return nil, fmt.Errorf("query postgres: %w", err)
	}
	// Hour labels outside UTC name the zone (EDT, EST) through to_char,
	// which reads the session's time zone.
	if _, err := tx.Exec(ctx, "SELECT set_config('TimeZone', $1, true)", zoneName(q.Location)); err != nil {
		return nil, fmt.Errorf("query postgres: set the time zone: %w", err)
	}
	st := build(&q)
	rows, err := tx.Query(ctx, st.sql.String(), st.args...)
	if err != nil {
		return nil, queryError(err)
	}
	defer rows.Close()
	seenTotal := false
	for rows.Next() {
		var (
			total  bool
			groups int64
			row    Row
			cost   string
			lat    []*float64
		)
		row.Keys = make([]*string, len(q.By))
		dest := []any{&total, &groups}
		for i := range row.Keys {
			dest = append(dest, &row.Keys[i])
		}
		dest = append(dest, &cost, &row.Requests, &row.InputTokens, &row.CachedInputTokens, &row.OutputTokens,
			&row.Errors, &row.Users, &row.Unpriced, &lat)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read report row: %w", err)
		}
		row.Cost = Decimal(cost).trim()
		if len(lat) == 3 && lat[0] != nil && lat[1] != nil && lat[2] != nil {
			row.Latency = &Percentiles{P50: *lat[0], P95: *lat[1], P99: *lat[2]}
		}
		res.Groups = int(groups)
		if total {
			res.Total, seenTotal = row, true
			continue
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, queryError(err)
	}
	if !seenTotal { // an empty range with groups yields no rows at all
		res.Total = Row{Keys: make([]*string, len(q.By)), Cost: "0"}
	}
	return res, nil
}

// queryError explains the failure people meet first: a database the daemon
// never wrote to.
func queryError(err error) error {
	var pe interface{ SQLState() string }
	if errors.As(err, &pe) && pe.SQLState() == "42P01" {
		return fmt.Errorf("query postgres: table ai_usage_events does not exist: has tokentail run or backfilled into this database? (%w)", err)
	}
	return fmt.Errorf("query postgres: %w", err)
}
