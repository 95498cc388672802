#!/usr/bin/env bash
# Suites others wrote, run through runh and compared with plain runc in the
# same run. Root only. Usage: conformance.sh [WORKDIR]
#  1. runc's own integration suite (bats), three ways: plain runc, runh with
#     the operator-only compat profile (per-test outcomes must be identical
#     to runc's), and runh restricted (every changed outcome must be listed
#     in expected-deltas-restricted.txt with its reason). A file whose
#     outcomes differ unexpectedly is run once more for both sides before
#     the verdict, to tell a flake from a difference.
#  2. Kubernetes' CRI validation suite (critest) through containerd 2.4.2,
#     runc and runh restricted as the RuntimeClass handler; every changed
#     outcome must be listed in expected-deltas-critest-restricted.txt;
#     and runh-userns, against expected-deltas-critest-userns.txt.
#     Needs bin/containerd2 and bin/crictl (make conformance builds them).
#  3. opencontainers/runtime-tools' validation suite (58 TAP programs, from
#     the snapshot in ../shared/recipes/peer-suites, run by its
#     run-runtime-tools.sh), three ways like bats: compat identical to runc
#     per TAP line, restricted only the deltas listed in
#     expected-deltas-runtime-tools-restricted.txt.
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
bats_done=$(date +%s)

"$here/setup-critest.sh" "$W/critest" || exit 1
for rt in runc runh runh-userns; do
	"$here/run-critest.sh" "$W/critest" "$rt" "$R/critest-$rt" || ok=1
done
(cd "$top" && go run ./integration/conformance/compare -runc "$R/critest-runc" -other "$R/critest-runh" \
	-expected "$here/expected-deltas-critest-restricted.txt") >"$R/critest.txt" || ok=1
(cd "$top" && go run ./integration/conformance/compare -runc "$R/critest-runc" -other "$R/critest-runh-userns" \
	-expected "$here/expected-deltas-critest-userns.txt") >"$R/critest-userns.txt" || ok=1
rt_start=$(date +%s)
peer=${PEER_SUITES:-$top/../shared/recipes/peer-suites}
"$here/setup-runtime-tools.sh" "$W" || exit 1
printf '#!/bin/sh\nexec %s --runh-profile compat "$@"\n' "$top/bin/runh" >"$W/runh-compat"
chmod +x "$W/runh-compat"
for rt in runc runh-compat runh; do
	bin=$top/bin/$rt
	[ "$rt" = runh-compat ] && bin=$W/runh-compat
	rm -rf "$R/rt-$rt"
	RT_SRC=$W/runtime-tools OUT=$R/rt-$rt "$peer/run-runtime-tools.sh" "$bin" >"$R/rt-$rt.log" 2>&1
	tail -6 "$R/rt-$rt.log" | head -3
done
(cd "$top" && go run ./integration/conformance/compare -runc "$R/rt-runc" -other "$R/rt-runh-compat") >"$R/rt-compat.txt" || ok=1
(cd "$top" && go run ./integration/conformance/compare -runc "$R/rt-runc" -other "$R/rt-runh" \
	-expected "$here/expected-deltas-runtime-tools-restricted.txt") >"$R/rt-restricted.txt" || ok=1
{
	echo "runc bats suite (runc $(cd "$top" && go list -m -f '{{.Version}}' github.com/opencontainers/runc)), $(date -u +%F), $((bats_done - start)) s"
	echo
	echo "## runh compat vs runc"
	cat "$R/compat.txt"
	echo
	echo "## runh restricted vs runc"
	cat "$R/restricted.txt"
	echo
	echo "critest v1.37.0 through containerd 2.4.2, $(($(date +%s) - bats_done)) s"
	echo
	echo "## runh restricted vs runc"
	cat "$R/critest.txt"
	echo
	echo "## runh userns (handler runh-userns) vs runc"
	cat "$R/critest-userns.txt"
	echo
	echo "runtime-tools 5e639034 validation, $(($(date +%s) - rt_start)) s"
	echo
	echo "## runh compat vs runc"
	cat "$R/rt-compat.txt"
	echo
	echo "## runh restricted vs runc"
	cat "$R/rt-restricted.txt"
} | tee "$R/summary.txt"
exit $ok
