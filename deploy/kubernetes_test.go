package deploy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The fields Kubernetes accepts (core/v1), for the objects whose typos would silently weaken
// the examples: an unknown key is dropped by the API server with at most a warning, so a
// misspelled readOnlyRootFilesystem would leave the root filesystem writable.
var (
	podSpecKeys = keys(`volumes initContainers containers ephemeralContainers restartPolicy
		terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy nodeSelector serviceAccountName
		serviceAccount automountServiceAccountToken nodeName hostNetwork hostPID hostIPC
		shareProcessNamespace securityContext imagePullSecrets hostname subdomain affinity
		schedulerName tolerations hostAliases priorityClassName priority dnsConfig readinessGates
		runtimeClassName enableServiceLinks preemptionPolicy overhead topologySpreadConstraints
		setHostnameAsFQDN os hostUsers schedulingGates resourceClaims resources`)
	podSecurityKeys = keys(`seLinuxOptions windowsOptions runAsUser runAsGroup runAsNonRoot
		supplementalGroups supplementalGroupsPolicy fsGroup sysctls fsGroupChangePolicy
		seccompProfile appArmorProfile seLinuxChangePolicy`)
	containerKeys = keys(`name image command args workingDir ports envFrom env resources
		resizePolicy restartPolicy volumeMounts volumeDevices livenessProbe readinessProbe
		startupProbe lifecycle terminationMessagePath terminationMessagePolicy imagePullPolicy
		securityContext stdin stdinOnce tty`)
	securityKeys = keys(`capabilities privileged seLinuxOptions windowsOptions runAsUser runAsGroup
		runAsNonRoot readOnlyRootFilesystem allowPrivilegeEscalation procMount seccompProfile
		appArmorProfile`)
	probeKeys = keys(`exec httpGet tcpSocket grpc initialDelaySeconds timeoutSeconds periodSeconds
		successThreshold failureThreshold terminationGracePeriodSeconds`)
	mountKeys     = keys(`name readOnly recursiveReadOnly mountPath subPath mountPropagation subPathExpr`)
	resourcesKeys = keys(`limits requests claims`)
)

func keys(s string) map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(s) {
		m[k] = true
	}
	return m
}

func checkKeys(t *testing.T, where string, v any, allowed map[string]bool) {
	t.Helper()
	for k := range mapOf(v) {
		if !allowed[k] {
			t.Errorf("%s: unknown field %q", where, k)
		}
	}
}

// k8sObject is one document of a manifest file.
type k8sObject struct {
	File string
	Doc  map[string]any
}

func (o k8sObject) Kind() string { return str(o.Doc["kind"]) }
func (o k8sObject) Name() string { return str(dig(o.Doc, "metadata", "name")) }
func (o k8sObject) String() string {
	return fmt.Sprintf("%s: %s/%s", filepath.Base(o.File), o.Kind(), o.Name())
}

func loadManifests(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in kubernetes/: %v", err)
	}
	var out []k8sObject
	for _, f := range files {
		for _, d := range yamlDocs(t, f) {
			out = append(out, k8sObject{File: f, Doc: d})
		}
	}
	return out
}

func TestKubernetes_Objects(t *testing.T) {
	seen := map[string]string{}
	objs := loadManifests(t)
	kinds := map[string]bool{}
	for _, o := range objs {
		if str(o.Doc["apiVersion"]) == "" || o.Kind() == "" || o.Name() == "" {
			t.Errorf("%s: want apiVersion, kind and metadata.name", o)
		}
		id := o.Kind() + "/" + o.Name()
		if other, dup := seen[id]; dup {
			t.Errorf("%s is also defined in %s", o, other)
		}
		seen[id] = o.File
		kinds[o.Kind()] = true
	}
	for _, k := range []string{"ConfigMap", "Deployment", "DaemonSet"} {
		if !kinds[k] {
			t.Errorf("no %s among the manifests", k)
		}
	}
}

// container is one container of a pod, init or not.
type container struct {
	Spec    map[string]any
	Init    bool
	Sidecar bool // an init container with restartPolicy Always
}

func (c container) Name() string { return str(c.Spec["name"]) }

func podContainers(pod map[string]any) []container {
	var out []container
	for _, c := range listOf(pod["initContainers"]) {
		m := mapOf(c)
		out = append(out, container{Spec: m, Init: true, Sidecar: str(m["restartPolicy"]) == "Always"})
	}
	for _, c := range listOf(pod["containers"]) {
		out = append(out, container{Spec: mapOf(c)})
	}
	return out
}

// effective returns a security setting of the container, else of the pod.
func effective(c container, pod map[string]any, key string) any {
	if v, ok := mapOf(c.Spec["securityContext"])[key]; ok {
		return v
	}
	return mapOf(pod["securityContext"])[key]
}

func TestKubernetes_Workloads(t *testing.T) {
	objs := loadManifests(t)
	configMaps := map[string]map[string]any{}
	for _, o := range objs {
		if o.Kind() == "ConfigMap" {
			configMaps[o.Name()] = mapOf(o.Doc["data"])
		}
	}
	workloads := 0
	for _, o := range objs {
		if o.Kind() != "Deployment" && o.Kind() != "DaemonSet" {
			continue
		}
		workloads++
		t.Run(o.Kind()+"/"+o.Name(), func(t *testing.T) {
			tmpl := dig(o.Doc, "spec", "template")
			pod := mapOf(dig(tmpl, "spec"))
			checkKeys(t, "pod spec", pod, podSpecKeys)
			checkKeys(t, "pod securityContext", pod["securityContext"], podSecurityKeys)
			labels := mapOf(dig(tmpl, "metadata", "labels"))
			sel := mapOf(dig(o.Doc, "spec", "selector", "matchLabels"))
			if len(sel) == 0 {
				t.Error("no spec.selector.matchLabels")
			}
			for k, v := range sel {
				if labels[k] != v {
					t.Errorf("selector %s=%v does not match the template's labels %v", k, v, labels)
				}
			}
			if pod["automountServiceAccountToken"] != false {
				t.Error("automountServiceAccountToken is not false: tokentail needs no Kubernetes API")
			}
			if str(dig(pod, "securityContext", "seccompProfile", "type")) != "RuntimeDefault" {
				t.Error("pod seccompProfile is not RuntimeDefault")
			}
			volumes := map[string]map[string]any{}
			for _, v := range listOf(pod["volumes"]) {
				volumes[str(dig(v, "name"))] = mapOf(v)
			}
			tokentails := 0
			for _, c := range podContainers(pod) {
				checkContainer(t, c, pod, volumes)
				if strings.Contains(str(c.Spec["image"]), "tokentail") {
					tokentails++
					checkTokentail(t, o, c, pod, volumes, configMaps)
				}
			}
			if tokentails != 1 {
				t.Errorf("got %d tokentail containers, want 1", tokentails)
			}
		})
	}
	if workloads < 2 {
		t.Errorf("got %d workloads, want the sidecar Deployment and the DaemonSet", workloads)
	}
}

// checkContainer holds every container to the same bar: pinned image, requests and limits,
// no privilege escalation, read-only root, no capabilities, non-root; mounts that exist.
func checkContainer(t *testing.T, c container, pod map[string]any, volumes map[string]map[string]any) {
	t.Helper()
	name := c.Name()
	checkKeys(t, name, c.Spec, containerKeys)
	checkKeys(t, name+" securityContext", c.Spec["securityContext"], securityKeys)
	checkKeys(t, name+" resources", c.Spec["resources"], resourcesKeys)
	for _, p := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
		checkKeys(t, name+" "+p, c.Spec[p], probeKeys)
	}
	if !pinned(str(c.Spec["image"])) {
		t.Errorf("%s: image %q is not pinned by a tag", name, c.Spec["image"])
	}
	for _, kind := range []string{"requests", "limits"} {
		for _, res := range []string{"cpu", "memory"} {
			if str(dig(c.Spec, "resources", kind, res)) == "" {
				t.Errorf("%s: no resources.%s.%s", name, kind, res)
			}
		}
	}
	sc := mapOf(c.Spec["securityContext"])
	if sc["allowPrivilegeEscalation"] != false {
		t.Errorf("%s: allowPrivilegeEscalation is not false", name)
	}
	if sc["readOnlyRootFilesystem"] != true {
		t.Errorf("%s: readOnlyRootFilesystem is not true", name)
	}
	if drop := listOf(dig(sc, "capabilities", "drop")); !slices.Contains(drop, any("ALL")) {
		t.Errorf("%s: capabilities.drop %v, want ALL", name, drop)
	}
	add := listOf(dig(sc, "capabilities", "add"))
	root := effective(c, pod, "runAsUser") == 0
	switch {
	case root && c.Init && !c.Sidecar:
		// The one exception: a one-shot init step that chowns a hostPath, with CHOWN alone.
		if len(add) != 1 || add[0] != "CHOWN" || effective(c, pod, "runAsNonRoot") != false {
			t.Errorf("%s: runs as root with capabilities %v; only a one-shot init step with CHOWN alone may", name, add)
		}
	case root:
		t.Errorf("%s: runs as uid 0", name)
	default:
		if effective(c, pod, "runAsNonRoot") != true {
			t.Errorf("%s: runAsNonRoot is not true (on the container or the pod)", name)
		}
		if len(add) > 0 {
			t.Errorf("%s: adds capabilities %v", name, add)
		}
	}
	for _, m := range listOf(c.Spec["volumeMounts"]) {
		checkKeys(t, name+" volumeMount", m, mountKeys)
		if _, ok := volumes[str(dig(m, "name"))]; !ok {
			t.Errorf("%s: mounts volume %q, which the pod does not declare", name, dig(m, "name"))
		}
	}
}

// checkTokentail checks that tokentail's container and the config it is given agree.
func checkTokentail(t *testing.T, o k8sObject, c container, pod map[string]any, volumes map[string]map[string]any, configMaps map[string]map[string]any) {
	t.Helper()
	if c.Init && !c.Sidecar {
		t.Error("tokentail is a one-shot init container")
	}
	if args := fmt.Sprint(c.Spec["args"]); args != "[run --config /etc/tokentail/tokentail.yaml]" {
		t.Errorf("tokentail args %s, want [run --config /etc/tokentail/tokentail.yaml]", args)
	}
	mounts := map[string]map[string]any{} // by mountPath
	for _, m := range listOf(c.Spec["volumeMounts"]) {
		mounts[str(dig(m, "mountPath"))] = mapOf(m)
	}
	mountOf := func(path string) (map[string]any, bool) {
		best := ""
		for p := range mounts {
			if under(path, p) && len(p) > len(best) {
				best = p
			}
		}
		return mounts[best], best != ""
	}

	// The config comes from a ConfigMap that exists and holds tokentail.yaml.
	cfgMount, ok := mounts["/etc/tokentail"]
	if !ok || cfgMount["readOnly"] != true {
		t.Fatalf("tokentail: want /etc/tokentail mounted read-only, got %v", cfgMount)
	}
	cmName := str(dig(volumes[str(cfgMount["name"])], "configMap", "name"))
	cfgText := str(configMaps[cmName]["tokentail.yaml"])
	if cfgText == "" {
		t.Fatalf("tokentail: ConfigMap %q (volume %s) has no tokentail.yaml", cmName, cfgMount["name"])
	}
	// The container's environment: values as written; secrets and fields as placeholders.
	env := map[string]string{}
	for _, e := range listOf(c.Spec["env"]) {
		name := str(dig(e, "name"))
		switch {
		case dig(e, "valueFrom", "secretKeyRef") != nil:
			if dig(e, "valueFrom", "secretKeyRef", "optional") == true {
				continue // an optional secret may be absent: the config must cope
			}
			env[name] = "postgres://tokentail:secret@db:5432/ai"
		case dig(e, "valueFrom") != nil:
			env[name] = "from-the-pod"
		default:
			env[name] = str(dig(e, "value"))
		}
	}
	cfg := parseConfig(t, o.File+": ConfigMap "+cmName+": tokentail.yaml", []byte(cfgText), env)

	// Sources: on read-only mounts. State: on a writable one.
	for _, src := range cfg.Sources {
		for _, p := range src.Paths {
			if m, ok := mountOf(p); !ok || m["readOnly"] != true {
				t.Errorf("source %s path %s: not on a read-only mount", src.Name, p)
			}
		}
	}
	if m, ok := mountOf(cfg.StateDir); !ok || m["readOnly"] == true || m["mountPath"] != cfg.StateDir {
		t.Errorf("state_dir %s: want a writable volume mounted there, got %v", cfg.StateDir, m)
	}

	// HTTP: on every interface, on the container's port, probed there.
	if cfg.HTTP == nil {
		t.Fatal("no http section: no probes possible")
	}
	host, portText, _ := strings.Cut(cfg.HTTP.Listen, ":")
	if host != "0.0.0.0" {
		t.Errorf("http.listen %s: the kubelet probes from outside the pod, want 0.0.0.0", cfg.HTTP.Listen)
	}
	port, _ := strconv.Atoi(portText)
	portNames := map[string]bool{}
	for _, p := range listOf(c.Spec["ports"]) {
		if dig(p, "containerPort") == port {
			portNames[str(dig(p, "name"))] = true
		}
	}
	if len(portNames) == 0 {
		t.Errorf("no containerPort %d (http.listen %s)", port, cfg.HTTP.Listen)
	}
	wantReady := "/readyz"
	if c.Sidecar {
		// A native sidecar's readiness is the pod's: see the comment in sidecar.yaml.
		wantReady = "/healthz"
	}
	for probe, want := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": wantReady} {
		get := dig(c.Spec, probe, "httpGet")
		if get == nil {
			t.Errorf("no %s.httpGet", probe)
			continue
		}
		if got := str(dig(get, "path")); got != want {
			t.Errorf("%s path %s, want %s", probe, got, want)
		}
		p := dig(get, "port")
		if p != port && !portNames[str(p)] {
			t.Errorf("%s port %v is not http.listen's port %d", probe, p, port)
		}
	}
	// Kubernetes must wait longer than tokentail's own flush.
	grace, _ := pod["terminationGracePeriodSeconds"].(int)
	if float64(grace) <= cfg.ShutdownTimeout.D().Seconds() {
		t.Errorf("terminationGracePeriodSeconds %d, want more than shutdown_timeout %v", grace, cfg.ShutdownTimeout.D())
	}
	// GOMEMLIMIT below the memory limit, or the GC would not act before the OOM killer.
	if lim, soft := mebibytes(str(dig(c.Spec, "resources", "limits", "memory"))), mebibytes(env["GOMEMLIMIT"]); soft > 0 && soft >= lim {
		t.Errorf("GOMEMLIMIT %s is not below the memory limit", env["GOMEMLIMIT"])
	}

	switch o.Kind() {
	case "DaemonSet":
		// The node's logs, read-only, at the paths the symlinks use; positions on the node.
		for _, p := range []string{"/var/log/containers", "/var/log/pods"} {
			m, ok := mounts[p]
			v := volumes[str(m["name"])]
			if !ok || m["readOnly"] != true || str(dig(v, "hostPath", "path")) != p {
				t.Errorf("want hostPath %s mounted read-only at %s, got mount %v volume %v", p, p, m, v)
			}
		}
		if v := volumes[str(mounts[cfg.StateDir]["name"])]; dig(v, "hostPath") == nil {
			t.Errorf("state_dir %s is not a hostPath: positions would die with the pod", cfg.StateDir)
		}
	case "Deployment":
		// The logs are an emptyDir the application writes.
		logMount, _ := mountOf(cfg.Sources[0].Paths[0])
		vol := str(logMount["name"])
		if dig(volumes[vol], "emptyDir") == nil {
			t.Errorf("log volume %s is not an emptyDir", vol)
		}
		writers := 0
		for _, other := range podContainers(pod) {
			if other.Name() == c.Name() {
				continue
			}
			for _, m := range listOf(other.Spec["volumeMounts"]) {
				if str(dig(m, "name")) == vol && dig(m, "readOnly") != true {
					writers++
				}
			}
		}
		if writers == 0 {
			t.Errorf("no application container writes volume %s", vol)
		}
	}
}

// mebibytes reads "128Mi" or "100MiB"; 0 when it cannot.
func mebibytes(s string) float64 {
	for _, u := range []struct {
		suffix string
		mib    float64
	}{{"MiB", 1}, {"Mi", 1}, {"GiB", 1024}, {"Gi", 1024}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return n * u.mib
			}
		}
	}
	return 0
}
