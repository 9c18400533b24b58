#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host-side checks of the kernel module (make check-kmod, part of make check):
# the uapi ABI (standalone C and C++ compile, pinned struct sizes and ioctl
# numbers), checkpatch (6.1's and 6.12's), and a -Werror build against every
# Debian kernel header set installed (6.1 and 6.12 at least).  The module's behaviour is tested in the VM tier (make vmcheck).
# Last line: "kmod: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${BUILD:-build}/check-kmod
case "$out" in /*) ;; *) out=$root/$out ;; esac
make_cmd=${MAKE:-make}
KMOD_SERIES=${KMOD_SERIES:-6.1 6.12}
mkdir -p "$out"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS kmod/$1"; }
ko() { fail=$((fail + 1)); echo "FAIL kmod/$1: $2"; }

cat >"$out/abi.c" <<'C'
#include <linux/p2pbroker.h>
#include "p2pb_test_importer.h"
#define SZ(t, n) _Static_assert(sizeof(struct t) == (n), #t " size changed: ABI break")
#define NR(c, d, nr, t) _Static_assert((c) == d(P2PB_IOC_MAGIC, nr, struct t), #c " number changed")
SZ(p2pb_version, 16);
SZ(p2pb_verdict_client, 24);
SZ(p2pb_verdict, 32);
SZ(p2pb_alloc, 40);
SZ(p2pb_buf_info, 40);
SZ(p2pb_describe, 48);
SZ(p2pb_list, 16);
SZ(p2pb_revoke, 16);
SZ(p2pb_ti_import, 48);
SZ(p2pb_ti_query, 16);
SZ(p2pb_ti_peek, 24);
NR(P2PB_IOC_VERSION, _IOR, 0x00, p2pb_version);
NR(P2PB_IOC_KERNEL_VERDICT, _IOWR, 0x01, p2pb_verdict);
NR(P2PB_IOC_ALLOC, _IOWR, 0x02, p2pb_alloc);
NR(P2PB_IOC_DESCRIBE, _IOWR, 0x03, p2pb_describe);
NR(P2PB_IOC_LIST, _IOWR, 0x04, p2pb_list);
NR(P2PB_IOC_REVOKE, _IOW, 0x05, p2pb_revoke);
_Static_assert(P2PB_BDF(0x10000, 0x3, 0x8) == 0x100000308ULL, "BDF packing");
_Static_assert(P2PB_BDF_DOMAIN(P2PB_BDF(0x10000, 3, 8)) == 0x10000, "BDF domain");
_Static_assert(P2PB_MAP_BUS_ADDR == 3 && P2PB_MAP_NOT_SUPPORTED == 1, "map types = kernel enum");
int main(void) { return 0; }
C
if gcc -std=c11 -Wall -Wextra -Werror -pedantic -Ikmod/include/uapi -Itests/vm/importer -o "$out/abi" "$out/abi.c" 2>"$out/abi.log" && "$out/abi"; then
	ok uapi_c11
else
	ko uapi_c11 "$(head -c 300 "$out/abi.log")"
fi
cp "$out/abi.c" "$out/abi.cc"
sed -i 's/_Static_assert/static_assert/' "$out/abi.cc"
if g++ -std=c++17 -Wall -Wextra -Werror -pedantic -Ikmod/include/uapi -Itests/vm/importer -fsyntax-only "$out/abi.cc" 2>"$out/abicc.log"; then
	ok uapi_cxx
else
	ko uapi_cxx "$(head -c 300 "$out/abicc.log")"
fi

if $make_cmd -s --no-print-directory kmod-checkpatch >"$out/checkpatch.log" 2>&1; then
	ok checkpatch
else
	ko checkpatch "$(grep -E 'ERROR|WARNING|CHECK' "$out/checkpatch.log" | head -n 3 | tr '\n' ' ')"
fi

# Every Debian header set installed (linux-headers-amd64: 6.1,
# linux-headers-6.12-amd64: 6.12, mk/deps-vm.txt), with -Werror as our CI
# builds it.  Both series must be there: a missing one is a failure.
headers=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V)
for series in $KMOD_SERIES; do
	grep -q "^/usr/src/linux-headers-$series\.[0-9]" <<<"$headers" ||
		ko "headers_$series" "no /usr/src/linux-headers-$series.*-amd64 (scripts/install-deps.sh installs it)"
done
for h in $headers; do
	rel=${h#/usr/src/linux-headers-}
	p2p=$(grep -q '^CONFIG_PCI_P2PDMA=y' "$h/.config" && echo y || echo n)
	d=$out/build-$rel
	rm -rf "$d" && mkdir -p "$d"
	cp -r kmod/Kbuild kmod/Makefile kmod/*.c kmod/*.h kmod/include "$d/"
	if $make_cmd -s -C "$h" M="$d" P2PB_WERROR=-Werror modules >"$d.log" 2>&1 &&
		[ -f "$d/p2pbroker.ko" ] && [ ! -e "$d/p2pb_test_importer.ko" ] &&
		[ "$(modinfo -F vermagic "$d/p2pbroker.ko" | cut -d' ' -f1)" = "$rel" ]; then
		ok "build_$rel (CONFIG_PCI_P2PDMA=$p2p)"
	else
		ko "build_$rel" "$(grep -E 'error|warning|Error' "$d.log" | head -n 3 | tr '\n' ' ')"
	fi
	# The test importer (tests/vm/importer, never installed) builds there too.
	d=$out/importer-$rel
	rm -rf "$d" && mkdir -p "$d"
	cp tests/vm/importer/Kbuild tests/vm/importer/*.c tests/vm/importer/*.h "$d/"
	if $make_cmd -s -C "$h" M="$d" P2PB_KMOD="$root/kmod" P2PB_WERROR=-Werror modules \
		>"$d.log" 2>&1 && [ -f "$d/p2pb_test_importer.ko" ]; then
		ok "importer_build_$rel"
	else
		ko "importer_build_$rel" "$(grep -E 'error|warning|Error' "$d.log" | head -n 3 | tr '\n' ' ')"
	fi
done
echo "kmod: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
