package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tokentail/tokentail/parse"
)

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image           string            `yaml:"image"`
	Build           map[string]any    `yaml:"build"`
	Command         []string          `yaml:"command"`
	User            string            `yaml:"user"`
	ReadOnly        bool              `yaml:"read_only"`
	CapDrop         []string          `yaml:"cap_drop"`
	SecurityOpt     []string          `yaml:"security_opt"`
	Environment     map[string]string `yaml:"environment"`
	Volumes         []string          `yaml:"volumes"`
	Ports           []string          `yaml:"ports"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	DependsOn       map[string]any    `yaml:"depends_on"`
	Healthcheck     map[string]any    `yaml:"healthcheck"`
}

// mount is one short-syntax volume: source:target[:mode].
type mount struct {
	Source, Target string
	ReadOnly       bool
}

func (s composeService) mounts(t *testing.T) []mount {
	t.Helper()
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 {
			t.Fatalf("volume %q: want source:target[:mode]", v)
		}
		m := mount{Source: parts[0], Target: parts[1]}
		if len(parts) == 3 {
			m.ReadOnly = parts[2] == "ro"
		}
		out = append(out, m)
	}
	return out
}

// mountOf returns the mount that holds path inside the container.
func mountOf(ms []mount, path string) (mount, bool) {
	var best mount
	found := false
	for _, m := range ms {
		if under(path, m.Target) && len(m.Target) >= len(best.Target) {
			best, found = m, true
		}
	}
	return best, found
}

// composeEnv is what compose itself expands in the file: defaults only, as on a machine
// where the user set nothing.
var composeVar = regexp.MustCompile(`\$\{([A-Z_]+):-([^}]*)\}`)

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data := readFile(t, "docker-compose.yml")
	var f composeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	// Expand ${VAR:-default} as compose would with nothing set, so values can be compared.
	for name, s := range f.Services {
		for k, v := range s.Environment {
			s.Environment[k] = composeVar.ReplaceAllString(v, "$2")
		}
		f.Services[name] = s
	}
	return f
}

func TestCompose_ServicesAndImages(t *testing.T) {
	f := loadCompose(t)
	for _, name := range []string{"app", "tokentail", "postgres", "influxdb", "grafana"} {
		s, ok := f.Services[name]
		if !ok {
			t.Errorf("no service %q", name)
			continue
		}
		if !pinned(s.Image) {
			t.Errorf("service %s: image %q is not pinned by a tag", name, s.Image)
		}
		for _, m := range s.mounts(t) {
			if strings.HasPrefix(m.Source, ".") {
				if _, err := os.Stat(m.Source); err != nil {
					t.Errorf("service %s mounts %s, which does not exist: %v", name, m.Source, err)
				}
				continue
			}
			if _, ok := f.Volumes[m.Source]; !ok {
				t.Errorf("service %s mounts volume %q, which is not declared", name, m.Source)
			}
		}
	}
	if got := str(f.Services["tokentail"].Build["context"]); got != ".." {
		t.Errorf("tokentail build context = %q, want .. (the repository, where the Dockerfile is)", got)
	}
}

func TestCompose_TokentailIsAHardenedSidecar(t *testing.T) {
	f := loadCompose(t)
	tt, app := f.Services["tokentail"], f.Services["app"]
	if uid, _, _ := strings.Cut(tt.User, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("tokentail user = %q, want a non-root uid", tt.User)
	}
	if !tt.ReadOnly {
		t.Error("tokentail read_only = false, want a read-only root filesystem")
	}
	if len(tt.CapDrop) != 1 || tt.CapDrop[0] != "ALL" {
		t.Errorf("tokentail cap_drop = %v, want [ALL]", tt.CapDrop)
	}
	if !strings.Contains(strings.Join(tt.SecurityOpt, " "), "no-new-privileges:true") {
		t.Errorf("tokentail security_opt = %v, want no-new-privileges:true", tt.SecurityOpt)
	}
	for _, dep := range []string{"postgres", "influxdb"} {
		if got := str(dig(tt.DependsOn, dep, "condition")); got != "service_healthy" {
			t.Errorf("tokentail depends_on %s: condition %q, want service_healthy", dep, got)
		}
		if f.Services[dep].Healthcheck == nil {
			t.Errorf("%s has no healthcheck for tokentail to wait on", dep)
		}
	}

	ms := tt.mounts(t)
	cfgMount, ok := mountOf(ms, "/etc/tokentail/tokentail.yaml")
	if !ok || !cfgMount.ReadOnly {
		t.Fatalf("tokentail: want /etc/tokentail/tokentail.yaml mounted read-only, got %+v", ms)
	}
	cmd := strings.Join(tt.Command, " ")
	if !strings.Contains(cmd, "--config /etc/tokentail/tokentail.yaml") {
		t.Errorf("tokentail command %q does not read /etc/tokentail/tokentail.yaml", cmd)
	}
	c := parseConfig(t, "/etc/tokentail/tokentail.yaml", readFile(t, cfgMount.Source), tt.Environment)

	// Every source path is on a read-only mount that the app writes on, read-write.
	appMounts := app.mounts(t)
	for _, src := range c.Sources {
		for _, p := range src.Paths {
			m, ok := mountOf(ms, p)
			if !ok || !m.ReadOnly {
				t.Errorf("source %s path %s: want it on a read-only mount, got %+v", src.Name, p, m)
				continue
			}
			am, ok := mountOf(appMounts, p)
			if !ok || am.Source != m.Source || am.ReadOnly {
				t.Errorf("source %s path %s: the app does not write it on volume %s (app mounts %+v)", src.Name, p, m.Source, appMounts)
			}
		}
	}
	// Positions live on a writable named volume, not in the read-only root.
	if m, ok := mountOf(ms, c.StateDir); !ok || m.ReadOnly || strings.HasPrefix(m.Source, ".") {
		t.Errorf("state_dir %s: want a writable named volume, got %+v", c.StateDir, m)
	}
	// Rules: the file the config names is mounted, and tokentail accepts it.
	if c.RulesFile != "" {
		m, ok := mountOf(ms, c.RulesFile)
		if !ok || m.Target != c.RulesFile {
			t.Errorf("rules_file %s is not mounted", c.RulesFile)
		} else {
			parseRules(t, c.RulesFile, readFile(t, m.Source), tt.Environment)
		}
	}
	// The pricing file is the one the Dockerfile puts in the image.
	if c.Pricing != nil && c.Pricing.File != "" {
		if !strings.Contains(string(readFile(t, "../Dockerfile")), filepath.Dir(c.Pricing.File)) {
			t.Errorf("pricing.file %s: the Dockerfile does not copy anything to %s", c.Pricing.File, filepath.Dir(c.Pricing.File))
		}
	}
	// The HTTP server listens on every interface of the container, on the published port.
	if c.HTTP == nil {
		t.Fatal("no http section: no /metrics")
	}
	host, port, _ := strings.Cut(c.HTTP.Listen, ":")
	if host != "0.0.0.0" {
		t.Errorf("http.listen %s: a container's loopback is unreachable from outside, want 0.0.0.0", c.HTTP.Listen)
	}
	published := false
	for _, p := range tt.Ports {
		published = published || strings.HasSuffix(p, ":"+port)
	}
	if !published {
		t.Errorf("ports %v do not publish http.listen's port %s", tt.Ports, port)
	}
	// Compose must wait longer than tokentail's own flush before it kills it.
	grace, err := time.ParseDuration(tt.StopGracePeriod)
	if err != nil || grace <= c.ShutdownTimeout.D() {
		t.Errorf("stop_grace_period %q, want more than shutdown_timeout %v", tt.StopGracePeriod, c.ShutdownTimeout.D())
	}

	// The stores: the DSN's database is the one postgres creates, the bucket's database the
	// one influxdb creates.
	pg := f.Services["postgres"].Environment
	if dsn := tt.Environment["TOKENTAIL_PG_DSN"]; !strings.Contains(dsn, "@postgres:5432/"+pg["POSTGRES_DB"]+"?") ||
		!strings.Contains(dsn, pg["POSTGRES_USER"]+":"+pg["POSTGRES_PASSWORD"]+"@") {
		t.Errorf("TOKENTAIL_PG_DSN %q does not match the postgres service (%s/%s)", dsn, pg["POSTGRES_USER"], pg["POSTGRES_DB"])
	}
	if c.InfluxDB == nil {
		t.Fatal("no influxdb section")
	}
	if db, _, _ := strings.Cut(c.InfluxDB.Bucket, "/"); db != f.Services["influxdb"].Environment["INFLUXDB_DB"] {
		t.Errorf("influxdb.bucket %s: database %s is not the one the influxdb service creates (%s)",
			c.InfluxDB.Bucket, db, f.Services["influxdb"].Environment["INFLUXDB_DB"])
	}
}

func TestCompose_GrafanaProvisioning(t *testing.T) {
	f := loadCompose(t)
	g := f.Services["grafana"]
	ms := g.mounts(t)
	prov, ok := mountOf(ms, "/etc/grafana/provisioning/datasources")
	if !ok || filepath.Clean(prov.Source) != "grafana/provisioning" {
		t.Errorf("grafana: want ./grafana/provisioning at /etc/grafana/provisioning, got %+v", prov)
	}
	// The dashboard provider's path is where the dashboards are mounted.
	var providers struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(readFile(t, "grafana/provisioning/dashboards/tokentail.yaml"), &providers); err != nil {
		t.Fatal(err)
	}
	if len(providers.Providers) != 1 {
		t.Fatalf("got %d dashboard providers, want 1", len(providers.Providers))
	}
	path := providers.Providers[0].Options.Path
	if m, ok := mountOf(ms, path); !ok || filepath.Clean(m.Source) != "grafana/dashboards" || m.Target != path {
		t.Errorf("dashboard provider path %s: want ./grafana/dashboards mounted there, got %+v", path, m)
	}
	// Every variable the data sources use is set for Grafana (it has no defaults).
	ds := string(readFile(t, "grafana/provisioning/datasources/tokentail.yaml"))
	vars := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllStringSubmatch(ds, -1)
	if len(vars) == 0 {
		t.Fatal("the data sources use no variable; the test expects them to")
	}
	for _, v := range vars {
		if val, ok := g.Environment[v[1]]; !ok || val == "" {
			t.Errorf("data sources use ${%s}, which the grafana service does not set", v[1])
		}
	}
	// The Grafana role the init script creates is the one the data source logs in as.
	init := string(readFile(t, "compose/postgres-init/10-grafana-role.sh"))
	if user := g.Environment["TOKENTAIL_GRAFANA_PG_USER"]; !strings.Contains(init, "CREATE ROLE "+user+" ") {
		t.Errorf("the postgres init script does not create role %q", user)
	}
	if got, want := g.Environment["TOKENTAIL_GRAFANA_PG_PASSWORD"], f.Services["postgres"].Environment["GRAFANA_DB_PASSWORD"]; got != want {
		t.Errorf("grafana's database password %q differs from the one postgres sets (%q)", got, want)
	}
}

// TestCompose_AppLinesParse runs the example app's script for a few iterations and parses
// what it wrote with tokentail's parser: the demo must produce records, not rejects.
func TestCompose_AppLinesParse(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	f := loadCompose(t)
	cmd := f.Services["app"].Command
	if len(cmd) != 3 || cmd[0] != "sh" || cmd[1] != "-c" {
		t.Fatalf("app command %q: want sh -c SCRIPT", cmd)
	}
	logFile := filepath.Join(t.TempDir(), "app.log")
	script := strings.ReplaceAll(cmd[2], "$$", "$") // compose's escape for a literal $
	script = strings.ReplaceAll(script, "/var/log/app/app.log", logFile)
	// Thirty iterations without the pause, then stop.
	script = strings.Replace(script, "sleep 1", `[ "$i" -ge 30 ] && exit 0`, 1)
	if !strings.Contains(script, logFile) || !strings.Contains(script, "exit 0") {
		t.Fatalf("the app script changed shape; update this test:\n%s", cmd[2])
	}
	c := exec.Command(sh, "-c", script)
	c.Env = append(os.Environ(), "HOSTNAME=test")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("app script: %v\n%s", err, out)
	}

	p, err := parse.NewParser(parse.Config{Source: "app", Marker: "AI_COST:"})
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	ids := map[string]bool{}
	n, failed := 0, 0
	for sc.Scan() {
		line := sc.Bytes()
		var rec parse.Record
		var rej parse.Reject
		msg := parse.Message{Text: line, Raw: line, File: logFile, Offset: int64(n)}
		switch p.Parse(&msg, time.Now(), parse.NewArena(1<<16), &rec, &rej) {
		case parse.Parsed:
		case parse.Rejected:
			t.Fatalf("line %d rejected (%s: %s):\n%s", n+1, rej.Reason, rej.Detail, line)
		default:
			t.Fatalf("line %d skipped:\n%s", n+1, line)
		}
		n++
		if rec.Model == "" || rec.InputTokens <= 0 || rec.OutputTokens <= 0 || !rec.HasDuration || rec.Feature == "" || rec.UserID == "" {
			t.Errorf("line %d: record %+v lacks a field the dashboards use", n, rec)
		}
		if ids[rec.EventID] {
			t.Errorf("line %d: event id %s repeats", n, rec.EventID)
		}
		ids[rec.EventID] = true
		if !rec.Success {
			failed++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 30 {
		t.Errorf("got %d lines, want 30", n)
	}
	if failed == 0 {
		t.Error("no failed call in 30 lines: the error-rate panels would stay empty")
	}
}

// TestCompose_ConfigCommand runs the real compose tool on the file when the machine has one
// (`docker compose` or the standalone `docker-compose`), which checks it against the
// Compose schema.
func TestCompose_ConfigCommand(t *testing.T) {
	var cmd *exec.Cmd
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err == nil && len(out) > 0 {
		cmd = exec.Command("docker", "compose", "-f", "docker-compose.yml", "config", "--quiet")
	} else if path, err := exec.LookPath("docker-compose"); err == nil {
		cmd = exec.Command(path, "-f", "docker-compose.yml", "config", "--quiet")
	} else {
		t.Skip("neither `docker compose` nor docker-compose is installed")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}
