package parse

// Reason is a stable, machine-readable reject code. Codes are part of the
// outside contract: they appear in ai_usage_rejects.reason, in metrics and in
// `tokentail parse` output, so they never change once released.
type Reason string

// Reject reasons.
const (
	ReasonNotJSON        Reason = "not_json"        // the record is not JSON at all
	ReasonTruncatedJSON  Reason = "truncated_json"  // JSON that ends early (a cut line)
	ReasonNotObject      Reason = "not_object"      // valid JSON, but not an object
	ReasonWrongType      Reason = "wrong_type"      // a known field has the wrong JSON type
	ReasonNegativeTokens Reason = "negative_tokens" // a token count below zero
	ReasonAbsurdTokens   Reason = "absurd_tokens"   // a token count above MaxTokens, or not an integer
	ReasonNotFinite      Reason = "not_finite"      // NaN or Infinity in a number
	ReasonBadCost        Reason = "bad_cost"        // a cost that is negative or not a decimal
	ReasonInvalidUTF8    Reason = "invalid_utf8"    // bytes that are not UTF-8
	ReasonMissingModel   Reason = "missing_model"   // no model field, or an empty one
	ReasonBadTime        Reason = "bad_time"        // a timestamp that cannot be read
	ReasonBadDuration    Reason = "bad_duration"    // a negative duration
	ReasonLineTooLong    Reason = "line_too_long"   // longer than max_line_bytes
	ReasonBadEnvelope    Reason = "bad_envelope"    // a Docker or CRI wrapper that cannot be read
	ReasonServerRefused  Reason = "server_refused"  // the database refused the row (set by writers)
)

// AllReasons lists every reason, for metrics that must show zero counts.
func AllReasons() []Reason {
	return []Reason{
		ReasonNotJSON, ReasonTruncatedJSON, ReasonNotObject, ReasonWrongType,
		ReasonNegativeTokens, ReasonAbsurdTokens, ReasonNotFinite, ReasonBadCost,
		ReasonInvalidUTF8, ReasonMissingModel, ReasonBadTime, ReasonBadDuration, ReasonLineTooLong,
		ReasonBadEnvelope, ReasonServerRefused,
	}
}

// MaxTokens is the largest token count accepted in one record. Larger counts
// are almost certainly a unit mix-up or corruption, and would overflow prices.
const MaxTokens = 1_000_000_000
