#!/bin/bash
# bench/run.sh - compare netlabd's concurrency models on the echo handler.
#
# Starts one netlabd on a config in a temporary folder, with one echo
# listener per configuration to compare (tcp on 127.0.0.1 port 0, or a unix
# socket in the folder), then runs nlbench against each one in turn, round
# after round (A B C A B C ...), and prints for each configuration the
# median round trips per second, the median p99 latency and the ratio to
# the baseline, the first configuration, measured in the same round.
#
# usage: bench/run.sh [-c CONNS] [-d SECONDS | -n ROUNDTRIPS] [-s BYTES]
#                     [-r ROUNDS] [-j THREADS] [-b BUDGET] [CONFIG...]
#   -c  concurrent connections per run (default 100)
#   -d  seconds per run (default 3)
#   -n  round trips per connection per run, instead of -d
#   -s  bytes per line, "\n" included (default 64)
#   -r  rounds; each configuration runs once per round (default 3)
#   -j  nlbench threads (default 1)
#   -b  time budget for the whole script in seconds (default 600)
#   CONFIG  MODEL:WORKERS:TRANSPORT, transport tcp or unix; the first is
#           the baseline.  MODEL is a netlabd model, or `base` for
#           bench/nlbase, the minimal epoll echo server (WORKERS threads,
#           with SO_REUSEPORT on tcp).  Default: base:1:tcp libev:1:tcp
#           libev:2:tcp threads:8:tcp prefork:4:tcp libev:1:unix
#
# A configuration whose model `netlabd -t` refuses is listed as
# unavailable and skipped.  Environment: NETLABD (default
# build/daemon/netlabd), NETLABD_PLUGIN_DIR (default build/plugins/.libs),
# NLBENCH (default build/bench/nlbench; when missing, bench/nlbench.c is
# compiled into the temporary folder with cc), NLBASE (the same, for
# bench/nlbase).  Paths are relative to the
# top of the source tree.
#
# Exit status: 0 every run completed without a failed round trip; 1 some
# run failed, the daemon died or logged an error; 2 usage or setup error.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NETLABD=${NETLABD:-$top/build/daemon/netlabd}
NETLABD_PLUGIN_DIR=${NETLABD_PLUGIN_DIR:-$top/build/plugins/.libs}
NLBENCH=${NLBENCH:-}
NLBASE=${NLBASE:-}

conns=100 secs=3 nrt="" size=64 rounds=3 threads=1 budget=600

usage() {
    sed -n '/^# usage:/,/^# Exit status/p' "${BASH_SOURCE[0]}" |
        sed -e 's/^# \{0,1\}//' -e '/^Exit status/d'
}

die() {
    echo "run.sh: $*" >&2
    exit 2
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]; }

while getopts "c:d:n:s:r:j:b:h" opt; do
    case $opt in
    c) conns=$OPTARG ;;
    d) secs=$OPTARG nrt="" ;;
    n) nrt=$OPTARG ;;
    s) size=$OPTARG ;;
    r) rounds=$OPTARG ;;
    j) threads=$OPTARG ;;
    b) budget=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
for v in conns size rounds threads budget; do
    is_uint "${!v}" || die "-${v:0:1} wants a positive integer, not '${!v}'"
done
if [ -n "$nrt" ]; then
    is_uint "$nrt" || die "-n wants a positive integer, not '$nrt'"
    amount=(-n "$nrt")
    amount_text="$nrt round trips per connection"
    warm=(-n $(((nrt + 9) / 10)))
    need=30 # seconds a run may take, at most
else
    is_uint "$secs" || die "-d wants a whole number of seconds, not '$secs'"
    amount=(-d "$secs")
    amount_text="$secs s"
    warm=(-d 1)
    need=$((secs + 5))
fi

if [ $# -eq 0 ]; then
    set -- base:1:tcp libev:1:tcp libev:2:tcp threads:8:tcp prefork:4:tcp \
        libev:1:unix
fi
specs=("$@")
declare -a model workers transport label
for i in "${!specs[@]}"; do
    IFS=: read -r m w t extra <<<"${specs[$i]}"
    if [[ -z $m || -n ${extra:-} || ! ($t == tcp || $t == unix) ]] ||
        ! is_uint "${w:-x}"; then
        die "configuration '${specs[$i]}' is not MODEL:WORKERS:tcp|unix"
    fi
    model[i]=$m workers[i]=$w transport[i]=$t
    label[i]="$m w=$w $t"
done

[ -x "$NETLABD" ] || die "no netlabd at $NETLABD (build first, or set NETLABD)"
[ -d "$NETLABD_PLUGIN_DIR" ] ||
    die "no plugin folder $NETLABD_PLUGIN_DIR (set NETLABD_PLUGIN_DIR)"
[ -f "$NETLABD_PLUGIN_DIR/echo.so" ] ||
    die "no echo.so in $NETLABD_PLUGIN_DIR"
command -v python3 >/dev/null ||
    die "python3 is needed to read the control socket"

start=$SECONDS
deadline=$((SECONDS + budget))
left() { echo $((deadline - SECONDS)); }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nlbench.XXXXXX")
dpid=""
stop_daemon() {
    # SIGTERM, then up to 10 s for a graceful stop; SIGKILL for what is
    # left (the master and its direct children, by pid).  Sets drc.
    drc=""
    [ -n "$dpid" ] || return 0
    if kill -0 "$dpid" 2>/dev/null; then
        kill -TERM "$dpid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$dpid" 2>/dev/null || break
            # A zombie still answers kill -0; `wait` below reaps it.
            [ "$(ps -o stat= -p "$dpid" 2>/dev/null)" != Z ] || break
            sleep 0.1
        done
        if kill -0 "$dpid" 2>/dev/null &&
            [ "$(ps -o stat= -p "$dpid" 2>/dev/null)" != Z ]; then
            echo "run.sh: netlabd did not stop within 10 s, killing it" >&2
            for k in $(ps -o pid= --ppid "$dpid" 2>/dev/null); do
                kill -KILL "$k" 2>/dev/null || true
            done
            kill -KILL "$dpid" 2>/dev/null || true
        fi
    fi
    drc=0
    wait "$dpid" 2>/dev/null || drc=$?
    dpid=""
}
npid=""
basepids=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${basepids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ -n "$npid" ]; then
        kill -TERM "$npid" 2>/dev/null || true
        wait "$npid" 2>/dev/null || true
    fi
    stop_daemon || true
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$NLBENCH" ]; then
    NLBENCH=$top/build/bench/nlbench
    if [ ! -x "$NLBENCH" ]; then
        NLBENCH=$tmp/nlbench
        echo "run.sh: no build/bench/nlbench, compiling bench/nlbench.c"
        timeout 120 "${CC:-cc}" -O2 -Wall -Wextra -pthread \
            -o "$NLBENCH" "$top/bench/nlbench.c" ||
            die "cannot compile nlbench (or run 'make bench/nlbench' in a build)"
    fi
fi
[ -x "$NLBENCH" ] || die "no nlbench at $NLBENCH"
if [ -z "$NLBASE" ]; then
    NLBASE=$top/build/bench/nlbase
    if [ ! -x "$NLBASE" ]; then
        NLBASE=$tmp/nlbase
        timeout 120 "${CC:-cc}" -O2 -Wall -Wextra -pthread \
            -o "$NLBASE" "$top/bench/nlbase.c" || NLBASE=""
    fi
fi

# The daemon's limits must not be what the benchmark measures.
maxconn=$((conns + 100 > 1024 ? conns + 100 : 1024))
backlog=$((conns > 511 ? conns : 511))

# listener_conf I: the listener for configuration I.
listener_conf() {
    local i=$1 where
    if [ "${transport[i]}" = unix ]; then
        where="transport = \"unix\"; path = \"$tmp/c$i.sock\";"
    else
        where="transport = \"tcp\"; address = \"127.0.0.1\"; port = 0;"
    fi
    printf '  { name = "c%d"; %s model = "%s"; workers = %d; handler = "echo"; max_connections = %d; backlog = %d; }' \
        "$i" "$where" "${model[i]}" "${workers[i]}" "$maxconn" "$backlog"
}

# write_conf FILE I...: a config with the listeners for configurations I...
write_conf() {
    local f=$1 sep=""
    shift
    {
        printf 'log_target = "%s";\nlog_level = "info";\n' "$tmp/netlabd.log"
        printf 'pidfile = "%s";\ncontrol = "%s";\n' "$tmp/netlabd.pid" \
            "$tmp/control.sock"
        printf 'plugin_dir = "%s";\nshutdown_timeout = 2;\n' \
            "$NETLABD_PLUGIN_DIR"
        printf 'listeners = (\n'
        for i in "$@"; do
            printf '%s' "$sep"
            listener_conf "$i"
            sep=$',\n'
        done
        printf '\n);\n'
    } >"$f"
}

# ctl MODE: asks the control socket for `status`.  MODE listeners prints
# "name serving address" per listener; counters prints the counters.
ctl() {
    timeout 10 python3 - "$tmp/control.sock" "$1" <<'EOF'
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
st = json.loads(data.decode())
for l in st["listeners"]:
    if sys.argv[2] == "listeners":
        print(l["name"], "1" if l.get("serving", True) else "0", l["address"])
    else:
        print("%-4s connections_total=%s refused=%s errors=%s bytes_in=%s bytes_out=%s"
              % (l["name"], l["connections_total"], l["connections_refused"],
                 l["errors"], l["bytes_in"], l["bytes_out"]))
EOF
}

# ---- which configurations this netlabd serves ----
declare -a avail why
runnable=()
for i in "${!specs[@]}"; do
    if [ "${model[i]}" = base ]; then
        if [ -n "$NLBASE" ] && [ -x "$NLBASE" ]; then
            avail[i]=1
            runnable+=("$i")
        else
            avail[i]=0
            why[i]="no bench/nlbase (make bench/nlbase in a build)"
        fi
        continue
    fi
    write_conf "$tmp/check$i.conf" "$i"
    if out=$(timeout 20 "$NETLABD" -t -c "$tmp/check$i.conf" 2>&1); then
        avail[i]=1
        runnable+=("$i")
    else
        avail[i]=0
        # Keep what is wrong, without the FILE:LINE: and the summary line.
        why[i]=$(printf '%s\n' "$out" | grep -v 'configuration has errors' |
            head -n 1 | sed -e 's/^[^:]*:[0-9]*: //' -e 's/^listener c[0-9]*: //')
        [ -n "${why[i]}" ] || why[i]="netlabd -t failed"
    fi
done
[ "${avail[0]}" = 1 ] ||
    die "the baseline ${label[0]} is unavailable: ${why[0]}"

# ---- start the baseline servers, then the daemon ----
declare -A addr
for i in "${runnable[@]}"; do
    [ "${model[i]}" = base ] || continue
    if [ "${transport[i]}" = unix ]; then
        where="unix:$tmp/c$i.sock"
    else
        where="127.0.0.1:0"
    fi
    "$NLBASE" -t "${workers[i]}" echo "$where" >"$tmp/base$i.out" \
        2>&1 </dev/null &
    basepids+=($!)
    for _ in $(seq 100); do
        grep -q '^listening ' "$tmp/base$i.out" 2>/dev/null && break
        sleep 0.05
    done
    a=$(sed -n 's/^listening //p' "$tmp/base$i.out")
    [ -n "$a" ] || die "nlbase did not start: $(cat "$tmp/base$i.out")"
    addr[$i]=${a#unix:}
done
runnable_daemon=()
for i in "${runnable[@]}"; do
    [ "${model[i]}" = base ] || runnable_daemon+=("$i")
done
write_conf "$tmp/netlabd.conf" "${runnable_daemon[@]}"
"$NETLABD" -f -c "$tmp/netlabd.conf" >"$tmp/daemon.out" 2>&1 </dev/null &
dpid=$!
ready=0
for _ in $(seq 150); do
    if ! kill -0 "$dpid" 2>/dev/null; then
        cat "$tmp/daemon.out" "$tmp/netlabd.log" 2>/dev/null >&2 || true
        die "netlabd exited at start"
    fi
    if lines=$(ctl listeners 2>/dev/null) &&
        ! printf '%s\n' "$lines" | grep -q '^c[0-9]* 0 '; then
        while read -r name _ a; do
            addr[${name#c}]=$a
        done <<<"$lines"
        ready=1
        break
    fi
    sleep 0.1
done
[ "$ready" = 1 ] || die "netlabd not serving within 15 s"
nproc_daemon=$(ps -o pid= --ppid "$dpid" | wc -l)
nthreads=0
for p in $dpid $(ps -o pid= --ppid "$dpid"); do
    nthreads=$((nthreads + $(ps -o nlwp= -p "$p" 2>/dev/null || echo 0)))
done

echo "netlabd benchmark: $("$NETLABD" -V 2>&1 | head -n 1)"
echo "  $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  nlbench: $conns connections x $amount_text per run, $size-byte lines, $threads thread(s); $rounds rounds, order A B C ... A B C"
echo "  netlabd pid $dpid: $nproc_daemon serving process(es), $nthreads thread(s) in all"
for i in "${runnable[@]}"; do
    printf '  %-22s %s\n' "${label[i]}" "${addr[$i]}"
done

# run_one I FILE: one nlbench run against configuration I, its --json line
# in FILE.  Returns nlbench's status (124: killed by timeout).
run_one() {
    local i=$1 f=$2 t rc a=${addr[$1]}
    local -a tgt
    t=$(left)
    t=$((t - 5 < 60 ? t - 5 : 60))
    [ "$t" -ge 2 ] || return 124
    if [ "${transport[i]}" = unix ]; then
        tgt=(-u "$a")
    else
        local h=${a%:*}
        h=${h#[}
        tgt=(-h "${h%]}" -p "${a##*:}")
    fi
    # In the background, so that a signal to this script is handled at
    # once (cleanup stops it) rather than after the run.
    timeout -k 5 $((t + 10)) "$NLBENCH" -c "$conns" "${@:3}" -s "$size" \
        -j "$threads" -T "$t" --json "${tgt[@]}" >"$f" 2>"$f.err" &
    npid=$!
    rc=0
    wait "$npid" || rc=$?
    npid=""
    return "$rc"
}

jget() { sed -n "s/.*\"$2\": \([^,}]*\).*/\1/p" "$1"; }

# ---- warm up (not counted), then the rounds ----
status=0
for i in "${runnable[@]}"; do
    run_one "$i" "$tmp/warm$i" "${warm[@]}" || true
done

declare -A rate p99 fails served note
for r in $(seq "$rounds"); do
    for i in "${runnable[@]}"; do
        if [ "$(left)" -lt $((need + 5)) ]; then
            note[$i]="out of time (budget ${budget}s)"
            status=1
            continue
        fi
        if ! kill -0 "$dpid" 2>/dev/null; then
            note[$i]="netlabd died"
            status=1
            continue
        fi
        f=$tmp/run$i.$r
        rc=0
        run_one "$i" "$f" "${amount[@]}" || rc=$?
        if [ "$rc" -le 1 ] && [ -s "$f" ]; then
            rate[$i,$r]=$(jget "$f" roundtrips_per_s)
            p99[$i,$r]=$(jget "$f" lat_p99_us)
            fails[$i]=$((${fails[$i]:-0} + $(jget "$f" failures)))
            served[$i,$r]=$((conns - $(jget "$f" starved)))
            [ "$rc" = 0 ] || status=1
        else
            note[$i]="nlbench failed (exit $rc): $(head -c 200 "$f.err" | tr '\n' ' ')"
            status=1
        fi
        printf '  round %d/%d %-22s %s\n' "$r" "$rounds" "${label[i]}" \
            "$(if [ -n "${rate[$i,$r]:-}" ]; then
                printf '%.0f rt/s, p99 %s us, served %s/%s, %s failures' \
                    "${rate[$i,$r]}" "${p99[$i,$r]}" "${served[$i,$r]}" \
                    "$conns" "$(jget "$f" failures)"
            else
                echo "${note[$i]}"
            fi)"
    done
done

# median V...: the median of numbers, or "-" for none.
median() {
    [ $# -gt 0 ] || { echo -; return; }
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR % 2) print a[(NR + 1) / 2];
              else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# ---- the table ----
echo
printf '%-22s %10s %10s %12s %13s %9s %9s\n' configuration "rt/s" "p99 us" \
    "vs baseline" "ratio range" served failures
for i in "${!specs[@]}"; do
    name=${label[i]}
    [ "$i" != 0 ] || name="$name (base)"
    if [ "${avail[i]}" != 1 ]; then
        printf '%-22s unavailable: %s\n' "$name" "${why[i]}"
        continue
    fi
    rs=() ps=() ratios=() ss=()
    for r in $(seq "$rounds"); do
        [ -n "${rate[$i,$r]:-}" ] || continue
        rs+=("${rate[$i,$r]}")
        ps+=("${p99[$i,$r]}")
        ss+=("${served[$i,$r]}")
        b=${rate[0,$r]:-}
        if [ -n "$b" ] && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
            ratios+=("$(awk -v a="${rate[$i,$r]}" -v b="$b" \
                'BEGIN { printf "%.3f", a / b }')")
        fi
    done
    if [ ${#rs[@]} -eq 0 ]; then
        printf '%-22s no result: %s\n' "$name" "${note[$i]:-}"
        continue
    fi
    mr=$(median "${rs[@]}") mp=$(median "${ps[@]}") mq=$(median "${ratios[@]}")
    range=-
    if [ ${#ratios[@]} -gt 0 ]; then
        range=$(printf '%s\n' "${ratios[@]}" | sort -g |
            awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }')
        mq=$(awk -v q="$mq" 'BEGIN { printf "%.2f", q }')
    fi
    extra=""
    [ ${#rs[@]} -eq "$rounds" ] || extra=" (${#rs[@]}/$rounds runs)"
    printf '%-22s %10.0f %10.1f %12s %13s %9s %9s%s\n' "$name" "$mr" "$mp" \
        "$mq" "$range" "$(median "${ss[@]}")/$conns" "${fails[$i]:-0}" "$extra"
done
echo
echo "rt/s and p99: medians over the rounds; vs baseline: median of each"
echo "round's ratio to the baseline in the same round (range: lowest-highest);"
echo "served: connections that got at least one round trip done (median); p99"
echo "covers only those, so a model that leaves clients waiting in the listen"
echo "queue shows a low p99: see served, or run with -n."

# ---- what the daemon saw ----
echo
echo "netlabd counters:"
ctl counters 2>/dev/null | sed 's/^/  /' || echo "  (control socket did not answer)"
if ! kill -0 "$dpid" 2>/dev/null; then
    echo "run.sh: netlabd is gone before the end" >&2
    status=1
fi
stop_daemon
if [ "${drc:-0}" != 0 ]; then
    echo "run.sh: netlabd exited with status $drc (0 expected after SIGTERM)" >&2
    status=1
fi
bad=$(grep -E '\[(error|warning)\]|killed by signal|exited with status [1-9]|Sanitizer|runtime error' \
    "$tmp/netlabd.log" "$tmp/daemon.out" 2>/dev/null | head -n 20 || true)
if [ -n "$bad" ]; then
    echo "netlabd logged:"
    printf '%s\n' "$bad" | sed 's/^/  /'
    status=1
fi
echo "total time $((SECONDS - start)) s"
exit "$status"
