package rules

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tokentail/tokentail/internal/config"
)

var (
	topKeys      = []string{"evaluation_interval", "query_offset", "max_groups", "notifiers", "rules"}
	notifierKeys = []string{"name", "type", "url", "timeout", "max_retries", "repeat_interval", "send_resolved", "min_severity", "queue_size"}
	ruleKeys     = []string{"name", "metric", "aggregate", "window", "period", "timezone", "group_by", "where",
		"warning", "critical", "below", "for", "keep_firing_for", "min_count", "baseline", "zscore_over",
		"labels", "annotations", "max_groups", "notifiers"}
	metrics    = []string{"cost_usd", "input_tokens", "cached_input_tokens", "output_tokens", "total_tokens", "requests", "errors", "error_rate", "duration_ms"}
	aggregates = []string{"sum", "count", "avg", "max", "p50", "p90", "p95", "p99", "rate"}

	nameRE  = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)
	fieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	labelRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (d *decoder) file_(root *yaml.Node, f *File) {
	maxGroups := int64(DefaultMaxGroups)
	var rulesNode, notifiersNode *yaml.Node
	d.fields(root, "", topKeys, func(key string, k, v *yaml.Node) {
		switch key {
		case "evaluation_interval":
			if dur, ok := d.duration(v, key); ok {
				if dur < time.Second || dur%time.Second != 0 {
					d.problem(v, key, "must be a whole number of seconds, at least 1s")
				} else {
					f.EvaluationInterval = dur
				}
			}
		case "query_offset":
			if dur, ok := d.duration(v, key); ok {
				f.QueryOffset = dur
			}
		case "max_groups":
			if n, ok := d.integer(v, key, 1); ok {
				maxGroups = n
			}
		case "notifiers":
			notifiersNode = v
		case "rules":
			rulesNode = v
		}
	})
	if notifiersNode != nil && !isNull(notifiersNode) {
		if notifiersNode.Kind != yaml.SequenceNode {
			d.problem(notifiersNode, "notifiers", "expected a list, got %s", kindName(notifiersNode))
		} else {
			names := map[string]bool{}
			for i, n := range notifiersNode.Content {
				p := fmt.Sprintf("notifiers[%d]", i)
				if nf, ok := d.notifier(resolve(n), p); ok {
					if names[nf.Name] {
						d.problem(n, p+".name", "notifier %q is defined twice", nf.Name)
					}
					names[nf.Name] = true
					f.Notifiers = append(f.Notifiers, nf)
				}
			}
		}
	}
	if rulesNode == nil || isNull(rulesNode) {
		return
	}
	if rulesNode.Kind != yaml.SequenceNode {
		d.problem(rulesNode, "rules", "expected a list, got %s", kindName(rulesNode))
		return
	}
	names := map[string]bool{}
	for i, n := range rulesNode.Content {
		p := fmt.Sprintf("rules[%d]", i)
		r, ok := d.rule(resolve(n), p, f, int(maxGroups))
		if !ok {
			continue
		}
		if names[r.Name] {
			d.problem(n, p+".name", "rule %q is defined twice", r.Name)
		}
		names[r.Name] = true
		f.Rules = append(f.Rules, r)
	}
}

func (d *decoder) notifier(n *yaml.Node, p string) (Notifier, bool) {
	nf := Notifier{Timeout: DefaultNotifyTimeout, MaxRetries: DefaultMaxRetries, SendResolved: true,
		MinSeverity: SeverityWarning, QueueSize: DefaultQueueSize}
	before := len(d.probs)
	var urlNode *yaml.Node
	repeatSet := false
	if !d.fields(n, p, notifierKeys, func(key string, k, v *yaml.Node) {
		kp := join(p, key)
		switch key {
		case "name":
			if s, ok := d.str(v, kp); ok {
				if !nameRE.MatchString(s) {
					d.problem(v, kp, "%q: use letters, digits and _ . : -", clip(s))
				}
				nf.Name = s
			}
		case "type":
			if s, ok := d.str(v, kp); ok {
				switch NotifierType(s) {
				case NotifierWebhook, NotifierAlertmanager, NotifierSlack, NotifierLog:
					nf.Type = NotifierType(s)
				default:
					d.problem(v, kp, "unknown notifier type %q; use webhook, alertmanager, slack or log%s", clip(s),
						config.Suggest(s, []string{"webhook", "alertmanager", "slack", "log"}))
				}
			}
		case "url":
			urlNode = v
			// The URL is a secret: messages below never quote it.
			if v.Kind != yaml.ScalarNode || isNull(v) {
				d.problem(v, kp, "expected a URL, got %s", kindName(v))
				return
			}
			s, err := expandEnv(v.Value, d.getenv)
			if err != nil {
				d.problem(v, kp, "%v", err)
				return
			}
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.problem(v, kp, "not an http:// or https:// URL (the value is not shown: it may hold a token)")
				return
			}
			nf.URL = config.Secret(s)
			nf.literal = !strings.Contains(v.Value, "${")
		case "timeout":
			if dur, ok := d.duration(v, kp); ok {
				if dur <= 0 {
					d.problem(v, kp, "must be above zero")
				}
				nf.Timeout = dur
			}
		case "max_retries":
			if i, ok := d.integer(v, kp, 0); ok {
				nf.MaxRetries = int(i)
			}
		case "repeat_interval":
			if dur, ok := d.duration(v, kp); ok {
				nf.RepeatInterval, repeatSet = dur, true
			}
		case "send_resolved":
			if b, ok := d.boolean(v, kp); ok {
				nf.SendResolved = b
			}
		case "min_severity":
			if s, ok := d.str(v, kp); ok {
				sev, good := ParseSeverity(s)
				if !good {
					d.problem(v, kp, "%q: use warning or critical", clip(s))
				}
				nf.MinSeverity = sev
			}
		case "queue_size":
			if i, ok := d.integer(v, kp, 1); ok {
				nf.QueueSize = int(i)
			}
		}
	}) {
		return nf, false
	}
	if nf.Name == "" {
		d.problem(n, p+".name", "missing: every notifier needs a name")
	}
	if nf.Type == "" && len(d.probs) == before {
		d.problem(n, p+".type", "missing: use webhook, alertmanager, slack or log")
	}
	if nf.Type != "" && nf.Type != NotifierLog && urlNode == nil {
		d.problem(n, p+".url", "missing: a %s notifier needs a url", nf.Type)
	}
	if nf.Type == NotifierLog && urlNode != nil {
		d.problem(urlNode, p+".url", "a log notifier takes no url")
	}
	if !repeatSet {
		nf.RepeatInterval = DefaultRepeatInterval
		if nf.Type == NotifierAlertmanager {
			nf.RepeatInterval = DefaultAlertmanagerRepeat
		}
	}
	return nf, len(d.probs) == before
}

func (d *decoder) rule(n *yaml.Node, p string, f *File, maxGroups int) (Rule, bool) {
	r := Rule{Location: time.UTC, MaxGroups: maxGroups, Line: n.Line}
	before := len(d.probs)
	nodes := map[string]*yaml.Node{}
	if !d.fields(n, p, ruleKeys, func(key string, k, v *yaml.Node) {
		nodes[key] = v
		kp := join(p, key)
		switch key {
		case "name":
			if s, ok := d.str(v, kp); ok {
				if !nameRE.MatchString(s) {
					d.problem(v, kp, "%q: use letters, digits and _ . : -", clip(s))
				}
				r.Name = s
			}
		case "metric":
			if s, ok := d.str(v, kp); ok {
				if !slices.Contains(metrics, s) {
					d.problem(v, kp, "unknown metric %q; use one of %s%s", clip(s), metricNamesForHelp, config.Suggest(s, metrics))
				}
				r.Metric = Metric(s)
			}
		case "aggregate":
			if s, ok := d.str(v, kp); ok {
				if !slices.Contains(aggregates, s) {
					d.problem(v, kp, "unknown aggregate %q; use one of %s%s", clip(s), strings.Join(aggregates, ", "), config.Suggest(s, aggregates))
				}
				r.Aggregate = Aggregate(s)
			}
		case "window":
			if dur, ok := d.duration(v, kp); ok {
				r.Window = dur
			}
		case "period":
			if s, ok := d.str(v, kp); ok {
				switch Period(s) {
				case PeriodDay, PeriodWeek, PeriodMonth:
					r.Period = Period(s)
				default:
					d.problem(v, kp, "unknown period %q; use day, week or month (or `window:` for a sliding window)", clip(s))
				}
			}
		case "timezone":
			if s, ok := d.str(v, kp); ok {
				loc, err := time.LoadLocation(s)
				if err != nil {
					d.problem(v, kp, "unknown timezone %q; use an IANA name like Europe/Paris or UTC", clip(s))
				} else {
					r.Location = loc
				}
			}
		case "group_by":
			if l, ok := d.strList(v, kp); ok {
				for i, g := range l {
					if !fieldRE.MatchString(g) {
						d.problem(v, fmt.Sprintf("%s[%d]", kp, i), "%q is not a field name", clip(g))
					} else if slices.Contains(l[:i], g) {
						d.problem(v, fmt.Sprintf("%s[%d]", kp, i), "%q is listed twice", g)
					}
				}
				r.GroupBy = l
			}
		case "where":
			d.strMap(v, kp, func(field string, kn, vn *yaml.Node, glob string) {
				if !fieldRE.MatchString(field) {
					d.problem(kn, join(kp, field), "%q is not a field name", clip(field))
				}
				if _, err := path.Match(glob, ""); err != nil {
					d.problem(vn, join(kp, field), "bad glob %q: %v", clip(glob), err)
				}
				r.Where = append(r.Where, Match{Field: field, Glob: glob})
			})
		case "warning", "critical":
			if x, ok := d.number(v, kp); ok {
				if key == "warning" {
					r.Warning = &x
				} else {
					r.Critical = &x
				}
			}
		case "below":
			if b, ok := d.boolean(v, kp); ok {
				r.Below = b
			}
		case "for":
			if dur, ok := d.duration(v, kp); ok {
				r.For = dur
			}
		case "keep_firing_for":
			if dur, ok := d.duration(v, kp); ok {
				r.KeepFiringFor = dur
			}
		case "min_count":
			if i, ok := d.integer(v, kp, 0); ok {
				r.MinCount = i
			}
		case "baseline":
			if dur, ok := d.duration(v, kp); ok {
				r.Baseline = dur
			}
		case "zscore_over":
			if dur, ok := d.duration(v, kp); ok {
				r.ZScoreOver = dur
			}
		case "labels":
			d.strMap(v, kp, func(name string, kn, _ *yaml.Node, val string) {
				switch {
				case !labelRE.MatchString(name):
					d.problem(kn, join(kp, name), "%q is not a label name (letters, digits, _)", clip(name))
				case name == "alertname" || name == "severity":
					d.problem(kn, join(kp, name), "%s is set by tokentail and cannot be a rule label", name)
				}
				r.Labels = append(r.Labels, Label{Name: name, Value: val})
			})
			slices.SortFunc(r.Labels, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
		case "annotations":
			d.strMap(v, kp, func(name string, kn, vn *yaml.Node, text string) {
				if !labelRE.MatchString(name) {
					d.problem(kn, join(kp, name), "%q is not an annotation name (letters, digits, _)", clip(name))
				}
				t, err := template.New(name).Option("missingkey=zero").Funcs(templateFuncs).Parse(text)
				if err != nil {
					d.problem(vn, join(kp, name), "bad template: %s", strings.TrimPrefix(err.Error(), "template: "))
					return
				}
				r.Annotations = append(r.Annotations, Annotation{Name: name, Text: text, tmpl: t})
			})
		case "max_groups":
			if i, ok := d.integer(v, kp, 1); ok {
				r.MaxGroups = int(i)
			}
		case "notifiers":
			if l, ok := d.strList(v, kp); ok {
				for i, name := range l {
					if !slices.ContainsFunc(f.Notifiers, func(nf Notifier) bool { return nf.Name == name }) {
						d.problem(v, fmt.Sprintf("%s[%d]", kp, i), "no notifier named %q", clip(name))
					}
				}
				r.Notifiers = l
			}
		}
	}) {
		return r, false
	}
	at := func(key string) *yaml.Node {
		if v, ok := nodes[key]; ok {
			return v
		}
		return n
	}
	fail := func(key, format string, args ...any) {
		d.problem(at(key), join(p, key), format, args...)
	}
	if r.Name == "" {
		fail("name", "missing: every rule needs a name")
	}
	if r.Metric == "" {
		fail("metric", "missing: use one of %s", metricNamesForHelp)
	}
	if len(d.probs) > before {
		return r, false // what follows checks combinations of keys read well
	}
	d.checkAggregate(&r, p, at)
	interval := f.EvaluationInterval
	switch {
	case r.Window == 0 && r.Period == "":
		fail("window", "missing: give `window:` (a sliding window like 5m) or `period:` (day, week or month)")
	case r.Window != 0 && r.Period != "":
		fail("period", "give either `window:` or `period:`, not both")
	case r.Window != 0 && (r.Window < interval || r.Window%interval != 0):
		fail("window", "must be a multiple of evaluation_interval (%s)", config.Duration(interval))
	}
	if _, ok := nodes["timezone"]; ok && r.Period == "" {
		fail("timezone", "only applies to a calendar `period:`")
	}
	if r.Warning == nil && r.Critical == nil {
		fail("warning", "missing: give a `warning:` or a `critical:` threshold, or both")
	}
	if r.Warning != nil && r.Critical != nil {
		if !r.Below && *r.Critical < *r.Warning {
			fail("critical", "is below warning: critical must be the larger threshold (or set `below: true`)")
		}
		if r.Below && *r.Critical > *r.Warning {
			fail("critical", "is above warning: with `below: true` critical must be the smaller threshold")
		}
	}
	if r.Baseline != 0 {
		switch {
		case r.Window == 0:
			fail("baseline", "needs a sliding `window:` (for a calendar period use `zscore_over:`)")
		case r.Baseline < r.Window || r.Baseline%stepFor(&r, interval) != 0:
			fail("baseline", "must be at least the window (%s) and a multiple of its step (%s)",
				config.Duration(r.Window), config.Duration(stepFor(&r, interval)))
		}
	}
	if r.ZScoreOver != 0 {
		switch {
		case r.Period == "":
			fail("zscore_over", "needs a calendar `period:` (for a sliding window use `baseline:`)")
		case r.Baseline != 0:
			fail("zscore_over", "give either `baseline:` or `zscore_over:`, not both")
		case historyLen(&r) < 2:
			fail("zscore_over", "must span at least two earlier periods (e.g. 30d for period: day)")
		case historyLen(&r) > maxHistory:
			fail("zscore_over", "spans more than %d periods", maxHistory)
		}
	}
	return r, len(d.probs) == before
}

func (d *decoder) checkAggregate(r *Rule, p string, at func(string) *yaml.Node) {
	if r.Aggregate == "" {
		switch r.Metric {
		case MetricErrorRate, MetricDuration:
			r.Aggregate = AggAvg
		default:
			r.Aggregate = AggSum
		}
	}
	fail := func(format string, args ...any) {
		d.problem(at("aggregate"), join(p, "aggregate"), format, args...)
	}
	switch {
	case r.Metric == MetricErrorRate && r.Aggregate != AggAvg:
		fail("error_rate is a ratio of the window or period: leave aggregate out (or use avg)")
	case r.Aggregate.percentile() && (r.Metric == MetricRequests || r.Metric == MetricErrors):
		fail("a percentile of %s is always 0 or 1; use sum, count or rate", r.Metric)
	case r.Aggregate == AggRate && r.Window == 0:
		fail("rate needs a sliding `window:`; with a calendar period use sum")
	}
}

func (a Aggregate) percentile() bool {
	return a == AggP50 || a == AggP90 || a == AggP95 || a == AggP99
}

// expandEnv expands ${VAR} as the config file does; with no getenv (tests,
// `rules check` without an environment) values are kept as written.
func expandEnv(s string, getenv func(string) (string, bool)) (string, error) {
	if getenv == nil {
		return s, nil
	}
	return config.Expand(s, getenv)
}
