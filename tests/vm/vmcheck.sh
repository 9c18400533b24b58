#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The VM test tier (make vmcheck): install what is missing, build (or reuse)
# the guest kernel, build p2pbroker.ko against it, build userspace and the
# guest test programs, boot the three guest setups and check every scenario.
# Prints "PASS setup/scenario" / "FAIL setup/scenario: why" lines and, last,
# "vmcheck: N passed, N failed".  Exit status non-zero on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
shared=${P2P_SHARED:-$root/../shared}
frag=$shared/vm/kernel-p2pdma.config
out=${P2P_VM_OUT:-$root/build/vm}
setups=${P2P_VM_SETUPS:-max epyc iommu epyc-iommu nop2p}
make_cmd=${MAKE:-make}

fatal() { # STEP WHY: a step every setup depends on failed
	echo "FAIL vmcheck/$1: $2"
	echo "vmcheck: 0 passed, 1 failed"
	exit 1
}

tests/vm/setup.sh || fatal setup "tests/vm/setup.sh could not install the VM dependencies"
[ -r "$frag" ] || fatal kernel "kernel config fragment $frag missing (shared/ must sit beside the repo)"
mkdir -p "$out" || fatal build "cannot create $out"
if [ -n "${P2P_VM_DEBUG:-}" ]; then
	# lockdep, KASAN, DMA-API and list debugging in the guest (slower)
	cat "$frag" tests/vm/kernel-debug.config >"$out/debug.config"
	frag=$out/debug.config
	export P2P_VM_TIMEOUT=${P2P_VM_TIMEOUT:-480}
fi

kcache=$(tests/vm/build-kernel.sh "$frag" | tail -n 1) && [ -f "$kcache/bzImage" ] ||
	fatal kernel "guest kernel build failed"
kdir=$kcache/linux

rm -rf "$out/kmod" "$out/guest" && mkdir -p "$out/kmod" "$out/guest" "$out/logs" || fatal build "cannot create $out"
cp -r kmod/Kbuild kmod/Makefile kmod/*.c kmod/*.h kmod/include "$out/kmod/"
$make_cmd -s -C "$kdir" M="$out/kmod" P2PB_WERROR=-Werror modules >"$out/kmod.log" 2>&1 ||
	{ cat "$out/kmod.log"; fatal kmod "p2pbroker.ko does not build against the guest kernel"; }

# The module must also build on Debian's stock kernel, where CONFIG_PCI_P2PDMA
# is unset (it then offers host buffers only and says so in VERSION).
# Optional setup "nop2p": the same guest kernel without CONFIG_PCI_P2PDMA
# (like Debian's stock kernels), its own module build and initramfs.
nop2p_kcache=
if [[ " $setups " == *" nop2p "* ]]; then
	sed 's/^CONFIG_PCI_P2PDMA=y$/# CONFIG_PCI_P2PDMA is not set/' "$frag" >"$out/nop2p.config"
	nop2p_kcache=$(tests/vm/build-kernel.sh "$out/nop2p.config" | tail -n 1) &&
		[ -f "$nop2p_kcache/bzImage" ] || fatal kernel "nop2p guest kernel build failed"
	grep -q '^CONFIG_PCI_P2PDMA=y' "$nop2p_kcache/linux/.config" &&
		fatal kernel "nop2p guest kernel has CONFIG_PCI_P2PDMA"
	rm -rf "$out/kmod-nop2p" && mkdir -p "$out/kmod-nop2p"
	cp -r kmod/Kbuild kmod/Makefile kmod/*.c kmod/*.h kmod/include "$out/kmod-nop2p/"
	$make_cmd -s -C "$nop2p_kcache/linux" M="$out/kmod-nop2p" P2PB_WERROR=-Werror modules >"$out/kmod-nop2p.log" 2>&1 ||
		{ cat "$out/kmod-nop2p.log"; fatal kmod "p2pbroker.ko does not build without CONFIG_PCI_P2PDMA"; }
fi

pass=0 fail=0
stock=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
rm -rf "$out/kmod-stock" && mkdir -p "$out/kmod-stock"
cp -r kmod/Kbuild kmod/Makefile kmod/*.c kmod/*.h kmod/include "$out/kmod-stock/"
if [ -z "$stock" ]; then
	echo "FAIL vmcheck/kmod_stock_headers: no /usr/src/linux-headers-*-amd64 (linux-headers-amd64)"
	fail=$((fail + 1))
elif $make_cmd -s -C "$stock" M="$out/kmod-stock" P2PB_WERROR=-Werror modules >"$out/kmod-stock.log" 2>&1; then
	echo "PASS vmcheck/kmod_stock_headers ($(basename "$stock"), CONFIG_PCI_P2PDMA=$(grep -q '^CONFIG_PCI_P2PDMA=y' "$stock/.config" && echo y || echo n))"
	pass=$((pass + 1))
else
	tail -n 20 "$out/kmod-stock.log"
	echo "FAIL vmcheck/kmod_stock_headers: does not build against $stock"
	fail=$((fail + 1))
fi

gcc -std=gnu11 -static -O2 -g -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-truncation \
	-Wvla -Wmissing-prototypes -Ikmod/include/uapi -Ikmod $(pkg-config --cflags json-c) \
	tests/vm/guest/p2pbtest.c -o "$out/guest/p2pbtest" $(pkg-config --libs json-c) ||
	fatal guest "guest test program does not build"
for f in tests/vm/guest/*.sh; do
	[ -f "$f" ] && install -m 0755 "$f" "$out/guest/$(basename "$f")"
done

# Userspace (p2pctl, p2pd): scenarios that need them fail loudly when absent.
if ! $make_cmd -s all >"$out/userspace.log" 2>&1; then
	tail -n 20 "$out/userspace.log"
	echo "vmcheck: WARNING: userspace build failed; scenarios needing p2pctl/p2pd will fail"
fi

# The daemon scenarios' client, on libp2pclient (absent: those scenarios fail).
if [ -e build/libp2pclient.so ]; then
	gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wvla -Wmissing-prototypes -Ilibp2pclient -Iproto \
		tests/vm/guest/p2pbclient.c -o "$out/guest/p2pbclient" -Lbuild -lp2pclient \
		-Wl,-rpath,/usr/lib || echo "vmcheck: WARNING: p2pbclient does not build"
fi

tests/vm/mkinitramfs.sh "$out/initramfs.cpio.gz" "$out/kmod" "$out/guest" build ||
	fatal initramfs "cannot pack the initramfs"

if [ -n "$nop2p_kcache" ]; then
	tests/vm/mkinitramfs.sh "$out/initramfs-nop2p.cpio.gz" "$out/kmod-nop2p" "$out/guest" build ||
		fatal initramfs "cannot pack the nop2p initramfs"
fi

for s in $setups; do
	kernel=$kcache/bzImage initrd=$out/initramfs.cpio.gz
	if [ "$s" = nop2p ]; then
		kernel=$nop2p_kcache/bzImage initrd=$out/initramfs-nop2p.cpio.gz
	fi
	tests/vm/run-vm.sh "$s" "$kernel" "$initrd" "$out/logs" | tee "$out/logs/$s.summary"
	line=$(grep -E "^run-vm $s: [0-9]+ passed, [0-9]+ failed" "$out/logs/$s.summary" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $s/harness: run-vm.sh printed no summary"
		fail=$((fail + 1))
		continue
	fi
	p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	pass=$((pass + p)) fail=$((fail + f))
done
echo "vmcheck: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
