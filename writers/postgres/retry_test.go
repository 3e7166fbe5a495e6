package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tokentail/tokentail/internal/testenv"
)

// TestWriter_TransientRetry kills the writer's connection from a second
// connection after the COPY and before the COMMIT, a few times in a row:
// the batch must land once, all of it.
func TestWriter_TransientRetry(t *testing.T) {
	for _, tt := range []struct {
		name  string
		point string
		pre   int // records of the batch already present, to force the slow path
		kills int
	}{
		{"fast path", "copied", 0, 3},
		{"slow path", "slow path done", 400, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			w, dsn := openTest(t, Config{Logger: logs.logger()})
			killer := connect(t, dsn)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const n = 2000
			recs := makeRecords(n, time.Now(), 2, 11)
			if tt.pre > 0 {
				if _, err := w.Write(ctx, recs[:tt.pre]); err != nil {
					t.Fatalf("pre-write: %v", err)
				}
			}

			kills := 0
			w.testHook = func(point string, pid uint32) {
				if point != tt.point || kills == tt.kills {
					return
				}
				kills++
				var ok bool
				if err := killer.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
					t.Errorf("terminate backend %d: %v, %v", pid, ok, err)
				}
			}
			res, err := w.Write(ctx, recs)
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if kills != tt.kills {
				t.Errorf("kills: got %d, want %d", kills, tt.kills)
			}
			if want := (Result{Inserted: n - tt.pre, Duplicates: tt.pre}); res != want {
				t.Errorf("Result: got %+v, want %+v", res, want)
			}
			rows, distinct, sum := counts(t, killer)
			if rows != n || distinct != n || sum != sumMoney(recs).String() {
				t.Errorf("got %d rows, %d distinct, sum %s; want %d, %d, %s", rows, distinct, sum, n, n, sumMoney(recs))
			}
			if got := logs.count("postgres unavailable"); got != 1 {
				t.Errorf("outage start lines: got %d, want 1", got)
			}
			if got := logs.count("postgres available again"); got != 1 {
				t.Errorf("outage end lines: got %d, want 1", got)
			}
		})
	}
}

// TestWriter_ServerDown takes the database away in the middle of a stream of
// batches and brings it back: the writer waits, logs the outage once, and
// nothing is lost or doubled.
func TestWriter_ServerDown(t *testing.T) {
	var logs logBuffer
	logger, outage := newSignalLogger(&logs, "postgres unavailable, retrying")
	px, dsn := startProxy(t, testenv.PostgresDSN(t))
	w, _ := openTest(t, Config{DSN: dsn, Logger: logger})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs := makeRecords(3000, time.Now(), 2, 21)
	if _, err := w.Write(ctx, recs[:1000]); err != nil {
		t.Fatalf("Write before the outage: %v", err)
	}

	if err := w.Ping(ctx); err != nil {
		t.Errorf("Ping while up: %v", err)
	}
	px.down()
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	if err := w.Ping(pctx); err == nil {
		t.Error("Ping while down: got nil, want an error")
	}
	done := make(chan error, 1)
	var res Result
	go func() {
		var err error
		res, err = w.Write(ctx, recs[1000:])
		done <- err
	}()
	select {
	case <-outage:
	case err := <-done:
		t.Fatalf("Write returned during the outage: %v", err)
	}
	px.up(t)
	if err := <-done; err != nil {
		t.Fatalf("Write across the outage: %v", err)
	}
	if want := (Result{Inserted: 2000}); res != want {
		t.Errorf("Result: got %+v, want %+v", res, want)
	}
	rows, distinct, sum := counts(t, connect(t, dsn))
	if rows != 3000 || distinct != 3000 || sum != sumMoney(recs).String() {
		t.Errorf("got %d rows, %d distinct, sum %s; want 3000, 3000, %s", rows, distinct, sum, sumMoney(recs))
	}
	if got := logs.count("postgres unavailable"); got != 1 {
		t.Errorf("outage start lines: got %d, want 1", got)
	}
	if got := logs.count("postgres available again"); got != 1 {
		t.Errorf("outage end lines: got %d, want 1", got)
	}

	t.Run("gives up when the caller does", func(t *testing.T) {
		px.down()
		defer px.up(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // room for one failed attempt, even on a loaded machine
		defer cancel()
		_, err := w.Write(ctx, makeRecords(3, time.Now(), 1, 22))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Write: got %v, want context.DeadlineExceeded", err)
		}
		if err != nil && !strings.Contains(err.Error(), "last error") {
			t.Errorf("Write: got %q, want it to say what failed", err)
		}
	})
}

func TestOpen_PasswordNotInError(t *testing.T) {
	const password = "s3cr3t-Pa55w0rd"
	dsns := map[string]string{
		"url":          "postgres://tokentail:" + password + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=1",
		"key=value":    "host=127.0.0.1 port=1 user=tokentail password=" + password + " dbname=db sslmode=disable",
		"quoted kv":    "host=127.0.0.1 port=1 user=tokentail password='" + password + "' dbname=db",
		"bad url":      "postgres://tokentail:" + password + "@127.0.0.1:notaport/db",
		"bad kv":       "host=127.0.0.1 password=" + password + " port=",
		"tls settings": "postgres://tokentail:" + password + "@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			var logs logBuffer
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			w, err := Open(ctx, Config{DSN: dsn, Logger: logs.logger(), RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond})
			if err == nil {
				w.Close()
				t.Fatal("Open: got nil error, want a connect error")
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error text holds the password: %v", err)
			}
			if got := logs.count(password); got != 0 {
				t.Errorf("log lines holding the password: got %d, want 0", got)
			}
			t.Log(err)
		})
	}
}

func TestIsTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true},
		{&pgconn.PgError{Code: "57P03"}, true},
		{&pgconn.PgError{Code: "40001"}, true},
		{&pgconn.PgError{Code: "40P01"}, true},
		{&pgconn.PgError{Code: "53300"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{fmt.Errorf("write: %w", io.ErrUnexpectedEOF), true},
		{context.DeadlineExceeded, true},
		{&pgconn.PgError{Code: "22P02"}, false},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42P01"}, false}, // undefined_table: a bug, not an outage
		{&pgconn.PgError{Code: "28P01"}, false}, // wrong password: retrying will not help
		{errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := isTransient(tt.err); got != tt.want {
			t.Errorf("isTransient(%v): got %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestIsRowError(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "22P02"}, true},
		{&pgconn.PgError{Code: "22021"}, true},
		{&pgconn.PgError{Code: "23514", Message: `new row for relation "x" violates check constraint "y"`}, true},
		{&pgconn.PgError{Code: "54000"}, true},
		{&pgconn.PgError{Code: "23514", Message: `no partition of relation "ai_usage_events" found for row`}, false},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "57P01"}, false},
		{io.EOF, false},
	}
	for _, tt := range tests {
		if got := isRowError(tt.err); got != tt.want {
			t.Errorf("isRowError(%v): got %v, want %v", tt.err, got, tt.want)
		}
	}
}
