#!/usr/bin/env bash
# Integration tier: the real p2pd (itest.c) plus the systemd unit checks.
# Last line: "integration: N passed, N failed"; exit non-zero on any failure.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; failed=$((failed + 1)); }

work=$(mktemp -d /tmp/p2pd-integ.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

# A tree big enough that its topology reply must be split into datagrams.
big=-
if python3 tests/fixtures/gen-fabric.py "$work/big" --functions 600 --no-tables >/dev/null 2>&1; then
	big=$work/big
fi

out=$("$BUILD/tests/itest" "$BUILD/p2pd" "$BUILD/p2pctl" tests/fixtures/sysfs/qemu-q35 "$big" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -v '^itest: '
line=$(printf '%s\n' "$out" | grep -E '^itest: [0-9]+ passed, [0-9]+ failed' | tail -n1)
if [ -n "$line" ]; then
	p=$(sed -E 's/^itest: ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	passed=$((passed + p)) failed=$((failed + f))
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && bad "itest exited $rc"
else
	bad "itest crashed (exit $rc) before its summary"
fi

# p2pd under valgrind (memcheck, definite leaks are errors) for the request
# paths; an ASan build cannot run under valgrind, so that run uses the plain one.
vg_p2pd=$BUILD/p2pd
if [ -n "${SAN:-}" ]; then
	# SAN= and OPT= on the command line: a sanitizer run passes them down in MAKEFLAGS.
	${MAKE:-make} --no-print-directory BUILD=build SAN= OPT="-O2 -g" build/p2pd >"$work/vg-build.log" 2>&1 && vg_p2pd=build/p2pd
fi
if ! command -v valgrind >/dev/null; then
	bad "valgrind not installed: the valgrind run cannot happen"
elif [ "$vg_p2pd" = "$BUILD/p2pd" ] && [ -n "${SAN:-}" ]; then
	tail -5 "$work/vg-build.log"
	bad "valgrind run: cannot build a non-sanitized p2pd"
else
	cat >"$work/vg-p2pd" <<EOV
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--log-file=$work/valgrind.%p.log $(readlink -f "$vg_p2pd") "\$@"
EOV
	chmod +x "$work/vg-p2pd"
	vout=$(ITEST_ONLY="readiness,hello,topology of the fixture,check:,matrix --all,alloc,disconnect,unprivileged,revoke,reload,bad input,killed,max_conn,fds leaked,SIGTERM" \
		"$BUILD/tests/itest" "$work/vg-p2pd" "$BUILD/p2pctl" tests/fixtures/sysfs/qemu-q35 - 2>&1)
	vrc=$?
	verr=$(cat "$work"/valgrind.*.log 2>/dev/null)
	if [ $vrc -eq 0 ] && [ -z "$verr" ]; then
		ok "p2pd under valgrind: $(printf '%s\n' "$vout" | tail -n1 | sed 's/^itest: //'), no memcheck errors"
	else
		printf '%s\n' "$vout" | grep -E '^FAIL' | sed 's/^/  valgrind: /'
		printf '%s\n' "$verr" | head -40
		bad "p2pd under valgrind (itest exit $vrc)"
	fi
fi

# systemd units: verify, and the exposure score
units=systemd
if command -v systemd-analyze >/dev/null; then
	vout=$(cd "$work" && cp "$OLDPWD/$units/p2pd.service" "$OLDPWD/$units/p2pd.socket" . &&
		sed -i "s|^ExecStart=/usr/sbin/p2pd|ExecStart=$(readlink -f "$OLDPWD/$BUILD/p2pd")|" p2pd.service &&
		SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no ./p2pd.socket ./p2pd.service 2>&1)
	vrc=$?
	if [ $vrc -eq 0 ] && [ -z "$vout" ]; then
		ok "systemd-analyze verify p2pd.service p2pd.socket"
	else
		printf '%s\n' "$vout"
		bad "systemd-analyze verify (exit $vrc)"
	fi
	sout=$(systemd-analyze security --offline=yes --no-pager "$units/p2pd.service" 2>&1)
	score=$(printf '%s\n' "$sout" | sed -n 's/.*Overall exposure level for p2pd.service: *\([0-9.]*\).*/\1/p')
	if [ -n "$score" ]; then
		echo "  (systemd-analyze security p2pd.service: exposure $score)"
		if awk "BEGIN{exit !($score <= 3.0)}"; then
			ok "exposure score $score <= 3.0"
		else
			printf '%s\n' "$sout" | grep -E '✗' | head -20
			bad "exposure score $score > 3.0"
		fi
	else
		printf '%s\n' "$sout" | tail -5
		bad "systemd-analyze security gave no score"
	fi
else
	bad "systemd-analyze not installed: unit checks cannot run"
fi

# make install into a stage, then build a client from the installed header,
# library and .pc alone
stage=$work/stage
if ${MAKE:-make} --no-print-directory install BUILD="$BUILD" DESTDIR="$stage" PREFIX=/usr >"$work/install.log" 2>&1; then
	missing=
	for f in usr/sbin/p2pd usr/bin/p2pctl usr/include/p2pclient.h usr/share/man/man8/p2pd.8 \
		usr/share/man/man7/p2pd-protocol.7 usr/share/doc/p2pbroker/examples/p2pd.json; do
		[ -e "$stage/$f" ] || missing="$missing $f"
	done
	pc=$(find "$stage" -name libp2pclient.pc | head -n1)
	[ -n "$pc" ] || missing="$missing libp2pclient.pc"
	[ -n "$(find "$stage" -name p2pd.service)" ] || missing="$missing p2pd.service"
	if [ -z "$missing" ]; then
		ok "make install DESTDIR: binaries, library, header, .pc, units, man pages, example config"
	else
		bad "make install: missing$missing"
	fi
	cat >"$work/client.c" <<'EOC'
#include <errno.h>
#include <p2pclient.h>
int main(void)
{
	struct p2p_conn *c;
	return p2p_connect("/nonexistent/p2pd.sock", &c) == -ENOENT ? 0 : 1;
}
EOC
	libdir=$(dirname "$(dirname "$pc")")
	if PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$(dirname "$pc") \
		sh -c 'cc -std=c11 -Wall -Werror $3 "$1" $(pkg-config --cflags --libs libp2pclient) -o "$2"' _ \
		"$work/client.c" "$work/client" "${SAN:-}" && LD_LIBRARY_PATH=$libdir "$work/client"; then
		ok "a client builds and runs from the installed p2pclient.h + libp2pclient.pc"
	else
		bad "building a client against the installed libp2pclient"
	fi
else
	tail -20 "$work/install.log"
	bad "make install DESTDIR=... failed"
fi

echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
