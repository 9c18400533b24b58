#!/usr/bin/env bash
# check-topo-graph.sh - `p2pctl topo --format svg|dot` on every committed sysfs
# snapshot, a 100-function fabric, a tree with hostile names, and live from p2pd:
# well-formed SVG naming every function, DOT that dot accepts without a warning,
# p2p groups that agree with the matrix, ACS borders where ACS redirects.
# Last line: "topo-graph: N passed, N failed".
set -u
BUILD=${BUILD:-build}
P2PCTL=${P2PCTL:-$BUILD/p2pctl}
P2PD=${P2PD:-$BUILD/p2pd}
FX=tests/fixtures/sysfs
CHECK=tests/cli/topo-graph-check.py
pass=0 fail=0
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
summary() {
	echo "topo-graph: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

if ! command -v dot >/dev/null; then
	bad "Graphviz's dot is not installed (apt install graphviz): topo --format svg cannot be tested"
	summary
	exit
fi

# graph NAME ROOT [CHECK-ARGS...]: svg, dot and the JSON of one tree, then the checks.
graph() {
	local name=$1 root=$2; shift 2
	if ! "$P2PCTL" --fsroot "$root" --json topo >"$tmp/topo.json" ||
		! "$P2PCTL" --fsroot "$root" --json matrix >"$tmp/matrix.json"; then
		bad "$name: p2pctl --json topo/matrix failed"
		return
	fi
	if "$P2PCTL" --fsroot "$root" topo --format svg >"$tmp/g.svg" 2>"$tmp/err" && [ ! -s "$tmp/err" ] &&
		python3 $CHECK "$tmp/g.svg" "$tmp/topo.json" "$tmp/matrix.json" "$@" >"$tmp/why" 2>&1; then
		ok "$name: svg well-formed, every function named, groups agree with the matrix"
	else
		bad "$name: svg: $(head -c 300 "$tmp/err") $(head -n 5 "$tmp/why")"
	fi
	if "$P2PCTL" --fsroot "$root" topo --format dot >"$tmp/g.dot" 2>"$tmp/err" && [ ! -s "$tmp/err" ] &&
		head -n1 "$tmp/g.dot" | grep -q '^digraph ' && dot -Tsvg "$tmp/g.dot" >/dev/null 2>"$tmp/doterr" &&
		[ ! -s "$tmp/doterr" ]; then
		ok "$name: dot accepts the DOT without a warning"
	else
		bad "$name: dot: $(head -c 300 "$tmp/err") $(head -c 300 "$tmp/doterr")"
	fi
}

for root in "$FX"/*/; do
	case=$(basename "$root")
	case $case in
	qemu-q35) graph "$case" "$root" --expect-group 0000:03:00.0,0000:04:00.0,0000:05:00.0 \
		--expect-group 0000:06:00.0,0000:06:00.1 --expect-alone 0000:41:00.0 --expect-no-acs ;;
	qemu-q35-acs) graph "$case" "$root" --expect-group 0000:03:00.0,0000:04:00.0,0000:05:00.0 \
		--expect-alone 0000:06:00.0 --expect-alone 0000:06:00.1 \
		--expect-acs 0000:00:1c.0 --expect-acs 0000:00:1c.1 --expect-acs 0000:40:00.0 ;;
	*) graph "$case" "$root" ;;
	esac
done
# The two groups of qemu-q35 must differ in colour, not only in membership.
"$P2PCTL" --fsroot $FX/qemu-q35 topo --format svg >"$tmp/q.svg" 2>/dev/null
if python3 - "$tmp/q.svg" <<'EOF'; then ok "qemu-q35: two groups, two fills"; else bad "qemu-q35: the groups share a fill"; fi
import sys, xml.etree.ElementTree as ET
S = "{http://www.w3.org/2000/svg}"
fill = {}
for g in ET.parse(sys.argv[1]).getroot().iter(S + "g"):
    t = ["".join(x.itertext()) for x in g.iter(S + "text")]
    p = [e for e in g if e.tag in (S + "path", S + "polygon")]
    if g.get("class") == "node" and t and p:
        fill[t[0].split(" ")[0]] = p[0].get("fill")
sys.exit(0 if fill["0000:03:00.0"] != fill["0000:06:00.0"] else 1)
EOF

# A 100-function server: still one readable picture.
if python3 tests/fixtures/gen-fabric.py "$tmp/big" --functions 100 >/dev/null 2>&1; then
	graph "100 functions" "$tmp/big"
else
	bad "generating a 100-function tree"
fi

# Names from sysfs are untrusted: a driver link named like markup, with a
# backslash escape dot would expand, invalid UTF-8 and a control character.
cp -a $FX/qemu-q35 "$tmp/evil"
link=$(find "$tmp/evil/sys/devices" -path '*/0000:03:00.0/driver')
nasty=$(printf 'ev"il<script>x<&amp;\\N\xff\x01')
ln -sfn "../../../../../../bus/pci/drivers/$nasty" "$link"
graph "hostile driver name" "$tmp/evil" --expect-text 'ev"il<script>x<&amp;\N??'

# Live: p2pd's topology and matrix give the same picture.
sock=$tmp/p2pd.sock
"$P2PD" --foreground --log stderr --socket "$sock" --fsroot $FX/qemu-q35 2>"$tmp/p2pd.log" &
pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
if "$P2PCTL" --socket "$sock" --json topo >"$tmp/topo.json" && "$P2PCTL" --socket "$sock" --json matrix >"$tmp/matrix.json" &&
	"$P2PCTL" --socket "$sock" topo --format svg >"$tmp/live.svg" 2>"$tmp/err" &&
	python3 $CHECK "$tmp/live.svg" "$tmp/topo.json" "$tmp/matrix.json" \
		--expect-group 0000:03:00.0,0000:04:00.0,0000:05:00.0 --expect-group 0000:06:00.0,0000:06:00.1 >"$tmp/why" 2>&1; then
	ok "online (p2pd): svg with the same groups"
else
	cat "$tmp/p2pd.log"
	bad "online: $(cat "$tmp/err") $(head -n 5 "$tmp/why" 2>/dev/null)"
fi

# expect_err NAME EXIT PATTERN -- ARGS...: exit code, one stderr line, nothing on stdout.
expect_err() {
	local name=$1 want=$2 pat=$3; shift 4
	"$P2PCTL" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" -eq "$want" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qE "^p2pctl: .*$pat" "$tmp/err" && [ ! -s "$tmp/out" ]; then
		ok "$name"
	else
		bad "$name: rc=$rc (want $want), stderr: $(cat "$tmp/err")"
	fi
}
expect_err "unknown format" 2 "bad --format 'png'" -- --fsroot $FX/qemu-q35 topo --format png
expect_err "format with matrix" 2 "goes with topo only" -- --fsroot $FX/qemu-q35 matrix --format svg
expect_err "format with --json" 2 "goes with topo only" -- --fsroot $FX/qemu-q35 --json topo --format dot

# Without Graphviz: svg says what to install, dot still works.
mkdir -p "$tmp/nodot"
PATH=$tmp/nodot "$P2PCTL" --fsroot $FX/qemu-q35 topo --format svg >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "needs Graphviz's dot program" "$tmp/err"; then
	ok "svg without Graphviz: one clear line, exit 1"
else
	bad "svg without Graphviz: rc=$rc $(cat "$tmp/err")"
fi
if PATH=$tmp/nodot "$P2PCTL" --fsroot $FX/qemu-q35 topo --format dot 2>/dev/null | grep -q '^digraph'; then
	ok "dot without Graphviz"
else
	bad "--format dot needs no Graphviz"
fi
summary
