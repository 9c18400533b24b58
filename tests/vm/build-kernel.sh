#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build (or reuse from cache) the small guest kernel for the VM test tier.
#
#   tests/vm/build-kernel.sh FRAGMENT [SERIES]
#
# SERIES is the Debian source package's series, 6.1 (default, or $P2P_VM_KVER)
# or 6.12.  Extracts Debian's linux-source-SERIES tarball, configures it with
#   KCONFIG_ALLCONFIG=FRAGMENT make allnoconfig
# and builds bzImage (and the module infrastructure: Module.symvers, scripts).
# The whole build tree is kept, because out-of-tree modules are built against it.
# Cache: ${P2P_VM_CACHE:-/var/cache/p2pbroker-vm}/<source-version>-<sha256(fragment)>/
# (the source version names the series: 6.1.192-2, 6.12.117-1~deb12u1)
#   linux/            the built tree (KDIR for module builds)
#   bzImage           the guest kernel
#   configured        the tree is extracted and configured: an interrupted
#                     build resumes (make is incremental) instead of restarting
#   ok                written last: a directory without it is incomplete
# Prints the cache directory on the last line of stdout.  Exit non-zero on failure.
set -euo pipefail

frag=${1:?usage: build-kernel.sh FRAGMENT}
[ -r "$frag" ] || { echo "build-kernel: cannot read fragment $frag" >&2; exit 1; }
series=${2:-${P2P_VM_KVER:-6.1}}
case "$series" in [0-9]*.[0-9]*) ;; *) echo "build-kernel: bad series '$series' (6.1, 6.12)" >&2; exit 1 ;; esac
tarball=${P2P_VM_KSRC:-/usr/src/linux-source-$series.tar.xz}
[ -r "$tarball" ] || { echo "build-kernel: $tarball missing (apt-get install linux-source-$series)" >&2; exit 1; }
jobs=${P2P_VM_JOBS:-$(nproc)}

srcver=$(dpkg-query -W -f='${Version}' "linux-source-$series" 2>/dev/null || true)
[ -n "$srcver" ] || srcver=$(sha256sum "$tarball" | cut -c1-16)
fraghash=$(sha256sum "$frag" | cut -c1-64)
cache=${P2P_VM_CACHE:-/var/cache/p2pbroker-vm}
dir="$cache/${srcver}-${fraghash}"

mkdir -p "$cache"
# One builder at a time per cache entry; others wait and then reuse it.
exec 9>"$dir.lock"
flock 9

if [ -f "$dir/ok" ] && [ -f "$dir/bzImage" ] && [ -f "$dir/linux/Module.symvers" ]; then
	echo "build-kernel: cache hit $dir" >&2
	echo "$dir"
	exit 0
fi

if [ -f "$dir/configured" ] && [ -f "$dir/linux/.config" ]; then
	# An interrupted build (killed, machine stopped): the tree is extracted
	# and configured; make picks up where it stopped (kbuild rebuilds any
	# object whose .cmd file was never written).
	echo "build-kernel: resuming the interrupted build in $dir (source $srcver)" >&2
	cd "$dir/linux"
else
	echo "build-kernel: cold build into $dir (source $srcver)" >&2
	rm -rf "$dir"
	mkdir -p "$dir"
	tar -C "$dir" -xf "$tarball"
	mv "$dir/linux-source-$series" "$dir/linux"
	cp "$frag" "$dir/fragment.config"
	cd "$dir/linux"
	KCONFIG_ALLCONFIG="$dir/fragment.config" make -s allnoconfig
	# Every line of the fragment must have survived Kconfig; a silently dropped
	# option (e.g. PCI_P2PDMA without its dependencies) would test the wrong kernel.
	bad=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		if ! grep -qxF "$line" .config; then
			echo "build-kernel: fragment line not in .config: $line" >&2
			bad=1
		fi
	done <"$dir/fragment.config"
	[ "$bad" -eq 0 ] || exit 1
	touch "$dir/configured"
fi
make -s -j"$jobs" bzImage modules
cp arch/x86/boot/bzImage "$dir/bzImage"
[ -f Module.symvers ] || { echo "build-kernel: no Module.symvers" >&2; exit 1; }
make -s kernelrelease >"$dir/kernelrelease"
touch "$dir/ok"
echo "build-kernel: done $dir ($(cat "$dir/kernelrelease"))" >&2
echo "$dir"
