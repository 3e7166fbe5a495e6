package tailer

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// benchLine is a typical AI_COST line, 170 bytes or so.
func benchLine(i int) string {
	return `2025-01-01T12:00:00.000Z INFO request done AI_COST: {"request_id":"req-` + strconv.Itoa(i) +
		`","model":"gpt-4o-mini","input_tokens":812,"output_tokens":96,"cost_usd":0.0002,"feature":"quiz"}` + "\n"
}

func writeBenchFile(b *testing.B, path string, n int) {
	fd, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(fd, 1<<20)
	for i := 0; i < n; i++ {
		w.WriteString(benchLine(i))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	fd.Close()
}

// BenchmarkFollower_Throughput reads one file, already written, line by
// line with Next: the reading cost per line.
func BenchmarkFollower_Throughput(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "app.log")
	writeBenchFile(b, p, b.N)
	f, err := Follow(context.Background(), Options{Globs: []string{p}, NoWatch: true, Tick: make(chan time.Time), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	for i := 0; i < b.N; i++ {
		l, err := f.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(l.Text)) + 1
	}
	b.StopTimer()
	b.SetBytes(bytes / int64(b.N))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkFollower_ThroughputLive follows one file while another goroutine
// appends to it, 100 lines per write, as fast as it can: change events,
// wake-ups and reads together.
func BenchmarkFollower_ThroughputLive(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "app.log")
	writeBenchFile(b, p, 0)
	f, err := Follow(context.Background(), Options{Globs: []string{p}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var chunk []byte
	for i := 0; i < 100; i++ {
		chunk = append(chunk, benchLine(i)...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	werr := make(chan error, 1)
	go func() {
		fd, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			werr <- err
			return
		}
		defer fd.Close()
		for n := 0; n < b.N; n += 100 {
			if _, err := fd.Write(chunk); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := 0; i < b.N; i++ {
		if _, err := f.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := <-werr; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// TestFollower_IdleCPU measures what 500 idle followed files cost: the
// process's CPU time over a few seconds with default options. It asserts
// nothing (timing varies with the machine); run it with
//
//	TAILER_IDLE_CPU=1 go test ./tailer -run IdleCPU -v
func TestFollower_IdleCPU(t *testing.T) {
	if os.Getenv("TAILER_IDLE_CPU") == "" {
		t.Skip("set TAILER_IDLE_CPU=1 to measure")
	}
	dir := t.TempDir()
	for i := 0; i < 500; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%03d.log", i)), benchLine(i))
	}
	f, err := Follow(context.Background(), Options{Globs: []string{filepath.Join(dir, "*.log")}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			if _, err := f.Next(ctx); err != nil {
				return
			}
		}
	}()
	time.Sleep(2 * time.Second) // settle: the first reads are not idle
	window := 10 * time.Second
	before := cpuTime(t)
	time.Sleep(window)
	used := cpuTime(t) - before
	t.Logf("500 idle files: %v CPU in %v = %.3f%% of one core", used, window, 100*used.Seconds()/window.Seconds())
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var quiet = slog.New(slog.DiscardHandler)

// BenchmarkFollower_Sync500 is one discovery pass over 500 idle files (the
// glob evaluated, each file stat'ed): what every poll tick costs.
func BenchmarkFollower_Sync500(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < 500; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.log", i)), []byte(benchLine(i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	f, err := Follow(context.Background(), Options{Globs: []string{filepath.Join(dir, "*.log")}, NoWatch: true, Tick: make(chan time.Time), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for {
		if _, err := f.next(context.Background(), false); err != nil {
			break
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.mu.Lock()
		f.sync(false)
		f.mu.Unlock()
	}
}
