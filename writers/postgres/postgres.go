// Package postgres writes records to PostgreSQL, exactly once.
//
// Open connects and migrates the schema (ai_usage_events, range-partitioned by
// day on occurred_at, and ai_usage_rejects). Write lands a batch through COPY;
// a batch that was written before, whole or in part, adds nothing, and rows the
// server refuses are isolated and kept in ai_usage_rejects. Transient failures
// are retried until the caller's context ends: a batch is never dropped.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config configures a Writer. Only DSN is required.
type Config struct {
	// DSN is a libpq URL or key=value string; TLS options (sslmode,
	// sslrootcert, sslcert, sslkey) pass through to pgx. Its password never
	// appears in logs or errors.
	DSN string

	// MaxConns caps the connection pool. Default 4: one writer goroutine, the
	// readiness probe, retention and a spare.
	MaxConns int32

	// Retention is how long events are kept; EnforceRetention drops daily
	// partitions older than that. Zero keeps everything.
	Retention time.Duration

	// Logger receives outage and retention messages. Default: discard.
	Logger *slog.Logger

	// AttemptTimeout bounds one attempt of one operation, so that a hung
	// connection becomes a retry instead of a stall. Default 2 minutes.
	AttemptTimeout time.Duration

	// RetryMin and RetryMax bound the backoff between attempts after a
	// transient failure. Defaults 100ms and 30s.
	RetryMin, RetryMax time.Duration
}

// Defaults.
const (
	DefaultMaxConns       = 4
	DefaultAttemptTimeout = 2 * time.Minute
	DefaultRetryMin       = 100 * time.Millisecond
	DefaultRetryMax       = 30 * time.Second
)

func (c *Config) setDefaults() {
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}
}

// Writer writes records and rejects to PostgreSQL. Its methods are safe for
// concurrent use, although the pipeline calls Write from one goroutine.
type Writer struct {
	cfg    Config
	log    *slog.Logger
	pool   *pgxpool.Pool
	secret string // the DSN's password, scrubbed from every error we return

	parts  partitions
	outage outage

	// bufs recycles COPY encoding buffers between batches.
	bufs sync.Pool

	closeOnce sync.Once

	// testHook, when set by a test, runs at named points of a write with the
	// backend's pid, so a test can kill the connection at a known moment.
	testHook func(point string, pid uint32)
}

// Result counts what became of a batch: every record lands in exactly one of
// the three counts.
type Result struct {
	Inserted   int // new rows
	Duplicates int // already present (an earlier write of the same records)
	Refused    int // refused by the server, written to ai_usage_rejects
}

// Open connects to PostgreSQL and brings the schema up to date. Migrations run
// under an advisory lock, so many daemons may start at once. Connection
// failures are retried until ctx ends; a schema newer than this binary is an
// error.
func Open(ctx context.Context, cfg Config) (*Writer, error) {
	cfg.setDefaults()
	if cfg.DSN == "" {
		return nil, errors.New("postgres: dsn is empty")
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgconn masks the passwords it recognises in its message; a
		// malformed DSN can hide one where it does not, so we mask again
		// every password-like value we can find ourselves.
		return nil, fmt.Errorf("postgres: invalid dsn: %s", maskDSNPasswords(cfg.DSN, err.Error()))
	}
	pcfg.MaxConns = cfg.MaxConns
	if _, ok := pcfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "tokentail"
	}
	// Timestamps are sent in binary (UTC); the session zone only matters to
	// partition bounds we spell as literals, which carry their own offset.
	w := &Writer{
		cfg:    cfg,
		log:    cfg.Logger,
		secret: pcfg.ConnConfig.Password,
	}
	w.parts.known = make(map[int64]struct{})
	w.outage.log = cfg.Logger
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, w.scrub(fmt.Errorf("postgres: connect: %w", err))
	}
	w.pool = pool
	err = w.retry(ctx, "migrate", func(ctx context.Context) error {
		return w.migrate(ctx)
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	return w, nil
}

// Ping checks that the database answers, once, without retrying: it backs
// the readiness probe.
func (w *Writer) Ping(ctx context.Context) error {
	if err := w.pool.Ping(ctx); err != nil {
		return w.scrub(fmt.Errorf("postgres: ping: %w", err))
	}
	return nil
}

// Close closes the connection pool, waiting for connections in use to be
// returned. It is idempotent.
func (w *Writer) Close() {
	w.closeOnce.Do(w.pool.Close)
}
