package postgres

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/parse"
)

// openTest opens a Writer on a fresh database, with fast retries.
func openTest(t testing.TB, cfg Config) (*Writer, string) {
	t.Helper()
	if cfg.DSN == "" {
		cfg.DSN = testenv.PostgresDSN(t)
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin, cfg.RetryMax = time.Millisecond, 20*time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(w.Close)
	return w, cfg.DSN
}

// connect opens a plain connection for the test's own queries.
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t testing.TB, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var s *string
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if s == nil {
		return "<NULL>"
	}
	return *s
}

// makeRecords returns n distinct records spread over days consecutive days
// ending at end, with varied costs and optional fields.
func makeRecords(n int, end time.Time, days int, seed uint64) []parse.Record {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	recs := make([]parse.Record, n)
	span := int64(days) * int64(24*time.Hour)
	for i := range recs {
		at := end.Add(-time.Duration(rng.Int64N(span)))
		in := rng.Int64N(5000)
		out := rng.Int64N(1000)
		r := parse.Record{
			EventID:      fmt.Sprintf("ev-%d-%d", seed, i),
			OccurredAt:   at,
			Source:       "api",
			Model:        []string{"gpt-4o-mini", "gpt-4o", "claude-sonnet-4"}[i%3],
			InputTokens:  in,
			OutputTokens: out,
			TotalTokens:  in + out,
			Cost:         parse.Money(rng.Int64N(50_000_000_000)), // up to 5 cents, picodollar precision
			CostSource:   parse.CostSource(i % 3),
			Success:      i%10 != 0,
			Attributes:   []byte(fmt.Sprintf(`{"n":%d,"plan":"pro"}`, i)),
		}
		if i%2 == 0 {
			r.UserID = fmt.Sprintf("user-%d", i%97)
			r.Feature = []string{"quiz", "chat", "summary"}[i%3]
			r.Provider = "openai"
			r.DurationMS, r.HasDuration = float64(rng.Int64N(30000))/7, true
		}
		if !r.Success {
			r.ErrorType = "rate_limit"
		}
		recs[i] = r
	}
	return recs
}

func sumMoney(recs []parse.Record) parse.Money {
	var s parse.Money
	for i := range recs {
		s += recs[i].Cost
	}
	return s
}

// counts returns count(*), count(distinct event_id) and sum(cost_usd) as text
// without trailing zeros, the form of parse.Money.String.
func counts(t testing.TB, conn *pgx.Conn) (rows, distinct int64, sum string) {
	t.Helper()
	err := conn.QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT event_id), trim_scale(coalesce(sum(cost_usd), 0))::text FROM ai_usage_events").
		Scan(&rows, &distinct, &sum)
	if err != nil {
		t.Fatalf("counts: %v", err)
	}
	return rows, distinct, sum
}

// logBuffer is a concurrency-safe log sink for asserting on log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(substr string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), substr)
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// proxy is a TCP proxy to the test cluster that a test can take down and
// bring back, to play a database outage without touching the shared cluster.
type proxy struct {
	target, addr string

	mu    sync.Mutex // guards ln and conns: accept loops and tests race on them
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startProxy proxies to dsn's host and returns dsn rewritten to go through it.
func startProxy(t testing.TB, dsn string) (*proxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: u.Host, conns: make(map[net.Conn]struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.down(); p.wg.Wait() })
	u.Host = p.addr
	return p, u.String()
}

func (p *proxy) up(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy up: %v", err)
	}
	p.serve(ln)
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // listener closed by down
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[s] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			p.wg.Go(func() { pipe(s, c) })
			p.wg.Go(func() { pipe(c, s) })
		}
	})
}

// down refuses new connections and cuts every open one.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// signalHandler is a slog handler that closes a channel the first time a
// message is logged, so a test can wait for it without sleeping.
type signalHandler struct {
	slog.Handler
	msg  string
	once *sync.Once
	ch   chan struct{}
}

func newSignalLogger(b *logBuffer, msg string) (*slog.Logger, <-chan struct{}) {
	h := signalHandler{Handler: slog.NewTextHandler(b, nil), msg: msg, once: new(sync.Once), ch: make(chan struct{})}
	return slog.New(h), h.ch
}

func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return err
}
