#!/usr/bin/env bash
# testenv.sh: the private servers tokentail's integration tests run against: a PostgreSQL
# cluster, InfluxDB 1.8.10 and VictoriaMetrics, all on loopback, all under one directory.
#
#   scripts/testenv.sh start        start all three (a server not running starts from empty data)
#   scripts/testenv.sh stop         stop all three (safe to call twice)
#   scripts/testenv.sh env          print the `export` lines the tests read (eval "$(... env)")
#   scripts/testenv.sh status       say what runs
#   scripts/testenv.sh {start,stop,crash,restart}-{pg,influx,vm}
#                                   one server; start-* keeps its data, crash-* kills it without
#                                   a clean shutdown (outage tests; see internal/testenv)
#
# Settings (environment): TOKENTAIL_TESTENV_DIR (default <repo>/.testenv), TOKENTAIL_CACHE
# (default ~/.cache/tokentail; influxd is built there once), TOKENTAIL_TEST_PG_PORT (55432),
# TOKENTAIL_TEST_INFLUX_PORT (58086), TOKENTAIL_TEST_INFLUX_RPC_PORT (58088),
# TOKENTAIL_TEST_VM_PORT (58428), TOKENTAIL_TEST_VM_DEDUP (1ms), TOKENTAIL_TESTENV_WAIT
# (seconds a server may take to come up, 60), TOKENTAIL_TESTENV_RESERVE_PORTS (1: as root,
# reserve the ports from the kernel's ephemeral range).
# Progress goes to stderr so that stdout of `env` stays eval-able.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPT="$REPO/scripts/testenv.sh"
DIR=${TOKENTAIL_TESTENV_DIR:-$REPO/.testenv}
CACHE=${TOKENTAIL_CACHE:-${HOME:-/tmp}/.cache/tokentail}
PG_PORT=${TOKENTAIL_TEST_PG_PORT:-55432}
INFLUX_PORT=${TOKENTAIL_TEST_INFLUX_PORT:-58086}
INFLUX_RPC_PORT=${TOKENTAIL_TEST_INFLUX_RPC_PORT:-58088}
VM_PORT=${TOKENTAIL_TEST_VM_PORT:-58428}
VM_DEDUP=${TOKENTAIL_TEST_VM_DEDUP:-1ms}
WAIT=${TOKENTAIL_TESTENV_WAIT:-60}
INFLUX_VERSION=v1.8.10
INFLUX_MODULE=github.com/influxdata/influxdb
# The go install of influxd takes 1-2 minutes cold; a stuck one must still end.
BUILD_WAIT=900

log() { echo "testenv: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# Relative directories would change meaning when the Go helpers call us from a package dir.
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# alive PID: the process exists and is not a zombie (PID 1 in a container may never reap
# the servers we orphan, and kill -0 succeeds on zombies).
alive() {
	local pid=$1 state
	[[ -n $pid && -r /proc/$pid/stat ]] || return 1
	state=$(sed -E 's/^.*\) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[[ -n $state && $state != Z ]]
}

# pid_of FILE NAME: the pid in FILE when that process is alive and its command is NAME; a pid
# file left by a killed run may name a recycled pid that belongs to something else.
pid_of() {
	local file=$1 name=$2 pid
	[[ -f $file ]] || return 1
	pid=$(tr -dc '0-9' <"$file")
	alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name" || return 1
	echo "$pid"
}

# wait_gone PID SECONDS: bounded wait for a process to exit.
wait_gone() {
	local pid=$1 i
	for ((i = 0; i < $2 * 10; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}

# stop_pid NAME FILE SIGNAL: stop the server recorded in FILE; TERM escalates to KILL after 30s.
stop_pid() {
	local name=$1 file=$2 sig=$3 pid
	if pid=$(pid_of "$file" "$name"); then
		log "stopping $name (pid $pid, SIG$sig)"
		kill "-$sig" "$pid" 2>/dev/null || true
		if ! wait_gone "$pid" 30; then
			log "$name did not exit after SIG$sig in 30s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			wait_gone "$pid" 10 || die "$name (pid $pid) survives SIGKILL"
		fi
	fi
	rm -f "$file"
}

# port_busy PORT: something listens on 127.0.0.1:PORT.
port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

show_log() {
	local file=$1
	if [[ -f $file ]]; then
		log "last lines of $file:"
		tail -n 30 "$file" >&2 || true
	fi
}

# with_lock CMD...: one start/stop at a time per test directory, so that two engineers (or a
# test calling restart-pg) never interleave half a start with half a stop.
with_lock() {
	if command -v flock >/dev/null; then
		(
			flock -w 300 9 || die "another testenv.sh holds $DIR/.lock for 300s"
			"$@"
		) 9>"$DIR/.lock"
	else
		"$@"
	fi
}

# Our default ports lie in the kernel's ephemeral range (32768-60999), from which client
# connections get their local ports, so a free port can be taken by the local end of some
# connection (a test's HTTP or PostgreSQL client) and, once that closes, stay blocked for the
# 60s of TIME_WAIT. Two defences: as root, reserve_ports takes our ports out of the ephemeral
# range (TOKENTAIL_TESTENV_RESERVE_PORTS=0 to leave the system alone); and a start that fails
# with "address already in use" is retried for up to PORT_WAIT seconds.
PORT_WAIT=75

reserve_ports() {
	local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur p add=() joined
	[[ ${TOKENTAIL_TESTENV_RESERVE_PORTS:-1} == 1 && $(id -u) == 0 && -w $f ]] || return 0
	cur=$(cat "$f" 2>/dev/null) || return 0
	for p in "$PG_PORT" "$INFLUX_PORT" "$INFLUX_RPC_PORT" "$VM_PORT"; do
		[[ ,$cur, == *,$p,* ]] || add+=("$p")
	done
	((${#add[@]} > 0)) || return 0
	joined=$(
		IFS=,
		echo "${add[*]}"
	)
	if echo "${cur:+$cur,}$joined" >"$f" 2>/dev/null; then
		log "reserved ports $joined (net.ipv4.ip_local_reserved_ports), so no client connection takes them"
	fi
}

# port_conflict LOG MARK: the lines LOG gained after line MARK say a port was taken.
port_conflict() {
	tail -n "+$(($2 + 1))" "$1" 2>/dev/null | grep -qi 'address already in use'
}

# launch NAME PIDFILE LOG HEALTH_URL CMD...: start a server in its own session and wait,
# bounded, until HEALTH_URL answers. Returns 0 when it does and 2 when the server exited
# because a port was taken; dies on anything else. NAME is how the command line reads.
launch() {
	local name=$1 pidfile=$2 logf=$3 health=$4 pid i mark
	shift 4
	touch "$logf"
	mark=$(wc -l <"$logf")
	# setsid: a Ctrl-C on `make test` must not kill the server before the trap stops it
	# cleanly. 9>&-: the server must not inherit the descriptor that holds with_lock's lock,
	# or the lock would live as long as the server.
	setsid "$@" </dev/null >>"$logf" 2>&1 9>&- &
	pid=$!
	echo "$pid" >"$pidfile"
	for ((i = 0; i < WAIT * 10; i++)); do
		if ! alive "$pid"; then
			rm -f "$pidfile"
			port_conflict "$logf" "$mark" && return 2
			show_log "$logf"
			die "$name exited during start"
		fi
		curl -sf -m 2 -o /dev/null "$health" && return 0
		sleep 0.1
	done
	show_log "$logf"
	stop_pid "$name" "$pidfile" KILL
	die "$name did not answer $health within ${WAIT}s"
}

# retry_port NAME CMD...: run CMD until it does not report a port conflict (status 2), for
# at most PORT_WAIT seconds.
retry_port() {
	local name=$1 attempt=0 rc deadline=$((SECONDS + PORT_WAIT))
	shift
	reserve_ports
	while :; do
		rc=0
		"$@" || rc=$?
		[[ $rc == 2 ]] || return "$rc"
		attempt=$((attempt + 1))
		((SECONDS < deadline)) || die "$name: its port stayed taken for ${PORT_WAIT}s"
		# Once a minute is enough to say it: TIME_WAIT lasts 60s.
		((attempt % 30 == 1)) && log "$name: its port is taken, likely by a closed client connection in TIME_WAIT; retrying for up to ${PORT_WAIT}s"
		sleep 1
	done
}

# ---------------------------------------------------------------- PostgreSQL

find_pg_bin() {
	local d
	if [[ -n ${TOKENTAIL_TEST_PG_BIN:-} && -x ${TOKENTAIL_TEST_PG_BIN}/pg_ctl ]]; then
		echo "$TOKENTAIL_TEST_PG_BIN"
		return 0
	fi
	if command -v pg_config >/dev/null && d=$(pg_config --bindir 2>/dev/null) && [[ -x $d/pg_ctl ]]; then
		echo "$d"
		return 0
	fi
	# Newest major version first.
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -rn); do
		if [[ -x $d/pg_ctl ]]; then
			echo "$d"
			return 0
		fi
	done
	if command -v pg_ctl >/dev/null; then
		dirname "$(command -v pg_ctl)"
		return 0
	fi
	return 1
}

apt_install() {
	[[ $(id -u) == 0 ]] || die "$1 is missing; install it (apt-get install $1) or run as root"
	command -v apt-get >/dev/null || die "$1 is missing and there is no apt-get to install it"
	log "installing $1 with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || die "apt-get update failed"
	apt-get install -y -qq "$1" >&2 || die "apt-get install $1 failed"
}

# pg_bin INSTALL: INSTALL=0 (stop, status) never installs; it fails when there is nothing to find.
PG_BIN=
pg_bin() {
	[[ -n $PG_BIN ]] && return 0
	PG_BIN=$(find_pg_bin) && return 0
	[[ $1 == 1 ]] || return 1
	if ! PG_BIN=$(find_pg_bin); then
		apt_install postgresql
		PG_BIN=$(find_pg_bin) || die "postgresql installed, but no pg_ctl found"
	fi
}

# PostgreSQL refuses to run as root, so as root the cluster belongs to an unprivileged user:
# `postgres` from the Debian package when there is one, else a `tokentail` system user.
PG_USER=
pg_user() {
	[[ $(id -u) == 0 ]] || return 0
	[[ -n $PG_USER ]] && return 0
	if id -u postgres >/dev/null 2>&1; then
		PG_USER=postgres
	else
		id -u tokentail >/dev/null 2>&1 ||
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tokentail ||
			die "cannot create the tokentail system user to run PostgreSQL"
		PG_USER=tokentail
	fi
}

as_pg() {
	# cd /: the caller's directory may be unreadable for the cluster's user.
	if [[ -n $PG_USER ]]; then
		(cd / && runuser -u "$PG_USER" -- "$@")
	else
		(cd / && "$@")
	fi
}

# The cluster lives in $DIR/pg unless its user cannot reach that directory (a clone under
# /root) or the unix socket path would pass the kernel's 107-byte limit: then under /tmp,
# in a directory named after $DIR so that every call finds the same one.
pg_root() {
	local root=$DIR/pg
	if ((${#root} > 80)) || { [[ -n $PG_USER ]] && ! runuser -u "$PG_USER" -- test -x "$DIR" 2>/dev/null; }; then
		root=${TMPDIR:-/tmp}/tokentail-pg-$(printf %s "$DIR" | cksum | cut -d' ' -f1)
	fi
	echo "$root"
}

# pg_setup INSTALL
pg_setup() {
	pg_bin "$1" || return 1
	pg_user
	PG_ROOT=$(pg_root)
	PG_DATA=$PG_ROOT/data
	PG_LOG=$PG_ROOT/postgres.log
}

pg_running() {
	[[ -f $PG_DATA/PG_VERSION ]] && as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

pg_init() {
	log "creating PostgreSQL cluster in $PG_DATA"
	rm -rf "$PG_ROOT"
	mkdir -p "$PG_ROOT/sock"
	[[ -n $PG_USER ]] && chown -R "$PG_USER:" "$PG_ROOT"
	chmod 700 "$PG_ROOT"
	# --no-sync only skips initdb's own flush of the files it writes; the server keeps every
	# durability default (fsync, synchronous_commit, full_page_writes): the writers' tests rely
	# on a commit being on disk.
	as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U tokentail --auth=trust --encoding=UTF8 --locale=C \
		--no-sync >"$PG_ROOT/initdb.log" 2>&1 || {
		show_log "$PG_ROOT/initdb.log"
		die "initdb failed"
	}
	cat >>"$PG_DATA/postgresql.conf" <<EOF

# tokentail test environment
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_ROOT/sock'
max_connections = 200
shared_buffers = 128MB
EOF
}

pg_start_server() {
	if pg_running; then
		return 0
	fi
	if port_busy "$PG_PORT"; then
		die "port $PG_PORT is taken by another server; set TOKENTAIL_TEST_PG_PORT"
	fi
	log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
	retry_port PostgreSQL pg_launch
}

# pg_launch: one pg_ctl start; status 2 when the port was taken (see retry_port).
pg_launch() {
	local mark=0
	# A postmaster.pid left by a killed run names a dead (or recycled) pid; pg_running just
	# said no server owns this directory.
	rm -f "$PG_DATA/postmaster.pid"
	[[ -f $PG_LOG ]] && mark=$(wc -l <"$PG_LOG")
	# 9>&-: a server must not inherit the descriptor that holds with_lock's lock, or the lock
	# lives as long as the server.
	if ! as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$WAIT" >"$PG_ROOT/pg_ctl.log" 2>&1 9>&-; then
		port_conflict "$PG_LOG" "$mark" && return 2
		cat "$PG_ROOT/pg_ctl.log" >&2 || true
		show_log "$PG_LOG"
		die "PostgreSQL did not start within ${WAIT}s"
	fi
}

psql_admin() {
	as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U tokentail "$@"
}

# pg_up FRESH: FRESH=1 (the `start` command) recreates a cluster that is not running, so each
# run begins empty and nothing from a killed run lingers; FRESH=0 (start-pg, after an outage
# test stopped it) keeps the data.
pg_up() {
	pg_setup 1
	if pg_running; then
		log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
		return 0
	fi
	if [[ $1 == 1 || ! -f $PG_ROOT/.ready ]]; then
		pg_init
		pg_start_server
		psql_admin -d postgres -c 'CREATE DATABASE tokentail' >&2 || die "create database tokentail failed"
		touch "$PG_ROOT/.ready"
	else
		pg_start_server
	fi
}

# pg_down MODE: fast (clean shutdown) or immediate (a crash: recovery on the next start).
pg_down() {
	# No PostgreSQL binaries: nothing of ours can be running.
	pg_setup 0 || return 0
	if pg_running; then
		log "stopping PostgreSQL ($1)"
		as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m "$1" -w -t "$WAIT" >&2 ||
			die "PostgreSQL did not stop within ${WAIT}s"
	fi
}

# ---------------------------------------------------------------- InfluxDB 1.8

INFLUXD=
influxd_ok() {
	# influxd built by go install reports "vunknown"; its module version is in the build info.
	[[ -x $1 ]] && go version -m "$1" 2>/dev/null |
		awk -v m="$INFLUX_MODULE" -v v="$INFLUX_VERSION" '$1 == "mod" && $2 == m && $3 == v { ok = 1 } END { exit !ok }'
}

influx_bin() {
	[[ -n $INFLUXD ]] && return 0
	INFLUXD=$CACHE/bin/influxd
	command -v go >/dev/null || die "go is not on PATH (needed to build and check influxd)"
	influxd_ok "$INFLUXD" && return 0
	mkdir -p "$CACHE/bin"
	# One build at a time per cache: a second caller waits and then finds the binary.
	(
		flock -w "$BUILD_WAIT" 9 || die "waited ${BUILD_WAIT}s for another influxd build ($CACHE/influxd.build.lock)"
		influxd_ok "$INFLUXD" && exit 0
		local tmp=$CACHE/build.$$ started=$SECONDS
		rm -rf "$tmp"
		mkdir -p "$tmp"
		log "building influxd $INFLUX_VERSION into $CACHE/bin (once; takes 1-2 minutes)"
		if ! (cd "$tmp" && GOBIN=$tmp GOFLAGS=-buildvcs=false timeout "$BUILD_WAIT" \
			go install "$INFLUX_MODULE/cmd/influxd@$INFLUX_VERSION") >"$CACHE/influxd.build.log" 2>&1; then
			tail -n 30 "$CACHE/influxd.build.log" >&2
			rm -rf "$tmp"
			die "go install influxd@$INFLUX_VERSION failed (log: $CACHE/influxd.build.log)"
		fi
		# Rename is atomic: nobody ever runs a half-written binary.
		mv -f "$tmp/influxd" "$INFLUXD"
		rm -rf "$tmp"
		log "built influxd in $((SECONDS - started))s"
	) 9>"$CACHE/influxd.build.lock"
	influxd_ok "$INFLUXD" || die "$INFLUXD is not influxd $INFLUX_VERSION"
}

INFLUX_ROOT=$DIR/influx
INFLUX_PID=$INFLUX_ROOT/influxd.pid
INFLUX_LOG=$INFLUX_ROOT/influxd.log

influx_config() {
	cat >"$INFLUX_ROOT/influxd.conf" <<EOF
# tokentail test environment: loopback only, no auth, no phoning home.
reporting-disabled = true
# The RPC port (backup/restore) defaults to 8088 on all interfaces.
bind-address = "127.0.0.1:$INFLUX_RPC_PORT"

[meta]
  dir = "$INFLUX_ROOT/meta"

[data]
  dir = "$INFLUX_ROOT/data"
  wal-dir = "$INFLUX_ROOT/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$INFLUX_PORT"
  auth-enabled = false
  log-enabled = false
  flux-enabled = true

[logging]
  level = "warn"

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[[graphite]]
  enabled = false
[[collectd]]
  enabled = false
[[opentsdb]]
  enabled = false
[[udp]]
  enabled = false
EOF
}

influx_url() { echo "http://127.0.0.1:$INFLUX_PORT"; }

# influx_up FRESH: as pg_up.
influx_up() {
	local pid
	influx_bin
	if pid=$(pid_of "$INFLUX_PID" influxd); then
		log "InfluxDB already running on $(influx_url) (pid $pid)"
		return 0
	fi
	if port_busy "$INFLUX_PORT"; then
		die "port $INFLUX_PORT is taken by another server; set TOKENTAIL_TEST_INFLUX_PORT"
	fi
	if port_busy "$INFLUX_RPC_PORT"; then
		die "port $INFLUX_RPC_PORT is taken by another server; set TOKENTAIL_TEST_INFLUX_RPC_PORT"
	fi
	local fresh=$1
	[[ -f $INFLUX_ROOT/.ready ]] || fresh=1
	if [[ $fresh == 1 ]]; then
		rm -rf "$INFLUX_ROOT"
	fi
	mkdir -p "$INFLUX_ROOT"
	influx_config
	log "starting InfluxDB $INFLUX_VERSION on $(influx_url)"
	retry_port InfluxDB launch influxd "$INFLUX_PID" "$INFLUX_LOG" "$(influx_url)/ping" \
		"$INFLUXD" run -config "$INFLUX_ROOT/influxd.conf"
	if [[ $fresh == 1 ]]; then
		curl -sf -m 10 -XPOST "$(influx_url)/query" --data-urlencode 'q=CREATE DATABASE tokentail' >/dev/null ||
			die "create InfluxDB database tokentail failed"
		touch "$INFLUX_ROOT/.ready"
	fi
}

# ---------------------------------------------------------------- VictoriaMetrics

VM_BIN=
VM_SKIP=
find_vm() {
	local b
	for b in "${TOKENTAIL_TEST_VM_BIN:-}" "$(command -v victoria-metrics 2>/dev/null || true)" /usr/bin/victoria-metrics; do
		if [[ -n $b && -x $b ]]; then
			echo "$b"
			return 0
		fi
	done
	return 1
}

# vm_bin INSTALL: VictoriaMetrics is optional: when it cannot be had, its tests skip with
# VM_SKIP as the reason instead of failing the run.
vm_bin() {
	[[ -n $VM_BIN || -n $VM_SKIP ]] && return 0
	VM_BIN=$(find_vm) && return 0
	if [[ $1 == 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		log "installing victoria-metrics with apt-get"
		if DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq victoria-metrics >&2; then
			VM_BIN=$(find_vm) && return 0
		fi
	fi
	VM_BIN=
	VM_SKIP="victoria-metrics is not installed (apt-get install victoria-metrics, or set TOKENTAIL_TEST_VM_BIN)"
	log "warning: $VM_SKIP; its tests will skip"
}

VM_ROOT=$DIR/vm
VM_PID=$VM_ROOT/vm.pid
VM_LOG=$VM_ROOT/vm.log
vm_url() { echo "http://127.0.0.1:$VM_PORT"; }

vm_up() {
	local pid
	vm_bin 1
	[[ -n $VM_BIN ]] || return 0
	if pid=$(pid_of "$VM_PID" victoria-metrics); then
		log "VictoriaMetrics already running on $(vm_url) (pid $pid)"
		return 0
	fi
	if port_busy "$VM_PORT"; then
		die "port $VM_PORT is taken by another server; set TOKENTAIL_TEST_VM_PORT"
	fi
	if [[ $1 == 1 ]]; then
		rm -rf "$VM_ROOT"
	fi
	mkdir -p "$VM_ROOT"
	log "starting VictoriaMetrics on $(vm_url)"
	# -retentionPeriod=100y: backfills write points years old, which a short retention drops.
	# -search.latencyOffset=0s: by default the newest 30s are hidden from queries.
	# -search.disableCache: tests query the same series again after each write.
	# -dedup.minScrapeInterval=1ms: VM cannot overwrite a sample, so a deployment that must not
	# count a re-read record twice keeps one sample per series and millisecond (VM's resolution)
	# as InfluxDB keeps one point per series and time; TOKENTAIL_TEST_VM_DEDUP=0 keeps every write.
	retry_port VictoriaMetrics launch victoria-metrics "$VM_PID" "$VM_LOG" "$(vm_url)/health" \
		"$VM_BIN" -httpListenAddr="127.0.0.1:$VM_PORT" -storageDataPath="$VM_ROOT/data" \
		-retentionPeriod=100y -search.latencyOffset=0s -search.disableCache \
		-dedup.minScrapeInterval="$VM_DEDUP"
}

# ---------------------------------------------------------------- commands

cmd_env() {
	local pg_bin_dir pg_data=
	pg_bin_dir=$(find_pg_bin || true)
	if [[ -n $pg_bin_dir ]]; then
		PG_BIN=$pg_bin_dir
		pg_user
		pg_data=$(pg_root)/data
	fi
	vm_bin 0
	printf 'export TOKENTAIL_TEST_PG_DSN=%q\n' "postgres://tokentail@127.0.0.1:$PG_PORT/tokentail?sslmode=disable"
	printf 'export TOKENTAIL_TEST_INFLUX_URL=%q\n' "$(influx_url)"
	printf 'export TOKENTAIL_TEST_PG_BIN=%q\n' "$pg_bin_dir"
	printf 'export TOKENTAIL_TEST_PG_DATA=%q\n' "$pg_data"
	printf 'export TOKENTAIL_TEST_INFLUXD=%q\n' "$CACHE/bin/influxd"
	printf 'export TOKENTAIL_TEST_DIR=%q\n' "$DIR"
	printf 'export TOKENTAIL_TEST_SCRIPT=%q\n' "$SCRIPT"
	if [[ -n $VM_BIN ]]; then
		printf 'export TOKENTAIL_TEST_VM_URL=%q\n' "$(vm_url)"
		printf 'export TOKENTAIL_TEST_VM_BIN=%q\n' "$VM_BIN"
	else
		printf 'export TOKENTAIL_TEST_VM_SKIP=%q\n' "$VM_SKIP"
	fi
}

cmd_status() {
	local rc=0 pid
	if pg_setup 0 && pg_running; then echo "postgres: running on 127.0.0.1:$PG_PORT ($PG_DATA)"; else
		echo "postgres: stopped"
		rc=3
	fi
	if pid=$(pid_of "$INFLUX_PID" influxd); then echo "influxdb: running on $(influx_url) (pid $pid)"; else
		echo "influxdb: stopped"
		rc=3
	fi
	if pid=$(pid_of "$VM_PID" victoria-metrics); then echo "victoria-metrics: running on $(vm_url) (pid $pid)"; else
		echo "victoria-metrics: stopped"
		rc=3
	fi
	return $rc
}

cmd_start() {
	pg_up 1
	influx_up 1
	vm_up 1
	log "ready: postgres 127.0.0.1:$PG_PORT, influxdb $(influx_url)${VM_BIN:+, victoria-metrics $(vm_url)} (dir $DIR)"
}

cmd_stop() {
	# Each server is stopped even when another fails to: no process may outlive `stop`.
	local rc=0
	(pg_down fast) || rc=1
	(stop_pid influxd "$INFLUX_PID" TERM) || rc=1
	(stop_pid victoria-metrics "$VM_PID" TERM) || rc=1
	return $rc
}

restart_pg() { pg_down fast && pg_up 0; }
restart_influx() { stop_pid influxd "$INFLUX_PID" TERM && influx_up 0; }
restart_vm() { stop_pid victoria-metrics "$VM_PID" TERM && vm_up 0; }

usage() {
	sed -n '2,11p' "$SCRIPT" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

case ${1:-} in
start) with_lock cmd_start ;;
stop) with_lock cmd_stop ;;
env) cmd_env ;;
status) cmd_status ;;
start-pg) with_lock pg_up 0 ;;
stop-pg) with_lock pg_down fast ;;
crash-pg) with_lock pg_down immediate ;;
restart-pg) with_lock restart_pg ;;
start-influx) with_lock influx_up 0 ;;
stop-influx) with_lock stop_pid influxd "$INFLUX_PID" TERM ;;
crash-influx) with_lock stop_pid influxd "$INFLUX_PID" KILL ;;
restart-influx) with_lock restart_influx ;;
start-vm) with_lock vm_up 0 ;;
stop-vm) with_lock stop_pid victoria-metrics "$VM_PID" TERM ;;
crash-vm) with_lock stop_pid victoria-metrics "$VM_PID" KILL ;;
restart-vm) with_lock restart_vm ;;
*) usage ;;
esac
