package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU_CommandWithSpacesAndParens(t *testing.T) {
	b, err := os.ReadFile("testdata/stat.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseStatCPU(b)
	if err != nil {
		t.Fatal(err)
	}
	// utime 157 + stime 43 ticks of 10 ms.
	if want := 2 * time.Second; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := parseStatCPU([]byte("12 (x) S 1 2")); err == nil {
		t.Error("short stat line: got no error")
	}
}

func TestParseStatusRSS(t *testing.T) {
	b, err := os.ReadFile("testdata/status.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseStatusRSS(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(36512); got != want {
		t.Errorf("got %d KiB, want %d", got, want)
	}
	if _, err := parseStatusRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("no VmRSS: got no error")
	}
}

func TestCPUTime_Self(t *testing.T) {
	// The test process has used some CPU, and RSS is never 0 for a live process.
	cpu, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu < 0 {
		t.Errorf("cpu: got %s", cpu)
	}
	rss, err := RSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 {
		t.Errorf("rss: got %d KiB, want > 0", rss)
	}
}

func TestSamples_PhasesCPUShareMaxRSS(t *testing.T) {
	t0 := time.Unix(1000, 0)
	samples := []Sample{
		{At: t0, CPU: 0, RSSKiB: 100, Phase: "before"},
		{At: t0.Add(time.Second), CPU: 100 * time.Millisecond, RSSKiB: 120, Phase: "before"},
		{At: t0.Add(2 * time.Second), CPU: 200 * time.Millisecond, RSSKiB: 300, Phase: "during"},
		{At: t0.Add(4 * time.Second), CPU: 1200 * time.Millisecond, RSSKiB: 250, Phase: "during"},
	}
	for _, tc := range []struct {
		phase  string
		share  float64
		wall   time.Duration
		maxRSS int64
	}{
		{"before", 0.1, time.Second, 120},
		{"during", 0.5, 2 * time.Second, 300},
		{"", 0.3, 4 * time.Second, 300},
		{"after", 0, 0, 0},
	} {
		t.Run(tc.phase, func(t *testing.T) {
			share, wall := CPUShare(samples, tc.phase)
			if share < tc.share-1e-9 || share > tc.share+1e-9 || wall != tc.wall {
				t.Errorf("CPUShare: got %v over %s, want %v over %s", share, wall, tc.share, tc.wall)
			}
			if got := MaxRSS(samples, tc.phase); got != tc.maxRSS {
				t.Errorf("MaxRSS: got %d, want %d", got, tc.maxRSS)
			}
		})
	}
}
