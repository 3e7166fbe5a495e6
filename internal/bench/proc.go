package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100
// on every Linux architecture Go supports (the kernel fixes it for userspace
// whatever CONFIG_HZ is), and reading it needs sysconf, i.e. cgo.
const clockTick = 10 * time.Millisecond

// CPUTime is utime+stime of a live process, from /proc/<pid>/stat.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a stat line. The
// command name (field 2) may hold spaces and parentheses: fields are counted
// after its last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state): utime is field 14, f[11].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want at least 13", len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("stat: %w", err)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// RSS is the resident set size of a live process in KiB (VmRSS).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read rss: %w", err)
	}
	return parseStatusRSS(b)
}

func parseStatusRSS(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, errors.New("status: no VmRSS line")
}

// Sample is one reading of a process.
type Sample struct {
	At     time.Time
	CPU    time.Duration // utime+stime so far
	RSSKiB int64
	Phase  string // what the run was doing (the outage part labels them)
}

// Sampler reads a process's CPU time and RSS every Interval until stopped.
type Sampler struct {
	pid      int
	interval time.Duration

	mu      sync.Mutex
	phase   string
	samples []Sample

	cancel context.CancelFunc
	done   chan struct{}
}

// StartSampler samples pid at once and then every interval, until Stop.
func StartSampler(pid int, interval time.Duration) *Sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sampler{pid: pid, interval: interval, cancel: cancel, done: make(chan struct{})}
	s.take()
	go s.loop(ctx)
	return s
}

func (s *Sampler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.take()
		}
	}
}

// take records one sample; a process that is gone yields none.
func (s *Sampler) take() {
	cpu, err1 := CPUTime(s.pid)
	rss, err2 := RSS(s.pid)
	if err1 != nil || err2 != nil {
		return
	}
	s.mu.Lock()
	s.samples = append(s.samples, Sample{At: time.Now(), CPU: cpu, RSSKiB: rss, Phase: s.phase})
	s.mu.Unlock()
}

// SetPhase labels the samples taken from now on, after taking one sample so
// that each phase begins with a fresh reading.
func (s *Sampler) SetPhase(phase string) {
	s.take()
	s.mu.Lock()
	s.phase = phase
	s.mu.Unlock()
	s.take()
}

// Stop takes a last sample, ends the sampling goroutine and returns every sample.
func (s *Sampler) Stop() []Sample {
	s.take()
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...)
}

// MaxRSS is the largest RSS among samples of phase ("" means every phase).
func MaxRSS(samples []Sample, phase string) int64 {
	var m int64
	for _, s := range samples {
		if (phase == "" || s.Phase == phase) && s.RSSKiB > m {
			m = s.RSSKiB
		}
	}
	return m
}

// CPUShare is the CPU time used between the first and last samples of
// phase, as a fraction of one core over the same wall time.
func CPUShare(samples []Sample, phase string) (float64, time.Duration) {
	var first, last *Sample
	for i := range samples {
		if phase != "" && samples[i].Phase != phase {
			continue
		}
		if first == nil {
			first = &samples[i]
		}
		last = &samples[i]
	}
	if first == nil || !last.At.After(first.At) {
		return 0, 0
	}
	wall := last.At.Sub(first.At)
	return float64(last.CPU-first.CPU) / float64(wall), wall
}
