"""A storm of reloads under load ends no session and loses no request.

Per model (libev with 2 loops, threads with 4, prefork with 3 workers, the
pools held to that size with max_workers so that the processes can be
counted):
10 clients do round trips all the time, 5 on connections they keep for
about a second and then replace, 5 on a new connection each, while 50
SIGHUPs arrive in 2 s, each after the config changed (the listener's name,
so every reload that runs starts new serving processes and drains the old
ones).  In the middle of the storm `netlabctl reload` must get its answer.
netlabd(8): reloads asked for while one runs are coalesced, and at most
three older generations drain at once, a further reload waiting for one of
them to finish rather than ending its sessions.  So:

  - no round trip fails and every answer is the echo;
  - the daemon's processes, counted every 0.1 s, never exceed what the
    current generation and three draining ones run (and a handler check);
  - afterwards status shows the last configuration written, serving, with
    no reload lost (its name), and nothing left draining.

Then, step by step: with sessions held open on three draining
generations, a `reload` waits (the log says so) rather than end one; it
runs once one of those sessions ends, and the other sessions go on; and a
stop answers a reload that waits.

NETLABD_MODELS="libev prefork" runs only some of the models.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (NETLABCTL, Daemon, check, conf_value, fail, round_trip,  # noqa: E402
                     run)
from clitest import cleanup, wait_until  # noqa: E402


WORKERS = {"libev": 2, "threads": 4, "prefork": 3}
PROCS = {"libev": 1, "threads": 1, "prefork": 3}  # serving processes per generation
MODELS = os.environ.get("NETLABD_MODELS", "libev threads prefork").split()
HELD_CLIENTS = 5
SHORT_CLIENTS = 5
HOLD_FOR = 1.0        # seconds a kept connection lives
SIGHUPS = 50
STORM = 2.0           # seconds the SIGHUPs are spread over
OLD_GENERATIONS = 3   # that may drain at once (netlabd(8))
SHUTDOWN_TIMEOUT = 10
IO_TIMEOUT = 5


def write_conf(d, port, name):
    """d's config with one tcp echo listener on port, called name."""
    if not hasattr(d, "head"):
        with open(d.conf) as f:
            d.head = f.read().split("listeners = (")[0]
    l = dict(d.listeners[0], name=name, address="127.0.0.1", port=port)
    text = d.head + "listeners = (\n  { " + " ".join(
        "%s = %s;" % (k, conf_value(v)) for k, v in l.items()) + " }\n);\n"
    with open(d.conf + ".new", "w") as f:
        f.write(text)
    os.rename(d.conf + ".new", d.conf)


class Load:
    def __init__(self, addr):
        self.addr = addr
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.trips = 0
        self.connections = 0
        self.failed = 0
        self.problems = []
        self.threads = ([threading.Thread(target=self.held, args=(i,))
                         for i in range(HELD_CLIENTS)] +
                        [threading.Thread(target=self.short, args=(i,))
                         for i in range(SHORT_CLIENTS)])

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(IO_TIMEOUT + 5)
            check(not t.is_alive(), "a client thread did not end")

    def problem(self, msg):
        with self.lock:
            self.failed += 1
            if len(self.problems) < 10:
                self.problems.append(msg)

    def trip(self, s, line):
        s.sendall(line)
        got = b""
        while len(got) < len(line):
            chunk = s.recv(len(line) - len(got))
            if not chunk:
                raise ConnectionError("EOF after %r of %r" % (got, line))
            got += chunk
        if got != line:
            raise ValueError("sent %r, got %r" % (line, got))
        with self.lock:
            self.trips += 1

    def connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(IO_TIMEOUT)
        s.connect(self.addr)
        with self.lock:
            self.connections += 1
        return s

    def held(self, i):
        n = 0
        while not self.stop.is_set():
            try:
                s = self.connect()
            except OSError as e:
                self.problem("held client %d: connect: %r" % (i, e))
                time.sleep(0.05)
                continue
            try:
                until = time.time() + HOLD_FOR * (0.5 + i / HELD_CLIENTS)
                while not self.stop.is_set() and time.time() < until:
                    self.trip(s, b"held %d line %06d\n" % (i, n))
                    n += 1
                    time.sleep(0.005)
            except (OSError, ValueError) as e:
                self.problem("held client %d line %d: %r" % (i, n, e))
            finally:
                s.close()

    def short(self, i):
        n = 0
        while not self.stop.is_set():
            try:
                s = self.connect()
                try:
                    self.trip(s, b"short %d session %06d\n" % (i, n))
                finally:
                    s.close()
            except (OSError, ValueError) as e:
                self.problem("short client %d session %d: %r" % (i, n, e))
                time.sleep(0.05)
            n += 1


class ProcCount:
    """Counts the daemon's child processes every 0.1 s."""

    def __init__(self, d):
        self.d = d
        self.most = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.body)

    def body(self):
        while not self.stop.is_set():
            self.most = max(self.most, len(self.d.children()))
            self.stop.wait(0.1)

    def start(self):
        self.thread.start()

    def join(self):
        self.stop.set()
        self.thread.join(5)


def ctl_reload(d, out):
    t0 = time.time()
    try:
        p = subprocess.run([NETLABCTL, "-s", d.control, "--json", "reload"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=SHUTDOWN_TIMEOUT + 20)
        out.append((time.time() - t0, p.returncode, p.stdout.decode(errors="replace"),
                    p.stderr.decode(errors="replace")))
    except subprocess.TimeoutExpired:
        out.append((time.time() - t0, None, "", "timed out"))


def test_model(model):
    pool = {} if model == "libev" else {"max_workers": WORKERS[model]}
    d = Daemon([dict({"name": "storm-0", "transport": "tcp", "model": model,
                      "workers": WORKERS[model], "handler": "echo"}, **pool)],
               shutdown_timeout=SHUTDOWN_TIMEOUT)
    d.start()
    try:
        st = d.status()
        port = int(st["listeners"][0]["address"].rsplit(":", 1)[1])
        load = Load(("127.0.0.1", port))
        procs = ProcCount(d)
        answer = []
        asker = threading.Thread(target=ctl_reload, args=(d, answer))
        bound = (OLD_GENERATIONS + 1) * PROCS[model] + 1  # and a handler check
        name = "storm-0"
        try:
            procs.start()
            load.start()
            time.sleep(0.5)
            t0 = time.time()
            for i in range(SIGHUPS):
                name = "storm-%d" % (i + 1)
                write_conf(d, port, name)
                os.kill(d.proc.pid, signal.SIGHUP)
                if i == SIGHUPS // 2:
                    asker.start()
                time.sleep(max(0.0, t0 + STORM * (i + 1) / SIGHUPS - time.time()))
            storm = time.time() - t0
            time.sleep(0.5)  # the load goes on after the storm
        finally:
            load.join()
            if asker.ident is not None:
                asker.join(SHUTDOWN_TIMEOUT + 25)

        # The reload queued last runs once the old generations are done:
        # status then shows the last name written.
        def settled():
            st = d.status()
            return (st["listeners"][0]["name"] == name and st["listeners"][0]["serving"]
                    and not st["draining"] and st)
        st = wait_until(settled, SHUTDOWN_TIMEOUT + 5, step=0.1)
        procs.join()
        reloads = len(re.findall(r"SIGHUP: reloading", d.log()))
        deferred = len(re.findall(r"reload deferred", d.log()))
        print("%s: %d SIGHUPs in %.2f s made %d reloads (%d deferred); %d round trips on %d "
              "connections, %d failed; up to %d processes (bound %d)"
              % (model, SIGHUPS, storm, reloads, deferred, load.trips, load.connections,
                 load.failed, procs.most, bound))
        check(load.failed == 0, "%s: %d round trips failed, e.g.:\n  %s\n%s"
              % (model, load.failed, "\n  ".join(load.problems), d.log()))
        check(load.trips >= 100, "%s: only %d round trips" % (model, load.trips))
        check(procs.most <= bound, "%s: %d processes at once, more than %d"
              % (model, procs.most, bound))
        check(st, "%s: the last configuration (%s) never ran, or old generations still "
              "drain: %r\n%s" % (model, name, d.status(), d.log()))
        check(1 < st["generation"] <= SIGHUPS + 2 and st["last_reload"]["ok"] is True,
              "%s: status after the storm: %r" % (model, st))
        check(answer, "%s: netlabctl reload during the storm did not end" % model)
        took, rc, out, err = answer[0]
        try:
            ans = json.loads(out)
        except ValueError:
            ans = None
        check(rc == 0 and isinstance(ans, dict) and ans.get("ok") is True and
              1 < ans.get("generation", 0) <= st["generation"],
              "%s: netlabctl reload during the storm: exit %r after %.2f s, %r %r"
              % (model, rc, took, out, err))
        check(not re.search(r"old generations draining: stopping", d.log()),
              "%s: a generation was stopped early:\n%s" % (model, d.log()))
        d.stop()
    finally:
        cleanup(d)


def test_deferred():
    # The reload a stop ends is logged as refused, an [error].
    d = Daemon([{"name": "def-0", "transport": "tcp", "handler": "echo"}],
               shutdown_timeout=SHUTDOWN_TIMEOUT, expect_errors=True)
    d.start()
    held = []
    try:
        port = int(d.status()["listeners"][0]["address"].rsplit(":", 1)[1])

        def hold_and_reload(i):
            """A session on the current generation, then a reload that
            retires it."""
            s = socket.create_connection(("127.0.0.1", port), IO_TIMEOUT)
            held.append(s)
            round_trip(s, b"held on generation %d\n" % i, "held %d" % i)
            write_conf(d, port, "def-%d" % i)
            ans = d.command("reload", timeout=10)
            check(ans == {"ok": True, "error": None, "generation": i + 1},
                  "reload %d answered %r" % (i, ans))

        def reload_in_thread(name):
            out = []
            write_conf(d, port, name)
            t = threading.Thread(target=lambda: out.append(d.command("reload", timeout=20)))
            t.start()
            return t, out

        for i in range(1, OLD_GENERATIONS + 1):
            hold_and_reload(i)
        # Three generations drain, each with a session: the next waits.
        t, out = reload_in_thread("def-waits")
        time.sleep(1.0)
        check(t.is_alive() and not out, "a reload with %d generations draining answered %r "
              "at once" % (OLD_GENERATIONS, out))
        check(d.status()["generation"] == OLD_GENERATIONS + 1, "the reload ran: %r" % d.status())
        check(re.search(r"reload deferred: 3 older generations still draining", d.log()),
              "the log does not say the reload waits:\n" + d.log())
        for i, s in enumerate(held):
            round_trip(s, b"still here %d\n" % i, "held session %d while a reload waits" % i)
        # One of them ends: the reload runs, the others go on.
        held.pop(0).close()
        t.join(10)
        check(out == [{"ok": True, "error": None, "generation": OLD_GENERATIONS + 2}],
              "the reload that waited answered %r" % out)
        check(d.status()["listeners"][0]["name"] == "def-waits", "status %r" % d.status())
        for i, s in enumerate(held):
            round_trip(s, b"after %d\n" % i, "held session %d after the reload" % i)

        # Full again; a stop answers the reload that waits.
        hold_and_reload(OLD_GENERATIONS + 2)
        t, out = reload_in_thread("def-never")
        time.sleep(0.5)
        check(t.is_alive() and not out, "a reload answered %r at once" % out)
        stop = d.command("stop")
        check(stop == {"ok": True}, "stop answered %r" % stop)
        t.join(10)
        check(len(out) == 1 and out[0].get("ok") is False and
              "stopping" in str(out[0].get("error")), "the waiting reload answered %r" % out)
        for s in held:
            s.close()
        held = []
        try:
            rc = d.proc.wait(10)
        except subprocess.TimeoutExpired:
            fail("netlabd did not stop within 10 s of its sessions ending")
        d.output = d.proc.stdout.read().decode(errors="replace")
        check(rc == 0, "netlabd exited %d:\n%s\n%s" % (rc, d.output, d.log()))
        d.check_log()
    finally:
        for s in held:
            s.close()
        cleanup(d)


def main():
    test_deferred()
    if not os.access(NETLABCTL, os.X_OK):
        fail("no netlabctl at %s (set NETLABCTL)" % NETLABCTL)
    t0 = time.time()
    for m in MODELS:
        check(m in WORKERS, "unknown model %s in NETLABD_MODELS" % m)
        test_model(m)
    print("all models in %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    run(main)
