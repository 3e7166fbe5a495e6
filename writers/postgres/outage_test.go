package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/tokentail/tokentail/internal/testenv"
)

// TestWriter_OutageCrash crashes the harness PostgreSQL (no clean shutdown)
// between batches of a stream and starts it again while a batch waits: the
// batch lands after recovery, once, and the outage is logged once.
func TestWriter_OutageCrash(t *testing.T) {
	testenv.OutageTest(t)
	var logs logBuffer
	logger, outage := newSignalLogger(&logs, "postgres unavailable, retrying")
	w, dsn := openTest(t, Config{Logger: logger})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	recs := makeRecords(4000, time.Now(), 2, 31)
	if _, err := w.Write(ctx, recs[:2000]); err != nil {
		t.Fatalf("Write before the crash: %v", err)
	}

	testenv.Crash(t, testenv.Postgres)
	done := make(chan error, 1)
	var res Result
	go func() {
		var err error
		res, err = w.Write(ctx, recs[2000:])
		done <- err
	}()
	select {
	case <-outage:
	case err := <-done:
		t.Fatalf("Write returned while the server was down: %v", err)
	}
	testenv.Start(t, testenv.Postgres)
	if err := <-done; err != nil {
		t.Fatalf("Write across the crash: %v", err)
	}
	if want := (Result{Inserted: 2000}); res != want {
		t.Errorf("Result: got %+v, want %+v", res, want)
	}
	rows, distinct, sum := counts(t, connect(t, dsn))
	if rows != 4000 || distinct != 4000 || sum != sumMoney(recs).String() {
		t.Errorf("got %d rows, %d distinct, sum %s; want 4000, 4000, %s", rows, distinct, sum, sumMoney(recs))
	}
	if got := logs.count("postgres available again"); got != 1 {
		t.Errorf("outage end lines: got %d, want 1", got)
	}
}
