#!/bin/bash
# SPDX-License-Identifier: MIT
# vmcheck-systemd, inside the Debian 12 guest (systemd is PID 1; run by
# p2pvm-run.service from the read-only data disk mounted at /mnt/p2pvm).
# Installs the .debs as the README says, then checks them; every scenario
# prints "P2PSVM: PASS name" or "P2PSVM: FAIL name: why" on the console.
set -u
D=/mnt/p2pvm
export DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "P2PSVM: $*"; }
info() { echo "P2PSVM: INFO $*"; }
oneline() { tr '\n' ' ' | tr -s ' ' | cut -c1-400; }
# scenario bookkeeping: a scenario fails with its first reason
cur= why=
begin() { cur=$1; why=; }
bad() { [ -n "$why" ] || why=$*; }
end() { if [ -z "$why" ]; then say "PASS $cur"; else say "FAIL $cur: $why"; fi; }
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
wait_inactive() { # UNIT SECONDS
	local i=0
	while [ "$(systemctl is-active "$1")" != inactive ] && [ $i -lt $(($2 * 4)) ]; do sleep 0.25; i=$((i + 1)); done
}

say "BOOTED $(uname -r) pid1=$(readlink /proc/1/exe)"
[ "$(readlink /proc/1/exe)" = /usr/lib/systemd/systemd ] || [ "$(readlink /proc/1/exe)" = /lib/systemd/systemd ] ||
	info "PID 1 is not systemd"
SECONDS=0

# ---- install as an admin does (README "Install on Debian") -------------------
mkdir -p /root/p2pbroker/build/deb
cp "$D"/deb/*.deb /root/p2pbroker/build/deb/
chmod -R a+rX /root/p2pbroker
cd /root/p2pbroker
t0=$SECONDS
apt install -y ./build/deb/*.deb >/root/apt.log 2>&1
apt_rc=$?
info "apt install: exit $apt_rc after $((SECONDS - t0))s (DKMS build included)"
sed -n '/Building for\|Building initial\|dkms\|Error\|error/p' /root/apt.log | head -n 20 | sed 's/^/P2PSVM: INFO apt| /'
usermod -aG p2p alice
cd /

# Right after the install: the socket listens, the service does not run.
sock_state="socket=$(systemctl is-active p2pd.socket)/$(systemctl is-enabled p2pd.socket) service=$(systemctl is-active p2pd.service)"
sock_perm=$(stat -c '%U:%G %a' /run/p2pd/p2pd.sock 2>&1)
info "after install: $sock_state, /run/p2pd/p2pd.sock $sock_perm"

# ---- socket_activation ---------------------------------------------------------
begin socket_activation
[ $apt_rc -eq 0 ] || bad "apt install failed: $(tail -n 5 /root/apt.log | oneline)"
[ "$sock_state" = "socket=active/enabled service=inactive" ] || bad "after install: $sock_state"
[ "$sock_perm" = "root:p2p 660" ] || bad "socket is '$sock_perm', want root:p2p 660"
getent group p2p >/dev/null || bad "group p2p was not created"
out=$(as mallory p2pctl status 2>&1)
rc=$?
info "mallory (not in p2p): exit $rc: $(echo "$out" | oneline)"
[ $rc -ne 0 ] && echo "$out" | grep -qi 'permission denied\|EACCES' || bad "mallory: exit $rc '$(echo "$out" | oneline)', want EACCES"
[ "$(systemctl is-active p2pd.service)" = inactive ] || bad "p2pd.service started for mallory"
out=$(as alice p2pctl status 2>&1)
rc=$?
[ $rc -eq 0 ] || bad "alice (in p2p): exit $rc: $(echo "$out" | oneline)"
st=$(systemctl show -p ActiveState -p SubState -p FragmentPath -p DropInPaths -p MainPID p2pd.service | oneline)
info "after alice connected: $st"
echo "$st" | grep -q 'ActiveState=active' && echo "$st" | grep -q 'SubState=running' ||
	bad "p2pd.service not active/running after alice connected: $st"
echo "$st" | grep -q 'FragmentPath=/lib/systemd/system/p2pd.service' && echo "$st" | grep -q 'DropInPaths= ' ||
	bad "not the shipped unit: $st"
v=$(dpkg --verify p2pbroker 2>&1)
[ -z "$v" ] || bad "installed files differ from the package: $(echo "$v" | oneline)"
journalctl -b -u p2pd.service -o cat --no-pager | grep -q 'Started p2pd.service\|Started PCIe peer-to-peer DMA broker' ||
	bad "the journal does not show the start (READY)"
end

# Host buffers before the module: udmabuf / dma-heap under DevicePolicy=closed.
alloc_out=$(as alice p2pctl alloc 1M types=host 2>&1)
alloc_rc=$?
info "alice alloc 1M host (no module): exit $alloc_rc: $(echo "$alloc_out" | oneline)"

# ---- dkms_install --------------------------------------------------------------
begin dkms_install
k=$(uname -r)
ds=$(dkms status 2>&1)
info "dkms status: $(echo "$ds" | oneline)"
echo "$ds" | grep -q "^p2pbroker/[^,]*, $k, x86_64: installed" || bad "dkms status: $(echo "$ds" | oneline)"
mp=$(modinfo -n p2pbroker 2>&1)
case "$mp" in /lib/modules/$k/updates/dkms/p2pbroker.ko*) ;; *) bad "modinfo: $mp" ;; esac
out=$(modprobe p2pbroker 2>&1) || bad "modprobe p2pbroker: $out"
[ -c /dev/p2pbroker ] || bad "/dev/p2pbroker missing after modprobe"
# p2pd started before the module: DeviceAllow= took no /dev/p2pbroker rule then;
# a restart picks the module up (the next connection starts it again).
systemctl stop p2pd.service
status=$(p2pctl status 2>&1)
info "p2pctl status: $(echo "$status" | oneline)"
echo "$status" | grep -q kmod || bad "status does not show the kmod backend"
echo "$status" | grep -q 'unsupported by this kernel' || bad "status does not say the kernel has no P2PDMA"
end

# ---- hardened_alloc ------------------------------------------------------------
begin hardened_alloc
[ $alloc_rc -eq 0 ] || bad "host buffer without the module: $(echo "$alloc_out" | oneline)"
out=$(as alice p2pctl alloc 1M types=host 2>&1)
rc=$?
info "alice alloc 1M host (module loaded): exit $rc: $(echo "$out" | oneline)"
[ $rc -eq 0 ] && echo "$out" | grep -q kmod || bad "alice, host with the module: exit $rc '$(echo "$out" | oneline)'"
for b in udmabuf dma-heap; do
	if echo "$alloc_out" | grep -q "$b"; then info "backend before the module: $b"; fi
done
# Provider binding through driver_override, by the daemon under the unit.
iv=$(lspci -Dn -d 1af4:1110 | awk '{print $1; exit}')
if [ -z "$iv" ]; then
	bad "no ivshmem device in the guest"
else
	out=$(p2pctl alloc 1M provider="$iv" types=p2p 2>&1)
	ov=$(cat /sys/bus/pci/devices/$iv/driver_override 2>&1)
	info "root p2p alloc on $iv: $(echo "$out" | oneline); driver_override=$ov"
	[ "$ov" = p2pbroker ] || bad "p2pd did not set $iv's driver_override ('$ov'): $(echo "$out" | oneline)"
	if echo "$out" | grep -qi 'read-only\|permission denied'; then
		bad "the sandbox blocked the bind: $(echo "$out" | oneline)"
	fi
	echo >/sys/bus/pci/devices/$iv/driver_override
fi
sec=$(systemd-analyze security p2pd.service 2>&1)
echo "$sec" | grep -E '^[✗] ' | sed 's/^/P2PSVM: INFO security| /' | cut -c1-160
lvl=$(echo "$sec" | sed -n 's/.*Overall exposure level for p2pd.service: \([0-9.]*\).*/\1/p')
info "systemd-analyze security p2pd.service: exposure $lvl"
[ -n "$lvl" ] && awk -v l="$lvl" 'BEGIN { exit !(l <= 2.0) }' || bad "exposure '$lvl' > 2.0"
end

# ---- reload --------------------------------------------------------------------
begin reload
cp /etc/p2pd/p2pd.json /root/p2pd.json.orig
out=$(as alice p2pctl buffers 2>&1) && bad "alice is admin before the reload: $(echo "$out" | oneline)"
sed 's/"version": 1,/"version": 1,\n  "admin_group": "p2p",/' /root/p2pd.json.orig >/etc/p2pd/p2pd.json
systemctl reload p2pd.service || bad "systemctl reload failed: $(journalctl -u p2pd.service -n 4 -o cat --no-pager | oneline)"
sleep 1
out=$(as alice p2pctl buffers 2>&1) || bad "admin_group p2p not applied: $(echo "$out" | oneline)"
printf '{ "version": 1, "admin_group": "p2p", }\n' >/etc/p2pd/p2pd.json
since=$(date '+%Y-%m-%d %H:%M:%S')
systemctl reload p2pd.service
sleep 1
[ "$(systemctl is-active p2pd.service)" = active ] || bad "p2pd died on a broken config"
out=$(as alice p2pctl buffers 2>&1) || bad "the old config did not stay: $(echo "$out" | oneline)"
j=$(journalctl -u p2pd.service --since "$since" -o cat --no-pager 2>&1)
info "journal after the broken reload: $(echo "$j" | grep -i 'p2pd.json' | head -n 2 | oneline)"
echo "$j" | grep -q '/etc/p2pd/p2pd.json:1: syntax error' || bad "the journal does not say why: $(echo "$j" | oneline)"
cp /root/p2pd.json.orig /etc/p2pd/p2pd.json
systemctl reload p2pd.service
end

# ---- journal -------------------------------------------------------------------
begin journal
js=$(journalctl -b -u p2pd.service -o json --no-pager 2>&1)
n=$(echo "$js" | grep -c '"SYSLOG_IDENTIFIER":"p2pd"')
info "journal: $n p2pd entries, fields: $(echo "$js" | grep -o '"P2P_[A-Z_]*"' | sort -u | oneline)"
[ "$n" -gt 0 ] || bad "no p2pd entries in the journal"
echo "$js" | grep '"SYSLOG_IDENTIFIER":"p2pd"' | grep -q '"P2P_CLIENT_UID":"'"$(id -u alice)"'"' ||
	bad "no entry with P2P_CLIENT_UID=$(id -u alice) (alice's requests)"
echo "$js" | grep '"SYSLOG_IDENTIFIER":"p2pd"' | grep -q '"PRIORITY":"' || bad "no PRIORITY field"
echo "$js" | grep '"SYSLOG_IDENTIFIER":"p2pd"' | grep -q '"CODE_FILE"\|"P2P_BUFFER"' || bad "no P2P_BUFFER/CODE_FILE field"
end

# ---- restart_keeps_buffers -----------------------------------------------------
begin restart_keeps_buffers
as alice p2pctl alloc 2M types=host name=kept hold=600 >/root/hold.out 2>&1 &
hold=$!
i=0
until p2pctl --json buffers 2>/dev/null | grep -q '"name":"kept"' || [ $i -ge 120 ]; do sleep 0.5; i=$((i + 1)); done
before=$(p2pctl --json buffers 2>&1)
pid1=$(systemctl show -p MainPID --value p2pd.service)
systemctl restart p2pd.service || bad "systemctl restart failed"
pid2=$(systemctl show -p MainPID --value p2pd.service)
after=$(p2pctl --json buffers 2>&1)
info "before: $(echo "$before" | oneline)"
info "after restart (pid $pid1 -> $pid2): $(echo "$after" | oneline)"
echo "$before" | grep -q '"backend":"kmod"' || bad "the held buffer is not a kmod one: $(echo "$before" | oneline)"
[ "$pid1" != "$pid2" ] && [ "$pid2" != 0 ] || bad "p2pd was not restarted ($pid1 -> $pid2)"
echo "$after" | grep -q '"orphaned":true' && echo "$after" | grep -q "\"uid\":$(id -u alice)" ||
	bad "the buffer was not adopted: $(echo "$after" | oneline)"
kill -0 $hold 2>/dev/null || bad "the holder died: $(oneline </root/hold.out)"
journalctl -u p2pd.service -o cat --no-pager | grep -q 'adopted [1-9][0-9]* live buffers' ||
	bad "the journal does not say the buffers were adopted"
kill $hold 2>/dev/null
wait $hold 2>/dev/null
end

info "guest ran ${SECONDS}s"
say "DONE"
