#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Boot one guest setup and check its scenarios.
#
#   run-vm.sh SETUP KERNEL INITRAMFS LOGDIR [SERIES]
#     SETUP: max   (-cpu max: AMD family 15, not Zen; q35 host bridge not whitelisted)
#            epyc  (-cpu EPYC: Zen, cross-host-bridge pairs allowed)
#            iommu (-cpu max + intel-iommu + intel_iommu=on: ACS redirect on root ports)
#            epyc-iommu (both: ACS-redirected pairs go through the host bridge and IOMMU)
#            nop2p (-cpu max, KERNEL built without CONFIG_PCI_P2PDMA: host buffers only)
#
# SERIES (6.1, 6.12) is the guest kernel's series; it prefixes every result
# (NAME = SERIES/SETUP, or SETUP without it) and selects per-kernel scenarios.
# Prints "PASS NAME/scenario" or "FAIL NAME/scenario: why" for every expected
# scenario (one missing from the guest's output is a FAIL, as is a guest that
# dies or runs past P2P_VM_TIMEOUT seconds), "agree N/N (NAME)", and finally
# "run-vm NAME: N passed, N failed".  Exit status non-zero on any failure.
set -uo pipefail
setup=$1 kernel=$2 initrd=$3 logdir=$4 kver=${5:-}
name=${kver:+$kver/}$setup
timeout_s=${P2P_VM_TIMEOUT:-420}
mkdir -p "$logdir"
log="$logdir/$setup.log"
img="$logdir/nvme-$setup.img"
# The NVMe's backing file: zeros, then random bytes from 1 MiB on, which the
# p2p_io_* scenarios read and write (the host compares them, see below).
ivimg="$logdir/ivshmem8-$setup.img"
rm -f "$img" "$ivimg" "$log.hostcheck" "$log.qemu-done"
truncate -s 8M "$img"
head -c 7M /dev/urandom | dd of="$img" bs=1M seek=1 conv=notrunc status=none

case "$setup" in
max) cpu=max; extra=(); cmdline_extra="" ;;
epyc) cpu=EPYC; extra=(); cmdline_extra="" ;;
iommu) cpu=max; extra=(-device intel-iommu,intremap=off); cmdline_extra="intel_iommu=on" ;;
epyc-iommu) cpu=EPYC; extra=(-device intel-iommu,intremap=off); cmdline_extra="intel_iommu=on" ;;
nop2p) cpu=max; extra=(); cmdline_extra="" ;; # a guest kernel without CONFIG_PCI_P2PDMA
fuzz) cpu=max; extra=(); cmdline_extra="p2pvm.fuzz_seconds=${P2P_VM_FUZZ_SECONDS:-60}" ;; # make vmcheck-fuzz
*) echo "run-vm: unknown setup $setup" >&2; exit 2 ;;
esac

# Topology (DESIGN.md "VM facts"):
#  pcie.0 -- rp1 -- x3130 upstream -- dn1: ivshmem 4M
#                                  -- dn2: ivshmem 8M
#                                  -- dn3: nvme with a 16 MiB CMB
#         -- rp2 -- one device, two functions: ivshmem 16M (fn 0), 32M (fn 1)
#         -- pxb-pcie (second host bridge, bus 64) -- rp3 -- ivshmem 2M
#         -- edu (a device on the root bus)
qemu_args=(
	-accel tcg -machine q35 -cpu "$cpu" -smp 1 -m 1G
	-display none -nodefaults -no-reboot -serial stdio
	"${extra[@]}"
	-kernel "$kernel" -initrd "$initrd"
	-append "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init p2pvm.setup=$setup $cmdline_extra"
	-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1
	-device x3130-upstream,id=up1,bus=rp1
	-device xio3130-downstream,id=dn1,bus=up1,chassis=2,slot=0
	-device xio3130-downstream,id=dn2,bus=up1,chassis=3,slot=1
	-device xio3130-downstream,id=dn3,bus=up1,chassis=4,slot=2
	-object memory-backend-ram,id=m4,size=4M -device ivshmem-plain,memdev=m4,bus=dn1
	-object memory-backend-file,id=m8,size=8M,share=on,mem-path="$ivimg"
	-device ivshmem-plain,memdev=m8,bus=dn2
	-drive file="$img",if=none,id=nvm,format=raw
	-device nvme,serial=p2pvm,drive=nvm,cmb_size_mb=16,bus=dn3
	-device pcie-root-port,id=rp2,bus=pcie.0,chassis=5,slot=2
	-object memory-backend-ram,id=m16,size=16M
	-device ivshmem-plain,memdev=m16,bus=rp2,addr=0.0,multifunction=on
	-object memory-backend-ram,id=m32,size=32M -device ivshmem-plain,memdev=m32,bus=rp2,addr=0.1
	-device pxb-pcie,id=pxb1,bus_nr=64,bus=pcie.0
	-device pcie-root-port,id=rp3,bus=pxb1,chassis=6,slot=3
	-object memory-backend-ram,id=m2,size=2M -device ivshmem-plain,memdev=m2,bus=rp3
	-device edu,bus=pcie.0
)

# The host side of the p2p_io_* scenarios: for each guest line
#   P2PVM: HOSTCHECK NAME ivshmem8 BAR_OFF nvme FILE_OFF LEN
# compare the 8M ivshmem's memory-backend file at BAR_OFF with the NVMe's
# backing file at FILE_OFF (the bytes really are in the device memory and on
# the disk), and answer in the device memory: 16 bytes at BAR_OFF, which the
# guest polls through its mapping.
hostcheck_loop() {
	local handled=0 n name boff foff len verdict
	while :; do
		n=0
		while read -r _ _ name _ boff _ foff len; do
			n=$((n + 1))
			[ "$n" -le "$handled" ] && continue
			handled=$n
			if cmp -s -n "$len" -i "$boff:$foff" "$ivimg" "$img"; then verdict=SAME; else verdict=DIFF; fi
			echo "$name: host compared ivshmem8+$boff with nvme+$foff ($len bytes): $verdict" >>"$log.hostcheck"
			printf 'P2PVM-HOST-%s\n' "$verdict" | dd of="$ivimg" bs=1 seek="$boff" conv=notrunc status=none
		done < <(tr -d '\r' <"$log" | grep '^P2PVM: HOSTCHECK ')
		[ -e "$log.qemu-done" ] && break
		sleep 0.2
	done
}
: >"$log"
hostcheck_loop &
hostcheck_pid=$!

start=$(date +%s)
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 "${qemu_args[@]}" </dev/null >"$log" 2>&1
rc=$?
touch "$log.qemu-done"
wait "$hostcheck_pid"
secs=$(($(date +%s) - start))
tr -d '\r' <"$log" >"$log.txt"

expected="insmod bind ioctl_abi kernel_paths kernel_agreement verdict_acs_ec verdict_max_clients
verdict_reserved alloc_p2p_ivshmem alloc_p2p_nvme_cmb
alloc_host import_same_switch import_without_peer2peer_refused import_vgem import_cross_host_bridge
import_multifunction open_needs_cap revoke revoke_fences revoke_pinned revoke_static_host
map_twice_same_device
host_enomem sg_max_segment zero_yields
provider_unbind unbind_stuck_importer import_departing_device stress_revoke_race nvme_unbind cmb_unbind_race no_leaks rmmod
dmesg_clean"
if [ "$setup" = fuzz ]; then
	expected="insmod kmod_fuzz rmmod dmesg_clean"
fi
if [ "$setup" = nop2p ]; then
	expected="insmod nop2p_version nop2p_bind_refused nop2p_p2p_alloc_refused nop2p_verdicts
alloc_host nop2p_status rmmod dmesg_clean"
fi
# Scenarios that only some kernels run go here, keyed on the series, e.g.
#   if kver_ge 6.2; then expected="$expected p2p_io_odirect"; fi
# (the guest sees its own release in uname -r).
kver_ge() { [ -n "$kver" ] && [ "$(printf '%s\n%s\n' "$1" "$kver" | sort -V | head -n 1)" = "$1" ]; }
# P2P I/O (NVMe <-> ivshmem behind one switch): pages pinned for O_DIRECT
# since 6.2; before, the library bounces.
if [ "$setup" = max ]; then
	if kver_ge 6.2; then
		expected="$expected p2p_io_read p2p_io_write p2p_io_refused p2p_io_revoke p2p_io_pin_outlives p2p_io_unbind_pinned"
	else
		expected="$expected p2p_io_fallback"
	fi
	expected="$expected p2p_io_p2pctl"
fi
if grep -q '^P2PVM: DAEMON' "$log.txt"; then
	expected="$expected $(sed -n 's/^P2PVM: DAEMON //p' "$log.txt")"
fi

pass=0 fail=0
report() { # STATUS NAME [WHY]
	if [ "$1" = PASS ]; then pass=$((pass + 1)); echo "PASS $name/$2"
	else fail=$((fail + 1)); echo "FAIL $name/$2${3:+: $3}"; fi
}

grep '^P2PVM: INFO' "$log.txt" | sed "s|^P2PVM: INFO |  [$name] |"
grep '^P2PVM: BOOTED' "$log.txt" | sed "s|^P2PVM: |  [$name] |"
[ -e "$log.hostcheck" ] && sed "s|^|  [$name] |" "$log.hostcheck"
grep '^agree ' "$log.txt" | sed "s|\$| ($name)|"
grep '^kmod-fuzz: ' "$log.txt" | sed "s|\$| ($name)|"
if ! grep -q '^P2PVM: BOOTED' "$log.txt"; then
	report FAIL boot "guest never reached /init (qemu exit $rc after ${secs}s); see $log"
	tail -n 20 "$log.txt" | sed 's/^/  | /'
fi
if ! grep -q '^P2PVM: DONE' "$log.txt"; then
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		report FAIL completed "guest timed out after ${timeout_s}s; see $log"
	else
		report FAIL completed "guest died before DONE (qemu exit $rc after ${secs}s); see $log"
	fi
	tail -n 20 "$log.txt" | sed 's/^/  | /'
fi
for sc in $expected; do
	line=$(grep -E "^P2PVM: (PASS|FAIL) $sc(:|\$)" "$log.txt" | tail -n 1)
	case "$line" in
	"P2PVM: PASS $sc") report PASS "$sc" ;;
	"P2PVM: FAIL $sc"*) report FAIL "$sc" "${line#P2PVM: FAIL $sc: }" ;;
	*) report FAIL "$sc" "no result (guest did not get that far)" ;;
	esac
done
# A scenario the guest reported that the harness does not know is a failure too.
for sc in $(sed -nE 's/^P2PVM: (PASS|FAIL) ([a-z0-9_]+).*/\2/p' "$log.txt" | sort -u); do
	case " $(echo $expected) " in *" $sc "*) ;; *) report FAIL "$sc" "unexpected scenario" ;; esac
done
grep '^P2PVM-DMESG' "$log.txt" | tail -n 40 | sed 's/^/  /'
echo "  [$name] guest ran ${secs}s"
echo "run-vm $name: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
