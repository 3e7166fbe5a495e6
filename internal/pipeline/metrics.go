package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the daemon's Prometheus metrics, on a registry of their own
// (no package-level state: tests make as many as they like).
type Metrics struct {
	Registry *prometheus.Registry

	LinesRead      *prometheus.CounterVec   // source
	Records        *prometheus.CounterVec   // source
	Rejected       *prometheus.CounterVec   // source, reason
	Unpriced       *prometheus.CounterVec   // source
	Undated        *prometheus.CounterVec   // source
	Written        *prometheus.CounterVec   // writer
	Duplicates     *prometheus.CounterVec   // writer
	Refused        *prometheus.CounterVec   // writer
	WriteSeconds   *prometheus.HistogramVec // writer
	BatchSize      *prometheus.HistogramVec // writer
	WriterUp       *prometheus.GaugeVec     // writer
	BytesBehind    *prometheus.GaugeVec     // writer, path
	LinesCut       *prometheus.CounterVec   // writer (the log line names the file)
	BytesSkipped   *prometheus.CounterVec   // writer (the log line names the file)
	FilesMissed    *prometheus.CounterVec   // writer (the log line names the file)
	PositionErrors prometheus.Counter
	AlertsFiring   *prometheus.GaugeVec // alertname, severity
	RulesReloadOK  prometheus.Gauge
	RulesLeader    prometheus.Gauge
	RulesBehind    prometheus.Gauge
}

// NewMetrics creates and registers the metrics.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tokentail", Name: name, Help: help}, labels)
		r.MustRegister(c)
		return c
	}
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		c := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tokentail", Name: name, Help: help}, labels)
		r.MustRegister(c)
		return c
	}
	h := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		c := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "tokentail", Name: name, Help: help, Buckets: buckets}, labels)
		r.MustRegister(c)
		return c
	}
	m := &Metrics{
		Registry:     r,
		LinesRead:    f("lines_read_total", "Physical log lines read.", "source"),
		Records:      f("records_parsed_total", "Lines that became records.", "source"),
		Rejected:     f("records_rejected_total", "Lines rejected, by reason.", "source", "reason"),
		Unpriced:     f("records_unpriced_total", "Records with no cost in the log and no matching price.", "source"),
		Undated:      f("records_undated_total", "Records with no time in the line, dated when read: a re-read after a crash stores them again.", "source"),
		Written:      f("records_written_total", "Rows or points newly written.", "writer"),
		Duplicates:   f("records_duplicate_total", "Records already stored by an earlier read (idempotent rewrites).", "writer"),
		Refused:      f("records_refused_total", "Records the server refused for good.", "writer"),
		WriteSeconds: h("write_duration_seconds", "Time to write one batch durably, retries included.", prometheus.ExponentialBuckets(0.001, 2, 16), "writer"),
		BatchSize:    h("batch_size_records", "Records per written batch.", prometheus.ExponentialBuckets(1, 4, 9), "writer"),
		WriterUp:     g("writer_up", "1 when the writer's server answered the last readiness check.", "writer"),
		BytesBehind:  g("file_bytes_behind", "Bytes of a followed file not yet acknowledged by a writer.", "writer", "path"),
		LinesCut:     f("lines_cut_total", "Lines longer than max_line_bytes, cut and rejected (a log line names the file).", "writer"),
		BytesSkipped: f("bytes_skipped_total", "Bytes lost to copytruncate or deletion before they were read (a lower bound; a log line names the file).", "writer"),
		FilesMissed:  f("files_missed_total", "Files that rotated away before they were read to the end (a log line names the file).", "writer"),
		AlertsFiring: g("alerts_firing", "Alerts currently firing.", "alertname", "severity"),
	}
	m.PositionErrors = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tokentail", Name: "position_save_errors_total", Help: "Failures to save positions under state_dir (reading goes on; a restart reads again what the last save does not cover, without storing it twice)."})
	m.RulesReloadOK = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "tokentail", Name: "rules_last_reload_ok", Help: "1 when the last load of the rules file succeeded."})
	m.RulesLeader = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "tokentail", Name: "rules_leader", Help: "1 when this daemon evaluates the rules for every daemon writing to the database (it holds the rules lock)."})
	m.RulesBehind = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "tokentail", Name: "rules_behind_seconds", Help: "On the rules leader: how far behind the clock the rules are evaluated because a database transaction begun earlier is still open (its rows could still land there); at most 300."})
	r.MustRegister(m.PositionErrors, m.RulesReloadOK, m.RulesLeader, m.RulesBehind)
	return m
}

// Observe adds a reader's counts for source.
func (m *Metrics) Observe(source string, c Counts) {
	m.LinesRead.WithLabelValues(source).Add(float64(c.Lines))
	m.Records.WithLabelValues(source).Add(float64(c.Records))
	m.Unpriced.WithLabelValues(source).Add(float64(c.Unpriced))
	m.Undated.WithLabelValues(source).Add(float64(c.Undated))
	for r, n := range c.Rejects {
		m.Rejected.WithLabelValues(source, string(r)).Add(float64(n))
	}
}
