#!/bin/sh
# runh node installer: runs in the DaemonSet in ../installer.yaml.
# Inputs (env): NODE_NAME, RUNH_HOST_DIR (/opt/runh/bin), CONTAINERD_CONFIG
# (/etc/containerd/config.toml); the host's directories are mounted under
# /host. Fails loudly: a node is labelled only when every step worked.
set -eu
: "${NODE_NAME:?NODE_NAME must be set (downward API spec.nodeName)}"
RUNH_HOST_DIR=${RUNH_HOST_DIR:-/opt/runh/bin}
CONTAINERD_CONFIG=${CONTAINERD_CONFIG:-/etc/containerd/config.toml}
LABEL=runh.dev/installed

log() { echo "runh-installer: $*" >&2; }

# 1. Binaries, each replaced atomically (a running containerd may be
#    executing the old runh at this moment); the front (runh) last, so it
#    never runs with an older runh-core.
for f in runh-core runh-init runc runh; do
	cp "/runh/$f" "/host$RUNH_HOST_DIR/.$f.new"
	chmod 0755 "/host$RUNH_HOST_DIR/.$f.new"
	mv -f "/host$RUNH_HOST_DIR/.$f.new" "/host$RUNH_HOST_DIR/$f"
done
log "copied runh, runh-core, runh-init and runc to $RUNH_HOST_DIR"

# 2. Register the CRI handler "runh" (idempotent; prints what it did).
/runh/runh install containerd --config "/host$CONTAINERD_CONFIG" --path "$RUNH_HOST_DIR/runh" >&2

# 3. Restart containerd in the host's namespaces. Running containers keep
#    running: their shims are separate processes.
if ! nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl restart containerd; then
	log "could not restart containerd with systemctl; restart it by hand, then delete this pod"
	exit 1
fi
log "restarted containerd"

# 4. Label the node for the RuntimeClass's nodeSelector.
kubectl label node "$NODE_NAME" "$LABEL=true" --overwrite >&2
log "labelled node $NODE_NAME $LABEL=true"

# Stay, so the DaemonSet does not restart the pod; a rollout re-runs it.
exec sleep infinity
