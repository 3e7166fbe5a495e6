package grafana

import (
	"strings"
	"testing"
	"time"
)

var testRange = TimeRange{
	From:     time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
	To:       time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC),
	Interval: time.Hour,
}

func TestExpandSQL_Macros(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"timeFilter", "WHERE $__timeFilter(occurred_at)",
			"WHERE occurred_at BETWEEN '2025-06-01T00:00:00Z' AND '2025-06-03T00:00:00Z'"},
		{"from and to", "$__timeFrom() < $__timeTo( )",
			"'2025-06-01T00:00:00Z' < '2025-06-03T00:00:00Z'"},
		{"timeGroupAlias quoted", "SELECT $__timeGroupAlias(occurred_at, '1d'), 1",
			`SELECT floor(extract(epoch from occurred_at)/86400)*86400 AS "time", 1`},
		{"timeGroup with interval", "GROUP BY $__timeGroup(occurred_at,$__interval)",
			"GROUP BY floor(extract(epoch from occurred_at)/3600)*3600"},
		{"nested parentheses in the column", "$__timeGroup(coalesce(a, b), 1m)",
			"floor(extract(epoch from coalesce(a, b))/60)*60"},
		{"interval_ms is not interval", "x * 60000.0 / $__interval_ms, '$__interval'",
			"x * 60000.0 / 3600000, '1h'"},
		{"two calls", "$__timeFilter(a) AND $__timeFilter(b)",
			"a BETWEEN '2025-06-01T00:00:00Z' AND '2025-06-03T00:00:00Z' AND b BETWEEN '2025-06-01T00:00:00Z' AND '2025-06-03T00:00:00Z'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandSQL(tt.in, testRange)
			if err != nil {
				t.Fatalf("ExpandSQL(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ExpandSQL(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestExpandSQL_Refuses(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"unknown macro", "WHERE $__unixEpochFilter(t)", "$__unixEpochFilter"},
		{"template variable", "WHERE model = '$model'", "$model"},
		{"fill argument", "$__timeGroup(t, '1m', 0)", "got 3 arguments"},
		{"bad interval", "$__timeGroup(t, 'soon')", "interval"},
		{"no column", "$__timeFilter()", "one column"},
		{"unclosed", "$__timeFilter(t", "no closing parenthesis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandSQL(tt.in, testRange)
			if err == nil {
				t.Fatalf("ExpandSQL(%q) = %q, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestExpandInfluxQL_Macros(t *testing.T) {
	in := `SELECT sum("total_tokens") * 60000 / $__interval_ms FROM "ai_usage" WHERE $timeFilter GROUP BY time($__interval)`
	want := `SELECT sum("total_tokens") * 60000 / 3600000 FROM "ai_usage" WHERE time >= 1748736000000ms and time <= 1748908800000ms GROUP BY time(1h)`
	got, err := ExpandInfluxQL(in, testRange)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := ExpandInfluxQL(`SELECT * FROM x WHERE "model" =~ /^$model$/`, testRange); err == nil {
		t.Error("a template variable expanded without error, want an error")
	}
}

func TestFormatInterval_GrafanaUnits(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{24 * time.Hour, "1d"}, {2 * time.Hour, "2h"}, {90 * time.Minute, "90m"},
		{30 * time.Second, "30s"}, {1500 * time.Millisecond, "1500ms"},
	}
	for _, tt := range tests {
		if got := formatInterval(tt.d); got != tt.want {
			t.Errorf("formatInterval(%v) = %q, want %q", tt.d, got, tt.want)
		}
		back, err := parseInterval(formatInterval(tt.d))
		if err != nil || back != tt.d {
			t.Errorf("parseInterval(formatInterval(%v)) = %v, %v; want %v", tt.d, back, err, tt.d)
		}
	}
}
