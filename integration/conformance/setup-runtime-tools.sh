#!/usr/bin/env bash
# Builds opencontainers/runtime-tools' validation suite (58 TAP programs)
# from the snapshot in ../shared/recipes/peer-suites (5e639034, with its
# vendor/ directory: it is not on the Go module proxy), offline, into
# WORKDIR/runtime-tools. About 20 s. Usage: setup-runtime-tools.sh WORKDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
peer=${PEER_SUITES:-$top/../shared/recipes/peer-suites}
W=${1:?usage: $0 WORKDIR}
tarball=$peer/runtime-tools-5e639034.tar.gz
[ -f "$tarball" ] || { echo "setup-runtime-tools: $tarball not found (set PEER_SUITES)" >&2; exit 1; }
if [ -x "$W/runtime-tools/runtimetest" ] && [ "$(ls "$W"/runtime-tools/validation/*/*.t 2>/dev/null | wc -l)" -ge 58 ]; then
	exit 0
fi
mkdir -p "$W"
rm -rf "$W/runtime-tools"
tar xzf "$tarball" -C "$W"
cd "$W/runtime-tools"
GOFLAGS=-mod=vendor make -s runtimetest validation-executables COMMIT=5e639034 >/dev/null
n=$(ls validation/*/*.t | wc -l)
[ "$n" -ge 58 ] || { echo "setup-runtime-tools: built $n validation programs, want 58" >&2; exit 1; }
