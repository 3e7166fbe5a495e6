package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tokentail/tokentail/parse"
)

const (
	copyEventsSQL = "COPY ai_usage_events (" + eventColumnList + ") FROM STDIN (FORMAT binary)"

	// The staging table lives as long as its connection; ON COMMIT DELETE
	// ROWS empties it whatever happens, and the move below empties it
	// between the chunks of one transaction.
	createStageSQL = "CREATE TEMP TABLE IF NOT EXISTS tokentail_stage (LIKE ai_usage_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
	copyStageSQL   = "COPY tokentail_stage (" + eventColumnList + ") FROM STDIN (FORMAT binary)"
	moveStageSQL   = "WITH s AS (DELETE FROM tokentail_stage RETURNING " + eventColumnList + ") " +
		"INSERT INTO ai_usage_events (" + eventColumnList + ") SELECT " + eventColumnList + " FROM s " +
		"ON CONFLICT (occurred_at, event_id) DO NOTHING"
)

// Write lands recs in ai_usage_events, exactly once, in one transaction.
//
// The fast path is one COPY into the table. If some rows are already there (a
// retried batch, a file read twice), the server refuses the COPY with a unique
// violation and the batch goes through a staging table and INSERT ... ON
// CONFLICT DO NOTHING instead, which counts them as Duplicates. If the server
// refuses a value of some row, the batch is bisected under savepoints until
// the bad rows are isolated; they go to ai_usage_rejects (server_refused) and
// the rest lands.
//
// Transient failures are retried until ctx ends; the error returned then
// means nothing of the batch may be assumed written. Write returns only when
// the whole batch is durable.
func (w *Writer) Write(ctx context.Context, recs []parse.Record) (Result, error) {
	if len(recs) == 0 {
		return Result{}, nil
	}
	var res Result
	for try := 0; ; try++ {
		if err := w.ensurePartitions(ctx, recs, time.Now()); err != nil {
			return Result{}, err
		}
		err := w.retry(ctx, "write", func(ctx context.Context) error {
			var err error
			res, err = w.writeAttempt(ctx, recs)
			return err
		})
		var pgErr *pgconn.PgError
		if try == 0 && errors.As(err, &pgErr) && isNoPartition(pgErr) {
			// Another daemon dropped a partition we had cached: forget
			// what we know and make the partitions again, once.
			w.parts.reset()
			continue
		}
		return res, err
	}
}

// writeAttempt is one try at the whole batch. If the commit's fate is unknown
// (the connection died during COMMIT), the retry finds the committed rows and
// counts them as Duplicates: the table stays exact, the Result may not.
func (w *Writer) writeAttempt(ctx context.Context, recs []parse.Record) (Result, error) {
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	defer conn.Release()
	cr := w.getReader()
	defer func() {
		if cr.tainted {
			return // an orphaned pgconn goroutine may still read it: never reuse
		}
		cr.reset(nil) // a pooled reader must not keep the batch alive
		w.bufs.Put(cr)
	}()

	// Fast path: no savepoint, no staging, one round trip of data.
	var n int64
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		n, err = copyRows(ctx, tx, &cr, copyEventsSQL, recs)
		if err == nil && w.testHook != nil {
			w.testHook("copied", tx.Conn().PgConn().PID())
		}
		return err
	})
	if err == nil {
		return Result{Inserted: int(n)}, nil
	}
	dup := isUniqueViolation(err)
	if !dup && !isRowError(err) {
		return Result{}, err
	}

	// Slow path, still one transaction: bisect under savepoints.
	var s slowPath
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		s = slowPath{cr: &cr}
		if dup {
			if _, err := tx.Exec(ctx, createStageSQL); err != nil {
				return fmt.Errorf("create staging table: %w", err)
			}
			s.staged = true
		}
		if err := s.insert(ctx, tx, recs, dup); err != nil {
			return err
		}
		if len(s.refused) > 0 {
			if err := insertRejects(ctx, tx, s.refused); err != nil {
				return err
			}
		}
		if w.testHook != nil {
			w.testHook("slow path done", tx.Conn().PgConn().PID())
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	if len(s.refused) > 0 {
		// One line per batch: every refused row is in ai_usage_rejects.
		w.log.Warn("postgres refused records, kept in ai_usage_rejects",
			"refused", len(s.refused), "first_reject_id", s.refused[0].ID, "first_err", s.refused[0].Detail)
	}
	return s.res, nil
}

func (w *Writer) getReader() *copyReader {
	if cr, ok := w.bufs.Get().(*copyReader); ok {
		return cr
	}
	return &copyReader{buf: make([]byte, 0, copyChunk+4096)}
}

// copyRows runs one binary COPY of recs on tx's connection.
//
// When CopyFrom fails (a server error, or the connection lost) pgconn
// returns without waiting for its goroutine that reads *crp: that goroutine
// may still call Read. The reader is then marked tainted and replaced by a
// fresh one, so that a later COPY never shares it (its orphaned reader would
// steal bytes from the new stream).
func copyRows(ctx context.Context, tx pgx.Tx, crp **copyReader, sql string, recs []parse.Record) (int64, error) {
	cr := *crp
	cr.reset(recs)
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, cr, sql)
	if err != nil {
		cr.tainted = true
		*crp = &copyReader{buf: make([]byte, 0, copyChunk+4096)}
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// slowPath isolates duplicates and refused rows of a batch inside one
// transaction.
type slowPath struct {
	cr      **copyReader // the attempt's reader, replaced when a COPY fails
	staged  bool         // the staging table exists in this transaction
	res     Result
	refused []parse.Reject
}

// insert lands recs under a savepoint: by COPY when no duplicate is expected,
// else through the staging table. A refused value splits recs in halves,
// down to the single row, which is refused.
func (s *slowPath) insert(ctx context.Context, tx pgx.Tx, recs []parse.Record, expectDup bool) error {
	sp, err := tx.Begin(ctx) // SAVEPOINT
	if err != nil {
		return err
	}
	var inserted int64
	if expectDup {
		inserted, err = s.insertStaged(ctx, sp, recs)
	} else {
		inserted, err = copyRows(ctx, sp, s.cr, copyEventsSQL, recs)
	}
	if err == nil {
		if err := sp.Commit(ctx); err != nil { // RELEASE SAVEPOINT
			return err
		}
		s.res.Inserted += int(inserted)
		s.res.Duplicates += len(recs) - int(inserted)
		return nil
	}
	if rbErr := sp.Rollback(ctx); rbErr != nil { // ROLLBACK TO SAVEPOINT
		return errors.Join(err, rbErr)
	}
	switch {
	case isUniqueViolation(err) && !expectDup:
		if !s.staged {
			if _, err := tx.Exec(ctx, createStageSQL); err != nil {
				return fmt.Errorf("create staging table: %w", err)
			}
			s.staged = true
		}
		return s.insert(ctx, tx, recs, true)
	case !isRowError(err):
		return err
	case len(recs) == 1:
		s.res.Refused++
		s.refused = append(s.refused, refusedReject(&recs[0], err))
		return nil
	}
	half := len(recs) / 2
	if err := s.insert(ctx, tx, recs[:half], expectDup); err != nil {
		return err
	}
	return s.insert(ctx, tx, recs[half:], expectDup)
}

// insertStaged copies recs into the staging table, then moves them into
// ai_usage_events, skipping those already there. It returns how many rows
// were new.
func (s *slowPath) insertStaged(ctx context.Context, tx pgx.Tx, recs []parse.Record) (int64, error) {
	if _, err := copyRows(ctx, tx, s.cr, copyStageSQL, recs); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, moveStageSQL)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
