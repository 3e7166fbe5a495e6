package config

import (
	"fmt"
	"strings"
)

// Expand replaces ${VAR} and ${VAR:-default} in s with values from getenv.
// The config and rules files share it.
// "$$" is a literal "$"; a "$" not followed by "{" or "$" is kept as is, so
// passwords holding a lone "$" need no escaping. ${VAR:-default} uses the
// default when VAR is unset or empty, as the shell does. An unset VAR
// without a default is an error, never a silent empty string: an empty DSN
// or token would fail later and far from its cause.
func Expand(s string, getenv func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ (no closing }); write $$ for a literal $")
		}
		expr := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid variable ${%s}; write ${NAME} or ${NAME:-default} (NAME is letters, digits, _), or $$ for a literal $", clip(expr))
		}
		v, ok := getenv(name)
		switch {
		case hasDef && v == "":
			v = def
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set (give a default with ${%s:-default})", name, name)
		}
		b.WriteString(v)
		i += 2 + end
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// clip shortens text quoted in error messages.
func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
