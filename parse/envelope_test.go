package parse

import (
	"strings"
	"testing"
	"time"
)

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		line string
		want Format
	}{
		{`{"log":"hello\n","stream":"stdout","time":"2026-11-23T10:00:00.000000001Z"}`, FormatDocker},
		{`{"stream":"stdout","log":"x\n","time":"2026-11-23T10:00:00Z"}`, FormatDocker},
		{`2026-11-23T10:00:00.123456789Z stdout F hello`, FormatCRI},
		{`2026-11-23T10:00:00.123456789+00:00 stderr P part`, FormatCRI},
		{`2026-11-23T10:00:00Z INFO AI_COST: {}`, FormatPlain},
		{`{"model":"gpt-4o"}`, FormatPlain},
	}
	for _, tt := range tests {
		if got := DetectFormat([]byte(tt.line)); got != tt.want {
			t.Errorf("DetectFormat(%s) = %s, want %s", tt.line, got, tt.want)
		}
	}
}

type decoded struct {
	text        string
	offset, end int64
	res         DecodeResult
	tooLong     bool
	at          time.Time
}

func decodeAll(d *Decoder, lines ...string) []decoded {
	var out []decoded
	var off int64
	for _, l := range lines {
		end := off + int64(len(l)) + 1
		m, res, _ := d.Decode([]byte(l), off, end)
		out = append(out, decoded{string(m.Text), m.Offset, m.End, res, m.TooLong, m.Time})
		off = end
	}
	return out
}

func TestDecoder_Docker(t *testing.T) {
	d := NewDecoder(FormatAuto, "c.log", 0)
	got := decodeAll(d,
		`{"log":"AI_COST: {\"model\":\"m\"}\n","stream":"stdout","time":"2026-11-23T10:00:00.5Z"}`,
		`{"log":"first half ","stream":"stdout","time":"2026-11-23T10:00:01Z"}`,
		`{"log":"second half\r\n","stream":"stdout","time":"2026-11-23T10:00:02Z"}`,
		`{"log": broken`,
	)
	if d.Format() != FormatDocker {
		t.Fatalf("format %s, want docker", d.Format())
	}
	if got[0].res != Decoded || got[0].text != `AI_COST: {"model":"m"}` || !got[0].at.Equal(time.Date(2026, 11, 23, 10, 0, 0, 5e8, time.UTC)) {
		t.Errorf("line 1: %+v", got[0])
	}
	if got[1].res != Held {
		t.Errorf("line 2: %+v, want held", got[1])
	}
	if got[2].res != Decoded || got[2].text != "first half second half" || got[2].offset != got[0].end || got[2].end != got[3].offset {
		t.Errorf("line 3: %+v", got[2])
	}
	if got[3].res != BadEnvelope {
		t.Errorf("line 4: %+v, want bad envelope", got[3])
	}
}

func TestDecoder_CRI(t *testing.T) {
	d := NewDecoder(FormatCRI, "p.log", 0)
	got := decodeAll(d,
		`2026-11-23T10:00:00.000000001Z stdout P AI_COST: {"model":`,
		`2026-11-23T10:00:00.000000002Z stdout P "gpt-4o",`,
		`2026-11-23T10:00:00.000000003Z stdout F "input_tokens":1}`,
		`2026-11-23T10:00:01Z stderr F plain`,
		`not cri at all`,
	)
	if got[0].res != Held || got[1].res != Held {
		t.Fatalf("partials not held: %+v %+v", got[0], got[1])
	}
	if from, ok := d.HeldFrom(); ok {
		t.Errorf("still holding from %d after F", from)
	}
	want := `AI_COST: {"model":"gpt-4o","input_tokens":1}`
	if got[2].res != Decoded || got[2].text != want || got[2].offset != 0 {
		t.Errorf("joined: %+v, want %q from offset 0", got[2], want)
	}
	if got[3].text != "plain" || got[4].res != BadEnvelope {
		t.Errorf("tail: %+v %+v", got[3], got[4])
	}
}

func TestDecoder_TooLong(t *testing.T) {
	d := NewDecoder(FormatCRI, "p.log", 10)
	got := decodeAll(d,
		`2026-11-23T10:00:00Z stdout P 0123456789`,
		`2026-11-23T10:00:00Z stdout F abc`,
	)
	if !got[1].tooLong || len(got[1].text) > 11 {
		t.Errorf("joined line over the limit: %+v", got[1])
	}
	p := NewDecoder(FormatPlain, "a.log", 10)
	if m := decodeAll(p, strings.Repeat("x", 11)); !m[0].tooLong {
		t.Error("plain line over the limit not flagged")
	}
}

func TestParseTimeText(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-23T10:00:00Z", time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), true},
		{"2026-11-23T10:00:00.123456789Z", time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC), true},
		{"2026-11-23T10:00:00-0800", time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC), true},
		{"2026-11-23T10:00:00,5", time.Date(2026, 11, 23, 10, 0, 0, 5e8, time.UTC), true},
		{"1763892000", time.Unix(1763892000, 0), true},
		{"1763892000000", time.UnixMilli(1763892000000), true},
		{"2026-13-01T00:00:00Z", time.Time{}, false},
		{"2026-11-23T10:00:00Zjunk", time.Time{}, false},
		{"", time.Time{}, false},
		{"-5", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := parseTimeText([]byte(tt.in))
		if ok != tt.ok || (ok && !got.Equal(tt.want)) {
			t.Errorf("parseTimeText(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
