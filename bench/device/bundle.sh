#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/device/bundle.sh - build a self-contained copy of p2pctl, p2pd, bench-topo, bench-alloc and the baselines
# (lspci, lstopo-no-graphics, strace, perf; OLD=FILE adds an earlier p2pctl as p2pctl-old, OLD_P2PD=FILE
# an earlier p2pd as p2pd-old) with every library ldd lists and this machine's dynamic
# loader, for a server that lacks build tools and libraries.  Output: $BUILD/device/
#   bin/   the executables as built here
#   lib/   their libraries and ld-linux-x86-64.so.2
#   share/ pci.ids (lspci -i; p2pctl -v reads the path compiled into libpci)
# Every tool is run there as  lib/ld-linux-x86-64.so.2 --library-path lib bin/TOOL ...
# so all of them pay the same loader cost.  bench/device/run.sh is the script to run there.
set -eu
BUILD=${BUILD:-build}
out=$BUILD/device
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/share"
make -s "$BUILD/p2pctl" "$BUILD/p2pd" "$BUILD/bench/bench-topo" "$BUILD/bench/bench-alloc"
tools=("$BUILD/p2pctl" "$BUILD/p2pd" "$BUILD/bench/bench-topo" "$BUILD/bench/bench-alloc")
for t in lspci lstopo-no-graphics strace perf; do
	p=$(command -v "$t" || true)
	if [ -z "$p" ]; then
		echo "bundle: $t not installed here (see mk/deps-bench.txt); the bundle will lack it" >&2
		continue
	fi
	tools+=("$p")
done
for t in "${tools[@]}"; do
	cp -L "$t" "$out/bin/"
	ldd "$t" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r l; do
		cp -L "$l" "$out/lib/"
	done
done
if [ -n "${OLD:-}" ]; then # an earlier build's p2pctl, for profile.sh's old/new rounds
	cp -L "$OLD" "$out/bin/p2pctl-old"
fi
if [ -n "${OLD_P2PD:-}" ]; then # an earlier build's p2pd, for run.sh's bench-alloc-ab.txt
	cp -L "$OLD_P2PD" "$out/bin/p2pd-old"
fi
loader=$(ldd "$BUILD/p2pctl" | awk '/ld-linux/{print $1}')
cp -L "$loader" "$out/lib/ld-linux-x86-64.so.2"
for ids in /usr/share/misc/pci.ids /usr/share/hwdata/pci.ids; do
	[ -r "$ids" ] && { cp -L "$ids" "$out/share/pci.ids"; break; }
done
du -sh "$out" | awk '{print "bundle: " $2 " " $1}'
