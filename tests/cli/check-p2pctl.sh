#!/usr/bin/env bash
# check-p2pctl.sh - p2pctl's offline mode as a user meets it: output shapes,
# --json fields, and one clear error line + the right exit code for bad input.
# Last line: "p2pctl: N passed, N failed".
set -u
P2PCTL=${P2PCTL:-build/p2pctl}
P2PD=${P2PD:-$(dirname "$P2PCTL")/p2pd}
FX=tests/fixtures/sysfs
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

# expect_err NAME EXIT PATTERN -- ARGS...: exit code, exactly one stderr line, matching.
expect_err() {
	local name=$1 want=$2 pat=$3; shift 4
	"$P2PCTL" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$? lines
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -qE "^p2pctl: .*$pat" "$tmp/err" && [ ! -s "$tmp/out" ]; then
		ok "$name"
	else
		bad "$name: rc=$rc (want $want), stderr: $(cat "$tmp/err")"
	fi
}

# json_check NAME PYEXPR -- ARGS...: run with --json, evaluate PYEXPR with d = parsed doc.
json_check() {
	local name=$1 expr=$2; shift 3
	if "$P2PCTL" --json "$@" >"$tmp/j" 2>"$tmp/err" &&
		python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($expr) else 1)" "$tmp/j"; then
		ok "$name"
	else
		bad "$name: $(head -c 300 "$tmp/err") $(head -c 300 "$tmp/j")"
	fi
}

expect_err "missing fsroot" 1 "cannot open --fsroot .*No such file" -- --fsroot /nonexistent/x topo
mkdir -p "$tmp/empty"
expect_err "empty fsroot" 1 "no PCI functions found" -- --fsroot "$tmp/empty" topo
expect_err "bad BDF" 2 "not a PCI address" -- --fsroot $FX/qemu-q35 check 03:00 04:00.0
expect_err "unknown device" 1 "no PCI function 0000:99:00.0" -- --fsroot $FX/qemu-q35 check 99:00.0 04:00.0
expect_err "unknown option" 2 "unknown or incomplete option" -- --frobnicate topo
expect_err "missing option argument" 2 "unknown or incomplete option" -- topo --fsroot
expect_err "bad cpu" 2 "bad --cpu" -- --fsroot $FX/qemu-q35 --cpu via:6 topo
expect_err "unknown command offline" 2 "needs the daemon" -- --fsroot $FX/qemu-q35 frobnicate
expect_err "check arity" 2 "usage: p2pctl check" -- --fsroot $FX/qemu-q35 check 03:00.0
expect_err "snapshot unwritable" 1 "cannot create" -- snapshot /nonexistent/dir/x.tar
"$P2PCTL" >/dev/null 2>&1; [ $? -eq 2 ] && ok "no command: usage, exit 2" || bad "no command"
"$P2PCTL" --help | grep -q "usage: p2pctl" && ok "--help" || bad "--help"

Q=$FX/qemu-q35
json_check "topo fields" "all(k in x for x in d['devices'] for k in ('bdf','parent','host_bridge','vendor','device','class','numa_node')) and any(x['bdf']=='0000:00:00.0' and x['parent'] is None for x in d['devices'])" -- --fsroot $Q topo
json_check "check same switch" "d['map_type']=='bus_addr' and d['distance']==4 and d['class']=='PIX' and isinstance(d['reasons'],list) and all('code' in r and 'message' in r for r in d['reasons'])" -- --fsroot $Q check 0000:03:00.0 0000:04:00.0
json_check "check non-zen cross root port" "d['map_type']=='not_supported' and d['distance']==-1 and any(r['code']=='host_bridge_not_whitelisted' for r in d['reasons'])" -- --fsroot $Q --cpu amd:15 check 03:00.0 06:00.0
json_check "check zen cross root port" "d['map_type']=='thru_host_bridge' and d['distance']>0 and any(r['code']=='cpu_zen' for r in d['reasons'])" -- --fsroot $Q --cpu amd:0x17 check 03:00.0 06:00.0
json_check "check acs fix hint" "d['map_type']=='not_supported' and d['fix_hint'].startswith('pci=disable_acs_redir=') and len(d['acs_redirect'])>0" -- --fsroot $FX/qemu-q35-acs --cpu amd:15 check 06:00.0 06:00.1
json_check "matrix shape" "len(d['rows'])==len(d['devices'])>0 and all(len(r['cells'])==len(d['devices']) for r in d['rows'])" -- --fsroot $Q matrix
"$P2PCTL" --fsroot $Q --json topo >"$tmp/topo.json"
json_check "matrix --all covers every function" "len(d['devices'])==len(json.load(open('$tmp/topo.json'))['devices'])" -- --fsroot $Q matrix --all
# A matrix too large to build is refused up front, not after gigabytes of JSON.
if python3 tests/fixtures/gen-fabric.py "$tmp/big" --functions 600 >/dev/null 2>&1; then
	expect_err "matrix --all over 600 functions" 1 "too large to build \(limit 512\)" -- --fsroot "$tmp/big" matrix --all
else
	bad "generating a 600-function tree"
fi
"$P2PCTL" --fsroot $Q topo | grep -q "switch-upstream" && ok "topo tree shows roles" || bad "topo tree"
"$P2PCTL" --fsroot $Q matrix | grep -q "PIX 4" && ok "matrix table shows PIX 4" || bad "matrix table"
"$P2PCTL" --fsroot $Q check 03:00.0 04:00.0 | grep -q "^verdict:    bus_addr" && ok "check table" || bad "check table"

# Kernel releases: each snapshot gets its own kernel's rules and says which.
K515=$FX/kernel-5.15 K61=$FX/kernel-6.1 K73=$FX/kernel-7.3 KNO=$FX/kernel-nop2p
json_check "5.15 machine: linux-5.15 rules" "d['rules']=='linux-5.15' and d['kernel_release']=='5.15.0-91-generic' and d['kernel_p2pdma'] is True and d['kernel']['config']=='proc/config.gz' and d['kernel']['release_source']=='osrelease'" -- --fsroot $K515 topo
json_check "5.15 machine: 09a2 not whitelisted yet" "d['map_type']=='not_supported' and d['rules']=='linux-5.15' and any(r['code']=='host_bridge_not_whitelisted' and 'linux-5.15' in r['message'] for r in d['reasons'])" -- --fsroot $K515 check 01:00.0 81:00.0
json_check "6.x machine: 09a2 whitelisted" "d['map_type']=='thru_host_bridge' and d['rules']=='linux-5.19' and d['kernel_release']=='6.1.0-28-amd64' and any(r['code']=='host_bridge_whitelisted' and 'feaea1fe8b36' in r['message'] for r in d['reasons'])" -- --fsroot $K61 check 01:00.0 81:00.0
json_check "6.x machine: config from boot/, cmdline read" "d['kernel']['config']=='boot/config-6.1.0-28-amd64' and d['kernel']['cmdline']['iommu']=='intel_iommu=on' and d['kernel']['cmdline']['pci_disable_acs_redir']=='0000:80:02.0'" -- --fsroot $K61 topo
json_check "6.x machine: fix hint extends the cmdline's list" "d['fix_hint']=='pci=disable_acs_redir=0000:80:02.0;0000:00:03.0' and any(r['code']=='acs_redirect' and 'intel_iommu=on' in r['message'] for r in d['reasons'])" -- --fsroot $K61 check 06:00.0 06:00.1
json_check "7.3 machine: 10de:2f95 whitelisted" "d['map_type']=='thru_host_bridge' and d['rules']=='linux-7.3' and d['kernel_release']=='7.3.0-1-arm64'" -- --fsroot $K73 check 01:00.0 81:00.0
json_check "7.3 machine under --kernel-release 6.12: refused" "d['map_type']=='not_supported' and d['rules']=='linux-5.19' and d['kernel_release']=='6.12.57+deb12-amd64'" -- --fsroot $K73 --kernel-release 6.12.57+deb12-amd64 check 01:00.0 81:00.0
json_check "--kernel-release 5.18 on the 5.15 machine: 09a2 flips" "d['map_type']=='thru_host_bridge' and d['rules']=='linux-5.18'" -- --fsroot $K515 --kernel-release 5.18.19 check 01:00.0 81:00.0
json_check "--kernel-release names the source" "d['kernel']['release_source']=='option' and d['rules_fit']=='known'" -- --fsroot $K515 --kernel-release 7.2.0 topo
json_check "unparsable release: newest table, said so" "d['rules']=='linux-7.3' and d['rules_fit']=='unparsable' and 'newest' in d['rules_note'] and 'my-kernel' in d['rules_note']" -- --fsroot $K515 --kernel-release my-kernel topo
json_check "newer release: newest table, said so" "d['rules']=='linux-7.3' and d['rules_fit']=='newer' and 'newer' in d['rules_note']" -- --fsroot $K515 --kernel-release 9.4.1 topo
json_check "no osrelease: newest table, said so" "d['kernel_release'] is None and d['rules']=='linux-7.3' and d['rules_fit']=='no_release' and d['kernel_p2pdma'] is None and 'unknown' in d['rules_note']" -- --fsroot $Q topo
expect_err "empty --kernel-release" 2 "needs a release" -- --fsroot $K515 --kernel-release "" topo
"$P2PCTL" --fsroot $K515 topo | grep -q "^Kernel: kernel 5.15.0-91-generic: rules of linux-5.15" && ok "topo header names the kernel and rules" || bad "topo header kernel line"
"$P2PCTL" --fsroot $Q topo | grep -q "^Kernel: kernel release unknown .*linux-7.3" && ok "topo header without osrelease says which table" || bad "topo header without osrelease"
"$P2PCTL" --fsroot $K61 check 01:00.0 81:00.0 | grep -q "^kernel: .*(linux-5.19)" && ok "check table names the rules" || bad "check table rules"
"$P2PCTL" --version | grep -q "linux-5.15 to linux-7.3" && ok "--version names the tables" || bad "--version"

# A kernel built without CONFIG_PCI_P2PDMA: nothing is supported, and every view says why.
json_check "no P2PDMA: topo says so" "d['kernel_p2pdma'] is False and d['kernel_release']=='6.12.57+deb12-amd64' and 'CONFIG_PCI_P2PDMA' in d['kernel']['p2pdma_note']" -- --fsroot $KNO topo
json_check "no P2PDMA: even one switch is refused" "d['map_type']=='not_supported' and d['distance']==-1 and d['kernel_p2pdma'] is False and d['reasons'][0]['code']=='kernel_no_p2pdma' and 'CONFIG_PCI_P2PDMA' in d['reasons'][0]['message'] and 'Debian' in d['reasons'][0]['message']" -- --fsroot $KNO check 04:00.0 05:00.0
json_check "no P2PDMA: every matrix cell not_supported" "d['kernel_p2pdma'] is False and all(c['map_type']=='not_supported' for r in d['rows'] for c in r['cells'])" -- --fsroot $KNO matrix --all
"$P2PCTL" --fsroot $KNO topo | grep -q "^NO P2P: kernel 6.12.57+deb12-amd64 was built without CONFIG_PCI_P2PDMA" && ok "no P2PDMA: topo header line" || bad "no P2PDMA: topo header"
"$P2PCTL" --fsroot $KNO matrix | grep -q "^NO P2P: " && ok "no P2PDMA: matrix header line" || bad "no P2PDMA: matrix header"
json_check "same tree with P2PDMA: bus_addr" "d['map_type']=='bus_addr' and d['kernel_p2pdma'] is True" -- --fsroot $K61 check 04:00.0 05:00.0

# snapshot of a fixture, read back: the same topology.
if "$P2PCTL" --fsroot $Q snapshot "$tmp/s.tar" 2>/dev/null && mkdir "$tmp/s" && tar xf "$tmp/s.tar" -C "$tmp/s" &&
	"$P2PCTL" --fsroot $Q --json topo | python3 -c 'import json,sys; print([(x["bdf"],x["parent"]) for x in json.load(sys.stdin)["devices"]])' >"$tmp/a" &&
	"$P2PCTL" --fsroot "$tmp/s" --json topo | python3 -c 'import json,sys; print([(x["bdf"],x["parent"]) for x in json.load(sys.stdin)["devices"]])' >"$tmp/b" &&
	cmp -s "$tmp/a" "$tmp/b"; then
	ok "snapshot round trip"
else
	bad "snapshot round trip"
fi

# Snapshots carry the kernel: release, command line, config (boot/ or proc/config.gz,
# byte for byte), iommu_group links and p2pmem/ files; --fsroot reads them back.
kfacts() { "$P2PCTL" --fsroot "$1" --json topo | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["rules"], d["rules_fit"], d["kernel_release"], d["kernel_p2pdma"], json.dumps(d["kernel"], sort_keys=True), sorted((x["bdf"], x["iommu_group"]) for x in d["devices"]))'; }
for case in kernel-6.1 kernel-5.15 kernel-nop2p; do
	rm -rf "$tmp/k" && mkdir "$tmp/k"
	if "$P2PCTL" --fsroot $FX/$case snapshot "$tmp/k.tar" 2>/dev/null && tar xf "$tmp/k.tar" -C "$tmp/k" &&
		kfacts $FX/$case >"$tmp/a" && kfacts "$tmp/k" >"$tmp/b" && cmp -s "$tmp/a" "$tmp/b" &&
		grep -q "'0000:01:00.0', [0-9]" "$tmp/b" &&
		cmp -s $FX/$case/proc/sys/kernel/osrelease "$tmp/k/proc/sys/kernel/osrelease" &&
		cmp -s $FX/$case/proc/cmdline "$tmp/k/proc/cmdline" &&
		{ [ -e $FX/$case/proc/config.gz ] && cmp -s $FX/$case/proc/config.gz "$tmp/k/proc/config.gz" ||
		  cmp -s $FX/$case/boot/config-"$(cat $FX/$case/proc/sys/kernel/osrelease)" \
			"$tmp/k/boot/config-$(cat $FX/$case/proc/sys/kernel/osrelease)"; }; then
		ok "snapshot of $case keeps its kernel (release, cmdline, config, iommu groups)"
	else
		bad "snapshot of $case: $(diff "$tmp/a" "$tmp/b" 2>&1 | head -c 400)"
	fi
done
# p2pmem/ of a p2pdma provider (a copy of a case with the files the kernel would show)
rm -rf "$tmp/pm" "$tmp/pmx" && cp -a $FX/kernel-6.1 "$tmp/pm" && mkdir "$tmp/pmx"
gpu=$(find "$tmp/pm/sys/devices" -type d -name 0000:01:00.0 | head -n1)
mkdir "$gpu/p2pmem" && echo 268435456 >"$gpu/p2pmem/size" && echo 201326592 >"$gpu/p2pmem/available" &&
	echo 1 >"$gpu/p2pmem/published"
if "$P2PCTL" --fsroot "$tmp/pm" snapshot "$tmp/pm.tar" 2>/dev/null && tar xf "$tmp/pm.tar" -C "$tmp/pmx" &&
	rel=${gpu#"$tmp/pm/"} && diff -r "$gpu/p2pmem" "$tmp/pmx/$rel/p2pmem" >/dev/null; then
	ok "snapshot keeps p2pmem/ size, available, published"
else
	bad "snapshot p2pmem/"
fi

# A hostile p2pd (P2PD_SOCKET): whatever strings it sends, p2pctl's tables,
# status and error lines show them escaped, never raw control characters.
python3 tests/cli/fake-p2pd.py "$tmp/fake.sock" &
fake=$!
for _ in $(seq 50); do [ -S "$tmp/fake.sock" ] && break; sleep 0.1; done
# raw_clean FILE: no C0 (but newline), DEL or C1 byte, and the escapes are there
raw_clean() {
	python3 -c 'import re,sys; b=open(sys.argv[1],"rb").read(); sys.exit(0 if not re.search(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", b) and b"\\x1b[31m" in b and b"\\u009b" in b else 1)' "$1"
}
for cmd in clients buffers status "revoke 5"; do
	# shellcheck disable=SC2086
	P2PD_SOCKET=$tmp/fake.sock "$P2PCTL" $cmd >"$tmp/fo" 2>&1
	if raw_clean "$tmp/fo" && [ "$(wc -l <"$tmp/fo")" -le 4 ]; then
		ok "hostile p2pd: '$cmd' output escaped"
	else
		bad "hostile p2pd: '$cmd' output: $(od -c "$tmp/fo" | head -5)"
	fi
done
kill "$fake" 2>/dev/null
wait "$fake" 2>/dev/null
# p2pd judges under the kernel of its root too, and says so in status, topo and check.
daemon_up() { # ROOT ARGS...: start p2pd on $tmp/d.sock
	local root=$1; shift
	rm -f "$tmp/d.sock"
	"$P2PD" --foreground --log stderr --socket "$tmp/d.sock" --fsroot "$root" --no-hotplug \
		--backends memfd "$@" 2>"$tmp/d.log" &
	dpid=$!
	for _ in $(seq 50); do [ -S "$tmp/d.sock" ] && return 0; sleep 0.1; done
	return 1
}
daemon_down() { kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
if [ ! -x "$P2PD" ]; then
	bad "p2pd daemon checks: $P2PD missing (build it with make)"
elif daemon_up $KNO; then
	json_check "p2pd status: kernel without P2PDMA" "d['kernel_p2pdma'] is False and d['kernel_release']=='6.12.57+deb12-amd64' and d['rules']=='linux-5.19'" -- --socket "$tmp/d.sock" status
	json_check "p2pd topo: kernel keys" "d['kernel_p2pdma'] is False and 'CONFIG_PCI_P2PDMA' in d['kernel']['p2pdma_note']" -- --socket "$tmp/d.sock" topo
	json_check "p2pd check: kernel_no_p2pdma" "d['map_type']=='not_supported' and d['reasons'][0]['code']=='kernel_no_p2pdma' and d['kernel_p2pdma'] is False" -- --socket "$tmp/d.sock" check 04:00.0 05:00.0
	"$P2PCTL" --socket "$tmp/d.sock" status | grep -q "^NO P2P: kernel 6.12.57+deb12-amd64" && ok "p2pd status header says no P2P" || bad "p2pd status header"
	grep -q "built without CONFIG_PCI_P2PDMA" "$tmp/d.log" && ok "p2pd logs the kernel without P2PDMA" || bad "p2pd log: $(head -c 300 "$tmp/d.log")"
	daemon_down
else
	bad "p2pd on kernel-nop2p did not start: $(head -c 300 "$tmp/d.log")"
fi
if [ -x "$P2PD" ] && daemon_up $K515 --kernel-release 5.18.19; then
	json_check "p2pd --kernel-release: that kernel's rules" "d['map_type']=='thru_host_bridge' and d['rules']=='linux-5.18' and d['kernel_release']=='5.18.19'" -- --socket "$tmp/d.sock" check 01:00.0 81:00.0
	daemon_down
else
	bad "p2pd --kernel-release on kernel-5.15 did not start"
fi
if [ -x "$P2PD" ] && daemon_up $K515; then
	json_check "p2pd on a 5.15 root: linux-5.15 rules" "d['map_type']=='not_supported' and d['rules']=='linux-5.15'" -- --socket "$tmp/d.sock" check 01:00.0 81:00.0
	json_check "p2pd status: kernel with P2PDMA" "d['kernel_p2pdma'] is True and d['kernel_release']=='5.15.0-91-generic'" -- --socket "$tmp/d.sock" status
	daemon_down
else
	bad "p2pd on kernel-5.15 did not start"
fi
# The tree's text comes two ways: offline, device by device from the scan, and
# from p2pd's whole document.  On every fixture they must be the same text.
same=0 differ=""
for root in "$FX"/*/; do
	root=${root%/}
	if [ -x "$P2PD" ] && daemon_up "$root"; then
		"$P2PCTL" --socket "$tmp/d.sock" topo >"$tmp/on" 2>&1
		"$P2PCTL" --fsroot "$root" topo >"$tmp/off" 2>&1
		daemon_down
		if [ -s "$tmp/off" ] && cmp -s "$tmp/on" "$tmp/off"; then
			same=$((same + 1))
		else
			differ="$differ ${root##*/}"
		fi
	else
		differ="$differ ${root##*/}(no-p2pd)"
	fi
done
[ -z "$differ" ] && [ "$same" -ge 10 ] && ok "topo text offline = from p2pd's document on $same fixtures" ||
	bad "topo text offline vs p2pd differs on:$differ"
"$P2PD" --kernel-release "" --fsroot $K515 >/dev/null 2>"$tmp/err"; [ $? -ne 0 ] && grep -q "needs a release" "$tmp/err" && ok "p2pd empty --kernel-release refused" || bad "p2pd empty --kernel-release"

echo "p2pctl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
