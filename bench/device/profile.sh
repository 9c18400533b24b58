#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/device/profile.sh - where discovery of a big tree spends its time, on a server:
# strace -c and perf (cpu-clock, when bundled and allowed) of `p2pctl --fsroot TREE topo`
# against lstopo-no-graphics on the same synthetic tree (SYNTH functions, default 4096).
# Run from the repository root after bench/device/bundle.sh; writes ${OUT:-.}/profile.txt.
set -u
# shellcheck source=bench/device/median.sh
. "$(dirname "$0")/median.sh"
BUILD=${BUILD:-build}
B=$(cd "$BUILD/device" && pwd)
OUT=${OUT:-.}
mkdir -p "$OUT"
X=("$B/lib/ld-linux-x86-64.so.2" --library-path "$B/lib")
tree=$(mktemp -d /tmp/p2p-prof.XXXXXX)
python3 tests/fixtures/gen-fabric.py "$tree/f" --functions "${SYNTH:-4096}" >/dev/null
ours=("${X[@]}" "$B/bin/p2pctl" --fsroot "$tree/f" topo)
theirs=(env HWLOC_FSROOT="$tree/f" HWLOC_COMPONENTS=-x86 "${X[@]}" "$B/bin/lstopo-no-graphics" --of console)
{
	echo "tree: ${SYNTH:-4096} functions; $(nproc) CPUs; $(uname -r)"
	for who in ours theirs; do
		declare -n cmd=$who
		echo "== $who: ${cmd[*]##*/}"
		for _ in 1 2 3; do "${cmd[@]}" >/dev/null 2>&1; done # warm the page cache
		echo "-- strace -c -f"
		"${X[@]}" "$B/bin/strace" -c -f -o "$tree/sc" "${cmd[@]}" >/dev/null 2>&1
		head -22 "$tree/sc"
		if [ -x "$B/bin/perf" ]; then
			echo "-- perf stat"
			"${X[@]}" "$B/bin/perf" stat -e task-clock,page-faults,context-switches \
				"${cmd[@]}" 2>&1 >/dev/null | grep -E 'task-clock|faults|switches|elapsed|user|sys'
			echo "-- perf record -e cpu-clock (self, by dso and symbol)"
			"${X[@]}" "$B/bin/perf" record -q -F 20000 -e cpu-clock -o "$tree/p.data" \
				"${cmd[@]}" >/dev/null 2>&1
			"${X[@]}" "$B/bin/perf" report -i "$tree/p.data" --no-children \
				--sort dso,sym --stdio 2>&1 | grep -E '^ +[0-9]' | head -40
		fi
	done
	if [ -x "$B/bin/p2pctl-old" ]; then # bundle.sh OLD=path/to/an/earlier/p2pctl
		echo "== p2pctl-old against p2pctl, ${ROUNDS:-15} interleaved rounds (medians)"
		hz=$(getconf CLK_TCK)
		for ((r = 0; r < ${ROUNDS:-15}; r++)); do
			for v in p2pctl p2pctl-old; do
				# wall (EPOCHREALTIME) and the child's user+sys (cutime+cstime)
				(read -r -a a </proc/$BASHPID/stat; t0=$EPOCHREALTIME
				 "${X[@]}" "$B/bin/$v" --fsroot "$tree/f" topo >/dev/null
				 t1=$EPOCHREALTIME; read -r -a b </proc/$BASHPID/stat
				 echo "$v $t0 $t1 $((b[15] + b[16] - a[15] - a[16]))")
			done
		done | awk -v hz="$hz" '{print $1, ($3 - $2) * 1000, $4 * 1000 / hz}' >"$tree/times"
		for v in p2pctl p2pctl-old; do
			printf "  %-11s wall %s ms, cpu %s ms\n" "$v" \
				"$(awk -v v=$v '$1==v{print $2}' "$tree/times" | median)" \
				"$(awk -v v=$v '$1==v{print $3}' "$tree/times" | median)"
		done
	fi
	echo "== bench-topo in-process"
	"${X[@]}" "$B/bin/bench-topo" --runs 5 --sample 10 "$tree/f"
} >"$OUT/profile.txt" 2>&1
rm -rf "$tree"
cat "$OUT/profile.txt"
