package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Pinger is a writer that can say whether its server is reachable.
type Pinger interface {
	Name() string
	Ping(ctx context.Context) error
}

// Readiness tracks whether every writer's server answers, checking each on a
// period; /readyz reads the last result.
type Readiness struct {
	mu     sync.Mutex
	status map[string]error
	order  []string
}

// NewReadiness returns a Readiness that is not ready until its first check.
func NewReadiness(names []string) *Readiness {
	r := &Readiness{status: map[string]error{}, order: names}
	for _, n := range names {
		r.status[n] = errors.New("not checked yet")
	}
	return r
}

// Set records the result of a check.
func (r *Readiness) Set(name string, err error) {
	r.mu.Lock()
	r.status[name] = err
	r.mu.Unlock()
}

// Report returns whether all are ready, and one line per writer.
func (r *Readiness) Report() (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok := true
	var s string
	for _, n := range r.order {
		if err := r.status[n]; err != nil {
			ok = false
			s += fmt.Sprintf("%s: not ready: %v\n", n, err)
		} else {
			s += n + ": ok\n"
		}
	}
	return ok, s
}

// Watch pings each writer every period until ctx ends. A writer that turns
// unreachable, or comes back, is logged once per change, not once per check.
func (r *Readiness) Watch(ctx context.Context, pingers []Pinger, period time.Duration, m *Metrics, log *slog.Logger) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		for _, p := range pingers {
			pctx, cancel := context.WithTimeout(ctx, period)
			err := p.Ping(pctx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			r.mu.Lock()
			prev := r.status[p.Name()]
			r.status[p.Name()] = err
			r.mu.Unlock()
			up := 1.0
			if err != nil {
				up = 0
			}
			m.WriterUp.WithLabelValues(p.Name()).Set(up)
			switch {
			case err != nil && prev == nil:
				log.Warn("writer unreachable; reading for it pauses and resumes by itself", "writer", p.Name(), "err", err)
			case err == nil && prev != nil && prev.Error() != "not checked yet":
				log.Info("writer reachable again", "writer", p.Name())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Serve runs the HTTP server on ln until ctx ends: /healthz answers while the
// process lives, /readyz when every writer is reachable, /metrics in
// Prometheus text.
func Serve(ctx context.Context, ln net.Listener, ready *Readiness, m *Metrics, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, report := ready.Report()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, report)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}
