"""Limits: max_line, a client that never reads, idle_timeout and
max_connections; each is enforced on the offender alone while other clients
are served."""
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (Daemon, check, connect, fail, run,  # noqa: E402
                     stream_exchange, wait_status)

MODEL = os.environ.get("NETLABD_MODEL", "libev")
RSS_LIMIT = 64 << 20
TOO_LONG = r"\[error\] listener %s: .*line (?:is )?(?:too long|longer than max_line)"


def wait_eof(s, timeout, what):
    """Reads until EOF or reset; returns (data, seconds it took)."""
    t0 = time.time()
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        fail("%s: still open after %s s" % (what, timeout))
    except ConnectionResetError:
        pass
    return data, time.time() - t0


def count(pattern, text):
    return len(re.findall(pattern, text, re.M))


class LineClient:
    """A persistent client of a line handler: one line out, one back."""

    def __init__(self, d, name, timeout=2):
        self.name = name
        self.s = connect(d, name, timeout)
        self.buf = b""

    def ask(self, line):
        self.s.sendall(line + b"\n")
        t0 = time.time()
        try:
            while b"\n" not in self.buf:
                chunk = self.s.recv(65536)
                check(chunk, "%s: EOF waiting for the answer to %r" % (self.name, line))
                self.buf += chunk
        except socket.timeout:
            fail("%s: no answer to %r within %.1f s" % (self.name, line, time.time() - t0))
        answer, self.buf = self.buf.split(b"\n", 1)
        check(answer.endswith(b"] " + line),
              "%s: answered %r to %r" % (self.name, answer, line))

    def close(self):
        self.s.close()


# --- max_line -------------------------------------------------------------

def send_ignoring_reset(s, data):
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the daemon closed the session while we were sending (EPIPE,
        # ECONNRESET, or ENOTCONN from the shutdown)


def test_long_line(d):
    name = "ts"
    errors0 = d.listener(name)["errors"]
    other = LineClient(d, name)
    other.ask(b"before")
    s = connect(d, name, timeout=10)
    got = []
    reader = threading.Thread(target=lambda: got.append(wait_eof(s, 10, "long line")))
    reader.start()
    # The offender sends "ok\n" and a 1 MiB line; the other client is
    # answered while that goes on.
    sender = threading.Thread(target=send_ignoring_reset,
                              args=(s, b"ok\n" + b"x" * (1 << 20) + b"\n"))
    sender.start()
    i = 0
    while sender.is_alive() or reader.is_alive():
        i += 1
        other.ask(b"meanwhile %d" % i)
        if i > 200:
            fail("the long-line session was not closed")
        time.sleep(0.01)
    sender.join(1)
    reader.join(1)
    s.close()
    data = got[0][0]
    check(b"x" * 100 not in data and len(data) < 1000,
          "the 1 MiB line was answered: %d bytes back" % len(data))
    check(data in (b"", ) or re.fullmatch(rb"\[[^\]]*\] ok\n", data),
          "long-line session got %r" % data[:200])
    other.ask(b"after")
    other.close()
    d.wait_log(TOO_LONG % name)
    check(count(TOO_LONG % name, d.log()) == 1,
          "not one too-long log line:\n" + d.log())
    wait_status(d, name, lambda l: l["errors"] == errors0 + 1, 3,
                "errors not incremented by exactly 1 (was %d)" % errors0)


def test_line_boundaries(d):
    """max_line = 16: 16 bytes pass, with or without "\\r"; 17 close the
    session, whether they come at once, in pieces, or at EOF."""
    name = "ts16"
    ok = b"0123456789abcdef"
    cases = [
        # (chunks, lines answered, session closed for a too-long line)
        ([ok + b"\n"], [ok], False),
        ([ok + b"\r\n"], [ok], False),
        ([ok[:5], ok[5:], b"\r", b"\n", ok], [ok, ok], False),  # last at EOF
        ([ok + b"g\n"], [], True),
        ([b"first\n", ok[:10], ok[10:] + b"g", b"\n"], [b"first"], True),
        ([ok + b"\r\r\n"], [], True),
        ([b"x\n", ok + b"g"], [b"x"], True),  # too long at EOF
        ([ok * 4 + b"\n"], [], True),
    ]
    errors = d.listener(name)["errors"]
    too_long = 0
    for chunks, want, closed in cases:
        s = connect(d, name, timeout=5)
        if s.family != socket.AF_UNIX:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for c in chunks:
                s.sendall(c)
                time.sleep(0.01)
            s.shutdown(socket.SHUT_WR)
        except OSError:  # closed by the daemon meanwhile
            pass
        data, _ = wait_eof(s, 5, "max_line case %r" % chunks)
        s.close()
        lines = re.findall(rb"\[[^\]]*\] ([^\n]*)\n", data)
        check(lines == want, "max_line 16: %r answered %r, want lines %r" % (
            chunks, data, want))
        if closed:
            too_long += 1
            errors += 1
        wait_status(d, name, lambda l: l["errors"] == errors, 3,
                    "after %r errors should be %d" % (chunks, errors))
        # Log lines reach the file through the master: give them a moment.
        deadline = time.time() + 3
        while count(TOO_LONG % name, d.log()) < too_long and time.time() < deadline:
            time.sleep(0.05)
        check(count(TOO_LONG % name, d.log()) == too_long,
              "after %r: %d too-long log lines, want %d:\n%s" % (
                  chunks, count(TOO_LONG % name, d.log()), too_long, d.log()))


# --- a client that never reads ------------------------------------------------

def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) * 1024


def test_stuck_client(d, name):
    kids = d.children()
    check(len(kids) == 1, "want one serving process, found %r" % kids)
    pid = kids[0]
    stuck = connect(d, name)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    stuck.setblocking(False)
    sent = 0
    goal = 20 << 20
    chunk = b"z" * 65536
    other = connect(d, name, timeout=2)
    peak = rss(pid)
    deadline = time.time() + 6
    stalled_since = None
    i = 0
    while sent < goal and time.time() < deadline:
        try:
            sent += stuck.send(chunk)
            stalled_since = None
        except BlockingIOError:
            if stalled_since is None:
                stalled_since = time.time()
            elif time.time() - stalled_since > 1.0:
                break  # the daemon stopped reading from it, as it should
            time.sleep(0.01)
        if sent // (1 << 20) > i or stalled_since:
            i = max(i, sent // (1 << 20))
            # Another client on the same listener is answered at once.
            msg = b"other %d %d\n" % (i, sent)
            t0 = time.time()
            other.sendall(msg)
            got = b""
            try:
                while len(got) < len(msg):
                    c = other.recv(len(msg) - len(got))
                    check(c, "%s: other client got EOF" % name)
                    got += c
            except socket.timeout:
                fail("%s: other client not answered within 2 s while a stuck "
                     "client had sent %d bytes" % (name, sent))
            check(got == msg, "%s: other client got %r" % (name, got))
            check(time.time() - t0 < 2, "%s: other client waited %.1f s" % (
                name, time.time() - t0))
            peak = max(peak, rss(pid))
    time.sleep(0.2)
    peak = max(peak, rss(pid))
    check(peak < RSS_LIMIT, "%s: the serving process grew to %d MiB with a "
          "client that does not read (it had sent %d MiB)" % (
              name, peak >> 20, sent >> 20))
    check(d.listener(name)["connections_active"] == 2,
          "%s: the stuck client or the other was dropped: %r" % (name, d.listener(name)))
    # Now the stuck client reads: it gets back the bytes it sent, in order.
    stuck.setblocking(True)
    stuck.settimeout(5)
    stuck.shutdown(socket.SHUT_WR)
    back = 0
    try:
        while True:
            c = stuck.recv(1 << 20)
            if not c:
                break
            check(c.count(b"z") == len(c), "%s: stuck client got other bytes" % name)
            back += len(c)
    except socket.timeout:
        fail("%s: stuck client, now reading, got %d of %d bytes and no EOF "
             "within 5 s" % (name, back, sent))
    check(back == sent, "%s: stuck client got back %d of %d bytes" % (name, back, sent))
    stuck.close()
    other.close()
    print("%s: stuck client sent %d KiB before the daemon stopped reading; "
          "serving process peaked at %d KiB" % (name, sent >> 10, peak >> 10))


# --- idle_timeout -------------------------------------------------------------

def test_idle(d):
    name = "idle"
    t0 = time.time()
    quiet = connect(d, name)
    busy = LineClient(d, name)
    # The busy one talks every 0.4 s for 2 s: activity keeps it open.
    while time.time() - t0 < 2.0:
        busy.ask(b"still here")
        time.sleep(0.4)
    data, _ = wait_eof(quiet, 3.5 - (time.time() - t0), "idle session")
    took = time.time() - t0
    check(data == b"", "idle session got %r" % data)
    check(0.8 <= took <= 3.5, "idle session closed after %.1f s, "
          "idle_timeout = 1" % took)
    quiet.close()
    # Then it falls silent and is closed too.
    t1 = time.time()
    data, _ = wait_eof(busy.s, 3, "the session once busy, now idle")
    busy.close()
    check(time.time() - t1 <= 3, "idle session closed after %.1f s" % (time.time() - t1))
    d.wait_log(r"listener idle: .*idle")
    wait_status(d, name, lambda l: l["connections_active"] == 0, 3,
                "idle sessions not closed")


# --- max_connections --------------------------------------------------------

def test_max_connections(d):
    for name in ("max2", "max2u"):
        a = connect(d, name)
        b = connect(d, name)
        for s, msg in ((a, b"a\n"), (b, b"b\n")):
            s.sendall(msg)
            check(s.recv(16) == msg, "%s: one of the first two not served" % name)
        wait_status(d, name, lambda l: l["connections_active"] == 2, 2,
                    "two connections not active")
        c = connect(d, name)
        try:
            c.sendall(b"c\n")
        except OSError:  # closed by the daemon meanwhile
            pass
        data, took = wait_eof(c, 2, "%s: the third connection" % name)
        c.close()
        check(data == b"", "%s: the third connection got %r" % (name, data))
        l = wait_status(d, name, lambda l: l["connections_refused"] == 1, 2,
                        "connections_refused not 1")
        check(l["connections_active"] == 2, "%s: %r" % (name, l))
        # The first two are still served; once one goes, a new one is.
        a.sendall(b"a again\n")
        check(a.recv(16) == b"a again\n", "%s: first connection lost" % name)
        b.close()
        wait_status(d, name, lambda l: l["connections_active"] == 1, 2,
                    "a closed connection still active")
        got = stream_exchange(d, name, b"fresh\n")
        check(got == b"fresh\n", "%s: a new connection after one left got %r" % (name, got))
        a.close()
        l = wait_status(d, name, lambda l: l["connections_active"] == 0, 2,
                        "connections still active")
        check(l["connections_refused"] == 1, "%s: %r" % (name, l))


def main():
    # Error lines are expected here (max_line); the other limits run on
    # their own daemons, which must log no error.
    with Daemon([
        {"name": "ts", "transport": "tcp", "model": MODEL, "handler": "timestamp"},
        {"name": "ts16", "transport": "unix", "path": "ts16.sock", "model": MODEL,
         "handler": "timestamp", "max_line": 16},
    ], expect_errors=True) as d:
        test_long_line(d)
        test_line_boundaries(d)
    for transport in ("tcp", "unix"):
        spec = {"name": "echo_" + transport, "transport": transport,
                "model": MODEL, "handler": "echo"}
        if transport == "unix":
            spec["path"] = "echo.sock"
        with Daemon([spec]) as d:
            test_stuck_client(d, spec["name"])
    with Daemon([
        {"name": "idle", "transport": "tcp", "model": MODEL, "handler": "timestamp",
         "idle_timeout": 1},
        {"name": "max2", "transport": "tcp", "model": MODEL, "handler": "echo",
         "max_connections": 2},
        {"name": "max2u", "transport": "unix", "path": "max2u.sock", "model": MODEL,
         "handler": "echo", "max_connections": 2},
    ]) as d:
        idle_result = []
        # idle takes ~3 s of waiting; max_connections runs meanwhile.
        t = threading.Thread(target=test_idle_wrapped, args=(d, idle_result))
        t.start()
        test_max_connections(d)
        t.join(10)
        check(not t.is_alive(), "the idle test did not end")
        check(idle_result == ["ok"], "the idle test failed")


def test_idle_wrapped(d, result):
    try:
        test_idle(d)
        result.append("ok")
    except SystemExit:
        result.append("failed")


if __name__ == "__main__":
    run(main)
