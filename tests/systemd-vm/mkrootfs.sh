#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build (or reuse) the Debian 12 guest for make vmcheck-systemd:
#   mkrootfs.sh            prints the cache directory holding
#                          rootfs.qcow2 (ext4, no partition table), vmlinuz, initrd.img
# The guest is made with mmdebstrap from Debian packages only: bookworm plus
# bookworm-backports for the 6.12 kernel (UDMABUF, DMA-BUF heaps) and its
# headers, systemd as PID 1, dkms and build-essential so that installing
# p2pbroker-dkms builds the module as it does on an admin's machine.
# The cache lives outside the clone, keyed by a hash of this script (the
# package list and the hooks are in it) and of p2pvm-run.service:
# P2P_SYSTEMD_VM_CACHE overrides the parent directory (default
# /var/cache/p2pbroker-vm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
parent=${P2P_SYSTEMD_VM_CACHE:-/var/cache/p2pbroker-vm}
mirror=${P2P_DEBIAN_MIRROR:-http://deb.debian.org/debian}

packages=(
	systemd systemd-sysv udev dbus kmod initramfs-tools
	linux-image-amd64/bookworm-backports linux-headers-amd64/bookworm-backports
	dkms build-essential
	# what the .debs depend on, so that apt installs them offline in the guest
	libjson-c5 libevent-2.1-7 libevent-core-2.1-7 libdrm2 libsystemd0
	pciutils e2fsprogs
)

# build DIR: the guest into DIR/rootfs.qcow2, DIR/vmlinuz, DIR/initrd.img.
# The guest's own sources.list stays pointed at bookworm (+backports); the
# guest has no network, the .debs' dependencies are preinstalled (above).
build() {
	local work=$1 root=$1/root
	mmdebstrap --mode=root --variant=minbase \
		--aptopt='APT::Install-Recommends "false"' \
		--include="$(IFS=,; echo "${packages[*]}")" \
		--customize-hook='echo p2pvm >"$1/etc/hostname"' \
		--customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n" >"$1/etc/fstab"' \
		--customize-hook='chroot "$1" passwd -d root' \
		--customize-hook='chroot "$1" useradd -m -s /bin/sh alice' \
		--customize-hook='chroot "$1" useradd -m -s /bin/sh mallory' \
		--customize-hook='mkdir -p "$1/etc/systemd/system/multi-user.target.wants"' \
		--customize-hook="cp '$here/p2pvm-run.service' \"\$1/etc/systemd/system/\"" \
		--customize-hook='ln -s /etc/systemd/system/p2pvm-run.service "$1/etc/systemd/system/multi-user.target.wants/"' \
		--customize-hook='rm -f "$1"/etc/machine-id && touch "$1/etc/machine-id"' \
		--customize-hook="cp -L \"\$1\"/boot/vmlinuz-* '$work/vmlinuz' && cp -L \"\$1\"/boot/initrd.img-* '$work/initrd.img'" \
		bookworm "$root" \
		"deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
		"deb $mirror bookworm-backports main" \
		"deb http://deb.debian.org/debian-security bookworm-security main" || return 1
	rm -rf "$root"/var/cache/apt/archives/*.deb
	# A 6 GiB ext4 (sparse) filled from the tree, then qcow2: runs use overlays.
	mke2fs -q -t ext4 -L p2pvm -d "$root" "$work/rootfs.raw" 6G || return 1
	qemu-img convert -O qcow2 "$work/rootfs.raw" "$work/rootfs.qcow2" || return 1
	rm -rf "$work/rootfs.raw" "$root"
}

# The key: the package list, build() as bash parses it (comments do not
# count) and the guest's driver unit.
key=$({ printf '%s\n' "${packages[@]}"; declare -f build; cat "$here/p2pvm-run.service"; } |
	sha256sum | cut -c1-16)
cache="$parent/systemd-$key"
if [ -s "$cache/rootfs.qcow2" ] && [ -s "$cache/vmlinuz" ] && [ -s "$cache/initrd.img" ]; then
	echo "$cache"
	exit 0
fi

for t in mmdebstrap mke2fs qemu-img; do
	command -v "$t" >/dev/null || { echo "mkrootfs: $t missing (scripts/install-deps.sh)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "mkrootfs: needs root (mmdebstrap --mode=root)" >&2; exit 1; }

mkdir -p "$parent"
work=$(mktemp -d "$parent/systemd-$key.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "mkrootfs: building the Debian 12 guest in $work (a cold build downloads ~400 MB)" >&2
start=$(date +%s)
build "$work" || { echo "mkrootfs: building the guest failed" >&2; exit 1; }
echo "mkrootfs: built in $(($(date +%s) - start))s" >&2
rm -rf "$cache"
chmod 0755 "$work"
mv "$work" "$cache"
trap - EXIT
echo "$cache"
