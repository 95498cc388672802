#!/usr/bin/env bash
# Builds an offline stand-in for the docker-library busybox image that runc's
# integration tests download: Debian's busybox-static with its applets as
# hard links (as in the image), /etc files, and a minimal pgrep, which
# Debian's build lacks. Usage: make-busybox-image.sh OUT.tar.xz
set -euo pipefail
out=$(readlink -f "${1:?usage: $0 OUT.tar.xz}")
bb=$(readlink -f "$(command -v busybox)")
file -L "$bb" | grep -qE 'statically linked|static-pie' || { echo "need busybox-static" >&2; exit 1; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
chmod 755 "$d"
cd "$d"
# No proc/ or sys/: like the image (mask.bats relies on it).
mkdir -p bin dev etc home root tmp usr/sbin usr/bin var/spool/mail var/www etc/network
chmod 1777 tmp
chmod 700 root
cp "$bb" bin/busybox
for a in $("$bb" --list); do
	[ "$a" = busybox ] || ln bin/busybox "bin/$a"
done
if [ ! -e bin/pgrep ]; then
	cat >bin/pgrep <<'PG'
#!/bin/sh
# minimal pgrep: pgrep [-f] PATTERN
full=0
[ "$1" = -f ] && { full=1; shift; }
rc=1
for p in /proc/[0-9]*; do
	pid=${p#/proc/}
	if [ $full = 1 ]; then
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)
	else
		cmd=$(cat "$p/comm" 2>/dev/null)
	fi
	if echo "$cmd" | grep -qE "$1"; then echo "$pid"; rc=0; fi
done
exit $rc
PG
	chmod 755 bin/pgrep
fi
cat >etc/passwd <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PW
cat >etc/group <<'GR'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
floppy:x:11:
audio:x:29:
www-data:x:33:
operator:x:37:
users:x:100:
nogroup:x:65534:
GR
tar --numeric-owner --owner=0 --group=0 -cJf "$out" .
echo "busybox image: $out ($("$bb" --list | wc -l) applets)"
