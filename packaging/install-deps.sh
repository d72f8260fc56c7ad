#!/usr/bin/env bash
# Installs everything walpipe needs to build, test and run on Debian 12.
# Idempotent: packages already present are left alone. Needs root or sudo.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config git
	postgresql-15 postgresql-client-15 postgresql-15-wal2json
	libpq-dev libyaml-dev librdkafka-dev libsystemd-dev libcmocka-dev
	libmicrohttpd-dev
	kcat jq
	procps util-linux time systemd curl
	clang libclang-rt-14-dev
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-deps: must run as root or with sudo available" >&2
		exit 1
	fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages already installed"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
