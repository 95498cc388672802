#!/usr/bin/env bash
# Installs the Debian packages runh's build and tests need, if missing:
# libseccomp-dev (runc's seccomp support, the profile validation test) and
# busybox-static (the test and demo rootfs), jq (the demo edits its bundle)
# file (the tests check that busybox is static), and gcc with libc6-dev
# (runh-init is a static C program), and musl-tools (the front and
# runh-init link against musl: they start ~0.3 ms faster than with glibc).
set -euo pipefail
need=()
dpkg -s libseccomp-dev >/dev/null 2>&1 || need+=(libseccomp-dev)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
dpkg -s pkg-config >/dev/null 2>&1 || need+=(pkg-config)
dpkg -s jq >/dev/null 2>&1 || need+=(jq)
dpkg -s file >/dev/null 2>&1 || need+=(file)
dpkg -s libc6-dev >/dev/null 2>&1 || need+=(libc6-dev)
dpkg -s musl-tools >/dev/null 2>&1 || need+=(musl-tools)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing ${need[*]}; run as root or: apt-get install ${need[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
