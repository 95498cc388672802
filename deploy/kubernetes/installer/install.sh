#!/bin/sh
# runh node installer: runs in the DaemonSet in ../installer.yaml.
# Inputs (env):
#   NODE_NAME           the node (downward API spec.nodeName)
#   RUNH_ACTION         install (default) or uninstall
#   RUNH_HOST_DIR       where the binaries go on the host (/opt/runh/bin)
#   CONTAINERD_CONFIG   the host's containerd config (/etc/containerd/config.toml)
#   RUNH_PROFILES       profiles registered as handlers runh-NAME besides
#                       runh (default "edge userns"; "" for none)
#   CONTAINERD_RESTART  auto (default), systemd, pidfile or none: how
#                       containerd is made to read its config (below)
#   CONTAINERD_PIDFILE  for pidfile: containerd's pid file on the host,
#                       under /run (mounted at /host/run) (/run/containerd.pid)
# The host's directories are mounted under /host. Fails loudly: a node is
# labelled only when every step worked.
set -eu
: "${NODE_NAME:?NODE_NAME must be set (downward API spec.nodeName)}"
RUNH_ACTION=${RUNH_ACTION:-install}
RUNH_HOST_DIR=${RUNH_HOST_DIR:-/opt/runh/bin}
CONTAINERD_CONFIG=${CONTAINERD_CONFIG:-/etc/containerd/config.toml}
RUNH_PROFILES=${RUNH_PROFILES-edge userns}
CONTAINERD_RESTART=${CONTAINERD_RESTART:-auto}
CONTAINERD_PIDFILE=${CONTAINERD_PIDFILE:-/run/containerd.pid}
LABEL=runh.dev/installed
# Where the image's files, the host's root and /proc are: fixed in the
# DaemonSet, moved only by the script's unit test (install_test.go).
HOST=${HOST_ROOT:-/host}
IMAGE=${RUNH_IMAGE_DIR:-/runh}
PROC=${PROC_ROOT:-/proc}
PENDING=$HOST$RUNH_HOST_DIR/.containerd-restart-pending

log() { echo "runh-installer: $*" >&2; }
die() { log "$*"; exit 1; }

# restart_containerd makes containerd re-read its config. Running
# containers keep running: their shims are separate processes.
#   systemd: systemctl in the host's namespaces (PID 1 is systemd).
#   pidfile: SIGTERM to the pid in CONTAINERD_PIDFILE (read through the
#            host's /run, mounted at /host/run; hostPID makes the pid
#            ours to signal); the node's supervisor (OpenRC's
#            supervise-daemon, runit, s6, or the test harness's) must start
#            it again, and a new live pid must appear there within 60s.
#   auto:    systemd if the host's PID 1 is systemd; else pidfile if the
#            pid file names a live containerd whose parent is not PID 1 (a
#            supervisor that restarts it; an init script's daemonized
#            containerd is PID 1's child and would stay stopped); else fail.
# containerd_pid prints the pid in CONTAINERD_PIDFILE if it is a live
# containerd (by comm and by executable name), else fails.
containerd_pid() {
	pid=$(cat "$HOST$CONTAINERD_PIDFILE" 2>/dev/null) || return 1
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	[ "$(cat "$PROC/$pid/comm" 2>/dev/null)" = containerd ] || return 1
	exe=$(readlink "$PROC/$pid/exe" 2>/dev/null) || return 1
	[ "${exe##*/}" = containerd ] || return 1
	echo "$pid"
}

# starttime is field 22 of /proc/PID/stat: with the pid, it names one
# process, not whatever later reuses the pid.
starttime() { sed 's/.*) //' "$PROC/$1/stat" 2>/dev/null | cut -d' ' -f20; }

restart_containerd() {
	method=$CONTAINERD_RESTART
	if [ "$method" = auto ]; then
		if [ "$(cat "$PROC/1/comm" 2>/dev/null)" = systemd ]; then
			method=systemd
		elif pid=$(containerd_pid) && ppid=$(sed 's/.*) //' "$PROC/$pid/stat" | cut -d' ' -f2) && [ "$ppid" != 1 ]; then
			method=pidfile
		else
			die "cannot restart containerd: the host's PID 1 is not systemd, and $CONTAINERD_PIDFILE does not name a containerd run by a supervisor; set CONTAINERD_RESTART (systemd, pidfile with CONTAINERD_PIDFILE, none) in the DaemonSet"
		fi
	fi
	case "$method" in
	systemd)
		nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl restart containerd ||
			die "could not restart containerd with systemctl; restart it by hand, then delete this pod"
		;;
	pidfile)
		old=$(containerd_pid) || die "$CONTAINERD_PIDFILE does not name a live containerd (hostPID is needed)"
		start=$(starttime "$old")
		[ -n "$start" ] && [ "$(starttime "$old")" = "$start" ] || die "containerd (pid $old) changed under us"
		kill -TERM "$old" || die "could not signal containerd (pid $old)"
		i=0
		while :; do
			if new=$(containerd_pid) && { [ "$new" != "$old" ] || [ "$(starttime "$new")" != "$start" ]; }; then
				break
			fi
			i=$((i + 1))
			[ "$i" -le 120 ] || die "containerd (pid $old) was stopped but no supervisor started it again within 60s: start it by hand"
			sleep 0.5
		done
		log "containerd restarted by its supervisor: pid $old -> $new"
		;;
	none)
		log "CONTAINERD_RESTART=none: restart containerd yourself for the change to take effect"
		;;
	*) die "CONTAINERD_RESTART=$method: want auto, systemd, pidfile or none" ;;
	esac
}

# edit_config runs "$@" (the runh install calls) on containerd's config and
# restarts containerd if the file changed. A marker in RUNH_HOST_DIR says a
# restart is owed: a run that edited the config but failed to restart
# leaves it, and the next run (the pod's restart) restarts although the
# config is already right.
edit_config() {
	owed=; [ -e "$PENDING" ] && owed=yes
	: >"$PENDING"
	before=$(cat "$HOST$CONTAINERD_CONFIG" 2>/dev/null || true)
	"$@"
	if [ "$before" != "$(cat "$HOST$CONTAINERD_CONFIG" 2>/dev/null || true)" ] || [ -n "$owed" ]; then
		restart_containerd
	else
		log "containerd's config is unchanged: no restart"
	fi
	rm -f "$PENDING"
}

register_handlers() {
	for h in $(handlers); do
		"$IMAGE/runh" install containerd --config "$HOST$CONTAINERD_CONFIG" --name "$h" --path "$RUNH_HOST_DIR/$h" >&2
	done
}

# remove_handlers removes every runh handler in the file, not only those of
# today's RUNH_PROFILES.
remove_handlers() {
	for h in $( (handlers; grep -o "runtimes\.[\"']\?runh-[a-z0-9-]*" "$HOST$CONTAINERD_CONFIG" 2>/dev/null | sed "s/.*runh-/runh-/") | sort -u); do
		"$IMAGE/runh" install containerd --remove --config "$HOST$CONTAINERD_CONFIG" --name "$h" >&2
	done
}

# Every handler this installer manages: runh and runh-PROFILE.
handlers() {
	echo runh
	for p in $RUNH_PROFILES; do echo "runh-$p"; done
}

# check_profiles refuses a RUNH_PROFILES entry that is not a profile runh
# knows, or whose link runh-NAME would replace one of runh's own files
# (runh-core, runh-init) or name the report-only compat profile.
check_profiles() {
	for p in $RUNH_PROFILES; do
		case "$p" in
		core | init | compat | *[!a-z0-9-]* | -* | *-) die "RUNH_PROFILES: \"$p\" cannot be a handler (runh-$p)" ;;
		esac
		"$IMAGE/runh" profile show "$p" >/dev/null || die "RUNH_PROFILES: runh has no profile \"$p\" (runh profile list)"
	done
}

install() {
	check_profiles
	# 1. Binaries, each replaced atomically (a running containerd may be
	#    executing the old runh at this moment): the new file is written
	#    beside the old one and renamed over it; the front (runh) last, so
	#    it never runs with an older runh-core.
	mkdir -p "$HOST$RUNH_HOST_DIR"
	for f in runh-core runh-init runc runh; do
		cp "$IMAGE/$f" "$HOST$RUNH_HOST_DIR/.$f.new"
		chmod 0755 "$HOST$RUNH_HOST_DIR/.$f.new"
		sync "$HOST$RUNH_HOST_DIR/.$f.new" 2>/dev/null || sync
		mv -f "$HOST$RUNH_HOST_DIR/.$f.new" "$HOST$RUNH_HOST_DIR/$f"
	done
	# runh run as runh-NAME uses profile NAME: a relative symlink, valid on
	# the host.
	for p in $RUNH_PROFILES; do
		ln -sfn runh "$HOST$RUNH_HOST_DIR/.runh-$p.new"
		mv -f "$HOST$RUNH_HOST_DIR/.runh-$p.new" "$HOST$RUNH_HOST_DIR/runh-$p"
	done
	log "installed runh $("$HOST$RUNH_HOST_DIR/runh" --version 2>/dev/null | head -n 1) in $RUNH_HOST_DIR"

	# 2. Register the CRI handlers (idempotent; prints what it did), and
	# 3. make containerd read them, if the file changed (or a restart is
	#    owed).
	edit_config register_handlers

	# 4. Label the node for the RuntimeClasses' nodeSelector.
	kubectl label node "$NODE_NAME" "$LABEL=true" --overwrite >&2
	log "labelled node $NODE_NAME $LABEL=true"
}

# uninstall undoes install, in the order that keeps the node working: first
# no new runh pods (the label); then, once no pod on the node uses a runh
# handler, the handlers (containerd) and the binaries. While one does, both
# stay: containerd refuses exec, and the shim needs runh, for the pods of a
# handler it no longer knows. Re-run (rollout restart) when they are gone.
uninstall() {
	kubectl label node "$NODE_NAME" "$LABEL-" >&2 || die "could not remove label $LABEL from node $NODE_NAME"
	log "removed label $LABEL from node $NODE_NAME: no new runh pods are scheduled here"
	# Pods on this node whose RuntimeClass has a runh handler, in any
	# phase: a finished pod's containers still need runh to be deleted.
	classes=$(kubectl get runtimeclass -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.handler}{"\n"}{end}') ||
		die "cannot list RuntimeClasses; runh stays installed"
	classes=$(echo "$classes" | awk '$2 ~ /^runh(-[a-z0-9-]+)?$/ { print $1 }')
	pods=$(kubectl get pods -A --field-selector "spec.nodeName=$NODE_NAME" \
		-o jsonpath='{range .items[*]}{.spec.runtimeClassName}{" "}{.metadata.namespace}{"/"}{.metadata.name}{"\n"}{end}') ||
		die "cannot list this node's pods; runh stays installed"
	busy=$(echo "$pods" | while read -r rc pod; do
		for c in $classes; do if [ "$rc" = "$c" ]; then echo "$pod"; fi; done
	done)
	if [ -n "$busy" ]; then
		log "these pods still use runh; its handlers and binaries stay until they are deleted, then run: kubectl -n runh-system rollout restart ds/runh-installer"
		echo "$busy" >&2
		return
	fi
	mkdir -p "$HOST$RUNH_HOST_DIR"
	edit_config remove_handlers
	for f in runh runh-core runh-init runc; do rm -f "$HOST$RUNH_HOST_DIR/$f"; done
	for l in "$HOST$RUNH_HOST_DIR"/runh-*; do if [ -L "$l" ]; then rm -f "$l"; fi; done
	rmdir "$HOST$RUNH_HOST_DIR" 2>/dev/null || true
	log "removed runh's handlers and binaries"
}

case "$RUNH_ACTION" in
install) install ;;
uninstall) uninstall ;;
*) die "RUNH_ACTION=$RUNH_ACTION: want install or uninstall" ;;
esac

# Ready (the DaemonSet's readinessProbe reads this), so that kubectl
# rollout status returns only when the node is done. Then stay, so the
# DaemonSet does not restart the pod; a rollout re-runs it.
: >"${DONE_FILE:-/tmp/runh-installer-done}"
log "$RUNH_ACTION done; sleeping (a rollout of a new image or env re-runs this)"
# As PID 1 the shell ignores SIGTERM unless it traps it: without this, each
# rollout would wait out the grace period on every node.
trap 'exit 0' TERM INT
sleep 2147483647 &
wait
