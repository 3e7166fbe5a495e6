package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tokentail/tokentail/parse"
)

// insertRejectsSQL takes one array per column: one round trip for the whole
// slice, and ON CONFLICT makes a reject read twice land once.
const insertRejectsSQL = `INSERT INTO ai_usage_rejects
	(reject_id, rejected_at, source, file, byte_offset, reason, detail, raw)
SELECT id, at, src, nullif(file, ''), off, reason, nullif(detail, ''), raw
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[])
	AS t(id, at, src, file, off, reason, detail, raw)
ON CONFLICT (reject_id) DO NOTHING`

// WriteRejects records lines that could not become records. A reject already
// present (same ID) is skipped, so re-reading a file adds none twice.
// Transient failures are retried until ctx ends.
func (w *Writer) WriteRejects(ctx context.Context, rejs []parse.Reject) error {
	if len(rejs) == 0 {
		return nil
	}
	return w.retry(ctx, "write rejects", func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
			return insertRejects(ctx, tx, rejs)
		})
	})
}

func insertRejects(ctx context.Context, tx pgx.Tx, rejs []parse.Reject) error {
	n := len(rejs)
	ids, srcs, files := make([]string, n), make([]string, n), make([]string, n)
	reasons, details, raws := make([]string, n), make([]string, n), make([]string, n)
	ats, offs := make([]time.Time, n), make([]int64, n)
	for i := range rejs {
		r := &rejs[i]
		ids[i] = rejectID(r)
		ats[i] = r.At
		if ats[i].IsZero() {
			ats[i] = time.Now()
		}
		srcs[i] = validText(r.Source)
		files[i] = validText(r.File)
		offs[i] = r.Offset
		reasons[i] = validText(string(r.Reason))
		details[i] = validText(r.Detail)
		raw := r.Raw
		if len(raw) > parse.MaxRawReject {
			raw = raw[:parse.MaxRawReject]
		}
		raws[i] = validText(string(raw))
	}
	_, err := tx.Exec(ctx, insertRejectsSQL, ids, ats, srcs, files, offs, reasons, details, raws)
	return err
}

// maxRejectID bounds reject_id: a key longer than a B-tree page allows would
// make the server refuse the whole batch of rejects, forever.
const maxRejectID = 256

// rejectID is r.ID made storable: valid text, and hashed when too long.
func rejectID(r *parse.Reject) string {
	switch id := validText(r.ID); {
	case id == "":
		return fallbackRejectID(r)
	case len(id) > maxRejectID:
		sum := sha256.Sum256([]byte(id))
		return id[:64] + "~" + hex.EncodeToString(sum[:16])
	default:
		return id
	}
}

// fallbackRejectID identifies a reject that came without an ID by where it
// was read and what it said, so that it too lands once.
func fallbackRejectID(r *parse.Reject) string {
	h := sha256.New()
	h.Write([]byte(r.Source))
	h.Write([]byte{0})
	h.Write([]byte(r.File))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, r.Offset, 10))
	h.Write([]byte{0})
	h.Write(r.Raw)
	return "h:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// validText makes s storable as PostgreSQL text: invalid UTF-8 becomes
// U+FFFD and NUL, which text cannot hold, becomes the six characters \u0000.
func validText(s string) string {
	if utf8.ValidString(s) && !containsNUL(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0:
			b = append(b, `\u0000`...)
		case r == utf8.RuneError && size == 1:
			b = append(b, "\uFFFD"...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// refusedReject describes a record the server refused. Its ID derives from
// the record's identity, so refusing the same record again adds nothing; Raw
// holds the record as JSON, since the line itself is gone by now.
func refusedReject(rec *parse.Record, err error) parse.Reject {
	detail := err.Error()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		detail = pgErr.Message
		if pgErr.Detail != "" {
			detail += ": " + pgErr.Detail
		}
		detail += " (SQLSTATE " + pgErr.Code + ")"
	}
	raw, jerr := json.Marshal(refusedRecord{
		EventID: rec.EventID, OccurredAt: rec.OccurredAt, UserID: rec.UserID,
		Feature: rec.Feature, Provider: rec.Provider, Model: rec.Model,
		InputTokens: rec.InputTokens, CachedInputTokens: rec.CachedInputTokens,
		OutputTokens: rec.OutputTokens, TotalTokens: rec.TotalTokens,
		CostUSD: rec.Cost.String(), CostSource: rec.CostSource.String(),
		Success: rec.Success, ErrorType: rec.ErrorType,
		Attributes: string(rec.Attributes),
	})
	if jerr != nil {
		raw = []byte(rec.EventID)
	}
	return parse.Reject{
		ID:     "refused:" + rec.OccurredAt.UTC().Format(time.RFC3339Nano) + ":" + rec.EventID,
		Source: rec.Source,
		File:   rec.File,
		Offset: rec.Offset,
		Reason: parse.ReasonServerRefused,
		Detail: detail,
		Raw:    raw,
		At:     time.Now(),
	}
}

// refusedRecord is the shape of a refused record in ai_usage_rejects.raw.
// Attributes is kept as a string: the server may have refused it for not
// being JSON.
type refusedRecord struct {
	EventID           string    `json:"event_id"`
	OccurredAt        time.Time `json:"occurred_at"`
	UserID            string    `json:"user_id,omitempty"`
	Feature           string    `json:"feature,omitempty"`
	Provider          string    `json:"provider,omitempty"`
	Model             string    `json:"model"`
	InputTokens       int64     `json:"input_tokens"`
	CachedInputTokens int64     `json:"cached_input_tokens"`
	OutputTokens      int64     `json:"output_tokens"`
	TotalTokens       int64     `json:"total_tokens"`
	CostUSD           string    `json:"cost_usd"`
	CostSource        string    `json:"cost_source"`
	Success           bool      `json:"success"`
	ErrorType         string    `json:"error_type,omitempty"`
	Attributes        string    `json:"attributes"`
}
