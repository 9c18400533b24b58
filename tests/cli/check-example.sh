#!/usr/bin/env bash
# check-example.sh - the README's promise: `make install`, then a 20-line client
# (examples/alloc-client.c) built with pkg-config alone gets a typed buffer fd
# from a running p2pd.  Last line: "example: N passed, N failed".
set -u
BUILD=${BUILD:-build}
SAN=${SAN:-}
pass=0 fail=0
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

stage=$tmp/stage
if ${MAKE:-make} --no-print-directory install BUILD="$BUILD" DESTDIR="$stage" PREFIX=/usr >"$tmp/install.log" 2>&1; then
	ok "make install into a stage"
else
	tail -5 "$tmp/install.log"
	bad "make install"
fi
pc=$(find "$stage" -name libp2pclient.pc | head -n1)
libdir=$(dirname "$(dirname "$pc")")
# shellcheck disable=SC2086 # SAN carries several flags (ASan builds of the library)
if [ -n "$pc" ] && PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$(dirname "$pc") \
	sh -c 'cc -std=c11 -Wall -Wextra -Werror $3 "$1" $(pkg-config --cflags --libs libp2pclient) -o "$2"' _ \
	examples/alloc-client.c "$tmp/alloc-client" "$SAN" 2>"$tmp/cc.log"; then
	ok "examples/alloc-client.c builds from the installed header, library and .pc"
else
	cat "$tmp/cc.log"
	bad "building examples/alloc-client.c"
fi

sock=$tmp/p2pd.sock
"$BUILD/p2pd" --foreground --log stderr --socket "$sock" --fsroot tests/fixtures/sysfs/qemu-q35 \
	2>"$tmp/p2pd.log" &
pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
out=$(P2PD_SOCKET=$sock LD_LIBRARY_PATH=$libdir "$tmp/alloc-client" 2>&1)
if [[ "$out" =~ ^buffer\ [0-9]+:\ type\ (host|memfd)\ via\ [a-z-]+,\ 1048576\ bytes ]]; then
	ok "alloc-client got a typed 1 MiB buffer fd: $out"
else
	cat "$tmp/p2pd.log"
	bad "alloc-client: $out"
fi
out=$(P2PD_SOCKET=$tmp/none.sock LD_LIBRARY_PATH=$libdir "$tmp/alloc-client" 2>&1)
if [ $? -eq 1 ] && [[ "$out" == alloc-client:* ]]; then
	ok "no daemon: one clear error line ($out)"
else
	bad "no daemon: $out"
fi
echo "example: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
