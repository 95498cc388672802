#!/usr/bin/env bash
# Builds runh, runh-core and runh-init for the edge boards: linux/arm64 and
# linux/arm (armv7, hard float). runh-core is pure Go (no cgo: the seccomp
# filters are compiled ahead of time and embedded); the front (runh) and
# runh-init are small C programs built with Debian's cross compilers, which
# this script installs if missing. All are static. Sizes are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A cc=([arm64]=aarch64-linux-gnu-gcc [arm]=arm-linux-gnueabihf-gcc)
declare -A pkg=([arm64]=gcc-aarch64-linux-gnu [arm]=gcc-arm-linux-gnueabihf)
need=()
for a in arm64 arm; do command -v "${cc[$a]}" >/dev/null || need+=("${pkg[$a]}"); done
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "cross: missing ${need[*]}; run as root or apt-get install them" >&2; exit 1; }
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
for a in arm64 arm; do
	out=bin/linux-$a
	mkdir -p "$out"
	CGO_ENABLED=0 GOOS=linux GOARCH=$a GOARM=7 go build -trimpath \
		-ldflags "-s -w -X github.com/runh-dev/runh/runtime.Version=$version" -o "$out/runh-core" ./cmd/runh
	"${cc[$a]}" -static -Os -s -Wall -Wextra -Werror -o "$out/runh" runtime/front/runh.c
	"${cc[$a]}" -static -Os -s -Wall -Wextra -Werror -o "$out/runh-init" seccomp/init/runh-init.c
	for f in runh runh-core runh-init; do
		printf '%-24s %8.2f MiB  %s\n' "$out/$f" "$(echo "$(stat -c %s "$out/$f") / 1048576" | bc -l)" "$(file -b "$out/$f" | cut -d, -f1-2)"
	done
done
