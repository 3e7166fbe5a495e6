package loggen

import (
	"bytes"
	"strconv"
	"time"
)

// appendPrefix appends a logging library's line prefix, ending in a space.
func (g *Generator) appendPrefix(dst []byte, t time.Time, level, logger string) []byte {
	t = t.UTC()
	switch g.r.IntN(6) {
	case 0, 1: // ISO timestamps (structlog, Go, many Python configs)
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
		dst = append(dst, ' ')
		dst = append(dst, level...)
		dst = append(dst, ' ')
		dst = append(dst, logger...)
	case 2: // Python logging's asctime
		dst = t.AppendFormat(dst, "2006-01-02 15:04:05,000")
		dst = append(dst, " - "...)
		dst = append(dst, logger...)
		dst = append(dst, " - "...)
		dst = append(dst, level...)
		dst = append(dst, " -"...)
	case 3: // Laravel (Monolog's LineFormatter)
		dst = append(dst, '[')
		dst = t.AppendFormat(dst, "2006-01-02 15:04:05")
		dst = append(dst, "] production."...)
		dst = append(dst, level...)
		dst = append(dst, ':')
	case 4: // pino-pretty (Next.js)
		dst = append(dst, '[')
		dst = t.AppendFormat(dst, "15:04:05.000")
		dst = append(dst, "] "...)
		dst = append(dst, level...)
		dst = append(dst, " (api/7):"...)
	default: // uvicorn's default format
		dst = append(dst, level...)
		dst = append(dst, ":     "...)
		dst = append(dst, logger...)
	}
	return append(dst, ' ')
}

// appendNoise appends one noise entry: one line, or several for a stack
// trace. stderr says which stream a container runtime would tag it with.
func (g *Generator) appendNoise(dst []byte, t time.Time) (out []byte, lines int, stderr bool) {
	start := len(dst)
	if g.o.Layout == JSONLayout {
		dst, lines, stderr = g.appendJSONNoise(dst, t)
	} else {
		dst, lines, stderr = g.appendTextNoise(dst, t)
		if bytes.Contains(dst[start:], g.marker) {
			// A custom marker may occur in noise text: noise must stay noise.
			dst = append(dst[:start], "noise\n"...)
			lines = 1
		}
	}
	return dst, lines, stderr
}

// blobOdds is one in how many noise lines is multi-KB: enough to exercise
// long lines, few enough that they don't make up most of the bytes.
const blobOdds = 400

func (g *Generator) appendTextNoise(dst []byte, t time.Time) ([]byte, int, bool) {
	r := g.r
	if r.IntN(blobOdds) == 0 {
		dst = g.appendPrefix(dst, t, "DEBUG", "app.cache")
		dst = append(dst, "payload="...)
		dst = g.appendBlob(dst)
		return append(dst, '\n'), 1, false
	}
	switch x := r.IntN(100); {
	case x < 30:
		level := "INFO"
		if x%5 == 0 {
			level = "WARNING"
		}
		dst = g.appendPrefix(dst, t, level, loggers[r.IntN(len(loggers))])
		dst = append(dst, appMessages[r.IntN(len(appMessages))]...)
	case x < 50: // uvicorn access log
		dst = append(dst, "INFO:     10.42."...)
		dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
		dst = append(dst, '.')
		dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(30000+r.IntN(30000)), 10)
		dst = append(dst, ` - "`...)
		dst = append(dst, httpMethods[r.IntN(len(httpMethods))]...)
		dst = append(dst, ' ')
		dst = append(dst, httpPaths[r.IntN(len(httpPaths))]...)
		dst = append(dst, ` HTTP/1.1" `...)
		dst = strconv.AppendInt(dst, int64(httpCodes[r.IntN(len(httpCodes))]), 10)
	case x < 65: // nginx combined
		dst = append(dst, "10.0."...)
		dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
		dst = append(dst, '.')
		dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
		dst = append(dst, " - - ["...)
		dst = t.UTC().AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
		dst = append(dst, `] "`...)
		dst = append(dst, httpMethods[r.IntN(len(httpMethods))]...)
		dst = append(dst, ' ')
		dst = append(dst, httpPaths[r.IntN(len(httpPaths))]...)
		dst = append(dst, ` HTTP/1.1" `...)
		dst = strconv.AppendInt(dst, int64(httpCodes[r.IntN(len(httpCodes))]), 10)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(r.IntN(50000)), 10)
		dst = append(dst, ` "-" "`...)
		dst = append(dst, userAgents[r.IntN(len(userAgents))]...)
		dst = append(dst, '"')
	case x < 75: // Laravel with a context array
		dst = append(dst, '[')
		dst = t.UTC().AppendFormat(dst, "2006-01-02 15:04:05")
		dst = append(dst, `] production.INFO: Quiz generated {"quiz_id":`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(100000)), 10)
		dst = append(dst, `,"user_id":`...)
		dst = strconv.AppendInt(dst, int64(g.zipf.Uint64()+1), 10)
		dst = append(dst, `,"model":"gpt-4o-mini"} []`...)
	case x < 85: // pino JSON (Next.js), no marker
		dst = append(dst, `{"level":30,"time":`...)
		dst = strconv.AppendInt(dst, t.UnixMilli(), 10)
		dst = append(dst, `,"pid":7,"hostname":"web-7f9c6d-x2k4p","msg":"`...)
		dst = append(dst, httpMethods[r.IntN(len(httpMethods))]...)
		dst = append(dst, ' ')
		dst = append(dst, httpPaths[r.IntN(len(httpPaths))]...)
		dst = append(dst, ` 200 in `...)
		dst = strconv.AppendInt(dst, int64(5+r.IntN(3000)), 10)
		dst = append(dst, `ms"}`...)
	case x < 91:
		return g.appendTrace(dst, pythonTrace[:]), len(pythonTrace), true
	case x < 95:
		return g.appendTrace(dst, nodeTrace[:]), len(nodeTrace), true
	case x < 99:
		// an empty line
	default:
		dst = g.appendPrefix(dst, t, "INFO", "app.llm")
		dst = append(dst, "AI usage recorded (see AI_COST line)"...)
	}
	return append(dst, '\n'), 1, false
}

func (g *Generator) appendJSONNoise(dst []byte, t time.Time) ([]byte, int, bool) {
	r := g.r
	if r.IntN(blobOdds) == 0 {
		dst = append(dst, `{"level":"debug","type":"debug","payload":"`...)
		dst = g.appendBlob(dst)
		return append(dst, "\"}\n"...), 1, false
	}
	switch x := r.IntN(100); {
	case x < 70:
		typ := noiseTypes[r.IntN(len(noiseTypes))]
		dst = append(dst, `{"level":"info","type":"`...)
		dst = append(dst, typ...)
		dst = append(dst, `","ts":`...)
		dst = strconv.AppendInt(dst, t.UnixMilli(), 10)
		switch typ {
		case "http_request":
			dst = append(dst, `,"method":"`...)
			dst = append(dst, httpMethods[r.IntN(len(httpMethods))]...)
			dst = append(dst, `","path":"`...)
			dst = append(dst, httpPaths[r.IntN(len(httpPaths))]...)
			dst = append(dst, `","status":`...)
			dst = strconv.AppendInt(dst, int64(httpCodes[r.IntN(len(httpCodes))]), 10)
			dst = append(dst, `,"duration_ms":`...)
			dst = strconv.AppendInt(dst, int64(1+r.IntN(900)), 10)
		case "cache":
			dst = append(dst, `,"event":"hit","model":"gpt-4o-mini","key":"quiz:`...)
			dst = strconv.AppendInt(dst, int64(r.IntN(10000)), 10)
			dst = append(dst, '"')
		case "ai_cost_summary":
			// Looks like a record to a careless filter: right fields, wrong type.
			dst = append(dst, `,"model":"gpt-4o","input_tokens":120000,"output_tokens":9000,"cost_usd":0.39,"day":"`...)
			dst = t.UTC().AppendFormat(dst, "2006-01-02")
			dst = append(dst, '"')
		case "job":
			dst = append(dst, `,"job_type":"quiz_generate","state":"done","attempt":1`...)
		default:
			dst = append(dst, `,"actor":"user_`...)
			dst = strconv.AppendInt(dst, int64(g.zipf.Uint64()+1), 10)
			dst = append(dst, `","action":"login"`...)
		}
		dst = append(dst, '}')
	case x < 85:
		dst = append(dst, `{"level":"warn","msg":"`...)
		dst = append(dst, appMessages[r.IntN(len(appMessages))]...)
		dst = append(dst, `","time":"`...)
		dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, `"}`...)
	case x < 93:
		return g.appendTrace(dst, pythonTrace[:]), len(pythonTrace), true
	default:
		// an empty line
	}
	return append(dst, '\n'), 1, false
}

func (g *Generator) appendTrace(dst []byte, lines []string) []byte {
	for _, l := range lines {
		dst = append(dst, l...)
		dst = append(dst, '\n')
	}
	return dst
}

// appendBlob appends 2 to 24 KiB of base64-like text (a cached payload
// dumped at debug level): long lines that stay under max_line_bytes.
func (g *Generator) appendBlob(dst []byte) []byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	n := 2048 + g.r.IntN(22*1024)
	n = min(n, g.o.MaxLineBytes-512)
	for n > 0 {
		v := g.r.Uint64()
		for k := 0; k < 10 && n > 0; k++ {
			dst = append(dst, alphabet[v&63])
			v >>= 6
			n--
		}
	}
	return dst
}
