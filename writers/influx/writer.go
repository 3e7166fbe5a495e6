// Package influx writes records to InfluxDB as points of the ai_usage
// measurement, one point per record, through the v2 write API (which
// InfluxDB 1.8+ and VictoriaMetrics also answer).
//
// The writer encodes line protocol itself into a reused buffer and sends it
// with influxdb-client-go's HTTP service; it owns retries, so a batch is
// either written, refused point by point with the server's reason, or
// returned as an error. It never drops a batch silently.
package influx

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/tokentail/tokentail/parse"
)

// Defaults for the zero values of Config.
const (
	DefaultMeasurement = "ai_usage"
	DefaultTimeout     = 30 * time.Second
)

// maxRequestBytes bounds one HTTP request: a batch larger than this is sent
// in several requests, cut at line boundaries. InfluxDB 1.8 refuses bodies
// over 25 MB by default, and smaller requests make a retry cheaper.
const maxRequestBytes = 4 << 20

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("influx writer closed")

// Config configures a Writer.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8086.
	URL string
	// Token authenticates: an InfluxDB 2 token, or "user:password" for
	// InfluxDB 1.8. Empty sends no Authorization header.
	Token string
	// Org is the InfluxDB 2 organization; InfluxDB 1.8 ignores it.
	Org string
	// Bucket is the InfluxDB 2 bucket, or "database/retention-policy" for
	// InfluxDB 1.8 ("database" alone uses the default policy).
	Bucket string
	// Timeout bounds one HTTP request; a request that takes longer is
	// retried. Zero means DefaultTimeout.
	Timeout time.Duration
	// UserTag adds the user tag. Off by default: user ids are unbounded and
	// every distinct tag value is a new series in InfluxDB's index.
	UserTag bool
	// Gzip compresses request bodies. It helps on slow links; on a local
	// network it costs more CPU than it saves (see docs/influxdb.md).
	Gzip bool
	// Measurement defaults to DefaultMeasurement.
	Measurement string
	// Logger receives outage and refusal reports; nil means slog.Default().
	Logger *slog.Logger
	// TLS is the client's TLS configuration for an https:// URL: the CAs
	// to trust and a client certificate. Nil uses the system's roots.
	TLS *tls.Config
}

// Result says what became of a batch.
type Result struct {
	// Written is the number of points the server accepted.
	Written int
	// Refused is the number of records that will never be written: the
	// server refused their point (a field type conflict, a time outside the
	// retention policy, ...) or it could not be encoded. Each was logged.
	Refused int
	// Refusals lists the refused records, in batch order.
	Refusals []Refusal
}

// Refusal is one record that could not be written, and why.
type Refusal struct {
	Index  int    // position of the record in the batch given to Write
	Reason string // the server's message, or the encoder's
}

// Writer writes batches of records to InfluxDB. Its methods may be called
// from several goroutines, but Write calls are serialized: the pipeline
// calls it from one goroutine and owns batching.
type Writer struct {
	log      *slog.Logger
	client   influxdb2.Client
	svc      ihttp.Service
	writeURL string
	baseURL  string
	timeout  time.Duration
	gzip     bool
	enc      encoder
	maxBody  int

	// sleep waits between retries; tests replace it to step time.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time

	closeOnce sync.Once
	closed    atomic.Bool

	mu    sync.Mutex // serializes Write: everything below is its scratch state
	buf   []byte     // line protocol of the current batch
	ends  []int      // ends[i]: end of line i in buf
	index []int      // index[i]: the record line i came from
	zbuf  bytes.Buffer
	zw    *gzip.Writer
	shown int // refusals logged in the current batch

	// Outage state: logged once when the server stops answering, once when
	// it answers again.
	down      bool
	downSince time.Time
	downTries int
}

// New returns a Writer for cfg. It does not contact the server: see Ping.
func New(cfg Config) (*Writer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("influxdb url %q: %w", cfg.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("influxdb url %q: want http(s)://host[:port]", cfg.URL)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("influxdb bucket is empty")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("influxdb timeout %s is negative", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Measurement == "" {
		cfg.Measurement = DefaultMeasurement
	}
	if strings.HasPrefix(cfg.Measurement, "#") {
		return nil, fmt.Errorf("influxdb measurement %q: a leading # makes the line a comment", cfg.Measurement)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}

	base := strings.TrimSuffix(u.String(), "/") + "/"
	// The client's own request timeout is whole seconds; each attempt gets a
	// context deadline instead, so disable it.
	opts := influxdb2.DefaultOptions().
		SetApplicationName("tokentail").
		SetHTTPRequestTimeout(0)
	if cfg.TLS != nil {
		opts.SetTLSConfig(cfg.TLS)
	}
	client := influxdb2.NewClientWithOptions(base, cfg.Token, opts)
	svc := client.HTTPService()

	wu, err := url.Parse(svc.ServerAPIURL())
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("influxdb url %q: %w", cfg.URL, err)
	}
	wu = wu.JoinPath("write")
	q := url.Values{}
	if cfg.Org != "" {
		q.Set("org", cfg.Org)
	}
	q.Set("bucket", cfg.Bucket)
	q.Set("precision", "ns")
	wu.RawQuery = q.Encode()

	w := &Writer{
		log:      cfg.Logger,
		client:   client,
		svc:      svc,
		writeURL: wu.String(),
		baseURL:  base,
		timeout:  cfg.Timeout,
		gzip:     cfg.Gzip,
		enc:      newEncoder(cfg.Measurement, cfg.UserTag),
		maxBody:  maxRequestBytes,
		sleep:    sleepCtx,
		now:      time.Now,
	}
	if cfg.Gzip {
		w.zw, _ = gzip.NewWriterLevel(nil, gzip.BestSpeed)
	}
	return w, nil
}

// Write writes one point per record and returns once the server has
// accepted them, or refused some of them for good (counted in Result).
// Unavailability (connection errors, timeouts, 429, 5xx) is retried until
// ctx is done. A non-nil error means the batch was not entirely handled:
// the caller must not acknowledge it, and may write it again later (points
// are idempotent, so the rewrite adds nothing).
func (w *Writer) Write(ctx context.Context, recs []parse.Record) (Result, error) {
	if w.closed.Load() {
		return Result{}, ErrClosed
	}
	w.mu.Lock()
	defer w.mu.Unlock()

	var res Result
	w.shown = 0
	w.buf, w.ends, w.index = w.buf[:0], w.ends[:0], w.index[:0]
	for i := range recs {
		var err error
		if w.buf, err = w.enc.appendRecord(w.buf, &recs[i]); err != nil {
			w.refuse(&res, i, &recs[i], err.Error())
			continue
		}
		w.ends = append(w.ends, len(w.buf))
		w.index = append(w.index, i)
	}

	for lo := 0; lo < len(w.ends); {
		start := w.start(lo)
		hi := lo + 1
		for hi < len(w.ends) && w.ends[hi]-start <= w.maxBody {
			hi++
		}
		if err := w.send(ctx, recs, lo, hi, &res); err != nil {
			return res, err
		}
		lo = hi
	}
	if res.Refused > w.shown {
		w.log.Warn("influxdb refused points", "refused", res.Refused, "not_logged", res.Refused-w.shown)
	}
	return res, nil
}

// start is where line i begins in buf.
func (w *Writer) start(i int) int {
	if i == 0 {
		return 0
	}
	return w.ends[i-1]
}

// send writes lines [lo, hi) of buf, retrying while the server is
// unavailable, splitting on 413 and bisecting on 400 until each refused
// point stands alone.
func (w *Writer) send(ctx context.Context, recs []parse.Record, lo, hi int, res *Result) error {
	body := w.buf[w.start(lo):w.ends[hi-1]]
	for attempt := 0; ; attempt++ {
		perr := w.post(ctx, body)
		if perr == nil {
			w.up()
			res.Written += hi - lo
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write %d points to %s: %w (last error: %v)", hi-lo, w.writeURL, err, perr)
		}
		switch {
		case retryable(perr):
			w.outage(perr)
			if err := w.sleep(ctx, w.backoff(attempt, perr.RetryAfter)); err != nil {
				return fmt.Errorf("write %d points to %s: %w (last error: %v)", hi-lo, w.writeURL, err, perr)
			}
		case perr.StatusCode == http.StatusRequestEntityTooLarge, refusesData(perr):
			w.up()
			if hi-lo == 1 {
				i := w.index[lo]
				w.refuse(res, i, &recs[i], serverMessage(perr))
				return nil
			}
			// The server refused something in this range. InfluxDB 1.8
			// has already stored the valid points of a partial write;
			// sending them again in the halves rewrites the same points.
			mid := lo + (hi-lo)/2
			if err := w.send(ctx, recs, lo, mid, res); err != nil {
				return err
			}
			return w.send(ctx, recs, mid, hi, res)
		default:
			w.up()
			return fmt.Errorf("write %d points to %s: %w", hi-lo, w.writeURL, perr)
		}
	}
}

// post sends body in one request.
func (w *Writer) post(ctx context.Context, body []byte) *ihttp.Error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	data := body
	if w.gzip {
		w.zbuf.Reset()
		w.zw.Reset(&w.zbuf)
		_, _ = w.zw.Write(body) // a bytes.Buffer write cannot fail
		_ = w.zw.Close()
		data = w.zbuf.Bytes()
	}
	f := &fence{data: data}
	defer f.stop()
	return w.svc.DoPostRequest(ctx, w.writeURL, f.newBody(), func(req *http.Request) {
		req.ContentLength = int64(len(data))
		req.GetBody = func() (io.ReadCloser, error) { return f.newBody(), nil }
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		if w.gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}, drain)
}

// drain reads what is left of a response so its connection can be reused.
func drain(resp *http.Response) error {
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// retryable reports whether the server was unavailable rather than
// unwilling: no answer at all (connection refused, reset, timeout), 408,
// 429 or any 5xx. InfluxDB 1.8 also answers 500 to a missing retention
// policy: that is retried too, and the outage log shows its message.
func retryable(e *ihttp.Error) bool {
	return e.StatusCode == 0 ||
		e.StatusCode == http.StatusRequestTimeout ||
		e.StatusCode == http.StatusTooManyRequests ||
		e.StatusCode >= 500
}

// refusesData reports whether the server refused some points of the body:
// 400 (unparsable line, field type conflict, partial write) on InfluxDB
// 1.8 and 2, 422 (points outside the retention period) on InfluxDB 2.
func refusesData(e *ihttp.Error) bool {
	return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity
}

// serverMessage is the server's own words for e.
func serverMessage(e *ihttp.Error) string {
	if e.StatusCode == http.StatusRequestEntityTooLarge {
		return "point larger than the server's maximum request body"
	}
	if e.Message != "" {
		return e.Message
	}
	return e.Error()
}

// refuse records that recs[i] will never be written, and logs it while
// the batch has logged fewer than maxLoggedRefusals.
func (w *Writer) refuse(res *Result, i int, r *parse.Record, reason string) {
	res.Refused++
	res.Refusals = append(res.Refusals, Refusal{Index: i, Reason: reason})
	if w.shown >= maxLoggedRefusals {
		return
	}
	w.shown++
	w.log.Warn("influxdb refused a point", "reason", reason,
		"event_id", r.EventID, "source", r.Source, "file", r.File, "offset", r.Offset)
}

// maxLoggedRefusals bounds per-point refusal logs per batch: a field type
// conflict refuses every point, and one line per point would flood the log.
const maxLoggedRefusals = 10

// outage notes a failed attempt, logging the first of an outage.
func (w *Writer) outage(e *ihttp.Error) {
	w.downTries++
	if w.down {
		w.log.Debug("influxdb still unavailable", "error", e.Error(), "attempts", w.downTries)
		return
	}
	w.down, w.downSince = true, w.now()
	w.log.Warn("influxdb unavailable, retrying until it answers", "url", w.writeURL, "error", e.Error())
}

// up notes that the server answered, logging the end of an outage.
func (w *Writer) up() {
	if !w.down {
		return
	}
	w.log.Info("influxdb available again", "url", w.writeURL,
		"down_for", w.now().Sub(w.downSince).Round(time.Millisecond).String(), "failed_attempts", w.downTries)
	w.down, w.downTries = false, 0
}

// Ping reports whether the server answers: GET /ping (InfluxDB 1.8 and 2,
// VictoriaMetrics), else GET /health. It checks neither the token nor the
// bucket.
func (w *Writer) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	var perr *ihttp.Error
	for _, path := range [...]string{"ping", "health"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.baseURL+path, nil)
		if err != nil {
			return fmt.Errorf("ping %s: %w", w.baseURL, err)
		}
		if perr = w.svc.DoHTTPRequest(req, nil, drain); perr == nil {
			return nil
		}
		if perr.StatusCode != http.StatusNotFound {
			break
		}
	}
	return fmt.Errorf("ping %s: %w", w.baseURL, perr)
}

// Close releases idle connections. It is idempotent; Write fails after it.
func (w *Writer) Close() {
	w.closeOnce.Do(func() {
		w.closed.Store(true)
		w.client.Close()
	})
}
