package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokentail/tokentail/internal/loggen"
)

// TestRun_SymlinkSwap follows the Kubernetes layout: the daemon's glob
// matches /var/log/containers/*.log, symlinks into /var/log/pods/.../N.log,
// and a container restart points the link at a new file while the old one
// still gets its last lines. Every record of both files lands exactly once.
func TestRun_SymlinkSwap(t *testing.T) {
	w := newWorld(t)
	pods := filepath.Join(w.dir, "pods", "ns_app_uid", "app")
	containers := filepath.Join(w.dir, "logs") // the config's glob: logs/*.log
	if err := os.MkdirAll(pods, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(containers, "app_ns_app-0123.log")
	var want loggen.Manifest
	write := func(path string, seed uint64, n int) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		g := loggen.New(loggen.Options{Seed: seed, Envelope: loggen.CRI, Noise: 0.3, NoID: 0.3,
			Start: time.Date(2026, 11, 20, 0, 0, int(seed), 0, time.UTC)})
		man, err := g.WriteN(f, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		want.Merge(man)
	}
	first, second := filepath.Join(pods, "0.log"), filepath.Join(pods, "1.log")
	write(first, 1, 500)
	if err := os.Symlink(first, link); err != nil {
		t.Fatal(err)
	}
	d := w.start()
	defer func() {
		d.Process.Signal(syscall.SIGTERM)
		d.Wait()
	}()
	w.waitRows(t, want.Records)

	// The container restarts: a new log file, the link swapped atomically,
	// and the old file's last lines written after the swap.
	write(second, 2, 400)
	tmp := link + ".tmp"
	if err := os.Symlink(second, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	write(first, 3, 50)
	write(second, 4, 300)
	w.waitStored(t, want)
	time.Sleep(time.Second) // anything more now would be a duplicate
	rows, ids, _, cost, points, err := w.counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rows != want.Records || ids != want.Records || int64(points) != want.Records || cost != want.Cost {
		t.Errorf("after the swap: %d rows (%d ids), %d points, cost %s; want %d records, cost %s\n%s",
			rows, ids, points, cost, want.Records, want.Cost, w.tail())
	}
}

// waitRows waits until PostgreSQL holds at least n rows, or fails after a minute.
func (w *world) waitRows(t *testing.T, n int64) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := pgx.Connect(ctx, w.dsn)
		var rows int64
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT count(*) FROM ai_usage_events").Scan(&rows)
			conn.Close(ctx)
		}
		if err == nil && rows >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s", fmt.Sprintf("waited a minute for %d rows, have %d (err %v)\n%s", n, rows, err, w.tail()))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
