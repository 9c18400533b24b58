#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon's dma-buf backends where the devices exist: boot the VM tier's
# guest kernel (CONFIG_UDMABUF, CONFIG_DMABUF_HEAPS_SYSTEM) under TCG with an
# initramfs holding p2pd, p2pctl, itest and the qemu-q35 fixture, and run the
# buffer tests of itest once per backend (--backends udmabuf,memfd and
# dma-heap,memfd).  Last line "vm-backends: N passed, N failed".
#
#   tests/integration/vm-backends.sh BUILD_DIR
set -uo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
frag=${P2P_VM_FRAGMENT:-$top/../shared/vm/kernel-p2pdma.config}
fail_all() { echo "FAIL - vm-backends: $1"; echo "vm-backends: 0 passed, 1 failed"; exit 1; }

command -v qemu-system-x86_64 >/dev/null || fail_all "qemu-system-x86_64 not installed"
[ -x /bin/busybox ] || fail_all "/bin/busybox missing (busybox-static)"
for b in p2pd p2pctl tests/itest libp2pclient.so; do
	[ -e "$build/$b" ] || fail_all "$build/$b not built"
done
kdir=$("$top/tests/vm/build-kernel.sh" "$frag" 2>"$build/vm-backends-kernel.log" | tail -n 1)
[ -r "$kdir/bzImage" ] || fail_all "no guest kernel (tests/vm/build-kernel.sh: $(tail -n 3 "$build/vm-backends-kernel.log" | tr '\n' ' '))"

work=$(mktemp -d /tmp/p2pd-vmb.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,tmp,run,etc,usr/lib}
cp /bin/busybox "$root/bin/busybox"
for b in p2pd p2pctl tests/itest; do cp "$build/$b" "$root/bin/"; done
cp -L "$build/libp2pclient.so" "$root/bin/libp2pclient.so"
cp -L "$build/libp2pclient.so" "$root/usr/lib/libp2pclient.so.0"
cp -L "$build/libp2pclient.so" "$root/usr/lib/libp2pclient.so"
for f in "$build/p2pd" "$build/p2pctl" "$build/tests/itest" "$build/libp2pclient.so"; do
	for lib in $(ldd "$f" 2>/dev/null | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
done
cp -a "$top/tests/fixtures/sysfs/qemu-q35" "$root/fixture"
printf "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n" >"$root/etc/passwd"
printf "root:x:0:\nnogroup:x:65534:\n" >"$root/etc/group"
cat >"$root/init" <<'EOI'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin LD_LIBRARY_PATH=/usr/lib
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp; mount -t tmpfs tmpfs /run
echo "VMB: devices $(ls /dev/udmabuf /dev/dma_heap/system 2>&1 | tr '\n' ' ')"
for b in udmabuf,memfd dma-heap,memfd; do
	echo "VMB: backends $b"
	P2PD_BACKENDS=$b ITEST_ONLY="alloc memfd,host buffers,disconnect,revoke,unprivileged,quota held,fds leaked,SIGTERM" \
		/bin/itest /bin/p2pd /bin/p2pctl /fixture - 2>&1 | sed "s/^/VMB[$b]: /"
done
b=udmabuf,dma-heap,memfd
echo "VMB: backends $b"
P2PD_BACKENDS=$b ITEST_ONLY="fall back,fds leaked,SIGTERM" \
	/bin/itest /bin/p2pd /bin/p2pctl /fixture - 2>&1 | sed "s/^/VMB[$b]: /"
echo "VMB: done"
poweroff -f
EOI
chmod 755 "$root/init"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

timeout --kill-after=10 "${P2P_VM_TIMEOUT:-240}" qemu-system-x86_64 -accel tcg -machine q35 -cpu max \
	-smp 1 -m 1G -display none -nodefaults -no-reboot -serial stdio -kernel "$kdir/bzImage" \
	-initrd "$work/initrd.gz" -append "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init" \
	</dev/null >"$work/console.log" 2>&1
tr -d '\r' <"$work/console.log" >"$build/vm-backends.log"
log=$build/vm-backends.log
grep -E '^VMB' "$log" | grep -vE '^VMB\[[^]]*\]: ok - ' | sed 's/^/  /'
pass=$(grep -cE '^VMB\[[^]]*\]: ok - ' "$log")
fail=$(grep -cE '^VMB\[[^]]*\]: FAIL - ' "$log")
for b in udmabuf dma-heap; do
	if grep -qE "^VMB\[$b,memfd\]: ok - host buffers" "$log" &&
		grep -qE "^VMB\[$b,memfd\]:   \(host buffer from $b" "$log"; then
		echo "ok - $b backend: a real dma-buf typed host"; pass=$((pass + 1))
	else
		echo "FAIL - $b backend not exercised (see $log)"; fail=$((fail + 1))
	fi
done
if grep -qE '^VMB\[udmabuf,dma-heap,memfd\]: ok - host buffers over' "$log" &&
	grep -qE '^VMB\[udmabuf,dma-heap,memfd\]:   \(96 MiB host buffer: dma-heap' "$log"; then
	echo "ok - a host buffer over udmabuf's limit comes from dma-heap"; pass=$((pass + 1))
else
	echo "FAIL - udmabuf -> dma-heap fallback not seen (see $log)"; fail=$((fail + 1))
fi
grep -q '^VMB: done' "$log" || { echo "FAIL - guest did not finish (see $log)"; fail=$((fail + 1)); }
echo "vm-backends: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
