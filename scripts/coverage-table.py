#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""coverage-table.py INFO [GOAL_DIRS [VM_ONLY]] - per-directory and per-file line and
branch coverage from an lcov tracefile (lcov --rc lcov_branch_coverage=1).

Prints one table per directory (files under it), then the per-directory summary;
directories named in GOAL_DIRS (comma separated) are marked against the goal
(>= 90% lines, >= 80% branches), and one below it says how many more lines and
branches the goal needs.  VM_ONLY (comma separated paths) names files whose code
runs only in the VM tier (make vmcheck, not make check): they are marked "(VM tier)"
and their directory gets a second line without them, beside (never instead of)
its own.  Paths are shown relative to the current directory.
"""
import os
import sys

GOAL_LINES, GOAL_BRANCHES = 90.0, 80.0


def pct(hit, total):
    return 100.0 * hit / total if total else 100.0


def needed(lh, lf, bh, bf):
    """What the goal still needs: "+N lines, +M branches"."""
    more = []
    nl = max(0, -(-int(GOAL_LINES * lf) // 100) - lh)
    nb = max(0, -(-int(GOAL_BRANCHES * bf) // 100) - bh)
    if nl:
        more.append("+%d lines" % nl)
    if nb:
        more.append("+%d branches" % nb)
    return ", ".join(more)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: coverage-table.py INFO [DIR,DIR...]")
    goal = set(sys.argv[2].split(",")) if len(sys.argv) > 2 and sys.argv[2] else set()
    vm_only = set(sys.argv[3].split(",")) if len(sys.argv) > 3 and sys.argv[3] else set()
    files = {}
    cur = None
    with open(sys.argv[1]) as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("SF:"):
                cur = os.path.relpath(line[3:])
                files.setdefault(cur, [0, 0, 0, 0])
            elif cur and line.startswith(("LF:", "LH:", "BRF:", "BRH:")):
                key, val = line.split(":", 1)
                idx = {"LF": 0, "LH": 1, "BRF": 2, "BRH": 3}[key]
                files[cur][idx] += int(val)
            elif line == "end_of_record":
                cur = None
    dirs = {}
    for path, v in files.items():
        d = path.split("/")[0] + "/" if "/" in path else "./"
        acc = dirs.setdefault(d, [0, 0, 0, 0])
        for i in range(4):
            acc[i] += v[i]

    hdr = "%-40s %8s %13s %9s %13s" % ("file", "lines", "hit/total", "branches", "hit/total")
    for d in sorted(dirs):
        print(hdr)
        for path in sorted(p for p in files if (p.split("/")[0] + "/" if "/" in p else "./") == d):
            lf, lh, bf, bh = files[path]
            print("%-40s %7.1f%% %13s %8.1f%% %13s%s" % (path, pct(lh, lf), "%d/%d" % (lh, lf),
                                                       pct(bh, bf), "%d/%d" % (bh, bf),
                                                       "  (VM tier)" if path in vm_only else ""))
        print()
    print("coverage per directory (lines >= %.0f%%, branches >= %.0f%% is the goal for %s)"
          % (GOAL_LINES, GOAL_BRANCHES, ", ".join(sorted(goal)) or "none"))
    print("%-16s %8s %13s %9s %13s  %s" % ("directory", "lines", "hit/total", "branches",
                                           "hit/total", "goal"))
    tot = [0, 0, 0, 0]
    for d in sorted(dirs):
        lf, lh, bf, bh = dirs[d]
        for i in range(4):
            tot[i] += dirs[d][i]
        mark = ""
        if d.rstrip("/") in goal or d in goal:
            ok = pct(lh, lf) >= GOAL_LINES and pct(bh, bf) >= GOAL_BRANCHES
            mark = "met" if ok else "BELOW (%s)" % needed(lh, lf, bh, bf)
        print("%-16s %7.1f%% %13s %8.1f%% %13s  %s" % (d, pct(lh, lf), "%d/%d" % (lh, lf),
                                                      pct(bh, bf), "%d/%d" % (bh, bf), mark))
        vm = [p for p in files if p in vm_only and p.startswith(d)]
        if vm:
            for p in vm:
                lf, lh, bf, bh = [x - y for x, y in zip((lf, lh, bf, bh), files[p])]
            print("%-16s %7.1f%% %13s %8.1f%% %13s  (less %s: VM tier only)"
                  % ("  " + d, pct(lh, lf), "%d/%d" % (lh, lf), pct(bh, bf), "%d/%d" % (bh, bf),
                     ", ".join(os.path.basename(p) for p in sorted(vm))))
    lf, lh, bf, bh = tot
    print("%-16s %7.1f%% %13s %8.1f%% %13s" % ("total", pct(lh, lf), "%d/%d" % (lh, lf),
                                              pct(bh, bf), "%d/%d" % (bh, bf)))


if __name__ == "__main__":
    main()
