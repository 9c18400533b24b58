#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The VM test tier (make vmcheck): install what is missing, build (or reuse)
# one guest kernel per Debian kernel series (P2P_VM_KERNELS, default "6.1
# 6.12": linux-source-6.1 and linux-source-6.12, the same fragment), build
# p2pbroker.ko and the test importer against each, build userspace and the
# guest test programs once, and boot every setup on every kernel.
# Prints "PASS <series>/<setup>/<scenario>" / "FAIL <series>/<setup>/<scenario>: why"
# lines, "agree N/N (<series>/<setup>)" lines and, last,
# "vmcheck: N passed, N failed".  Exit status non-zero on any failure.
#
# Knobs: P2P_VM_KERNELS="6.12" (one series), P2P_VM_SETUPS="max" (one setup),
# P2P_VM_DEBUG=1 (lockdep/KASAN/DMA-API-debug guests), P2P_VM_TIMEOUT,
# P2P_VM_CACHE, P2P_VM_JOBS (kernel build jobs, default nproc).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
shared=${P2P_SHARED:-$root/../shared}
frag=$shared/vm/kernel-p2pdma.config
out=${P2P_VM_OUT:-$root/build/vm}
setups=${P2P_VM_SETUPS:-max epyc iommu epyc-iommu nop2p}
kernels=${P2P_VM_KERNELS:-6.1 6.12}
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
sed 's/^CONFIG_PCI_P2PDMA=y$/# CONFIG_PCI_P2PDMA is not set/' "$frag" >"$out/nop2p.config"

rm -rf "$out/guest" "$out/logs" && mkdir -p "$out/guest" "$out/logs" || fatal build "cannot create $out"
gcc -std=gnu11 -static -O2 -g -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-truncation \
	-Wvla -Wmissing-prototypes -Ikmod/include/uapi -Itests/vm/importer $(pkg-config --cflags json-c) \
	tests/vm/guest/p2pbtest.c -o "$out/guest/p2pbtest" $(pkg-config --libs json-c) ||
	fatal guest "guest test program does not build"
gcc -std=gnu11 -static -O2 -g -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-truncation \
	-Wvla -Wmissing-prototypes -Ikmod/include/uapi -Itests/vm/importer \
	tests/vm/guest/kfuzz.c -o "$out/guest/kfuzz" || fatal guest "kfuzz does not build"
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
		-Itests/vm/importer -Ikmod/include/uapi tests/vm/guest/p2pbclient.c -o "$out/guest/p2pbclient" -Lbuild -lp2pclient \
		-Wl,-rpath,/usr/lib || echo "vmcheck: WARNING: p2pbclient does not build"
	# P2P I/O scenarios (p2p_io_*, setup max) on p2p_buffer_pread/pwrite.
	gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wvla -Wmissing-prototypes -Ilibp2pclient \
		-Ikmod/include/uapi tests/vm/guest/p2pio.c -o "$out/guest/p2pio" -Lbuild -lp2pclient -lz \
		-Wl,-rpath,/usr/lib || echo "vmcheck: WARNING: p2pio does not build"
	gcc -std=c11 -O2 -Wall -Wextra -Werror -Ilibp2pclient examples/pread-client.c \
		-o "$out/guest/pread-client" -Lbuild -lp2pclient -Wl,-rpath,/usr/lib ||
		echo "vmcheck: WARNING: examples/pread-client.c does not build"
	gcc -std=gnu11 -O2 -Wall -Wextra -Werror -Ilibp2pclient -Ikmod/include/uapi bench/io/io-bench.c \
		-o "$out/guest/io-bench" -Lbuild -lp2pclient -Wl,-rpath,/usr/lib ||
		echo "vmcheck: WARNING: bench/io/io-bench.c does not build"
fi

# One guest kernel per series and variant (p2p; nop2p: the same fragment
# without CONFIG_PCI_P2PDMA, as Debian's stock kernels are), each with its own
# p2pbroker.ko, test importer and initramfs under $out/<series>/<variant>/.
# A series whose kernel or modules do not build fails its own setups only.
pass=0 fail=0
declare -A kimage kpass kfail
variant_of() { [ "$1" = nop2p ] && echo nop2p || echo p2p; }

prepare() { # SERIES VARIANT: kernel, modules, initramfs; sets kimage[SERIES/VARIANT]
	local k=$1 v=$2 f=$frag kc d
	[ "$v" = nop2p ] && f=$out/nop2p.config
	d=$out/$k/$v
	kc=$(tests/vm/build-kernel.sh "$f" "$k" | tail -n 1)
	if ! [ -f "$kc/bzImage" ]; then
		echo "FAIL $k/$v/kernel: guest kernel build failed (tests/vm/build-kernel.sh $f $k)"
		return 1
	fi
	if [ "$v" = nop2p ] && grep -q '^CONFIG_PCI_P2PDMA=y' "$kc/linux/.config"; then
		echo "FAIL $k/$v/kernel: the nop2p guest kernel has CONFIG_PCI_P2PDMA"
		return 1
	fi
	if [ "$v" = p2p ] && ! grep -q '^CONFIG_PCI_P2PDMA=y' "$kc/linux/.config"; then
		echo "FAIL $k/$v/kernel: the guest kernel lacks CONFIG_PCI_P2PDMA"
		return 1
	fi
	rm -rf "$d" && mkdir -p "$d/kmod" "$d/importer" "$d/modules" || return 1
	cp -r kmod/Kbuild kmod/Makefile kmod/*.c kmod/*.h kmod/include "$d/kmod/"
	cp tests/vm/importer/Kbuild tests/vm/importer/*.c tests/vm/importer/*.h "$d/importer/"
	if ! $make_cmd -s -C "$kc/linux" M="$d/kmod" P2PB_WERROR=-Werror modules >"$d/kmod.log" 2>&1; then
		tail -n 20 "$d/kmod.log"
		echo "FAIL $k/$v/kmod: p2pbroker.ko does not build against $kc/linux"
		return 1
	fi
	if ! $make_cmd -s -C "$kc/linux" M="$d/importer" P2PB_KMOD="$root/kmod" P2PB_WERROR=-Werror \
		modules >"$d/importer.log" 2>&1; then
		tail -n 20 "$d/importer.log"
		echo "FAIL $k/$v/kmod: p2pb_test_importer.ko does not build against $kc/linux"
		return 1
	fi
	cp "$d/kmod/p2pbroker.ko" "$d/importer/p2pb_test_importer.ko" "$d/importer/p2pb_test_acs.ko" \
		"$d/modules/" &&
		tests/vm/mkinitramfs.sh "$d/initramfs.cpio.gz" "$d/modules" "$out/guest" build || {
		echo "FAIL $k/$v/initramfs: cannot pack the initramfs"
		return 1
	}
	echo "  [$k/$v] guest kernel $(cat "$kc/kernelrelease")"
	kimage[$k/$v]=$kc/bzImage
}

for k in $kernels; do
	vs=
	for s in $setups; do
		v=$(variant_of "$s")
		[[ " $vs " == *" $v "* ]] || vs="$vs $v"
	done
	kpass[$k]=0 kfail[$k]=0
	for v in $vs; do
		prepare "$k" "$v" || kfail[$k]=$((kfail[$k] + 1))
	done
done

for k in $kernels; do
	for s in $setups; do
		v=$(variant_of "$s")
		if [ -z "${kimage[$k/$v]:-}" ]; then
			echo "FAIL $k/$s/boot: no guest kernel or modules for $k/$v (see above)"
			kfail[$k]=$((kfail[$k] + 1))
			continue
		fi
		sum=$out/logs/$k/$s.summary
		mkdir -p "$out/logs/$k"
		tests/vm/run-vm.sh "$s" "${kimage[$k/$v]}" "$out/$k/$v/initramfs.cpio.gz" "$out/logs/$k" "$k" |
			tee "$sum"
		line=$(grep -E "^run-vm $k/$s: [0-9]+ passed, [0-9]+ failed" "$sum" | tail -n 1)
		if [ -z "$line" ]; then
			echo "FAIL $k/$s/harness: run-vm.sh printed no summary"
			kfail[$k]=$((kfail[$k] + 1))
			continue
		fi
		p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
		kpass[$k]=$((kpass[$k] + p)) kfail[$k]=$((kfail[$k] + f))
	done
done
for k in $kernels; do
	agree=$(cat "$out"/logs/"$k"/*.summary 2>/dev/null | grep '^agree ' | tr '\n' ' ')
	echo "vmcheck $k: ${kpass[$k]} passed, ${kfail[$k]} failed${agree:+ (${agree% })}"
	pass=$((pass + kpass[$k])) fail=$((fail + kfail[$k]))
done
echo "vmcheck: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
