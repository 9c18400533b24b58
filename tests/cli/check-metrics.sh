#!/usr/bin/env bash
# check-metrics.sh - `p2pctl metrics` from a live p2pd, parsed by the Prometheus
# text parser (python3-prometheus-client), with values asserted after allocs and
# a refusal; p2pmem from sysfs; p2pd_up 0 without a daemon; the shipped
# p2pd-metrics.service command writes the file by atomic rename.
# Last line: "metrics: N passed, N failed".
set -u
BUILD=${BUILD:-build}
P2PCTL=${P2PCTL:-$BUILD/p2pctl}
P2PD=${P2PD:-$BUILD/p2pd}
pass=0 fail=0
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import prometheus_client.parser' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
	bad "no python3 with prometheus_client (apt install python3-prometheus-client): metrics cannot be parsed"
	echo "metrics: $pass passed, $fail failed"
	exit 1
fi

# prom NAME FILE PYEXPR: parse FILE with prometheus_client; PYEXPR sees
# v(name, **labels) -> value, fam = {name: family}, and the checks below always run:
# every sample belongs to a family with HELP and TYPE, counters end in _total.
prom() {
	local name=$1 file=$2 expr=$3
	if "$PY" - "$file" "$expr" >"$tmp/why" 2>&1 <<'EOF'; then ok "$name"; else bad "$name: $(head -c 600 "$tmp/why")"; fi
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fams = list(text_string_to_metric_families(text))
fam = {f.name: f for f in fams}
for f in fams:
    assert f.name.startswith("p2pd_"), f.name
    assert f.documentation, "no HELP for " + f.name
    assert f.type in ("gauge", "counter"), (f.name, f.type)
    assert ("# TYPE %s " % (f.name + "_total" if f.type == "counter" else f.name)) in text, \
        "no # TYPE line for " + f.name
    for s in f.samples:
        assert s.name.startswith(f.name), s.name
        if f.type == "counter":
            assert s.name.endswith("_total"), "counter sample without _total: " + s.name
def v(name, **labels):
    for f in fams:
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == w for k, w in labels.items()):
                return s.value
    raise KeyError("%s%s not in the output" % (name, labels))
if not eval(sys.argv[2]):
    print("false: " + sys.argv[2])
    print(text)
    sys.exit(1)
EOF
}

# A root whose sysfs has a provider registered with the kernel's p2pdma.
root=$tmp/root
mkdir -p "$root/sys/bus/pci/devices/0000:03:00.0/p2pmem" "$root/sys/bus/pci/devices/0000:04:00.0"
echo 8388608 >"$root/sys/bus/pci/devices/0000:03:00.0/p2pmem/size"
echo 4194304 >"$root/sys/bus/pci/devices/0000:03:00.0/p2pmem/available"

sock=$tmp/p2pd.sock
"$P2PD" --foreground --log stderr --socket "$sock" --fsroot tests/fixtures/sysfs/qemu-q35 2>"$tmp/p2pd.log" &
pids+=($!)
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done

"$P2PCTL" --socket "$sock" --fsroot "$root" metrics >"$tmp/m0" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && ok "metrics from an idle p2pd: exit 0, no stderr" || bad "metrics: rc=$rc $(cat "$tmp/err")"
prom "idle: up, no buffers, p2pmem from sysfs" "$tmp/m0" \
	"v('p2pd_up')==1 and v('p2pd_allocations_total')==0 and not fam['p2pd_buffers'].samples and v('p2pd_p2pmem_size_bytes', provider='0000:03:00.0')==8388608 and v('p2pd_p2pmem_available_bytes', provider='0000:03:00.0')==4194304 and v('p2pd_uptime_seconds')>=0 and v('p2pd_clients')==0"

# Two allocations held by two clients, one refused (no p2p provider), one bad request.
"$P2PCTL" --socket "$sock" alloc 4096 types=memfd hold=30 >"$tmp/a1" 2>&1 &
pids+=($!)
"$P2PCTL" --socket "$sock" alloc 1M types=memfd hold=30 >"$tmp/a2" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/a1" ] && [ -s "$tmp/a2" ] && break; sleep 0.1; done
"$P2PCTL" --socket "$sock" alloc 4096 types=p2p >/dev/null 2>&1
"$P2PCTL" --socket "$sock" alloc 4096 provider=99:00.0 >/dev/null 2>&1
"$P2PCTL" --socket "$sock" metrics >"$tmp/m1" 2>"$tmp/err"
prom "after 2 allocs: buffers == 2, bytes, refusals by reason, clients" "$tmp/m1" \
	"v('p2pd_buffers', type='memfd', provider='')==2 and v('p2pd_buffers_bytes', type='memfd', provider='')==4096+1048576 and v('p2pd_allocations_total')==2 and v('p2pd_allocation_refusals_total', reason='unavailable')==1 and v('p2pd_allocation_refusals_total', reason='invalid')==1 and v('p2pd_allocation_refusals_total', reason='quota')==0 and v('p2pd_clients')==2 and v('p2pd_connections')==3 and v('p2pd_request_errors_total')>=2 and v('p2pd_backend_info', backend='memfd')==1"

# Revoke one: the gauge drops, the counter counts.
id=$(sed -nE 's/^buffer ([0-9]+):.*/\1/p' "$tmp/a1")
"$P2PCTL" --socket "$sock" revoke "$id" >/dev/null 2>&1
"$P2PCTL" --socket "$sock" metrics >"$tmp/m2" 2>/dev/null
prom "after a revoke: 1 buffer, revokes_total 1" "$tmp/m2" \
	"v('p2pd_buffers', type='memfd', provider='')==1 and v('p2pd_revokes_total')==1"

# No daemon: p2pd_up 0 (still valid text), exit 1, one error line.
"$P2PCTL" --socket "$tmp/none.sock" metrics >"$tmp/m3" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ]; then ok "no daemon: exit 1, one line"; else bad "no daemon: rc=$rc $(cat "$tmp/err")"; fi
prom "no daemon: p2pd_up 0" "$tmp/m3" "v('p2pd_up')==0 and len(fam)==1"

# The shipped unit's command, pointed at a temp file: renamed into place, no leftovers.
unit=systemd/p2pd-metrics.service
cmd=$(sed -n 's/^ExecStart=//p' "$unit" | sed -e 's/\$\$/$/g' -e "s|/usr/bin/p2pctl|$P2PCTL --socket $sock|")
cmd=${cmd#/bin/sh -c \'}
cmd=${cmd%\'}
mkdir "$tmp/textfile"
if P2PD_METRICS_FILE=$tmp/textfile/p2pd.prom sh -c "$cmd" && [ "$(ls "$tmp/textfile")" = p2pd.prom ]; then
	ok "p2pd-metrics.service's command writes p2pd.prom (no temp file left)"
else
	bad "p2pd-metrics.service's command: $(ls "$tmp/textfile")"
fi
prom "the textfile parses" "$tmp/textfile/p2pd.prom" "v('p2pd_up')==1"
if command -v systemd-analyze >/dev/null; then
	if (cd systemd && systemd-analyze verify --man=no ./p2pd-metrics.service ./p2pd-metrics.timer) >"$tmp/why" 2>&1 &&
		[ ! -s "$tmp/why" ]; then
		ok "systemd-analyze verify: p2pd-metrics.service and .timer"
	else
		bad "systemd-analyze verify: $(head -c 400 "$tmp/why")"
	fi
else
	echo "SKIP systemd-analyze verify (systemd-analyze not installed)"
fi

echo "metrics: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
