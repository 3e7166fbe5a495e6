package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// RecordFields are the record field names a source's `fields:` may map.
var RecordFields = []string{
	"occurred_at", "event_id", "user_id", "feature", "provider", "model",
	"input_tokens", "cached_input_tokens", "output_tokens", "total_tokens",
	"cost_usd", "duration_ms", "success", "error_type",
}

// reservedLabels are the tag and field names tokentail writes itself; a
// label with one of these names would overwrite it or collide in InfluxDB,
// whose writer drops it (writers/influx reservedTagKey: the built-in tags,
// user, time; the "_"-names fail labelKeyRE).
var reservedLabels = []string{
	"model", "provider", "feature", "status", "error_type", "source", "user", "user_id",
	"input_tokens", "cached_input_tokens", "output_tokens", "total_tokens", "cost_usd", "duration_ms",
	"time",
}

var (
	sourceNameRE = regexp.MustCompile(`^[a-z0-9_.-]+$`)
	// Tag keys that need no escaping anywhere (line protocol, Flux, InfluxQL);
	// a leading "_" is reserved by InfluxDB for its own columns.
	labelKeyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// maxLineLimit bounds max_line_bytes: a line is held whole in memory.
const maxLineLimit = 64 * MiB

// validator collects problems, locating each key path with pos.
type validator struct {
	file  string
	pos   map[string]Pos
	probs []Problem
}

func (v *validator) add(key, format string, args ...any) {
	p := lookupPos(v.pos, key)
	v.probs = append(v.probs, Problem{File: v.file, Line: p.Line, Column: p.Column, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) oneOf(key, got string, allowed ...string) {
	if !slices.Contains(allowed, got) {
		v.add(key, "%q is not one of %s%s", clip(got), strings.Join(allowed, ", "), Suggest(got, allowed))
	}
}

func (v *validator) positive(key string, n int) {
	if n <= 0 {
		v.add(key, "must be at least 1, got %d", n)
	}
}

func (v *validator) positiveDuration(key string, d Duration) {
	if d <= 0 {
		v.add(key, "must be longer than 0")
	}
}

func (v *validator) currency(key, c string) {
	if c != "USD" {
		v.add(key, "%q is not supported; only USD prices are supported for now", clip(c))
	}
}

// Validate checks c and returns every problem found as an *Error, or nil.
// Parse calls it; call it again after changing a Config in code.
func (c *Config) Validate() error {
	v := &validator{file: c.File, pos: c.pos}
	names := map[string]int{}
	for i := range c.Sources {
		c.Sources[i].validate(v, fmt.Sprintf("sources[%d]", i), names, i)
	}
	if c.StateDir == "" {
		v.add("state_dir", "required: a directory where read positions are kept")
	}
	v.lineLimit("max_line_bytes", c.MaxLineBytes)
	v.positiveDuration("shutdown_timeout", c.ShutdownTimeout)
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "auto", "text", "json")
	if p := c.Postgres; p != nil {
		p.validate(v)
	}
	if i := c.InfluxDB; i != nil {
		i.validate(v)
	}
	if p := c.Pricing; p != nil {
		switch {
		case p.File != "" && len(p.Models) > 0:
			v.add("pricing", "set either file or models, not both")
		case p.File == "" && len(p.Models) == 0:
			v.add("pricing", "set file (a pricing.yaml) or models (an inline list of prices)")
		}
		v.currency("pricing.currency", p.Currency)
		v.prices("pricing.models", p.Models)
	}
	if r := c.Report; r != nil {
		r.validate(v)
	}
	if h := c.HTTP; h != nil {
		if _, _, err := splitListen(h.Listen); err != nil {
			v.add("http.listen", "%v", err)
		}
	}
	return errorOf(v.probs)
}

func (v *validator) lineLimit(key string, s Size) {
	switch {
	case s <= 0:
		v.add(key, "must be more than 0 bytes")
	case s > maxLineLimit:
		v.add(key, "%s is more than the limit of %s (a line is held whole in memory)", s, maxLineLimit)
	}
}

func (s *Source) validate(v *validator, key string, names map[string]int, i int) {
	switch {
	case s.Name == "":
		v.add(key+".name", "required: a short name such as \"api\"; it becomes the source label")
	case !sourceNameRE.MatchString(s.Name):
		v.add(key+".name", "%q may hold only a-z, 0-9, _, . and -", clip(s.Name))
	default:
		if j, dup := names[s.Name]; dup {
			v.add(key+".name", "%q is already the name of sources[%d] (line %d); names must be unique",
				s.Name, j, lookupPos(v.pos, fmt.Sprintf("sources[%d]", j)).Line)
		} else {
			names[s.Name] = i
		}
	}
	if len(s.Paths) == 0 {
		v.add(key+".paths", "required: at least one glob such as \"/var/log/app/*.log\"")
	}
	for j, p := range s.Paths {
		pk := fmt.Sprintf("%s.paths[%d]", key, j)
		if p == "" {
			v.add(pk, "empty path")
		} else if _, err := filepath.Match(p, ""); err != nil {
			v.add(pk, "invalid glob %q: %v", clip(p), err)
		}
	}
	v.oneOf(key+".format", string(s.Format), string(FormatAuto), string(FormatPlain), string(FormatDocker), string(FormatCRI))
	v.oneOf(key+".start_at", string(s.StartAt), string(StartBeginning), string(StartEnd))
	for _, k := range sortedKeys(s.Match) {
		if k == "" {
			v.add(key+".match", "empty field name")
		}
	}
	for _, k := range sortedKeys(s.Fields) {
		fk := key + ".fields." + k
		if !slices.Contains(RecordFields, k) {
			v.add(fk, "%q is not a record field%s; the record fields are %s",
				clip(k), Suggest(k, RecordFields), strings.Join(RecordFields, ", "))
		}
		if s.Fields[k] == "" {
			v.add(fk, "empty log field name")
		}
	}
	for _, k := range sortedKeys(s.Labels) {
		lk := key + ".labels." + k
		switch {
		case slices.Contains(reservedLabels, k):
			v.add(lk, "%q is a tag or field tokentail writes itself; choose another label name", k)
		case !labelKeyRE.MatchString(k):
			v.add(lk, "%q is not a valid label name: start with a letter, then letters, digits or _", clip(k))
		}
		if s.Labels[k] == "" {
			v.add(lk, "empty value (InfluxDB drops empty tags)")
		}
	}
	for j, f := range s.DropFields {
		if f == "" {
			v.add(fmt.Sprintf("%s.drop_fields[%d]", key, j), "empty field name")
		}
	}
	v.lineLimit(key+".max_line_bytes", s.MaxLineBytes)
}

func (p *Postgres) validate(v *validator) {
	dsn := p.DSN.Reveal()
	switch {
	case dsn == "":
		v.add("postgres.dsn", "required: a connection string such as postgres://user@host/db (or remove the postgres section)")
	case !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") && !strings.Contains(dsn, "="):
		// Never quote the DSN: it may hold a password.
		v.add("postgres.dsn", "not a PostgreSQL connection string: expected postgres://... or key=value pairs")
	}
	v.positive("postgres.batch_size", p.BatchSize)
	v.positiveDuration("postgres.batch_timeout", p.BatchTimeout)
	v.positive("postgres.max_conns", p.MaxConns)
}

func (i *InfluxDB) validate(v *validator) {
	if i.URL == "" {
		v.add("influxdb.url", "required: the server's address, such as http://127.0.0.1:8086 (or remove the influxdb section)")
	} else if u, err := url.Parse(i.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add("influxdb.url", "%q is not an http:// or https:// URL with a host", clip(RedactDSN(i.URL)))
	}
	if i.Bucket == "" {
		v.add("influxdb.bucket", "required: the bucket to write to (database/retention-policy for InfluxDB 1.8)")
	}
	v.positive("influxdb.batch_size", i.BatchSize)
	v.positiveDuration("influxdb.batch_timeout", i.BatchTimeout)
	v.positiveDuration("influxdb.timeout", i.Timeout)
	if i.TLS != nil {
		i.TLS.validate(v, "influxdb.tls", i.URL)
	}
}

// currencyCodeRE is the shape of an ISO 4217 code; which codes exist is
// not checked (the list changes, and the rate is the user's anyway).
var currencyCodeRE = regexp.MustCompile(`^[A-Z]{3}$`)

func (r *Report) validate(v *validator) {
	if !currencyCodeRE.MatchString(r.Currency) {
		v.add("report.currency", "%q is not an ISO 4217 currency code: three upper-case letters such as USD or EUR", clip(r.Currency))
		return
	}
	switch {
	case r.Currency == DefaultCurrency:
		if r.Rate != 0 && r.Rate != 1 {
			v.add("report.rate", "must be 1 or unset for USD (costs are stored in USD), got %v", r.Rate)
		}
	case math.IsNaN(r.Rate) || math.IsInf(r.Rate, 0) || r.Rate <= 0:
		v.add("report.rate", "required for %s: how many %s one USD is worth, more than 0 (e.g. rate: 0.92)", r.Currency, r.Currency)
	}
}

// splitListen checks a host:port listen address.
func splitListen(addr string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port, e.g. 127.0.0.1:9464", clip(addr))
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("%q: port %q is not a number from 0 to 65535", clip(addr), p)
	}
	return h, n, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
