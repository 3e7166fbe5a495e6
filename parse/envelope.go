package parse

import (
	"bytes"
	"fmt"
	"time"

	"github.com/valyala/fastjson"
)

// Format is how a container runtime wraps the application's lines.
type Format uint8

// The formats of the `format:` config key.
const (
	FormatAuto   Format = iota // detected from the file's first line
	FormatPlain                // the application's own lines
	FormatDocker               // Docker json-file: {"log":"...\n","stream":"stdout","time":"..."}
	FormatCRI                  // Kubernetes CRI: <time> <stream> <P|F> <message>
)

// ParseFormat reads a `format:` value.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "auto":
		return FormatAuto, nil
	case "plain":
		return FormatPlain, nil
	case "docker":
		return FormatDocker, nil
	case "cri":
		return FormatCRI, nil
	}
	return 0, fmt.Errorf("unknown format %q (want auto, plain, docker or cri)", s)
}

// String returns the config spelling of f.
func (f Format) String() string {
	switch f {
	case FormatPlain:
		return "plain"
	case FormatDocker:
		return "docker"
	case FormatCRI:
		return "cri"
	}
	return "auto"
}

// Message is one application line with its envelope removed. A message may
// span several physical lines (CRI "P" partials, Docker lines split at 16 KiB).
type Message struct {
	Text   []byte    // the application's line, without its newline
	Raw    []byte    // what identifies the line in the file: the physical line, or the joined text
	File   string    // path the line was read from
	Offset int64     // byte offset of the first physical line
	End    int64     // byte offset just after the last physical line
	Time   time.Time // the runtime's timestamp; zero for plain lines
	// TooLong is set when the line exceeded the size limit; Text is then a prefix.
	TooLong bool
}

// DecodeResult says what a physical line gave.
type DecodeResult uint8

// Results of Decoder.Decode.
const (
	Decoded     DecodeResult = iota // a whole message is ready
	Held                            // a partial line was kept until its end arrives
	BadEnvelope                     // the envelope could not be read; see the returned detail
)

// Decoder unwraps the lines of one file. It holds partial lines between calls,
// so each file needs its own Decoder. It is not safe for concurrent use.
type Decoder struct {
	format   Format
	file     string
	maxBytes int

	jp fastjson.Parser

	partial       []byte // joined chunks of a message not finished yet
	partialOffset int64
	partialTime   time.Time
	partialLong   bool
	holding       bool
	out           []byte // the message text handed out (docker unescapes into it)
}

// NewDecoder returns a decoder for a file's lines. maxBytes bounds a joined
// message; 0 means 1 MiB.
func NewDecoder(format Format, file string, maxBytes int) *Decoder {
	if maxBytes <= 0 {
		maxBytes = 1 << 20
	}
	return &Decoder{format: format, file: file, maxBytes: maxBytes}
}

// Format is the decoder's format; for auto it is the detected one once the
// first non-empty line has been seen.
func (d *Decoder) Format() Format { return d.format }

// HeldFrom reports the offset of the first physical line of a message still
// being joined. A reader's position must not move past it.
func (d *Decoder) HeldFrom() (int64, bool) { return d.partialOffset, d.holding }

// Decode takes one physical line (without its newline) that starts at offset
// and ends, newline included, at end. The returned message's slices are valid
// until the next call.
func (d *Decoder) Decode(line []byte, offset, end int64) (Message, DecodeResult, string) {
	if d.format == FormatAuto {
		if len(bytes.TrimSpace(line)) == 0 {
			return Message{Text: line, Raw: line, File: d.file, Offset: offset, End: end}, Decoded, ""
		}
		d.format = DetectFormat(line)
	}
	switch d.format {
	case FormatDocker:
		return d.decodeDocker(line, offset, end)
	case FormatCRI:
		return d.decodeCRI(line, offset, end)
	}
	return Message{Text: line, Raw: line, File: d.file, Offset: offset, End: end, TooLong: len(line) > d.maxBytes}, Decoded, ""
}

// DetectFormat guesses a file's format from one of its lines.
func DetectFormat(line []byte) Format {
	t := bytes.TrimLeft(line, " \t")
	if bytes.HasPrefix(t, []byte(`{"log":`)) || (len(t) > 0 && t[0] == '{' && bytes.Contains(t, []byte(`"log":`)) && bytes.Contains(t, []byte(`"stream":`))) {
		return FormatDocker
	}
	if _, _, _, _, ok := splitCRI(line); ok {
		return FormatCRI
	}
	return FormatPlain
}

// splitCRI splits "<time> <stream> <tag> <message>".
func splitCRI(line []byte) (ts time.Time, stream, tag, msg []byte, ok bool) {
	i := bytes.IndexByte(line, ' ')
	if i < 19 {
		return
	}
	ts, ok = parseTimeText(line[:i])
	if !ok {
		return
	}
	rest := line[i+1:]
	j := bytes.IndexByte(rest, ' ')
	if j < 0 {
		return ts, nil, nil, nil, false
	}
	stream = rest[:j]
	if !bytes.Equal(stream, []byte("stdout")) && !bytes.Equal(stream, []byte("stderr")) {
		return ts, nil, nil, nil, false
	}
	rest = rest[j+1:]
	k := bytes.IndexByte(rest, ' ')
	if k < 0 {
		// "<time> stdout F" with an empty message
		tag, msg = rest, nil
	} else {
		tag, msg = rest[:k], rest[k+1:]
	}
	if len(tag) == 0 || (tag[0] != 'P' && tag[0] != 'F') {
		return ts, nil, nil, nil, false
	}
	return ts, stream, tag, msg, true
}

func (d *Decoder) decodeCRI(line []byte, offset, end int64) (Message, DecodeResult, string) {
	ts, _, tag, msg, ok := splitCRI(line)
	if !ok {
		d.drop()
		return Message{Raw: line, File: d.file, Offset: offset, End: end}, BadEnvelope, "line is not in CRI format (<time> <stream> <P|F> <message>)"
	}
	return d.join(line, msg, tag[0] == 'P', ts, offset, end)
}

func (d *Decoder) decodeDocker(line []byte, offset, end int64) (Message, DecodeResult, string) {
	v, err := d.jp.ParseBytes(line)
	if err != nil {
		d.drop()
		return Message{Raw: line, File: d.file, Offset: offset, End: end}, BadEnvelope, "Docker json-file line is not JSON: " + err.Error()
	}
	lv := v.Get("log")
	if lv == nil || lv.Type() != fastjson.TypeString {
		d.drop()
		return Message{Raw: line, File: d.file, Offset: offset, End: end}, BadEnvelope, `Docker json-file line has no "log" string`
	}
	msg := lv.GetStringBytes()
	var ts time.Time
	if tv := v.GetStringBytes("time"); tv != nil {
		ts, _ = parseTimeText(tv)
	}
	partial := true
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
		if n := len(msg); n > 0 && msg[n-1] == '\r' {
			msg = msg[:n-1]
		}
		partial = false
	}
	return d.join(line, msg, partial, ts, offset, end)
}

// join hands out msg, or accumulates it when partial is set.
func (d *Decoder) join(line, msg []byte, partial bool, ts time.Time, offset, end int64) (Message, DecodeResult, string) {
	if !d.holding && !partial {
		d.out = append(d.out[:0], msg...)
		return Message{Text: d.out, Raw: line, File: d.file, Offset: offset, End: end, Time: ts, TooLong: len(msg) > d.maxBytes}, Decoded, ""
	}
	if !d.holding {
		d.holding = true
		d.partial = d.partial[:0]
		d.partialOffset = offset
		d.partialTime = ts
		d.partialLong = false
	}
	if room := d.maxBytes + 1 - len(d.partial); room > 0 {
		if len(msg) > room {
			msg = msg[:room]
		}
		d.partial = append(d.partial, msg...)
	}
	if len(d.partial) > d.maxBytes {
		d.partialLong = true
	}
	if partial {
		return Message{}, Held, ""
	}
	d.holding = false
	d.out = append(d.out[:0], d.partial...)
	m := Message{Text: d.out, Raw: d.out, File: d.file, Offset: d.partialOffset, End: end, Time: d.partialTime, TooLong: d.partialLong}
	if len(d.partial) > 64<<10 {
		d.partial = nil // don't keep a huge buffer for the file's lifetime
	}
	return m, Decoded, ""
}

// drop forgets a partial message whose continuation is unreadable.
func (d *Decoder) drop() {
	d.holding = false
	d.partial = d.partial[:0]
}
