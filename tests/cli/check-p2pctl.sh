#!/usr/bin/env bash
# check-p2pctl.sh - p2pctl's offline mode as a user meets it: output shapes,
# --json fields, and one clear error line + the right exit code for bad input.
# Last line: "p2pctl: N passed, N failed".
set -u
P2PCTL=${P2PCTL:-build/p2pctl}
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

# snapshot of a fixture, read back: the same topology.
if "$P2PCTL" --fsroot $Q snapshot "$tmp/s.tar" 2>/dev/null && mkdir "$tmp/s" && tar xf "$tmp/s.tar" -C "$tmp/s" &&
	"$P2PCTL" --fsroot $Q --json topo | python3 -c 'import json,sys; print([(x["bdf"],x["parent"]) for x in json.load(sys.stdin)["devices"]])' >"$tmp/a" &&
	"$P2PCTL" --fsroot "$tmp/s" --json topo | python3 -c 'import json,sys; print([(x["bdf"],x["parent"]) for x in json.load(sys.stdin)["devices"]])' >"$tmp/b" &&
	cmp -s "$tmp/a" "$tmp/b"; then
	ok "snapshot round trip"
else
	bad "snapshot round trip"
fi

echo "p2pctl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
