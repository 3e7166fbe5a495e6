// Package deploy holds no code: it is the home of tokentail's deployment files and of the
// tests that validate them without a container engine or a cluster.
//
//   - docker-compose.yml and compose/: an example app, tokentail as its sidecar, PostgreSQL,
//     InfluxDB and Grafana;
//   - kubernetes/: tokentail as a native sidecar reading a shared emptyDir, and as a
//     DaemonSet reading the node's /var/log/containers;
//   - systemd/: a hardened unit;
//   - the repository's Dockerfile and .dockerignore;
//   - grafana/: provisioning and dashboards (package grafana, whose tests run every panel's
//     query against the harness servers).
//
// The tests parse each file and check what a mistake would silently break: images pinned,
// logs mounted read-only and shared, non-root users, probes and limits, the embedded tokentail
// configs and rules accepted by tokentail's own loaders, ports and paths that agree between
// the config and its container. Where the machine has the real tool (docker compose or
// docker-compose, systemd-analyze) they run it too, and skip that part otherwise.
package deploy
