#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what the VM tier needs on a fresh Debian 12 machine (CI); a no-op
# when everything is there.  The list is mk/deps-vm.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
deps=$(grep -vE '^\s*(#|$)' "$here/../../mk/deps-vm.txt")
missing=()
for p in $deps; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "vm setup: installing ${missing[*]}" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "vm setup: need root to install ${missing[*]}" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
fi
