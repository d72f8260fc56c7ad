#!/usr/bin/env bash
# test-deb.sh: the Debian package as an operator meets it, on this machine
# (CI: a fresh Debian 12 container, root, no running systemd):
#   build dist/walpipe_*.deb and lintian it (no error, no warning that
#   packaging/debian/lintian-overrides does not explain); install it with
#   apt; check its files, modes, owners, the walpipe user, --version,
#   systemd-analyze verify of an instance, walpipe check run as walpipe;
#   upgrade to a rebuilt revision (running instances restarted, files,
#   state and the user kept); remove; purge (the operator's
#   /etc/walpipe/*.yaml stays, the user and /var/lib/walpipe go); install
#   again over what the purge left and purge again.
# The systemctl calls of the maintainer scripts are checked in a mount
# namespace where /run/systemd/system exists and systemctl is a recorder
# (skipped when unshare -m is not allowed).
# Needs root.  Refuses to run where walpipe, its user or /etc/walpipe
# already are, and leaves none of them behind.  Exit status 0: all passed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export DEBIAN_FRONTEND=noninteractive

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; }
# expect_stat PATH "OWNER:GROUP MODE" (mode in octal, as stat %a)
expect_stat() {
	[ -e "$1" ] || fail "$1 is missing"
	expect_eq "owner and mode of $1" "$2" "$(stat -c '%U:%G %a' "$1")"
}
expect_gone() { if [ -e "$1" ] || [ -L "$1" ]; then fail "$1 is still there"; fi; }
pkg_status() { dpkg-query -W -f '${db:Status-Abbrev}${Version}' walpipe 2>/dev/null || true; }

[ "$(id -u)" -eq 0 ] || fail "test-deb.sh needs root (apt-get install, a system user)"
case "$(pkg_status)" in
'' | un*) ;;
*) fail "walpipe is installed on this machine ($(pkg_status)); purge it first" ;;
esac
[ ! -e /etc/walpipe ] || fail "/etc/walpipe exists; this test would change it"
! getent passwd walpipe >/dev/null || fail "a user walpipe exists; this test would remove it"
! getent group walpipe >/dev/null || fail "a group walpipe exists; this test would remove it"

tmp=$(mktemp -d)
chmod 755 "$tmp"
cleanup() {
	local rc=$?
	case "$(pkg_status)" in
	'' | un*) ;;
	*) apt-get purge -y -q walpipe >/dev/null 2>&1 || echo "test-deb: could not purge walpipe" >&2 ;;
	esac
	rm -rf /etc/walpipe "$tmp"
	exit "$rc"
}
trap cleanup EXIT

if ! command -v lintian >/dev/null; then
	apt-get install -y -q --no-install-recommends lintian >/dev/null
fi

# Build: revision 1 into dist/ as an operator would, revision 2 for the
# upgrade.
rm -f dist/walpipe_*.deb
deb=$(packaging/deb.sh)
deb2=$(packaging/deb.sh --revision 2 --out "$tmp/dist2")
version=$(dpkg-deb -f "$deb" Version)
upstream=${version%-*}
arch=$(dpkg --print-architecture)
expect_eq "package file" "$root/dist/walpipe_${upstream}-1_$arch.deb" "$deb"
expect_eq "rebuilt package's version" "$upstream-2" "$(dpkg-deb -f "$deb2" Version)"
ok "built $(basename "$deb") and $(basename "$deb2")"

# lintian: any error or warning fails; the kept warnings are overridden
# (with their reason) in the package.
lintian --fail-on error,warning "$deb" || fail "lintian reports errors or warnings"
lintian --show-overrides "$deb" || true
ok "lintian: no errors, no warnings but the overridden"

depends=$(dpkg-deb -f "$deb" Depends)
for d in libc6 libpq5 libyaml-0-2 librdkafka1 libmicrohttpd12 libsystemd0 adduser; do
	grep -Eq "(^|, )$d( |,|$)" <<<"$depends" || fail "Depends lacks $d: $depends"
done
expect_eq "Suggests" postgresql-15-wal2json "$(dpkg-deb -f "$deb" Suggests)"
ok "Depends: $depends"

# A recorder in place of systemctl and a running systemd to be seen (an
# empty /run of its own with /run/systemd/system), for the maintainer
# scripts run by apt_systemd: what they ask systemd for lands in $calls.  policy-rc.d (containers often forbid every action)
# is replaced by one that allows all, inside the namespace only.
calls=$tmp/systemctl.calls
mkdir "$tmp/bin"
cat >"$tmp/bin/systemctl" <<EOF
#!/bin/sh
echo "\$*" >>"$calls"
EOF
printf '#!/bin/sh\nexit 0\n' >"$tmp/policy-rc.d"
chmod 755 "$tmp/bin/systemctl" "$tmp/policy-rc.d"
if unshare -m true 2>/dev/null; then
	with_systemd=true
else
	with_systemd=false
	echo "skip: no mount namespace (unshare -m): the maintainer scripts' systemctl calls go unchecked"
fi
# apt_systemd APT-GET-ARGS...: apt-get with a "running" systemd (apt gives
# dpkg a PATH of its own: DPkg::Path).
apt_systemd() {
	: >"$calls"
	if ! $with_systemd; then
		apt-get "$@"
		return
	fi
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m sh -c '
		mount -t tmpfs -o mode=0755 none /run && mkdir -p /run/systemd/system
		if [ -e /usr/sbin/policy-rc.d ]; then
			mount --bind "$0" /usr/sbin/policy-rc.d
		fi
		shift
		exec apt-get -o DPkg::Path="$BIN:/usr/sbin:/usr/bin:/sbin:/bin" "$@"' \
		"$tmp/policy-rc.d" -- "$@"
}
export BIN=$tmp/bin
# expect_calls WHAT LINE...: exactly these systemctl calls were made, a
# run of daemon-reloads counted as one (deb-systemd-helper adds its own).
expect_calls() {
	local what=$1
	shift
	$with_systemd || return 0
	expect_eq "systemctl calls of $what" "$(printf '%s\n' "$@")" \
		"$(sed 's/^--system daemon-reload$/daemon-reload/' "$calls" | uniq)"
}

# Install: as a first install on a machine without systemd.
apt-get install -y -q "./dist/$(basename "$deb")" >"$tmp/apt.log" 2>&1 ||
	{ cat "$tmp/apt.log"; fail "apt-get install ./dist/$(basename "$deb")"; }
expect_eq "dpkg status" "ii $version" "$(pkg_status)"
ok "apt-get install ./dist/$(basename "$deb")"

expect_stat /usr/bin/walpipe "root:root 755"
expect_stat /lib/systemd/system/walpipe@.service "root:root 644"
expect_stat /lib/systemd/system/walpipe.target "root:root 644"
expect_stat /etc/walpipe "root:walpipe 750"
expect_stat /etc/walpipe/example.yaml.sample "root:root 644"
cmp /etc/walpipe/example.yaml.sample conf/example.yaml || fail "example.yaml.sample differs from conf/example.yaml"
for f in 001_walpipe_schema 002_snapshot 003_source_identity 004_applied_rules staging roles demo_shop demo_analytics; do
	expect_stat "/usr/share/walpipe/sql/$f.sql" "root:root 644"
	cmp "/usr/share/walpipe/sql/$f.sql" "sql/$f.sql" || fail "/usr/share/walpipe/sql/$f.sql differs from sql/$f.sql"
done
expect_stat /usr/share/man/man1/walpipe.1.gz "root:root 644"
expect_eq "man -w walpipe" /usr/share/man/man1/walpipe.1.gz "$(man -w walpipe)"
expect_stat /usr/share/doc/walpipe/copyright "root:root 644"
expect_stat /usr/share/doc/walpipe/changelog.Debian.gz "root:root 644"
expect_stat /var/lib/walpipe "walpipe:walpipe 700"
expect_eq "conffiles" "/etc/walpipe/example.yaml.sample" \
	"$(dpkg-query -W -f '${Conffiles}' walpipe | awk 'NF { print $1 }')"
grep -qx 'ExecStart=/usr/bin/walpipe run -c /etc/walpipe/%i.yaml' /lib/systemd/system/walpipe@.service ||
	fail "walpipe@.service: $(grep '^ExecStart=' /lib/systemd/system/walpipe@.service)"
grep -qx 'ExecStartPre=/usr/bin/walpipe check -q -c /etc/walpipe/%i.yaml' /lib/systemd/system/walpipe@.service ||
	fail "walpipe@.service: $(grep '^ExecStartPre=' /lib/systemd/system/walpipe@.service)"
expect_eq "walpipe.target enabled" /lib/systemd/system/walpipe.target \
	"$(readlink /etc/systemd/system/multi-user.target.wants/walpipe.target)"
ok "files, modes and owners; walpipe.target enabled"

IFS=: read -r _ _ uid gid _ home shell <<<"$(getent passwd walpipe)"
expect_eq "walpipe's group" walpipe "$(getent group "$gid" | cut -d: -f1)"
expect_eq "walpipe's home" /var/lib/walpipe "$home"
expect_eq "walpipe's shell" /usr/sbin/nologin "$shell"
[ "$uid" -lt 1000 ] || fail "walpipe's uid $uid is no system uid"
ok "system user walpipe (uid $uid, group walpipe, home $home)"

out=$(walpipe --version)
expect_eq "walpipe --version" "walpipe $upstream" "$(head -1 <<<"$out")"
grep -q '^  librdkafka [0-9]' <<<"$out" || fail "walpipe --version names no librdkafka: $out"
grep -qx '  systemd notify: yes' <<<"$out" || fail "walpipe --version: no sd_notify: $out"
ok "walpipe --version: $(tr '\n' ' ' <<<"$out")"

# The instance as systemd would load it from the installed files (verify
# needs no running systemd); the man page lookup of Documentation= too.
out=$(systemd-analyze verify walpipe@example.service 2>&1) || fail "systemd-analyze verify: $out"
expect_eq "systemd-analyze verify walpipe@example.service" "" "$out"
ok "systemd-analyze verify walpipe@example.service"

# walpipe check as the unit runs it: the walpipe user, the sample, and an
# operator's file root:walpipe 0640 whose databases are not there (a
# socket that does not exist: --live says so, exit 2).
out=$(runuser -u walpipe -- walpipe check -c /etc/walpipe/example.yaml.sample 2>&1) ||
	fail "walpipe check of the sample as walpipe: $out"
expect_eq "walpipe check's first line" "/etc/walpipe/example.yaml.sample: valid" "$(head -1 <<<"$out")"
sed -e 's|host=oltp|host=/var/lib/walpipe port=5|' -e 's|host=analytics|host=/var/lib/walpipe port=5|' \
	/etc/walpipe/example.yaml.sample >"$tmp/shop.yaml"
install -m 0640 -o root -g walpipe "$tmp/shop.yaml" /etc/walpipe/shop.yaml
rc=0
out=$(runuser -u walpipe -- walpipe check --live -q -c /etc/walpipe/shop.yaml 2>&1) || rc=$?
expect_eq "walpipe check --live exit status" 2 "$rc"
expect_eq "walpipe check --live" 'walpipe check: could not connect to the source server: connection to server on socket "/var/lib/walpipe/.s.PGSQL.5" failed: No such file or directory
	Is the server running locally and accepting connections on that socket?' "$out"
rc=0
out=$(runuser -u nobody -- walpipe check -c /etc/walpipe/shop.yaml 2>&1) || rc=$?
expect_eq "walpipe check as nobody" '2: could not open configuration file "/etc/walpipe/shop.yaml": Permission denied' "$rc: $out"
ok "walpipe check as walpipe: the sample valid, shop.yaml read (no server: exit 2); nobody cannot read it"

# Upgrade to revision 2 with a "running" systemd: the files an operator
# and walpipe wrote stay, the user keeps its uid, the running instances
# are restarted through deb-systemd-invoke, walpipe.target stays enabled.
echo "position" >/var/lib/walpipe/shop.position
chown walpipe:walpipe /var/lib/walpipe/shop.position
echo "machine=secret" >/etc/walpipe/pgpass
chown walpipe:walpipe /etc/walpipe/pgpass
chmod 600 /etc/walpipe/pgpass
sum=$(cat /etc/walpipe/shop.yaml /etc/walpipe/pgpass | md5sum)
apt_systemd install -y -q "$deb2" >"$tmp/apt.log" 2>&1 ||
	{ cat "$tmp/apt.log"; fail "apt-get install (upgrade to $upstream-2)"; }
expect_eq "dpkg status after the upgrade" "ii $upstream-2" "$(pkg_status)"
expect_calls "the upgrade" daemon-reload "try-restart walpipe@*.service"
expect_eq "the operator's files after the upgrade" "$sum" "$(cat /etc/walpipe/shop.yaml /etc/walpipe/pgpass | md5sum)"
expect_stat /etc/walpipe/shop.yaml "root:walpipe 640"
expect_stat /etc/walpipe/pgpass "walpipe:walpipe 600"
expect_stat /etc/walpipe "root:walpipe 750"
expect_stat /var/lib/walpipe/shop.position "walpipe:walpipe 644"
expect_eq "walpipe's uid after the upgrade" "$uid" "$(id -u walpipe)"
expect_eq "changelog's top entry" "walpipe ($upstream-2) unstable; urgency=medium" \
	"$(zcat /usr/share/doc/walpipe/changelog.Debian.gz | head -1)"
[ -L /etc/systemd/system/multi-user.target.wants/walpipe.target ] || fail "walpipe.target no longer enabled"
ok "upgrade to $upstream-2: files, state, uid kept; running instances try-restarted"

# Remove: the instances stop, the program goes, the configuration, the
# state and the user stay.
apt_systemd remove -y -q walpipe >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get remove walpipe"; }
expect_eq "dpkg status after remove" "rc $upstream-2" "$(pkg_status)"
expect_calls "remove" "stop walpipe.target walpipe@*.service" daemon-reload
expect_gone /usr/bin/walpipe
expect_gone /lib/systemd/system/walpipe@.service
expect_stat /etc/walpipe/example.yaml.sample "root:root 644"
expect_stat /var/lib/walpipe/shop.position "walpipe:walpipe 644"
expect_eq "walpipe's uid after remove" "$uid" "$(id -u walpipe)"
ok "apt-get remove: program gone, configuration, state and user kept"

# Purge: the user, the group, the state go; the operator's files stay,
# owned by root (walpipe's ids may be given to someone else later).
apt_systemd purge -y -q walpipe >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get purge walpipe"; }
expect_eq "dpkg status after purge" "" "$(dpkg-query -W -f '${db:Status-Abbrev}' walpipe 2>/dev/null | sed 's/^un *//')"
expect_calls "purge" daemon-reload
! getent passwd walpipe >/dev/null || fail "user walpipe still exists"
! getent group walpipe >/dev/null || fail "group walpipe still exists"
expect_gone /var/lib/walpipe
expect_gone /etc/walpipe/example.yaml.sample
expect_gone /etc/systemd/system/multi-user.target.wants/walpipe.target
expect_eq "the operator's files after purge" "$sum" "$(cat /etc/walpipe/shop.yaml /etc/walpipe/pgpass | md5sum)"
expect_stat /etc/walpipe/shop.yaml "root:root 640"
expect_stat /etc/walpipe/pgpass "root:root 600"
expect_stat /etc/walpipe "root:root 750"
ok "apt-get purge: user, group, /var/lib/walpipe gone; /etc/walpipe/shop.yaml and pgpass kept"

# Install again over what the purge left: a new user, /etc/walpipe the
# group's again, the operator's files untouched.
apt-get install -y -q "./dist/$(basename "$deb")" >"$tmp/apt.log" 2>&1 ||
	{ cat "$tmp/apt.log"; fail "apt-get install after purge"; }
expect_stat /etc/walpipe "root:walpipe 750"
expect_stat /etc/walpipe/shop.yaml "root:root 640"
expect_eq "the operator's files after installing again" "$sum" "$(cat /etc/walpipe/shop.yaml /etc/walpipe/pgpass | md5sum)"
expect_stat /var/lib/walpipe "walpipe:walpipe 700"
expect_stat /etc/walpipe/example.yaml.sample "root:root 644"
apt-get purge -y -q walpipe >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get purge (second)"; }
! getent passwd walpipe >/dev/null || fail "user walpipe still exists after the second purge"
ok "install over a purged machine's /etc/walpipe, purge again"
echo "test-deb: all passed"
