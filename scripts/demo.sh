#!/usr/bin/env bash
# Builds a busybox rootfs, writes the bundle runc would (root, capabilities,
# writable root, no seccomp), and runs it through runh: first `runh check`
# shows what the restricted profile changes, then the container reports
# from inside what the kernel enforced, then runh refuses a bundle that
# mounts the Docker socket.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: containers need root; run: sudo make demo" >&2; exit 1; }
top=$PWD
work=$top/_build/demo
bundle=$work/bundle
state=$work/state
id=runh-demo-$$
export RUNH_RUNC=$top/bin/runc
runh() { "$top/bin/runh" --root "$state" --log "$work/log.json" --log-format json "$@"; }
cleanup() { "$top/bin/runc" --root "$state" delete --force "$id" >/dev/null 2>&1 || true; }
trap cleanup EXIT

rm -rf "$work"; mkdir -p "$bundle/rootfs" "$state"
r=$bundle/rootfs
mkdir -p "$r"/{bin,dev,proc,sys,etc,root,run,var/tmp} && mkdir -m 1777 "$r/tmp"
cp "$(command -v busybox)" "$r/bin/busybox"
for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"

"$top/bin/runc" spec --bundle "$bundle"
# The client asks for root and a terminal-less shell that reports what it got.
sed -i 's/"terminal": true/"terminal": false/' "$bundle/config.json"
probe='echo "user:        $(id)";
grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | sed "s/:\t/: /;s/^/kernel:      /";
touch /probe 2>/dev/null && echo "root fs:     WRITABLE" || echo "root fs:     read-only (touch / failed)";
touch /tmp/probe && echo "/tmp:        writable tmpfs";
echo "pids.max:    $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)";
echo "memory:      $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) bytes";
unshare -n true 2>/dev/null && echo "unshare:     ALLOWED" || echo "unshare:     denied by seccomp"'
jq --arg p "$probe" '.process.args=["sh","-c",$p]' "$bundle/config.json" > "$bundle/c" && mv "$bundle/c" "$bundle/config.json"

echo "== runh check: what the restricted profile changes in runc's default bundle"
"$top/bin/runh" check --bundle "$bundle" | sed 's/^/   /'
echo
echo "== runh run: the container reports what the kernel enforced"
runh run --bundle "$bundle" "$id" | sed 's/^/   /'
echo
echo "== a bundle that bind mounts the Docker socket is refused"
cp "$bundle/config.json" "$work/hardened.json"
jq '.mounts += [{"destination":"/s","type":"bind","source":"/var/run/docker.sock","options":["rbind"]}]' "$work/hardened.json" > "$bundle/config.json"
sum=$(sha256sum < "$bundle/config.json")
if runh run --bundle "$bundle" "$id" 2>"$work/err"; then echo "   UNEXPECTED: it ran"; exit 1; fi
sed 's/^/   stderr: /' "$work/err"
echo "   log.json: $(tail -n 1 "$work/log.json")"
[ "$sum" = "$(sha256sum < "$bundle/config.json")" ] && echo "   config.json: unchanged"
echo
echo "demo done: bundle in $bundle"
