package influx

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentail/tokentail/internal/testenv"
)

// logWatch is a slog handler that keeps messages and signals the first
// one that starts with prefix.
type logWatch struct {
	prefix string
	seen   chan struct{}
	once   *sync.Once
	mu     *sync.Mutex
	msgs   *[]string
}

func newLogWatch(prefix string) logWatch {
	return logWatch{prefix: prefix, seen: make(chan struct{}), once: &sync.Once{}, mu: &sync.Mutex{}, msgs: new([]string)}
}

func (h logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h logWatch) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h logWatch) WithGroup(string) slog.Handler            { return h }
func (h logWatch) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	*h.msgs = append(*h.msgs, r.Message)
	h.mu.Unlock()
	if strings.HasPrefix(r.Message, h.prefix) {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}

func (h logWatch) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range *h.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// TestInflux_OutageRecovers stops the real server under a Write: the
// writer retries, logs the outage once, and lands every point once the
// server is back.
func TestInflux_OutageRecovers(t *testing.T) {
	testenv.OutageTest(t)
	tgt := testenv.Influx(t)
	logs := newLogWatch("influxdb unavailable")
	w, err := New(Config{URL: tgt.URL, Bucket: tgt.Bucket, Timeout: 5 * time.Second, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	recs := clusteredRecords(1000, time.Now().Truncate(time.Second).Add(-time.Hour), "out")

	testenv.Stop(t, testenv.InfluxDB)
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	go func() {
		res, err := w.Write(ctx, recs)
		done <- outcome{res, err}
	}()
	select {
	case <-logs.seen: // the writer met the outage
	case o := <-done:
		t.Fatalf("Write returned during the outage: %+v, %v", o.res, o.err)
	}
	testenv.Start(t, testenv.InfluxDB)
	o := <-done
	if o.err != nil || o.res.Written != len(recs) || o.res.Refused != 0 {
		t.Fatalf("got %+v, %v; want all %d written", o.res, o.err, len(recs))
	}
	if got := influxInt(t, tgt, "SELECT count(input_tokens) FROM ai_usage"); got != int64(len(recs)) {
		t.Errorf("got %d points, want %d", got, len(recs))
	}
	if got := logs.count("influxdb unavailable"); got != 1 {
		t.Errorf("got %d outage logs, want 1", got)
	}
	if got := logs.count("influxdb available again"); got != 1 {
		t.Errorf("got %d recovery logs, want 1", got)
	}
}
