package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case
	Args string
	Line int
}

// stage is one FROM and what follows it.
type stage struct {
	Image, Name string
	Body        []instruction
}

func parseDockerfile(t *testing.T, data string) []stage {
	t.Helper()
	var stages []stage
	var cur strings.Builder
	start := 0
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			return
		}
		cmd, args, _ := strings.Cut(s, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := stage{Image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			if in.Cmd != "ARG" {
				t.Errorf("Dockerfile:%d: %s before the first FROM", in.Line, in.Cmd)
			}
			return
		}
		stages[len(stages)-1].Body = append(stages[len(stages)-1].Body, in)
	}
	for i, line := range strings.Split(data, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue // comments (and the syntax directive) may sit inside a continued RUN
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Body {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func jsonArray(t *testing.T, in instruction) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(in.Args), &v); err != nil {
		t.Errorf("Dockerfile:%d: %s %s: want the exec (JSON array) form, so signals reach tokentail: %v", in.Line, in.Cmd, in.Args, err)
	}
	return v
}

func TestDockerfile_Shape(t *testing.T) {
	stages := parseDockerfile(t, string(readFile(t, "../Dockerfile")))
	if len(stages) < 2 {
		t.Fatalf("got %d stages, want a build stage and a runtime stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	// The build stage: the Go of go.mod, static, reproducible paths, version stamped.
	goMod := string(readFile(t, "../go.mod"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(goMod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	if want := "golang:" + m[1]; !strings.HasPrefix(build.Image, want) {
		t.Errorf("build stage FROM %s, want %s (go.mod says go %s)", build.Image, want, m[1])
	}
	var runs []string
	for _, in := range build.all("RUN") {
		runs = append(runs, in.Args)
	}
	run := strings.Join(runs, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=", "-X main.commit=", "./cmd/tokentail"} {
		if !strings.Contains(run, want) {
			t.Errorf("build stage never runs with %q", want)
		}
	}
	// The ldflags must name variables that exist, or the version is silently "dev".
	mainGo := string(readFile(t, "../cmd/tokentail/main.go"))
	for _, v := range []string{"version", "commit"} {
		if !regexp.MustCompile(`(?m)^\s*(var\s+)?` + v + `\s+(string\s*)?=`).MatchString(mainGo) {
			t.Errorf("cmd/tokentail/main.go declares no package variable %q for -X main.%s", v, v)
		}
	}

	// The runtime stage: minimal, non-root, exec-form entrypoint.
	if !strings.HasPrefix(final.Image, "gcr.io/distroless/static") && final.Image != "scratch" {
		t.Errorf("final stage FROM %s, want distroless static or scratch", final.Image)
	}
	if final.Image != "scratch" && !pinned(final.Image) {
		t.Errorf("final stage image %s is not pinned by a tag", final.Image)
	}
	users := final.all("USER")
	if len(users) == 0 {
		t.Fatal("final stage sets no USER: it would run as root")
	}
	user := users[len(users)-1].Args
	uid, _, _ := strings.Cut(user, ":")
	if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(uid) {
		t.Errorf("USER %s: want a numeric non-zero uid (Kubernetes' runAsNonRoot can only verify a number)", user)
	}
	entry := final.all("ENTRYPOINT")
	if len(entry) != 1 || !slices.Equal(jsonArray(t, entry[0]), []string{"/tokentail"}) {
		t.Errorf("ENTRYPOINT %v, want [\"/tokentail\"]", entry)
	}
	cmd := final.all("CMD")
	if len(cmd) != 1 || !slices.Equal(jsonArray(t, cmd[0]), []string{"run", "--config", "/etc/tokentail/tokentail.yaml"}) {
		t.Errorf("CMD %v, want [\"run\",\"--config\",\"/etc/tokentail/tokentail.yaml\"]", cmd)
	}
	binary := false
	for _, in := range final.all("COPY") {
		binary = binary || (strings.Contains(in.Args, "--from="+build.Name) && strings.HasSuffix(in.Args, " /tokentail"))
	}
	if !binary {
		t.Error("final stage does not copy the built binary to /tokentail")
	}
}

func TestDockerfile_Copies(t *testing.T) {
	stages := parseDockerfile(t, string(readFile(t, "../Dockerfile")))
	ignore := dockerignore(t)
	names := map[string]bool{}
	for _, st := range stages {
		for _, in := range st.Body {
			if in.Cmd == "ADD" && regexp.MustCompile(`https?://|git@`).MatchString(in.Args) {
				t.Errorf("Dockerfile:%d: ADD of a URL: fetch nothing unpinned, unchecked", in.Line)
			}
			if in.Cmd != "COPY" {
				continue
			}
			var srcs []string
			from := ""
			for _, f := range strings.Fields(in.Args) {
				if v, ok := strings.CutPrefix(f, "--from="); ok {
					from = v
				} else if !strings.HasPrefix(f, "--") {
					srcs = append(srcs, f)
				}
			}
			if len(srcs) < 2 {
				t.Errorf("Dockerfile:%d: COPY %s: want sources and a destination", in.Line, in.Args)
				continue
			}
			srcs = srcs[:len(srcs)-1]
			if from != "" {
				if !names[from] {
					t.Errorf("Dockerfile:%d: COPY --from=%s names no earlier stage", in.Line, from)
				}
				continue
			}
			// Sources from the build context exist and are not excluded by .dockerignore.
			for _, s := range srcs {
				if s == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join("..", s)); err != nil {
					t.Errorf("Dockerfile:%d: COPY %s: %v", in.Line, s, err)
				}
				if ignored(ignore, s) {
					t.Errorf("Dockerfile:%d: COPY %s, which .dockerignore excludes", in.Line, s)
				}
			}
		}
		names[st.Name] = st.Name != ""
	}
	// What the build needs is in the context.
	for _, need := range []string{"go.mod", "go.sum", "cmd/tokentail/main.go", "writers/postgres/migrations/0001_init.sql", "parse/record.go"} {
		if ignored(ignore, need) {
			t.Errorf(".dockerignore excludes %s, which the build needs", need)
		}
	}
	// What must stay out is out.
	for _, keep := range []string{".git/config", ".testenv/pg/data", "tokentail", "tokentail.yaml", "parse/testdata/x.log"} {
		if !ignored(ignore, keep) {
			t.Errorf(".dockerignore lets %s into the build context", keep)
		}
	}
}

// dockerignore reads the patterns of ../.dockerignore.
func dockerignore(t *testing.T) []string {
	t.Helper()
	var pats []string
	for _, line := range strings.Split(string(readFile(t, "../.dockerignore")), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: exceptions (%s) are not modelled by this test", line)
		}
		pats = append(pats, strings.TrimPrefix(line, "/"))
	}
	return pats
}

// ignored applies .dockerignore patterns the way Docker does for the forms we use: a
// pattern matches the path or one of its parent directories; **/ matches any depth.
func ignored(pats []string, path string) bool {
	parts := strings.Split(path, "/")
	for _, p := range pats {
		anyDepth := strings.HasPrefix(p, "**/")
		p = strings.TrimPrefix(p, "**/")
		for i := 1; i <= len(parts); i++ {
			if anyDepth {
				for j := 0; j < i; j++ {
					if ok, _ := filepath.Match(p, strings.Join(parts[j:i], "/")); ok {
						return true
					}
				}
				continue
			}
			if ok, _ := filepath.Match(p, strings.Join(parts[:i], "/")); ok {
				return true
			}
		}
	}
	return false
}
