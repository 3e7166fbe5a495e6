package tailer

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The horizon compares the follower's clock with file mtimes, so it is the
// one thing a wall clock set back can break (records take their time from
// the log; waits such as RotateWait use the monotonic clock). Here the
// clock ran an hour ahead while positions were saved, then was set right
// (NTP after a boot without a clock, a VM restored from a snapshot): every
// file written since has an mtime before the saved horizon. A file created
// and rotated away while the daemon was down must still be read, whether
// the daemon comes back before the clock has caught up with the horizon
// (the horizon is in the future) or after (the positions say they were
// saved before their own horizon).
func TestFollower_ClockWentBack(t *testing.T) {
	for _, tc := range []struct {
		name    string
		savedAt time.Duration // when the last save was, by its clock, from the real time
		later   time.Duration // how far the restart's clock is from the real time
	}{
		// Detected at the restart: the saved horizon is in the future.
		{"set right while down, restart before it caught up", time.Hour + 2*time.Second, 0},
		// Detected in the positions: saved before their own horizon.
		{"set right before the last save, restart after it caught up", 0, 2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "app.log")
			glob := []string{filepath.Join(dir, "*.log")}
			// The clock is an hour ahead: the follower's, and the one
			// the kernel stamps mtimes with.
			ahead := time.Now().Add(time.Hour)
			writeFile(t, p, records(0, 5))
			setMtime(t, p, ahead)
			tf := followClock(t, Options{Globs: glob}, &fakeClock{t: ahead.Add(time.Second)})
			ps := Positions{}
			ack(ps, tf.drain())
			tf.clock.Add(time.Second)
			tf.sync()
			appendFile(t, p, records(5, 6))
			setMtime(t, p, tf.clock.Now())
			tf.sync()
			ack(ps, tf.drain())
			tf.Close()
			if h := ps.horizon(); h.Before(ahead) {
				t.Fatalf("horizon %s: want it an hour ahead, as the clock was", h)
			}
			known := saveLoadAt(t, ps, time.Now().Add(tc.savedAt))

			// Down, with the clock set right: A gets more lines, B is
			// created and rotated away, C is created.
			appendFile(t, p, records(6, 8))
			logrotate(t, p, false, 0)
			writeFile(t, p, records(100, 104))
			logrotate(t, p, false, 1)
			writeFile(t, p, records(200, 204))

			tf2 := followClock(t, Options{Globs: glob, Known: known}, &fakeClock{t: time.Now().Add(tc.later)})
			exactlyOnce(t, tf2.drainAll(), [2]int{6, 8}, [2]int{100, 104}, [2]int{200, 204})
		})
	}
}

// A clock that did not move loses nothing either and reads nothing twice
// (the control for the test above: the same steps, the clock right).
func TestFollower_ClockSteady(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	writeFile(t, p, records(0, 5))
	glob := []string{filepath.Join(dir, "*.log")}
	tf := follow(t, Options{Globs: glob})
	ps := Positions{}
	ack(ps, tf.drain())
	tf.Close()
	known := saveLoad(t, ps)
	appendFile(t, p, records(5, 8))
	logrotate(t, p, false, 0)
	writeFile(t, p, records(100, 104))
	logrotate(t, p, false, 1)
	writeFile(t, p, records(200, 204))
	tf2 := follow(t, Options{Globs: glob, Known: known})
	exactlyOnce(t, tf2.drainAll(), [2]int{5, 8}, [2]int{100, 104}, [2]int{200, 204})
}

// followClock is follow with a clock of the test's.
func followClock(t *testing.T, opts Options, clock *fakeClock) *testFollower {
	t.Helper()
	opts.NoWatch = true
	opts.Tick = make(chan time.Time)
	opts.Now = clock.Now
	opts.Logger = testLogger(t)
	f, err := Follow(context.Background(), opts)
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return &testFollower{Follower: f, t: t, clock: clock}
}

// saveLoadAt saves ps as if at savedAt, and loads them back.
func saveLoadAt(t *testing.T, ps Positions, savedAt time.Time) Positions {
	t.Helper()
	path := filepath.Join(t.TempDir(), "positions.json")
	if err := ps.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pf positionsFile
	if err := json.Unmarshal(b, &pf); err != nil {
		t.Fatal(err)
	}
	pf.SavedAt = savedAt.UTC()
	if b, err = json.Marshal(pf); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b))
	known, err := LoadPositions(path)
	if err != nil {
		t.Fatal(err)
	}
	return known
}
