package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// unitFile maps "Section.Key" to its values, in order (a key may repeat).
type unitFile map[string][]string

func parseUnit(t *testing.T, data string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("tokentail.service:%d: %q is not key=value in a section", i+1, line)
			}
			u[section+"."+k] = append(u[section+"."+k], v)
		}
	}
	return u
}

// last is the value in force: the last assignment of the key.
func (u unitFile) last(key string) (string, bool) {
	v := u[key]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// TestSystemd_Hardening checks the settings the unit promises, and that the daemon's own
// timing and paths agree with them.
func TestSystemd_Hardening(t *testing.T) {
	u := parseUnit(t, string(readFile(t, "systemd/tokentail.service")))
	want := map[string]string{
		"Unit.After":                      "network-online.target",
		"Unit.Wants":                      "network-online.target",
		"Service.Type":                    "simple",
		"Service.User":                    "tokentail",
		"Service.ExecStart":               "/usr/local/bin/tokentail run --config /etc/tokentail/tokentail.yaml",
		"Service.ExecReload":              "/bin/kill -HUP $MAINPID",
		"Service.Restart":                 "on-failure",
		"Service.StateDirectory":          "tokentail",
		"Service.ProtectSystem":           "strict",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.NoNewPrivileges":         "yes",
		"Service.ReadOnlyPaths":           "/var/log",
		"Service.CapabilityBoundingSet":   "",
		"Service.AmbientCapabilities":     "",
		"Service.RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"Install.WantedBy":                "multi-user.target",
	}
	for key, w := range want {
		got, ok := u.last(key)
		if !ok || got != w {
			t.Errorf("%s = %q (set: %v), want %q", key, got, ok, w)
		}
	}
	if !containsValue(u["Service.SystemCallFilter"], "@system-service") {
		t.Errorf("SystemCallFilter %v, want @system-service", u["Service.SystemCallFilter"])
	}
	for _, forbidden := range []string{"Service.ReadWritePaths", "Service.PrivilegedStartOnly", "Service.PermissionsStartOnly"} {
		if v, ok := u.last(forbidden); ok {
			t.Errorf("%s=%s opens the sandbox", forbidden, v)
		}
	}

	// The daemon's defaults (config.example.yaml) fit the unit: the state directory is the
	// one systemd creates, and systemd waits longer than the daemon flushes.
	c := parseConfig(t, "../config.example.yaml", readFile(t, "../config.example.yaml"),
		map[string]string{"TOKENTAIL_PG_DSN": "postgres://db/ai", "INFLUX_TOKEN": ""})
	state, _ := u.last("Service.StateDirectory")
	if got, want := c.StateDir, "/var/lib/"+state; got != want {
		t.Errorf("config.example.yaml state_dir %s, want %s (StateDirectory=%s)", got, want, state)
	}
	stop, _ := u.last("Service.TimeoutStopSec")
	d, err := time.ParseDuration(stop)
	if err != nil {
		t.Fatalf("TimeoutStopSec=%s: %v", stop, err)
	}
	if d <= c.ShutdownTimeout.D() || d > c.ShutdownTimeout.D()+30*time.Second {
		t.Errorf("TimeoutStopSec=%v, want a bit above shutdown_timeout %v", d, c.ShutdownTimeout.D())
	}
}

func containsValue(vals []string, want string) bool {
	for _, v := range vals {
		for _, f := range strings.Fields(v) {
			if f == want {
				return true
			}
		}
	}
	return false
}

// TestSystemd_Analyze runs systemd-analyze when the machine has it: `verify` (syntax, known
// keys) and `security` (the sandbox's exposure score must stay "OK", ≤ 2.0). The binary is
// replaced by /bin/true, because verify checks that ExecStart exists.
func TestSystemd_Analyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit := strings.ReplaceAll(string(readFile(t, "systemd/tokentail.service")),
		"ExecStart=/usr/local/bin/tokentail ", "ExecStart=/bin/true ")
	path := filepath.Join(t.TempDir(), "tokentail.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", path).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(sa, "security", "--offline=true", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.0 (%v):\n%s", err, out)
	}
}
