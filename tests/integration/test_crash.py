"""A crashing handler takes down only its serving process: the master logs
the signal, restarts it with back-off, counters survive, and the other
listeners are not affected."""
import os
import re
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import netlabd  # noqa: E402
from netlabd import (TEST_PLUGIN_DIR, Daemon, check, connect, dgram_exchange,  # noqa: E402
                     run, stream_exchange)
from clitest import cleanup, pid_alive, wait_until  # noqa: E402

CRASH_NAME = "crashy"


class CrashDaemon(Daemon):
    """A Daemon whose log may say that the crashy listener's serving
    process was killed by a signal; any other death, and any sanitizer
    report, still fails the test."""

    def check_log(self):
        text = self.log() + getattr(self, "output", "")
        expected = re.compile(r"listener %s: serving process killed by signal" % CRASH_NAME)
        rest = "\n".join(l for l in text.splitlines() if not expected.search(l))
        m = netlabd.BAD_LOG.search(rest)
        check(m is None, "log shows %r:\n%s" % (m and m.group(0), text))
        errors = [l for l in text.splitlines()
                  if "[error]" in l and not expected.search(l)]
        check(not errors, "unexpected errors in the log:\n" + "\n".join(errors))


def crash_once(d):
    """Sends CRASH on a session; returns when the connection ends."""
    s = connect(d, CRASH_NAME)
    try:
        s.sendall(b"before CRASH after\n")
        s.settimeout(5)
        try:
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        except socket.timeout:
            got = None
        check(got == b"", "crashing session got %r (expected its end)" % got)
    finally:
        s.close()


def wait_served(d, timeout):
    """Polls the crashy listener until an exchange works; returns seconds."""
    t0 = time.time()

    def ok():
        try:
            if not d.listener(CRASH_NAME).get("serving", True):
                return False
            return stream_exchange(d, CRASH_NAME, b"ping\n", timeout=2) == b"ping\n"
        except OSError:
            return False
    check(wait_until(ok, timeout, step=0.05),
          "crashy listener not served again within %s s:\n%s" % (timeout, d.log()))
    return time.time() - t0


def main():
    # No core files from the deliberate crashes.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    crash_so = os.path.join(TEST_PLUGIN_DIR, "crash.so")
    check(os.path.exists(crash_so), "%s not built (make check builds it)" % crash_so)
    d = CrashDaemon([
        {"name": CRASH_NAME, "transport": "tcp", "handler": crash_so},
        {"name": "other", "transport": "tcp", "handler": "echo"},
        {"name": "otherdg", "transport": "unix-dgram", "path": "dg.sock", "handler": "upper"},
    ], expect_errors=True)
    d.start()
    try:
        # Known traffic first.
        check(stream_exchange(d, CRASH_NAME, b"fine\n") == b"fine\n", "crash.so echo")
        check(stream_exchange(d, CRASH_NAME, b"also fine\n") == b"also fine\n", "crash.so echo")
        check(stream_exchange(d, "other", b"x\n") == b"x\n", "other echo")
        kids_before = set(d.children())
        check(len(kids_before) >= 3, "expected a serving process per listener: %r" % kids_before)
        before = {l["name"]: l for l in d.status()["listeners"]}

        # A session on another listener, open across the crash.
        other = connect(d, "other")
        other.sendall(b"pre\n")
        check(other.recv(10) == b"pre\n", "other session before the crash")

        t_crash = time.time()
        crash_once(d)
        d.wait_log(r"listener %s: .*(SIGSEGV|signal 11)" % CRASH_NAME, timeout=5)
        line = [l for l in d.log().splitlines()
                if CRASH_NAME in l and re.search(r"SIGSEGV|signal 11", l)][0]
        check("SIGSEGV" in line, "crash log line does not name SIGSEGV: %r" % line)
        took = wait_served(d, 5)
        check(time.time() - t_crash < 5, "restart took %.1f s" % (time.time() - t_crash))

        # Exactly one serving process died: the others are the same.
        kids_after = set(d.children())
        died = kids_before - kids_after
        check(len(died) == 1, "serving processes that died: %r (before %r, after %r)"
              % (died, kids_before, kids_after))
        check(len(kids_after) == len(kids_before), "serving processes: %r -> %r"
              % (kids_before, kids_after))
        check(not any(pid_alive(p) for p in died), "the crashed process lingers")

        # The other listeners never noticed.
        other.sendall(b"post\n")
        check(other.recv(10) == b"post\n", "other session after the crash")
        other.close()
        check(stream_exchange(d, "other", b"y\n") == b"y\n", "other echo after the crash")
        check(dgram_exchange(d, "otherdg", b"dg") == b"DG", "otherdg after the crash")

        # Counters survived: 2 good + 1 crashed + the probe(s) of wait_served.
        after = {l["name"]: l for l in d.status()["listeners"]}
        c0, c1 = before[CRASH_NAME], after[CRASH_NAME]
        check(c1["connections_total"] >= c0["connections_total"] + 2,
              "connections_total went %d -> %d (2 good sessions, a crash and a probe)"
              % (c0["connections_total"], c1["connections_total"]))
        check(c1["bytes_in"] >= c0["bytes_in"] + 5 and c1["bytes_out"] >= c0["bytes_out"] + 5,
              "bytes went backwards: %r -> %r" % (c0, c1))
        check(c1["connections_active"] == 0, "a crashed session still counted active: %r" % c1)
        check(c0["connections_total"] == 2 and c0["bytes_in"] == 15,
              "counters before the crash: %r" % c0)
        o0, o1 = before["other"], after["other"]
        check(o1["connections_total"] == o0["connections_total"] + 2 and
              o1["bytes_in"] == o0["bytes_in"] + 11 and o1["errors"] == 0,
              "other's counters: %r -> %r" % (o0, o1))

        # Exact: one more known session adds exactly one connection.
        total = d.listener(CRASH_NAME)["connections_total"]
        check(stream_exchange(d, CRASH_NAME, b"exact\n") == b"exact\n", "echo after restart")
        c2 = d.listener(CRASH_NAME)
        check(c2["connections_total"] == total + 1, "connections_total %d -> %d"
              % (total, c2["connections_total"]))

        # Crash again: restarted again (back-off grows but stays short).
        crash_once(d)
        took2 = wait_served(d, 5)
        c3 = d.listener(CRASH_NAME)
        check(c3["connections_total"] >= c2["connections_total"] + 1,
              "connections_total went backwards after the second crash: %r -> %r" % (c2, c3))
        check(len(re.findall(r"listener %s: serving process killed by signal" % CRASH_NAME,
                             d.log())) == 2, "expected two crash lines:\n" + d.log())
        print("restarted in %.2f s, then %.2f s" % (took, took2))
        d.stop()
    finally:
        cleanup(d)


run(main)
