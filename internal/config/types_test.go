package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseDuration_Forms(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "200ms", want: 200 * time.Millisecond},
		{in: "10s", want: 10 * time.Second},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "400d", want: 400 * 24 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: " 5m ", want: 5 * time.Minute},
		{in: "10", wantErr: `duration "10" has no unit`},
		{in: "-1s", wantErr: "must not be negative"},
		{in: "-2d", wantErr: "must not be negative"},
		{in: "1.5d", wantErr: "days are written as a whole number"},
		{in: "d", wantErr: "days are written as a whole number"},
		{in: "10 seconds", wantErr: "invalid duration"},
		{in: "1d-1h", wantErr: "must not be negative"},
		{in: "", wantErr: "empty duration"},
		{in: "999999999d", wantErr: "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got (%v, %v), want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.D() != tt.want {
				t.Errorf("got (%v, %v), want %v", got.D(), err, tt.want)
			}
		})
	}
}

func TestDuration_StringRoundTrips(t *testing.T) {
	for _, d := range []time.Duration{0, 200 * time.Millisecond, 10 * time.Second, 5 * time.Minute, time.Hour, 90 * time.Minute, 400 * 24 * time.Hour, 36 * time.Hour} {
		s := Duration(d).String()
		back, err := ParseDuration(s)
		if err != nil || back.D() != d {
			t.Errorf("%v: String %q parses back as (%v, %v)", d, s, back.D(), err)
		}
	}
	if got, want := Duration(time.Hour).String(), "1h"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := Duration(400*24*time.Hour).String(), "400d"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseSize_Forms(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string
	}{
		{in: "1048576", want: MiB},
		{in: "1MiB", want: MiB},
		{in: "512KiB", want: 512 * KiB},
		{in: "2 GiB", want: 2 * GiB},
		{in: "100B", want: 100},
		{in: "0", want: 0},
		{in: "1MB", wantErr: `unit "MB" is ambiguous`},
		{in: "1k", wantErr: `unit "k" is ambiguous`},
		{in: "1.5MiB", wantErr: "whole number"},
		{in: "3 parsecs", wantErr: `unknown unit "parsecs"`},
		{in: "-1", wantErr: "must not be negative"},
		{in: "MiB", wantErr: "invalid size"},
		{in: "99999999999GiB", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got (%v, %v), want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got (%d, %v), want %d", got, err, tt.want)
			}
		})
	}
	for s, want := range map[Size]string{MiB: "1MiB", 512 * KiB: "512KiB", 1500: "1500", 3 * GiB: "3GiB"} {
		if got := s.String(); got != want {
			t.Errorf("Size(%d).String(): got %q, want %q", int64(s), got, want)
		}
	}
}

func TestSecret_NeverPrinted(t *testing.T) {
	const value = "hunter2-very-secret"
	s := Secret(value)
	if got := s.Reveal(); got != value {
		t.Fatalf("Reveal: got %q, want %q", got, value)
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "token", s)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("x", "token", s, "cfg", Postgres{DSN: s})
	jsonOut, err := json.Marshal(struct {
		S Secret
		P *Postgres
	}{s, &Postgres{DSN: s}})
	if err != nil {
		t.Fatal(err)
	}
	yamlOut, err := yaml.Marshal(struct{ S Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", s),
		//lint:ignore S1025 the test is what the %s verb prints
		"%s":   fmt.Sprintf("%s", s),
		"%q":   fmt.Sprintf("%q", s),
		"%x":   fmt.Sprintf("%x", s),
		"%#v":  fmt.Sprintf("%#v", s),
		"%+v":  fmt.Sprintf("%+v", Postgres{DSN: s}),
		"%#v2": fmt.Sprintf("%#v", InfluxDB{Token: s}),
		"json": string(jsonOut),
		"yaml": string(yamlOut),
		"slog": logBuf.String(),
		"err":  fmt.Errorf("connect %v: refused", s).Error(),
	}
	for name, out := range outputs {
		if strings.Contains(out, value) {
			t.Errorf("%s: output %q reveals the secret", name, out)
		}
		if !strings.Contains(out, "***") && name != "%x" {
			t.Errorf("%s: output %q does not show the mask", name, out)
		}
	}
	if got, want := Secret("").String(), ""; got != want {
		t.Errorf("empty secret: got %q, want %q", got, want)
	}
}
