package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// retry runs op until it succeeds, fails permanently, or ctx ends. Each
// attempt gets its own deadline (AttemptTimeout), and transient failures are
// retried after a capped exponential backoff with full jitter, so a fleet of
// daemons does not reconnect in lockstep after a restart of the server.
func (w *Writer) retry(ctx context.Context, what string, op func(ctx context.Context) error) error {
	delay := w.cfg.RetryMin
	var last error // the last failure that says something about the server
	gaveUp := func() error {
		if last == nil {
			return w.scrub(fmt.Errorf("postgres: %s: %w", what, ctx.Err()))
		}
		return w.scrub(fmt.Errorf("postgres: %s: %w (last error: %v)", what, ctx.Err(), last))
	}
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, w.cfg.AttemptTimeout)
		err := op(actx)
		cancel()
		if err == nil {
			w.outage.end(what, attempt)
			return nil
		}
		if ctx.Err() != nil {
			if last == nil && !errors.Is(err, ctx.Err()) {
				last = err
			}
			return gaveUp()
		}
		if !isTransient(err) {
			return w.scrub(fmt.Errorf("postgres: %s: %w", what, err))
		}
		last = err
		w.outage.begin(what, w.scrub(err))
		sleep := time.Duration(rand.Int64N(int64(delay)) + 1)
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return gaveUp()
		case <-t.C:
		}
		delay = min(delay*2, w.cfg.RetryMax)
	}
}

// outage logs a transient outage once when it starts and once when it ends,
// however many retries happen in between: a database down for an hour must
// not write thousands of log lines.
type outage struct {
	log *slog.Logger

	mu      sync.Mutex // Write, Ping and EnforceRetention may run concurrently
	since   time.Time  // zero: no outage
	retries int
}

func (o *outage) begin(what string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retries++
	if !o.since.IsZero() {
		return
	}
	o.since = time.Now()
	o.log.Warn("postgres unavailable, retrying", "op", what, "err", err)
}

func (o *outage) end(what string, attempts int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return
	}
	o.log.Info("postgres available again", "op", what,
		"down_for", time.Since(o.since).Round(time.Millisecond), "retries", o.retries)
	o.since = time.Time{}
	o.retries = 0
}

// isTransient reports whether err is worth retrying: the server or the
// network failed, not the request.
func isTransient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", // admin_shutdown
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now
			"40001", // serialization_failure
			"40P01", // deadlock_detected
			"55P03", // lock_not_available: our lock_timeout on partition DDL
			"57014", // query_canceled: by an operator or statement_timeout
			"53000", // insufficient_resources
			"53100", // disk_full: an operator can free space
			"53200", // out_of_memory
			"53300", // too_many_connections
			"53400": // configuration_limit_exceeded
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection_exception
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return false // a wrong CA or a bad server certificate does not heal by waiting
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr):
		return true
	case pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		// Only reached when the caller's ctx is still live (retry checks it
		// first), so this is the deadline of one attempt.
		return true
	}
	// pgx reports a connection it closed under us with plain errors.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "conn busy")
}

// isRowError reports whether err is the server refusing a value of some row,
// not the batch as a whole: bisecting the batch will find the row.
func isRowError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch {
	case isNoPartition(pgErr):
		return false // a missing partition, not a bad row
	case pgErr.Code == "23505":
		return false // a duplicate: the staged path deals with it
	case strings.HasPrefix(pgErr.Code, "22"), // data_exception: bad text, jsonb, numbers
		strings.HasPrefix(pgErr.Code, "23"), // integrity: check, not-null
		pgErr.Code == "54000":               // program_limit_exceeded: an index row too large
		return true
	}
	return false
}

// isNoPartition reports the error of a row whose partition does not exist:
// another daemon's retention dropped it after we cached it as known.
func isNoPartition(pgErr *pgconn.PgError) bool {
	return pgErr.Code == "23514" && strings.HasPrefix(pgErr.Message, "no partition of relation")
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// scrub hides the DSN's password in err's text. pgx keeps passwords out of
// its messages as far as we know; this is the second lock on the door, and
// keeps Unwrap so callers can still classify the error.
func (w *Writer) scrub(err error) error {
	if err == nil || w.secret == "" || !strings.Contains(err.Error(), w.secret) {
		return err
	}
	return &scrubbedError{err: err, secret: w.secret}
}

type scrubbedError struct {
	err    error
	secret string
}

func (e *scrubbedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.secret, "xxxxx")
}

func (e *scrubbedError) Unwrap() error { return e.err }

// dsnPassword matches password=VALUE and sslpassword=VALUE in key=value DSNs
// and URL queries, quoted or not.
var dsnPassword = regexp.MustCompile(`password=('(?:[^'\\]|\\.)*'|[^ &]*)`)

// maskDSNPasswords replaces in msg every value of dsn that may be a
// password: the userinfo password of a URL and every password= value, raw
// and percent-decoded. It errs on the side of masking too much.
func maskDSNPasswords(dsn, msg string) string {
	var secrets []string
	if _, rest, ok := strings.Cut(dsn, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				secrets = append(secrets, pw)
			}
		}
	}
	for _, m := range dsnPassword.FindAllStringSubmatch(dsn, -1) {
		v := m[1]
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], `\'`, `'`)
		}
		secrets = append(secrets, v)
	}
	for _, s := range secrets {
		for _, v := range []string{s, unescape(s)} {
			if v != "" {
				msg = strings.ReplaceAll(msg, v, "xxxxx")
			}
		}
	}
	return msg
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
