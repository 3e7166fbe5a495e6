// Package config reads tokentail's YAML configuration and pricing files.
//
// Loading goes: defaults, then the YAML over them, decoded strictly (an
// unknown key anywhere is an error), with ${VAR} and ${VAR:-default}
// expanded inside values, then Validate. Every problem found is reported at
// once, each with its file:line:column and key path, in an *Error.
//
// The package only describes: it opens no connection and starts nothing.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"
)

// Config is the whole configuration. A section held by a pointer is off
// when nil (no `influxdb:` → no InfluxDB writes).
type Config struct {
	Sources         []Source `yaml:"sources,omitempty"`
	StateDir        string   `yaml:"state_dir"`
	MaxLineBytes    Size     `yaml:"max_line_bytes"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	Log             Log      `yaml:"log"`

	Postgres *Postgres      `yaml:"postgres,omitempty"`
	InfluxDB *InfluxDB      `yaml:"influxdb,omitempty"`
	Pricing  *PricingConfig `yaml:"pricing,omitempty"`
	// RulesFile is resolved against the config file's directory; "" = no rules.
	RulesFile string `yaml:"rules_file,omitempty"`
	HTTP      *HTTP  `yaml:"http,omitempty"`
	// Report sets the currency `tokentail report` shows costs in; nil = USD.
	Report *Report `yaml:"report,omitempty"`

	// File is the path the config was read from (the name given to Parse).
	File string `yaml:"-"`
	// Prices is the pricing table in force: the inline `pricing.models`, or
	// (after Load) the content of `pricing.file`. Nil without a pricing section.
	Prices *Pricing `yaml:"-"`

	// pos locates each key path in File, for Validate's messages.
	pos map[string]Pos
	// literal says which secrets were written in File rather than ${VAR}.
	literal map[string]bool
}

// Source is one group of log files read the same way.
type Source struct {
	// Name becomes the `source` label; [a-z0-9_.-]+, unique.
	Name string `yaml:"name"`
	// Paths are globs (filepath.Match syntax).
	Paths  []string `yaml:"paths"`
	Format Format   `yaml:"format"`
	// Marker precedes the record's JSON in a line; "" means the whole line is
	// a JSON object. Absent means DefaultMarker, so `marker:` with no value is refused.
	Marker string `yaml:"marker" cfg:"nonnull"`
	// Match keeps only objects whose fields have these values.
	Match   map[string]string `yaml:"match,omitempty"`
	StartAt StartAt           `yaml:"start_at"`
	// Fields maps a record field (see RecordFields) to the log field carrying it.
	Fields map[string]string `yaml:"fields,omitempty"`
	// Labels are added to every record as InfluxDB tags.
	Labels     map[string]string `yaml:"labels,omitempty"`
	DropFields []string          `yaml:"drop_fields,omitempty"`
	// MaxLineBytes bounds a line; after Parse it holds the top-level value
	// when the source sets none.
	MaxLineBytes Size `yaml:"max_line_bytes"`
}

// Format is how a source's lines are wrapped.
type Format string

// Formats.
const (
	FormatAuto   Format = "auto"   // detect docker / cri / plain per line
	FormatPlain  Format = "plain"  // the line as written by the application
	FormatDocker Format = "docker" // Docker json-file: {"log":...,"time":...}
	FormatCRI    Format = "cri"    // Kubernetes CRI: "<time> <stream> <P|F> <msg>"
)

// StartAt is where reading begins in a file seen for the first time.
type StartAt string

// Start positions.
const (
	StartBeginning StartAt = "beginning"
	StartEnd       StartAt = "end"
)

// Log configures the daemon's own logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // auto | text | json (auto: text on a TTY, else JSON)
}

// Postgres configures the PostgreSQL writer.
type Postgres struct {
	DSN          Secret   `yaml:"dsn"`
	BatchSize    int      `yaml:"batch_size"`
	BatchTimeout Duration `yaml:"batch_timeout"`
	// Retention deletes events older than this; 0 keeps them forever.
	Retention Duration `yaml:"retention"`
	MaxConns  int      `yaml:"max_conns"`
}

// InfluxDB configures the InfluxDB writer.
type InfluxDB struct {
	URL          string   `yaml:"url"`
	Token        Secret   `yaml:"token"`
	Org          string   `yaml:"org"`
	Bucket       string   `yaml:"bucket"`
	BatchSize    int      `yaml:"batch_size"`
	BatchTimeout Duration `yaml:"batch_timeout"`
	// UserTag adds user_id as a tag; off by default because user ids make
	// series cardinality grow without bound.
	UserTag bool     `yaml:"user_tag"`
	Timeout Duration `yaml:"timeout"`
	// TLS sets the certificate authorities and client certificate of an
	// https:// url; nil uses the system's roots and no client certificate.
	TLS *TLS `yaml:"tls,omitempty"`
}

// PricingConfig says where prices come from: a file, or inline models.
type PricingConfig struct {
	// File is resolved against the config file's directory.
	File     string       `yaml:"file,omitempty"`
	Currency string       `yaml:"currency,omitempty"`
	Models   []PriceEntry `yaml:"models,omitempty"`
}

// HTTP configures the /healthz, /readyz and /metrics server.
type HTTP struct {
	Listen string `yaml:"listen"`
}

// Report configures how `tokentail report` shows costs. Costs are stored in
// USD; a report in another currency multiplies them by Rate.
type Report struct {
	// Currency is an ISO 4217 code: three upper-case letters.
	Currency string `yaml:"currency"`
	// Rate is units of Currency per 1 USD; it must be more than 0 unless
	// Currency is USD (where it is ignored and 1 is used).
	Rate float64 `yaml:"rate"`
}

// USDRate returns the factor that turns a USD amount into r's currency:
// 1 for USD (or a nil Report), else Rate.
func (r *Report) USDRate() float64 {
	if r == nil || r.Currency == DefaultCurrency {
		return 1
	}
	return r.Rate
}

// Defaults.
const (
	DefaultStateDir        = "/var/lib/tokentail"
	DefaultMaxLineBytes    = 1 * MiB
	DefaultShutdownTimeout = Duration(10 * time.Second)
	DefaultMarker          = "AI_COST:"
	DefaultBatchSize       = 5000
	DefaultBatchTimeout    = Duration(200 * time.Millisecond)
	DefaultMaxConns        = 4
	DefaultInfluxTimeout   = Duration(10 * time.Second)
	DefaultListen          = "127.0.0.1:9464"
	DefaultCurrency        = "USD"
)

// Default returns the configuration used when the file sets nothing: no
// sources and every optional section off.
func Default() *Config {
	c := &Config{}
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	c.StateDir = DefaultStateDir
	c.MaxLineBytes = DefaultMaxLineBytes
	c.ShutdownTimeout = DefaultShutdownTimeout
	c.Log = Log{Level: "info", Format: "auto"}
}

func (s *Source) setDefaults() {
	s.Format = FormatAuto
	s.Marker = DefaultMarker
	s.StartAt = StartBeginning
}

func (p *Postgres) setDefaults() {
	p.BatchSize = DefaultBatchSize
	p.BatchTimeout = DefaultBatchTimeout
	p.MaxConns = DefaultMaxConns
}

func (i *InfluxDB) setDefaults() {
	i.BatchSize = DefaultBatchSize
	i.BatchTimeout = DefaultBatchTimeout
	i.Timeout = DefaultInfluxTimeout
}

func (p *PricingConfig) setDefaults() { p.Currency = DefaultCurrency }

func (h *HTTP) setDefaults() { h.Listen = DefaultListen }

func (r *Report) setDefaults() { r.Currency = DefaultCurrency }

// Load reads, parses and validates the config file at path, with ${VAR}
// taken from the process environment, and loads the pricing file it names.
// A problem in either file is returned as an *Error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(path, data, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	if c.Pricing != nil && c.Pricing.File != "" {
		p, err := LoadPricing(c.Pricing.File)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				pos := c.at("pricing.file")
				return nil, &Error{Problems: []Problem{{File: c.File, Line: pos.Line, Column: pos.Column,
					Key: "pricing.file", Msg: err.Error()}}}
			}
			return nil, err
		}
		c.Prices = p
	}
	if probs := c.checkTLS(); len(probs) > 0 {
		return nil, errorOf(probs)
	}
	return c, nil
}

// Parse reads a config from data; name is the file name used in messages and
// the directory relative paths are resolved against. getenv looks up ${VAR}
// (os.LookupEnv in production; nil turns expansion off). Parse reads no other file: the table of a
// `pricing.file` is loaded by Load. It returns every problem found, as an *Error.
func Parse(name string, data []byte, getenv func(string) (string, bool)) (*Config, error) {
	c := Default()
	c.File = name
	d := newDecoder(name, getenv)
	if root := d.parseDocument(data); root != nil {
		d.decode(root, "", reflect.ValueOf(c).Elem())
	}
	c.pos, c.literal = d.pos, d.literal
	c.resolve()
	probs := d.probs
	if err := c.Validate(); err != nil {
		// A key that failed to decode holds its default; validating it
		// would report the same mistake twice, and less clearly.
		for _, p := range err.(*Error).Problems {
			if !underAny(p.Key, d.probs) {
				probs = append(probs, p)
			}
		}
	}
	if err := errorOf(probs); err != nil {
		return nil, err
	}
	if c.Pricing != nil && c.Pricing.File == "" {
		c.Prices = &Pricing{File: name, Currency: c.Pricing.Currency, Models: c.Pricing.Models}
	}
	return c, nil
}

// resolve fills values derived from others: inherited sizes, default
// cached prices, paths relative to the config file.
func (c *Config) resolve() {
	for i := range c.Sources {
		// An explicit 0 is kept for Validate to refuse.
		if _, set := c.pos[fmt.Sprintf("sources[%d].max_line_bytes", i)]; !set {
			c.Sources[i].MaxLineBytes = c.MaxLineBytes
		}
	}
	dir := filepath.Dir(c.File)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.RulesFile = rel(c.RulesFile)
	if c.InfluxDB != nil && c.InfluxDB.TLS != nil {
		t := c.InfluxDB.TLS
		t.CAFile, t.CertFile, t.KeyFile = rel(t.CAFile), rel(t.CertFile), rel(t.KeyFile)
	}
	if c.Pricing != nil {
		c.Pricing.File = rel(c.Pricing.File)
		fillCachedPrices(c.Pricing.Models)
	}
}

// at returns where path (or its nearest written parent) is in the file.
func (c *Config) at(path string) Pos {
	return lookupPos(c.pos, path)
}

func lookupPos(pos map[string]Pos, path string) Pos {
	for {
		if p, ok := pos[path]; ok {
			return p
		}
		if path == "" {
			return Pos{}
		}
		i := max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['))
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
	}
}

// underAny reports whether key is, or is inside, the key of one of probs.
func underAny(key string, probs []Problem) bool {
	for _, p := range probs {
		if p.Key == "" {
			continue
		}
		if key == p.Key || strings.HasPrefix(key, p.Key+".") || strings.HasPrefix(key, p.Key+"[") {
			return true
		}
	}
	return false
}
