package pipeline

import (
	"time"

	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/tailer"
)

// Counts are what reading produced. One reader owns a Counts; readers'
// counts are added up with Add at the end.
type Counts struct {
	Lines    int64 // physical lines read
	Records  int64
	Unpriced int64
	Skipped  int64 // noise: lines without the marker or filtered by match
	Undated  int64 // records dated by the time they were read (no time in the line)
	Rejects  map[parse.Reason]int64
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Lines += o.Lines
	c.Records += o.Records
	c.Unpriced += o.Unpriced
	c.Skipped += o.Skipped
	c.Undated += o.Undated
	for r, n := range o.Rejects {
		if c.Rejects == nil {
			c.Rejects = map[parse.Reason]int64{}
		}
		c.Rejects[r] += n
	}
}

// RejectTotal is the number of rejects of every reason.
func (c *Counts) RejectTotal() int64 {
	var n int64
	for _, v := range c.Rejects {
		n += v
	}
	return n
}

func (c *Counts) reject(r parse.Reason) {
	if c.Rejects == nil {
		c.Rejects = map[parse.Reason]int64{}
	}
	c.Rejects[r]++
}

// FileParser turns the lines of one file into records and rejects in a batch.
type FileParser struct {
	Parser  *parse.Parser
	Decoder *parse.Decoder
	Counts  *Counts
	rej     parse.Reject
}

// Line adds what line gives to b. readAt dates records with no time of their own.
func (fp *FileParser) Line(line tailer.Line, readAt time.Time, b *Batch) {
	fp.Counts.Lines++
	msg, res, detail := fp.Decoder.Decode(line.Text, line.Offset, line.End)
	if line.Truncated {
		msg.TooLong = true
	}
	switch res {
	case parse.Held:
		return
	case parse.BadEnvelope:
		fp.Parser.RejectEnvelope(&msg, detail, readAt, b.Arena, &fp.rej)
		fp.addReject(b)
		return
	}
	b.Records = append(b.Records, parse.Record{})
	rec := &b.Records[len(b.Records)-1]
	undated := fp.Parser.Undated
	switch fp.Parser.Parse(&msg, readAt, b.Arena, rec, &fp.rej) {
	case parse.Parsed:
		fp.Counts.Records++
		fp.Counts.Undated += fp.Parser.Undated - undated
		if rec.CostSource == parse.CostUnpriced {
			fp.Counts.Unpriced++
		}
		return
	case parse.Rejected:
		fp.addReject(b)
	default:
		fp.Counts.Skipped++
	}
	b.Records = b.Records[:len(b.Records)-1]
}

// Finish rejects a partial line the file ended inside of, if any.
func (fp *FileParser) Finish(file string, end int64, readAt time.Time, b *Batch) {
	from, held := fp.Decoder.HeldFrom()
	if !held {
		return
	}
	msg := parse.Message{File: file, Offset: from, End: end, Raw: []byte{}}
	fp.Parser.RejectEnvelope(&msg, "the file ends inside a partial line", readAt, b.Arena, &fp.rej)
	fp.addReject(b)
}

func (fp *FileParser) addReject(b *Batch) {
	fp.Counts.reject(fp.rej.Reason)
	b.Rejects = append(b.Rejects, fp.rej)
}
