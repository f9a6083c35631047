#!/bin/bash
# tools/test-deb.sh - build the Debian packages from this tree, install
# them, check what they put in place, and remove them again.
#
#   tools/test-deb.sh        (as root, on Debian 12)
#
# 1. Installs dpkg-dev, debhelper and the build dependencies of
#    debian/control with apt-get.
# 2. Copies the tree (the files git knows of, committed or not, and not
#    the ignored ones) to a temporary folder and runs
#    `dpkg-buildpackage -us -uc -b` there, so that the checkout stays
#    clean; the .debs are made in that temporary folder.
# 3. Installs netlabd and netlabd-dev (apt-get install ./FILE.deb), checks
#    the files, the conffile, the netlabd system user and group, the
#    enabled service, and that `netlabd -t` accepts /etc/netlabd.conf.
# 4. Removes them (dpkg -r: the conffile stays, as Debian keeps it), then
#    purges them (dpkg -P: it goes too), checking that nothing is left.
#
# It replaces a netlabd package already installed.  Exits non-zero on the
# first failure, 0 when every check passed.
set -euo pipefail

NL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
export DEBIAN_FRONTEND=noninteractive
exec </dev/null

say() { printf '==> %s\n' "$*"; }
die() { printf 'test-deb: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (apt-get, dpkg -i)"
command -v apt-get >/dev/null || die "apt-get not found: Debian only"

work=$(mktemp -d /tmp/netlabd-deb.XXXXXX)
cleanup() {
    rm -rf "$work"
}
trap cleanup EXIT

apt_install() {
    apt-get install -y --no-install-recommends "$@" ||
        { apt-get update && apt-get install -y --no-install-recommends "$@"; }
}

say "build dependencies"
apt_install dpkg-dev debhelper >/dev/null || die "apt-get install dpkg-dev debhelper failed"

say "copying the tree to $work/src"
mkdir "$work/src"
if git -C "$NL_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$NL_ROOT" &&
     git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
     tar --null -T - -cf -) | tar -C "$work/src" -xf -
else
    (cd "$NL_ROOT" && tar --exclude='./build*' --exclude=./debian/netlabd \
        --exclude=./debian/netlabd-dev --exclude=./debian/tmp -cf - .) |
        tar -C "$work/src" -xf -
fi
[ -f "$work/src/debian/control" ] || die "no debian/control in the copy"
apt-get build-dep -y "$work/src" >/dev/null || die "apt-get build-dep failed"

say "dpkg-buildpackage -us -uc -b"
start=$SECONDS
(cd "$work/src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log" >&2
    die "dpkg-buildpackage failed (the end of its log is above)"
}
say "built in $((SECONDS - start)) s: $(cd "$work" && echo *.deb)"
deb=$(echo "$work"/netlabd_*.deb)
devdeb=$(echo "$work"/netlabd-dev_*.deb)
[ -f "$deb" ] || die "no netlabd_*.deb made"
[ -f "$devdeb" ] || die "no netlabd-dev_*.deb made"

# The maintainer scripts: the service enabled and started; the example
# socket units enabled again only if the operator had enabled them
# (was-enabled; deb-systemd-invoke starts no disabled unit); all stopped
# on removal.
dpkg-deb -e "$deb" "$work/control"
grep -q "deb-systemd-helper enable 'netlabd.service'" "$work/control/postinst" ||
    die "postinst does not enable netlabd.service"
for u in netlabd.socket netlabd-greeter.socket; do
    grep -B2 "deb-systemd-helper enable '$u'" "$work/control/postinst" |
        grep -q "was-enabled '$u'" ||
        die "postinst enables $u without the operator having enabled it"
done
for u in netlabd.service netlabd.socket netlabd-greeter.socket; do
    grep -q "deb-systemd-invoke stop .*'$u'" "$work/control/prerm" ||
        die "prerm does not stop $u"
done

say "installing $(basename "$deb") $(basename "$devdeb")"
apt-get install -y "$deb" "$devdeb" >"$work/install.log" 2>&1 || {
    cat "$work/install.log" >&2
    die "apt-get install of the packages failed"
}

triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
files=(/usr/sbin/netlabd /usr/bin/netlabctl /etc/netlabd.conf
       /lib/systemd/system/netlabd.service /lib/systemd/system/netlabd.socket
       /lib/systemd/system/netlabd-greeter.socket
       /usr/lib/tmpfiles.d/netlabd.conf
       /usr/share/doc/netlabd/examples/netlabd.conf
       /usr/share/man/man8/netlabd.8.gz /usr/share/man/man8/netlabctl.8.gz
       /usr/share/man/man5/netlabd.conf.5.gz)
for h in echo greeter logger timestamp upper; do
    files+=("/usr/lib/$triplet/netlabd/$h.so")
done
devfiles=(/usr/include/netlabd/plugin.h
          "/usr/lib/$triplet/pkgconfig/netlabd-plugin.pc"
          /usr/share/man/man3/netlabd-plugin.3.gz
          /usr/bin/netlabd-plugin-run
          /usr/share/man/man1/netlabd-plugin-run.1.gz
          /usr/share/doc/netlabd-dev/examples/kv/kv.c
          /usr/share/doc/netlabd-dev/examples/kv/Makefile)

say "checking the installed files"
for f in "${files[@]}"; do
    [ -f "$f" ] || die "$f not installed"
    dpkg -S "$f" 2>/dev/null | grep -q '^netlabd:' || die "$f is not netlabd's"
done
for f in "${devfiles[@]}"; do
    [ -f "$f" ] || die "$f not installed"
    dpkg -S "$f" 2>/dev/null | grep -q '^netlabd-dev' || die "$f is not netlabd-dev's"
done
[ ! -e /usr/sbin/netlabctl ] || die "netlabctl installed in /usr/sbin"
! ls /usr/lib/"$triplet"/netlabd/*.la >/dev/null 2>&1 || die "libtool .la files installed"
dpkg-query -W -f='${Conffiles}\n' netlabd | grep -q '^ /etc/netlabd.conf ' ||
    die "/etc/netlabd.conf is not a conffile of netlabd"
grep -q "^ExecStart=/usr/sbin/netlabd -f$" /lib/systemd/system/netlabd.service ||
    die "netlabd.service does not start /usr/sbin/netlabd -f"
grep -q '^pidfile = "/run/netlabd/netlabd.pid";' /etc/netlabd.conf ||
    die "/etc/netlabd.conf does not put the pidfile in /run/netlabd"
if grep -Eq '^[[:space:]]*address = "(::|0\.0\.0\.0)"' /etc/netlabd.conf; then
    die "/etc/netlabd.conf listens on every interface"
fi
[ "$(pkg-config --variable=includedir netlabd-plugin)" = /usr/include ] ||
    die "pkg-config does not find netlabd-plugin in /usr/include"
[ -L /etc/systemd/system/multi-user.target.wants/netlabd.service ] ||
    die "netlabd.service not enabled"
[ ! -e /etc/systemd/system/sockets.target.wants/netlabd.socket ] ||
    die "the example netlabd.socket was enabled"

say "checking the netlabd user and group"
pw=$(getent passwd netlabd) || die "no user netlabd"
getent group netlabd >/dev/null || die "no group netlabd"
uid=$(echo "$pw" | cut -d: -f3)
gid=$(echo "$pw" | cut -d: -f4)
[ "$uid" -lt 1000 ] || die "netlabd is not a system user (uid $uid)"
[ "$gid" = "$(getent group netlabd | cut -d: -f3)" ] ||
    die "netlabd's primary group is not netlabd"

say "netlabd -t on /etc/netlabd.conf"
[ -d /run/netlabd ] || die "/run/netlabd not made on installation (tmpfiles)"
out=$(/usr/sbin/netlabd -t 2>&1) || die "netlabd -t refused /etc/netlabd.conf: $out"
echo "$out"
case $out in
*"/etc/netlabd.conf: configuration OK"*) ;;
*) die "netlabd -t did not say /etc/netlabd.conf: configuration OK" ;;
esac

say "the plugin SDK: the installed example built with pkg-config, run by netlabd-plugin-run"
cp -r /usr/share/doc/netlabd-dev/examples/kv "$work/kv"
make -C "$work/kv" >"$work/kv.log" 2>&1 || {
    cat "$work/kv.log" >&2
    die "the installed example does not build with its Makefile"
}
out=$(printf 'set a 1\nget a\n' | /usr/bin/netlabd-plugin-run "$work/kv/kv.so") ||
    die "netlabd-plugin-run failed on the example: $out"
[ "$out" = "$(printf 'OK\n1')" ] ||
    die "netlabd-plugin-run: the example answered '$out', not OK and 1"
out=$(printf 'hi\n' | /usr/bin/netlabd-plugin-run "/usr/lib/$triplet/netlabd/upper.so") ||
    die "netlabd-plugin-run failed on upper.so"
[ "$out" = HI ] || die "netlabd-plugin-run upper.so answered '$out', not HI"

say "dpkg -r netlabd-dev netlabd"
dpkg -r netlabd-dev netlabd >"$work/remove.log" 2>&1 || {
    cat "$work/remove.log" >&2
    die "dpkg -r failed"
}
for f in "${files[@]}" "${devfiles[@]}"; do
    if [ "$f" = /etc/netlabd.conf ]; then
        [ -f "$f" ] || die "dpkg -r removed the conffile (only a purge may)"
    else
        [ ! -e "$f" ] || die "$f left after dpkg -r"
    fi
done
[ ! -e "/usr/lib/$triplet/netlabd" ] || die "/usr/lib/$triplet/netlabd left after dpkg -r"

say "dpkg -P netlabd"
dpkg -P netlabd netlabd-dev >"$work/purge.log" 2>&1 || {
    cat "$work/purge.log" >&2
    die "dpkg -P failed"
}
[ ! -e /etc/netlabd.conf ] || die "/etc/netlabd.conf left after dpkg -P"
[ ! -e /etc/systemd/system/multi-user.target.wants/netlabd.service ] ||
    die "netlabd.service still enabled after dpkg -P"
if dpkg-query -W -f='${db:Status-Status}' netlabd 2>/dev/null | grep -q .; then
    state=$(dpkg-query -W -f='${db:Status-Status}' netlabd)
    [ "$state" = not-installed ] || die "netlabd is still $state after dpkg -P"
fi

say "test-deb: all passed"
