package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tokentail/tokentail/parse"
)

// lockRules is held, for as long as it lives, by the one daemon of a fleet
// that evaluates the rules and sends notifications.
const lockRules int64 = 0x1d5d1e7c9a2b4f04

// Lock is the rules lock's own connection: the lock is tried, and held, on
// it, and the server releases the lock when the connection ends, whether
// the daemon stopped, crashed or lost the network; another daemon then takes
// it. A daemon that does not hold the lock keeps the connection and tries
// again on it, rather than connecting anew each time.
type Lock struct {
	w    *Writer
	conn *pgx.Conn
	held bool
	// reseed is set when a NOTIFY on ReseedChannel arrives (with any query
	// on conn, such as Check): stored costs changed.
	reseed atomic.Bool
}

// ReseedChannel is the LISTEN/NOTIFY channel on which `tokentail reprice`
// says that it changed stored costs: the rules leader reads its history
// again, so that today's budget counts the new costs.
const ReseedChannel = "tokentail_rules_reseed"

// NotifyReseed tells the rules leader, if any, that stored costs changed.
func NotifyReseed(ctx context.Context, conn interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, why string) error {
	if _, err := conn.Exec(ctx, "SELECT pg_notify($1, $2)", ReseedChannel, why); err != nil {
		return fmt.Errorf("postgres: tell the rules leader that costs changed: %w", err)
	}
	return nil
}

// NewLock connects for the rules lock, without taking it.
func (w *Writer) NewLock(ctx context.Context) (*Lock, error) {
	cfg := w.pool.Config().ConnConfig.Copy()
	// The server frees the lock of a leader whose host died once it sees
	// the connection dead: with these, within about a minute instead of
	// the kernel's two hours. (Ignored on a Unix socket.)
	for k, v := range map[string]string{"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"} {
		if _, set := cfg.RuntimeParams[k]; !set {
			cfg.RuntimeParams[k] = v
		}
	}
	l := &Lock{w: w}
	cfg.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) {
		if n.Channel == ReseedChannel {
			l.reseed.Store(true)
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, w.scrub(fmt.Errorf("postgres: connect for the rules lock: %w", err))
	}
	if _, err := conn.Exec(ctx, "LISTEN "+ReseedChannel); err != nil {
		_ = conn.Close(ctx)
		return nil, w.scrub(fmt.Errorf("postgres: listen for cost changes: %w", err))
	}
	l.conn = conn
	return l, nil
}

// Reseed says whether stored costs changed since the last call (a NOTIFY
// seen by Check or a save on the lock's connection).
func (l *Lock) Reseed() bool { return l.reseed.Swap(false) }

// AskReseed sets what Reseed says again (a reseed that could not be done
// now is tried at the next tick).
func (l *Lock) AskReseed() { l.reseed.Store(true) }

// Try takes the lock if no other daemon holds it, and says whether this one
// holds it now.
func (l *Lock) Try(ctx context.Context) (bool, error) {
	if l.held {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	if err := l.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockRules).Scan(&l.held); err != nil {
		return false, l.w.scrub(fmt.Errorf("postgres: take the rules lock: %w", err))
	}
	return l.held, nil
}

// Held says whether this daemon holds the lock, as far as it knows: Check
// asks the server.
func (l *Lock) Held() bool { return l.held }

// Check says whether the lock still holds: its connection answers. A leader
// checks before every evaluation, so that a daemon cut off from the
// database stops sending within a tick of the server giving the lock to
// another.
func (l *Lock) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	if _, err := l.conn.Exec(ctx, "SELECT 1"); err != nil {
		l.held = false
		return l.w.scrub(fmt.Errorf("postgres: rules lock lost: %w", err))
	}
	return nil
}

// Close gives the lock up, if held, by closing its connection.
func (l *Lock) Close(ctx context.Context) {
	l.held = false
	_ = l.conn.Close(ctx)
}

// Horizon is the txid below which every transaction has ended: rows with a
// txid under it are final.
func (w *Writer) Horizon(ctx context.Context) (int64, error) {
	xmin, _, err := w.Snapshot(ctx)
	return xmin, err
}

// Snapshot reads the horizon (xmin) and the next txid to be given (xmax):
// every transaction that has begun by now has a txid below xmax, so once a
// later horizon reaches this xmax, every row written by a transaction begun
// before now is final.
func (w *Writer) Snapshot(ctx context.Context) (xmin, xmax int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	err = w.pool.QueryRow(ctx, "SELECT txid_snapshot_xmin(s), txid_snapshot_xmax(s) FROM txid_current_snapshot() s").Scan(&xmin, &xmax)
	if err != nil {
		return 0, 0, w.scrub(fmt.Errorf("postgres: read the transaction horizon: %w", err))
	}
	return xmin, xmax, nil
}

// TxidsAhead says whether ai_usage_events holds rows since since whose txid
// this server has not issued yet. A row this statement can see was written
// by a transaction that ended before it began, so its txid is below the
// snapshot's xmax, unless the row was copied from another cluster (a
// pg_dump restore keeps the column's values): the rules read new rows by
// txid and would skip such rows until the server's txids pass them. since
// is where the rules' history starts: older rows are never read, and the
// partitions before it are pruned.
func (w *Writer) TxidsAhead(ctx context.Context, since time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var ahead bool
	err := w.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM ai_usage_events WHERE occurred_at >= $1 AND "+txidAhead+")", since).Scan(&ahead)
	if err != nil {
		return false, w.scrub(fmt.Errorf("postgres: look for txids ahead of the server's: %w", err))
	}
	return ahead, nil
}

// FixTxidsAhead is the statement that makes the rows of TxidsAhead(since)
// count: with txid NULL they are read by time, as rows written before txids
// were kept. The rules read such rows when they start, so the daemons are
// restarted after it.
func FixTxidsAhead(since time.Time) string {
	return fmt.Sprintf("UPDATE ai_usage_events SET txid = NULL WHERE occurred_at >= '%s' AND %s", since.UTC().Format("2006-01-02 15:04:05Z"), txidAhead)
}

// txidAhead holds for a row whose txid the server has not issued yet.
const txidAhead = "txid >= txid_snapshot_xmax(txid_current_snapshot())"

// queryTimeout bounds the rules' small queries (lock check, horizon): a
// server that stopped answering makes the leader step down instead of
// hanging.
const queryTimeout = 10 * time.Second

// Blocker describes the transaction that holds the horizon at xmin, when
// there is one: a long-running writing transaction in the database delays
// the rules until it ends, and the operator needs to know which.
func (w *Writer) Blocker(ctx context.Context, xmin int64) (string, error) {
	var pid int
	var app, state string
	var start time.Time
	err := w.pool.QueryRow(ctx, `SELECT pid, coalesce(application_name, ''), coalesce(state, ''), coalesce(xact_start, now())
		FROM pg_stat_activity WHERE backend_xid::text::bigint = $1::bigint % 4294967296 LIMIT 1`, xmin).Scan(&pid, &app, &state, &start)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", w.scrub(fmt.Errorf("postgres: find the oldest transaction: %w", err))
	}
	return fmt.Sprintf("pid %d (application %q, %s, open since %s)", pid, app, state, start.UTC().Format(time.RFC3339)), nil
}

// EventQuery selects stored events for the rules engine.
type EventQuery struct {
	// Since is the earliest occurred_at wanted.
	Since time.Time
	// Rows whose txid is in [TxidFrom, TxidTo); with Before, also the rows
	// written before txids were kept (NULL).
	TxidFrom, TxidTo int64
	Before           bool
	// Attributes reads the attributes column; without it records carry
	// "{}" (decoding jsonb to text is half the cost of a read).
	Attributes bool
}

const readEventsSQL = `SELECT event_id, occurred_at, source, coalesce(user_id, ''), coalesce(feature, ''),
	coalesce(provider, ''), model, input_tokens, cached_input_tokens, output_tokens, total_tokens,
	cost_usd::text, cost_source, duration_ms, success, coalesce(error_type, ''),
	CASE WHEN $5 THEN attributes::text ELSE '{}' END
FROM ai_usage_events
WHERE occurred_at >= $1 AND (txid >= $2 AND txid < $3 OR $4 AND txid IS NULL)
ORDER BY occurred_at`

// ReadEvents calls fn with every event q selects, in occurred_at order. The
// record is reused: fn must not keep it.
func (w *Writer) ReadEvents(ctx context.Context, q EventQuery, fn func(*parse.Record) error) (int64, error) {
	rows, err := w.pool.Query(ctx, readEventsSQL, q.Since, q.TxidFrom, q.TxidTo, q.Before, q.Attributes)
	if err != nil {
		return 0, w.scrub(fmt.Errorf("postgres: read events: %w", err))
	}
	defer rows.Close()
	var (
		n                       int64
		rec                     parse.Record
		cost, costSource        string
		dur                     *float64
		attrs                   []byte
		eventID, source, model  string
		user, feature, provider string
		errType                 string
	)
	for rows.Next() {
		err := rows.Scan(&eventID, &rec.OccurredAt, &source, &user, &feature, &provider, &model,
			&rec.InputTokens, &rec.CachedInputTokens, &rec.OutputTokens, &rec.TotalTokens,
			&cost, &costSource, &dur, &rec.Success, &errType, &attrs)
		if err != nil {
			return n, fmt.Errorf("postgres: read events: %w", err)
		}
		m, err := parse.ParseMoney(cost)
		if err != nil {
			return n, fmt.Errorf("postgres: read events: cost_usd %q of %s: %w", cost, eventID, err)
		}
		rec.EventID, rec.Source, rec.UserID, rec.Feature, rec.Provider, rec.Model = eventID, source, user, feature, provider, model
		rec.ErrorType, rec.Attributes, rec.Cost = errType, attrs, m
		switch costSource {
		case "log":
			rec.CostSource = parse.CostFromLog
		case "pricing":
			rec.CostSource = parse.CostPricing
		default:
			rec.CostSource = parse.CostUnpriced
		}
		rec.HasDuration = dur != nil
		if dur != nil {
			rec.DurationMS = *dur
		}
		n++
		if err := fn(&rec); err != nil {
			return n, err
		}
	}
	if err := rows.Err(); err != nil {
		return n, w.scrub(fmt.Errorf("postgres: read events: %w", err))
	}
	return n, nil
}

// Alert is one row of ai_alerts.
type Alert struct {
	At          time.Time
	Rule        string
	Severity    string
	Firing      bool
	Value       *float64
	Threshold   float64
	Labels      map[string]string
	Annotations map[string]string
	Fingerprint uint64
	StartsAt    time.Time
}

// SaveRules stores, in one transaction, transitions in ai_alerts and the
// rules engine's state (JSON): a new leader starts from exactly what the
// last one had announced. by names the daemon, for operators.
//
// It runs on the lock's own connection: the lock lives as long as that
// session, so a leader whose session the server ended (and whose lock
// another daemon may hold now) cannot store anything any more, however
// long it was paused.
func (l *Lock) SaveRules(ctx context.Context, alerts []Alert, tick time.Time, state []byte, by string) error {
	if !l.held {
		return errors.New("postgres: rules state not stored: this daemon does not hold the rules lock")
	}
	// A server that stopped answering must not hold the leader (and its
	// mutex) for the kernel's TCP timeouts.
	ctx, cancel := context.WithTimeout(ctx, 3*queryTimeout)
	defer cancel()
	return l.w.scrub(pgx.BeginFunc(ctx, l.conn, func(tx pgx.Tx) error {
		if err := insertAlerts(ctx, tx, alerts, by); err != nil {
			return err
		}
		var t *time.Time
		if !tick.IsZero() {
			t = &tick
		}
		_, err := tx.Exec(ctx, `INSERT INTO tokentail_rules_state (id, tick, state, updated_at, updated_by) VALUES (1, $1, $2, now(), $3)
			ON CONFLICT (id) DO UPDATE SET tick = excluded.tick, state = excluded.state, updated_at = now(), updated_by = excluded.updated_by`,
			t, state, by)
		if err != nil {
			return fmt.Errorf("postgres: store rules state: %w", err)
		}
		return nil
	}))
}

// StoreAlerts stores transitions in ai_alerts (`backfill --alerts`: the
// history's alerts, for dashboards); storing one twice adds nothing.
func (w *Writer) StoreAlerts(ctx context.Context, alerts []Alert, by string) error {
	return w.scrub(pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		return insertAlerts(ctx, tx, alerts, by)
	}))
}

func insertAlerts(ctx context.Context, tx pgx.Tx, alerts []Alert, by string) error {
	if len(alerts) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, a := range alerts {
		labels, err := json.Marshal(a.Labels)
		if err != nil {
			return err
		}
		ann, err := json.Marshal(a.Annotations)
		if err != nil {
			return err
		}
		b.Queue(`INSERT INTO ai_alerts (at, rule, severity, state, value, threshold, labels, annotations, fingerprint, starts_at, recorded_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
			a.At, a.Rule, a.Severity, a.state(), a.Value, a.Threshold, labels, ann, int64(a.Fingerprint), a.StartsAt, by)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: store alerts: %w", err)
	}
	return nil
}

// state is the alert's ai_alerts.state.
func (a *Alert) state() string {
	if a.Firing {
		return "firing"
	}
	return "resolved"
}

// LoadRules returns the rules engine's state as last saved, nil if none.
func (w *Writer) LoadRules(ctx context.Context) ([]byte, error) {
	var state []byte
	err := w.pool.QueryRow(ctx, "SELECT state FROM tokentail_rules_state WHERE id = 1").Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, w.scrub(fmt.Errorf("postgres: load rules state: %w", err))
	}
	return state, nil
}

// OpenAlerts returns the alerts whose last stored transition is "firing"
// (the rules leader's, not backfill's): a new leader resolves those that
// its rules no longer fire (a rule edited or removed while no daemon ran it).
func (w *Writer) OpenAlerts(ctx context.Context) ([]Alert, error) {
	rows, err := w.pool.Query(ctx, `SELECT at, rule, severity, threshold, labels, annotations, fingerprint, starts_at FROM (
		SELECT DISTINCT ON (fingerprint) * FROM ai_alerts WHERE recorded_by <> 'backfill'
		ORDER BY fingerprint, at DESC, recorded_at DESC) last
		WHERE state = 'firing'`)
	if err != nil {
		return nil, w.scrub(fmt.Errorf("postgres: read open alerts: %w", err))
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		var fp int64
		var labels, ann []byte
		if err := rows.Scan(&a.At, &a.Rule, &a.Severity, &a.Threshold, &labels, &ann, &fp, &a.StartsAt); err != nil {
			return nil, fmt.Errorf("postgres: read open alerts: %w", err)
		}
		a.Firing, a.Fingerprint = true, uint64(fp)
		if err := json.Unmarshal(labels, &a.Labels); err != nil {
			return nil, fmt.Errorf("postgres: read open alerts: labels of %s: %w", a.Rule, err)
		}
		if err := json.Unmarshal(ann, &a.Annotations); err != nil {
			return nil, fmt.Errorf("postgres: read open alerts: annotations of %s: %w", a.Rule, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, w.scrub(fmt.Errorf("postgres: read open alerts: %w", err))
	}
	return out, nil
}

// KnownAlerts says, for each alert, whether ai_alerts already holds it
// (the same fingerprint, time and state).
func (w *Writer) KnownAlerts(ctx context.Context, alerts []Alert) ([]bool, error) {
	if len(alerts) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	for _, a := range alerts {
		b.Queue("SELECT EXISTS (SELECT 1 FROM ai_alerts WHERE fingerprint = $1 AND at = $2 AND state = $3)", int64(a.Fingerprint), a.At, a.state())
	}
	br := w.pool.SendBatch(ctx, b)
	known := make([]bool, len(alerts))
	for i := range alerts {
		if err := br.QueryRow().Scan(&known[i]); err != nil {
			_ = br.Close()
			return nil, w.scrub(fmt.Errorf("postgres: look up stored alerts: %w", err))
		}
	}
	if err := br.Close(); err != nil {
		return nil, w.scrub(fmt.Errorf("postgres: look up stored alerts: %w", err))
	}
	return known, nil
}
