#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/topo/run.sh - topology discovery and verdict-matrix timings against lspci and lstopo,
# all measured in this one run on the same synthetic trees (tests/fixtures/gen-fabric.py
# --functions N, written to $BUILD/bench/fN and reused while the generator is unchanged).
#
#   ours ms      best of BENCH_RUNS topo_scan()+topo_free() in-process (build/bench/bench-topo)
#   p2pctl ms    best of BENCH_RUNS `p2pctl --fsroot TREE --json topo` as a process
#   lspci ms     best of BENCH_RUNS `lspci -A linux-sysfs -O sysfs.path=TREE/sys/bus/pci -tv`
#   lstopo ms    best of BENCH_RUNS `HWLOC_FSROOT=TREE HWLOC_COMPONENTS=-x86
#                lstopo-no-graphics --of console` (-x86: read the tree, not this CPU's cpuid)
#   matrix ms    verdict_ctx_new + verdict_fast over all N*N ordered pairs (best of runs)
#   quick ms     verdict_quick (map, distance, class after overrides) over all pairs
#   pair us      verdict_pair (full verdict: path, reasons, sentences) per pair, sampled
# Before timing, each baseline is checked to really read the tree (lspci -n lists N
# functions, lstopo --whole-io XML has N PCI objects); one that does not is reported n/a.
# Goals (printed, not asserted): discovery >= 3x faster than both; 4096-function matrix
# (16.7M pairs) <= 1000 ms.  Exit status non-zero only when something could not run.
set -u
export BUILD=${BUILD:-build}
export BENCH_SIZES=${BENCH_SIZES:-64 512 4096}
export BENCH_RUNS=${BENCH_RUNS:-5}
export GEN=${GEN:-tests/fixtures/gen-fabric.py}
exec python3 - <<'PYEOF'
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

BUILD = os.environ["BUILD"]
SIZES = [int(x) for x in os.environ["BENCH_SIZES"].split()]
RUNS = max(1, int(os.environ["BENCH_RUNS"]))
GEN = os.environ["GEN"]
BENCH = os.path.join(BUILD, "bench", "bench-topo")
P2PCTL = os.path.join(BUILD, "p2pctl")
problems = []


def best_of(cmd, env=None, runs=RUNS):
    """Best wall time (ms) of @runs runs; None (and a problem noted) if it fails."""
    best = None
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        dt = (time.perf_counter() - t0) * 1e3
        if r.returncode != 0:
            problems.append("%s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                                 r.stderr.decode(errors="replace").strip()[:200]))
            return None
        best = dt if best is None else min(best, dt)
    return best


def tree_for(n):
    tree = os.path.join(BUILD, "bench", "f%d" % n)
    with open(GEN, "rb") as fh:
        stamp = hashlib.sha256(fh.read() + str(n).encode()).hexdigest()
    sp = tree + ".stamp"
    if os.path.isdir(tree) and os.path.isfile(sp) and open(sp).read() == stamp:
        return tree
    r = subprocess.run([sys.executable, GEN, tree, "--functions", str(n), "--force"],
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        problems.append("gen-fabric.py --functions %d: %s" % (n, r.stderr.decode().strip()))
        return None
    with open(sp, "w") as fh:
        fh.write(stamp)
    return tree


def lspci_cmd(tree, *extra):
    return ["lspci", "-A", "linux-sysfs", "-O", "sysfs.path=%s/sys/bus/pci" % tree] + list(extra)


def lstopo_env(tree):
    env = dict(os.environ)
    env["HWLOC_FSROOT"] = tree
    env["HWLOC_COMPONENTS"] = "-x86"
    return env


def lspci_reads(tree, n):
    r = subprocess.run(lspci_cmd(tree, "-n"), capture_output=True, text=True)
    got = len([l for l in r.stdout.splitlines() if l.strip()])
    if r.returncode != 0 or got != n:
        problems.append("lspci lists %d of %d functions in %s (exit %d): not comparable"
                        % (got, n, tree, r.returncode))
        return False
    return True


def lstopo_reads(tree, n):
    r = subprocess.run(["lstopo-no-graphics", "--of", "xml", "--whole-io", "-"],
                       capture_output=True, text=True, env=lstopo_env(tree))
    got = r.stdout.count("pci_busid=")
    if r.returncode != 0 or got != n:
        problems.append("lstopo sees %d of %d PCI functions in %s (exit %d): not comparable"
                        % (got, n, tree, r.returncode))
        return False
    return True


def fmt(v, spec="%.2f"):
    return "n/a" if v is None else spec % v


for tool in ("lspci", "lstopo-no-graphics"):
    if not shutil.which(tool):
        problems.append("%s not installed (see mk/deps-bench.txt)" % tool)
if not os.access(BENCH, os.X_OK):
    print("bench-topo: %s missing" % BENCH)
    sys.exit(1)

rows = []
for n in SIZES:
    tree = tree_for(n)
    if tree is None:
        continue
    r = subprocess.run([BENCH, "--runs", str(RUNS), tree], capture_output=True, text=True)
    if r.returncode != 0:
        problems.append("bench-topo %s: %s" % (tree, r.stderr.strip()))
        continue
    kv = dict(re.findall(r"(\w+)=([-0-9.]+)", r.stdout))
    if int(kv.get("functions", -1)) != n:
        problems.append("topo_scan found %s functions in a tree of %d" % (kv.get("functions"), n))
    ours = float(kv["scan_ms"])
    ctl = best_of([P2PCTL, "--fsroot", tree, "--json", "topo"]) if os.access(P2PCTL, os.X_OK) \
        else None
    lspci = best_of(lspci_cmd(tree, "-tv")) if shutil.which("lspci") and lspci_reads(tree, n) \
        else None
    lstopo = None
    if shutil.which("lstopo-no-graphics") and lstopo_reads(tree, n):
        lstopo = best_of(["lstopo-no-graphics", "--of", "console"], env=lstopo_env(tree))
    rows.append(dict(n=n, ours=ours, ctl=ctl, lspci=lspci, lstopo=lstopo,
                     pairs=int(kv["pairs"]), matrix=float(kv["fast_ms"]),
                     quick=float(kv["quick_ms"]), pair_us=float(kv["pair_us"]),
                     ba=int(kv["bus_addr"]), th=int(kv["thru"]), ns=int(kv["not_supported"])))

print()
print("bench-topo: best of %d runs each, same trees, same run (%s)"
      % (RUNS, time.strftime("%Y-%m-%d %H:%M:%S %Z")))
hdr = ("functions", "ours ms", "p2pctl ms", "lspci ms", "lstopo ms", "lspci/ours",
       "lstopo/ours", "matrix pairs", "matrix ms", "quick ms", "pair us")
print("%9s %9s %9s %9s %9s %10s %11s %12s %9s %9s %8s" % hdr)
for x in rows:
    print("%9d %9.2f %9s %9s %9s %10s %11s %12d %9.1f %9.1f %8.2f" % (
        x["n"], x["ours"], fmt(x["ctl"]), fmt(x["lspci"]), fmt(x["lstopo"]),
        fmt(x["lspci"] / x["ours"] if x["lspci"] else None, "%.1fx"),
        fmt(x["lstopo"] / x["ours"] if x["lstopo"] else None, "%.1fx"),
        x["pairs"], x["matrix"], x["quick"], x["pair_us"]))
print()
for x in rows:
    print("  %d functions: %d bus_addr, %d thru_host_bridge, %d not_supported pairs (--cpu amd:0x17)"
          % (x["n"], x["ba"], x["th"], x["ns"]))
print()
for x in rows:
    for name in ("lspci", "lstopo"):
        if x[name] is not None:
            ratio = x[name] / x["ours"]
            print("  goal discovery >= 3x faster than %-6s at %4d functions: %-4s (%.1fx)"
                  % (name, x["n"], "MET" if ratio >= 3 else "MISS", ratio))
big = [x for x in rows if x["n"] == 4096]
for x in big:
    print("  goal 4096-function matrix (%d pairs) <= 1000 ms: %s (%.1f ms)"
          % (x["pairs"], "MET" if x["matrix"] <= 1000 else "MISS", x["matrix"]))
for p in problems:
    print("bench-topo: PROBLEM: " + p)
sys.exit(1 if problems else 0)
PYEOF
