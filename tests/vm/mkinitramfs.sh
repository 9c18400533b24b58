#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Pack the guest initramfs:  mkinitramfs.sh OUT.cpio.gz KMOD_DIR GUEST_BIN_DIR [BUILD_DIR]
#   busybox-static, tests/vm/guest/init, the modules from KMOD_DIR, the guest
#   test programs, and (when built) p2pd, p2pctl and libp2pclient from
#   BUILD_DIR with every shared library they need (found with ldd).
set -euo pipefail
out=$1 kmod=$2 gbin=$3 build=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"

mkdir -p "$root"/{bin,sbin,lib/modules,proc,sys,dev,tmp,run,etc}
[ -x /bin/busybox ] || { echo "mkinitramfs: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 1; }
ldd /bin/busybox >/dev/null 2>&1 && { echo "mkinitramfs: /bin/busybox is not static (need busybox-static)" >&2; exit 1; }
cp /bin/busybox "$root/bin/busybox"
cp "$here/guest/init" "$root/init"
for m in p2pbroker.ko p2pb_test_importer.ko p2pb_test_acs.ko; do
	cp "$kmod/$m" "$root/lib/modules/$m"
done
for b in "$gbin"/*; do
	[ -f "$b" ] && [ -x "$b" ] && cp "$b" "$root/bin/"
done
printf "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n" >"$root/etc/passwd"
printf "root:x:0:\nnogroup:x:65534:\n" >"$root/etc/group"

copy_libs() {
	local f=$1 lib
	for lib in $(ldd "$f" 2>/dev/null | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}
if [ -n "$build" ]; then
	for b in p2pd p2pctl; do
		if [ -x "$build/$b" ]; then
			cp "$build/$b" "$root/bin/$b"
			copy_libs "$build/$b"
		fi
	done
	for l in "$build"/libp2pclient.so*; do
		[ -e "$l" ] || continue
		cp -L "$l" "$root/bin/$(basename "$l")"   # $ORIGIN rpath of p2pctl
		mkdir -p "$root/usr/lib"
		cp -L "$l" "$root/usr/lib/$(basename "$l")"
		copy_libs "$l"
	done
fi
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$out"
