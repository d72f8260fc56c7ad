#!/usr/bin/env bash
# check_units.sh: the systemd units as cmake configured them.
#   - systemd-analyze verify passes without a single message (it exits 0
#     on unknown keys), with the built binary in ExecStart and without the
#     man page lookup, which needs an install;
#   - ExecStart names the binary where `cmake --install` puts it;
#   - systemd-analyze security --offline=yes rates the exposure 2.0 or less.
# Usage: check_units.sh UNIT_DIR_BUILT TARGET_FILE WALPIPE_BIN INSTALLED_BIN
set -euo pipefail
built=$1 target=$2 bin=$3 installed=$4
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cp "$built/walpipe@.service" "$target" "$d/"
grep -qx "ExecStart=$installed run -c /etc/walpipe/%i.yaml" "$d/walpipe@.service" ||
	{ echo "FAIL: ExecStart does not name $installed:"; grep '^ExecStart' "$d/walpipe@.service"; exit 1; }
sed -i "s|$installed|$bin|g" "$d/walpipe@.service"
out=$(systemd-analyze verify --man=no "$d/walpipe@shop.service" "$d/walpipe.target" 2>&1) ||
	{ echo "FAIL: verify: $out"; exit 1; }
[ -z "$out" ] || { echo "FAIL: verify said: $out"; exit 1; }
level=$(systemd-analyze security --offline=yes "$d/walpipe@.service" 2>&1 |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$level" ] || { echo "FAIL: no exposure level from systemd-analyze security"; exit 1; }
awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' ||
	{ echo "FAIL: exposure level $level, above 2.0"; exit 1; }
echo "ok: units verify; ExecStart=$installed; exposure $level"
