"""systemd's notify protocol, as systemd would hear it: the test binds the
NOTIFY_SOCKET (a path, then an @abstract name), asks the kernel for each
sender's pid (SO_PASSCRED) and checks what netlabd says and when:
READY=1 only once every listener serves (a handler whose init() is slow
holds it back), from the master's pid; RELOADING=1 with a MONOTONIC_USEC=
of now, then READY=1, on SIGHUP and on the control socket's reload; a
refused reload ending with READY=1 and a STATUS= naming FILE:LINE;
STOPPING=1 on SIGTERM; WATCHDOG=1 every WATCHDOG_USEC/2, and none when
WATCHDOG_PID names another process; a receiver that never reads (its
queue full) does not freeze the master; no handler's init(), not even at
the start-up check, sees systemd's variables."""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (NETLABD, TEST_PLUGIN_DIR, Daemon, check, fail,  # noqa: E402
                     run, stream_exchange)

SLOW = os.path.join(TEST_PLUGIN_DIR, "slow_init.so")
SD_ENV = os.path.join(TEST_PLUGIN_DIR, "sd_env.so")
SO_TIMESTAMPNS = 35  # <asm-generic/socket.h>; also the SCM_ type
SLOW_SECONDS = 1


class Notify:
    """The receiving end of NOTIFY_SOCKET."""

    def __init__(self, where):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + where[1:] if where.startswith("@") else where)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        # The kernel's arrival time: gaps between pings must not depend
        # on when this (maybe descheduled) test got round to reading.
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.where = where
        self.all = []  # (pid, text, monotonic time) of every datagram
        self.arrivals = []  # (text, kernel arrival time) of every datagram

    def recv(self, timeout):
        """(sender pid, text, when) of the next datagram, or None."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, anc, _, _ = self.sock.recvmsg(
                4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(16))
        except socket.timeout:
            return None
        when = time.monotonic()
        pid = arrival = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", payload[:16])
                arrival = sec + nsec / 1e9
        got = (pid, data.decode(errors="replace"), when)
        self.all.append(got)
        self.arrivals.append((got[1], arrival))
        return got

    def wait_for(self, key, timeout=10):
        """The next datagram holding the assignment key=…, skipping others
        (STATUS= refreshes, watchdog pings)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            got = self.recv(left) if left > 0 else None
            if got is None:
                fail("no %s from netlabd within %s s; got %r"
                     % (key, timeout, [t for _, t, _ in self.all]))
            if re.search(r"(^|\n)%s=" % re.escape(key), got[1]):
                return got

    def close(self):
        self.sock.close()
        if not self.where.startswith("@") and os.path.exists(self.where):
            os.unlink(self.where)


def fields(text):
    return dict(line.split("=", 1) for line in text.split("\n") if "=" in line)


def start(d, env, expect_ready=True):
    """Starts netlabd -f with env added; returns the monotonic start time."""
    t0 = time.monotonic()
    d.proc = subprocess.Popen([NETLABD, "-f", "-c", d.conf],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT,
                              env=dict(os.environ, **env))
    return t0


def finish(d, n):
    """After a stop: the log is clean (no sanitizer report); cleans up."""
    if d.proc.poll() is not None:
        try:
            d.output = d.proc.communicate(timeout=5)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            d.output = ""
        d.check_log()
    d.kill()
    n.close()
    shutil.rmtree(d.dir, ignore_errors=True)


def stop_draining(d, n, timeout=15):
    """SIGTERM, reading the notify socket until netlabd exits (pings go on
    while it drains); returns its exit status."""
    d.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while d.proc.poll() is None:
        if time.monotonic() > deadline:
            fail("netlabd did not stop within %d s:\n%s" % (timeout, d.log()))
        n.recv(0.05)
    return d.proc.returncode


def pidfile_pid(d):
    with open(d.pidfile) as f:
        return int(f.read().strip())


def write_conf(d, text):
    with open(d.conf + ".new", "w") as f:
        f.write(text)
    os.rename(d.conf + ".new", d.conf)


def check_reload(n, d, how, refused):
    """After a reload was asked for: RELOADING=1 with MONOTONIC_USEC=
    close to now, then READY=1; when refused, its STATUS= names the
    config's FILE:LINE."""
    pid, text, when = n.wait_for("RELOADING")
    f = fields(text)
    check(pid == d.proc.pid, "%s: RELOADING=1 came from pid %s, not the "
          "master %d" % (how, pid, d.proc.pid))
    check(f.get("RELOADING") == "1", "%s: %r" % (how, text))
    check("MONOTONIC_USEC" in f, "%s: no MONOTONIC_USEC= in the RELOADING=1 "
          "datagram: %r" % (how, text))
    usec = int(f["MONOTONIC_USEC"])
    ours = int(when * 1e6)
    check(0 <= ours - usec < 5e6, "%s: MONOTONIC_USEC=%d is %.3f s off the "
          "test's CLOCK_MONOTONIC at receipt" % (how, usec, (ours - usec) / 1e6))
    pid, text, _ = n.wait_for("READY")
    check(pid == d.proc.pid, "%s: READY=1 from pid %s" % (how, pid))
    status = fields(text).get("STATUS", "")
    if refused:
        check(re.search(re.escape(d.conf) + r":\d+: ", status),
              "%s: the refused reload's READY=1 has no STATUS= with "
              "FILE:LINE: %r" % (how, text))
    else:
        check("refused" not in status, "%s: %r" % (how, text))
    return text


def test_lifecycle(where):
    """Start, reloads (good and refused, by signal and control socket),
    stop, all heard on NOTIFY_SOCKET=where."""
    d = Daemon([{"name": "slow", "transport": "unix", "path": "slow.sock",
                 "handler": SLOW, "options": {"seconds": str(SLOW_SECONDS)}},
                {"name": "e", "transport": "tcp", "handler": "echo"}],
               expect_errors=True)
    if not where.startswith("@"):
        where = d.path(where)
    n = Notify(where)
    try:
        t0 = start(d, {"NOTIFY_SOCKET": where})
        pid, text, when = n.wait_for("READY", timeout=20)
        # The moment READY=1 arrives, every listener must serve.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(d.path("slow.sock"))
        sock.sendall(b"ping\n")
        check(sock.recv(16) == b"ping\n", "no echo right after READY=1")
        sock.close()
        st = d.status()
        check(all(l["serving"] for l in st["listeners"]),
              "READY=1 before every listener served: %r" % st)
        check(when - t0 >= SLOW_SECONDS,
              "READY=1 %.2f s after start, before the slow init() (%d s) "
              "could have ended" % (when - t0, SLOW_SECONDS))
        f = fields(text)
        check(f.get("READY") == "1", "READY datagram: %r" % text)
        check(pid == d.proc.pid == st["pid"] == pidfile_pid(d),
              "READY=1 from pid %s; master %d, status %s, pidfile %s"
              % (pid, d.proc.pid, st["pid"], pidfile_pid(d)))
        check(f.get("MAINPID") == str(d.proc.pid), "MAINPID: %r" % text)
        check(re.search(r"generation 1\b.*2/2 listener", f.get("STATUS", "")),
              "STATUS= on READY=1 does not show generation and listeners: %r"
              % text)
        check(not [t for _, t, _ in n.all if "WATCHDOG=1" in t],
              "WATCHDOG=1 sent without WATCHDOG_USEC")

        d.proc.send_signal(signal.SIGHUP)
        text = check_reload(n, d, "SIGHUP", refused=False)
        check("generation 2" in text, "after the reload: %r" % text)
        check(stream_exchange(d, "e", b"after reload\n") == b"after reload\n",
              "not served after the reload")

        with open(d.conf) as fh:
            good = fh.read()
        write_conf(d, good.replace("listeners = (", "listeners = (\n  { name = \"bad\"; "
                                   "transport = \"tcp\"; address = \"127.0.0.1\"; "
                                   "port = 70000; handler = \"echo\"; },", 1))
        d.proc.send_signal(signal.SIGHUP)
        check_reload(n, d, "SIGHUP with a broken config", refused=True)

        answer = d.command("reload", timeout=15)
        check(answer.get("ok") is False, "control reload of a broken config: %r"
              % answer)
        check_reload(n, d, "control reload of a broken config", refused=True)

        write_conf(d, good)
        answer = d.command("reload", timeout=15)
        check(answer.get("ok") is True, "control reload: %r" % answer)
        text = check_reload(n, d, "control reload", refused=False)
        check("generation 3" in text, "after the control reload: %r" % text)

        d.proc.send_signal(signal.SIGTERM)
        pid, text, _ = n.wait_for("STOPPING")
        check(pid == d.proc.pid, "STOPPING=1 from pid %s" % pid)
        rc = d.proc.wait(15)
        check(rc == 0, "netlabd exited %d:\n%s" % (rc, d.log()))
        others = [(p, t) for p, t, _ in n.all if p != d.proc.pid]
        check(not others, "datagrams from processes other than the master: %r"
              % others)
    finally:
        finish(d, n)


def test_watchdog(where):
    """WATCHDOG=1 every WATCHDOG_USEC/2 from the master."""
    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo"}])
    n = Notify(where)
    try:
        start(d, {"NOTIFY_SOCKET": where, "WATCHDOG_USEC": "200000"})
        n.wait_for("READY", timeout=15)
        n.arrivals = []
        deadline = time.monotonic() + 1.6
        while time.monotonic() < deadline:
            got = n.recv(deadline - time.monotonic())
            if got is not None and "WATCHDOG=1" in got[1].split("\n"):
                check(got[0] == d.proc.pid, "WATCHDOG=1 from pid %s" % got[0])
        times = [t for text, t in n.arrivals if "WATCHDOG=1" in text.split("\n")]
        check(None not in times, "no arrival time on a datagram")
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        # 16 pings in 1.6 s at 100 ms; a loaded machine may delay some (and
        # libev then fires a late one at once), so bounds are loose.
        check(8 <= len(times) <= 20, "%d WATCHDOG=1 in 1.6 s at "
              "WATCHDOG_USEC=200000, not about 16" % len(times))
        median = gaps[len(gaps) // 2]
        check(0.06 <= median <= 0.2, "median gap between WATCHDOG=1 %.3f s, "
              "not about 0.1 s: %r" % (median, gaps))
        check(stop_draining(d, n) == 0, "netlabd did not stop cleanly")
    finally:
        finish(d, n)


def test_watchdog_other_pid(where):
    """No WATCHDOG=1 when WATCHDOG_PID names another process."""
    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo"}])
    n = Notify(where)
    try:
        start(d, {"NOTIFY_SOCKET": where, "WATCHDOG_USEC": "200000",
                  "WATCHDOG_PID": str(os.getpid())})
        n.wait_for("READY", timeout=15)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            got = n.recv(deadline - time.monotonic())
            check(got is None or "WATCHDOG=1" not in got[1],
                  "WATCHDOG=1 although WATCHDOG_PID=%d: %r" % (os.getpid(), got))
        check(stop_draining(d, n) == 0, "netlabd did not stop cleanly")
    finally:
        finish(d, n)


def test_stuck_receiver(where):
    """A receiver that never reads: its queue fills (net.unix.max_dgram_qlen
    datagrams) within milliseconds at a ping every millisecond, and a
    blocking send would freeze the master.  `status` on the control socket
    must still answer, and pings come again once the receiver reads.  The
    handler (sd_env) refuses to start when its init() sees NOTIFY_SOCKET,
    WATCHDOG_* or LISTEN_*: not at the start-up check, nor when serving;
    LISTEN_PID names this test, another process, which is said in the log."""
    d = Daemon([{"name": "e", "transport": "tcp", "handler": SD_ENV}],
               expect_errors=True)  # the full queue is logged, once
    n = Notify(where)
    try:
        start(d, {"NOTIFY_SOCKET": where, "WATCHDOG_USEC": "2000",
                  "LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "0"})
        deadline = time.monotonic() + 15
        st = None
        while st is None or not all(l["serving"] for l in st["listeners"]):
            if d.proc.poll() is not None:
                fail("netlabd exited %d:\n%s\n%s"
                     % (d.proc.returncode, d.proc.communicate()[0].decode(
                         errors="replace"), d.log()))
            if time.monotonic() > deadline:
                fail("no serving status within 15 s while the notify socket "
                     "was not read (the master is stuck?):\n" + d.log())
            try:
                st = d.command("status", timeout=2)
            except (OSError, ValueError):
                time.sleep(0.05)
        check(st["pid"] == d.proc.pid, "status pid %s" % st["pid"])
        # Still answering with the queue full for a while (and READY=1
        # waiting for room).
        for _ in range(5):
            time.sleep(0.2)
            t = time.monotonic()
            try:
                d.command("status", timeout=2)
            except (OSError, ValueError) as e:
                fail("status did not answer while the notify socket was not "
                     "read: %s\n%s" % (e, d.log()))
            check(time.monotonic() - t < 2, "status took %.2f s"
                  % (time.monotonic() - t))
        check(re.search(r"notifying systemd \(NOTIFY_SOCKET [^)]*\): "
                        r"Resource temporarily unavailable", d.log()),
              "the full queue was not logged:\n" + d.log())
        check(re.search(r"LISTEN_PID=%d, LISTEN_FDS=0 is for another process"
                        % os.getpid(), d.log()),
              "no warning about another process's LISTEN_PID:\n" + d.log())
        # Reading again: fresh pings from the master.
        n.arrivals = []
        since = time.time()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            n.recv(end - time.monotonic())
        fresh = [a for text, a in n.arrivals
                 if "WATCHDOG=1" in text.split("\n") and a is not None
                 and a > since]
        check(len(fresh) >= 10, "%d WATCHDOG=1 in the second after the "
              "receiver read again, at one a millisecond" % len(fresh))
        check(all(p == d.proc.pid for p, _, _ in n.all),
              "datagrams from another pid: %r" % {p for p, _, _ in n.all})
        rc = stop_draining(d, n)
        check(rc == 0, "netlabd exited %d:\n%s" % (rc, d.log()))
    finally:
        finish(d, n)


def main():
    tag = "netlabd-test-%d" % os.getpid()
    test_lifecycle("notify.sock")
    test_lifecycle("@" + tag + "-lifecycle")
    test_watchdog("@" + tag + "-watchdog")
    test_watchdog_other_pid("@" + tag + "-otherpid")
    test_stuck_receiver("@" + tag + "-stuck")


run(main)
