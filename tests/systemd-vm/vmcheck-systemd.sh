#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make vmcheck-systemd: boot Debian 12 (mmdebstrap rootfs, Debian's 6.12
# kernel, systemd as PID 1) under QEMU (TCG), install build/deb/*.deb with apt
# as the README says, and check the packages (guest.sh).  Prints
# "PASS systemd/<name>" or "FAIL systemd/<name>: why" per scenario and finally
# "vmcheck-systemd: N passed, N failed"; exit status non-zero on any failure.
# A scenario that cannot run (no rootfs, no .debs, a guest that dies or times
# out) is a FAIL.
#   P2P_DEB_DIR               the .debs (default build/deb; built with make deb if absent)
#   P2P_SYSTEMD_VM_TIMEOUT    seconds for the guest (default 2400)
#   P2P_SYSTEMD_VM_CACHE      the rootfs cache's parent (default /var/cache/p2pbroker-vm)
set -uo pipefail
cd "$(dirname "$0")/../.."
here=tests/systemd-vm
debdir=${P2P_DEB_DIR:-build/deb}
work=build/systemd-vm
timeout_s=${P2P_SYSTEMD_VM_TIMEOUT:-2400}
names="dkms_install socket_activation hardened_alloc reload journal restart_keeps_buffers"
pass=0 fail=0
report() { # STATUS NAME [WHY]
	if [ "$1" = PASS ]; then pass=$((pass + 1)); echo "PASS systemd/$2"
	else fail=$((fail + 1)); echo "FAIL systemd/$2${3:+: $3}"; fi
}
finish() {
	echo "vmcheck-systemd: $pass passed, $fail failed"
	[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
	exit
}
fail_all() { for n in $names; do report FAIL "$n" "$1"; done; finish; }

start=$(date +%s)
rm -rf "$work"
mkdir -p "$work/data/deb"

if ! ls "$debdir"/*.deb >/dev/null 2>&1; then
	echo "vmcheck-systemd: no .debs in $debdir: running make deb"
	${MAKE:-make} deb || fail_all "make deb failed"
fi
n=$(ls "$debdir"/*.deb | wc -l)
[ "$n" -eq 4 ] || fail_all "$debdir has $n .debs, want 4 (p2pbroker, libp2pclient0, libp2pclient-dev, p2pbroker-dkms)"

cache=$("$here/mkrootfs.sh") || fail_all "could not build the Debian 12 guest (tests/systemd-vm/mkrootfs.sh)"
echo "vmcheck-systemd: guest $cache (rootfs ready after $(($(date +%s) - start))s)"

cp "$debdir"/*.deb "$work/data/deb/"
cp "$here/guest.sh" "$work/data/"
mke2fs -q -t ext4 -L p2pdata -d "$work/data" "$work/data.img" 64M || fail_all "mke2fs of the data disk failed"
qemu-img create -q -f qcow2 -b "$(realpath "$cache/rootfs.qcow2")" -F qcow2 "$work/root.qcow2" ||
	fail_all "qemu-img create failed"

# -cpu max (TCG): Debian's generic x86-64 kernel.  No getty on ttyS0: its
# vhangup() would cut p2pvm-run.service off the console.  An ivshmem device is the
# provider p2pd binds through driver_override (hardened_alloc).
log="$work/console.log"
t0=$(date +%s)
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
	-accel tcg -machine q35 -cpu max -smp "${P2P_SYSTEMD_VM_SMP:-2}" -m 2G \
	-display none -nodefaults -no-reboot -serial stdio \
	-kernel "$cache/vmlinuz" -initrd "$cache/initrd.img" \
	-append "root=/dev/vda rw console=ttyS0 quiet loglevel=3 systemd.show_status=0 panic=-1 net.ifnames=0 systemd.mask=serial-getty@ttyS0.service" \
	-drive file="$work/root.qcow2",if=virtio,format=qcow2 \
	-drive file="$work/data.img",if=virtio,format=raw,readonly=on \
	-object memory-backend-ram,id=iv,size=8M -device ivshmem-plain,memdev=iv \
	</dev/null >"$log" 2>&1
rc=$?
secs=$(($(date +%s) - t0))
tr -d '\r' <"$log" >"$log.txt"

grep '^P2PSVM: INFO' "$log.txt" | sed 's/^P2PSVM: INFO /  /'
if ! grep -q '^P2PSVM: BOOTED' "$log.txt"; then
	tail -n 30 "$log.txt" | sed 's/^/  | /'
	fail_all "the guest never ran the scenarios (qemu exit $rc after ${secs}s); see $log"
fi
grep '^P2PSVM: BOOTED' "$log.txt" | sed 's/^P2PSVM: /  /'
done_ok=1
if ! grep -q '^P2PSVM: DONE' "$log.txt"; then
	done_ok=0
	tail -n 20 "$log.txt" | sed 's/^/  | /'
fi
for name in $names; do
	line=$(grep -E "^P2PSVM: (PASS|FAIL) $name(:|\$)" "$log.txt" | tail -n 1)
	case "$line" in
	"P2PSVM: PASS $name") report PASS "$name" ;;
	"P2PSVM: FAIL $name"*) report FAIL "$name" "${line#P2PSVM: FAIL $name: }" ;;
	*) if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		report FAIL "$name" "guest timed out after ${timeout_s}s before this scenario; see $log"
	   else report FAIL "$name" "no result (guest stopped after ${secs}s, qemu exit $rc); see $log"; fi ;;
	esac
done
[ $done_ok -eq 1 ] || report FAIL completed "the guest did not finish (qemu exit $rc after ${secs}s)"
echo "  guest ran ${secs}s; vmcheck-systemd took $(($(date +%s) - start))s in all"
finish
