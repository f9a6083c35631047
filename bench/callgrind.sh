#!/bin/bash
# bench/callgrind.sh - user-space instructions per echo round trip, counted
# by callgrind: a figure that does not depend on how busy the machine is.
#
# For each server it starts the server alone with its serving process under
# `valgrind --tool=callgrind`, drives ONE connection through A round trips
# of S bytes (a small python client, pausing between round trips: see
# drive() below), stops the server, and does the same again with B round
# trips.  Everything a run costs once (start, configuration, accept,
# close, stop) is in both counts, so
#
#     per round trip = (Ir(B) - Ir(A)) / (B - A)
#
# is what one more round trip costs the serving process, split by the ELF
# object the instructions ran in:
#   libev  libev.so*
#   libc   libc.so*, ld-linux*, libpthread*, libm* (the C library)
#   own    the server's own code: the netlabd binary and the handler
#          plugins in NETLABD_PLUGIN_DIR; for nlbase, the nlbase binary
#   other  everything else (libconfig, valgrind's preloads, unknown ???:
#          netlabd loads its handler through a descriptor, which callgrind
#          cannot name, so the echo handler's few instructions are here)
#
# usage: bench/callgrind.sh [-a A] [-b B] [-s BYTES] [-p USEC] [-m MODEL]
#                           [-w WORKERS] [-t tcp|unix] [-f N] [-k DIR]
#                           [SERVER...]
#   -a  round trips of the short run (default 1000)
#   -b  round trips of the long run (default 21000)
#   -s  bytes per message, "\n" included (default 64)
#   -p  microseconds the client waits between round trips (default 200)
#   -m  netlabd's model (default libev)
#   -w  netlabd's workers (default 1)
#   -t  transport of the echo listener (default tcp, 127.0.0.1 port 0)
#   -f  functions to list per server, most costly first (default 12; 0: none)
#   -k  keep the callgrind output files in DIR (for callgrind_annotate)
#   SERVER  netlabd or base (bench/nlbase echo, one thread); default both,
#           base first
#
# Output: a table per server (instructions per round trip by object, and
# the costliest functions), then one machine-readable line per server
#
#   callgrind server=NAME rt=B-A bytes=S total=T libev=E libc=C own=O other=X
#
# (NAME is netlabd-MODEL-wWORKERS-TRANSPORT or nlbase-TRANSPORT; every
# figure is instructions per round trip, rounded to a whole number, and
# total is their sum), and when both servers were measured one line of
# ratios to the baseline's total, the figures issue 10 sets targets for:
#
#   callgrind ratio total=T/base own=O/base
#
# Environment: NETLABD (default build/daemon/netlabd), NETLABD_PLUGIN_DIR
# (default build/plugins/.libs), NLBASE (default build/bench/nlbase; when
# missing, bench/nlbase.c is compiled into the temporary folder),
# VALGRIND (default valgrind).  Paths are relative to the top of the
# source tree.
#
# Every wait is bounded (a run at most 600 s, a start or stop 60 s), and the
# servers are stopped and the temporary folder removed on any exit.
# Exit status: 0 measured; 1 a run failed; 2 usage or setup error, or
# valgrind is missing.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NETLABD=${NETLABD:-$top/build/daemon/netlabd}
NETLABD_PLUGIN_DIR=${NETLABD_PLUGIN_DIR:-$top/build/plugins/.libs}
NLBASE=${NLBASE:-}
VALGRIND=${VALGRIND:-valgrind}

short=1000 long=21000 size=64 model=libev workers=1 transport=tcp nfn=12
pause=200
keep=""

usage() {
    sed -n '/^# usage:/,/^# Output:/p' "${BASH_SOURCE[0]}" |
        sed -e 's/^# \{0,1\}//' -e '/^Output:/d'
}

die() {
    echo "callgrind.sh: $*" >&2
    exit 2
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while getopts "a:b:s:p:m:w:t:f:k:h" opt; do
    case $opt in
    a) short=$OPTARG ;;
    b) long=$OPTARG ;;
    s) size=$OPTARG ;;
    p) pause=$OPTARG ;;
    m) model=$OPTARG ;;
    w) workers=$OPTARG ;;
    t) transport=$OPTARG ;;
    f) nfn=$OPTARG ;;
    k) keep=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
for v in short long size pause workers nfn; do
    is_uint "${!v}" || die "option for $v wants a whole number, not '${!v}'"
done
[ "$long" -gt "$short" ] || die "-b ($long) must be more than -a ($short)"
if [ "$size" -lt 1 ] || [ "$workers" -lt 1 ]; then
    die "-s and -w must be positive"
fi
[[ $transport == tcp || $transport == unix ]] ||
    die "-t wants tcp or unix, not '$transport'"
[[ $model =~ ^[a-z]+$ ]] || die "-m wants a model name, not '$model'"
[ $# -gt 0 ] || set -- base netlabd
for s in "$@"; do
    [[ $s == netlabd || $s == base ]] ||
        die "a server is netlabd or base, not '$s'"
done

command -v "$VALGRIND" >/dev/null ||
    die "valgrind is not installed (apt-get install valgrind)"
command -v python3 >/dev/null || die "python3 is needed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nlcallgrind.XXXXXX")
spid=""
# Stops the server started last: SIGTERM, up to 60 s (callgrind writes
# its files on the way out), then SIGKILL for it and its children.
stop_server() {
    [ -n "$spid" ] || return 0
    local kids
    kids=$(ps -o pid= --ppid "$spid" 2>/dev/null || true)
    kill -TERM "$spid" 2>/dev/null || true
    for _ in $(seq 600); do
        kill -0 "$spid" 2>/dev/null || break
        [ "$(ps -o stat= -p "$spid" 2>/dev/null)" != Z ] || break
        sleep 0.1
    done
    if kill -0 "$spid" 2>/dev/null &&
        [ "$(ps -o stat= -p "$spid" 2>/dev/null)" != Z ]; then
        echo "callgrind.sh: server $spid did not stop within 60 s, killing it" >&2
        for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
        kill -KILL "$spid" 2>/dev/null || true
    fi
    wait "$spid" 2>/dev/null || true
    # Serving processes outlive the master by a moment at most.
    for k in $kids; do
        for _ in $(seq 100); do
            kill -0 "$k" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$k" 2>/dev/null || true
    done
    spid=""
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server || true
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# find_tool VAR NAME: the built bench/NAME, or compile it into $tmp.
find_tool() {
    local var=$1 name=$2 path=${!1}
    if [ -z "$path" ]; then
        path=$top/build/bench/$name
        if [ ! -x "$path" ]; then
            path=$tmp/$name
            timeout 120 "${CC:-cc}" -O2 -Wall -Wextra -pthread -o "$path" \
                "$top/bench/$name.c" || die "cannot compile bench/$name.c"
        fi
    fi
    [ -x "$path" ] || die "no $name at $path"
    printf -v "$var" '%s' "$path"
}
for s in "$@"; do
    if [ "$s" = base ]; then
        find_tool NLBASE nlbase
    else
        [ -x "$NETLABD" ] || die "no netlabd at $NETLABD (build first, or set NETLABD)"
        [ -f "$NETLABD_PLUGIN_DIR/echo.so" ] ||
            die "no echo.so in $NETLABD_PLUGIN_DIR (set NETLABD_PLUGIN_DIR)"
    fi
done

vg=("$VALGRIND" --tool=callgrind --trace-children=no)
# Run as root, netlabd's serving processes switch to its unprivileged
# user before they write their callgrind files: they go in a folder
# anyone may write to.
chmod 711 "$tmp"
mkdir "$tmp/cg"
chmod 1777 "$tmp/cg"

# status_addr: the echo listener's address once netlabd serves it.
status_addr() {
    timeout 10 python3 - "$tmp/control.sock" <<'EOF'
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
    if l.get("serving", True):
        print(l["address"])
EOF
}

# start_netlabd OUT: netlabd under callgrind; sets spid and addr, and
# writes the serving processes' pids to OUT.pids.
start_netlabd() {
    local out=$1 where
    if [ "$transport" = unix ]; then
        where="transport = \"unix\"; path = \"$tmp/echo.sock\";"
    else
        where="transport = \"tcp\"; address = \"127.0.0.1\"; port = 0;"
    fi
    cat >"$tmp/netlabd.conf" <<EOF
log_target = "$tmp/netlabd.log";
log_level = "info";
pidfile = "$tmp/netlabd.pid";
control = "$tmp/control.sock";
plugin_dir = "$NETLABD_PLUGIN_DIR";
shutdown_timeout = 2;
listeners = (
  { name = "echo"; $where model = "$model"; workers = $workers; handler = "echo"; }
);
EOF
    rm -f "$tmp/control.sock"
    "${vg[@]}" --callgrind-out-file="$out.%p" \
        "$NETLABD" -f -c "$tmp/netlabd.conf" >"$tmp/server.out" 2>&1 \
        </dev/null &
    spid=$!
    addr=""
    for _ in $(seq 600); do
        kill -0 "$spid" 2>/dev/null ||
            { cat "$tmp/server.out" "$tmp/netlabd.log" >&2 2>/dev/null || true
              die "netlabd exited at start"; }
        if [ -S "$tmp/control.sock" ] && addr=$(status_addr 2>/dev/null) &&
            [ -n "$addr" ]; then
            break
        fi
        sleep 0.1
    done
    [ -n "$addr" ] || die "netlabd not serving within 60 s"
    ps -o pid= --ppid "$spid" | tr -d ' ' >"$out.pids"
}

# start_base OUT: nlbase under callgrind; sets spid and addr.
start_base() {
    local out=$1 where=127.0.0.1:0
    [ "$transport" = tcp ] || where=unix:$tmp/base.sock
    "${vg[@]}" --callgrind-out-file="$out.%p" \
        "$NLBASE" -t 1 echo "$where" >"$tmp/server.out" 2>&1 </dev/null &
    spid=$!
    addr=""
    for _ in $(seq 600); do
        kill -0 "$spid" 2>/dev/null ||
            { cat "$tmp/server.out" >&2; die "nlbase exited at start"; }
        addr=$(sed -n 's/^listening //p' "$tmp/server.out")
        [ -z "$addr" ] || break
        sleep 0.1
    done
    [ -n "$addr" ] || die "nlbase not listening within 60 s"
    addr=${addr#unix:}
    echo "$spid" >"$out.pids"
}

# drive N: one connection, N round trips against $addr, each a message of
# $size bytes sent whole and its echo read whole, then a pause of $pause
# microseconds.  The pause lets the server go back to waiting before the
# next message comes, so that each round trip takes the same path through
# it (wake up, read, write, wait): back to back, whether a server's next
# read finds the next message already there depends on how the two
# processes happen to be scheduled, and the count with it.
drive() {
    timeout -k 5 610 python3 - "$transport" "$addr" "$1" "$size" "$pause" \
        >"$tmp/client.out" 2>&1 <<'EOF' || { cat "$tmp/client.out" >&2; return 1; }
import socket, sys, time

kind, where, n, size, pause = sys.argv[1:6]
n, size, pause = int(n), int(size), int(pause) / 1e6
if kind == "unix":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    target = where
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    target = (where.rsplit(":", 1)[0], int(where.rsplit(":", 1)[1]))
s.settimeout(10)
s.connect(target)
if kind == "tcp":
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = (b"0123456789abcdef" * (size // 16 + 1))[:size - 1] + b"\n"
deadline = time.monotonic() + 600
for i in range(n):
    s.sendall(msg)
    got = b""
    while len(got) < size:
        chunk = s.recv(size - len(got))
        if not chunk:
            sys.exit("the server closed after %d round trips" % i)
        got += chunk
    if got != msg:
        sys.exit("round trip %d: the echo differs from what was sent" % i)
    if pause:
        time.sleep(pause)
    if i % 1000 == 0 and time.monotonic() > deadline:
        sys.exit("not done in 600 s")
s.close()
EOF
}

# measure SERVER N OUT: one run; the serving processes' callgrind files
# are OUT.PID for each pid in OUT.pids.
measure() {
    local server=$1 n=$2 out=$3
    if [ "$server" = base ]; then
        start_base "$out"
    else
        start_netlabd "$out"
    fi
    if ! drive "$n"; then
        stop_server
        echo "callgrind.sh: $server: the run of $n round trips failed" >&2
        exit 1
    fi
    stop_server
    while read -r p; do
        [ -s "$out.$p" ] ||
            { echo "callgrind.sh: no callgrind output from $p" >&2; exit 1; }
    done <"$out.pids"
}

# split SERVER NAME OWN...: the per-round-trip table and line, from the
# two runs' files; OWN are the objects that count as the server's own.
split() {
    local server=$1 name=$2
    shift 2
    python3 - "$name" "$short" "$long" "$size" "$nfn" "$tmp/cg/$server" "$@" <<'EOF'
import os, re, sys

name, short, long_, size, nfn, stem = sys.argv[1:7]
short, long_, nfn = int(short), int(long_), int(nfn)
own = [os.path.realpath(p) for p in sys.argv[7:]]

def group(obj):
    base = os.path.basename(obj)
    real = os.path.realpath(obj) if obj.startswith("/") else obj
    if re.match(r"libev\.so", base):
        return "libev"
    if re.match(r"(libc|ld-linux[^/]*|libpthread|libm)[.-].*so", base) or \
       re.match(r"(libc|libpthread|libm)\.so", base):
        return "libc"
    for o in own:
        if real == o or (os.path.isdir(o) and real.startswith(o + "/")):
            return "own"
    return "other"

def parse(path):
    """Self cost (Ir) by (object, function) of one callgrind output file.
    Names may be compressed: "(id) name" defines id, "(id)" uses it."""
    names = {"ob": {}, "fn": {}}
    def name_of(kind, text):
        m = re.match(r"\((\d+)\)(?: (.*))?$", text)
        if not m:
            return text
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), "???")
    cost, ob, fn, npos, skip, total = {}, "???", "???", 1, False, None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if skip:  # the inclusive cost of a call, not self cost
                    skip = False
                    continue
                fields = line.split()
                if len(fields) > npos:
                    key = (ob, fn)
                    cost[key] = cost.get(key, 0) + int(fields[npos])
                continue
            key, _, val = line.partition("=")
            if key == "ob":
                ob = name_of("ob", val)
            elif key == "cob":
                name_of("ob", val)
            elif key == "fn":
                fn = name_of("fn", val)
            elif key == "cfn":
                name_of("fn", val)
            elif key == "calls":
                skip = True
            elif line.startswith("positions:"):
                npos = len(line.split()[1:])
            elif line.startswith("events:"):
                if line.split()[1] != "Ir":
                    sys.exit("callgrind.sh: the first event of %s is not Ir"
                             % path)
            elif line.startswith("totals:"):
                total = (total or 0) + int(line.split()[1])
    if total is not None and total != sum(cost.values()):
        sys.exit("callgrind.sh: %s: parsed %d instructions, file says %d"
                 % (path, sum(cost.values()), total))
    return cost

def run_cost(n):
    out = "%s.%d" % (stem, n)
    cost = {}
    with open(out + ".pids") as f:
        for pid in f.read().split():
            for k, v in parse("%s.%s" % (out, pid)).items():
                cost[k] = cost.get(k, 0) + v
    return cost

a, b = run_cost(short), run_cost(long_)
rt = long_ - short
per = {}
for k in set(a) | set(b):
    per[k] = (b.get(k, 0) - a.get(k, 0)) / rt
groups = {"libev": 0.0, "libc": 0.0, "own": 0.0, "other": 0.0}
for (ob, fn), v in per.items():
    groups[group(ob)] += v
total = sum(groups.values())

print("%s: user-space instructions per %s-byte echo round trip "
      "(runs of %d and %d)" % (name, size, long_, short))
for g in ("libev", "libc", "own", "other"):
    share = 100 * groups[g] / total if total else 0
    print("  %-6s %8.1f  %5.1f%%" % (g, groups[g], share))
print("  %-6s %8.1f" % ("total", total))
if nfn > 0:
    print("  costliest functions (self, per round trip):")
    top = sorted(per.items(), key=lambda kv: -abs(kv[1]))[:nfn]
    for (ob, fn), v in top:
        print("  %8.1f  %-5s  %s (%s)" % (v, group(ob), fn,
                                          os.path.basename(ob)))
print("callgrind server=%s rt=%d bytes=%s total=%d libev=%d libc=%d own=%d "
      "other=%d" % (name, rt, size, round(total), round(groups["libev"]),
                    round(groups["libc"]), round(groups["own"]),
                    round(groups["other"])), file=sys.stderr)
EOF
}

declare -A line
for s in "$@"; do
    for n in "$short" "$long"; do
        measure "$s" "$n" "$tmp/cg/$s.$n"
    done
    if [ "$s" = base ]; then
        nm=nlbase-$transport
        own=("$NLBASE")
    else
        nm=netlabd-$model-w$workers-$transport
        own=("$NETLABD" "$NETLABD_PLUGIN_DIR")
    fi
    split "$s" "$nm" "${own[@]}" 2>"$tmp/$s.line" || {
        cat "$tmp/$s.line" >&2
        exit 1
    }
    line[$s]=$(cat "$tmp/$s.line")
    echo
    if [ -n "$keep" ]; then
        mkdir -p "$keep"
        cp "$tmp/cg/$s".* "$keep/"
    fi
done
for s in "$@"; do
    echo "${line[$s]}"
done
if [ -n "${line[base]:-}" ] && [ -n "${line[netlabd]:-}" ]; then
    field() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<"$1"; }
    bt=$(field "${line[base]}" total)
    nt=$(field "${line[netlabd]}" total)
    no=$(field "${line[netlabd]}" own)
    if [ "$bt" -gt 0 ]; then
        awk -v t="$nt" -v o="$no" -v b="$bt" \
            'BEGIN { printf "callgrind ratio total=%.2f own=%.2f\n", t / b, o / b }'
    fi
fi
