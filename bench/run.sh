#!/bin/bash
# bench/run.sh - the benchmark: netlabd against the least a server can do,
# and against the servers a user would compare it with.
#
# Starts the servers (columns of the table: the baseline bench/nlbase,
# netlabd under each model, and the peers that are installed), each serving
# an echo stream, a greeter and a datagram echo, then runs the same nlbench
# load against each in alternation for every scenario (rows: A B C ... A B
# C, several rounds) and prints, as Markdown, each server's median
# throughput as a ratio to the baseline's in the same round, its server CPU
# time per operation as a ratio to the baseline's, the spread of the
# rounds and the clients left unanswered; then the memory an idle
# connection costs (Pss), and callgrind's instructions per round trip.
#
# usage: bench/run.sh [-S SCENARIOS] [-r ROUNDS] [-d SECONDS | -n COUNT]
#                     [-c CONNS] [-s BYTES] [-j THREADS] [-p] [-I IDLE]
#                     [-C] [-L] [-o DIR] [-b BUDGET] [SERVER...]
#   -S  scenarios, comma-separated (default all):
#         ping1     ping-pong, 1 connection
#         pingmany  ping-pong, CONNS connections (-c)
#         pipeline  16 requests in flight on each of 10 connections
#         greeter   10 connectors: connect, read the greeting, repeat
#         udp       datagram echo, 10 sockets
#   -r  rounds; each server runs once per round (default 3)
#   -d  seconds per run, decimals allowed (default 2)
#   -n  operations per connection per run, instead of -d
#   -c  connections of the pingmany scenario (default 100)
#   -s  bytes per message, "\n" included (default 64)
#   -j  nlbench threads (default 1)
#   -p  pin: servers to CPU 0, nlbench to CPU 1 (taskset; 2+ CPUs)
#   -I  idle connections for the memory measure (default 10000; 0 skips)
#   -C  skip bench/callgrind.sh (by default it runs when valgrind is
#       installed: instructions per round trip, about 30 s)
#   -L  skip bench/listeners.py (start and reload time, 100 listeners)
#   -o  where the results go (default bench/results)
#   -b  time budget for the whole script in seconds (default 900)
#   SERVER  a column: MODEL:WORKERS[:TRANSPORT][:limits|:accesslog]
#           (transport tcp, the default, or unix; `limits` gives
#           netlabd's listeners allow and deny rules that admit the load
#           generator and per-source limits it never reaches, `accesslog`
#           turns access_log on, to measure what they cost), MODEL a
#           netlabd model or `base` for
#           bench/nlbase; or a peer: python, twisted, xinetd.  The first
#           is the baseline.  Default: base:1 libev:1 threads:8 prefork:8
#           python twisted xinetd
#
# With no NETLABD, NLBENCH or NLBASE in the environment it builds first:
# tools/bootstrap.sh when there is no build/ yet, then make in build/.
# Environment: NETLABD (default build/daemon/netlabd), NETLABD_PLUGIN_DIR
# (default build/plugins/.libs), NLBENCH and NLBASE (default build/bench/;
# when missing, compiled from bench/*.c into the temporary folder with cc),
# PEER_PYTHON (default /usr/bin/python3, the interpreter of the peers).
#
# Exit status: 0 every run against the baseline and netlabd completed
# without a failed operation and netlabd logged no error or warning; 1
# otherwise; 2 usage or setup error.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmdline="bench/run.sh${*:+ $*}"
build_first=1
[ -z "${NETLABD:-}${NLBENCH:-}${NLBASE:-}" ] || build_first=0
NETLABD=${NETLABD:-$top/build/daemon/netlabd}
NETLABD_PLUGIN_DIR=${NETLABD_PLUGIN_DIR:-$top/build/plugins/.libs}
NLBENCH=${NLBENCH:-}
NLBASE=${NLBASE:-}
PEER_PYTHON=${PEER_PYTHON:-/usr/bin/python3}

scen_opt=all rounds=3 secs=2 nrt="" conns=100 size=64 threads=1
pin=0 idle_n=10000 callgrind=1 listeners=1 outdir=$top/bench/results budget=900

usage() {
    sed -n '/^# usage:/,/^# Exit status/p' "${BASH_SOURCE[0]}" |
        sed -e 's/^# \{0,1\}//' -e '/^Exit status/d'
}

die() {
    echo "run.sh: $*" >&2
    exit 2
}

say() { echo "run.sh: $*" >&2; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]; }
is_secs() { [[ $1 =~ ^[0-9]*\.?[0-9]+$ ]] && awk -v s="$1" 'BEGIN { exit !(s > 0) }'; }

while getopts "S:r:d:n:c:s:j:pI:CLo:b:h" opt; do
    case $opt in
    S) scen_opt=$OPTARG ;;
    r) rounds=$OPTARG ;;
    d) secs=$OPTARG nrt="" ;;
    n) nrt=$OPTARG ;;
    c) conns=$OPTARG ;;
    s) size=$OPTARG ;;
    j) threads=$OPTARG ;;
    p) pin=1 ;;
    I) idle_n=$OPTARG ;;
    C) callgrind=0 ;;
    L) listeners=0 ;;
    o) outdir=$OPTARG ;;
    b) budget=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
for v in rounds conns size threads budget; do
    is_uint "${!v}" || die "-${v:0:1} wants a positive integer, not '${!v}'"
done
[[ $idle_n =~ ^[0-9]+$ ]] || die "-I wants a number of connections, not '$idle_n'"
if [ -n "$nrt" ]; then
    is_uint "$nrt" || die "-n wants a positive integer, not '$nrt'"
    amount=(-n "$nrt") warm=(-n $(((nrt + 9) / 10)))
    amount_text="$nrt operations per connection"
    need=30 # seconds a run may take, at most
else
    is_secs "$secs" || die "-d wants a number of seconds, not '$secs'"
    amount=(-d "$secs") warm=(-d "$(awk -v s="$secs" 'BEGIN { print (s < 0.5 ? s : 0.5) }')")
    amount_text="$secs s"
    need=$(awk -v s="$secs" 'BEGIN { printf "%d", s + 6.999 }')
fi
mkdir -p "$outdir" || die "cannot create $outdir"
outdir=$(cd "$outdir" && pwd)

# ---- scenarios (rows) ----
all_scen=(ping1 pingmany pipeline greeter udp)
declare -A sc_title sc_short sc_service sc_conns sc_args
sc_title[ping1]="ping-pong $size B, 1 connection"
sc_title[pingmany]="ping-pong $size B, $conns connections"
sc_title[pipeline]="pipeline 16 in flight, 10 connections"
sc_title[greeter]="greeter, 10 connectors"
sc_title[udp]="UDP echo, 10 sockets"
sc_short[ping1]="ping-pong 1" sc_short[pingmany]="ping-pong $conns"
sc_short[pipeline]="pipeline 16x10" sc_short[greeter]="greeter 10"
sc_short[udp]="UDP 10"
sc_service[ping1]=echo sc_service[pingmany]=echo sc_service[pipeline]=echo
sc_service[greeter]=greeter sc_service[udp]=udp
sc_conns[ping1]=1 sc_conns[pingmany]=$conns sc_conns[pipeline]=10
sc_conns[greeter]=10 sc_conns[udp]=10
sc_mode() { case $1 in ping*) echo pingpong ;; greeter) echo connrate ;; *) echo "$1" ;; esac; }
for sc in "${all_scen[@]}"; do
    sc_args[$sc]="-m $(sc_mode "$sc") -c ${sc_conns[$sc]}"
    [ "$sc" = greeter ] || sc_args[$sc]+=" -s $size"
    [ "$sc" != pipeline ] || sc_args[$sc]+=" -k 16"
done
if [ "$scen_opt" = all ]; then
    scens=("${all_scen[@]}")
else
    IFS=, read -r -a scens <<<"$scen_opt"
    for sc in "${scens[@]}"; do
        [ -n "${sc_title[$sc]:-}" ] ||
            die "no scenario '$sc' (known: ${all_scen[*]})"
    done
fi
declare -A need_service
for sc in "${scens[@]}"; do need_service[${sc_service[$sc]}]=1; done

# ---- servers (columns) ----
[ $# -gt 0 ] || set -- base:1 libev:1 threads:8 prefork:8 python twisted xinetd
kind=() model=() workers=() transport=() label=() peer=() limits=()
for spec in "$@"; do
    i=${#kind[@]}
    case $spec in
    python | twisted | xinetd)
        kind[i]=peer peer[i]=$spec transport[i]=tcp
        case $spec in
        python) label[i]="Python socketserver" ;;
        twisted) label[i]=Twisted ;;
        xinetd) label[i]=xinetd ;;
        esac
        continue
        ;;
    esac
    IFS=: read -r m w t lim extra <<<"$spec"
    case ${t:-} in limits | accesslog) lim=$t t="" ;; esac
    t=${t:-tcp}
    if [[ -z $m || -n ${extra:-} || ! ($t == tcp || $t == unix) ||
        ! (-z ${lim:-} || (($lim == limits || $lim == accesslog) && $m != base)) ]] ||
        ! is_uint "${w:-x}"; then
        die "server '$spec' is not MODEL:WORKERS[:tcp|unix][:limits|:accesslog] nor python, twisted, xinetd"
    fi
    model[i]=$m workers[i]=$w transport[i]=$t peer[i]="" limits[i]=${lim:-}
    if [ "$m" = base ]; then kind[i]=base; label[i]="nlbase w=$w"; else
        kind[i]=netlabd; label[i]="$m w=$w"; fi
    [ "$t" = tcp ] || label[i]+=" $t"
    [ -z "${lim:-}" ] || label[i]+=" +$lim"
done
ncol=${#kind[@]}

# ---- budget, temporary folder, cleanup ----
start=$SECONDS
deadline=$((SECONDS + budget))
left() { echo $((deadline - SECONDS)); }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nlbench.XXXXXX")
res=$tmp/results
mkdir -p "$res"
srvpids=() # every server started, stopped on exit
npid=""    # the nlbench running, if any

# descendants PID: PID's children, grandchildren, ... (bounded depth).
descendants() {
    local level=("$1") next p c depth
    for depth in 1 2 3 4; do
        next=()
        for p in "${level[@]}"; do
            for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do next+=("$c"); done
        done
        [ ${#next[@]} -gt 0 ] || break
        printf '%s\n' "${next[@]}"
        level=("${next[@]}")
        : "$depth"
    done
}

# stop_pid PID: SIGTERM, up to 10 s to end, then SIGKILL for it and what
# it started.  Returns its exit status (0 when it was not ours to reap).
stop_pid() {
    local p=$1 rc=0 kids
    kids=$(descendants "$p")
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$p" 2>/dev/null || break
            # A zombie still answers kill -0; `wait` below reaps it.
            [ "$(ps -o stat= -p "$p" 2>/dev/null)" != Z ] || break
            sleep 0.1
        done
        if kill -0 "$p" 2>/dev/null && [ "$(ps -o stat= -p "$p" 2>/dev/null)" != Z ]; then
            say "pid $p did not stop within 10 s, killing it"
            kill -KILL "$p" 2>/dev/null || true
        fi
    fi
    for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
    wait "$p" 2>/dev/null || rc=$?
    return "$rc"
}

# shellcheck disable=SC2317 # run by the trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$npid" ]; then
        kill -TERM "$npid" 2>/dev/null || true
        wait "$npid" 2>/dev/null || true
    fi
    for p in "${srvpids[@]}"; do stop_pid "$p" || true; done
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the programs ----
if [ "$build_first" = 1 ]; then
    if [ ! -f "$top/build/Makefile" ]; then
        say "no build/ yet: tools/bootstrap.sh (packages, configure, make)"
        timeout 3600 "$top/tools/bootstrap.sh" >&2 || die "tools/bootstrap.sh failed"
    fi
    say "make in build/ (netlabd, the handlers, nlbench, nlbase)"
    if ! timeout 1800 make -C "$top/build" -j2 all bench/nlbench bench/nlbase \
        >"$tmp/make.log" 2>&1; then
        tail -n 30 "$tmp/make.log" >&2
        die "make in build/ failed"
    fi
fi
compile() { # compile NAME: bench/NAME.c and bench/NAME_*.c, into $tmp
    local srcs=("$top/bench/$1.c")
    [ "$1" != nlbench ] || srcs+=("$top/bench/nlbench_stream.c" "$top/bench/nlbench_udp.c")
    say "no build/bench/$1, compiling bench/$1*.c with ${CC:-cc}"
    timeout 120 "${CC:-cc}" -O2 -Wall -Wextra -pthread -o "$tmp/$1" \
        "${srcs[@]}" >&2 && echo "$tmp/$1"
}
if [ -z "$NLBENCH" ]; then
    NLBENCH=$top/build/bench/nlbench
    [ -x "$NLBENCH" ] || NLBENCH=$(compile nlbench) || die "cannot compile nlbench"
fi
[ -x "$NLBENCH" ] || die "no nlbench at $NLBENCH"
if [ -z "$NLBASE" ]; then
    NLBASE=$top/build/bench/nlbase
    [ -x "$NLBASE" ] || NLBASE=$(compile nlbase) || NLBASE=""
fi
[ -x "$NETLABD" ] || die "no netlabd at $NETLABD (build first, or set NETLABD)"
[ -f "$NETLABD_PLUGIN_DIR/echo.so" ] ||
    die "no echo.so in $NETLABD_PLUGIN_DIR (set NETLABD_PLUGIN_DIR)"
command -v python3 >/dev/null ||
    die "python3 is needed to read netlabd's control socket"

# What this nlbench can do: an older one has no modes and no -P.
nlb_help=$("$NLBENCH" --help 2>&1 || true)
has_mode() { [[ $nlb_help == *"$1"* ]]; }
has_pid=0
[[ $nlb_help == *"-P "* ]] && has_pid=1

pin_srv=() pin_load=() pinned="no" pinned_short=no
if [ "$pin" = 1 ]; then
    if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
        pin_srv=(taskset -c 0) pin_load=(taskset -c 1)
        pinned="yes: servers on CPU 0, nlbench on CPU 1" pinned_short=yes
    else
        say "warning: -p wants 2 CPUs and taskset; running unpinned"
        pinned="no (-p asked, but $(nproc) CPU(s) or no taskset)"
    fi
fi

# Idle connections need a descriptor each, in nlbench and in the server.
if [ "$idle_n" -gt 0 ]; then
    want=$((idle_n + 200))
    [ "$(ulimit -n)" -ge "$want" ] || ulimit -n "$want" 2>/dev/null ||
        ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    if [ "$(ulimit -n)" -lt "$want" ]; then
        idle_n=$(($(ulimit -n) - 200))
        say "warning: open files limited to $(ulimit -n): $idle_n idle connections"
    fi
fi

# ---- starting servers ----
# Per column I and service S (echo, greeter, udp): where it serves
# (HOST:PORT, or a unix path), the pid nlbench reads the CPU time of, or
# why it does not serve it.
declare -A addr spid why_not
col_why=() dpid_of=()
maxconn=$((conns + 100 > 1024 ? conns + 100 : 1024))

# wait_line FILE REGEX SECONDS: until a line of FILE matches.
wait_line() {
    local i
    for i in $(seq $(($3 * 20))); do
        grep -Eq "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
        : "$i"
    done
    return 1
}

# wait_tcp HOST:PORT: until it accepts a connection (5 s at most).
wait_tcp() {
    for _ in $(seq 50); do
        timeout 1 bash -c "exec 3<>/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ctl SOCKET: asks netlabd's control socket for status and prints
# "name serving address" per listener.
ctl() {
    timeout 10 python3 - "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"status\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
for l in json.loads(data.decode())["listeners"]:
    print(l["name"], "1" if l.get("serving", True) else "0", l["address"])
EOF
}

# limit_keys SERVICE TRANSPORT: the `limits` keys of a listener: rules
# that admit the load generator (after a deny it does not match) and
# per-source limits it never reaches.
limit_keys() {
    local who='"127.0.0.0/8"' none='"192.0.2.1"'
    if [ "$2" = unix ]; then who="\"uid:$(id -u)\"" none='"uid:4294967294"'; fi
    printf 'allow = [ %s ]; deny = [ %s ]; ' "$who" "$none"
    [ "$1" = udp ] || printf 'max_connections_per_source = 1000000; '
    printf 'max_connection_rate_per_source = 1000000; '
}

# netlabd_conf DIR MODEL WORKERS TRANSPORT MAXCONN LIMITS SERVICE...: a
# config in DIR/netlabd.conf with one listener per service (LIMITS
# `limits`: with limit_keys; `accesslog`: with access_log on).
netlabd_conf() {
    local d=$1 m=$2 w=$3 t=$4 mc=$5 lim=$6 sep="" s where
    shift 6
    {
        printf 'log_target = "%s";\nlog_level = "info";\n' "$d/netlabd.log"
        printf 'pidfile = "%s";\ncontrol = "%s";\n' "$d/netlabd.pid" "$d/control.sock"
        # As root, netlabd would serve as its own account when the machine
        # has one: it serves as the user running the benchmark instead,
        # as nlbase and the peers do (and can answer their unix sockets).
        [ "$(id -u)" != 0 ] || printf 'user = "%s";\n' "$(id -un)"
        printf 'plugin_dir = "%s";\nshutdown_timeout = 2;\nlisteners = (\n' \
            "$NETLABD_PLUGIN_DIR"
        for s in "$@"; do
            case $s/$t in
            udp/tcp) where='transport = "udp"; address = "127.0.0.1"; port = 0;' ;;
            udp/unix) where="transport = \"unix-dgram\"; path = \"$d/$s.sock\";" ;;
            */tcp) where='transport = "tcp"; address = "127.0.0.1"; port = 0;' ;;
            *) where="transport = \"unix\"; path = \"$d/$s.sock\";" ;;
            esac
            printf '%s  { name = "%s"; %s model = "%s"; workers = %d; handler = "%s"; max_connections = %d; %s}' \
                "$sep" "$s" "$where" "$m" "$w" \
                "$([ "$s" = greeter ] && echo greeter || echo echo)" "$mc" \
                "$(case $lim in limits) limit_keys "$s" "$t" ;; accesslog) printf 'access_log = true; ' ;; esac)"
            sep=$',\n'
        done
        printf '\n);\n'
    } >"$d/netlabd.conf"
}

# start_netlabd I DIR MODEL WORKERS TRANSPORT MAXCONN LIMITS SERVICE...: starts
# netlabd; sets addr[I,S], spid[I,S] and dpid_of[I], or col_why[I].
start_netlabd() {
    local i=$1 d=$2 out p lines name a
    mkdir -p "$d"
    netlabd_conf "$d" "${@:3}"
    if ! out=$(timeout 20 "$NETLABD" -t -c "$d/netlabd.conf" 2>&1); then
        col_why[i]="unavailable: $(printf '%s\n' "$out" | grep -v 'configuration has errors' |
            head -n 1 | sed -e 's/^[^:]*:[0-9]*: //' -e 's/^listener [a-z]*: //')"
        return 1
    fi
    "${pin_srv[@]}" "$NETLABD" -f -c "$d/netlabd.conf" >"$d/daemon.out" 2>&1 </dev/null &
    p=$!
    srvpids+=("$p")
    for _ in $(seq 150); do
        if ! kill -0 "$p" 2>/dev/null; then
            col_why[i]="netlabd exited at start: $(tail -n 1 "$d/netlabd.log" 2>/dev/null)"
            return 1
        fi
        if lines=$(ctl "$d/control.sock" 2>/dev/null) &&
            ! printf '%s\n' "$lines" | grep -q '^[a-z]* 0 '; then
            while read -r name _ a; do
                addr[$i,$name]=$a spid[$i,$name]=$p
            done <<<"$lines"
            dpid_of[i]=$p
            return 0
        fi
        sleep 0.1
    done
    col_why[i]="netlabd not serving within 15 s"
    return 1
}

# start_base I DIR WORKERS TRANSPORT SERVICE...: one nlbase per service.
start_base() {
    local i=$1 d=$2 w=$3 t=$4 s where p a
    shift 4
    mkdir -p "$d"
    if [ -z "$NLBASE" ]; then
        col_why[i]="unavailable: no bench/nlbase (make -C build bench/nlbase)"
        return 1
    fi
    for s in "$@"; do
        where=127.0.0.1:0
        [ "$t" = tcp ] || where=unix:$d/$s.sock
        "${pin_srv[@]}" "$NLBASE" -t "$w" "$s" "$where" >"$d/$s.out" 2>&1 </dev/null &
        p=$!
        srvpids+=("$p")
        if ! wait_line "$d/$s.out" '^listening ' 5; then
            col_why[i]="nlbase $s did not start: $(head -c 200 "$d/$s.out")"
            return 1
        fi
        a=$(sed -n 's/^listening //p' "$d/$s.out")
        addr[$i,$s]=${a#unix:} spid[$i,$s]=$p
    done
}

# peer_missing NAME: why the peer cannot run here, or nothing.
peer_missing() {
    case $1 in
    python) [ -x "$PEER_PYTHON" ] || echo "not installed (python3)" ;;
    twisted)
        if [ ! -x "$PEER_PYTHON" ]; then echo "not installed (python3)"
        elif ! timeout 20 "$PEER_PYTHON" -c 'import twisted' 2>/dev/null; then
            echo "not installed (python3-twisted)"
        fi ;;
    xinetd)
        if ! PATH=$PATH:/usr/sbin:/sbin command -v xinetd >/dev/null; then
            echo "not installed (xinetd)"
        elif [ "$(id -u)" != 0 ]; then echo "needs root"; fi ;;
    esac
}

# start_peer I DIR NAME: a peer serving echo, greeter and udp.
start_peer() {
    local i=$1 d=$2 name=$3 p s a miss
    miss=$(peer_missing "$name")
    if [ -n "$miss" ]; then col_why[i]=$miss; return 1; fi
    mkdir -p "$d"
    # exec, so that the pid is the server's own.
    case $name in
    python) exec "${pin_srv[@]}" "$PEER_PYTHON" "$top/bench/peers/pyecho.py" 127.0.0.1 ;;
    twisted) exec "${pin_srv[@]}" "$PEER_PYTHON" "$top/bench/peers/twecho.py" 127.0.0.1 ;;
    xinetd)
        export PATH=$PATH:/usr/sbin:/sbin
        exec "${pin_srv[@]}" bash "$top/bench/peers/xinetd.sh" 127.0.0.1 "$d"
        ;;
    esac >"$d/out" 2>&1 </dev/null &
    p=$!
    srvpids+=("$p")
    if ! wait_line "$d/out" '^ready' 20; then
        col_why[i]="$name did not start: $(head -c 200 "$d/out" | tr '\n' ' ')"
        return 1
    fi
    for s in echo greeter udp; do
        a=$(sed -n "s/^$s //p" "$d/out")
        if [ -z "$a" ]; then why_not[$i,$s]="n/a"; continue; fi
        addr[$i,$s]=$a spid[$i,$s]=$p
    done
    wait_tcp "${addr[$i,echo]}" || { col_why[i]="$name does not accept connections"; return 1; }
}

# ---- the runs ----
# nlb_target ADDR SERVICE: nlbench's options to reach it.
nlb_target() {
    case $2/$1 in
    udp//*) echo "-U $1" ;;
    *//*) echo "-u $1" ;;
    *) echo "-h ${1%:*} -p ${1##*:}" ;;
    esac
}

# run_nlb I SC FILE AMOUNT...: one nlbench run of scenario SC against
# column I, its --json line in FILE.  Returns nlbench's status (124:
# killed by timeout).
run_nlb() {
    local i=$1 sc=$2 f=$3 t rc s=${sc_service[$2]}
    local -a args
    t=$(left)
    t=$((t - 5 < 60 ? t - 5 : 60))
    [ "$t" -ge 2 ] || return 124
    read -r -a args <<<"${sc_args[$sc]} $(nlb_target "${addr[$i,$s]}" "$s")"
    # An nlbench without modes does ping-pong only, as it always did.
    has_mode pingpong || args=("${args[@]:2}")
    [ "$threads" = 1 ] || args+=(-j "$threads")
    [ "$has_pid" = 0 ] || args+=(-P "${spid[$i,$s]}")
    # In the background, so that a signal to this script is handled at
    # once (cleanup stops it) rather than after the run.
    timeout -k 5 $((t + 10)) "${pin_load[@]}" "$NLBENCH" "${args[@]}" "${@:4}" \
        -T "$t" --json >"$f" 2>"$f.err" &
    npid=$!
    rc=0
    wait "$npid" || rc=$?
    npid=""
    return "$rc"
}

# jget FILE KEY: a number (or string) from a flat JSON line.
jget() { sed -n "s/.*\"$2\": *\"\{0,1\}\([^,}\"]*\).*/\1/p" "$1" | head -n 1; }

# jsonl FILE SC LABEL ROUND: FILE's JSON line, with scenario, server and
# round in front, appended to latest.jsonl.
jsonl() {
    [ -s "$1" ] || return 0
    sed -n "1s/^{/{\"scenario\": \"$2\", \"server\": \"$3\", \"round\": $4, /p" "$1" \
        >>"$res/latest.jsonl"
}

# ---- start everything ----
services=()
for s in echo greeter udp; do [ -z "${need_service[$s]:-}" ] || services+=("$s"); done
say "starting servers: ${label[*]}"
for i in $(seq 0 $((ncol - 1))); do
    col_why[i]=""
    case ${kind[i]} in
    base) start_base "$i" "$tmp/s$i" "${workers[i]}" "${transport[i]}" "${services[@]}" || true ;;
    netlabd) start_netlabd "$i" "$tmp/s$i" "${model[i]}" "${workers[i]}" \
        "${transport[i]}" "$maxconn" "${limits[i]:-}" "${services[@]}" || true ;;
    peer) start_peer "$i" "$tmp/s$i" "${peer[i]}" || true ;;
    esac
    [ -z "${col_why[i]}" ] || say "${label[i]}: ${col_why[i]}"
done
[ -z "${col_why[0]}" ] || die "the baseline ${label[0]} does not run: ${col_why[0]}"

# cell_why I SC: why column I has no figure for SC, or nothing.
cell_why() {
    local s=${sc_service[$2]} m
    [ -z "${col_why[$1]}" ] || { echo "${col_why[$1]}"; return; }
    [ -z "${why_not[$1,$s]:-}" ] || { echo "${why_not[$1,$s]}"; return; }
    [ -n "${addr[$1,$s]:-}" ] || { echo "n/a"; return; }
    scen_why "$2"
}

# scen_why SC: why no server has a figure for SC, or nothing.
scen_why() {
    local m
    m=$(sc_mode "$1")
    has_mode "$m" || [ "$m" = pingpong ] || echo "nlbench has no -m $m (rebuild it)"
}

status=0
declare -A rate cpu p99 unans lost fails note
for sc in "${scens[@]}"; do
    say "scenario ${sc_title[$sc]}: nlbench ${sc_args[$sc]} ${amount[*]}"
    for i in $(seq 0 $((ncol - 1))); do # warm-up, not counted
        [ -z "$(cell_why "$i" "$sc")" ] || continue
        f=$tmp/warm.$sc.$i
        run_nlb "$i" "$sc" "$f" "${warm[@]}" || true
        jsonl "$f" "$sc" "${label[i]}" 0
    done
    for r in $(seq "$rounds"); do
        for i in $(seq 0 $((ncol - 1))); do
            [ -z "$(cell_why "$i" "$sc")" ] || continue
            if [ "$(left)" -lt $((need + 5)) ]; then
                note[$sc,$i]="out of time (budget ${budget}s)"
                status=1
                continue
            fi
            if [ -n "${dpid_of[i]:-}" ] && ! kill -0 "${dpid_of[i]}" 2>/dev/null; then
                note[$sc,$i]="netlabd died"
                status=1
                continue
            fi
            f=$tmp/run.$sc.$i.$r
            rc=0
            run_nlb "$i" "$sc" "$f" "${amount[@]}" || rc=$?
            jsonl "$f" "$sc" "${label[i]}" "$r"
            if [ "$rc" -le 1 ] && [ -s "$f" ]; then
                v=$(jget "$f" ops_per_s)
                [ -n "$v" ] || v=$(jget "$f" roundtrips_per_s)
                rate[$sc,$i,$r]=$v
                cpu[$sc,$i,$r]=$(jget "$f" server_cpu_us_per_op)
                p99[$sc,$i,$r]=$(jget "$f" lat_p99_us)
                u=$(jget "$f" unanswered)
                [ -n "$u" ] || u=$(jget "$f" starved)
                [ "${u:-0}" -le "${unans[$sc,$i]:-0}" ] || unans[$sc,$i]=$u
                l=$(jget "$f" lost)
                lost[$sc,$i]=$((${lost[$sc,$i]:-0} + ${l:-0}))
                l=$(jget "$f" failures)
                fails[$sc,$i]=$((${fails[$sc,$i]:-0} + ${l:-0}))
                [ "$rc" = 0 ] || [ "${kind[i]}" = peer ] || status=1
                say "  round $r/$rounds ${label[i]}: $(printf '%.0f' "${v:-0}") ops/s, p99 ${p99[$sc,$i,$r]:-?} us, unanswered ${u:-?}, cpu/op ${cpu[$sc,$i,$r]:-?} us"
            else
                note[$sc,$i]="nlbench failed (exit $rc): $(head -c 200 "$f.err" | tr '\n' ' ')"
                [ "${kind[i]}" = peer ] || status=1
                say "  round $r/$rounds ${label[i]}: ${note[$sc,$i]}"
            fi
        done
    done
done

# ---- what netlabd logged; stop the scenario servers ----
logged=()
for i in $(seq 0 $((ncol - 1))); do
    if [ "${kind[i]}" != netlabd ] || [ -z "${dpid_of[i]:-}" ]; then continue; fi
    if ! kill -0 "${dpid_of[i]}" 2>/dev/null; then
        logged[i]="netlabd is gone before the end"
        status=1
    fi
done
for p in "${srvpids[@]}"; do
    rc=0
    stop_pid "$p" || rc=$?
    for i in $(seq 0 $((ncol - 1))); do
        if [ "${dpid_of[i]:-}" = "$p" ] && [ "$rc" != 0 ]; then
            logged[i]+="netlabd exited with status $rc (0 expected after SIGTERM); "
            status=1
        fi
    done
done
srvpids=()
for i in $(seq 0 $((ncol - 1))); do
    if [ "${kind[i]}" != netlabd ] || [ -z "${dpid_of[i]:-}" ]; then continue; fi
    # Warnings are shown (a pool at its cap says so), errors fail the run.
    bad=$(grep -hE '\[(error|warning)\]|killed by signal|exited with status [1-9]|Sanitizer|runtime error' \
        "$tmp/s$i/netlabd.log" "$tmp/s$i/daemon.out" 2>/dev/null || true)
    n=$(printf '%s' "$bad" | grep -c . || true)
    [ "$n" -le 5 ] || logged[i]+="($n lines; the first 5:)"$'\n'
    logged[i]+=$(printf '%s\n' "$bad" | head -n 5)
    if [ -n "$bad" ] && printf '%s\n' "$bad" | grep -qv '\[warning\]'; then status=1; fi
done

# ---- idle memory ----
# pss PID: Pss in KiB of PID and its descendants.
pss() {
    local p sum=0 v
    for p in "$1" $(descendants "$1"); do
        v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

# idle_one LABEL KIND: starts a fresh server of KIND (base, libev,
# twisted) serving echo over tcp, and adds its line to $res/idle.md.
idle_one() {
    local lbl=$1 k=$2 i=$ncol d=$tmp/idle-$2 p before during held f=$tmp/idle-$2.nlb
    col_why[i]=""
    case $k in
    base) start_base "$i" "$d" 1 tcp echo || true ;;
    libev) start_netlabd "$i" "$d" libev 1 tcp $((idle_n + 100)) "" echo || true ;;
    twisted) start_peer "$i" "$d" twisted || true ;;
    esac
    if [ -n "${col_why[i]}" ]; then
        printf '| %s | %s | | | |\n' "$lbl" "${col_why[i]}" >>"$res/idle.md"
        for p in "${srvpids[@]}"; do stop_pid "$p" || true; done
        srvpids=()
        return
    fi
    p=${spid[$i,echo]}
    sleep 0.5
    before=$(pss "$p")
    local t a=${addr[$i,echo]}
    t=$(left)
    t=$((t - 10 < 120 ? t - 10 : 120))
    "${pin_load[@]}" "$NLBENCH" -m idle -c "$idle_n" -d "$t" -T $((t + 5)) --json \
        -h "${a%:*}" -p "${a##*:}" >"$f" 2>&1 </dev/null &
    npid=$!
    if wait_line "$f" 'holding [0-9]+ connections' "$t"; then
        held=$(grep -Eo 'holding [0-9]+ connections' "$f" | head -n 1 | tr -dc 0-9)
        sleep 0.5
        during=$(pss "$p")
        awk -v l="$lbl" -v b="$before" -v d="$during" -v n="$held" 'BEGIN {
            printf "| %s | %d | %d | %d | %.2f |\n", l, n, b, d, n ? (d - b) / n : 0 }' \
            >>"$res/idle.md"
        printf '{"scenario": "idle", "server": "%s", "connections": %d, "pss_before_kib": %d, "pss_holding_kib": %d}\n' \
            "$lbl" "$held" "$before" "$during" >>"$res/latest.jsonl"
        say "idle: $lbl holds $held connections: Pss $before KiB -> $during KiB"
    else
        printf '| %s | no "holding" line from nlbench: %s | | | |\n' "$lbl" \
            "$(tail -c 150 "$f" | tr '\n|' '  ')" >>"$res/idle.md"
        say "idle: $lbl: nlbench did not report holding its connections"
    fi
    kill -TERM "$npid" 2>/dev/null || true
    wait "$npid" 2>/dev/null || true
    npid=""
    for p in "${srvpids[@]}"; do stop_pid "$p" || true; done
    srvpids=()
}

if [ "$idle_n" -gt 0 ]; then
    printf '| server | connections | Pss idle, KiB | Pss holding, KiB | KiB per connection |\n| --- | --- | --- | --- | --- |\n' \
        >"$res/idle.md"
    if ! has_mode idle; then
        echo "nlbench has no -m idle (rebuild it): not measured" >"$res/idle.md"
    elif [ "$(left)" -lt 60 ]; then
        echo "out of time (budget ${budget}s): not measured" >"$res/idle.md"
    else
        say "idle memory: $idle_n connections each"
        idle_one "nlbase w=1" base
        idle_one "libev w=1" libev
        idle_one "Twisted" twisted
    fi
fi

# ---- callgrind, 100 listeners ----
# hook NAME FILE: runs bench/NAME if present, its output in FILE.
hook() {
    local t
    if [ ! -f "$top/bench/$1" ]; then
        echo "${1%.*}: bench/$1 not found" >"$2"
        return
    fi
    t=$(left)
    t=$((t - 5 < 600 ? t - 5 : 600))
    if [ "$t" -lt 30 ]; then
        echo "${1%.*}: out of time (budget ${budget}s)" >"$2"
        return
    fi
    say "bench/$1 (at most $t s)"
    local interp=bash
    [ "${1%.py}" = "$1" ] || interp=python3
    NETLABD=$NETLABD NETLABD_PLUGIN_DIR=$NETLABD_PLUGIN_DIR NLBENCH=$NLBENCH \
        NLBASE=$NLBASE timeout -k 5 "$t" "$interp" "$top/bench/$1" >"$2" 2>&1 </dev/null &
    npid=$!
    wait "$npid" || echo "(bench/$1 exited with status $?)" >>"$2"
    npid=""
}
if [ "$callgrind" = 0 ]; then
    echo "callgrind: not run (-C)" >"$tmp/callgrind.txt"
elif ! command -v valgrind >/dev/null; then
    echo "callgrind: valgrind not installed (apt-get install valgrind)" >"$tmp/callgrind.txt"
else
    hook callgrind.sh "$tmp/callgrind.txt"
fi
if [ "$listeners" = 0 ]; then
    echo "listeners: not run (-L)" >"$tmp/listeners.txt"
else
    hook listeners.py "$tmp/listeners.txt"
fi

# ---- the tables ----
# median V...: the median of numbers, or nothing for none.
median() {
    [ $# -gt 0 ] || return 0
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR % 2) print a[(NR + 1) / 2];
              else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.4f", a / b }'; }
si() { # a rate, short: 152k, 1.25M
    awk -v v="$1" 'BEGIN { if (v >= 1e6) printf "%.2fM", v / 1e6;
        else if (v >= 1e4) printf "%.0fk", v / 1e3;
        else if (v >= 1e3) printf "%.1fk", v / 1e3; else printf "%.0f", v }'
}

# cell WHAT SC I: one cell of table WHAT (ratio, cpu, rounds, p99).
cell() {
    local what=$1 sc=$2 i=$3 r v b w
    local -a vs=()
    w=$(cell_why "$i" "$sc")
    [ -z "$w" ] || { echo "$w"; return; }
    for r in $(seq "$rounds"); do
        v=${rate[$sc,$i,$r]:-}
        [ -n "$v" ] || continue
        case $what in
        ratio) b=${rate[$sc,0,$r]:-} ;;
        cpu) v=${cpu[$sc,$i,$r]:-} b=${cpu[$sc,0,$r]:-} ;;
        rounds | p99) b=1 ;;
        esac
        [ "$what" != p99 ] || v=${p99[$sc,$i,$r]:-}
        if [ -z "$v" ] || [ -z "$b" ]; then continue; fi
        if [ "$what" = rounds ]; then vs+=("$v"); else vs+=("$(ratio "$v" "$b")"); fi
    done
    if [ ${#vs[@]} -eq 0 ]; then echo "${note[$sc,$i]:--}"; return; fi
    case $what in
    ratio)
        printf '%.2f' "$(median "${vs[@]}")"
        [ "$i" != 0 ] || printf ' (%s/s)' "$(si "$(median_rate "$sc" 0)")"
        local n=${sc_conns[$sc]} u=${unans[$sc,$i]:-0}
        [ "$u" = 0 ] || printf ' (%s/%s unanswered)' "$u" "$n"
        [ "${lost[$sc,$i]:-0}" = 0 ] || printf ' (%s lost)' "${lost[$sc,$i]}"
        [ "${fails[$sc,$i]:-0}" = 0 ] || printf ' (%s failed)' "${fails[$sc,$i]}"
        [ -z "${note[$sc,$i]:-}" ] || printf ' (%s)' "${note[$sc,$i]}"
        ;;
    cpu)
        printf '%.2f' "$(median "${vs[@]}")"
        [ "$i" != 0 ] || printf ' (%.2f µs)' "$(median_of cpu "$sc" 0)"
        ;;
    p99) printf '%.0f' "$(median "${vs[@]}")" ;;
    rounds)
        for v in "${vs[@]}"; do printf '%s ' "$(si "$v")"; done
        printf '(±%.0f%%)' "$(printf '%s\n' "${vs[@]}" | sort -g | awk -v m="$(median "${vs[@]}")" \
            'NR == 1 { lo = $1 } { hi = $1 } END { print (m > 0 ? 50 * (hi - lo) / m : 0) }')"
        ;;
    esac
}
median_of() { # median_of ARRAY SC I: median over the rounds
    local -n arr=$1
    local r vs=()
    for r in $(seq "$rounds"); do [ -z "${arr[$2,$3,$r]:-}" ] || vs+=("${arr[$2,$3,$r]}"); done
    median "${vs[@]}"
}
median_rate() { median_of rate "$1" "$2"; }

# table WHAT TITLE: a Markdown table, scenarios by servers.
table() {
    local sc i w
    printf '| scenario |'
    for i in $(seq 0 $((ncol - 1))); do printf ' %s |' "${label[i]}"; done
    printf '\n| --- |'
    for i in $(seq 0 $((ncol - 1))); do printf ' --- |'; done
    printf '\n'
    for sc in "${scens[@]}"; do
        printf '| %s |' "${sc_title[$sc]}"
        w=$(scen_why "$sc")
        if [ -n "$w" ]; then # one note for the row, not one per cell
            printf ' %s |' "$w"
            for i in $(seq 1 $((ncol - 1))); do printf ' |'; done
        else
            for i in $(seq 0 $((ncol - 1))); do printf ' %s |' "$(cell "$1" "$sc" "$i")"; done
        fi
        printf '\n'
    done
}

fence=$(printf '\140\140\140') # a Markdown code fence

# callgrind_md FILE: bench/callgrind.sh's lines "callgrind server=NAME
# rt=N bytes=S total=T libev=E libc=C own=O other=X" as a table, its line
# "callgrind ratio total=T own=O" as a sentence, the whole output folded
# below; anything else as it is.
callgrind_md() {
    if ! grep -q '^callgrind server=' "$1"; then
        printf '%s\n%s\n%s\n' "$fence" "$(cat "$1")" "$fence"
        return
    fi
    echo "User-space instructions per echo round trip, by where they ran"
    echo "(bench/callgrind.sh: one connection, the difference of two runs)."
    echo
    echo "| server | total | libev | libc | own | other |"
    echo "| --- | --- | --- | --- | --- | --- |"
    sed -n 's/^callgrind server=\([^ ]*\) .* total=\([0-9]*\) libev=\([0-9]*\) libc=\([0-9]*\) own=\([0-9]*\) other=\([0-9]*\).*/| \1 | \2 | \3 | \4 | \5 | \6 |/p' "$1"
    sed -n 's/^callgrind ratio total=\([0-9.]*\) own=\([0-9.]*\).*/\nnetlabd against the baseline'"'"'s whole count: total \1×, its own code \2×./p' "$1"
    printf '\n<details><summary>bench/callgrind.sh output</summary>\n\n%s\n%s\n%s\n\n</details>\n' \
        "$fence" "$(grep -v '^callgrind ' "$1")" "$fence"
}

when=$(date -u '+%Y-%m-%d %H:%M UTC')
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
machine="$(nproc) CPUs, ${cpu_model:-unknown CPU}, $(uname -sr)"
version=$("$NETLABD" -V 2>&1 | head -n 1)
{
    echo "# netlabd benchmark"
    echo
    echo "- date: $when"
    echo "- command: \`$cmdline\`"
    echo "- machine: $machine"
    echo "- netlabd: $version"
    echo "- pinned: $pinned"
    echo "- runs: rounds: $rounds, each of $amount_text per server and scenario, order A B C … A B C after one warm-up run each; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "## Throughput, ratio to the baseline"
    echo
    echo "Median over the rounds of each round's operations per second divided"
    echo "by the baseline's (${label[0]}) in the same round; the baseline's own"
    echo "median rate in brackets. \"N/M unanswered\": in the worst round N of the"
    echo "M clients got no answer at all."
    echo
    table ratio
    echo
    if [ "$has_pid" = 1 ]; then
        echo "## Server CPU time per operation, ratio to the baseline"
        echo
        echo "CPU time (user + system) of the server process and all its"
        echo "descendants during the run, per operation; median over the rounds of"
        echo "its ratio to the baseline's in the same round (baseline's own in brackets)."
        echo
        table cpu
        echo
    fi
    echo "## Rounds"
    echo
    echo "Operations per second in each round, in order, and ± half their"
    echo "spread (highest − lowest) as a percentage of the median."
    echo
    table rounds
    echo
    echo "## Latency p99, µs (median over the rounds)"
    echo
    table p99
    echo
    echo "## Scenarios"
    echo
    echo "| scenario | nlbench | service |"
    echo "| --- | --- | --- |"
    for sc in "${scens[@]}"; do
        echo "| ${sc_title[$sc]} | \`nlbench ${sc_args[$sc]} ${amount[*]}\` | ${sc_service[$sc]} |"
    done
    echo
    if [ "$idle_n" -gt 0 ]; then
        echo "## Idle connections"
        echo
        echo "Pss (KiB, /proc/PID/smaps_rollup) of the server and all its"
        echo "descendants, fresh and idle, then while \`nlbench -m idle\` holds"
        echo "$idle_n TCP connections open after one round trip each."
        echo
        cat "$res/idle.md"
        echo
    fi
    echo "## Instructions per round trip (callgrind)"
    echo
    callgrind_md "$tmp/callgrind.txt"
    if [ -f "$tmp/listeners.txt" ]; then
        echo
        echo "## 100 listeners"
        echo
        printf '%s\n%s\n%s\n' "$fence" "$(cat "$tmp/listeners.txt")" "$fence"
    fi
    for i in $(seq 0 $((ncol - 1))); do
        [ -z "${logged[i]:-}" ] ||
            printf '\n%s logged:\n\n%s\n%s\n%s\n' "${label[i]}" "$fence" "${logged[i]}" "$fence"
    done
} >"$res/latest.md"
rm -f "$res/idle.md"

# ---- the plot ----
if command -v gnuplot >/dev/null; then
    {
        printf '"scenario"'
        for i in $(seq 0 $((ncol - 1))); do printf ' "%s"' "${label[i]}"; done
        printf '\n'
        for sc in "${scens[@]}"; do
            [ -z "$(scen_why "$sc")" ] || continue
            printf '"%s"' "${sc_short[$sc]}"
            for i in $(seq 0 $((ncol - 1))); do
                v=$(cell ratio "$sc" "$i" | awk '$1 ~ /^[0-9.]+$/ { print $1 }')
                printf ' %s' "${v:-?}"
            done
            printf '\n'
        done
    } >"$tmp/plot.dat"
    if ! timeout 60 gnuplot -e "datafile='$tmp/plot.dat'; outfile='$res/latest.svg'; ncols=$((ncol + 1)); subtitle='$when, $(nproc) CPUs, pinned: $pinned_short'" \
        "$top/bench/plot.gp" 2>"$tmp/gnuplot.err"; then
        say "gnuplot failed: $(head -c 300 "$tmp/gnuplot.err")"
        rm -f "$res/latest.svg"
    fi
fi

# ---- into place: each file renamed over the last good one ----
for f in latest.md latest.jsonl latest.svg; do
    if [ -f "$res/$f" ]; then
        cp "$res/$f" "$outdir/.$f.new" && mv -f "$outdir/.$f.new" "$outdir/$f"
    else
        rm -f "$outdir/$f"
    fi
done
cat "$outdir/latest.md"
rel=${outdir#"$top"/}

# readme_table HEADING TITLE: the table of latest.md's section HEADING,
# under TITLE, when it has one.
readme_table() {
    local t
    t=$(sed -n "/^## $1/,/^## /{/^|/p;/^netlabd against/{s/^/\n/;p}}" "$outdir/latest.md")
    [ -z "$t" ] || printf '\n%s:\n\n%s\n' "$2" "$t"
}
cat <<EOF

----- for README.md: replace its Performance section's block with -----
<!-- bench/run.sh: begin -->
Made on $when with \`$cmdline\`
($machine; pinned: $pinned_short). Throughput as a ratio to the baseline
(${label[0]}), median of $rounds rounds; the whole report, with server
CPU per operation, the spread of the rounds, latency, idle memory and
instructions per round trip, is [$rel/latest.md]($rel/latest.md).

$(sed -n '/^## Throughput/,/^## /{/^|/p}' "$outdir/latest.md")
$([ -f "$outdir/latest.svg" ] && printf '\n![throughput as a ratio to the baseline](%s/latest.svg)\n' "$rel")
$(readme_table "Idle connections" "Memory per idle TCP connection ($idle_n held)")
$(readme_table "Instructions per round trip" "User-space instructions per echo round trip (callgrind)")
<!-- bench/run.sh: end -->
----- end -----
EOF
say "results in $outdir; total time $((SECONDS - start)) s"
exit "$status"
