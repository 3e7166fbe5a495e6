package postgres

import (
	"context"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
)

// TestReadEvents_Cursor: rows are read once each by txid cursor, whatever
// the order their transactions write them in, and read back as written.
func TestReadEvents_Cursor(t *testing.T) {
	w, dsn := openTest(t, Config{})
	ctx := context.Background()
	conn := connect(t, dsn)
	recs := makeRecords(300, time.Now(), 1, 7)
	lo, err := w.Horizon(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A transaction that started first holds its rows back until it ends.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT txid_current()"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(ctx, recs[:100]); err != nil {
		t.Fatal(err)
	}
	read := func(from, to int64) (int64, parse.Money) {
		var sum parse.Money
		n, err := w.ReadEvents(ctx, EventQuery{Since: time.Now().Add(-48 * time.Hour), TxidFrom: from, TxidTo: to},
			func(r *parse.Record) error { sum += r.Cost; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return n, sum
	}
	hi, err := w.Horizon(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := read(lo, hi); n != 0 {
		t.Fatalf("read %d rows while an older transaction runs, want 0 (they are not final below its txid)", n)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(ctx, recs[100:]); err != nil {
		t.Fatal(err)
	}
	// Other tests' transactions in the cluster may hold the horizon a
	// moment: wait until every transaction begun by now has ended.
	_, xmax, err := w.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if hi, err = w.Horizon(ctx); err != nil {
			t.Fatal(err)
		}
		if hi >= xmax {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the horizon stayed at %d, below %d, for a minute: a transaction of another test stays open", hi, xmax)
		}
	}
	n, sum := read(lo, hi)
	if n != 300 || sum != sumMoney(recs) {
		t.Errorf("read %d rows, cost %s; want 300, %s", n, sum, sumMoney(recs))
	}
	if n, _ := read(hi, math.MaxInt64); n != 0 {
		t.Errorf("read %d rows past the horizon, want 0", n)
	}
}

// BenchmarkReadEvents is what the daemon evaluating the rules pays per row
// to read the fleet's rows back (ns/op is per row).
func BenchmarkReadEvents(b *testing.B) {
	w, _ := openTest(b, Config{})
	ctx := context.Background()
	const n = 100_000
	if _, err := w.Write(ctx, makeRecords(n, time.Now(), 1, 3)); err != nil {
		b.Fatal(err)
	}
	hi, err := w.Horizon(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := processCPU(b)
	rows := 0
	for rows < b.N {
		k, err := w.ReadEvents(ctx, EventQuery{Since: time.Now().Add(-48 * time.Hour), TxidFrom: math.MinInt64, TxidTo: hi},
			func(*parse.Record) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		rows += int(k)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	// What reading rows back costs the daemon (the server's share is not
	// in this process).
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(rows), "client-cpu-ns/row")
}

// processCPU is this process's user+system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestTxidsAhead: rows restored from another cluster's dump carry txids
// the server has not issued; they are found, and the fix makes them count
// (read by time, as rows from before txids were kept).
func TestTxidsAhead(t *testing.T) {
	w, dsn := openTest(t, Config{})
	ctx := context.Background()
	conn := connect(t, dsn)
	recs := makeRecords(10, time.Now(), 1, 9)
	if _, err := w.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-48 * time.Hour)
	if ahead, err := w.TxidsAhead(ctx, since); err != nil || ahead {
		t.Fatalf("TxidsAhead on rows written here: %v, %v; want false", ahead, err)
	}
	// As a restore leaves them: three rows from a cluster far ahead.
	if _, err := conn.Exec(ctx, `UPDATE ai_usage_events SET txid = txid_current() + 5000000
		WHERE event_id IN (SELECT event_id FROM ai_usage_events ORDER BY event_id LIMIT 3)`); err != nil {
		t.Fatal(err)
	}
	if ahead, err := w.TxidsAhead(ctx, since); err != nil || !ahead {
		t.Fatalf("TxidsAhead with restored rows: %v, %v; want true", ahead, err)
	}
	if ahead, err := w.TxidsAhead(ctx, time.Now().Add(time.Hour)); err != nil || ahead {
		t.Fatalf("TxidsAhead since after every row: %v, %v; want false (the rules never read them)", ahead, err)
	}
	// Every committed row of this server is below xmax, whatever other
	// tests' transactions do to the horizon.
	_, hi, err := w.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	read := func() int64 {
		n, err := w.ReadEvents(ctx, EventQuery{Since: time.Now().Add(-48 * time.Hour), TxidFrom: math.MinInt64, TxidTo: hi, Before: true},
			func(*parse.Record) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := read(); n != 7 {
		t.Fatalf("read %d rows before the fix, want the 7 with this server's txids", n)
	}
	if _, err := conn.Exec(ctx, FixTxidsAhead(since)); err != nil {
		t.Fatal(err)
	}
	if ahead, err := w.TxidsAhead(ctx, since); err != nil || ahead {
		t.Fatalf("TxidsAhead after the fix: %v, %v; want false", ahead, err)
	}
	if n := read(); n != 10 {
		t.Errorf("read %d rows after the fix, want all 10", n)
	}
}

// TestLock_FencesSaves: a leader whose lock session the server ended
// stores nothing more (another daemon may hold the lock by then), and the
// lock hears reprice's NOTIFY.
func TestLock_FencesSaves(t *testing.T) {
	w, dsn := openTest(t, Config{})
	ctx := context.Background()
	conn := connect(t, dsn)
	l, err := w.NewLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	if held, err := l.Try(ctx); err != nil || !held {
		t.Fatalf("Try: held %v, err %v", held, err)
	}
	if err := l.SaveRules(ctx, nil, time.Now(), []byte(`{}`), "test"); err != nil {
		t.Fatalf("save while holding the lock: %v", err)
	}
	if err := NotifyReseed(ctx, conn, "test"); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if !l.Reseed() || l.Reseed() {
		t.Error("Reseed after a NOTIFY: want true once, then false")
	}
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend($1)", l.conn.PgConn().PID()); err != nil {
		t.Fatal(err)
	}
	if err := l.SaveRules(ctx, nil, time.Now(), []byte(`{"after":true}`), "test"); err == nil {
		t.Error("a save after the lock's session ended succeeded")
	}
	var state string
	if err := conn.QueryRow(ctx, "SELECT state::text FROM tokentail_rules_state WHERE id = 1").Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "{}" {
		t.Errorf("stored state %s, want the one saved while holding the lock", state)
	}
}
