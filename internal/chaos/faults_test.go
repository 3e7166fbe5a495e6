package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokentail/tokentail/internal/loggen"
)

// appendRecords appends n entries of a generator seeded with seed to the
// file open in f, and returns what they hold. Each seed has its own minute,
// so records of different calls never share an InfluxDB point.
func appendRecords(t *testing.T, f *os.File, seed uint64, n int) loggen.Manifest {
	t.Helper()
	g := loggen.New(loggen.Options{Seed: seed, Noise: 0.3, Malformed: 0.02, NoCost: 0.2, NoID: 0.3,
		Start: time.Date(2026, 11, 20, 0, int(seed), 0, 0, time.UTC)})
	man, err := g.WriteN(f, n)
	if err != nil {
		t.Fatal(err)
	}
	return man
}

// appendFile opens path for appending (creating it), appends, closes.
func appendFile(t *testing.T, path string, seed uint64, n int) loggen.Manifest {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return appendRecords(t, f, seed, n)
}

// exact checks that the databases hold what want says, once each.
func (w *world) exact(t *testing.T, want loggen.Manifest) {
	t.Helper()
	w.waitStored(t, want)
	time.Sleep(time.Second) // anything more arriving now would be a duplicate
	rows, ids, rejects, cost, points, err := w.counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rows != want.Records || ids != want.Records || int64(points) != want.Records || rejects != want.Malformed || cost != want.Cost {
		t.Errorf("got %d rows (%d ids), %d points, %d rejects, cost %s; want %d records, %d rejects, cost %s\n%s",
			rows, ids, points, rejects, cost, want.Records, want.Malformed, want.Cost, w.tail())
	}
}

// waitStored waits until PostgreSQL has want's rows and rejects and
// InfluxDB its points. Each writer follows the files on its own and may be a
// poll behind the other, and rejects are written after their batch's rows.
func (w *world) waitStored(t *testing.T, want loggen.Manifest) {
	t.Helper()
	w.waitRows(t, want.Records)
	deadline := time.Now().Add(time.Minute)
	for {
		rows, _, rejects, _, points, err := w.counts(context.Background())
		if err == nil && rows >= want.Records && rejects >= want.Malformed && int64(points) >= want.Records {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %d rows, %d rejects and %d points; have %d, %d and %d (err %v)\n%s",
				want.Records, want.Malformed, want.Records, rows, rejects, points, err, w.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// listen adds an http section to the daemon's config and returns its
// address, for /metrics.
func (w *world) listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f, err := os.OpenFile(w.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "http: {listen: %q}\n", addr); err != nil {
		t.Fatal(err)
	}
	return addr
}

// metric reads one unlabelled metric from the daemon's /metrics.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
					f, err := strconv.ParseFloat(v, 64)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					return f
				}
			}
			t.Fatalf("/metrics has no %s", name)
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLog waits until the daemon's log holds a line with every one of parts.
func (w *world) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(w.dir, "daemon.log"))
	lines:
		for _, l := range strings.Split(string(b), "\n") {
			for _, p := range parts {
				if !strings.Contains(l, p) {
					continue lines
				}
			}
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q after 30s\n%s", parts, w.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stop(t *testing.T, d *exec.Cmd, sig syscall.Signal) {
	t.Helper()
	if err := d.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	d.Wait()
}

// TestFault_StateDirFull fills the filesystem state_dir is on (a 64 KiB
// tmpfs) while the daemon runs: saving positions fails with ENOSPC. The
// daemon says so once, naming the file and the error, counts each failure,
// and goes on writing rows; once there is room it saves again. Killed while
// the disk is full, it reads again from the last saved positions at the
// next start, and nothing is stored twice or lost.
func TestFault_StateDirFull(t *testing.T) {
	w := newWorld(t)
	state := filepath.Join(w.dir, "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", state).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs for state_dir (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", state).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", state, err, out)
		}
	})
	addr := w.listen(t)
	logPath := filepath.Join(w.dir, "logs", "app.log")
	var want loggen.Manifest
	want.Merge(appendFile(t, logPath, 1, 400))
	d := w.start()
	defer func() { stop(t, d, syscall.SIGTERM) }()
	w.waitRows(t, want.Records)

	// Fill the disk: the next save fails.
	filler := filepath.Join(state, "filler")
	fill := func() {
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", filler, err)
				}
				return
			}
		}
	}
	fill()
	// Rows keep landing, batch after batch, while nothing can be saved.
	for i := range 3 {
		want.Merge(appendFile(t, logPath, uint64(10+i), 200))
		w.waitRows(t, want.Records)
	}
	line := w.waitLog(t, "cannot save positions", filepath.Join(state, "positions"), "no space left on device")
	t.Logf("the daemon said: %s", line)
	if got := metric(t, addr, "tokentail_position_save_errors_total"); got < 2 {
		t.Errorf("tokentail_position_save_errors_total = %v, want one per failed save (at least 2)", got)
	}

	// Room again: the next batch saves, and says so.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	want.Merge(appendFile(t, logPath, 20, 200))
	w.waitRows(t, want.Records)
	w.waitLog(t, "positions saved again")
	size := fileSize(t, logPath)
	for _, writer := range []string{"postgres", "influxdb"} {
		if got := savedOffset(t, filepath.Join(state, "positions", writer, "app.json"), size); got != size {
			t.Errorf("%s positions: offset %d, want the whole file, %d", writer, got, size)
		}
	}

	// Full again, and killed: positions are behind what was written.
	fill()
	want.Merge(appendFile(t, logPath, 30, 300))
	w.waitRows(t, want.Records)
	stop(t, d, syscall.SIGKILL)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	d = w.start()
	want.Merge(appendFile(t, logPath, 40, 200))
	w.exact(t, want)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// savedOffset waits until the one position in a positions file stands at
// want and returns where it stands (each writer saves on its own, so one may
// be a batch behind the other for a moment; a file not there yet is not an
// error until the deadline).
func savedOffset(t *testing.T, path string, want int64) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pf struct {
			Positions []struct {
				Offset int64 `json:"offset"`
			} `json:"positions"`
		}
		b, err := os.ReadFile(path)
		if err == nil {
			if err := json.Unmarshal(b, &pf); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if len(pf.Positions) == 1 && pf.Positions[0].Offset == want {
				return want
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatal(err)
			}
			if len(pf.Positions) != 1 {
				t.Fatalf("%s: %d positions, want 1", path, len(pf.Positions))
			}
			return pf.Positions[0].Offset
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFault_UnreadableFile follows a file the daemon may not open (mode
// 000; the daemon runs as nobody, since root ignores modes). The daemon
// names the file and the error, goes on reading the other files, and reads
// the file from its start once it may.
func TestFault_UnreadableFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs the daemon as nobody with setpriv: needs root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skipf("setpriv: %v", err)
	}
	w := newWorld(t)
	const nobody = "65534"
	w.wrap = []string{"setpriv", "--reuid=" + nobody, "--regid=" + nobody, "--clear-groups", "--"}
	// nobody must reach the binary, the config, the logs and its state.
	for _, p := range []string{filepath.Dir(w.dir), w.dir, filepath.Dir(w.bin), w.config} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(w.dir, "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(w.dir, "logs", "good.log")
	bad := filepath.Join(w.dir, "logs", "bad.log")
	var want, wantBad loggen.Manifest
	want.Merge(appendFile(t, good, 1, 300))
	wantBad.Merge(appendFile(t, bad, 2, 300))
	if err := os.Chmod(bad, 0); err != nil {
		t.Fatal(err)
	}
	d := w.start()
	defer func() { stop(t, d, syscall.SIGTERM) }()
	w.waitRows(t, want.Records)
	line := w.waitLog(t, "cannot open file", bad, "permission denied")
	t.Logf("the daemon said: %s", line)

	// The other file goes on; the unreadable one is read once it may be.
	want.Merge(appendFile(t, good, 3, 200))
	w.waitRows(t, want.Records)
	wantBad.Merge(appendFile(t, bad, 4, 100))
	if err := os.Chmod(bad, 0o644); err != nil {
		t.Fatal(err)
	}
	want.Merge(wantBad)
	w.exact(t, want)
}

// TestFault_DeletedWhileRead deletes a file the daemon is reading while its
// writer still holds it open and goes on writing, as an application does
// when a log is removed under it: every line written through the open
// descriptor is stored, before and after the delete.
func TestFault_DeletedWhileRead(t *testing.T) {
	w := newWorld(t)
	path := filepath.Join(w.dir, "logs", "app.log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := w.start()
	defer func() { stop(t, d, syscall.SIGTERM) }()
	var want loggen.Manifest
	want.Merge(appendRecords(t, f, 1, 500))
	w.waitRows(t, want.Records)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		want.Merge(appendRecords(t, f, uint64(10+i), 200))
	}
	// A last line without its newline yet, finished later: held, then read.
	half := []byte(`2026-11-20T01:00:00Z INFO app AI_COST: {"model":"gpt-4o-mini","input_tokens":1,`)
	if _, err := f.Write(half); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, `"output_tokens":2,"cost_usd":0.5,"request_id":"deleted-last"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	want.Records++
	want.Cost += 500_000_000_000 // $0.5 in picodollars
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	w.exact(t, want)
}
