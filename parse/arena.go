package parse

import "unsafe"

// Arena holds the bytes that a batch of Records points into, so that parsing a
// line allocates nothing in steady state. Strings handed out stay valid until
// Reset; the owner of a batch resets its arena only after every writer is done
// with the batch.
type Arena struct {
	buf []byte
}

// NewArena returns an arena with room for about size bytes before it grows.
func NewArena(size int) *Arena {
	return &Arena{buf: make([]byte, 0, size)}
}

// Reset forgets every string handed out; their memory is reused.
func (a *Arena) Reset() { a.buf = a.buf[:0] }

// Len is the number of bytes in use.
func (a *Arena) Len() int { return len(a.buf) }

// grow makes room for n more bytes. It never moves bytes already handed out:
// when the current chunk is full a new one is started, and the old one stays
// alive for as long as strings point into it.
func (a *Arena) grow(n int) {
	if cap(a.buf)-len(a.buf) >= n {
		return
	}
	size := 2 * cap(a.buf)
	if size < 64<<10 {
		size = 64 << 10
	}
	for size < n {
		size *= 2
	}
	a.buf = make([]byte, 0, size)
}

// String copies b into the arena and returns it as a string.
func (a *Arena) String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	a.grow(len(b))
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}

// Bytes copies b into the arena and returns the copy.
func (a *Arena) Bytes(b []byte) []byte {
	a.grow(len(b))
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[start:len(a.buf):len(a.buf)]
}
