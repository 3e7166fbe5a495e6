package influx

import (
	"errors"
	"io"
	"sync"
)

// errBodyFenced is what a late reader of a request body gets.
var errBodyFenced = errors.New("request body read after its request ended")

// fence guards a slice of the writer's reused buffer while an HTTP request
// sends it.
//
// Concurrency hazard: net/http may go on reading a request body after
// Client.Do has returned (the server answered early, e.g. 413, while the
// transport's write loop is still sending). The writer reuses its buffer for
// the next batch, so without the fence that loop could send bytes of a
// later batch. After stop, every read fails and the transport drops the
// connection instead.
type fence struct {
	mu      sync.Mutex
	data    []byte
	stopped bool
}

// newBody returns a reader over f's data; GetBody calls it again when the
// transport must resend on a fresh connection.
func (f *fence) newBody() io.ReadCloser {
	return &fencedReader{f: f}
}

// stop forbids every further read. Call it once the request has returned.
func (f *fence) stop() {
	f.mu.Lock()
	f.stopped = true
	f.data = nil
	f.mu.Unlock()
}

type fencedReader struct {
	f   *fence
	off int
}

func (r *fencedReader) Read(p []byte) (int, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if r.f.stopped {
		return 0, errBodyFenced
	}
	if r.off >= len(r.f.data) {
		return 0, io.EOF
	}
	n := copy(p, r.f.data[r.off:])
	r.off += n
	return n, nil
}

func (r *fencedReader) Close() error { return nil }
