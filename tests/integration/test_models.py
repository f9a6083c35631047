"""The three concurrency models, each on tcp with the echo handler: a load
of 200 concurrent clients, max_connections, idle_timeout and a graceful
stop, with exact counters.

Workers: libev 2 (two event loops in one serving process, so the multi-loop
path, which shares the listening socket and max_connections between loops,
is what gets tested; 2 also matches the 2 cores the tests are sized for);
threads 8 (the default pool); prefork 8 (each worker serves one session at a
time: the max_connections listener needs more than 3 workers for a 4th
connection to be accepted and refused at all rather than wait in the
backlog).  The blocking pools grow under the load up to max_workers, set
to 16 here so that the 200 clients are served 16 at a time, which ends in
a few seconds on 2 cores while showing that clients waiting in the backlog
for a full pool are all answered.

NETLABD_MODELS="libev prefork" runs only some of the models.
"""
import errno
import os
import re
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (Daemon, check, connect, fail, round_trip, run,  # noqa: E402
                     serving_pids, threads_of, wait_status)

WORKERS = {"libev": 2, "threads": 8, "prefork": 8}
MAX_WORKERS = 16  # prefork and threads
MODELS = os.environ.get("NETLABD_MODELS", "libev threads prefork").split()
SHUTDOWN_TIMEOUT = 2
CLIENTS = 200
ROUNDS = 20
LOAD_TIMEOUT = 20  # the whole load, per model; it takes ~1 s normally


# --- helpers ----------------------------------------------------------------

def wait_end(s, timeout, what):
    """Waits for the server to end the session: returns ("eof" | "reset",
    seconds).  Fails on data or on a timeout."""
    t0 = time.time()
    s.settimeout(timeout)
    try:
        data = s.recv(4096)
    except socket.timeout:
        fail("%s: still open after %.1f s" % (what, timeout))
    except ConnectionResetError:
        return "reset", time.time() - t0
    check(data == b"", "%s: got %r, expected the end of the session" % (what, data))
    return "eof", time.time() - t0








def in_thread(fn, *args):
    """Runs fn in a thread; returns (thread, result list): "ok" or "failed"
    (fail() raises SystemExit, which would only end the thread)."""
    result = []

    def body():
        try:
            fn(*args)
            result.append("ok")
        except SystemExit:
            result.append("failed")
        except BaseException as e:  # noqa: B902 - reported, then failed
            print("FAIL: %s raised %r" % (fn.__name__, e))
            result.append("failed")
    t = threading.Thread(target=body)
    t.start()
    return t, result


# --- 1. load ------------------------------------------------------------------

def line_for(i, r):
    # Distinct per client and round, of varied lengths.
    return b"client %03d round %02d %s\n" % (i, r, b"x" * ((i * 7 + r * 13) % 61))


class Client:
    def __init__(self, i, s):
        self.i = i
        self.s = s
        self.round = 0
        self.connected = False
        self.out = b""
        self.expect = b""
        self.got = b""
        self.closing = False  # sent its last line's echo back; waits for EOF
        self.done = False

    def what(self):
        return "client %d (round %d)" % (self.i, self.round)

    def next_line(self):
        self.expect = line_for(self.i, self.round)
        self.out = self.expect
        self.got = b""


def load(d, name, model):
    """CLIENTS clients at once, each ROUNDS round trips of a distinct line,
    then a half-close and the server's EOF.  Returns the bytes sent."""
    family, addr = d.addr(name)
    sel = selectors.DefaultSelector()
    clients = []
    total = 0
    t0 = time.time()
    try:
        for i in range(CLIENTS):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(addr)
            check(err in (0, errno.EINPROGRESS), "%s: client %d connect: %s"
                  % (name, i, os.strerror(err)))
            c = Client(i, s)
            clients.append(c)
            sel.register(s, selectors.EVENT_WRITE, c)
        left = CLIENTS
        deadline = t0 + LOAD_TIMEOUT
        peak, next_sample = 0, 0
        while left:
            if time.time() >= next_sample:
                peak = max(peak, d.listener(name)["connections_active"])
                next_sample = time.time() + 0.01
            if time.time() > deadline:
                stuck = [c for c in clients if not c.done]
                fail("%s: %d of %d clients not done after %d s, e.g. %s; status %r"
                     % (name, len(stuck), CLIENTS, LOAD_TIMEOUT,
                        ", ".join(c.what() for c in stuck[:5]), d.listener(name)))
            for key, ev in sel.select(timeout=0.5):
                c = key.data
                if not c.connected:
                    err = c.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    check(err == 0, "%s: %s connect: %s" % (name, c.what(), os.strerror(err)))
                    c.connected = True
                    c.next_line()
                if ev & selectors.EVENT_WRITE and c.out:
                    try:
                        n = c.s.send(c.out)
                    except OSError as e:
                        fail("%s: %s send: %s" % (name, c.what(), e))
                    total += n
                    c.out = c.out[n:]
                if ev & selectors.EVENT_READ:
                    try:
                        data = c.s.recv(65536)
                    except BlockingIOError:
                        data = None
                    except OSError as e:
                        fail("%s: %s recv: %s" % (name, c.what(), e))
                    if data == b"":
                        check(c.closing, "%s: %s: EOF from the server after %r of %r"
                              % (name, c.what(), c.got, c.expect))
                        sel.unregister(c.s)
                        c.s.close()
                        c.done = True
                        left -= 1
                        continue
                    if data:
                        check(not c.closing, "%s: %s: data %r after the last echo"
                              % (name, c.what(), data))
                        c.got += data
                        check(c.expect.startswith(c.got), "%s: %s: sent %r, got back %r"
                              % (name, c.what(), c.expect, c.got))
                        if c.got == c.expect:
                            c.round += 1
                            if c.round == ROUNDS:
                                c.s.shutdown(socket.SHUT_WR)
                                c.closing = True
                            else:
                                c.next_line()
                                try:
                                    n = c.s.send(c.out)
                                except OSError as e:
                                    fail("%s: %s send: %s" % (name, c.what(), e))
                                total += n
                                c.out = c.out[n:]
                events = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0)
                if key.events != events:
                    sel.modify(c.s, events, c)
    finally:
        for c in clients:
            if not c.done:
                c.s.close()
        sel.close()
    print("%s: %d clients x %d round trips in %.2f s, at most %d sessions active"
          % (model, CLIENTS, ROUNDS, time.time() - t0, peak))
    return total, peak


def test_load(d, model):
    name = "load_" + model
    before = d.listener(name)
    check(before["connections_total"] == 0, "%s: fresh listener: %r" % (name, before))
    sent, peak = load(d, name, model)
    if model == "prefork":  # threads counts the connections it queued too
        check(peak <= MAX_WORKERS, "%s: %d sessions active at once with max_workers "
              "%d, each serving one session at a time" % (name, peak, MAX_WORKERS))
    expected = sum(len(line_for(i, r)) for i in range(CLIENTS) for r in range(ROUNDS))
    check(sent == expected, "%s: sent %d bytes, expected %d" % (name, sent, expected))
    l = wait_status(d, name, lambda l: l["connections_active"] == 0, 5,
                    "connections_active not back to 0")
    check(l["connections_total"] == CLIENTS, "%s: connections_total %d, want %d: %r"
          % (name, l["connections_total"], CLIENTS, l))
    check(l["bytes_in"] == expected and l["bytes_out"] == expected,
          "%s: bytes_in %d, bytes_out %d, want both %d" % (
              name, l["bytes_in"], l["bytes_out"], expected))
    check(l["errors"] == 0 and l["connections_refused"] == 0, "%s: %r" % (name, l))


# --- 2. max_connections -------------------------------------------------------

def test_max(d, model):
    name = "max_" + model
    held = [connect(d, name) for _ in range(3)]
    for i, s in enumerate(held):
        round_trip(s, b"held %d\n" % i, "%s: held session %d" % (name, i))
    wait_status(d, name, lambda l: l["connections_active"] == 3, 3,
                "three held sessions not active")
    fourth = connect(d, name)
    how, took = wait_end(fourth, 2, "%s: the 4th connection" % name)
    fourth.close()
    l = wait_status(d, name, lambda l: l["connections_refused"] == 1, 2,
                    "connections_refused not 1")
    check(l["connections_active"] == 3 and l["connections_total"] == 3,
          "%s: after the refusal: %r" % (name, l))
    # The three are still served, then leave; a new connection is served.
    for i, s in enumerate(held):
        round_trip(s, b"still %d\n" % i, "%s: held session %d after the refusal" % (name, i))
        s.close()
    wait_status(d, name, lambda l: l["connections_active"] == 0, 3,
                "closed sessions still active")
    s = connect(d, name)
    round_trip(s, b"fresh\n", "%s: a new connection once the three left" % name)
    s.close()
    l = wait_status(d, name, lambda l: l["connections_active"] == 0, 3,
                    "the last session still active")
    check(l["connections_refused"] == 1 and l["connections_total"] == 4 and l["errors"] == 0,
          "%s: at the end: %r" % (name, l))
    print("%s: 4th connection ended (%s) after %.2f s" % (model, how, took))


# --- 3. idle_timeout ------------------------------------------------------------

def test_idle(d, model):
    name = "idle_" + model
    s = connect(d, name)
    round_trip(s, b"anyone?\n", "%s: before falling idle" % name)
    t0 = time.time()
    how, took = wait_end(s, 4, "%s: idle session (idle_timeout = 1)" % name)
    s.close()
    check(how == "eof", "%s: idle session ended by a reset, not a close" % name)
    check(0.8 <= took <= 3.0, "%s: idle session closed after %.2f s, idle_timeout = 1"
          % (name, took))
    d.wait_log(r"listener %s: .*idle for 1 s" % name, timeout=3)
    wait_status(d, name, lambda l: l["connections_active"] == 0, 3,
                "the idle session still active")
    print("%s: idle session closed %.2f s after its last exchange" % (model, time.time() - t0))


# --- 5. libev: two loops ----------------------------------------------------------

def test_two_loops(d):
    name = "load_libev"
    pids = serving_pids(d, name)
    check(len(pids) == 1, "%s: serving processes %r, want one" % (name, pids))
    n = threads_of(pids[0])
    check(n == WORKERS["libev"], "%s: the serving process runs %d threads, want %d loops"
          % (name, n, WORKERS["libev"]))
    a, b = connect(d, name), connect(d, name)
    for i in range(5):
        round_trip(a, b"a %d\n" % i, "%s: session a" % name)
        round_trip(b, b"b %d\n" % i, "%s: session b" % name)
    a.close()
    b.close()


# --- 4. stop ----------------------------------------------------------------------

def test_stop(d, models):
    """A session idle and one in the middle of an exchange on each model's
    load listener; SIGTERM."""
    idle, busy = {}, {}
    for m in models:
        name = "load_" + m
        idle[m] = connect(d, name)
        round_trip(idle[m], b"idle soon\n", "%s: idle session" % name)
        busy[m] = connect(d, name)
        round_trip(busy[m], b"first half ", "%s: busy session" % name)
    # Every session is being served (prefork: by its own worker).
    for m in models:
        wait_status(d, "load_" + m, lambda l: l["connections_active"] == 2, 3,
                    "the two sessions not active")
    ports = {m: d.addr("load_" + m)[1] for m in models}
    t_term = time.time()
    stopper, stopped = in_thread(d.stop, SHUTDOWN_TIMEOUT + 8)
    d.stopper = stopper
    # New connections are refused at once.  A failure here is reported at
    # the end, so that the rest of the stop is still checked.
    problems = []
    for m in models:
        deadline = time.time() + 1.0
        while True:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(1)
            try:
                s.connect(ports[m])
            except ConnectionRefusedError:
                break
            finally:
                s.close()
            if time.time() > deadline:
                problems.append("load_%s: new connections are still accepted (and left "
                                "unanswered) %.1f s after SIGTERM" % (m, time.time() - t_term))
                print("FAIL: " + problems[-1])
                break
            time.sleep(0.05)
    # The busy sessions finish their exchange before the deadline.
    time.sleep(max(0, t_term + 0.5 - time.time()))
    for m in models:
        name = "load_" + m
        round_trip(busy[m], b"second half\n", "%s: busy session after SIGTERM" % name,
                   timeout=1.5)
        busy[m].shutdown(socket.SHUT_WR)
        how, _ = wait_end(busy[m], 1.5, "%s: busy session, half-closed after SIGTERM" % name)
        check(how == "eof", "%s: busy session reset after SIGTERM" % name)
        busy[m].close()
    # The idle sessions stay open until shutdown_timeout.
    for m in models:
        name = "load_" + m
        how, _ = wait_end(idle[m], SHUTDOWN_TIMEOUT + 2, "%s: idle session after SIGTERM" % name)
        took = time.time() - t_term
        idle[m].close()
        check(SHUTDOWN_TIMEOUT - 0.5 <= took <= SHUTDOWN_TIMEOUT + 1,
              "%s: idle session closed %.2f s after SIGTERM, shutdown_timeout = %d"
              % (name, took, SHUTDOWN_TIMEOUT))
        print("%s: idle session ended (%s) %.2f s after SIGTERM" % (m, how, took))
    stopper.join(SHUTDOWN_TIMEOUT + 10)
    took = time.time() - t_term
    check(not stopper.is_alive(), "stop() did not return")
    check(stopped == ["ok"], "the stop was not clean (see above)")
    check(took <= SHUTDOWN_TIMEOUT + 1, "netlabd took %.2f s to stop, shutdown_timeout = %d"
          % (took, SHUTDOWN_TIMEOUT))
    check(not d.children(), "processes left after the stop: %r" % d.children())
    print("stopped %.2f s after SIGTERM" % took)
    check(not problems, "; ".join(problems))


def main():
    for m in MODELS:
        check(m in WORKERS, "unknown model %s in NETLABD_MODELS" % m)
    listeners = []
    for m in MODELS:
        common = {"transport": "tcp", "model": m, "workers": WORKERS[m], "handler": "echo"}
        if m != "libev":
            common["max_workers"] = MAX_WORKERS
        listeners.append(dict(common, name="load_" + m))
        listeners.append(dict(common, name="max_" + m, max_connections=3))
        listeners.append(dict(common, name="idle_" + m, idle_timeout=1))
    d = Daemon(listeners, shutdown_timeout=SHUTDOWN_TIMEOUT)
    d.start()
    try:
        for m in MODELS:
            want = WORKERS[m] if m == "prefork" else 1
            for kind in ("load", "max", "idle"):
                pids = serving_pids(d, "%s_%s" % (kind, m))
                check(len(pids) == want, "%s_%s: serving processes %r, want %d"
                      % (kind, m, pids, want))
        # idle_timeout runs in the background (it is mostly waiting) while
        # max_connections is tested, before the load.
        idlers = [(m,) + in_thread(test_idle, d, m) for m in MODELS]
        for m in MODELS:
            test_max(d, m)
        for m, t, result in idlers:
            t.join(10)
            check(not t.is_alive() and result == ["ok"], "%s: the idle test failed" % m)
        for m in MODELS:
            test_load(d, m)
        if "libev" in MODELS:
            test_two_loops(d)
        test_stop(d, MODELS)
    finally:
        # A stop under way ends (bounded) before anything is killed.
        if getattr(d, "stopper", None) is not None:
            d.stopper.join(SHUTDOWN_TIMEOUT + 10)
        d.kill()


if __name__ == "__main__":
    run(main)
