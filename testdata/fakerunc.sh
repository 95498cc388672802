#!/bin/sh
# A fake runc for runh's fast tests: it records its argv, the open fds, the
# bundle's config.json (create/run) and the --process file (exec) under
# $FAKERUNC_DIR, then behaves just enough like runc for runh to go on.
d=${FAKERUNC_DIR:?}
printf '%s\n' "$@" >> "$d/argv"
echo "--" >> "$d/argv"
ls /proc/$$/fd | sort -n | tr '\n' ' ' > "$d/fds"
bundle=. pidfile= process= cmd=
while [ $# -gt 0 ]; do
	case "$1" in
	--bundle|-b) bundle=$2; shift ;;
	--bundle=*) bundle=${1#--bundle=} ;;
	--pid-file) pidfile=$2; shift ;;
	--pid-file=*) pidfile=${1#--pid-file=} ;;
	--process) process=$2; shift ;;
	--root|--log|--log-format) shift ;;
	create|run|exec|state|delete|kill|update) [ -z "$cmd" ] && cmd=$1 ;;
	esac
	shift
done
case "$cmd" in
create|run)
	cp "$bundle/config.json" "$d/config.json"
	if [ -n "$pidfile" ]; then
		# An unhardened "init": runh's verification must catch it.
		sleep 30 &
		echo $! > "$pidfile"
		echo $! > "$d/sleeper"
	fi ;;
exec) cat "$process" > "$d/process.json" ;;
state) printf '{"id":"ctr","pid":%d,"status":"running","bundle":"%s"}\n' "$PPID" "${FAKERUNC_BUNDLE:-/nonexistent}" ;;
delete) [ -f "$d/sleeper" ] && kill "$(cat "$d/sleeper")" ; touch "$d/deleted" ;;
esac
exit "${FAKERUNC_EXIT:-0}"
