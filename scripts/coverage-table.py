#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""coverage-table.py INFO [GOAL_DIRS] - per-directory and per-file line and branch
coverage from an lcov tracefile (lcov --rc lcov_branch_coverage=1).

Prints one table per directory (files under it), then the per-directory summary;
directories named in GOAL_DIRS (comma separated) are marked against the goal
(>= 90% lines, >= 80% branches).  Paths are shown relative to the current directory.
"""
import os
import sys

GOAL_LINES, GOAL_BRANCHES = 90.0, 80.0


def pct(hit, total):
    return 100.0 * hit / total if total else 100.0


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: coverage-table.py INFO [DIR,DIR...]")
    goal = set(sys.argv[2].split(",")) if len(sys.argv) > 2 and sys.argv[2] else set()
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
            print("%-40s %7.1f%% %13s %8.1f%% %13s" % (path, pct(lh, lf), "%d/%d" % (lh, lf),
                                                     pct(bh, bf), "%d/%d" % (bh, bf)))
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
            mark = "met" if ok else "BELOW"
        print("%-16s %7.1f%% %13s %8.1f%% %13s  %s" % (d, pct(lh, lf), "%d/%d" % (lh, lf),
                                                      pct(bh, bf), "%d/%d" % (bh, bf), mark))
    lf, lh, bf, bh = tot
    print("%-16s %7.1f%% %13s %8.1f%% %13s" % ("total", pct(lh, lf), "%d/%d" % (lh, lf),
                                              pct(bh, bf), "%d/%d" % (bh, bf)))


if __name__ == "__main__":
    main()
