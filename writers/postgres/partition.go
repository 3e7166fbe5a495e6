package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tokentail/tokentail/parse"
)

// Partitions hold one UTC day each: the operator's queries ask for days, a
// day's partition prunes a date range to exactly the days asked for, and
// retention is exact to the day. docs/postgres.md has the measurements.
const (
	partitionPrefix = "ai_usage_events_p"
	partitionLayout = "20060102"
	secondsPerDay   = 86400

	// ddlLockTimeout bounds how long partition DDL waits for its lock on
	// ai_usage_events: a waiting ACCESS EXCLUSIVE request queues every later
	// reader and writer behind it, so better to give up and retry.
	ddlLockTimeout = "5s"
)

// day numbers UTC days since 1970-01-01.
func dayOf(t time.Time) int64 {
	s := t.Unix()
	d := s / secondsPerDay
	if s%secondsPerDay < 0 {
		d-- // floor, for times before 1970
	}
	return d
}

func dayStart(d int64) time.Time { return time.Unix(d*secondsPerDay, 0).UTC() }

func partitionName(d int64) string { return partitionPrefix + dayStart(d).Format(partitionLayout) }

// partitions caches the days known to have a partition, so a batch costs no
// catalog query once its days were seen.
type partitions struct {
	mu    sync.Mutex // Write and EnforceRetention run concurrently
	known map[int64]struct{}
}

func (p *partitions) missing(days []int64) []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int64
	for _, d := range days {
		if _, ok := p.known[d]; !ok {
			out = append(out, d)
		}
	}
	return out
}

func (p *partitions) add(days []int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range days {
		p.known[d] = struct{}{}
	}
}

func (p *partitions) forget(days ...int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range days {
		delete(p.known, d)
	}
}

func (p *partitions) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.known)
}

// batchDays returns the distinct days of recs, sorted. Batches usually hold
// one or two days, so it remembers the last day seen and scans a short slice.
func batchDays(recs []parse.Record) []int64 {
	var days []int64
	last := int64(-1 << 62)
	for i := range recs {
		d := dayOf(recs[i].OccurredAt)
		if d == last {
			continue
		}
		last = d
		if !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	return days
}

// ensurePartitions creates the partitions recs need. Creation is race-safe
// across daemons: a transaction advisory lock serializes creators, and
// CREATE TABLE IF NOT EXISTS makes the loser's attempt a no-op. When today is
// among the days, tomorrow's partition is made too, so the first record after
// midnight does not wait for DDL.
func (w *Writer) ensurePartitions(ctx context.Context, recs []parse.Record, now time.Time) error {
	days := batchDays(recs)
	if today := dayOf(now); slices.Contains(days, today) && !slices.Contains(days, today+1) {
		days = append(days, today+1)
	}
	need := w.parts.missing(days)
	if len(need) == 0 {
		return nil
	}
	err := w.retry(ctx, "create partitions", func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+ddlLockTimeout+"'"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockPartition); err != nil {
				return err
			}
			for _, d := range need {
				if _, err := tx.Exec(ctx, createPartitionSQL(d)); err != nil {
					return fmt.Errorf("create partition %s: %w", partitionName(d), err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	w.parts.add(need)
	return nil
}

func createPartitionSQL(d int64) string {
	const ts = "2006-01-02 15:04:05Z07:00"
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF ai_usage_events FOR VALUES FROM ('%s') TO ('%s')",
		partitionName(d), dayStart(d).Format(ts), dayStart(d+1).Format(ts))
}

// EnforceRetention drops the daily partitions that end at or before
// now-Retention, and returns their names, oldest first. Whole partitions go,
// never single rows, so it costs no vacuum and no WAL for the rows. Only one
// daemon of a fleet does it at a time (pg_try_advisory_lock); the others
// return nothing. With Retention zero it does nothing.
func (w *Writer) EnforceRetention(ctx context.Context, now time.Time) ([]string, error) {
	if w.cfg.Retention <= 0 {
		return nil, nil
	}
	cutoff := now.Add(-w.cfg.Retention)
	var dropped []string
	err := w.retry(ctx, "enforce retention", func(ctx context.Context) error {
		conn, err := w.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		var locked bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockRetention).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			return nil // another daemon is at it
		}
		defer func() {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockRetention)
		}()

		rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'ai_usage_events'::regclass ORDER BY c.relname`)
		if err != nil {
			return err
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, name := range names {
			d, ok := parsePartitionName(name)
			if !ok || dayStart(d+1).After(cutoff) {
				continue // not ours, or holds rows still within retention
			}
			// One transaction per partition keeps the ACCESS EXCLUSIVE lock
			// on ai_usage_events short.
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+ddlLockTimeout+"'"); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize())
				return err
			})
			if err != nil {
				return fmt.Errorf("drop partition %s: %w", name, err)
			}
			w.parts.forget(d)
			dropped = append(dropped, name)
			w.log.Info("postgres partition dropped", "partition", name, "retention", w.cfg.Retention)
		}
		return nil
	})
	return dropped, err
}

// parsePartitionName returns the day of a partition this package named.
func parsePartitionName(name string) (int64, bool) {
	s, ok := strings.CutPrefix(name, partitionPrefix)
	if !ok || len(s) != len(partitionLayout) {
		return 0, false
	}
	t, err := time.Parse(partitionLayout, s)
	if err != nil {
		return 0, false
	}
	return dayOf(t), true
}
