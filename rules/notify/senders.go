package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// post sends body as JSON to rawURL. Its errors never hold the URL:
// webhook URLs carry tokens.
func post(ctx context.Context, c *http.Client, rawURL string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return &permanentError{errors.New("bad receiver URL")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tokentail")
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return httpError(resp)
	}
	return nil
}

func fingerprint(f uint64) string { return strconv.FormatUint(f, 16) }

// zeroTime is how Alertmanager writes "no end" in webhooks.
var zeroTime = time.Time{}.UTC()

// Webhook posts Alertmanager's webhook JSON, version 4, so receivers
// written for Alertmanager work unchanged.
type Webhook struct {
	URL      string
	Receiver string
	Client   *http.Client
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

type webhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []webhookAlert    `json:"alerts"`
}

// Send posts one message holding alerts (all of one rule).
func (w *Webhook) Send(ctx context.Context, alerts []Alert) error {
	m := webhookMessage{Version: "4", Status: "resolved", Receiver: w.Receiver,
		GroupLabels: map[string]string{"alertname": alerts[0].Rule}}
	m.GroupKey = fmt.Sprintf(`{}:{alertname=%q}`, alerts[0].Rule)
	for i, a := range alerts {
		if a.Firing {
			m.Status = "firing"
		}
		end := a.EndsAt
		if a.Firing {
			end = zeroTime
		}
		wa := webhookAlert{Status: a.Status(), Labels: a.Labels.Map(), Annotations: a.Annotations.Map(),
			StartsAt: a.StartsAt.UTC(), EndsAt: end.UTC(), Fingerprint: fingerprint(a.Fingerprint)}
		m.Alerts = append(m.Alerts, wa)
		if i == 0 {
			m.CommonLabels, m.CommonAnnotations = a.Labels.Map(), a.Annotations.Map()
			continue
		}
		common(m.CommonLabels, wa.Labels)
		common(m.CommonAnnotations, wa.Annotations)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return &permanentError{err}
	}
	return post(ctx, w.Client, w.URL, body)
}

// common keeps in c only the pairs also in m.
func common(c, m map[string]string) {
	for k, v := range c {
		if m[k] != v {
			delete(c, k)
		}
	}
}

// Alertmanager posts to Alertmanager's /api/v2/alerts. Firing alerts carry
// an endsAt a few repeat intervals ahead, as Prometheus does, so that
// Alertmanager resolves them by itself if tokentail goes away.
type Alertmanager struct {
	URL    string // the Alertmanager's base URL
	Client *http.Client
}

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Send posts alerts.
func (a *Alertmanager) Send(ctx context.Context, alerts []Alert) error {
	out := make([]amAlert, len(alerts))
	for i, al := range alerts {
		out[i] = amAlert{Labels: al.Labels.Map(), Annotations: al.Annotations.Map(), StartsAt: al.StartsAt.UTC()}
		if al.Firing {
			out[i].EndsAt = al.ValidUntil.UTC()
		} else {
			out[i].EndsAt = al.EndsAt.UTC()
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return &permanentError{err}
	}
	return post(ctx, a.Client, strings.TrimSuffix(a.URL, "/")+"/api/v2/alerts", body)
}

// Slack posts an incoming-webhook message: one line per alert.
type Slack struct {
	URL    string
	Client *http.Client
}

// Send posts alerts.
func (s *Slack) Send(ctx context.Context, alerts []Alert) error {
	body, err := json.Marshal(map[string]string{"text": slackText(alerts)})
	if err != nil {
		return &permanentError{err}
	}
	return post(ctx, s.Client, s.URL, body)
}

func slackText(alerts []Alert) string {
	var b strings.Builder
	firing := 0
	for _, a := range alerts {
		if a.Firing {
			firing++
		}
	}
	switch {
	case firing == len(alerts):
		fmt.Fprintf(&b, "[FIRING:%d] %s", firing, alerts[0].Rule)
	case firing == 0:
		fmt.Fprintf(&b, "[RESOLVED] %s", alerts[0].Rule)
	default:
		fmt.Fprintf(&b, "[FIRING:%d, RESOLVED:%d] %s", firing, len(alerts)-firing, alerts[0].Rule)
	}
	for _, a := range alerts {
		icon := ":red_circle:"
		if !a.Firing {
			icon = ":white_check_mark:"
		} else if a.Severity.String() == "warning" {
			icon = ":warning:"
		}
		fmt.Fprintf(&b, "\n%s *%s* %s", icon, a.Severity, a.Status())
		var ls []string
		for _, l := range a.Labels {
			if l.Name != "alertname" && l.Name != "severity" {
				ls = append(ls, l.Name+"="+l.Value)
			}
		}
		if len(ls) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(ls, ", "))
		}
		if s := a.Annotations.Get("summary"); s != "" {
			b.WriteString(": " + s)
		}
	}
	return b.String()
}

// Log writes one log line per alert.
type Log struct {
	Logger *slog.Logger
}

// Send logs alerts; it cannot fail.
func (l *Log) Send(ctx context.Context, alerts []Alert) error {
	for _, a := range alerts {
		attrs := []any{"alertname", a.Rule, "severity", a.Severity.String(), "state", a.Status(), "starts_at", a.StartsAt}
		if a.HasValue {
			attrs = append(attrs, "value", a.Value)
		}
		for _, x := range a.Labels {
			if x.Name != "alertname" && x.Name != "severity" {
				attrs = append(attrs, "label."+x.Name, x.Value)
			}
		}
		for _, x := range a.Annotations {
			attrs = append(attrs, x.Name, x.Value)
		}
		l.Logger.LogAttrs(ctx, slog.LevelWarn, "alert", argsToAttrs(attrs)...)
	}
	return nil
}

func argsToAttrs(kv []any) []slog.Attr {
	out := make([]slog.Attr, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, slog.Any(kv[i].(string), kv[i+1]))
	}
	return out
}
