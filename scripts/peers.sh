#!/usr/bin/env bash
# Installs the Debian packages the interop tests drive as real peers.
# Idempotent: when everything is installed it only checks and exits.
# As root it runs apt-get; otherwise it prints the command to run.
set -euo pipefail

# One list for every interop peer; later issues append to it.
PACKAGES="python3-pyepics socat python3-pymodbus python3-serial-asyncio mbpoll mosquitto mosquitto-clients"

missing=""
for p in $PACKAGES; do
	if ! dpkg -s "$p" >/dev/null 2>&1; then
		missing="$missing $p"
	fi
done
missing="${missing# }"

if [ -z "$missing" ]; then
	echo "peers: all installed ($PACKAGES)"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "peers: missing: $missing"
	echo "peers: install them with: sudo make peers"
	echo "peers:   (or: sudo apt-get update && sudo apt-get install -y --no-install-recommends $missing)"
	exit 1
fi

echo "peers: installing: $missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y --no-install-recommends $missing
