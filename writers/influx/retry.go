package influx

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff between attempts while the server is unavailable.
const (
	backoffBase = 200 * time.Millisecond
	backoffMax  = 30 * time.Second
	// retryAfterMax caps a server's Retry-After, so a wrong header cannot
	// park the writer for hours.
	retryAfterMax = 5 * time.Minute
)

// backoff is the wait before attempt+1: the server's Retry-After when it
// gave one, else exponential from backoffBase, capped at backoffMax. Either
// way with up to +10% (Retry-After) or -50% (exponential) random jitter, so
// a fleet of daemons that lost the same server does not come back in step.
func (w *Writer) backoff(attempt int, retryAfter uint) time.Duration {
	if retryAfter > 0 {
		d := min(time.Duration(retryAfter)*time.Second, retryAfterMax)
		return d + rand.N(d/10+1)
	}
	d := backoffMax
	if attempt < 16 { // beyond, the shift overflows and the cap applies anyway
		d = min(backoffBase<<attempt, backoffMax)
	}
	return d/2 + rand.N(d/2+1)
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
