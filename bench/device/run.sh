#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/device/run.sh - run on a real server from the repository root, after
# bench/device/bundle.sh built $BUILD/device here.  Writes to ${OUT:-./device-out}:
#   facts.txt      kernel, command line, IOMMU, p2pdma config, GPU/NVMe counts
#   host.tar       p2pctl snapshot (for p2pctl --fsroot and tests/fixtures)
#   p2pctl-*.txt   topo, topo -v, matrix, matrix --json, check for GPU/NVMe pairs
#   lspci-tv.txt, lspci-vvv.txt, lstopo.txt, nvidia-smi-topo.txt
#   synth.txt      SYNTH (4096) functions of tests/fixtures/gen-fabric.py: p2pctl, lspci,
#                  lstopo interleaved (SYNTH_ROUNDS, 7), ratios, bench-topo in-process
#   timing.txt     interleaved rounds (ROUNDS, default 21): wall and CPU ms of each tool,
#                  medians and the ratios of the medians, config bytes per function (strace)
# Never changes the machine; every step is bounded by timeout.
set -u
BUILD=${BUILD:-build}
B=$(cd "$BUILD/device" && pwd)
OUT=${OUT:-./device-out}
ROUNDS=${ROUNDS:-21}
mkdir -p "$OUT"
X=("$B/lib/ld-linux-x86-64.so.2" --library-path "$B/lib")
ctl() { timeout 60 "${X[@]}" "$B/bin/p2pctl" --offline "$@"; }
native_or_bundled() { # tool: prefer the server's own, as its admin would run it
	local p
	p=$(command -v "$1" 2>/dev/null || true)
	if [ -n "$p" ] && "$p" --version >/dev/null 2>&1; then echo "$p"
	elif [ -x "$B/bin/$1" ]; then echo bundled
	fi
}
run_tool() { # name args...: runs native or bundled
	local t=$1; shift
	local w
	w=$(native_or_bundled "$t")
	case "$w" in
	bundled) "${X[@]}" "$B/bin/$t" "$@" ;;
	"") return 127 ;;
	*) "$w" "$@" ;;
	esac
}
run_tool_bounded() { # run_tool under timeout (timeout cannot run a shell function)
	local w
	w=$(native_or_bundled "$1")
	case "$w" in
	bundled) timeout 60 "${X[@]}" "$B/bin/$1" "${@:2}" ;;
	"") echo "$1: not on this server and not bundled"; return 127 ;;
	*) timeout 60 "$w" "${@:2}" ;;
	esac
}

{
	echo "date: $(date -u +%FT%TZ)"
	echo "uname: $(uname -a)"
	echo "cmdline: $(cat /proc/cmdline 2>/dev/null)"
	grep -m1 PRETTY_NAME /etc/os-release 2>/dev/null
	echo "uid: $(id -u)  nproc: $(nproc)"
	grep -m1 'model name' /proc/cpuinfo
	echo "pci functions: $(ls /sys/bus/pci/devices | wc -l)"
	echo "iommu groups: $(ls /sys/kernel/iommu_groups 2>/dev/null | wc -l)"
	echo "iommu class: $(ls /sys/class/iommu 2>/dev/null | tr '\n' ' ')"
	echo "p2pmem dirs: $(ls -d /sys/bus/pci/devices/*/p2pmem 2>/dev/null | wc -l)"
	for c in /boot/config-"$(uname -r)" /proc/config.gz; do
		[ -r "$c" ] || continue
		echo "config ($c):"
		{ zcat -f "$c" 2>/dev/null || cat "$c"; } |
			grep -E 'CONFIG_(PCI_P2PDMA|ZONE_DEVICE|DMABUF_MOVE_NOTIFY|PCI_ATS)[= ]' | sed 's/^/  /'
		break
	done
	echo "classes (count class):"
	cat /sys/bus/pci/devices/*/class | sort | uniq -c | sort -rn | head -20 | sed 's/^/  /'
	echo "drivers:"
	for d in /sys/bus/pci/devices/*; do
		[ -e "$d/driver" ] && basename "$(readlink "$d/driver")"
	done | sort | uniq -c | sort -rn | sed 's/^/  /'
	echo "tools: lspci=$(native_or_bundled lspci) lstopo-no-graphics=$(native_or_bundled lstopo-no-graphics)"
	echo "python3: $(command -v python3 || echo none)  nvidia-smi: $(command -v nvidia-smi || echo none)"
} >"$OUT/facts.txt" 2>&1

ctl snapshot "$OUT/host.tar" >"$OUT/p2pctl-snapshot.txt" 2>&1
ctl topo >"$OUT/p2pctl-topo.txt" 2>&1
ctl -v topo >"$OUT/p2pctl-topo-v.txt" 2>&1
ctl matrix >"$OUT/p2pctl-matrix.txt" 2>&1
ctl matrix --all >"$OUT/p2pctl-matrix-all.txt" 2>&1
ctl --json matrix >"$OUT/p2pctl-matrix.json" 2>&1
ctl --json topo >"$OUT/p2pctl-topo.json" 2>&1
ctl topo --format dot >"$OUT/p2pctl-topo.dot" 2>&1
# explain: every GPU (class 03xx, 12xx accelerators) against every NVMe (0108) and each other
mapfile -t gpus < <(grep -l -E '^0x(03|12)' /sys/bus/pci/devices/*/class | xargs -r -n1 dirname | xargs -r -n1 basename)
mapfile -t nvme < <(grep -l '^0x0108' /sys/bus/pci/devices/*/class | xargs -r -n1 dirname | xargs -r -n1 basename)
{
	for a in "${gpus[@]}"; do
		for b in "${nvme[@]}" "${gpus[@]}"; do
			[ "$a" = "$b" ] && continue
			echo "== check $a $b"
			ctl check "$a" "$b"
		done
	done | head -c 2000000
} >"$OUT/p2pctl-check.txt" 2>&1
timeout 60 nvidia-smi topo -m >"$OUT/nvidia-smi-topo.txt" 2>&1
timeout 60 nvidia-smi -L >>"$OUT/nvidia-smi-topo.txt" 2>&1
run_tool_bounded lspci -tv >"$OUT/lspci-tv.txt" 2>&1
run_tool_bounded lspci -vvv >"$OUT/lspci-vvv.txt" 2>&1
run_tool_bounded lstopo-no-graphics >"$OUT/lstopo.txt" 2>&1

# Timing: one of each tool per round, order rotated each round; wall from EPOCHREALTIME,
# CPU (user+sys of the child) from /proc/self/stat's cutime+cstime deltas (clock ticks).
tools=("true (exec floor)" "p2pctl topo" "p2pctl -v topo" "p2pctl --json topo" "lspci -tv"
	"lstopo-no-graphics")
cmd_of() {
	case "$1" in
	"true (exec floor)") echo truex ;;
	"p2pctl topo") echo ctlx topo ;;
	"p2pctl -v topo") echo ctlx -v topo ;;
	"p2pctl --json topo") echo ctlx --json topo ;;
	"lspci -tv") echo run_tool lspci -tv ;;
	"lstopo-no-graphics") echo run_tool lstopo-no-graphics ;;
	esac
}
hz=$(getconf CLK_TCK)
ctlx() { "${X[@]}" "$B/bin/p2pctl" --offline "$@"; } # as lspci/lstopo: no timeout wrapper
truex() { "${X[@]}" "$(type -P true)"; } # a process through the same loader, doing nothing
declare -A wall cpu
for ((r = 0; r < ROUNDS; r++)); do
	n=${#tools[@]}
	for ((i = 0; i < n; i++)); do
		t=${tools[$(((i + r) % n))]}
		# shellcheck disable=SC2046
		res=$(read -r -a s </proc/$BASHPID/stat; c0=$((s[15] + s[16])); t0=$EPOCHREALTIME
			$(cmd_of "$t") >/dev/null 2>&1; rc=$?
			t1=$EPOCHREALTIME; read -r -a s </proc/$BASHPID/stat; c1=$((s[15] + s[16]))
			echo "$rc $t0 $t1 $c0 $c1")
		read -r rc t0 t1 c0 c1 <<<"$res"
		[ "$rc" = 0 ] || continue
		wall[$t]+="$(echo "$t0 $t1" | awk '{printf "%.3f", ($2-$1)*1000}') "
		cpu[$t]+="$(echo "$c0 $c1 $hz" | awk '{printf "%.1f", ($2-$1)*1000/$3}') "
	done
done
# shellcheck source=bench/device/median.sh
. "$(dirname "$0")/median.sh"
nf=$(ls /sys/bus/pci/devices | wc -l)
cfgbytes() { # config-space bytes a command reads (pread64/read on fds opened on .../config)
	[ -x "$B/bin/strace" ] || { echo n/a; return; }
	timeout 120 "${X[@]}" "$B/bin/strace" -f -qq -e trace=openat,pread64,read,close -o "$OUT/strace.tmp" "${X[@]}" "$@" >/dev/null 2>&1
	# per pid: fds opened on .../config, then the byte counts of reads on them (POSIX awk)
	awk '/openat\(.*[\/"]config", / { fd[$1 " " $NF] = 1; next }
	     / (pread64|read)\(/ { f = $2; sub(/^[a-z0-9]*\(/, "", f); sub(/,.*/, "", f)
	                          if (($1 " " f) in fd && $NF > 0) s += $NF }
	     / close\(/ { f = $2; sub(/^close\(/, "", f); sub(/\).*/, "", f); delete fd[$1 " " f] }
	     END { print s + 0 }' "$OUT/strace.tmp" 2>/dev/null || echo n/a
	rm -f "$OUT/strace.tmp"
}
ctlbin=("${X[@]}" "$B/bin/p2pctl" --offline)
{
	echo "real /sys: $nf functions, uid $(id -u), $ROUNDS interleaved rounds, $(date -u +%FT%TZ)"
	printf "  %-20s %9s %9s   %s\n" tool "wall ms" "cpu ms" "all wall samples"
	for t in "${tools[@]}"; do
		printf "  %-20s %9s %9s   %s\n" "$t" "$(echo "${wall[$t]:-}" | median)" \
			"$(echo "${cpu[$t]:-}" | median)" "${wall[$t]:-none}"
	done
	ours=$(echo "${wall["p2pctl topo"]:-}" | median)
	for base in "lspci -tv" "lstopo-no-graphics"; do
		b=$(echo "${wall[$base]:-}" | median)
		for o in "p2pctl topo" "p2pctl -v topo" "p2pctl --json topo"; do
			m=$(echo "${wall[$o]:-}" | median)
			echo "$b $m" | awk -v b="$base" -v o="$o" '$1!="n/a" && $2!="n/a" && $2>0 {printf "  ratio %-18s / %-20s = %.2fx (wall medians)\n", b, o, $1/$2}'
		done
	done
	echo "config bytes read (strace):"
	for spec in "p2pctl topo" "lspci -tv" "lstopo-no-graphics"; do
		case "$spec" in
		"p2pctl topo") n=$(cfgbytes "$B/bin/p2pctl" --offline topo) ;;
		"lspci -tv") n=$(cfgbytes "$B/bin/lspci" -tv) ;;
		*) n=$(cfgbytes "$B/bin/lstopo-no-graphics") ;;
		esac
		echo "$n $nf" | awk -v t="$spec" '{ if ($1 == "n/a") printf "  %-20s n/a\n", t; else printf "  %-20s %d bytes, %.1f per function\n", t, $1, $1/$2 }'
	done
	echo "in-process (bench-topo /):"
	timeout 120 "${X[@]}" "$B/bin/bench-topo" --runs 5 --sample 200 / 2>&1 | sed 's/^/  /'
} >"$OUT/timing.txt" 2>&1
unset ctlbin

# Synthetic tree (SYNTH, default 4096 functions; SYNTH=0 skips): the same whole-process
# comparison as bench/topo/run.sh, with the bundled tools, SYNTH_ROUNDS (7) interleaved rounds.
if [ "${SYNTH:-4096}" != 0 ] && command -v python3 >/dev/null; then
	tree=$(mktemp -d /tmp/p2p-synth.XXXXXX)
	python3 tests/fixtures/gen-fabric.py "$tree/f" --functions "${SYNTH:-4096}" >/dev/null
	st=("p2pctl topo" "lspci -tv" "lstopo-no-graphics")
	declare -A sw
	synth_cmd() {
		case "$1" in
		"p2pctl topo") "${X[@]}" "$B/bin/p2pctl" --fsroot "$tree/f" topo ;;
		"lspci -tv") "${X[@]}" "$B/bin/lspci" -A linux-sysfs -O "sysfs.path=$tree/f/sys/bus/pci" -tv ;;
		*) HWLOC_FSROOT=$tree/f HWLOC_COMPONENTS=-x86 "${X[@]}" "$B/bin/lstopo-no-graphics" --of console ;;
		esac
	}
	for ((r = 0; r < ${SYNTH_ROUNDS:-7}; r++)); do
		for ((i = 0; i < 3; i++)); do
			t=${st[$(((i + r) % 3))]}
			t0=$EPOCHREALTIME
			synth_cmd "$t" >/dev/null 2>&1 || continue
			t1=$EPOCHREALTIME
			sw[$t]+="$(echo "$t0 $t1" | awk '{printf "%.3f", ($2-$1)*1000}') "
		done
	done
	{
		echo "synthetic tree: ${SYNTH:-4096} functions ($(ls "$tree/f/sys/bus/pci/devices" | wc -l) listed), ${SYNTH_ROUNDS:-7} interleaved rounds"
		echo "  lspci -n lists $("${X[@]}" "$B/bin/lspci" -A linux-sysfs -O "sysfs.path=$tree/f/sys/bus/pci" -n 2>/dev/null | wc -l) functions"
		for t in "${st[@]}"; do
			printf "  %-20s %9s ms   %s\n" "$t" "$(echo "${sw[$t]:-}" | median)" "${sw[$t]:-none}"
		done
		ours=$(echo "${sw["p2pctl topo"]:-}" | median)
		for base in "lspci -tv" "lstopo-no-graphics"; do
			echo "$(echo "${sw[$base]:-}" | median) $ours" | awk -v b="$base" \
				'$1!="n/a" && $2!="n/a" && $2>0 {printf "  ratio %-18s / p2pctl topo = %.2fx (goal >= 3x)\n", b, $1/$2}'
		done
		echo "in-process (bench-topo):"
		timeout 300 "${X[@]}" "$B/bin/bench-topo" --runs 5 --sample 200 "$tree/f" 2>&1 | sed 's/^/  /'
	} >"$OUT/synth.txt" 2>&1
	rm -rf "$tree"
fi

# bench-alloc: p2pd alloc+release against memfd + one bare round trip (ALLOC_OPS, 20000)
if [ -x "$B/bin/bench-alloc" ] && [ "${ALLOC_OPS:-20000}" != 0 ]; then
	wrap() { # wrap BIN FILE: a script that runs the bundled BIN through the bundled loader
		printf '#!/bin/sh\nexec %s --library-path %s %s "$@"\n' "${X[0]}" "$B/lib" "$1" >"$2"
		chmod +x "$2"
	}
	wrap "$B/bin/p2pd" "$OUT/p2pd-wrapper"
	timeout 300 "${X[@]}" "$B/bin/bench-alloc" "$OUT/p2pd-wrapper" \
		tests/fixtures/sysfs/qemu-q35 "${ALLOC_OPS:-20000}" >"$OUT/bench-alloc.txt" 2>&1
	echo "rc=$?" >>"$OUT/bench-alloc.txt"
	# an earlier p2pd (bundle.sh OLD_P2PD=...) against this one: AB_ROUNDS interleaved runs
	if [ -x "$B/bin/p2pd-old" ]; then
		wrap "$B/bin/p2pd-old" "$OUT/p2pd-old-wrapper"
		for k in $(seq "${AB_ROUNDS:-3}"); do
			for w in p2pd-old-wrapper p2pd-wrapper; do
				echo "== round $k: ${w%-wrapper}"
				timeout 120 "${X[@]}" "$B/bin/bench-alloc" "$OUT/$w" \
					tests/fixtures/sysfs/qemu-q35 "${ALLOC_OPS:-20000}" 2>&1 |
					grep -E '^\((a|b|c)\) |^ratio \((b|c)\)/'
			done
		done >"$OUT/bench-alloc-ab.txt" 2>&1
		rm -f "$OUT/p2pd-old-wrapper"
	fi
	# what a wakeup and a context switch cost here (they bound (b) and (c))
	if [ -x "$B/bin/perf" ]; then
		for m in "" "-T"; do
			for pin in "" "taskset -c 0"; do
				echo "== perf bench sched pipe ${m:-(processes)} ${pin:+(one CPU)}"
				# shellcheck disable=SC2086 # $pin and $m: words or nothing
				timeout 60 $pin "${X[@]}" "$B/bin/perf" bench sched pipe $m -l 50000 2>&1 |
					tail -3
			done
		done >"$OUT/sched-pipe.txt"
	fi
	rm -f "$OUT/p2pd-wrapper"
fi

# p2pd on this server's /sys: built-in defaults, a private socket, stderr log; the admin
# views and a host/memfd buffer through p2pctl, then SIGTERM.  Skipped with P2PD=0.
if [ "${P2PD:-1}" != 0 ] && [ -x "$B/bin/p2pd" ]; then
	sockdir=$(mktemp -d /tmp/p2pd-bench.XXXXXX) # 0700: p2pd refuses a world-writable socket dir
	sock=$sockdir/p2pd.sock
	{
		"${X[@]}" "$B/bin/p2pd" --socket "$sock" --log stderr \
			>"$OUT/p2pd.log" 2>&1 &
		pid=$!
		for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
		for c in status matrix buffers clients stats "alloc 1M types=host,memfd name=dev hold=1" \
			"--json status" metrics; do
			echo "== p2pctl $c"
			# shellcheck disable=SC2086
			timeout 30 "${X[@]}" "$B/bin/p2pctl" --socket "$sock" $c 2>&1 | head -60
			echo "rc=${PIPESTATUS[0]}"
		done
		kill -TERM "$pid"
		wait "$pid"
		echo "p2pd exit: $?"
		rm -rf "$sockdir"
		echo "== p2pd log"
		cat "$OUT/p2pd.log"
	} >"$OUT/p2pd-online.txt" 2>&1
fi
ls -la "$OUT"
cat "$OUT/facts.txt" "$OUT/timing.txt" "$OUT/synth.txt" 2>/dev/null
