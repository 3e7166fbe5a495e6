package influx

import (
	"errors"
	"io"
	"testing"
)

func TestFence_StopsLateReads(t *testing.T) {
	buf := []byte("ai_usage v=1i 1\n")
	f := &fence{data: buf}
	r := f.newBody()
	p := make([]byte, 4)
	if n, err := r.Read(p); n != 4 || err != nil {
		t.Fatalf("got %d, %v; want 4, nil", n, err)
	}
	again, err := io.ReadAll(f.newBody()) // GetBody: a fresh reader from the start
	if err != nil || string(again) != string(buf) {
		t.Fatalf("second reader got %q, %v; want the whole body", again, err)
	}
	f.stop()
	copy(buf, "NEXT BATCH") // the writer reuses its buffer
	if n, err := r.Read(p); n != 0 || !errors.Is(err, errBodyFenced) {
		t.Errorf("read after stop got %d, %v; want 0, errBodyFenced", n, err)
	}
}
