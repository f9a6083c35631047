#!/bin/bash
# tools/bootstrap.sh - get a netlabd source tree from "just cloned" to "built".
#
#   tools/bootstrap.sh [--sanitizers]
#
# or, from another script:
#
#   . tools/bootstrap.sh && nl_bootstrap [--sanitizers]
#
# 1. Makes sure the Debian packages the build and the tests need are
#    installed: as root it installs what is missing with apt-get; as anyone
#    else it prints the apt-get command to run and fails.
# 2. Runs `autoreconf -fi` when configure is missing or older than
#    configure.ac, Makefile.am or a *.mk fragment.
# 3. Configures out of tree, in build/ (or build-san/ with --sanitizers,
#    configured with --enable-sanitizers), when that directory has never
#    been configured or configure is newer than its config.status.
# 4. Runs `make -j2` there.
#
# After nl_bootstrap returns, NL_ROOT is the top of the source tree and
# NL_BUILD_DIR the build directory it used.

# prometheus: for promtool, which checks `netlabctl metrics` in the tests.
# haproxy: the load balancer test_haproxy.py puts in front of two netlabd
# (PROXY protocol v2, health checks); it runs its own, never the service.
NL_PACKAGES=(build-essential autoconf automake libtool pkg-config
             libconfig-dev libev-dev libjson-c-dev libcmocka-dev python3 socat
             netcat-openbsd procps systemd man-db groff-base prometheus haproxy)

nl_say() {
    printf '==> %s\n' "$*" >&2
}

nl_die() {
    printf 'bootstrap: %s\n' "$*" >&2
    exit 1
}

# The packages of NL_PACKAGES that dpkg does not have installed.
nl_missing_packages() {
    local pkg status
    for pkg in "${NL_PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        if [ "$status" != installed ]; then
            printf '%s\n' "$pkg"
        fi
    done
}

nl_install_packages() {
    local missing

    if ! command -v dpkg-query >/dev/null 2>&1; then
        nl_say "dpkg-query not found (not Debian?): not checking packages;" \
               "you need: ${NL_PACKAGES[*]}"
        return 0
    fi
    mapfile -t missing < <(nl_missing_packages)
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        {
            printf 'bootstrap: missing Debian packages: %s\n' "${missing[*]}"
            printf 'bootstrap: install them as root with:\n'
            printf '  apt-get update && apt-get install -y --no-install-recommends %s\n' \
                   "${missing[*]}"
        } >&2
        exit 1
    fi
    nl_say "installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update </dev/null ||
        nl_die "apt-get update failed"
    # Packages with a service (prometheus, haproxy) must not start it here: a
    # policy-rc.d that says no, for the length of the install, as Debian's
    # container images do.
    local policy=/usr/sbin/policy-rc.d made_policy=no
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" &&
            made_policy=yes
    fi
    apt-get install -y --no-install-recommends "${missing[@]}" </dev/null ||
        { [ "$made_policy" = no ] || rm -f "$policy"
          nl_die "apt-get install ${missing[*]} failed"; }
    [ "$made_policy" = no ] || rm -f "$policy"
}

# Succeeds when the generated build system is missing or out of date.
nl_need_autoreconf() {
    [ -f configure ] && [ -f Makefile.in ] || return 0
    [ configure.ac -nt configure ] && return 0
    [ Makefile.am -nt configure ] && return 0
    # Any automake fragment (*/local.mk and other *.mk), skipping build
    # directories, git's and autom4te's own files and distcheck trees.
    if [ -n "$(find . \( -path ./.git -o -path './build*' \
                        -o -path ./autom4te.cache -o -path './netlabd-*' \) -prune \
                   -o -type f -name '*.mk' -newer configure -print 2>/dev/null |
               head -n 1)" ]; then
        return 0
    fi
    return 1
}

# Sets NL_ROOT, NL_BUILD_DIR and NL_CONFIGURE_ARGS from the arguments.
nl_dirs() {
    local arg sanitizers=no

    for arg in "$@"; do
        case $arg in
        --sanitizers | --enable-sanitizers) sanitizers=yes ;;
        -h | --help)
            sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *) nl_die "unknown argument: $arg (usage: bootstrap.sh [--sanitizers])" ;;
        esac
    done
    NL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
    if [ "$sanitizers" = yes ]; then
        NL_BUILD_DIR=$NL_ROOT/build-san
        NL_CONFIGURE_ARGS=(--enable-sanitizers)
    else
        NL_BUILD_DIR=$NL_ROOT/build
        NL_CONFIGURE_ARGS=()
    fi
    export NL_ROOT NL_BUILD_DIR
}

nl_bootstrap() {
    local -a configure_args
    local lock_fd

    nl_dirs "$@"
    configure_args=("${NL_CONFIGURE_ARGS[@]}")
    nl_install_packages

    cd "$NL_ROOT" || nl_die "cannot cd to $NL_ROOT"
    # Two bootstraps at once (say run-local.sh and test.sh) would run
    # autoreconf or configure over each other: the second waits.
    mkdir -p build
    exec {lock_fd}>build/.bootstrap.lock
    if ! flock -n "$lock_fd"; then
        nl_say "waiting for another bootstrap of this tree to finish"
        flock "$lock_fd"
    fi
    if [ -f config.status ]; then
        nl_die "$NL_ROOT was configured in the source tree; run" \
               "'make distclean' there first (builds go to build/ and build-san/)"
    fi
    if nl_need_autoreconf; then
        nl_say "autoreconf -fi"
        autoreconf -fi || nl_die "autoreconf failed"
    fi

    mkdir -p "$NL_BUILD_DIR"
    cd "$NL_BUILD_DIR" || nl_die "cannot cd to $NL_BUILD_DIR"
    if [ ! -f config.status ] || [ ! -f Makefile ] ||
       [ "$NL_ROOT/configure" -nt config.status ]; then
        nl_say "configuring in ${NL_BUILD_DIR#"$NL_ROOT"/}/${configure_args[*]:+ (${configure_args[*]})}"
        "$NL_ROOT/configure" "${configure_args[@]}" ||
            nl_die "configure failed; see ${NL_BUILD_DIR}/config.log"
    fi
    nl_say "make -j2 in ${NL_BUILD_DIR#"$NL_ROOT"/}/"
    make -j2 || nl_die "build failed"
    exec {lock_fd}>&-
    cd "$NL_ROOT" || nl_die "cannot cd to $NL_ROOT"
}

# Run directly rather than sourced: bootstrap and build.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    nl_bootstrap "$@"
fi
