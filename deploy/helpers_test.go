package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/rules"
)

// readFile reads a file relative to the deploy directory, or fails the test.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// yamlDocs decodes every document of a YAML stream into generic maps.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return docs
			}
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// envFrom is a getenv over a fixed map: the environment a container would give tokentail.
func envFrom(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// parseConfig parses a tokentail config with tokentail's own loader, as `config check`
// would in the container, given the container's environment.
func parseConfig(t *testing.T, name string, data []byte, env map[string]string) *config.Config {
	t.Helper()
	c, err := config.Parse(name, data, envFrom(env))
	if err != nil {
		t.Fatalf("tokentail refuses %s:\n%v", name, err)
	}
	return c
}

// parseRules parses a rules file with tokentail's own loader.
func parseRules(t *testing.T, name string, data []byte, env map[string]string) *rules.File {
	t.Helper()
	f, err := rules.Parse(name, data, envFrom(env))
	if err != nil {
		t.Fatalf("tokentail refuses %s:\n%v", name, err)
	}
	return f
}

// pinned reports whether an image reference names a tag (or digest) other than latest.
func pinned(image string) bool {
	if i := strings.Index(image, "@sha256:"); i > 0 {
		return true
	}
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	if colon <= slash {
		return false
	}
	tag := image[colon+1:]
	return tag != "" && tag != "latest"
}

// under reports whether path is dir or inside it.
func under(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// str, mapOf and listOf read generic YAML values without panicking on a wrong shape.
func str(v any) string {
	s, _ := v.(string)
	return s
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

// dig follows keys through nested maps.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		v = mapOf(v)[k]
	}
	return v
}

func TestPinned_Images(t *testing.T) {
	tests := []struct {
		image string
		want  bool
	}{
		{"busybox:1.37.0", true},
		{"grafana/grafana:12.0.0", true},
		{"gcr.io/distroless/static-debian12:nonroot", true},
		{"localhost:5000/tokentail", false},
		{"busybox", false},
		{"busybox:latest", false},
		{"busybox@sha256:abc", true},
	}
	for _, tt := range tests {
		if got := pinned(tt.image); got != tt.want {
			t.Errorf("pinned(%q) = %v, want %v", tt.image, got, tt.want)
		}
	}
}
