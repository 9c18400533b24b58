#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-dkms (part of make check): one version number, and the README's
# DKMS commands run as written.
#   - VERSION, kmod/dkms.conf's PACKAGE_VERSION and every p2pbroker-X /
#     p2pbroker/X in README.md and tests/vm/README.md agree;
#   - the README's "Kernel module" command block is executed line by line:
#     apt-get: its packages must be installed (nothing is installed here);
#     cp -r kmod /usr/src/...: into a scratch source tree;
#     dkms add / dkms build: with --sourcetree/--dkmstree in that scratch
#     tree, "dkms build" once per kernel header set installed (-k RELEASE);
#     dkms install / modprobe: not run here (they change the machine; the
#     module is loaded in the VM tier).  Any other line fails the test, so
#     the README cannot drift from what is tested.
# Last line: "dkms: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS dkms/$1"; }
ko() { fail=$((fail + 1)); echo "FAIL dkms/$1: $2"; }
done_() { echo "dkms: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

ver=$(cat VERSION 2>/dev/null)
if ! [[ "$ver" =~ ^[0-9]+(\.[0-9]+)+$ ]]; then
	ko version_file "VERSION is missing or not a version: '$ver'"
	done_
fi
dver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' kmod/dkms.conf)
if [ "$dver" = "$ver" ]; then
	ok "dkms_conf_version ($ver)"
else
	ko dkms_conf_version "kmod/dkms.conf PACKAGE_VERSION=\"$dver\", VERSION says $ver"
fi
bad=$(grep -noE 'p2pbroker[-/][0-9][0-9.]*[0-9]' README.md tests/vm/README.md |
	grep -vE "p2pbroker[-/]$ver\$" | tr '\n' ' ')
if [ -z "$bad" ]; then
	ok readme_versions
else
	ko readme_versions "README versions other than VERSION ($ver): $bad"
fi

# The README's command block: the first ```sh block after "## Kernel module".
block=$(awk '/^## Kernel module/ { sec = 1; next }
	sec && /^## / { exit }
	sec && /^```sh/ { inb = 1; next }
	inb && /^```/ { exit }
	inb { print }' README.md)
if [ -z "$block" ] || ! grep -q '^dkms build' <<<"$block"; then
	ko readme_block "no \`\`\`sh block with \"dkms build\" under README.md's \"## Kernel module\""
	done_
fi

command -v dkms >/dev/null || { ko dkms_installed "dkms is not installed (mk/deps-vm.txt)"; done_; }
headers=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V)
[ -n "$headers" ] || { ko headers "no /usr/src/linux-headers-*-amd64 installed"; done_; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/p2pb-dkms.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src" "$scratch/dkms"
tree=(--sourcetree "$scratch/src" --dkmstree "$scratch/dkms")

while IFS= read -r raw; do
	cmd=$(sed -e 's/[[:space:]]*#.*$//' -e 's/[[:space:]]*$//' <<<"$raw")
	[ -n "$cmd" ] || continue
	read -r -a w <<<"$cmd"
	case "$cmd" in
	"apt-get install "*)
		# linux-headers-$(uname -r): every header set installed is built below.
		pkgs=${cmd//'linux-headers-$(uname -r)'/}
		read -r -a w <<<"$pkgs"
		missing=
		for p in "${w[@]:2}"; do
			dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
				missing="$missing $p"
		done
		if [ -z "$missing" ]; then ok "readme: $cmd (packages present)"; else ko "readme: $cmd" "not installed:$missing"; fi
		;;
	"cp -r kmod /usr/src/p2pbroker-"*)
		[ "${#w[@]}" -eq 4 ] && [ "${w[3]}" = "/usr/src/p2pbroker-$ver" ] ||
			{ ko "readme: $cmd" "expected cp -r kmod /usr/src/p2pbroker-$ver"; continue; }
		if cp -r kmod "$scratch/src/p2pbroker-$ver"; then ok "readme: $cmd"; else ko "readme: $cmd" "cp failed"; fi
		;;
	"dkms add p2pbroker/"* | "dkms build p2pbroker/"*)
		[ "${w[2]}" = "p2pbroker/$ver" ] || { ko "readme: $cmd" "expected p2pbroker/$ver"; continue; }
		if [ "${w[1]}" = add ]; then
			if dkms "${w[@]:1}" "${tree[@]}" >"$scratch/add.log" 2>&1; then
				ok "readme: $cmd"
			else
				ko "readme: $cmd" "$(tail -n 3 "$scratch/add.log" | tr '\n' ' ')"
			fi
			continue
		fi
		for h in $headers; do
			rel=${h#/usr/src/linux-headers-}
			log=$scratch/build-$rel.log
			if nice -n 10 dkms "${w[@]:1}" -k "$rel" "${tree[@]}" >"$log" 2>&1 &&
				ls "$scratch/dkms/p2pbroker/$ver/$rel"/*/module/p2pbroker.ko* >/dev/null 2>&1; then
				ok "readme: $cmd -k $rel"
			else
				ko "readme: $cmd -k $rel" "$(grep -E 'error|Error' "$log" "$scratch"/dkms/p2pbroker/"$ver"/"$rel"/*/log/make.log 2>/dev/null | head -n 3 | tr '\n' ' ')"
			fi
		done
		;;
	"dkms install p2pbroker/$ver" | "modprobe p2pbroker")
		echo "  dkms: '$cmd' not run here (changes the machine; loading is tested in make vmcheck)"
		;;
	*)
		ko "readme: $cmd" "a command this test does not know: teach tests/vm/check-dkms.sh"
		;;
	esac
done <<<"$block"
done_
