package bench

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// GoBench is one result line of `go test -bench`.
type GoBench struct {
	Name    string             // without the -GOMAXPROCS suffix
	N       int64              // iterations
	Metrics map[string]float64 // by unit: ns/op, B/op, allocs/op, records/s...
}

// ParseGoBench reads the result lines of `go test -bench` output; other
// lines (goos, PASS, ok) are skipped.
func ParseGoBench(out string) []GoBench {
	var res []GoBench
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		b := GoBench{Name: f[0], N: n, Metrics: map[string]float64{}}
		if i := strings.LastIndexByte(b.Name, '-'); i > 0 {
			if _, err := strconv.Atoi(b.Name[i+1:]); err == nil {
				b.Name = b.Name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			b.Metrics[f[i+1]] = v
		}
		res = append(res, b)
	}
	return res
}

// ParseResult is the parser's figures.
type ParseResult struct {
	Record, Baseline, Noise GoBench
	// CPU is go test's "cpu:" line (the hypervisor's name may differ from /proc/cpuinfo's).
	CPU string
}

// runParseBench runs the parser benchmarks of package ./parse.
func runParseBench(ctx context.Context, repo string) (ParseResult, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "Parse_", "-benchmem", "./parse")
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		return ParseResult{}, fmt.Errorf("go test -bench Parse_ ./parse: %w: %s", err, lastLines(string(out), 10))
	}
	var r ParseResult
	for _, line := range strings.Split(string(out), "\n") {
		if cpu, ok := strings.CutPrefix(line, "cpu: "); ok {
			r.CPU = strings.TrimSpace(cpu)
		}
	}
	for _, b := range ParseGoBench(string(out)) {
		switch b.Name {
		case "BenchmarkParse_Record":
			r.Record = b
		case "BenchmarkParse_Baseline":
			r.Baseline = b
		case "BenchmarkParse_Noise":
			r.Noise = b
		}
	}
	if r.Record.N == 0 || r.Baseline.N == 0 {
		return r, fmt.Errorf("go test -bench Parse_ ./parse: no BenchmarkParse_Record or _Baseline line in: %s", lastLines(string(out), 10))
	}
	return r, nil
}

// rate is records (or lines) per second: the benchmark's own metric when it
// reports one, else from ns/op.
func (b GoBench) rate(unit string) float64 {
	if v, ok := b.Metrics[unit]; ok {
		return v
	}
	if ns := b.Metrics["ns/op"]; ns > 0 {
		return 1e9 / ns
	}
	return 0
}
