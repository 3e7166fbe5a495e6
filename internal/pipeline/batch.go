package pipeline

import (
	"sync/atomic"

	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/tailer"
)

// Batch is a group of records and rejects that travels to every writer. Its
// strings live in its own arena, so a batch is reused only after every writer
// has finished with it (refs drops to zero).
type Batch struct {
	Records []parse.Record
	Rejects []parse.Reject
	Arena   *parse.Arena

	// Ends holds, per file, the offset just after the last line this batch
	// covers: the position that may be saved once the batch is written.
	Ends []FileEnd

	// owner is told when its writer has written the batch (live daemon).
	owner ackTarget

	refs atomic.Int32
	pool *BatchPool
}

// ackTarget is what a written batch is reported to.
type ackTarget interface{ written(b *Batch) }

// FileEnd is a position in a file that a batch reaches.
type FileEnd struct {
	Pos  tailer.Position // the position to save once the batch is written
	Done bool            // the file has ended: its position can be forgotten
}

// Len is the number of records and rejects in b.
func (b *Batch) Len() int { return len(b.Records) + len(b.Rejects) }

func (b *Batch) reset() {
	b.Records = b.Records[:0]
	b.Rejects = b.Rejects[:0]
	b.Ends = b.Ends[:0]
	b.owner = nil
	b.Arena.Reset()
}

// Done releases one writer's hold on b; the last one returns b to its pool.
func (b *Batch) Done() {
	if b.refs.Add(-1) == 0 && b.pool != nil {
		b.pool.put(b)
	}
}

// BatchPool is a fixed set of batches. Taking one blocks while all are in
// flight: that is the pipeline's back-pressure, and what bounds its memory
// (size × batches × bytes per record) whatever the input size.
type BatchPool struct {
	free chan *Batch
	size int
}

// NewBatchPool makes n batches of up to size records each.
func NewBatchPool(n, size int) *BatchPool {
	p := &BatchPool{free: make(chan *Batch, n), size: size}
	for i := 0; i < n; i++ {
		p.free <- &Batch{
			Records: make([]parse.Record, 0, size),
			Arena:   parse.NewArena(size * 512),
			pool:    p,
		}
	}
	return p
}

// Size is the number of records a batch holds before it is full.
func (p *BatchPool) Size() int { return p.size }

// Get returns a free batch, waiting for one; done aborts the wait.
func (p *BatchPool) Get(done <-chan struct{}) (*Batch, bool) {
	select {
	case b := <-p.free:
		return b, true
	case <-done:
		return nil, false
	}
}

func (p *BatchPool) put(b *Batch) {
	b.reset()
	p.free <- b
}
