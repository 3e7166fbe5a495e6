package bench

import (
	"os"
	"testing"
)

func TestParseGoBench_Lines(t *testing.T) {
	b, err := os.ReadFile("testdata/gobench.txt")
	if err != nil {
		t.Fatal(err)
	}
	res := ParseGoBench(string(b))
	if got, want := len(res), 3; got != want {
		t.Fatalf("results: got %d, want %d", got, want)
	}
	for _, tc := range []struct {
		i      int
		name   string
		n      int64
		unit   string
		metric float64
	}{
		{0, "BenchmarkParse_Record", 1000000, "records/s", 842523},
		{0, "BenchmarkParse_Record", 1000000, "allocs/op", 0},
		{0, "BenchmarkParse_Record", 1000000, "MB/s", 262.61},
		{1, "BenchmarkParse_Baseline", 2000000, "ns/op", 601.5},
		{2, "BenchmarkParse_Noise", 30000000, "lines/s", 24937656},
	} {
		t.Run(tc.name+" "+tc.unit, func(t *testing.T) {
			r := res[tc.i]
			if r.Name != tc.name || r.N != tc.n {
				t.Errorf("got %s %d, want %s %d", r.Name, r.N, tc.name, tc.n)
			}
			got, ok := r.Metrics[tc.unit]
			if !ok || got != tc.metric {
				t.Errorf("%s: got %v (present %v), want %v", tc.unit, got, ok, tc.metric)
			}
		})
	}
}

func TestGoBench_Rate(t *testing.T) {
	b := GoBench{Metrics: map[string]float64{"ns/op": 500}}
	if got, want := b.rate("records/s"), 2e6; got != want {
		t.Errorf("from ns/op: got %v, want %v", got, want)
	}
	b.Metrics["records/s"] = 1234
	if got, want := b.rate("records/s"), 1234.0; got != want {
		t.Errorf("reported: got %v, want %v", got, want)
	}
}
