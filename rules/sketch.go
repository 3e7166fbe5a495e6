package rules

import "math"

// sketch estimates quantiles in bounded memory, the DDSketch way: values are
// counted in logarithmic bins [γ^(i-1), γ^i) with γ = (1+α)/(1-α), and a
// bin's estimate 2γ^i/(γ+1) is within α of every value in it. So every
// quantile it returns is within SketchRelativeError of the true value of the
// same rank (TestSketch_ErrorBound checks it).
//
// Counts are integers, so merging is exact and order-independent: the same
// records give the same estimate however they arrived, which `rules test`
// and `run` agreeing depends on.
//
// Memory is at most maxBins counters (8 KiB): past that the lowest bins are
// folded into one, which only coarsens quantiles below the top 2048 bins
// (values 1e17 times smaller than the largest).
type sketch struct {
	lo    int      // index of bins[0]
	bins  []uint32 // counts, bins[i] is index lo+i
	zero  uint64   // values at or below minIndexable
	count uint64
}

// SketchRelativeError is the percentiles' relative error bound.
const SketchRelativeError = 0.01

const (
	maxBins      = 2048
	minIndexable = 1e-9
)

var (
	sketchGamma   = (1 + SketchRelativeError) / (1 - SketchRelativeError)
	sketchLnGamma = math.Log(sketchGamma)
)

func sketchIndex(v float64) int {
	return int(math.Ceil(math.Log(v) / sketchLnGamma))
}

func (s *sketch) reset() {
	s.bins = s.bins[:0]
	s.zero, s.count = 0, 0
}

func (s *sketch) add(v float64) {
	s.count++
	if !(v > minIndexable) { // NaN too
		s.zero++
		return
	}
	s.addAt(sketchIndex(v), 1)
}

func (s *sketch) addAt(idx int, c uint32) {
	if len(s.bins) == 0 {
		s.lo = idx
		s.bins = append(s.bins[:0], c)
		return
	}
	switch {
	case idx < s.lo:
		if s.lo+len(s.bins)-idx > maxBins {
			// Too wide: count it in the lowest bin we keep.
			s.bins[0] += c
			return
		}
		grow := s.lo - idx
		s.bins = append(s.bins, make([]uint32, grow)...)
		copy(s.bins[grow:], s.bins[:len(s.bins)-grow])
		clear(s.bins[:grow])
		s.lo = idx
	case idx >= s.lo+len(s.bins):
		n := idx - s.lo + 1
		if n > maxBins {
			// Fold the lowest bins into the new lowest one.
			drop := n - maxBins
			var folded uint32
			for i := 0; i < drop && i < len(s.bins); i++ {
				folded += s.bins[i]
			}
			if drop >= len(s.bins) {
				s.bins = s.bins[:0]
			} else {
				s.bins = append(s.bins[:0], s.bins[drop:]...)
			}
			s.lo += drop
			n = maxBins
			if len(s.bins) == 0 {
				s.bins = append(s.bins, 0)
			}
			s.bins[0] += folded
		}
		for len(s.bins) < n {
			s.bins = append(s.bins, 0)
		}
	}
	s.bins[idx-s.lo] += c
}

// merge adds o's counts to s.
func (s *sketch) merge(o *sketch) {
	if o == nil {
		return
	}
	s.count += o.count
	s.zero += o.zero
	// Add from the top, so s widens at most once upward.
	for i := len(o.bins) - 1; i >= 0; i-- {
		if c := o.bins[i]; c != 0 {
			s.addAt(o.lo+i, c)
		}
	}
}

// quantile returns the estimate of the value of rank ⌊q·(n-1)⌋ (0-based,
// ascending); false when empty.
func (s *sketch) quantile(q float64) (float64, bool) {
	if s.count == 0 {
		return 0, false
	}
	rank := uint64(q * float64(s.count-1))
	if rank < s.zero {
		return 0, true
	}
	cum := s.zero
	for i, c := range s.bins {
		cum += uint64(c)
		if cum > rank {
			return 2 * math.Pow(sketchGamma, float64(s.lo+i)) / (sketchGamma + 1), true
		}
	}
	return 2 * math.Pow(sketchGamma, float64(s.lo+len(s.bins)-1)) / (sketchGamma + 1), true
}
