#!/usr/bin/env bash
# Install the Debian 12 packages p2pbroker needs to build and test: the base
# list below plus every mk/deps-*.txt (one package per line, # comments).
# Does nothing when all are present; needs root (or sudo) otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
base=(build-essential pkg-config clang libclang-rt-14-dev
      libjson-c-dev libevent-dev libsystemd-dev libdrm-dev libcmocka-dev libpci-dev
      pci.ids pciutils python3 lcov)
mapfile -t extra < <(cat mk/deps-*.txt 2>/dev/null | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d')
want=("${base[@]}" "${extra[@]}")
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
# The group p2pd's socket belongs to (what the p2pbroker package creates):
# config/p2pd.json names it and the tests load that file.
if ! getent group p2p >/dev/null; then
	echo "install-deps: creating group p2p (systemd/p2pd.sysusers)"
	if command -v systemd-sysusers >/dev/null; then
		$SUDO systemd-sysusers "$PWD/systemd/p2pd.sysusers"
	else
		$SUDO groupadd --system p2p
	fi
fi
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#want[@]} packages present"
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
