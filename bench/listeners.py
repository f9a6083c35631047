#!/usr/bin/env python3
"""bench/listeners.py - how long netlabd takes to start and to reload with
many listeners.

Writes a config with N echo listeners (tcp on 127.0.0.1, port 0, so the
kernel picks free ports), starts netlabd in the foreground with a
NOTIFY_SOCKET of its own and measures, round after round:

  start   from just before exec to READY=1 (netlabd sends it once every
          listener's serving processes accept);
  reload  from SIGHUP to the READY=1 that follows RELOADING=1, after the
          config was rewritten so that every listener changes handler
          (echo <-> upper): the new serving processes of all N listeners
          are up when it comes.

After each start and reload it checks that every listener answers with
the handler the config names, so a READY=1 that came too early would show
as a failure, not as a fast figure.  Prints one human line per round, the
medians, and one machine-readable line:

  listeners n=100 model=libev start_ms=... reload_ms=... rounds=5

usage: bench/listeners.py [-n LISTENERS] [-r ROUNDS] [-m MODEL]
                          [-w WORKERS] [-T TIMEOUT_S]
Environment: NETLABD (default build/daemon/netlabd), NETLABD_PLUGIN_DIR
(default build/plugins/.libs), paths relative to the top of the tree.
Exit status: 0 all rounds done and every answer right, 1 otherwise,
2 usage or setup error.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(msg, code=1):
    print("listeners.py: " + msg, file=sys.stderr)
    sys.exit(code)


def write_conf(path, tmp, args, handler):
    plugin_dir = os.environ.get(
        "NETLABD_PLUGIN_DIR", os.path.join(TOP, "build/plugins/.libs"))
    lines = [
        'log_target = "%s";' % os.path.join(tmp, "netlabd.log"),
        'log_level = "notice";',
        'pidfile = "%s";' % os.path.join(tmp, "netlabd.pid"),
        'control = "%s";' % os.path.join(tmp, "control.sock"),
        'plugin_dir = "%s";' % os.path.abspath(plugin_dir),
        "shutdown_timeout = 2;",
        "listeners = (",
    ]
    entries = [
        '  { name = "l%d"; transport = "tcp"; address = "127.0.0.1"; '
        'port = 0; model = "%s"; workers = %d; handler = "%s"; }'
        % (i, args.model, args.workers, handler)
        for i in range(args.listeners)
    ]
    lines.append(",\n".join(entries))
    lines.append(");")
    # Written aside and renamed: netlabd never reads half a file.
    with open(path + ".new", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(path + ".new", path)


def wait_notify(sock, want, deadline):
    """Reads notify datagrams until one holds the line `want`."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            msg = sock.recv(4096).decode(errors="replace")
        except socket.timeout:
            return False
        if want in msg.split("\n"):
            return True


def control(path, command, timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(command.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return json.loads(data)


def check_answers(tmp, args, handler):
    """Every listener answers `ping` as its handler should."""
    want = b"PING\n" if handler == "upper" else b"ping\n"
    status = control(os.path.join(tmp, "control.sock"), "status", 5)
    addrs = [l["address"] for l in status["listeners"]]
    if len(addrs) != args.listeners:
        return "%d listeners in status, not %d" % (len(addrs), args.listeners)
    for a in addrs:
        host, port = a.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as c:
            c.sendall(b"ping\n")
            got = b""
            while len(got) < len(want):
                chunk = c.recv(64)
                if not chunk:
                    break
                got += chunk
        if got != want:
            return "%s answered %r, not %r (handler %s)" % (a, got, want,
                                                              handler)
    return None


def one_round(tmp, args, n):
    conf = os.path.join(tmp, "netlabd.conf")
    notify_path = os.path.join(tmp, "notify.sock")
    netlabd = os.environ.get("NETLABD",
                             os.path.join(TOP, "build/daemon/netlabd"))
    write_conf(conf, tmp, args, "echo")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify_path)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    proc = None
    try:
        t0 = time.monotonic()
        proc = subprocess.Popen([netlabd, "-f", "-c", conf], env=env,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        if not wait_notify(ns, "READY=1", t0 + args.timeout):
            fail("round %d: no READY=1 within %d s after start" %
                 (n, args.timeout))
        start_ms = (time.monotonic() - t0) * 1000
        err = check_answers(tmp, args, "echo")
        if err:
            fail("round %d, after start: %s" % (n, err))
        write_conf(conf, tmp, args, "upper")
        t1 = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        if not wait_notify(ns, "RELOADING=1", t1 + args.timeout) or \
           not wait_notify(ns, "READY=1", t1 + args.timeout):
            fail("round %d: no RELOADING=1 then READY=1 within %d s of "
                 "SIGHUP" % (n, args.timeout))
        reload_ms = (time.monotonic() - t1) * 1000
        err = check_answers(tmp, args, "upper")
        if err:
            fail("round %d, after reload: %s" % (n, err))
        return start_ms, reload_ms
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=args.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        ns.close()
        os.unlink(notify_path)


def main():
    ap = argparse.ArgumentParser(
        description="netlabd start-up and reload time with many listeners")
    ap.add_argument("-n", "--listeners", type=int, default=100)
    ap.add_argument("-r", "--rounds", type=int, default=5)
    ap.add_argument("-m", "--model", default="libev",
                    choices=["libev", "threads", "prefork"])
    ap.add_argument("-w", "--workers", type=int, default=1)
    ap.add_argument("-T", "--timeout", type=int, default=30,
                    help="seconds a start or a reload may take at most")
    args = ap.parse_args()
    if not 1 <= args.listeners <= 2000 or not 1 <= args.rounds <= 100 or \
       not 1 <= args.workers <= 64 or not 1 <= args.timeout <= 600:
        fail("-n 1..2000, -r 1..100, -w 1..64, -T 1..600", 2)
    starts, reloads = [], []
    with tempfile.TemporaryDirectory(prefix="nl-listeners.") as tmp:
        for n in range(1, args.rounds + 1):
            s, r = one_round(tmp, args, n)
            starts.append(s)
            reloads.append(r)
            print("round %d: %d listeners (%s, workers %d): start to ready "
                  "%.1f ms, SIGHUP to new config serving %.1f ms" %
                  (n, args.listeners, args.model, args.workers, s, r),
                  flush=True)
    s, r = statistics.median(starts), statistics.median(reloads)
    print("median of %d: start to ready %.1f ms, SIGHUP to serving %.1f ms" %
          (args.rounds, s, r))
    print("listeners n=%d model=%s workers=%d start_ms=%.1f reload_ms=%.1f "
          "rounds=%d" % (args.listeners, args.model, args.workers, s, r,
                         args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
