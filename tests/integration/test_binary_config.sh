#!/usr/bin/env bash
# tests/integration/test_binary_config.sh — bad flags and bad kubeconfigs give one clear
# error line on stderr and exit code 2, and change nothing; --help and --version work.
set -euo pipefail
: "${BALLAST_BINARY:?}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

expect() { # want_rc want_substring args...
	local want_rc=$1 want=$2 rc=0
	shift 2
	env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST HOME="$TMP/home" \
		timeout 20 "$BALLAST_BINARY" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ "$rc" -eq "$want_rc" ] || fail "ballast $* exited $rc, want $want_rc; stderr: $(cat "$TMP/err")"
	grep -qF -- "$want" "$TMP/err" "$TMP/out" || fail "ballast $*: output lacks \"$want\": $(cat "$TMP/err" "$TMP/out")"
	if [ "$want_rc" -eq 2 ]; then
		[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "ballast $*: want one error line, got: $(cat "$TMP/err")"
	fi
	echo "ok: ballast $* -> exit $rc: $(head -c 160 "$TMP/err" "$TMP/out" | tr '\n' ' ')"
}

expect 0 "usage: ballast" --help
expect 0 "ballast " --version
expect 2 "unknown flag --bogus" --bogus
expect 2 "--workers" --workers 0
expect 2 "--workers" --workers abc
expect 2 "--log-level" --log-level loud
expect 2 "--log-format" --log-format xml
expect 2 "unexpected argument" stray
expect 2 "needs --webhook-cert" --webhook-addr 127.0.0.1:9443
expect 0 "ballast " --dns-check --version
BALLAST_DNS_CHECK=yes expect 2 'BALLAST_DNS_CHECK: want true or false, got "yes"' --version

# Kubeconfigs that cannot work.
expect 2 "$TMP/missing" --kubeconfig "$TMP/missing"
printf 'apiVersion: v1\nkind: Config\nclusters: [\n  - {name: broken\n' >"$TMP/broken.yaml"
expect 2 "broken.yaml" --kubeconfig "$TMP/broken.yaml"
cat >"$TMP/ctx.yaml" <<'KC'
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: a, context: {cluster: c, user: u}}]
current-context: a
KC
expect 2 "nope" --kubeconfig "$TMP/ctx.yaml" --context nope
cat >"$TMP/ca.yaml" <<KC
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", certificate-authority: $TMP/no-such-ca.crt}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: a, context: {cluster: c, user: u}}]
current-context: a
KC
expect 2 "no-such-ca.crt" --kubeconfig "$TMP/ca.yaml"
# No kubeconfig anywhere and not in a cluster.
expect 2 "kubeconfig" 
echo "PASS: bad flags and kubeconfigs are refused with one line and exit 2"
