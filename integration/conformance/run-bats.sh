#!/usr/bin/env bash
# Runs runc's integration suite (prepared by setup-bats.sh) against one
# runtime and writes one TAP file per .bats file into OUT.
#   run-bats.sh WORKDIR RUNTIME OUT [file ...]
# RUNTIME is runc, runh-compat or runh-restricted; each is wrapped in a file
# named "runc", as the suite expects. Root only.
# This VM's quirks, as in the peer-suite recipes: bats runs under script(1)
# for a controlling tty, with a stdin that never reaches EOF, and under
# `tini -s` because pid 1 reaps orphans slowly.
set -uo pipefail
W=$(cd "${1:?usage: $0 WORKDIR RUNTIME OUT [file...]}" && pwd)
runtime=${2:?}
OUT=${3:?}
shift 3
top=$(cd "$(dirname "$0")/../.." && pwd)
FILES=${*:-create start run exec kill delete state ps spec list pause events update mask seccomp cgroups tty env cwd help version}
FILE_TIMEOUT=${FILE_TIMEOUT:-180}
mkdir -p "$OUT" "$W/wrappers/$runtime"
OUT=$(cd "$OUT" && pwd)
wrapper=$W/wrappers/$runtime/runc
case $runtime in
runc) ln -sfn "$top/bin/runc" "$wrapper" ;;
runh-compat) printf '#!/bin/sh\nRUNH_RUNC=%s exec %s --runh-profile compat "$@"\n' "$top/bin/runc" "$top/bin/runh" >"$wrapper" ;;
runh-restricted) printf '#!/bin/sh\nRUNH_RUNC=%s exec %s "$@"\n' "$top/bin/runc" "$top/bin/runh" >"$wrapper" ;;
*) echo "unknown runtime $runtime" >&2; exit 2 ;;
esac
chmod +x "$wrapper"
export RUNC=$wrapper
# spec.bats clones runtime-spec: point it at the local copy of the module.
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="url.$W/runtime-spec.git.insteadOf" GIT_CONFIG_VALUE_0=https://github.com/opencontainers/runtime-spec.git
cd "$W/runc-src/tests/integration" || exit 2
rm -f "$OUT/.stdin"
mkfifo "$OUT/.stdin"
sleep 1000000 >"$OUT/.stdin" &
holder=$!
# update.bats "update devices" starts `recvtty --mode single` in the
# background and kills it only if the container ran; when runh refuses the
# container, recvtty would wait forever and hold bats' output open. Kill such
# leftovers (started by this suite) once they are 20 s old.
(while sleep 5; do
	for p in $(pgrep -f 'recvtty .*--mode single'); do
		[ "$(ps -o etimes= -p "$p" 2>/dev/null | tr -d ' ')" -gt 20 ] 2>/dev/null && kill -9 "$p"
	done
done) &
watchdog=$!
# runc's helpers.bash makes an empty $BATS_TMPDIR/losetup.XXXXXX each time
# a .bats file loads it and never removes it: ~500 files in /tmp per run.
# Remove the empty ones made since this script started.
marker=$(mktemp /tmp/runh-bats-start.XXXXXX)
trap 'kill $holder $watchdog 2>/dev/null; rm -f "$OUT/.stdin"; find /tmp -maxdepth 1 -name "losetup.??????" -type f -empty -newer "$marker" -delete; rm -f "$marker"' EXIT
for f in $FILES; do
	f=${f%.bats}
	t0=$(date +%s)
	script -qec "$(printf '%q ' timeout -k 10 "$FILE_TIMEOUT" tini -s -w -- bats --tap "$f.bats") >$(printf '%q' "$OUT/$f.tap") 2>&1" /dev/null <"$OUT/.stdin" >/dev/null
	printf '%-16s %-14s ok=%-3s fail=%-3s skip=%-3s %4ss\n' "$runtime" "$f.bats" \
		"$(grep -E '^ok ' "$OUT/$f.tap" | grep -vc '# skip')" "$(grep -cE '^not ok ' "$OUT/$f.tap")" \
		"$(grep -cE '^ok .*# skip' "$OUT/$f.tap")" "$(($(date +%s) - t0))"
done
# runc's cleanup leaves the cgroup2 half of a hybrid host behind.
[ -d /sys/fs/cgroup/unified/runc-cgroups-integration-test ] &&
	find /sys/fs/cgroup/unified/runc-cgroups-integration-test -depth -type d -exec rmdir {} \; 2>/dev/null
exit 0
