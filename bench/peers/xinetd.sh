#!/bin/bash
# bench/peers/xinetd.sh - the benchmark's xinetd peer: xinetd's built-in
# echo service, stream and datagram, as a user who compares netlabd with
# xinetd would configure it.
#
#   bench/peers/xinetd.sh HOST DIR
#
# Writes DIR/xinetd.conf with two services named echo (ids echo-stream
# and echo-dgram, type INTERNAL UNLISTED) on HOST and one free port (the
# same number for tcp and udp), prints "echo HOST:PORT", "udp HOST:PORT"
# and "ready" on stdout, then becomes xinetd in the foreground
# (-dontfork), logging to DIR/xinetd.log; SIGTERM stops it.  xinetd has
# no greeter, so there is no "greeter" line.
#
# xinetd's defaults would turn the service off under benchmark load (at
# most 50 new connections a second, then 10 s off): the rate limit is
# lifted and instances are unlimited, so that what is measured is the
# serving.  xinetd runs the stream echo in a process of its own per
# connection and the datagram echo in its own loop.  Must run as root.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: xinetd.sh HOST DIR" >&2; exit 2; }
host=$1 dir=$2
command -v xinetd >/dev/null || { echo "xinetd.sh: no xinetd" >&2; exit 2; }

# A port free for both tcp and udp on HOST, bounded tries.
port=$(/usr/bin/python3 - "$host" <<'PY'
import socket, sys
for _ in range(50):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind((sys.argv[1], 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind((sys.argv[1], port))
    except OSError:
        continue
    finally:
        t.close()
        u.close()
    print(port)
    break
PY
)
[ -n "$port" ] || { echo "xinetd.sh: no free port on $host" >&2; exit 1; }

cat >"$dir/xinetd.conf" <<CONF
# Written by bench/peers/xinetd.sh for the benchmark; see xinetd.conf(5).
defaults
{
    instances  = UNLIMITED
    per_source = UNLIMITED
    cps        = 1000000 1
}

service echo
{
    type        = INTERNAL UNLISTED
    id          = echo-stream
    socket_type = stream
    protocol    = tcp
    wait        = no
    bind        = $host
    port        = $port
}

service echo
{
    type        = INTERNAL UNLISTED
    id          = echo-dgram
    socket_type = dgram
    protocol    = udp
    wait        = yes
    bind        = $host
    port        = $port
}
CONF

echo "echo $host:$port"
echo "udp $host:$port"
echo "ready"
exec xinetd -dontfork -filelog "$dir/xinetd.log" -f "$dir/xinetd.conf" \
    -pidfile "$dir/xinetd.pid"
