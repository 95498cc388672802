#!/usr/bin/env bash
# Prepares Kubernetes' CRI validation suite (critest, cri-tools v1.37.0)
# offline, from the Go module proxy and apt only:
#   - critest (go test -c of cri-tools' cmd/critest) into WORKDIR/bin,
#   - distribution's registry v3.1.2 and crane v0.22.1 into WORKDIR/bin,
#   - stand-ins for the images critest pulls (busybox-based; a static pause;
#     a setuid "nonewprivs"; nginx/httpd as busybox httpd; the user/group
#     test images), pushed once to a private registry whose data stays in
#     WORKDIR/registry-data.
# containerd 2.4.2 itself comes from `make e2e`'s bin/containerd2.
# Usage: setup-critest.sh WORKDIR   (root; idempotent)
set -euo pipefail
W=${1:?usage: $0 WORKDIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/integration/conformance
mkdir -p "$W"
W=$(cd "$W" && pwd)
B=$W/bin
REG=127.0.0.1:5055
mkdir -p "$B"
export DEBIAN_FRONTEND=noninteractive
need=()
for p in containernetworking-plugins gcc libc6-dev jq xz-utils busybox-static file; do
	dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
unset GOFLAGS || true
moddir() { (cd "$top" && go mod download -json "$1" | jq -r .Dir); }
if [ ! -x "$B/critest" ]; then
	rm -rf "$W/cri-tools-src"
	cp -r "$(moddir sigs.k8s.io/cri-tools@v1.37.0)" "$W/cri-tools-src"
	chmod -R u+w "$W/cri-tools-src"
	(cd "$W/cri-tools-src" && GOFLAGS=-mod=mod CGO_ENABLED=0 go test -c -o "$B/critest" ./cmd/critest)
fi
if [ ! -x "$B/registry" ] || [ ! -x "$B/crane" ]; then
	mkdir -p "$W/tools-mod"
	cd "$W/tools-mod"
	[ -f go.mod ] || go mod init runh.test/critools >/dev/null 2>&1
	printf '//go:build tools\npackage tools\n\nimport (\n\t_ "github.com/distribution/distribution/v3/cmd/registry"\n\t_ "github.com/google/go-containerregistry/cmd/crane"\n)\n' >tools.go
	GOFLAGS=-mod=mod go get github.com/distribution/distribution/v3@v3.1.2 github.com/google/go-containerregistry@v0.22.1 >/dev/null 2>&1
	GOFLAGS=-mod=mod go build -o "$B/" github.com/distribution/distribution/v3/cmd/registry github.com/google/go-containerregistry/cmd/crane
fi
# The private registry's config, used here to push and by run-critest.sh.
cat >"$W/registry.yml" <<YML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $W/registry-data}, delete: {enabled: true}}
http: {addr: $REG}
YML
[ -f "$W/registry-data/.ready" ] && exit 0

# Layers.
I=$W/images
rm -rf "$I" "$W/registry-data"
mkdir -p "$I"
cd "$I"
gcc -static -O2 -o pause "$here/critest/pause.c"
tar --numeric-owner --owner=0 --group=0 -cf pause-layer.tar pause
"$here/make-busybox-image.sh" busybox.tar.xz
xz -dc busybox.tar.xz >busybox-layer.tar
# Debian's busybox has no ipcs applet, which the HostIpc tests run as
# "ipcs -m"; list the segments from /proc as the stand-in.
mkdir -p ipcs/bin
printf '#!/bin/sh\n[ "$1" = -m ] || { echo "ipcs stand-in: only -m" >&2; exit 1; }\ncat /proc/sysvipc/shm\n' >ipcs/bin/ipcs
chmod 755 ipcs/bin/ipcs
tar --numeric-owner --owner=0 --group=0 -C ipcs -rf busybox-layer.tar ./bin/ipcs
# image-predefined-group: user 1000 (default-user) also in group 50000, USER 1000.
mkdir -p pg/etc pg/home/default-user
tar -xf busybox-layer.tar -C pg ./etc/passwd ./etc/group
echo 'default-user:x:1000:1000::/home/default-user:/bin/sh' >>pg/etc/passwd
printf 'default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n' >>pg/etc/group
chown 1000:1000 pg/home/default-user
tar --numeric-owner -C pg -cf predefined-group-layer.tar ./etc/passwd ./etc/group ./home/default-user
# nonewprivs stand-in: a setuid-root binary printing "Effective uid: N".
mkdir -p nnp/usr/local/bin
gcc -static -O2 -o nnp/usr/local/bin/nnp "$here/critest/nnp.c"
chown 0:0 nnp/usr/local/bin/nnp && chmod 4755 nnp/usr/local/bin/nnp
tar --numeric-owner -C nnp -cf nnp-layer.tar ./usr
# nginx/httpd stand-ins: a process named nginx/httpd that writes
# /var/run/nginx.pid and serves /www on :80 with busybox httpd.
for n in nginx httpd; do
	mkdir -p "ws-$n/usr/sbin" "ws-$n/www" "ws-$n/var/run"
	echo "<html><body>It works! Welcome to $n (stand-in)</body></html>" >"ws-$n/www/index.html"
	cat >"ws-$n/usr/sbin/$n" <<SH
#!/bin/sh
echo \$\$ >/var/run/nginx.pid
echo "$n: stand-in web server (busybox httpd) starting"
/bin/httpd -f -p 80 -h /www &
trap 'kill \$!; exit 0' TERM INT
wait
SH
	chmod 755 "ws-$n/usr/sbin/$n"
	tar --numeric-owner --owner=0 --group=0 -C "ws-$n" -cf "ws-$n-layer.tar" ./usr ./www ./var
done

# Push to the registry, which runs only for the duration of this script.
"$B/registry" serve "$W/registry.yml" >"$W/registry-setup.log" 2>&1 &
regpid=$!
trap 'kill $regpid' EXIT
for _ in $(seq 1 50); do "$B/crane" --insecure catalog "$REG" >/dev/null 2>&1 && break; sleep 0.2; done
crane() { "$B/crane" --insecure "$@" 2>>"$W/crane.log"; }
push() { # REF CMD USER LAYER...
	local ref=$1 cmd=$2 user=$3
	shift 3
	local f=()
	for l in "$@"; do f+=(-f "$l"); done
	crane append --oci-empty-base "${f[@]}" -t "$REG/$ref" >/dev/null
	local m=(--set-platform linux/amd64 -t "$REG/$ref")
	[ -n "$cmd" ] && m+=(--cmd "$cmd")
	[ -n "$user" ] && m+=(--user "$user")
	crane mutate "$REG/$ref" "${m[@]}" >/dev/null
}
push pause:3.10 "" "" pause-layer.tar
crane mutate "$REG/pause:3.10" --entrypoint /pause -t "$REG/pause:3.10" >/dev/null
push e2e-test-images/busybox:1.29-2 sh "" busybox-layer.tar
crane tag "$REG/e2e-test-images/busybox:1.29-2" latest
push e2e-test-images/nonewprivs:1.3 "" "" busybox-layer.tar nnp-layer.tar
crane mutate "$REG/e2e-test-images/nonewprivs:1.3" --entrypoint /usr/local/bin/nnp -t "$REG/e2e-test-images/nonewprivs:1.3" >/dev/null
push e2e-test-images/nginx:1.14-2 "" "" busybox-layer.tar ws-nginx-layer.tar
# The ContainerPID test waits for "master process" in /proc/1/cmdline, as real nginx shows.
crane mutate "$REG/e2e-test-images/nginx:1.14-2" --entrypoint /usr/sbin/nginx --cmd "master process" -t "$REG/e2e-test-images/nginx:1.14-2" >/dev/null
push e2e-test-images/httpd:2.4.39-4 "" "" busybox-layer.tar ws-httpd-layer.tar
crane mutate "$REG/e2e-test-images/httpd:2.4.39-4" --entrypoint /usr/sbin/httpd -t "$REG/e2e-test-images/httpd:2.4.39-4" >/dev/null
push k8s-staging-cri-tools/test-image-user-uid:latest sh 1002 busybox-layer.tar
push k8s-staging-cri-tools/test-image-user-username:latest sh www-data busybox-layer.tar
push k8s-staging-cri-tools/test-image-user-uid-group:latest sh 1003:1003 busybox-layer.tar
push k8s-staging-cri-tools/test-image-user-username-group:latest sh www-data:www-data busybox-layer.tar
push k8s-staging-cri-tools/test-image-predefined-group:latest sh 1000 busybox-layer.tar predefined-group-layer.tar
crane catalog "$REG"
touch "$W/registry-data/.ready"
