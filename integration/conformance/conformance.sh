#!/usr/bin/env bash
# runc's own integration suite (bats), three ways in one run: plain runc, runh
# with the operator-only compat profile (per-test outcomes must be identical
# to runc's), and runh restricted (every changed outcome must be listed in
# expected-deltas-restricted.txt with its reason). A file whose outcomes
# differ unexpectedly is run once more for both sides before the verdict,
# to tell a flake from a difference. Root only. Usage: conformance.sh [WORKDIR]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
W=${1:-$top/_build/conformance}
"$here/setup-bats.sh" "$W" || exit 1
R=$W/results
rm -rf "$R"
start=$(date +%s)
for rt in runc runh-compat runh-restricted; do
	"$here/run-bats.sh" "$W" "$rt" "$R/$rt"
done
compare() { # NAME RUNTIME [EXPECTED]
	local name=$1 rt=$2 exp=${3:-}
	local args=(-runc "$R/runc" -other "$R/$rt" -rerun "$R/$name.rerun")
	[ -n "$exp" ] && args+=(-expected "$exp")
	if (cd "$top" && go run ./integration/conformance/compare "${args[@]}") >"$R/$name.txt"; then
		return 0
	fi
	echo "conformance: $name: unexpected differences in $(tr '\n' ' ' <"$R/$name.rerun"); running them again" >&2
	for f in $(cat "$R/$name.rerun"); do
		"$here/run-bats.sh" "$W" runc "$R/runc" "${f%.bats}"
		"$here/run-bats.sh" "$W" "$rt" "$R/$rt" "${f%.bats}"
	done
	(cd "$top" && go run ./integration/conformance/compare "${args[@]}") >"$R/$name.txt"
}
ok=0
compare compat runh-compat || ok=1
compare restricted runh-restricted "$here/expected-deltas-restricted.txt" || ok=1
{
	echo "runc bats suite (runc $(cd "$top" && go list -m -f '{{.Version}}' github.com/opencontainers/runc)), $(date -u +%F), $(($(date +%s) - start)) s"
	echo
	echo "## runh compat vs runc"
	cat "$R/compat.txt"
	echo
	echo "## runh restricted vs runc"
	cat "$R/restricted.txt"
} | tee "$R/summary.txt"
exit $ok
