#!/usr/bin/env bash
# Prepares runc's own integration suite (bats) for the pinned runc, offline:
#   - tests/ from the runc module zip on the Go proxy (exec bits restored),
#   - its Go helpers (recvtty, seccompagent, ...) built into tests/cmd/_bin,
#   - testdata/busybox-amd64.tar.xz built from Debian's busybox-static,
#   - a placeholder Debian image (no test of the subset we run uses it; the
#     suite's get-images.sh only needs the file to exist),
#   - a local git repository of the runtime-spec module, so spec.bats's
#     validator test clones it instead of reaching the network.
# Usage: setup-bats.sh WORKDIR   (root; idempotent)
set -euo pipefail
W=${1:?usage: $0 WORKDIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$W"
W=$(cd "$W" && pwd)
export DEBIAN_FRONTEND=noninteractive
need=()
for p in bats tini bc xz-utils gawk jq git iproute2 bsdutils busybox-static file; do
	dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
cd "$top"
runc_version=$(go list -m -f '{{.Version}}' github.com/opencontainers/runc)
spec_version=$(go list -m -f '{{.Version}}' github.com/opencontainers/runtime-spec)
src=$(go mod download -json "github.com/opencontainers/runc@$runc_version" | jq -r .Dir)
R=$W/runc-src
if [ ! -f "$R/.ready-$runc_version" ]; then
	rm -rf "$R"
	cp -r "$src" "$R"
	chmod -R u+w "$R"
	find "$R" -name '*.sh' -exec chmod +x {} +
	(cd "$R" && mkdir -p tests/cmd/_bin && GOFLAGS=-mod=mod go build -tags seccomp -o tests/cmd/_bin/ \
		./tests/cmd/recvtty ./tests/cmd/sd-helper ./tests/cmd/seccompagent ./tests/cmd/fs-idmap \
		./tests/cmd/pidfd-kill ./tests/cmd/remap-rootfs ./tests/cmd/key_label)
	touch "$R/.ready-$runc_version"
fi
T=$R/tests/integration/testdata
if [ ! -s "$T/busybox-amd64.tar.xz" ]; then
	"$top/integration/conformance/make-busybox-image.sh" "$T/busybox-amd64.tar.xz"
fi
if [ ! -e "$T/debian-amd64.tar.xz" ]; then
	d=$(mktemp -d) && tar -C "$d" -cJf "$T/debian-amd64.tar.xz" . && rm -rf "$d"
fi
(cd "$R/tests/integration" && ./get-images.sh >/dev/null)
G=$W/runtime-spec.git
if [ ! -d "$G" ]; then
	spec_src=$(go mod download -json "github.com/opencontainers/runtime-spec@$spec_version" | jq -r .Dir)
	tmp=$(mktemp -d)
	cp -r "$spec_src/." "$tmp" && chmod -R u+w "$tmp"
	git -C "$tmp" init -q && git -C "$tmp" add -A &&
		git -C "$tmp" -c user.name=runh -c user.email=runh@localhost commit -qm "runtime-spec $spec_version"
	git clone -q --bare "$tmp" "$G"
	rm -rf "$tmp"
fi
echo "bats suite ready: $R (runc $runc_version)"
