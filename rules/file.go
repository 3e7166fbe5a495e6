// Package rules reads alert rules files and evaluates them on records.
//
// Evaluation runs on event time: the Engine is fed records (Observe) and told
// what time it is (Eval, Advance); it never reads a clock. Given the same
// records, `rules test` over history and `run` live give the same transitions.
// See engine.go for the exact definition of an evaluation tick.
package rules

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/tokentail/tokentail/internal/config"

	_ "time/tzdata" // timezones work on hosts without /usr/share/zoneinfo
)

// Defaults of a rules file.
const (
	DefaultEvaluationInterval = 10 * time.Second
	DefaultQueryOffset        = 10 * time.Second
	DefaultMaxGroups          = 200_000
	DefaultRepeatInterval     = 4 * time.Hour
	// DefaultAlertmanagerRepeat is shorter: Alertmanager resolves an alert
	// it has not heard of for resolve_timeout (5m by default), so firing
	// alerts are re-sent to it every minute, as Prometheus does.
	DefaultAlertmanagerRepeat = time.Minute
	DefaultNotifyTimeout      = 10 * time.Second
	DefaultMaxRetries         = 3
	DefaultQueueSize          = 1024
)

// File is a parsed and validated rules file.
type File struct {
	// Path is the name the file was read from, for messages.
	Path string
	// EvaluationInterval is the step of the tick grid (default 10s).
	EvaluationInterval time.Duration
	// QueryOffset is how long after a tick's time it is evaluated live, so
	// that records logged late or read from several files in a different
	// order are all in (default 10s).
	QueryOffset time.Duration
	Notifiers   []Notifier
	Rules       []Rule
	// Sum is the SHA-256 of the bytes parsed: a watcher compares the file
	// with it to tell an edit.
	Sum [sha256.Size]byte
}

// Notifier is one place alerts are sent.
type Notifier struct {
	Name string
	Type NotifierType
	// URL is a secret: webhook URLs carry tokens, so it never prints.
	URL            config.Secret
	Timeout        time.Duration
	MaxRetries     int
	RepeatInterval time.Duration
	SendResolved   bool
	MinSeverity    Severity
	QueueSize      int

	literal bool // the URL was written in the file, not taken from ${VAR}
}

// Warnings are problems with the file that do not stop it from loading: a
// notifier URL (webhook URLs carry their token) written in clear in a file
// other users can read.
func (f *File) Warnings() []string {
	var names []string
	for _, n := range f.Notifiers {
		if n.literal {
			names = append(names, "notifiers "+n.Name+" url")
		}
	}
	if len(names) == 0 {
		return nil
	}
	fi, err := os.Stat(f.Path)
	if err != nil || fi.Mode().Perm()&0o044 == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s is readable by other users (mode %04o) and holds a secret in clear (%s); run chmod 600 %s, or take the URL from the environment with ${VAR}",
		f.Path, fi.Mode().Perm(), strings.Join(names, ", "), f.Path)}
}

// NotifierType is how a notifier delivers.
type NotifierType string

// The notifier types.
const (
	NotifierWebhook      NotifierType = "webhook"      // Alertmanager webhook JSON, version 4
	NotifierAlertmanager NotifierType = "alertmanager" // POST /api/v2/alerts
	NotifierSlack        NotifierType = "slack"        // incoming webhook
	NotifierLog          NotifierType = "log"          // one slog line per alert
)

// Metric is what a rule measures on each record.
type Metric string

// The metrics.
const (
	MetricCost         Metric = "cost_usd"
	MetricInput        Metric = "input_tokens"
	MetricCachedInput  Metric = "cached_input_tokens"
	MetricOutput       Metric = "output_tokens"
	MetricTotal        Metric = "total_tokens"
	MetricRequests     Metric = "requests"
	MetricErrors       Metric = "errors"
	MetricErrorRate    Metric = "error_rate"
	MetricDuration     Metric = "duration_ms"
	metricCount               = 9
	metricNamesForHelp        = "cost_usd, input_tokens, cached_input_tokens, output_tokens, total_tokens, requests, errors, error_rate, duration_ms"
)

// Aggregate is how a rule combines the values of a window or period.
type Aggregate string

// The aggregates. Percentiles are estimated within 1% relative error (see sketch.go).
const (
	AggSum   Aggregate = "sum"
	AggCount Aggregate = "count"
	AggAvg   Aggregate = "avg"
	AggMax   Aggregate = "max"
	AggP50   Aggregate = "p50"
	AggP90   Aggregate = "p90"
	AggP95   Aggregate = "p95"
	AggP99   Aggregate = "p99"
	// AggRate is the sum per second of the window.
	AggRate Aggregate = "rate"
)

// Period is a calendar window.
type Period string

// The calendar periods. Weeks start on Monday (ISO 8601).
const (
	PeriodDay   Period = "day"
	PeriodWeek  Period = "week"
	PeriodMonth Period = "month"
)

// Rule is one alerting rule.
type Rule struct {
	Name      string
	Metric    Metric
	Aggregate Aggregate
	// Window is a sliding window; zero when Period is set.
	Window time.Duration
	Period Period
	// Location is the period's timezone (UTC unless `timezone:`).
	Location *time.Location
	GroupBy  []string
	Where    []Match
	// Warning and Critical are the thresholds; a nil one is not set.
	Warning, Critical *float64
	// Below fires when the value falls under the thresholds.
	Below         bool
	For           time.Duration
	KeepFiringFor time.Duration
	MinCount      int64
	// Baseline turns the value into current ÷ the same aggregate over this
	// earlier span (sums and counts scaled to the window's length).
	Baseline time.Duration
	// ZScoreOver turns the value into standard deviations from the mean of
	// the same aggregate in each earlier period of this span.
	ZScoreOver  time.Duration
	Labels      []Label // sorted by name
	Annotations []Annotation
	MaxGroups   int
	// Notifiers names where this rule's alerts go; empty means every notifier.
	Notifiers []string

	// Line is where the rule starts in its file, for messages.
	Line int
}

// Match is one `where` condition: the field's value matches Glob
// (path.Match syntax; an absent field is the empty string).
type Match struct {
	Field string
	Glob  string
}

// Annotation is a templated annotation.
type Annotation struct {
	Name string
	Text string
	tmpl *template.Template
}

// Load reads and validates the rules file at path, expanding ${VAR} in
// notifier URLs from the process environment.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse reads a rules file from data; name is used in messages. getenv looks
// up ${VAR} in notifier URLs (nil turns expansion off). Every problem found is
// returned at once as a *config.Error, each with file:line:column and key path.
func Parse(name string, data []byte, getenv func(string) (string, bool)) (*File, error) {
	d := &decoder{file: name, getenv: getenv}
	f := &File{Path: name, EvaluationInterval: DefaultEvaluationInterval, QueryOffset: DefaultQueryOffset, Sum: sha256.Sum256(data)}
	if root := d.parseDocument(data); root != nil {
		d.file_(root, f)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return f, nil
}
