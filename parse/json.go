package parse

import (
	"strconv"
	"time"
)

// AppendJSON appends r as one JSON object with the contract's field names,
// the form `tokentail parse` prints. cost_usd is written as an exact decimal
// number, never through a float.
func (r *Record) AppendJSON(b []byte) []byte {
	b = append(b, `{"event_id":`...)
	b = appendJSONString(b, []byte(r.EventID))
	b = append(b, `,"occurred_at":"`...)
	b = r.OccurredAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","source":`...)
	b = appendJSONString(b, []byte(r.Source))
	b = appendNullable(b, `,"user_id":`, r.UserID)
	b = appendNullable(b, `,"feature":`, r.Feature)
	b = appendNullable(b, `,"provider":`, r.Provider)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, []byte(r.Model))
	b = append(b, `,"input_tokens":`...)
	b = strconv.AppendInt(b, r.InputTokens, 10)
	b = append(b, `,"cached_input_tokens":`...)
	b = strconv.AppendInt(b, r.CachedInputTokens, 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, r.OutputTokens, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, r.TotalTokens, 10)
	b = append(b, `,"cost_usd":`...)
	if r.CostSource == CostUnpriced {
		b = append(b, "null"...)
	} else {
		b = r.Cost.AppendText(b)
	}
	b = append(b, `,"cost_source":"`...)
	b = append(b, r.CostSource.String()...)
	b = append(b, `","duration_ms":`...)
	if r.HasDuration {
		b = strconv.AppendFloat(b, r.DurationMS, 'f', -1, 64)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"success":`...)
	b = strconv.AppendBool(b, r.Success)
	b = appendNullable(b, `,"error_type":`, r.ErrorType)
	if len(r.Labels) > 0 {
		b = append(b, `,"labels":{`...)
		for i, l := range r.Labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, []byte(l.Key))
			b = append(b, ':')
			b = appendJSONString(b, []byte(l.Value))
		}
		b = append(b, '}')
	}
	b = append(b, `,"attributes":`...)
	if len(r.Attributes) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, r.Attributes...)
	}
	return append(b, '}')
}

func appendNullable(b []byte, key, v string) []byte {
	b = append(b, key...)
	if v == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, []byte(v))
}
