package influx

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
)

// records returns n records that share their time and tags, with feature
// "bad" on the indexes in bad.
func records(n int, bad ...int) []parse.Record {
	at := time.Now().Truncate(time.Second).Add(-time.Minute)
	recs := make([]parse.Record, n)
	for i := range recs {
		r := sampleRecord()
		r.EventID = fmt.Sprintf("req-%d", i)
		r.OccurredAt = at
		r.InputTokens = int64(i + 1)
		recs[i] = r
	}
	for _, i := range bad {
		recs[i].Feature = "bad"
	}
	return recs
}

// fakeInflux is an httptest server that answers writes with the status
// that respond chooses, and keeps the lines of accepted requests.
type fakeInflux struct {
	srv     *httptest.Server
	respond func(n int, lines []string, h http.Header) (status int, retryAfter, msg string)

	mu       sync.Mutex
	requests int
	accepted map[string]bool // line -> present
	encoding []string
}

func newFakeInflux(t *testing.T, respond func(n int, lines []string, h http.Header) (int, string, string)) *fakeInflux {
	f := &fakeInflux{respond: respond, accepted: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeInflux) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v2/write" || r.URL.Query().Get("precision") != "ns" {
		http.Error(w, "unexpected "+r.URL.String(), http.StatusNotFound)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	var lines []string
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	f.mu.Lock()
	f.requests++
	n := f.requests
	f.encoding = append(f.encoding, r.Header.Get("Content-Encoding"))
	f.mu.Unlock()
	status, retryAfter, msg := f.respond(n, lines, r.Header)
	if status == http.StatusNoContent {
		f.mu.Lock()
		for _, l := range lines {
			f.accepted[l] = true
		}
		f.mu.Unlock()
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	if msg != "" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Influxdb-Error", msg)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q}`, msg)
		return
	}
	w.WriteHeader(status)
}

// sleeps replaces the writer's sleep: it records each wait and returns at
// once, so retry tests step time instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func newTestWriter(t *testing.T, url string, logs *bytes.Buffer) (*Writer, *sleeps) {
	t.Helper()
	w, err := New(Config{URL: url, Bucket: "db/rp", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	s := &sleeps{}
	w.sleep = s.sleep
	return w, s
}

func TestWriter_RetryAfter(t *testing.T) {
	f := newFakeInflux(t, func(n int, _ []string, _ http.Header) (int, string, string) {
		if n <= 2 {
			return http.StatusServiceUnavailable, "2", ""
		}
		return http.StatusNoContent, "", ""
	})
	var logs bytes.Buffer
	w, s := newTestWriter(t, f.srv.URL, &logs)

	recs := records(50)
	res, err := w.Write(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 50 || res.Refused != 0 {
		t.Errorf("got written %d refused %d, want 50 and 0", res.Written, res.Refused)
	}
	if got, want := len(f.accepted), 50; got != want {
		t.Errorf("server got %d distinct lines, want %d", got, want)
	}
	if got, want := len(s.d), 2; got != want {
		t.Fatalf("got %d waits, want %d", got, want)
	}
	for _, d := range s.d {
		if d < 2*time.Second || d > 2200*time.Millisecond {
			t.Errorf("got wait %s, want Retry-After 2s plus at most 10%%", d)
		}
	}
	if got := strings.Count(logs.String(), "influxdb unavailable"); got != 1 {
		t.Errorf("got %d outage logs, want 1:\n%s", got, logs.String())
	}
	if got := strings.Count(logs.String(), "influxdb available again"); got != 1 {
		t.Errorf("got %d recovery logs, want 1:\n%s", got, logs.String())
	}
}

func TestWriter_RetryBackoff(t *testing.T) {
	tests := []struct {
		name   string
		status int
	}{
		{"429", http.StatusTooManyRequests},
		{"500", http.StatusInternalServerError},
		{"502", http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeInflux(t, func(n int, _ []string, _ http.Header) (int, string, string) {
				if n <= 5 {
					return tt.status, "", ""
				}
				return http.StatusNoContent, "", ""
			})
			var logs bytes.Buffer
			w, s := newTestWriter(t, f.srv.URL, &logs)
			res, err := w.Write(context.Background(), records(3))
			if err != nil {
				t.Fatal(err)
			}
			if res.Written != 3 {
				t.Errorf("got written %d, want 3", res.Written)
			}
			if len(s.d) != 5 {
				t.Fatalf("got %d waits, want 5", len(s.d))
			}
			for i, d := range s.d {
				full := backoffBase << i
				if d < full/2 || d > full {
					t.Errorf("wait %d: got %s, want in [%s, %s]", i, d, full/2, full)
				}
			}
		})
	}
}

func TestWriter_Backoff_Capped(t *testing.T) {
	w := &Writer{}
	for _, attempt := range []int{8, 20, 64, 1000} {
		if d := w.backoff(attempt, 0); d < backoffMax/2 || d > backoffMax {
			t.Errorf("attempt %d: got %s, want in [%s, %s]", attempt, d, backoffMax/2, backoffMax)
		}
	}
	if d := w.backoff(0, 100000); d < retryAfterMax || d > retryAfterMax*11/10 {
		t.Errorf("huge Retry-After: got %s, want about %s", d, retryAfterMax)
	}
}

func TestWriter_ConnectionRefused(t *testing.T) {
	// A port that was listening a moment ago and is now closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	var logs bytes.Buffer
	w, _ := newTestWriter(t, "http://"+addr, &logs)
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	w.sleep = func(ctx context.Context, d time.Duration) error {
		if attempts++; attempts == 3 {
			cancel()
		}
		return ctx.Err()
	}
	res, err := w.Write(ctx, records(4))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got error %v, want context.Canceled", err)
	}
	if res.Written != 0 || res.Refused != 0 {
		t.Errorf("got written %d refused %d, want 0 and 0", res.Written, res.Refused)
	}
	if attempts != 3 {
		t.Errorf("got %d retries, want 3", attempts)
	}
	if !strings.Contains(err.Error(), "connect") {
		t.Errorf("error %q does not say what failed", err)
	}
	if got := strings.Count(logs.String(), "influxdb unavailable"); got != 1 {
		t.Errorf("got %d outage logs, want 1", got)
	}
}

func TestWriter_Timeout(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		first := false
		once.Do(func() { first = true })
		if first {
			<-release // the first request hangs past the writer's timeout
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	defer close(release)

	w, err := New(Config{URL: srv.URL, Bucket: "b", Timeout: time.Second, Logger: slog.New(slog.DiscardHandler)}) // the retry, not hanging, must fit in it even on a loaded machine
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := &sleeps{}
	w.sleep = s.sleep
	res, err := w.Write(context.Background(), records(2))
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 2 || len(s.d) != 1 {
		t.Errorf("got written %d after %d retries, want 2 after 1", res.Written, len(s.d))
	}
}

func TestWriter_PartialWriteBisects(t *testing.T) {
	const msg = `partial write: field type conflict: input field "input_tokens" on measurement "ai_usage" is type float, already exists as type integer dropped=1`
	f := newFakeInflux(t, func(_ int, lines []string, _ http.Header) (int, string, string) {
		for _, l := range lines {
			if strings.Contains(l, "feature=bad") {
				return http.StatusBadRequest, "", msg
			}
		}
		return http.StatusNoContent, "", ""
	})
	var logs bytes.Buffer
	w, _ := newTestWriter(t, f.srv.URL, &logs)

	bad := []int{0, 17, 18, 63}
	recs := records(64, bad...)
	res, err := w.Write(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Refused, len(bad); got != want {
		t.Errorf("got refused %d, want %d", got, want)
	}
	if got, want := res.Written, 64-len(bad); got != want {
		t.Errorf("got written %d, want %d", got, want)
	}
	for i, rf := range res.Refusals {
		if rf.Index != bad[i] {
			t.Errorf("refusal %d: got index %d, want %d", i, rf.Index, bad[i])
		}
		if rf.Reason != msg {
			t.Errorf("refusal %d: got reason %q, want the server's message", i, rf.Reason)
		}
	}
	if got, want := len(f.accepted), 64-len(bad); got != want {
		t.Errorf("server holds %d good lines, want %d", got, want)
	}
	if got := strings.Count(logs.String(), "influxdb refused a point"); got != len(bad) {
		t.Errorf("got %d refusal logs, want %d", got, len(bad))
	}
	if !strings.Contains(logs.String(), "event_id=req-17") || !strings.Contains(logs.String(), "field type conflict") {
		t.Errorf("refusal logs lack the event id or the server's message:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "unavailable") {
		t.Errorf("a refusal was logged as an outage:\n%s", logs.String())
	}
}

func TestWriter_RefusalLogsBounded(t *testing.T) {
	f := newFakeInflux(t, func(_ int, lines []string, _ http.Header) (int, string, string) {
		return http.StatusBadRequest, "", "partial write: points beyond retention policy dropped=1"
	})
	var logs bytes.Buffer
	w, _ := newTestWriter(t, f.srv.URL, &logs)
	res, err := w.Write(context.Background(), records(40))
	if err != nil {
		t.Fatal(err)
	}
	if res.Refused != 40 || res.Written != 0 || len(res.Refusals) != 40 {
		t.Errorf("got refused %d (%d listed), written %d; want 40, 40, 0", res.Refused, len(res.Refusals), res.Written)
	}
	if got := strings.Count(logs.String(), "influxdb refused a point"); got != maxLoggedRefusals {
		t.Errorf("got %d per-point logs, want %d", got, maxLoggedRefusals)
	}
	if !strings.Contains(logs.String(), "not_logged=30") {
		t.Errorf("no summary of the unlogged refusals:\n%s", logs.String())
	}
}

func TestWriter_TooLargeSplits(t *testing.T) {
	const limit = 1000 // bytes per request the fake accepts
	var sizes []int
	var mu sync.Mutex
	f := newFakeInflux(t, func(_ int, lines []string, _ http.Header) (int, string, string) {
		n := 0
		for _, l := range lines {
			n += len(l) + 1
		}
		mu.Lock()
		sizes = append(sizes, n)
		mu.Unlock()
		if n > limit {
			return http.StatusRequestEntityTooLarge, "", ""
		}
		return http.StatusNoContent, "", ""
	})
	var logs bytes.Buffer
	w, _ := newTestWriter(t, f.srv.URL, &logs)

	recs := records(40)
	huge := sampleRecord()
	huge.EventID, huge.Feature = "huge", strings.Repeat("f", 2*limit)
	recs = append(recs, huge)
	res, err := w.Write(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 40 || res.Refused != 1 || res.Refusals[0].Index != 40 {
		t.Errorf("got written %d refused %v, want 40 written and record 40 refused", res.Written, res.Refusals)
	}
	if got, want := len(f.accepted), 40; got != want {
		t.Errorf("server holds %d lines, want %d", got, want)
	}
	if len(sizes) < 3 {
		t.Errorf("got %d requests, want the batch split", len(sizes))
	}
}

func TestWriter_ChunksLargeBatches(t *testing.T) {
	var sizes []int
	var mu sync.Mutex
	f := newFakeInflux(t, func(_ int, lines []string, _ http.Header) (int, string, string) {
		mu.Lock()
		sizes = append(sizes, len(lines))
		mu.Unlock()
		return http.StatusNoContent, "", ""
	})
	var logs bytes.Buffer
	w, _ := newTestWriter(t, f.srv.URL, &logs)
	w.maxBody = 2000 // ~9 lines of ~200 bytes

	res, err := w.Write(context.Background(), records(100))
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 100 || len(f.accepted) != 100 {
		t.Errorf("got written %d, server holds %d; want 100, 100", res.Written, len(f.accepted))
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	if total != 100 || len(sizes) < 10 {
		t.Errorf("got requests of %v lines, want 100 lines in >= 10 requests", sizes)
	}
}

func TestWriter_PermanentError(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			f := newFakeInflux(t, func(int, []string, http.Header) (int, string, string) {
				return status, "", "database not found: \"db\""
			})
			var logs bytes.Buffer
			w, s := newTestWriter(t, f.srv.URL, &logs)
			res, err := w.Write(context.Background(), records(5))
			if err == nil {
				t.Fatal("got no error, want one")
			}
			if !strings.Contains(err.Error(), "database not found") {
				t.Errorf("error %q lacks the server's message", err)
			}
			if res.Written != 0 || res.Refused != 0 || len(s.d) != 0 || f.requests != 1 {
				t.Errorf("got written %d refused %d after %d retries and %d requests, want 0 0 0 1",
					res.Written, res.Refused, len(s.d), f.requests)
			}
		})
	}
}

func TestWriter_Gzip(t *testing.T) {
	f := newFakeInflux(t, func(int, []string, http.Header) (int, string, string) {
		return http.StatusNoContent, "", ""
	})
	w, err := New(Config{URL: f.srv.URL, Bucket: "b", Gzip: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for range 2 { // the second batch reuses the compressor
		if _, err := w.Write(context.Background(), records(30)); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.accepted) != 30 {
		t.Errorf("server holds %d lines, want 30", len(f.accepted))
	}
	for _, enc := range f.encoding {
		if enc != "gzip" {
			t.Errorf("got Content-Encoding %q, want gzip", enc)
		}
	}
}

func TestWriter_LocallyRefused(t *testing.T) {
	f := newFakeInflux(t, func(int, []string, http.Header) (int, string, string) {
		return http.StatusNoContent, "", ""
	})
	var logs bytes.Buffer
	w, _ := newTestWriter(t, f.srv.URL, &logs)
	recs := records(3)
	recs[1].OccurredAt = time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC)
	res, err := w.Write(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 2 || res.Refused != 1 || res.Refusals[0].Index != 1 {
		t.Errorf("got written %d refusals %v, want 2 and record 1", res.Written, res.Refusals)
	}
}

func TestWriter_Close(t *testing.T) {
	w, err := New(Config{URL: "http://127.0.0.1:1", Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	w.Close()
	if _, err := w.Write(context.Background(), records(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("got %v, want ErrClosed", err)
	}
}

func TestNew_Config(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error, "" for none
	}{
		{"ok", Config{URL: "http://h:8086", Bucket: "db/rp"}, ""},
		{"path prefix", Config{URL: "https://h/influx/", Bucket: "b", Org: "o"}, ""},
		{"no scheme", Config{URL: "h:8086", Bucket: "b"}, "http(s)"},
		{"no bucket", Config{URL: "http://h"}, "bucket"},
		{"negative timeout", Config{URL: "http://h", Bucket: "b", Timeout: -1}, "negative"},
		{"comment measurement", Config{URL: "http://h", Bucket: "b", Measurement: "#x"}, "comment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				w.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestNew_WriteURL(t *testing.T) {
	w, err := New(Config{URL: "https://h/influx", Bucket: "db/rp", Org: "my org"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got, want := w.writeURL, "https://h/influx/api/v2/write?bucket=db%2Frp&org=my+org&precision=ns"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestWriter_Ping(t *testing.T) {
	tests := []struct {
		name   string
		status map[string]int
		ok     bool
	}{
		{"influxdb /ping", map[string]int{"/ping": 204}, true},
		{"only /health", map[string]int{"/health": 200}, true},
		{"down", map[string]int{"/ping": 503, "/health": 200}, false},
		{"neither", map[string]int{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if s, ok := tt.status[r.URL.Path]; ok {
					w.WriteHeader(s)
					return
				}
				http.NotFound(w, r)
			}))
			defer srv.Close()
			w, err := New(Config{URL: srv.URL, Bucket: "b"})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := w.Ping(context.Background()); (err == nil) != tt.ok {
				t.Errorf("got %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestWriter_URLPathKept: an engine that serves the write API under a path
// (a cluster's insert node, a proxy) is reached there, writes and pings alike.
func TestWriter_URLPathKept(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w, err := New(Config{URL: srv.URL + "/insert/0/influx", Bucket: "b", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(context.Background(), records(2)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET /insert/0/influx/ping", "POST /insert/0/influx/api/v2/write"}
	if strings.Join(paths, ", ") != strings.Join(want, ", ") {
		t.Errorf("requests: %q, want %q", paths, want)
	}
}
