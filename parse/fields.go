package parse

import (
	"fmt"
	"strings"
)

// field is a record field that log fields map to.
type field uint8

const (
	fOccurredAt field = iota
	fEventID
	fUserID
	fFeature
	fProvider
	fModel
	fInputTokens
	fCachedInputTokens
	fOutputTokens
	fTotalTokens
	fCost
	fDuration
	fSuccess
	fErrorType
	// fCacheCreation is Anthropic's cache_creation_input_tokens: not a record
	// field of its own, it is added to input_tokens (see normalize).
	fCacheCreation
	numFields
)

// fieldNames are the record field names, as used by `fields:` in the config.
var fieldNames = [numFields]string{
	fOccurredAt:        "occurred_at",
	fEventID:           "event_id",
	fUserID:            "user_id",
	fFeature:           "feature",
	fProvider:          "provider",
	fModel:             "model",
	fInputTokens:       "input_tokens",
	fCachedInputTokens: "cached_input_tokens",
	fOutputTokens:      "output_tokens",
	fTotalTokens:       "total_tokens",
	fCost:              "cost_usd",
	fDuration:          "duration_ms",
	fSuccess:           "success",
	fErrorType:         "error_type",
	fCacheCreation:     "",
}

// defaultAliases are the log field names recognised for each record field, in
// priority order (first match wins), as the contract's record table lists
// them. Dotted names match nested objects and flat dotted keys alike.
var defaultAliases = [numFields][]string{
	fOccurredAt:        {"timestamp", "time", "ts", "created_at", "@timestamp", "startTime"},
	fEventID:           {"request_id", "id", "event_id"},
	fUserID:            {"user_id", "user", "userId", "end_user"},
	fFeature:           {"feature", "feature_name", "operation", "job_type", "gen_ai.operation.name"},
	fProvider:          {"provider", "custom_llm_provider", "gen_ai.provider.name"},
	fModel:             {"model", "model_name", "model_used", "resolved_model", "gen_ai.response.model", "gen_ai.request.model"},
	fInputTokens:       {"input_tokens", "prompt_tokens", "usage.prompt_tokens", "usage.input_tokens", "gen_ai.usage.input_tokens"},
	fCachedInputTokens: {"cached_input_tokens", "cached_tokens", "usage.prompt_tokens_details.cached_tokens", "usage.cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens"},
	fOutputTokens:      {"output_tokens", "completion_tokens", "usage.completion_tokens", "usage.output_tokens", "gen_ai.usage.output_tokens"},
	fTotalTokens:       {"total_tokens", "usage.total_tokens"},
	fCost:              {"cost_usd", "cost", "estimated_cost", "spend"},
	fDuration:          {"duration_ms", "response_time_ms", "latency_ms", "request_duration_ms"},
	fSuccess:           {"success", "ok", "status"},
	fErrorType:         {"error_type", "error"},
	fCacheCreation:     {"usage.cache_creation_input_tokens"},
}

// anthropicInput is the alias whose value excludes cached tokens (Anthropic's
// usage.input_tokens): cache reads and writes are added to it.
const anthropicInput = "usage.input_tokens"

// contentFields carry prompt or completion text. They are dropped, at any
// depth, before anything is kept: tokentail never stores content.
var contentFields = []string{"prompt", "messages", "completion", "response", "output", "input", "content"}

// alias is one recognised log field name.
type alias struct {
	field field
	prio  uint8 // position in the field's list: lower wins
}

// aliasTable maps dotted log paths to record fields.
type aliasTable struct {
	byPath   map[string]alias
	prefixes map[string]bool // paths worth descending into ("usage", "gen_ai.usage", ...)
}

// keys builds the hot-path lookup table of aliases, prefixes and dropped names.
func (t aliasTable) keys(drop map[string]bool) keyTable {
	m := map[string]keyInfo{}
	for k, a := range t.byPath {
		info := m[k]
		info.alias, info.hasAlias = a, true
		m[k] = info
	}
	for k := range t.prefixes {
		info := m[k]
		info.prefix = true
		m[k] = info
	}
	for k := range drop {
		info := m[k]
		info.drop = true
		m[k] = info
	}
	return newKeyTable(m)
}

// FieldNames returns the record field names that `fields:` may map.
func FieldNames() []string {
	out := make([]string, 0, numFields)
	for _, n := range fieldNames {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

func newAliasTable(overrides map[string]string) (aliasTable, error) {
	lists := defaultAliases
	for rf, lf := range overrides {
		found := false
		for f, n := range fieldNames {
			if n != "" && n == rf {
				lists[f] = []string{lf}
				found = true
			}
		}
		if !found {
			return aliasTable{}, fmt.Errorf("fields: %q is not a record field (one of %s)", rf, strings.Join(FieldNames(), ", "))
		}
		if lf == "" {
			return aliasTable{}, fmt.Errorf("fields: %s: empty log field name", rf)
		}
	}
	t := aliasTable{byPath: map[string]alias{}, prefixes: map[string]bool{}}
	for f := range lists {
		for i, p := range lists[f] {
			if _, dup := t.byPath[p]; dup {
				continue // an override that reuses a default name: the override's field wins below
			}
			t.byPath[p] = alias{field: field(f), prio: uint8(i)}
			for j := 0; j < len(p); j++ {
				if p[j] == '.' {
					t.prefixes[p[:j]] = true
				}
			}
		}
	}
	// Overrides take a name away from whatever default field had it.
	for rf, lf := range overrides {
		for f, n := range fieldNames {
			if n == rf {
				t.byPath[lf] = alias{field: field(f), prio: 0}
			}
		}
	}
	return t, nil
}
