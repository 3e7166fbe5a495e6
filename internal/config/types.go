package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration read from YAML as Go duration text ("200ms",
// "10s", "1h30m") or as whole days ("400d", "1d12h"), since retention periods
// are naturally counted in days and time.ParseDuration has no day unit.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the way it is written in the config: "400d", "10s", "1h".
func (d Duration) String() string {
	td := time.Duration(d)
	if td > 0 && td%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	}
	s := td.String()
	// time.Duration prints 1h0m0s; drop the zero tails to keep dumps readable.
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalYAML writes d in the form ParseDuration reads.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (d *Duration) decodeScalar(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// maxDays keeps a day count from overflowing time.Duration (about 292 years).
const maxDays = int64(1<<63-1) / int64(24*time.Hour)

// ParseDuration parses a non-negative duration: Go syntax ("200ms", "1h30m"),
// optionally led by a whole number of days ("400d", "1d12h"). "0" is zero.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty duration; write e.g. 10s, 200ms, 5m or 400d")
	}
	if t == "0" {
		return 0, nil
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	if isDigits(t) {
		return 0, fmt.Errorf("duration %q has no unit; write e.g. %ss or %sms", s, t, t)
	}
	var days int64
	rest := t
	if i := strings.IndexByte(t, 'd'); i >= 0 {
		if i == 0 || !isDigits(t[:i]) {
			return 0, fmt.Errorf("invalid duration %q; days are written as a whole number like 400d", s)
		}
		n, err := strconv.ParseInt(t[:i], 10, 64)
		if err != nil || n > maxDays {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		days, rest = n, t[i+1:]
	}
	var sub time.Duration
	if rest != "" {
		v, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q; write e.g. 10s, 200ms, 5m, 2h or 400d", s)
		}
		if v < 0 {
			return 0, fmt.Errorf("duration %q must not be negative", s)
		}
		sub = v
	}
	total := time.Duration(days) * 24 * time.Hour
	if total+sub < total {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	return Duration(total + sub), nil
}

// Size is a number of bytes read from YAML as a plain integer or with a
// binary unit: "512KiB", "1MiB", "2GiB".
type Size int64

// Sizes in bytes.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

// String formats s with the largest unit that divides it exactly: "1MiB", "1500".
func (s Size) String() string {
	switch {
	case s != 0 && s%GiB == 0:
		return strconv.FormatInt(int64(s/GiB), 10) + "GiB"
	case s != 0 && s%MiB == 0:
		return strconv.FormatInt(int64(s/MiB), 10) + "MiB"
	case s != 0 && s%KiB == 0:
		return strconv.FormatInt(int64(s/KiB), 10) + "KiB"
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalYAML writes s in the form ParseSize reads.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

func (s *Size) decodeScalar(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = n
	return nil
}

// ParseSize parses a non-negative byte count: "1048576", "512KiB", "1 MiB".
// Decimal units (KB, MB) are refused rather than guessed, because people use
// them for both 1000 and 1024.
func ParseSize(v string) (Size, error) {
	t := strings.TrimSpace(v)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		if strings.HasPrefix(t, "-") {
			return 0, fmt.Errorf("size %q must not be negative", v)
		}
		return 0, fmt.Errorf("invalid size %q; write a number of bytes, or use KiB, MiB or GiB (e.g. 1MiB)", v)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is too large", v)
	}
	var mult int64
	switch unit := strings.TrimSpace(t[i:]); unit {
	case "", "B":
		mult = 1
	case "KiB":
		mult = int64(KiB)
	case "MiB":
		mult = int64(MiB)
	case "GiB":
		mult = int64(GiB)
	case "K", "k", "KB", "kB", "kb", "M", "MB", "mb", "G", "GB", "gb":
		return 0, fmt.Errorf("size %q: unit %q is ambiguous; use KiB, MiB or GiB", v, unit)
	default:
		if strings.HasPrefix(unit, ".") {
			return 0, fmt.Errorf("size %q must be a whole number of bytes or units", v)
		}
		return 0, fmt.Errorf("size %q: unknown unit %q; use KiB, MiB or GiB", v, unit)
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("size %q is too large", v)
	}
	return Size(n * mult), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Secret is a string that must not be shown: a password, a DSN, a token.
// Every way of printing it (fmt, %#v, JSON, YAML, text, slog) shows "***",
// so a Secret passed to a logger or an error by mistake does not leak.
// An empty Secret prints as "" so that "not set" stays visible.
type Secret string

const masked = "***"

// Reveal returns the secret's value, for the one place that needs it
// (the database driver, the HTTP header).
func (s Secret) Reveal() string { return string(s) }

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return masked
}

// String returns "***" (or "" when the secret is empty).
func (s Secret) String() string { return s.mask() }

// GoString returns a masked Go literal, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.mask()) }

// MarshalJSON returns a masked JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.mask())), nil }

// MarshalText returns the masked text, for encoders that use encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

// MarshalYAML returns the masked text.
func (s Secret) MarshalYAML() (any, error) { return s.mask(), nil }

// LogValue masks the secret in log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.mask()) }

func (s *Secret) decodeScalar(v string) error {
	*s = Secret(v)
	return nil
}
