package influx

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tokentail/tokentail/parse"
)

// sampleRecord is a record with every field set, at full nanosecond
// precision so that its timestamp carries no offset.
func sampleRecord() parse.Record {
	return parse.Record{
		EventID:           "req-1",
		OccurredAt:        time.Unix(1_700_000_000, 123_456_789).UTC(),
		Source:            "api",
		UserID:            "u-42",
		Feature:           "quiz",
		Provider:          "openai",
		Model:             "gpt-4o-mini",
		InputTokens:       812,
		CachedInputTokens: 100,
		OutputTokens:      96,
		TotalTokens:       908,
		Cost:              parse.Money(200_000_000), // 0.0002 USD
		DurationMS:        1234.5,
		HasDuration:       true,
		Success:           true,
		Labels:            []parse.Label{{Key: "service", Value: "quiz-api"}},
	}
}

func encode(t testing.TB, e encoder, r parse.Record) string {
	t.Helper()
	b, err := e.appendRecord(nil, &r)
	if err != nil {
		t.Fatalf("appendRecord: %v", err)
	}
	return string(b)
}

func TestEncoder_Line(t *testing.T) {
	const ts = " 1700000000123456789\n"
	tests := []struct {
		name    string
		userTag bool
		edit    func(r *parse.Record)
		want    string
	}{
		{
			name: "all fields",
			edit: func(r *parse.Record) {},
			want: "ai_usage,feature=quiz,model=gpt-4o-mini,provider=openai,source=api,status=ok,service=quiz-api " +
				"input_tokens=812i,cached_input_tokens=100i,output_tokens=96i,total_tokens=908i,cost_usd=0.0002,duration_ms=1234.5" + ts,
		},
		{
			name: "error with empty tags omitted and no duration",
			edit: func(r *parse.Record) {
				r.Success, r.ErrorType = false, "rate_limit"
				r.Feature, r.Provider, r.Labels = "", "", nil
				r.HasDuration = false
				r.Cost = 0
			},
			want: "ai_usage,error_type=rate_limit,model=gpt-4o-mini,source=api,status=error " +
				"input_tokens=812i,cached_input_tokens=100i,output_tokens=96i,total_tokens=908i,cost_usd=0" + ts,
		},
		{
			name:    "user tag when asked",
			userTag: true,
			edit:    func(r *parse.Record) { r.Labels = nil },
			want: "ai_usage,feature=quiz,model=gpt-4o-mini,provider=openai,source=api,status=ok,user=u-42 " +
				"input_tokens=812i,cached_input_tokens=100i,output_tokens=96i,total_tokens=908i,cost_usd=0.0002,duration_ms=1234.5" + ts,
		},
		{
			name: "labels that shadow built-in or reserved keys are dropped",
			edit: func(r *parse.Record) {
				r.Labels = nil
				for _, kv := range [][2]string{{"model", "x"}, {"time", "x"}, {"_field", "x"}, {"user", "x"}, {"", "x"}, {"empty", ""}, {"team", "ml"}} {
					r.Labels = append(r.Labels, parse.Label{Key: kv[0], Value: kv[1]})
				}
			},
			want: "ai_usage,feature=quiz,model=gpt-4o-mini,provider=openai,source=api,status=ok,team=ml " +
				"input_tokens=812i,cached_input_tokens=100i,output_tokens=96i,total_tokens=908i,cost_usd=0.0002,duration_ms=1234.5" + ts,
		},
		{
			name: "whole-number duration and tiny cost stay plain floats",
			edit: func(r *parse.Record) { r.DurationMS, r.Cost, r.Labels = 812, 1, nil },
			want: "ai_usage,feature=quiz,model=gpt-4o-mini,provider=openai,source=api,status=ok " +
				"input_tokens=812i,cached_input_tokens=100i,output_tokens=96i,total_tokens=908i,cost_usd=0.000000000001,duration_ms=812" + ts,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleRecord()
			tt.edit(&r)
			if got := encode(t, newEncoder(DefaultMeasurement, tt.userTag), r); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestEncoder_Measurement(t *testing.T) {
	r := sampleRecord()
	got := encode(t, newEncoder("ai usage,x=y", false), r)
	if want := `ai\ usage\,x=y,feature=quiz,`; !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want prefix %q", got, want)
	}
}

func TestEncoder_TimeRange(t *testing.T) {
	for _, at := range []time.Time{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)} {
		r := sampleRecord()
		r.OccurredAt = at
		e := newEncoder(DefaultMeasurement, false)
		b, err := e.appendRecord([]byte("keep"), &r)
		if err == nil {
			t.Errorf("%s: got no error, want one", at)
		}
		if string(b) != "keep" {
			t.Errorf("%s: buffer got %q, want it untouched", at, b)
		}
	}
}

func TestEncoder_Escaping(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"plain", "plain"},
		{"a b", `a\ b`},
		{"a,b", `a\,b`},
		{"a=b", `a\=b`},
		{"a\nb", `a\ b`},
		{"a\r\nb", `a\ \ b`},
		{`C:\Users\q`, `C:\Users\q`},
		{`quote"d`, `quote"d`},
		{`end\`, `end/`},
		{`two\\b`, `two/\b`},
		{`x\,y`, `x/\,y`},
		{`x\ y`, `x/\ y`},
		{`x\=y`, `x/\=y`},
		{"x\\\ny", `x/\ y`},
		{"ünï ☃", `ünï\ ☃`},
	}
	for _, tt := range tests {
		if got := string(appendEscaped(nil, tt.in, false)); got != tt.want {
			t.Errorf("appendEscaped(%q) got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// storedValue is what every server should store for tag value s: the
// documented, lossy substitutions and nothing else.
func storedValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n' || c == '\r':
			b.WriteByte(' ')
		case c == '\\' && (i+1 == len(s) || strings.IndexByte("\\, =\n\r", s[i+1]) >= 0):
			b.WriteByte('/')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitInflux18 splits a tag section the way InfluxDB 1.8 scans it: a
// separator preceded by a backslash is escaped, however many backslashes.
func splitInflux18(s string, sep byte) []string {
	var parts []string
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] == sep && (i == 0 || s[i-1] != '\\') {
			parts = append(parts, s[last:i])
			last = i + 1
		}
	}
	return append(parts, s[last:])
}

// unescapeInflux18 is InfluxDB 1.8's tag unescaping: only "\,", "\ " and
// "\=" lose their backslash.
func unescapeInflux18(s string) string {
	r := strings.NewReplacer(`\,`, ",", `\ `, " ", `\=`, "=")
	return r.Replace(s)
}

// splitVM splits the way VictoriaMetrics does: a separator is escaped when
// an odd number of backslashes precedes it.
func splitVM(s string, sep byte) []string {
	var parts []string
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != sep {
			continue
		}
		n := 0
		for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			parts = append(parts, s[last:i])
			last = i + 1
		}
	}
	return append(parts, s[last:])
}

// unescapeVM is VictoriaMetrics's: a backslash before space, comma, equals
// or backslash is dropped, any other is kept.
func unescapeVM(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(" ,=\\", s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// decodeTag reads the value of tag key back from line, as each server
// would. It fails the test when the line's structure is broken.
func decodeTag(t *testing.T, line, key string, split func(string, byte) []string, unescape func(string) string) (string, bool) {
	t.Helper()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("line %q: want exactly one newline, at the end", line)
	}
	sections := split(strings.TrimSuffix(line, "\n"), ' ')
	if len(sections) != 3 {
		t.Fatalf("line %q: got %d space-separated sections, want 3", line, len(sections))
	}
	for _, tag := range split(sections[0], ',')[1:] {
		kv := split(tag, '=')
		if len(kv) != 2 {
			t.Fatalf("line %q: tag %q: got %d parts around '=', want 2", line, tag, len(kv))
		}
		if unescape(kv[0]) == key {
			return unescape(kv[1]), true
		}
	}
	return "", false
}

func checkRoundTrip(t *testing.T, value string) {
	r := sampleRecord()
	r.Labels = []parse.Label{{Key: "k", Value: value}}
	r.Feature = value
	line := encode(t, newEncoder(DefaultMeasurement, false), r)
	want := storedValue(value)
	for _, server := range []struct {
		name     string
		split    func(string, byte) []string
		unescape func(string) string
	}{
		{"influxdb 1.8", splitInflux18, unescapeInflux18},
		{"victoriametrics", splitVM, unescapeVM},
	} {
		for _, key := range []string{"k", "feature"} {
			got, ok := decodeTag(t, line, key, server.split, server.unescape)
			if value == "" {
				if ok {
					t.Errorf("%s: empty value: tag %s present in %q, want it omitted", server.name, key, line)
				}
				continue
			}
			if !ok || got != want {
				t.Errorf("%s: value %q: tag %s got %q (present %v), want %q; line %q", server.name, value, key, got, ok, want, line)
			}
		}
	}
}

func TestEncoder_HostileTagValues(t *testing.T) {
	for _, v := range []string{
		"", "a", " ", ",", "=", `\`, `\\`, `\\\`, "a b,c=d", `a\ b`, `a\,b`, `a\=b`, "line\nbreak", "cr\rlf\n",
		`ends with\`, `"quoted"`, `back\slash`, `\leading`, "tab\there", "# not a comment", "ai_usage,x=1 y=2i 3",
	} {
		checkRoundTrip(t, v)
	}
}

func FuzzEncoder_TagValue(f *testing.F) {
	for _, s := range []string{"a b", `a\,b`, "x\ny", `\`, `=\=`, "ünï"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !utf8.ValidString(v) {
			t.Skip("parse rejects invalid UTF-8 before a record exists")
		}
		checkRoundTrip(t, v)
	})
}

func TestPointTime_Offset(t *testing.T) {
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Time
		span int64
	}{
		{"second", base, 1e9},
		{"millisecond", base.Add(7 * time.Millisecond), 1e6},
		{"microsecond", base.Add(7 * time.Microsecond), 1e3},
		{"nanosecond", base.Add(7), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[int64]bool{}
			for i := range 200 {
				r := parse.Record{EventID: "ev-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), OccurredAt: tt.at}
				got := PointTime(&r)
				if again := PointTime(&r); again != got {
					t.Fatalf("not deterministic: got %d then %d", got, again)
				}
				off := got - tt.at.UnixNano()
				if off < 0 || off >= tt.span {
					t.Fatalf("offset %d outside [0, %d)", off, tt.span)
				}
				seen[got] = true
			}
			// 200 ids over a span of 1e3 or more: collisions are possible
			// but most must differ; a span of 1 must give one timestamp.
			if tt.span == 1 && len(seen) != 1 {
				t.Errorf("full precision: got %d distinct timestamps, want 1", len(seen))
			}
			if tt.span >= 1e6 && len(seen) != 200 {
				t.Errorf("got %d distinct timestamps out of 200, want 200", len(seen))
			}
			if tt.span == 1e3 && len(seen) < 150 {
				t.Errorf("got %d distinct timestamps out of 200, want >= 150", len(seen))
			}
		})
	}
}

// TestPointTime_Millisecond checks that second-precision records differ in
// their millisecond digits, which is all VictoriaMetrics keeps.
func TestPointTime_Millisecond(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ms := map[int64]bool{}
	for i := range 20 {
		r := parse.Record{EventID: "id-" + strings.Repeat("y", i), OccurredAt: at}
		ms[PointTime(&r)/1e6] = true
	}
	// 20 ids over 1000 ms slots: the chance of any collision is ~17%, but
	// this set is fixed, so the count is too.
	if got := len(ms); got < 19 {
		t.Errorf("got %d distinct milliseconds out of 20, want >= 19", got)
	}
}

// TestEventHash_Stable pins the hash: changing it would move every point
// already written, and re-reading old files would then add points.
func TestEventHash_Stable(t *testing.T) {
	r := parse.Record{EventID: "chatcmpl-abc123", OccurredAt: time.Unix(1_700_000_000, 0)}
	if got, want := PointTime(&r), int64(1700000000297930704); got != want {
		t.Errorf("got %d, want %d", got, want)
	}
}
