package loggen

import (
	"bytes"
	"time"
	"unicode/utf8"
)

// wrap appends the application lines of app (each ending in '\n') to dst in
// the generator's envelope, splitting long lines into partial chunks as
// containerd and dockerd do.
func (g *Generator) wrap(dst, app []byte, t time.Time, stderr bool) []byte {
	if g.o.Envelope == Plain {
		g.m.PhysicalLines += int64(bytes.Count(app, nl))
		return append(dst, app...)
	}
	stream := "stdout"
	if stderr {
		stream = "stderr"
	}
	for len(app) > 0 {
		i := bytes.IndexByte(app, '\n')
		line := app[:i]
		app = app[i+1:]
		if g.o.Envelope == Docker {
			dst = g.wrapDocker(dst, line, t, stream)
		} else {
			dst = g.wrapCRI(dst, line, t, stream)
		}
	}
	return dst
}

var nl = []byte{'\n'}

// wrapCRI writes "<time> <stream> <P|F> <chunk>" lines. containerd cuts at
// a byte count, even inside a UTF-8 sequence: joining the chunks restores it.
func (g *Generator) wrapCRI(dst, line []byte, t time.Time, stream string) []byte {
	for {
		chunk, last := line, true
		if n := g.o.SplitBytes; n > 0 && len(line) > n {
			chunk, last = line[:n], false
		}
		dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, ' ')
		dst = append(dst, stream...)
		if last {
			dst = append(dst, " F "...)
		} else {
			dst = append(dst, " P "...)
			g.m.PartialLines++
		}
		dst = append(dst, chunk...)
		dst = append(dst, '\n')
		g.m.PhysicalLines++
		if last {
			return dst
		}
		line = line[len(chunk):]
	}
}

// wrapDocker writes json-file entries. dockerd splits long lines into
// entries whose "log" lacks the final "\n"; it cuts at rune boundaries here,
// because dockerd's JSON encoding would otherwise replace the cut bytes.
func (g *Generator) wrapDocker(dst, line []byte, t time.Time, stream string) []byte {
	for {
		chunk, last := line, true
		if n := g.o.SplitBytes; n > 0 && len(line) > n {
			for n > 0 && !utf8.RuneStart(line[n]) {
				n--
			}
			chunk, last = line[:n], false
		}
		dst = append(dst, `{"log":"`...)
		dst = appendDockerString(dst, chunk)
		if last {
			dst = append(dst, `\n`...)
		} else {
			g.m.PartialLines++
		}
		dst = append(dst, `","stream":"`...)
		dst = append(dst, stream...)
		dst = append(dst, `","time":"`...)
		dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, "\"}\n"...)
		g.m.PhysicalLines++
		if last {
			return dst
		}
		line = line[len(chunk):]
	}
}

// appendBadEnvelope appends line in an envelope a decoder cannot read: one
// physical line that still holds the marker, so that a parser that looks
// for the marker first must reject it too.
func (g *Generator) appendBadEnvelope(dst, line []byte, t time.Time) []byte {
	g.m.PhysicalLines++
	if g.o.Envelope == Docker {
		switch g.r.IntN(3) {
		case 0: // cut short: a disk filled up, or a copy stopped mid-line
			start := len(dst)
			dst = append(dst, `{"log":"`...)
			dst = appendDockerString(dst, line)
			cut := start + (len(dst)-start)*2/3
			for !utf8.RuneStart(dst[cut]) {
				cut--
			}
			return append(dst[:cut], '\n')
		case 1: // "log" is not a string
			dst = append(dst, `{"log":{"msg":"`...)
			dst = appendDockerString(dst, line)
			dst = append(dst, `"},"stream":"stdout","time":"`...)
		default: // the closing brace is missing
			dst = append(dst, `{"log":"`...)
			dst = appendDockerString(dst, line)
			dst = append(dst, `\n","stream":"stdout","time":"`...)
			dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
			return append(dst, "\"\n"...)
		}
		dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
		return append(dst, "\"}\n"...)
	}
	switch g.r.IntN(3) {
	case 0: // a time that is not RFC 3339
		dst = t.UTC().AppendFormat(dst, "2006-01-02 15:04:05.000")
		dst = append(dst, " stdout F "...)
	case 1: // the P/F tag is missing
		dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, " stdout "...)
	default: // an unknown stream
		dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, " stdin F "...)
	}
	dst = append(dst, line...)
	return append(dst, '\n')
}
