#!/usr/bin/env bash
# deb.sh: builds dist/walpipe_VERSION-REVISION_ARCH.deb from this checkout
# with cmake --install and dpkg-deb (no debhelper, no network).
#
# Usage: packaging/deb.sh [--revision R] [--out DIR]
#   --revision R  the Debian revision (default: packaging/debian/changelog's
#                 top entry's); another one gets a changelog entry of its
#                 own (packaging/test-deb.sh builds R+1 to test an upgrade)
#   --out DIR     where the .deb goes (default: dist/)
# The version is the project's (CMakeLists.txt), which the changelog's top
# entry must carry.  Builds in build-deb/ with Debian's build flags
# (dpkg-buildflags: hardening) and prefix /usr.  Prints the .deb's path.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deb=$root/packaging/debian
out=$root/dist build=$root/build-deb revision=''
while [ $# -gt 0 ]; do
	case "$1" in
	--revision) revision=$2; shift ;;
	--out) out=$2; shift ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "deb: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
die() { echo "deb: $*" >&2; exit 1; }

version=$(sed -n 's/^project(walpipe VERSION \([0-9][0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
[ -n "$version" ] || die "could not find the project version in CMakeLists.txt"
top=$(dpkg-parsechangelog -l "$deb/changelog" -S Version)
[ "${top%-*}" = "$version" ] ||
	die "packaging/debian/changelog's top entry is $top but CMakeLists.txt says $version: add an entry"
revision=${revision:-${top##*-}}
full=$version-$revision
arch=$(dpkg --print-architecture)

# Every hardening flag (bindnow too: the daemon starts once).
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
# Kafka and sd_notify are part of the package, not optional: ON fails the
# configure if their -dev package is missing rather than leaving them out.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_INSTALL_PREFIX=/usr -DWALPIPE_TESTS=OFF \
	-DWALPIPE_KAFKA=ON -DWALPIPE_SYSTEMD=ON \
	-DWALPIPE_SYSTEMD_UNITDIR=/lib/systemd/system \
	-DWALPIPE_CONF_EXAMPLE=example.yaml.sample \
	-DCMAKE_C_FLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
	-DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)" >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
r=$stage/debian/walpipe
DESTDIR=$r cmake --install "$build" >/dev/null
# A checkout's modes depend on the umask it was made with.
find "$r" -type d -exec chmod 0755 {} +
find "$r" -type f -exec chmod 0644 {} +
chmod 0755 "$r/usr/bin/walpipe"
strip --remove-section=.comment --remove-section=.note "$r/usr/bin/walpipe"
gzip -9n "$r/usr/share/man/man1/walpipe.1"

doc=$r/usr/share/doc/walpipe
install -d -m 0755 "$doc"
install -m 0644 "$deb/copyright" "$doc/copyright"
install -D -m 0644 "$deb/lintian-overrides" "$r/usr/share/lintian/overrides/walpipe"
{
	if [ "$full" != "$top" ]; then
		printf 'walpipe (%s) unstable; urgency=medium\n\n' "$full"
		printf '  * Rebuilt as revision %s by packaging/deb.sh.\n\n' "$revision"
		printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l "$deb/changelog" -S Maintainer)" \
			"$(date -R)"
	fi
	cat "$deb/changelog"
} | gzip -9n >"$doc/changelog.Debian.gz"

# Dependencies from the libraries the binary links (its NEEDED entries,
# minimum versions from the libraries' symbols files); dpkg-shlibdeps
# reads debian/control, hence the stub.
# It finds the package's tree by its DEBIAN directory.
install -d -m 0755 "$r/DEBIAN"
printf 'Source: walpipe\n\nPackage: walpipe\nArchitecture: any\n' >"$stage/debian/control"
shlibs=$(cd "$stage" && dpkg-shlibdeps -O -edebian/walpipe/usr/bin/walpipe) ||
	die "dpkg-shlibdeps failed"
shlibs=${shlibs#shlibs:Depends=}
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies"

size=$(du -s -k --apparent-size --exclude=DEBIAN "$r" | cut -f1)
sed -e "s|@VERSION@|$full|" -e "s|@ARCH@|$arch|" -e "s|@INSTALLED_SIZE@|$size|" \
	-e "s|@SHLIBS_DEPENDS@|$shlibs|" "$deb/control.in" >"$r/DEBIAN/control"
install -m 0644 "$deb/conffiles" "$r/DEBIAN/conffiles"
for s in postinst prerm postrm; do
	install -m 0755 "$deb/$s" "$r/DEBIAN/$s"
done
(cd "$r" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
	LC_ALL=C sort -z | xargs -0 md5sum) >"$r/DEBIAN/md5sums"
chmod 0644 "$r/DEBIAN/md5sums"

# The changelog's date as every file's time: the same tree, the same .deb.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$deb/changelog" -S Timestamp)
export SOURCE_DATE_EPOCH
find "$r" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$out"
pkg=$out/walpipe_${full}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$r" "$pkg" >/dev/null
echo "$pkg"
