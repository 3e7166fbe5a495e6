package chaos

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tokentail/tokentail/internal/loggen"
	"github.com/tokentail/tokentail/internal/testenv"
)

// TestRun_Outage crashes each database in turn while the daemon follows
// growing, rotating files, starts it again, and checks that the daemon caught
// up by itself with every record exactly once.
func TestRun_Outage(t *testing.T) {
	testenv.OutageTest(t)
	w := newWorld(t)
	d := w.start()
	defer func() {
		d.Process.Signal(syscall.SIGTERM)
		d.Wait()
	}()
	ctx := context.Background()
	genDone := make(chan loggen.Manifest, 1)
	genErr := make(chan error, 1)
	go func() {
		man, err := loggen.Live(ctx, loggen.LiveOptions{
			Options: loggen.Options{Seed: 7, Noise: 0.3, Malformed: 0.01, NoCost: 0.2, NoID: 0.2},
			Dir:     filepath.Join(w.dir, "logs"), Name: "app", Files: 3,
			Rate: 800, Duration: 24 * time.Second, Rotate: loggen.RotateRename, RotateEvery: 5 * time.Second, Keep: 0,
		})
		genErr <- err
		genDone <- man
	}()
	for _, s := range []testenv.Server{testenv.Postgres, testenv.InfluxDB} {
		time.Sleep(3 * time.Second)
		testenv.Crash(t, s)
		time.Sleep(5 * time.Second) // the daemon keeps reading for the other writer, and waits for this one
		testenv.Start(t, s)
	}
	if err := <-genErr; err != nil {
		t.Fatal(err)
	}
	want := <-genDone

	deadline := time.Now().Add(2 * time.Minute)
	for {
		rows, _, rejects, _, points, err := w.counts(ctx)
		if err == nil && rows >= want.Records && int64(points) >= want.Records && rejects >= want.Malformed {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("not caught up after 2 minutes: %d rows, %d points, %d rejects; want %d, %d, %d (err %v)",
				rows, points, rejects, want.Records, want.Records, want.Malformed, err)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(time.Second)
	rows, ids, rejects, cost, points, err := w.counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rows != want.Records || ids != want.Records || int64(points) != want.Records || rejects != want.Malformed || cost != want.Cost {
		t.Errorf("after outages: %d rows (%d ids), %d points, %d rejects, cost %s; want %d records, %d rejects, cost %s\n%s",
			rows, ids, points, rejects, cost, want.Records, want.Malformed, want.Cost, w.tail())
	}
}
