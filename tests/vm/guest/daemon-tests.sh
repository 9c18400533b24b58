#!/bin/sh
# Daemon scenarios in the guest: the real p2pd with the kmod backend, driven by
# p2pctl and p2pbclient (libp2pclient).  Run by /init after p2pbtest, which
# bound the providers and wrote their addresses to /run/p2pvm-devices.
setup=$1
names="daemon_start daemon_alloc_unprivileged daemon_alloc_direct_io daemon_alloc_host daemon_bind_on_demand daemon_policy daemon_revoke daemon_revoke_busy daemon_restart daemon_restart_adopt daemon_check_kernel"
echo "P2PVM: DAEMON $names"
res() { echo "P2PVM: $1 $2${3:+: $3}"; }
fail_all() { for n in $names; do res FAIL "$n" "$1"; done; exit 0; }

[ -x /bin/p2pd ] || fail_all "build/p2pd was not built"
[ -x /bin/p2pctl ] || fail_all "build/p2pctl was not built"
[ -x /bin/p2pbclient ] || fail_all "p2pbclient (libp2pclient) was not built"
[ -r /run/p2pvm-devices ] || fail_all "p2pbtest did not record the devices"
. /run/p2pvm-devices

S=/run/p2pd/p2pd.sock
mkdir -p /run/p2pd
cat >/run/p2pd.json <<JSON
{
  "version": 1,
  "socket": { "path": "$S", "mode": "0660", "group": "nogroup" },
  "providers": [ { "device": "$IV4", "bar": 2, "size": "4M" }, { "device": "$IV8", "bar": 2, "size": "8M" } ],
  "rules": [
    { "uid": 0, "devices": ["*"], "types": ["p2p", "host", "memfd"] },
    { "uid": 65534, "devices": ["*"], "types": ["p2p", "host"], "max_bytes": "4M", "max_buffers": 4 }
  ],
  "default": { "devices": ["*"], "types": ["host"], "max_bytes": "1M", "max_buffers": 1 }
}
JSON

P2PD_PID=
start_p2pd() {
	p2pd --config /run/p2pd.json --socket "$S" --log stderr >>/tmp/p2pd.log 2>&1 &
	P2PD_PID=$!
	i=0
	while [ $i -lt 60 ]; do
		if [ -S "$S" ] && p2pctl --socket "$S" status >/tmp/status.out 2>&1; then
			return 0
		fi
		kill -0 "$P2PD_PID" 2>/dev/null || return 1
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}
stop_p2pd() {
	[ -n "$P2PD_PID" ] || return 0
	kill "$P2PD_PID" 2>/dev/null
	wait "$P2PD_PID" 2>/dev/null
	P2PD_PID=
}
one_line() { tr '\n' ' ' <"$1" | cut -c1-300; }

if ! start_p2pd; then
	res FAIL daemon_start "p2pd did not come up: $(tail -n 5 /tmp/p2pd.log | tr '\n' ' ')"
	for n in $names; do [ "$n" = daemon_start ] || res FAIL "$n" "no daemon"; done
	exit 0
fi
if grep -q kmod /tmp/status.out; then
	res PASS daemon_start
else
	res FAIL daemon_start "status does not list the kmod backend: $(one_line /tmp/status.out)"
fi

# An unprivileged client gets a p2p buffer from the kmod backend through p2pd.
# Its "direct_io" says whether O_DIRECT can reach the BAR pages: from 6.2 the
# module maps p2pdma pages (FOLL_PCI_P2PDMA can pin them), on 6.1 it cannot.
kver=$(uname -r)
kmaj=${kver%%.*} kmin=${kver#*.}
kmin=${kmin%%[!0-9]*}
if [ "$kmaj" -gt 6 ] || { [ "$kmaj" -eq 6 ] && [ "$kmin" -ge 2 ]; }; then
	want_dio=true
else
	want_dio=false
fi
out=$(p2pbclient "$S" alloc 65534 "$IV4" "$IV8" 1048576 2>&1)
case "$out" in
OK*) res PASS daemon_alloc_unprivileged ;;
*) res FAIL daemon_alloc_unprivileged "$out" ;;
esac
case "$out" in
OK*direct_io=$want_dio) res PASS daemon_alloc_direct_io ;;
*) res FAIL daemon_alloc_direct_io "kernel $kver: want direct_io=$want_dio: $out" ;;
esac

# Host buffers come from the kmod backend too (it is first in line); their
# pages are ordinary pages: direct I/O works on every kernel.
out=$(p2pbclient "$S" alloc-host 65534 1048576 2>&1)
case "$out" in
OK*direct_io=true) res PASS daemon_alloc_host ;;
*) res FAIL daemon_alloc_host "want direct_io=true: $out" ;;
esac

# A provider with no driver is bound to p2pbroker by the kmod backend on demand.
echo "$IV8" >/sys/bus/pci/devices/$IV8/driver/unbind
echo >/sys/bus/pci/devices/$IV8/driver_override
if [ -e /sys/bus/pci/devices/$IV8/p2pmem ] || [ -e /sys/bus/pci/devices/$IV8/driver ]; then
	res FAIL daemon_bind_on_demand "could not unbind $IV8 first"
else
	out=$(p2pbclient "$S" alloc 0 "$IV8" "$IV4" 2097152 2>&1)
	drv=$(basename "$(readlink /sys/bus/pci/devices/$IV8/driver)")
	case "$out" in
	OK*) if [ "$drv" = p2pbroker ]; then res PASS daemon_bind_on_demand
	     else res FAIL daemon_bind_on_demand "allocated but driver is '$drv'"; fi ;;
	*) res FAIL daemon_bind_on_demand "$out" ;;
	esac
fi

# Policy: quota for uid 65534, no p2p for others.
q=$(p2pbclient "$S" alloc 65534 "$IV4" "$IV8" 8388608 2>&1)
d=$(p2pbclient "$S" alloc 1000 "$IV4" "$IV8" 4096 2>&1)
case "$q|$d" in
"ERR EDQUOT"*"|ERR EPERM"*) res PASS daemon_policy ;;
*) res FAIL daemon_policy "over quota: '$q'; p2p for uid 1000: '$d'" ;;
esac

# Admin revoke through the daemon reaches the kernel: SIGBUS on access.
out=$(p2pbclient "$S" revoke "$IV4" "$IV8" 2>&1)
case "$out" in
OK*) res PASS daemon_revoke ;;
*) res FAIL daemon_revoke "$out" ;;
esac

# A revoke the kernel holds up (an importer that never unmaps) does not hold
# up p2pd: another client is answered meanwhile (issue 14; worker.c).
out=$(p2pbclient "$S" revoke-busy "$IV4" "$IV8" 2>&1)
case "$out" in
OK*) res PASS daemon_revoke_busy; echo "P2PVM: INFO daemon_revoke_busy: $out" ;;
*) res FAIL daemon_revoke_busy "$out" ;;
esac

# The daemon asks the running kernel too: check --kernel agrees with p2pd.
out=$(p2pctl --socket "$S" --json check --kernel "$IV4" "$IV8" 2>&1)
if echo "$out" | grep -q '"agrees":true'; then
	res PASS daemon_check_kernel
else
	res FAIL daemon_check_kernel "$(echo "$out" | tr '\n' ' ' | cut -c1-300)"
fi

# Buffers outlive a daemon killed with SIGKILL; the new daemon adopts them from
# the module (listed with their owners) and still counts them in quotas.
rm -f /tmp/ready /tmp/ready2
p2pbclient "$S" hold "$IV4" "$IV8" /tmp/ready >/tmp/hold.out 2>&1 &
hold=$!
p2pbclient "$S" hold-as 65534 3145728 "$IV8" "$IV4" /tmp/ready2 >/tmp/hold2.out 2>&1 &
hold2=$!
i=0
while { [ ! -e /tmp/ready ] || [ ! -e /tmp/ready2 ]; } && [ $i -lt 40 ]; do sleep 0.25; i=$((i + 1)); done
kill -9 "$P2PD_PID" 2>/dev/null
wait "$P2PD_PID" 2>/dev/null
P2PD_PID=
if start_p2pd; then
	p2pctl --socket "$S" --json buffers >/tmp/buffers.json 2>&1
	q=$(p2pbclient "$S" alloc 65534 "$IV4" "$IV8" 2097152 2>&1)
	if grep -q '"uid":65534' /tmp/buffers.json && grep -q '"orphaned":true' /tmp/buffers.json &&
		[ "${q#ERR EDQUOT}" != "$q" ]; then
		res PASS daemon_restart_adopt
	else
		res FAIL daemon_restart_adopt "buffers: $(one_line /tmp/buffers.json); 2M more for 65534 holding 3M of 4M: $q"
	fi
	kill -USR1 $hold $hold2 2>/dev/null
	wait $hold
	rc=$?
	wait $hold2
	rc2=$?
	out=$(p2pbclient "$S" alloc 65534 "$IV4" "$IV8" 1048576 2>&1)
	if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && [ "${out#OK}" != "$out" ]; then
		res PASS daemon_restart
	else
		res FAIL daemon_restart "held buffers: $(one_line /tmp/hold.out) / $(one_line /tmp/hold2.out); new alloc: $out"
	fi
else
	kill $hold $hold2 2>/dev/null
	res FAIL daemon_restart "p2pd did not restart: $(tail -n 5 /tmp/p2pd.log | tr '\n' ' ')"
	res FAIL daemon_restart_adopt "p2pd did not restart"
fi
stop_p2pd
grep -iE 'error|crit|alert' /tmp/p2pd.log | head -n 5 | sed 's/^/P2PVM: INFO p2pd: /'
exit 0
