"""prefork: a crashing handler takes down only the worker that ran it and
the one session it served; the sessions of the other workers go on, the
master starts a replacement (back-off 0.1 s, then doubling), counters
never go backwards, and a listener under another model is not disturbed."""
import os
import re
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import netlabd  # noqa: E402
from netlabd import (TEST_PLUGIN_DIR, Daemon, check, connect, fail, run,  # noqa: E402
                     round_trip, serving_pids, stream_exchange)

CRASHY = "crashy"
CALM = "calm"
WORKERS = 3
CRASH_LINE = re.compile(r"\[error\] listener %s: serving process killed by signal 11 "
                        r"\(SIGSEGV\)" % CRASHY)
RESTART_LINE = re.compile(r"listener %s: restarting the serving process in ([0-9.]+) s"
                          % CRASHY)


class CrashDaemon(Daemon):
    """Its log must show exactly `crashes` deaths of a crashy worker by
    SIGSEGV; any other death, error or sanitizer report fails the test."""
    crashes = 0

    def check_log(self):
        text = self.log() + getattr(self, "output", "")
        lines = text.splitlines()
        n = sum(1 for l in lines if CRASH_LINE.search(l))
        check(n == self.crashes, "%d crash lines in the log, expected %d:\n%s"
              % (n, self.crashes, text))
        rest = "\n".join(l for l in lines if not CRASH_LINE.search(l))
        m = netlabd.BAD_LOG.search(rest)
        check(m is None, "log shows %r:\n%s" % (m and m.group(0), text))
        errors = [l for l in lines if "[error]" in l and not CRASH_LINE.search(l)]
        check(not errors, "unexpected errors in the log:\n" + "\n".join(errors))






def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Tally:
    """What the crashy listener's counters must say, and their history."""

    def __init__(self, d):
        self.d = d
        self.total = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.seen = []

    def session(self, sent, echoed):
        self.total += 1
        self.bytes_in += sent
        self.bytes_out += echoed

    def sample(self, where):
        l = self.d.listener(CRASHY)
        if self.seen:
            prev = self.seen[-1][1]
            for k in ("connections_total", "bytes_in", "bytes_out"):
                check(l[k] >= prev[k], "%s went backwards %s: %r -> %r"
                      % (k, where, prev, l))
        self.seen.append((where, l))
        return l

    def exact(self, where, active):
        # A worker counts bytes_out just after send() returns, so a client
        # may read the echo a moment before the count: allow that moment.
        def ok(l):
            return (l["connections_total"] == self.total and l["bytes_in"] == self.bytes_in and
                    l["bytes_out"] == self.bytes_out and l["connections_active"] == active)
        deadline = time.time() + 2
        l = self.sample(where)
        while not ok(l) and time.time() < deadline:
            time.sleep(0.02)
            l = self.sample(where)
        check(ok(l),
              "%s: counters %r; want total %d, bytes_in %d, bytes_out %d, active %d"
              % (where, l, self.total, self.bytes_in, self.bytes_out, active))


def crash(d, tally, what):
    """A session that sends CRASH: it ends (EOF or reset) without an echo.
    Returns when it ended."""
    msg = b"this one will CRASH\n"
    s = connect(d, CRASHY)
    s.settimeout(5)
    try:
        s.sendall(msg)
        try:
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        except socket.timeout:
            fail("%s: the crashing session still open after 5 s" % what)
        check(got == b"", "%s: the crashing session got %r" % (what, got))
    finally:
        s.close()
    tally.session(len(msg), 0)
    return time.time()


def wait_replaced(d, before, timeout, what):
    """Waits until the crashy listener has WORKERS workers again and is
    serving; returns (pids, seconds)."""
    t0 = time.time()
    deadline = t0 + timeout
    while True:
        pids = set(serving_pids(d, CRASHY))
        if len(pids) == WORKERS and d.listener(CRASHY)["serving"]:
            return pids, time.time() - t0
        if time.time() > deadline:
            fail("%s: crashy has workers %r (before the crash %r), serving %r, %s s "
                 "after the crash:\n%s" % (what, sorted(pids), sorted(before),
                                           d.listener(CRASHY)["serving"], timeout, d.log()))
        time.sleep(0.02)


def main():
    # No core files from the deliberate crashes.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    crash_so = os.path.join(TEST_PLUGIN_DIR, "crash.so")
    check(os.path.exists(crash_so), "%s not built (make check builds it)" % crash_so)
    d = CrashDaemon([
        # A pool that does not grow: the workers counted here are all.
        {"name": CRASHY, "transport": "tcp", "model": "prefork", "workers": WORKERS,
         "max_workers": WORKERS, "handler": crash_so},
        {"name": CALM, "transport": "tcp", "model": "libev", "handler": "echo"},
    ])
    d.start()
    try:
        tally = Tally(d)
        workers0 = set(serving_pids(d, CRASHY))
        calm0 = set(serving_pids(d, CALM))
        check(len(workers0) == WORKERS, "crashy workers: %r" % workers0)
        check(len(calm0) == 1, "calm serving processes: %r" % calm0)
        check(set(d.children()) == workers0 | calm0, "children %r, want %r"
              % (d.children(), workers0 | calm0))
        calm = connect(d, CALM)
        round_trip(calm, b"calm before\n", "calm session")

        # Two sessions held open, each on its own worker.
        s1, s2 = connect(d, CRASHY), connect(d, CRASHY)
        round_trip(s1, b"one\n", "session 1")
        round_trip(s2, b"two\n", "session 2")
        tally.session(4, 4)
        tally.session(4, 4)
        tally.exact("with two sessions open", active=2)

        # The third session crashes its worker.
        t_crash = crash(d, tally, "first crash")
        d.wait_log(CRASH_LINE.pattern, timeout=5)
        d.crashes = 1
        round_trip(s1, b"one after\n", "session 1 after the first crash")
        round_trip(s2, b"two after\n", "session 2 after the first crash")
        tally.bytes_in += 20
        tally.bytes_out += 20
        workers1, _ = wait_replaced(d, workers0, 5, "first crash")
        took1 = time.time() - t_crash
        check(set(d.children()) == workers1 | calm0, "children %r, want %r"
              % (sorted(d.children()), sorted(workers1 | calm0)))
        died = workers0 - workers1
        check(len(died) == 1 and len(workers1 - workers0) == 1,
              "one worker should have been replaced: %r -> %r" % (sorted(workers0),
                                                                   sorted(workers1)))
        check(not any(alive(p) for p in died), "the crashed worker lingers: %r" % died)
        tally.exact("after the first crash", active=2)

        # The replacement serves: the other two workers are busy with s1, s2.
        s3 = connect(d, CRASHY)
        round_trip(s3, b"three\n", "a new session after the first crash")
        s3.close()
        tally.session(6, 6)
        tally.sample("new session after the first crash")

        # A second crash right away, on the same (new) worker; s1 and s2
        # hold the others.
        t_crash2 = crash(d, tally, "second crash")
        d.wait_log(r"(?s)%s.*%s" % (CRASH_LINE.pattern, CRASH_LINE.pattern), timeout=5)
        d.crashes = 2
        workers2, _ = wait_replaced(d, workers1, 5, "second crash")
        took2 = time.time() - t_crash2
        check(len(workers1 - workers2) == 1 and workers0 - died <= workers2,
              "the second crash should have replaced only the new worker: %r -> %r"
              % (sorted(workers1), sorted(workers2)))
        round_trip(s1, b"one again\n", "session 1 after the second crash")
        round_trip(s2, b"two again\n", "session 2 after the second crash")
        tally.bytes_in += 20
        tally.bytes_out += 20
        check(stream_exchange(d, CRASHY, b"four\n", timeout=5) == b"four\n",
              "a new session after the second crash")
        tally.session(5, 5)
        s1.close()
        s2.close()
        deadline = time.time() + 3
        while d.listener(CRASHY)["connections_active"] and time.time() < deadline:
            time.sleep(0.05)
        tally.exact("at the end", active=0)
        delays = [float(x) for x in RESTART_LINE.findall(d.log())]
        check(delays == [0.1, 0.2], "restart back-offs %r, want [0.1, 0.2]:\n%s"
              % (delays, d.log()))

        # The calm listener never noticed.
        check(set(serving_pids(d, CALM)) == calm0, "calm's serving process changed: %r -> %r"
              % (sorted(calm0), sorted(set(serving_pids(d, CALM)))))
        round_trip(calm, b"calm after\n", "calm session after the crashes")
        calm.close()
        check(stream_exchange(d, CALM, b"calm new\n") == b"calm new\n", "calm, new session")
        deadline = time.time() + 3
        while d.listener(CALM)["connections_active"] and time.time() < deadline:
            time.sleep(0.05)
        c = d.listener(CALM)
        check(c["connections_total"] == 2 and c["bytes_in"] == 32 and c["bytes_out"] == 32
              and c["errors"] == 0 and c["connections_active"] == 0 and c["serving"],
              "calm's counters: %r" % c)
        print("replaced in %.2f s, then in %.2f s" % (took1, took2))
        d.stop()
    finally:
        d.kill()


if __name__ == "__main__":
    run(main)
