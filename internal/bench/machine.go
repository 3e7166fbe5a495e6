package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a run happened: figures from two machines are not
// comparable, and a busy machine explains noisy ones.
type Machine struct {
	CPU       string // model name from /proc/cpuinfo
	Cores     int
	MemoryKiB int64 // MemTotal
	Go        string
	Kernel    string
	Date      time.Time
	LoadStart string // /proc/loadavg's three figures when the run began
	LoadEnd   string
	Commit    string // git describe of the measured tree
}

// ReadMachine reads the machine's description from /proc.
func ReadMachine(now time.Time) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: now, LoadStart: LoadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = cpuModel(b)
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryKiB = memTotal(b)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// LoadAverage is the 1, 5 and 15 minute load averages, "" when unknown.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// cpuModel is the first "model name" of /proc/cpuinfo (ARM kernels may
// have none: then "Hardware" or the first "CPU part").
func cpuModel(cpuinfo []byte) string {
	var fallback string
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			return v
		case "Hardware", "CPU part":
			if fallback == "" {
				fallback = v
			}
		}
	}
	if fallback == "" {
		return "unknown"
	}
	return fallback
}

// memTotal is MemTotal of /proc/meminfo in KiB.
func memTotal(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// String is the one-line description heading the report.
func (m Machine) String() string {
	return fmt.Sprintf("%s, %d cores, %.1f GiB, %s, Linux %s", m.CPU, m.Cores, float64(m.MemoryKiB)/(1<<20), m.Go, m.Kernel)
}
