"""The operator gets through a flood of silent and slow clients on the
control socket.

500 local connections to the control socket that never send a command, and
20 that trickle a byte every 0.5 s and never end their line, are held open
all along: whichever the daemon closes is opened again at the next round,
as a program that meant to lock the operator out would.  Meanwhile
`netlabctl status` (three times), `reload` and `stop`, the built netlabctl,
must each succeed within a few seconds, and the master must not spin:
its CPU time over the flood stays well below one core.

Then held reloads: 70 clients each ask for a reload of a config whose
handler takes 2 s to initialise, and wait for their answers.  Past a few
waiting reloads the newcomers are refused at once, so that the waiting
ones cannot take every place and shut `status` out.

NETLABCTL names the netlabctl to use (default: the build's).
"""
import json
import os
import resource
import select
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (NETLABCTL, TEST_PLUGIN_DIR, Daemon, check, fail, run,  # noqa: E402
                     stream_exchange)
from clitest import cleanup  # noqa: E402


SILENT = 500
TRICKLE = 20
ROUND = 0.5          # seconds between the flood's rounds
ANSWER_WITHIN = 5.0  # seconds an operator's command may take
MAX_CPU = 0.5        # of one core, for the master over the flood


class Flood:
    """SILENT + TRICKLE connections to path, reopened whenever the daemon
    closes one; the tricklers send one byte per round, never a newline."""

    def __init__(self, path):
        self.path = path
        self.socks = [None] * (SILENT + TRICKLE)
        self.stop = threading.Event()
        self.rounds = 0
        self.opened = 0       # connects that succeeded
        self.closed = 0       # connections the daemon closed
        self.most_open = 0
        self.error = None
        self.thread = threading.Thread(target=self.body)

    def start(self):
        self.thread.start()

    def join(self):
        self.stop.set()
        self.thread.join(10)
        check(not self.thread.is_alive(), "the flood thread did not end")
        for s in self.socks:
            if s is not None:
                s.close()
        if self.error is not None:
            fail("flood: %r" % self.error)

    def body(self):
        try:
            while not self.stop.is_set():
                self.one_round()
                self.stop.wait(ROUND)
        except Exception as e:  # reported by join()
            self.error = e

    def one_round(self):
        # Those the daemon closed: EOF or a reset.
        live = [s for s in self.socks if s is not None]
        readable = select.select(live, [], [], 0)[0] if live else []
        for s in readable:
            try:
                gone = s.recv(64) == b""
            except (BlockingIOError, InterruptedError):
                gone = False
            except OSError:
                gone = True
            if gone:
                self.socks[self.socks.index(s)] = None
                s.close()
                self.closed += 1
        # Open again what is missing; a full listen queue refuses at once
        # (EAGAIN): try again next round.
        for i, s in enumerate(self.socks):
            if s is None:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect(self.path)
                except (BlockingIOError, InterruptedError):
                    s.close()
                    continue
                except OSError:
                    s.close()
                    continue
                self.socks[i] = s
                self.opened += 1
            elif i >= SILENT:
                try:
                    s.send(b"s")
                except OSError:
                    pass  # closed: seen next round
        self.most_open = max(self.most_open, sum(s is not None for s in self.socks))
        self.rounds += 1


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def netlabctl(d, cmd):
    """Runs netlabctl --json cmd; returns (seconds, exit status, answer)."""
    t0 = time.time()
    try:
        p = subprocess.run([NETLABCTL, "-s", d.control, "--json", cmd],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
    except subprocess.TimeoutExpired:
        fail("netlabctl %s did not end within 30 s" % cmd)
    took = time.time() - t0
    out = p.stdout.decode(errors="replace")
    try:
        ans = json.loads(out)
    except ValueError:
        ans = None
    check(p.returncode == 0 and isinstance(ans, dict),
          "netlabctl %s under the flood: exit %d after %.2f s, %r %r"
          % (cmd, p.returncode, took, out, p.stderr.decode(errors="replace")))
    check(took <= ANSWER_WITHIN, "netlabctl %s under the flood took %.2f s" % (cmd, took))
    return took, ans


def test_held_reloads():
    """70 clients ask for reloads that each take 2 s: `status` still gets
    through, and the ones past the limit are told so at once."""
    slow = os.path.join(TEST_PLUGIN_DIR, "slow_init.so")
    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo"},
                {"name": "s", "transport": "tcp", "handler": slow,
                 "options": {"seconds": "2"}}])
    d.start(timeout=30)
    socks = []
    try:
        deadline = time.time() + 10
        while len(socks) < 70 and time.time() < deadline:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(5)
            try:
                c.connect(d.control)
                c.sendall(b"reload\n")
            except BlockingIOError:  # the backlog is full for a moment
                c.close()
                time.sleep(0.01)
                continue
            socks.append(c)
        check(len(socks) == 70, "only %d reload clients connected" % len(socks))
        time.sleep(0.5)
        t0 = time.time()
        took, st = netlabctl(d, "status")
        check(st.get("pid") == d.proc.pid, "status behind 70 reloads: %r" % st)
        refused = 0
        for c in socks:
            r, _, _ = select.select([c], [], [], 0)
            if r:
                try:
                    data = c.recv(4096)
                except OSError:
                    data = b""
                if b"waiting already" in data:
                    refused += 1
        check(refused >= 50, "only %d of 70 reloads were refused at once" % refused)
        print("70 held reloads: %d refused at once; status answered in %.2f s"
              % (refused, time.time() - t0))
    finally:
        for c in socks:
            c.close()
        d.kill()
        cleanup(d)


def main():
    test_held_reloads()
    if not os.access(NETLABCTL, os.X_OK):
        fail("no netlabctl at %s (set NETLABCTL)" % NETLABCTL)
    # This process holds the flood: it needs the descriptors for it.
    want = SILENT + TRICKLE + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            print("SKIP: RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
            sys.exit(77)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo"}])
    d.start()
    try:
        flood = Flood(d.control)
        flood.start()
        try:
            # The flood holds every place before the operator comes.
            deadline = time.time() + 10
            while flood.rounds < 3 and time.time() < deadline and flood.error is None:
                time.sleep(0.05)
            check(flood.rounds >= 3, "the flood made %d rounds in 10 s" % flood.rounds)
            cpu0, t0 = cpu_seconds(d.proc.pid), time.time()
            times = {}
            for i in range(3):
                times["status %d" % (i + 1)], st = netlabctl(d, "status")
                check(st.get("pid") == d.proc.pid and st.get("generation") == 1,
                      "status under the flood: %r" % st)
                time.sleep(0.5)
            times["reload"], ans = netlabctl(d, "reload")
            check(ans == {"ok": True, "error": None, "generation": 2},
                  "reload under the flood answered %r" % ans)
            check(stream_exchange(d, "e", b"still serving\n") == b"still serving\n",
                  "the listener does not echo during the flood")
            time.sleep(1.0)
            cpu = (cpu_seconds(d.proc.pid) - cpu0) / (time.time() - t0)
            times["stop"], ans = netlabctl(d, "stop")
            check(ans == {"ok": True}, "stop under the flood answered %r" % ans)
        finally:
            flood.join()
        try:
            rc = d.proc.wait(10)
        except subprocess.TimeoutExpired:
            fail("netlabd did not stop within 10 s of netlabctl stop")
        d.output = d.proc.stdout.read().decode(errors="replace")
        check(rc == 0, "netlabd exited %d after stop:\n%s\n%s" % (rc, d.output, d.log()))
        d.check_log()
        print("flood of %d silent and %d trickling connections: %d opened, %d closed by "
              "the daemon, up to %d open at once; master CPU %.0f%% of a core"
              % (SILENT, TRICKLE, flood.opened, flood.closed, flood.most_open, cpu * 100))
        print("netlabctl under the flood: " +
              ", ".join("%s %.2f s" % kv for kv in times.items()))
        check(flood.opened >= SILENT, "the flood opened only %d connections" % flood.opened)
        check(cpu < MAX_CPU, "the master used %.0f%% of a core during the flood" % (cpu * 100))
    finally:
        cleanup(d)


run(main)
