"""Clients that end abruptly: half-close, reset mid-stream (many times),
connect-and-close; the daemon keeps serving the others, and its counters
stay exact."""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (Daemon, check, connect, fail, recv_all, run,  # noqa: E402
                     stream_exchange, wait_status)

MODEL = os.environ.get("NETLABD_MODEL", "libev")
GREETING = b"Thank you for connecting\n"


def listeners(*specs):
    out = []
    for handler, transport in specs:
        l = {"name": "%s_%s" % (handler, transport), "transport": transport,
             "model": MODEL, "handler": handler}
        if transport == "unix":
            l["path"] = l["name"] + ".sock"
        out.append(l)
    return out


def idle(d, name, total):
    """Waits until `total` connections were counted and none is active."""
    return wait_status(d, name, lambda l: l["connections_total"] == total and
                       l["connections_active"] == 0, 5,
                       "no connections_total == %d with connections_active == 0"
                       % total)


def reset(s):
    """Closes with a reset (TCP: RST; unix: closing with unread data)."""
    if s.family != socket.AF_UNIX:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def recv_exactly(s, n, what):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            fail("%s: EOF after %d of %d bytes" % (what, len(data), n))
        data += chunk
    return data


class Witness:
    """A client that stays connected to an echo listener and checks, on
    demand, that it is answered within 2 s."""

    def __init__(self, d, name):
        self.name = name
        self.s = connect(d, name, timeout=2)
        self.n = 0

    def ping(self):
        self.n += 1
        msg = b"ping %d\n" % self.n
        self.s.sendall(msg)
        try:
            got = recv_exactly(self.s, len(msg), self.name)
        except socket.timeout:
            fail("%s: a well-behaved client was not answered within 2 s" % self.name)
        check(got == msg, "%s: witness got %r for %r" % (self.name, got, msg))

    def close(self):
        self.s.close()


def test_half_close(d):
    """A client that half-closes gets the whole answer, then EOF."""
    big = bytes(range(256)) * 1024  # 256 KiB
    for name in ("echo_tcp", "echo_unix"):
        got = stream_exchange(d, name, big)
        check(got == big, "%s: half-closed client got %d of %d bytes" % (
            name, len(got), len(big)))
    for name in ("timestamp_tcp", "timestamp_unix"):
        lines = [b"line %d" % i for i in range(2000)]
        got = stream_exchange(d, name, b"\n".join(lines))  # no final newline
        got_lines = got.split(b"\n")
        check(got.endswith(b"\n") and len(got_lines) == len(lines) + 1 and
              all(g.endswith(b"] " + l) for g, l in zip(got_lines, lines)),
              "%s: half-closed client got %d bytes, %d lines, for %d lines; "
              "tail %r" % (name, len(got), len(got_lines) - 1, len(lines), got[-100:]))


def test_resets(d):
    """Clients that reset mid-stream, with and without output queued for
    them, many times; a witness is served throughout."""
    for name in ("echo_tcp", "echo_unix"):
        before = d.listener(name)["connections_total"]
        w = Witness(d, name)
        n = 1
        for i in range(40):
            s = connect(d, name, timeout=5)
            n += 1
            s.sendall(b"x" * 1000)
            recv_exactly(s, 1000, name)  # the session is under way
            if i % 2:
                # Leave output queued for it in the daemon: a lot sent,
                # nothing more read.
                s.setblocking(False)
                try:
                    for _ in range(64):
                        s.send(b"y" * 65536)
                except BlockingIOError:
                    pass
            else:
                s.sendall(b"partial, then gone")
            reset(s)
            if i % 10 == 0:
                w.ping()
        w.ping()
        w.close()
        l = idle(d, name, before + n)
        check(l["connections_refused"] == 0, "%s: refused: %r" % (name, l))
        # Still serving new clients.
        got = stream_exchange(d, name, b"after the resets\n")
        check(got == b"after the resets\n", "%s: after resets got %r" % (name, got))
        idle(d, name, before + n + 1)


def test_connect_close(d):
    """Clients that connect and close at once, with FIN and with RST, on
    each handler; every one is counted and none stays active."""
    for name in ("echo_tcp", "echo_unix", "timestamp_tcp", "greeter_tcp",
                 "greeter_unix", "logger_tcp"):
        before = d.listener(name)["connections_total"]
        for i in range(30):
            s = connect(d, name)
            if i % 2:
                reset(s)
            else:
                s.close()
        idle(d, name, before + 30)
        if name.startswith("greeter"):
            s = connect(d, name)
            got = recv_all(s)
            s.close()
            check(got == GREETING, "%s: after the churn got %r" % (name, got))
        elif not name.startswith("logger"):
            got = stream_exchange(d, name, b"still there\n")
            check(got.endswith(b"still there\n"), "%s: after the churn got %r" % (name, got))
        else:
            check(stream_exchange(d, name, b"still there\n") == b"", name)
        idle(d, name, before + 31)


def test_counters():
    """Exact counters after known traffic, on a fresh daemon."""
    specs = listeners(("echo", "tcp"), ("upper", "unix"), ("timestamp", "tcp"),
                      ("greeter", "unix"), ("logger", "tcp"))
    with Daemon(specs) as d:
        sizes = (0, 1, 10, 1000, 100000)
        for name in ("echo_tcp", "upper_unix"):
            for n in sizes:
                got = stream_exchange(d, name, b"a" * n)
                check(len(got) == n, "%s: %d bytes back for %d" % (name, len(got), n))
        ts_out = 0
        for lines in (1, 2, 50):
            got = stream_exchange(d, "timestamp_tcp", b"abc\n" * lines)
            check(got.count(b"\n") == lines, "timestamp_tcp: %r" % got)
            ts_out += len(got)
        for _ in range(7):
            s = connect(d, "greeter_unix")
            got = recv_all(s)
            s.close()
            check(got == GREETING, "greeter_unix: %r" % got)
        for i in range(4):
            got = stream_exchange(d, "logger_tcp", b"log %d\n" % i)
            check(got == b"", "logger_tcp: %r" % got)
        want = {
            "echo_tcp": (len(sizes), sum(sizes), sum(sizes)),
            "upper_unix": (len(sizes), sum(sizes), sum(sizes)),
            "timestamp_tcp": (3, 4 * 53, ts_out),
            "greeter_unix": (7, 0, 7 * len(GREETING)),
            "logger_tcp": (4, 4 * 6, 0),
        }
        for name, (total, bytes_in, bytes_out) in want.items():
            l = idle(d, name, total)
            got = (l["connections_total"], l["bytes_in"], l["bytes_out"],
                   l["connections_refused"], l["errors"])
            check(got == (total, bytes_in, bytes_out, 0, 0),
                  "%s: status (total, in, out, refused, errors) = %r, want %r" % (
                      name, got, (total, bytes_in, bytes_out, 0, 0)))


def main():
    test_counters()
    specs = listeners(("echo", "tcp"), ("echo", "unix"), ("timestamp", "tcp"),
                      ("timestamp", "unix"), ("greeter", "tcp"),
                      ("greeter", "unix"), ("logger", "tcp"))
    with Daemon(specs) as d:
        kids = sorted(d.children())
        test_half_close(d)
        test_resets(d)
        test_connect_close(d)
        st = d.status()
        for l in st["listeners"]:
            check(l["connections_active"] == 0, "still active: %r" % l)
        check(d.proc.poll() is None, "the daemon exited")
        check(sorted(d.children()) == kids,
              "serving processes %r before, %r after the abuse" % (
                  kids, sorted(d.children())))
        check("restarting" not in d.log(), "a serving process died:\n" + d.log())


if __name__ == "__main__":
    run(main)
