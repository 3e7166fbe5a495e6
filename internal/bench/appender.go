package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Appender appends records to files at a steady rate, as applications log,
// stamping each record's timestamp with the wall clock at the moment it is
// appended: ingested_at − timestamp is then the whole delay from the log
// line to the database row. loggen's live mode draws timestamps of several
// precisions (whole seconds among them), too coarse for a latency in ms.
type Appender struct {
	files []*os.File
	rate  int
	// prefix makes event ids unique across the appenders of one run.
	prefix string
	seq    int64
	buf    []byte
}

// OpenAppender creates (or appends to) n files in dir named name-NNN.log.
func OpenAppender(dir, name string, n, rate int) (*Appender, error) {
	a := &Appender{rate: rate, prefix: name}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("%s-%03d.log", name, i))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("open %s: %w", p, err)
		}
		a.files = append(a.files, f)
	}
	return a, nil
}

// Written is the number of records appended so far.
func (a *Appender) Written() int64 { return a.seq }

// WriteEach appends one record to each file, now: the idle part's files hold
// one record each, so the daemon has read every one of them once.
func (a *Appender) WriteEach() error {
	for _, f := range a.files {
		a.buf = a.appendRecord(a.buf[:0], time.Now())
		if _, err := f.Write(a.buf); err != nil {
			return fmt.Errorf("append to %s: %w", f.Name(), err)
		}
	}
	return nil
}

// Run appends at the appender's rate until d has passed or ctx ends, and
// returns the number of records it wrote. Every 10 ms it writes what is due
// (rate × elapsed − written), spread round-robin over the files, with one
// write(2) per file: the records of one tick differ in time by microseconds.
func (a *Appender) Run(ctx context.Context, d time.Duration) (int64, error) {
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	stop := time.NewTimer(d)
	defer stop.Stop()
	var written int64
	bufs := make([][]byte, len(a.files))
	for {
		select {
		case <-ctx.Done():
			return written, nil
		case <-stop.C:
			return written, nil
		case <-tick.C:
		}
		elapsed := time.Since(start)
		if elapsed > d {
			elapsed = d
		}
		due := int64(float64(a.rate)*elapsed.Seconds()) - written
		if due <= 0 {
			continue
		}
		for i := range bufs {
			bufs[i] = bufs[i][:0]
		}
		for k := int64(0); k < due; k++ {
			i := int((written + k) % int64(len(a.files)))
			bufs[i] = a.appendRecord(bufs[i], time.Now())
		}
		for i, f := range a.files {
			if len(bufs[i]) == 0 {
				continue
			}
			if _, err := f.Write(bufs[i]); err != nil {
				return written, fmt.Errorf("append to %s: %w", f.Name(), err)
			}
		}
		written += due
	}
}

// appendRecord appends one ~300-byte record line (the shape of loggen's
// benchmark line) stamped t, with a nanosecond timestamp.
func (a *Appender) appendRecord(b []byte, t time.Time) []byte {
	a.seq++
	n := a.seq
	t = t.UTC()
	b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, ` INFO app.llm AI_COST: {"request_id":"`...)
	b = append(b, a.prefix...)
	b = append(b, '-')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, `","timestamp":"`...)
	b = t.AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
	b = append(b, `","user_id":"user_`...)
	b = strconv.AppendInt(b, n%1000, 10)
	b = append(b, `","feature":"`...)
	b = append(b, features[n%int64(len(features))]...)
	b = append(b, `","provider":"openai","model":"gpt-4o-mini","input_tokens":`...)
	b = strconv.AppendInt(b, 200+n%1800, 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, 20+n%400, 10)
	b = append(b, `,"cost_usd":0.0001794,"duration_ms":512.3,"success":true}`...)
	return append(b, '\n')
}

var features = [...]string{"chat", "summarize", "quiz_generate", "rag_answer"}

// Close closes the files.
func (a *Appender) Close() {
	for _, f := range a.files {
		f.Close()
	}
	a.files = nil
}
