package rules

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSketch_ErrorBound(t *testing.T) {
	dists := map[string]func(r *rand.Rand) float64{
		"lognormal latency": func(r *rand.Rand) float64 { return math.Exp(r.NormFloat64()*1.2 + 6) },
		"uniform tokens":    func(r *rand.Rand) float64 { return float64(r.IntN(100000)) },
		"wide":              func(r *rand.Rand) float64 { return math.Pow(10, r.Float64()*12-3) },
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var s sketch
			vals := make([]float64, 50000)
			for i := range vals {
				vals[i] = gen(r)
				s.add(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999} {
				got, _ := s.quantile(q)
				want := vals[int(q*float64(len(vals)-1))]
				if rel := math.Abs(got-want) / want; want > 0 && rel > SketchRelativeError {
					t.Errorf("q%v: got %v, want %v within %v (off by %.4f)", q, got, want, SketchRelativeError, rel)
				}
			}
			if len(s.bins) > maxBins {
				t.Errorf("bins: got %d, want at most %d", len(s.bins), maxBins)
			}
		})
	}
}

func TestSketch_MergeIsOrderFree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var all, a, b sketch
	for i := range 10000 {
		v := r.ExpFloat64() * 500
		all.add(v)
		if i%3 == 0 {
			a.add(v)
		} else {
			b.add(v)
		}
	}
	var m1, m2 sketch
	m1.merge(&a)
	m1.merge(&b)
	m2.merge(&b)
	m2.merge(&a)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		x, _ := all.quantile(q)
		y, _ := m1.quantile(q)
		z, _ := m2.quantile(q)
		if x != y || x != z {
			t.Errorf("q%v: one sketch %v, merged %v and %v", q, x, y, z)
		}
	}
}

func TestSketch_BoundedBins(t *testing.T) {
	var s sketch
	for e := -300; e <= 300; e++ {
		s.add(math.Pow(10, float64(e)))
	}
	if len(s.bins) > maxBins {
		t.Errorf("bins: got %d, want at most %d", len(s.bins), maxBins)
	}
	if got, _ := s.quantile(1); math.Abs(got-1e300)/1e300 > SketchRelativeError {
		t.Errorf("max: got %v, want 1e300", got)
	}
}
