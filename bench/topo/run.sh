#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/topo/run.sh - topology discovery and verdict-matrix timings against lspci and lstopo,
# all measured in this one run, on synthetic trees (tests/fixtures/gen-fabric.py --functions N,
# written to $BUILD/bench/fN and reused while the generator is unchanged) and on this
# machine's own /sys.
#
# Synthetic trees (BENCH_SIZES):
#   ours ms      best of BENCH_RUNS topo_scan()+topo_free() in-process (build/bench/bench-topo)
#   whole-process medians of BENCH_RUNS interleaved runs (one of each tool per round):
#     p2pctl     `p2pctl --fsroot TREE topo` (ids and class category, as lstopo)
#     p2pctl -v  `p2pctl --fsroot TREE -v topo` (with libpci's names, as lspci -tv)
#     p2pctl-json `p2pctl --fsroot TREE --json topo`
#     lspci      `lspci -A linux-sysfs -O sysfs.path=TREE/sys/bus/pci -tv`
#     lstopo     `HWLOC_FSROOT=TREE HWLOC_COMPONENTS=-x86 lstopo-no-graphics --of console`
#   matrix ms    verdict_ctx_new + verdict_fast over all N*N ordered pairs (best of runs)
#   quick ms     verdict_quick (map, distance, class after overrides) over all pairs
#   pair us      verdict_pair (full verdict: path, reasons, sentences) per pair, sampled
# This machine's /sys (BENCH_REAL=0 skips it; BENCH_REAL_RUNS rounds, default 21):
#   `p2pctl --offline topo`, `p2pctl --offline -v topo`, `p2pctl --offline --json topo`, `lspci -tv`,
#   `lstopo-no-graphics`, interleaved; median wall and CPU (user+sys) time of each, the
#   ratios of the medians, and the config-space bytes each read per function, counted with
#   strace (pread64/read on fds opened on .../config) -- for p2pctl also its own counter.
# Before timing, each baseline is checked to really read the synthetic tree (lspci -n lists
# N functions, lstopo --whole-io XML has N PCI objects); one that does not is reported n/a.
# Goals (printed, not asserted): synthetic whole process >= 3x faster than both baselines;
# this /sys >= 2x faster than both and <= 64 config bytes per function; 4096-function
# matrix (16.7M pairs) <= 1000 ms.  Exit status non-zero only when something could not run.
set -u
export BUILD=${BUILD:-build}
export BENCH_SIZES=${BENCH_SIZES-64 512 4096}
export BENCH_RUNS=${BENCH_RUNS:-5}
export BENCH_REAL=${BENCH_REAL:-1}
export BENCH_REAL_RUNS=${BENCH_REAL_RUNS:-21}
export GEN=${GEN:-tests/fixtures/gen-fabric.py}
exec python3 - <<'PYEOF'
import hashlib
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.environ["BUILD"]
SIZES = [int(x) for x in os.environ["BENCH_SIZES"].split()]
RUNS = max(1, int(os.environ["BENCH_RUNS"]))
REAL = os.environ["BENCH_REAL"] not in ("", "0")
REAL_RUNS = max(1, int(os.environ["BENCH_REAL_RUNS"]))
GEN = os.environ["GEN"]
BENCH = os.path.join(BUILD, "bench", "bench-topo")
P2PCTL = os.path.join(BUILD, "p2pctl")
problems = []


def run_once(cmd, env=None):
    """(wall ms, cpu ms) of one run, or None (and a problem noted) if it fails."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = (time.perf_counter() - t0) * 1e3
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) * 1e3
    if r.returncode != 0:
        problems.append("%s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                             r.stderr.decode(errors="replace").strip()[:200]))
        return None
    return wall, cpu


def interleaved(tools, rounds):
    """tools: [(name, cmd, env)].  Runs one of each per round, rotating the order, and
    returns {name: (median wall ms, median cpu ms)} (None for a tool that failed)."""
    samples = {name: [] for name, _, _ in tools}
    dead = set()
    for k in range(rounds):
        order = tools[k % len(tools):] + tools[:k % len(tools)]
        for name, cmd, env in order:
            if name in dead:
                continue
            x = run_once(cmd, env)
            if x is None:
                dead.add(name)
            else:
                samples[name].append(x)
    out = {}
    for name, s in samples.items():
        if name in dead or not s:
            out[name] = None
        else:
            out[name] = (statistics.median(w for w, _ in s), statistics.median(c for _, c in s))
    return out


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


def config_bytes(cmd):
    """Bytes a process (and its children) read from files named config, by strace."""
    if not shutil.which("strace"):
        return None
    with tempfile.NamedTemporaryFile(prefix="bench-topo-strace.") as tf:
        r = subprocess.run(["strace", "-f", "-qq", "-e", "signal=none",
                            "-e", "trace=open,openat,read,pread64,close", "-o", tf.name] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            return None
        fds, total = {}, 0
        for line in open(tf.name, errors="replace"):
            m = re.match(r"(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)", line)
            if not m:
                continue
            pid, call, args, ret = m.group(1), m.group(2), m.group(3), int(m.group(4))
            if call in ("open", "openat"):
                pm = re.search(r'"([^"]*)"', args)
                path = pm.group(1) if pm else ""
                if ret >= 0 and (path == "config" or path.endswith("/config")):
                    fds[(pid, ret)] = True
            elif call in ("read", "pread64"):
                fd = int(args.split(",")[0])
                if (pid, fd) in fds and ret > 0:
                    total += ret
            elif call == "close":
                fds.pop((pid, int(args.split(",")[0]) if args.split(",")[0].isdigit() else -1),
                        None)
        return total


def fmt(v, spec="%.2f"):
    return "n/a" if v is None else spec % v


for tool in ("lspci", "lstopo-no-graphics"):
    if not shutil.which(tool):
        problems.append("%s not installed (see mk/deps-bench.txt)" % tool)
if not os.access(BENCH, os.X_OK) or not os.access(P2PCTL, os.X_OK):
    print("bench-topo: %s or %s missing" % (BENCH, P2PCTL))
    sys.exit(1)

stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
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
    tools = [("p2pctl", [P2PCTL, "--fsroot", tree, "topo"], None),
             ("p2pctl-v", [P2PCTL, "--fsroot", tree, "-v", "topo"], None),
             ("p2pctl-json", [P2PCTL, "--fsroot", tree, "--json", "topo"], None)]
    if shutil.which("lspci") and lspci_reads(tree, n):
        tools.append(("lspci", lspci_cmd(tree, "-tv"), None))
    if shutil.which("lstopo-no-graphics") and lstopo_reads(tree, n):
        tools.append(("lstopo", ["lstopo-no-graphics", "--of", "console"], lstopo_env(tree)))
    med = interleaved(tools, RUNS)
    wall = {k: (v[0] if v else None) for k, v in med.items()}
    rows.append(dict(n=n, ours=float(kv["scan_ms"]), wall=wall,
                     pairs=int(kv["pairs"]), matrix=float(kv["fast_ms"]),
                     quick=float(kv["quick_ms"]), pair_us=float(kv["pair_us"]),
                     ba=int(kv["bus_addr"]), th=int(kv["thru"]), ns=int(kv["not_supported"])))

if rows:
    print()
    print("bench-topo: synthetic trees; in-process best of %d, whole processes medians of %d "
          "interleaved rounds (%s)" % (RUNS, RUNS, stamp))
    hdr = ("functions", "ours ms", "p2pctl ms", "-v ms", "json ms", "lspci ms", "lstopo ms",
           "lspci/p2pctl", "lspci/-v", "lstopo/p2pctl", "matrix pairs", "matrix ms", "quick ms",
           "pair us")
    print("%9s %8s %9s %8s %8s %9s %9s %12s %8s %13s %12s %9s %9s %8s" % hdr)
    for x in rows:
        w = x["wall"]
        ctl, ctlv = w.get("p2pctl"), w.get("p2pctl-v")
        print("%9d %8.2f %9s %8s %8s %9s %9s %12s %8s %13s %12d %9.1f %9.1f %8.2f" % (
            x["n"], x["ours"], fmt(ctl), fmt(ctlv), fmt(w.get("p2pctl-json")),
            fmt(w.get("lspci")), fmt(w.get("lstopo")),
            fmt(w["lspci"] / ctl if w.get("lspci") and ctl else None, "%.1fx"),
            fmt(w["lspci"] / ctlv if w.get("lspci") and ctlv else None, "%.1fx"),
            fmt(w["lstopo"] / ctl if w.get("lstopo") and ctl else None, "%.1fx"),
            x["pairs"], x["matrix"], x["quick"], x["pair_us"]))
    print()
    for x in rows:
        print("  %d functions: %d bus_addr, %d thru_host_bridge, %d not_supported pairs "
              "(--cpu amd:0x17)" % (x["n"], x["ba"], x["th"], x["ns"]))
    print()
    for x in rows:
        ctl = x["wall"].get("p2pctl")
        for name in ("lspci", "lstopo"):
            if x["wall"].get(name) and ctl:
                ratio = x["wall"][name] / ctl
                print("  goal synthetic whole process >= 3x faster than %-6s at %4d functions: "
                      "%-4s (%.1fx)" % (name, x["n"], "MET" if ratio >= 3 else "MISS", ratio))
    for x in rows:
        if x["n"] == 4096:
            print("  goal 4096-function matrix (%d pairs) <= 1000 ms: %s (%.1f ms)"
                  % (x["pairs"], "MET" if x["matrix"] <= 1000 else "MISS", x["matrix"]))

if REAL:
    try:
        nfuncs = len(os.listdir("/sys/bus/pci/devices"))
    except OSError:
        nfuncs = 0
    if nfuncs == 0:
        problems.append("this machine's /sys/bus/pci/devices lists no functions")
    else:
        tools = [("p2pctl topo", [P2PCTL, "--offline", "topo"], None),
                 ("p2pctl -v topo", [P2PCTL, "--offline", "-v", "topo"], None),
                 ("p2pctl --json topo", [P2PCTL, "--offline", "--json", "topo"], None)]
        if shutil.which("lspci"):
            tools.append(("lspci -tv", ["lspci", "-tv"], None))
        if shutil.which("lstopo-no-graphics"):
            tools.append(("lstopo-no-graphics", ["lstopo-no-graphics"], None))
        med = interleaved(tools, REAL_RUNS)
        r = subprocess.run([BENCH, "--runs", "1", "--sample", "1", "/"], capture_output=True,
                           text=True)
        kv = dict(re.findall(r"(\w+)=([-0-9.]+)", r.stdout)) if r.returncode == 0 else {}
        print()
        print("bench-topo: this machine's /sys, %d functions, root=%s; medians of %d "
              "interleaved rounds (%s)" % (nfuncs, "yes" if os.geteuid() == 0 else "no",
                                           REAL_RUNS, stamp))
        print("  %-20s %9s %9s %13s %14s" % ("tool", "wall ms", "cpu ms", "config bytes",
                                             "bytes/function"))
        cb = {}
        for name, cmd, _ in tools:
            cb[name] = config_bytes(cmd)
            m = med.get(name)
            print("  %-20s %9s %9s %13s %14s" % (
                name, fmt(m[0] if m else None), fmt(m[1] if m else None),
                fmt(cb[name], "%d"), fmt(cb[name] / nfuncs if cb[name] is not None else None,
                                         "%.1f")))
        if kv:
            print("  p2pctl's own counter (topo->cfg_bytes_read, live=%s): %s bytes, %s per "
                  "function" % (kv.get("live"), kv.get("cfg_bytes"), kv.get("cfg_bytes_per_func")))
        ours = med.get("p2pctl topo")
        print()
        for base in ("lspci -tv", "lstopo-no-graphics"):
            b = med.get(base)
            if ours and b:
                rw, rc = b[0] / ours[0], b[1] / ours[1] if ours[1] > 0 else float("inf")
                print("  goal this /sys >= 2x faster than %-18s: %-4s (%.1fx wall, %.1fx cpu)"
                      % (base, "MET" if rw >= 2 else "MISS", rw, rc))
                for other in ("p2pctl -v topo", "p2pctl --json topo"):
                    j = med.get(other)
                    if j:
                        print("       (%-18s: %.1fx wall, %.1fx cpu)"
                              % (other, b[0] / j[0], b[1] / j[1] if j[1] > 0 else float("inf")))
        per = cb.get("p2pctl topo")
        if per is not None:
            print("  goal <= 64 config bytes per function on this /sys: %s (%.1f)"
                  % ("MET" if per / nfuncs <= 64 else "MISS", per / nfuncs))
        else:
            problems.append("strace missing or failed: config bytes not counted "
                            "(see mk/deps-bench.txt)")

for p in problems:
    print("bench-topo: PROBLEM: " + p)
sys.exit(1 if problems else 0)
PYEOF
