package rules

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tokentail/tokentail/parse"
)

// Stream yields records, roughly in time order (a log file). The record
// returned is valid until the next call; io.EOF ends the stream.
type Stream interface {
	Next() (*parse.Record, error)
}

// ReplayStats say what a replay went through.
type ReplayStats struct {
	Records     int64
	Transitions int64
	// First and Last are the earliest and latest occurred_at seen.
	First, Last time.Time
}

// Replay runs history through e, as `run` would have seen it live: the
// streams are merged by occurred_at (so files read one after another look
// like files written side by side), the clock is the latest occurred_at
// seen, and e.Advance is called with it before each record. After the last
// record the clock moves to the first tick after it, so every record is
// evaluated. emit receives each transition in order; an error from it stops
// the replay.
func Replay(e *Engine, streams []Stream, emit func(*Transition) error) (ReplayStats, error) {
	var st ReplayStats
	h := make(streamHeap, 0, len(streams))
	for _, s := range streams {
		hs := &headStream{s: s}
		ok, err := hs.next()
		if err != nil {
			return st, err
		}
		if ok {
			h = append(h, hs)
		}
	}
	heap.Init(&h)
	var clock time.Time
	send := func(ts []Transition) error {
		for i := range ts {
			st.Transitions++
			if err := emit(&ts[i]); err != nil {
				return err
			}
		}
		return nil
	}
	for len(h) > 0 {
		hs := h[0]
		rec := hs.rec
		if rec.OccurredAt.After(clock) {
			clock = rec.OccurredAt
		}
		if st.Records == 0 || rec.OccurredAt.Before(st.First) {
			st.First = rec.OccurredAt
		}
		st.Records++
		if err := send(e.Advance(clock)); err != nil {
			return st, err
		}
		e.Observe(rec)
		ok, err := hs.next()
		if err != nil {
			return st, err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	st.Last = clock
	if st.Records > 0 {
		end := clock.Add(e.File().QueryOffset + e.File().EvaluationInterval)
		if err := send(e.Advance(end)); err != nil {
			return st, err
		}
	}
	return st, nil
}

type headStream struct {
	s   Stream
	rec *parse.Record
}

func (h *headStream) next() (bool, error) {
	rec, err := h.s.Next()
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("replay: %w", err)
	}
	h.rec = rec
	return true, nil
}

type streamHeap []*headStream

func (h streamHeap) Len() int           { return len(h) }
func (h streamHeap) Less(i, j int) bool { return h[i].rec.OccurredAt.Before(h[j].rec.OccurredAt) }
func (h streamHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *streamHeap) Push(x any)        { *h = append(*h, x.(*headStream)) }
func (h *streamHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
