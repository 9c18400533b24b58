#!/usr/bin/env bash
# check-layers: the architecture rules of STYLE.md that a compiler does not
# enforce by itself (the per-layer -I flags of the Makefile do the rest).
#  1. arrows point one way: nothing outside daemon/ includes a daemon/ header;
#     core/ and proto/ include no libevent/libsystemd/libudev header;
#  2. no source file outside tests/ and kmod/ is longer than 1000 lines.
# Prints "check-layers: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

daemon_headers=$(cd daemon && ls *.h | sed 's/[.]/[.]/g' | paste -sd'|')
for dir in core proto libp2pclient p2pctl; do
	hits=$(grep -EHn "^#[[:space:]]*include[[:space:]]*\"($daemon_headers)\"" $dir/*.[ch] || true)
	if [ -n "$hits" ]; then bad "layers/$dir includes a daemon header: $hits"; else ok "layers/$dir-no-daemon-header"; fi
done
for dir in core proto; do
	hits=$(grep -EHn '^#[[:space:]]*include[[:space:]]*<(event2?/|systemd/|libudev)' $dir/*.[ch] || true)
	if [ -n "$hits" ]; then bad "layers/$dir uses a daemon library: $hits"; else ok "layers/$dir-no-daemon-library"; fi
done

long=$(git ls-files -- '*.c' '*.h' ':!tests/' ':!kmod/' | while read -r f; do
	n=$(wc -l <"$f")
	[ "$n" -gt 1000 ] && echo "$f:$n"
done)
if [ -n "$long" ]; then bad "size/over-1000-lines: $long"; else ok "size/no-file-over-1000-lines"; fi

echo "check-layers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
