#!/usr/bin/env bash
# Builds runh, runh-core and runh-init for the edge boards: linux/arm64 and
# linux/arm (armv7, hard float). runh-core is pure Go (no cgo: the seccomp
# filters are compiled ahead of time and embedded); the front (runh) and
# runh-init are small C programs, linked statically against musl as on
# amd64 (a static glibc binary spends far longer starting than musl's, and
# these two run on every call and in every container). They are built with
# Debian's cross compilers and musl-dev for the target architecture
# (multiarch: musl-dev:arm64 and musl-dev:armhf carry the specs file that
# points the cross compiler at musl), which this script installs if missing.
# Sizes are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A cc=([arm64]=aarch64-linux-gnu-gcc [arm]=arm-linux-gnueabihf-gcc)
declare -A triplet=([arm64]=aarch64-linux-gnu [arm]=arm-linux-gnueabihf)
declare -A musl=([arm64]=aarch64-linux-musl [arm]=arm-linux-musleabihf)
declare -A debarch=([arm64]=arm64 [arm]=armhf)
need=()
for a in arm64 arm; do
	dpkg -s "musl-dev:${debarch[$a]}" >/dev/null 2>&1 || need+=("musl-dev:${debarch[$a]}")
done
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "cross: missing ${need[*]}; run as root, or: dpkg --add-architecture arm64; dpkg --add-architecture armhf; apt-get update; apt-get install ${need[*]}" >&2; exit 1; }
	export DEBIAN_FRONTEND=noninteractive
	dpkg --add-architecture arm64
	dpkg --add-architecture armhf
	# A mirror mid-sync can fail one index of the new architectures; the
	# install below says so if a package is really missing.
	apt-get update -qq || echo "cross: apt-get update reported errors; installing anyway" >&2
	apt-get install -y -qq "${need[@]}" >/dev/null
fi
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
for a in arm64 arm; do
	out=bin/linux-$a
	mkdir -p "$out"
	CGO_ENABLED=0 GOOS=linux GOARCH=$a GOARM=7 go build -trimpath \
		-ldflags "-s -w -X github.com/runh-dev/runh/runtime.Version=$version" -o "$out/runh-core" ./cmd/runh
	specs=/usr/lib/${musl[$a]}/musl-gcc.specs
	# musl's specs leave out the cross compiler's own include directory,
	# where runh-init's kernel headers (linux/seccomp.h) are.
	flags=(-specs "$specs" -static -Os -s -Wall -Wextra -Werror)
	"${cc[$a]}" "${flags[@]}" -o "$out/runh" runtime/front/runh.c
	"${cc[$a]}" "${flags[@]}" -idirafter "/usr/${triplet[$a]}/include" -o "$out/runh-init" seccomp/init/runh-init.c
	for f in runh runh-core runh-init; do
		printf '%-24s %8.2f MiB  %s\n' "$out/$f" "$(echo "$(stat -c %s "$out/$f") / 1048576" | bc -l)" "$(file -b "$out/$f" | cut -d, -f1-2)"
	done
done
