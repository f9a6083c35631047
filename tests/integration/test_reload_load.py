"""Reloads under load lose no connection and no request.

Per model (libev with 2 loops, threads with 8, prefork with 4 workers): 20
client threads run short sessions back to back (connect, send a line of
their own, read exactly its echo, close) while 30 reloads run back to
back on the control socket, each changing the listener in place (max_line
alternates, so every reload starts new serving processes and drains the
old ones).  Three more clients keep a connection open across reloads,
exchanging lines all the time, and open a new one every 2 reloads: at most
three older generations drain at once (netlabd(8)), a reload asked for
then waits for one of them to end, so no held connection is ended.  Every
reload must answer ok; there must be no failed connection and no wrong
answer, and the counters must add up.

NETLABD_MODELS="libev prefork" runs only some of the models.
"""
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import Daemon, check, conf_value, run  # noqa: E402
from clitest import cleanup, wait_until  # noqa: E402

WORKERS = {"libev": 2, "threads": 8, "prefork": 4}
MODELS = os.environ.get("NETLABD_MODELS", "libev threads prefork").split()
CLIENTS = 20
HOLDERS = 3
RELOADS = 30
HOLD_FOR = 2          # reloads a held connection lives through
SHUTDOWN_TIMEOUT = 10
IO_TIMEOUT = 5


def write_conf(d, max_line):
    """d's config with one listener, `load`, whose max_line is given."""
    if not hasattr(d, "head"):
        with open(d.conf) as f:
            d.head = f.read().split("listeners = (")[0]
    l = dict(d.listeners[0], address="127.0.0.1", port=0, max_line=max_line)
    text = d.head + "listeners = (\n  { " + " ".join(
        "%s = %s;" % (k, conf_value(v)) for k, v in l.items()) + " }\n);\n"
    with open(d.conf + ".new", "w") as f:
        f.write(text)
    os.rename(d.conf + ".new", d.conf)


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0            # short sessions, each one round trip
        self.held_trips = 0    # round trips on held connections
        self.held_conns = 0
        self.connections = 0   # connections accepted by the kernel
        self.bytes = 0         # bytes sent (and so expected back)
        self.failed = 0        # connections that failed
        self.wrong = 0         # answers that were not the echo
        self.problems = []
        self.most_reloads_held = 0

    def problem(self, kind, msg):
        with self.lock:
            if kind == "wrong":
                self.wrong += 1
            else:
                self.failed += 1
            if len(self.problems) < 10:
                self.problems.append(msg)


def exchange(s, line):
    """Sends line, reads exactly len(line) bytes; returns them."""
    s.sendall(line)
    got = b""
    while len(got) < len(line):
        chunk = s.recv(len(line) - len(got))
        if not chunk:
            raise ConnectionError("EOF after %r of %r" % (got, line))
        got += chunk
    return got


def short_client(i, addr, stop, tally):
    n = 0
    while not stop.is_set():
        line = b"client %02d session %06d %s\n" % (i, n, b"x" * (n % 37))
        n += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(IO_TIMEOUT)
        try:
            s.connect(addr)
            with tally.lock:
                tally.connections += 1
                tally.bytes += len(line)
            got = exchange(s, line)
        except OSError as e:
            tally.problem("failed", "client %d session %d: %r" % (i, n - 1, e))
            continue
        finally:
            s.close()
        if got != line:
            tally.problem("wrong", "client %d: sent %r, got %r" % (i, line, got))
        else:
            with tally.lock:
                tally.ok += 1


class Holders:
    """HOLDERS clients that keep a connection open and exchange lines on
    it, and open a new one when told (epoch goes up)."""

    def __init__(self, addr, stop, tally, reloads):
        self.addr, self.stop, self.tally, self.reloads = addr, stop, tally, reloads
        self.epoch = 0
        self.acked = [0] * HOLDERS
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self.body, args=(i,)) for i in range(HOLDERS)]

    def start(self):
        for t in self.threads:
            t.start()

    def new_connections(self, timeout=10):
        """Every holder opens a new connection and exchanges a line on
        it; returns when they all did (fails after timeout)."""
        with self.cond:
            self.epoch += 1
            ok = self.cond.wait_for(lambda: min(self.acked) >= self.epoch, timeout)
        check(ok, "held connections: not all reopened within %d s (acked %r, epoch %d)"
              % (timeout, self.acked, self.epoch))

    def body(self, i):
        n = 0
        while not self.stop.is_set():
            epoch = self.epoch
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(IO_TIMEOUT)
            at = self.reloads[0]
            try:
                s.connect(self.addr)
                with self.tally.lock:
                    self.tally.connections += 1
                    self.tally.held_conns += 1
                first = True
                while not self.stop.is_set() and (first or self.epoch == epoch):
                    line = b"holder %d line %06d\n" % (i, n)
                    n += 1
                    with self.tally.lock:
                        self.tally.bytes += len(line)
                    got = exchange(s, line)
                    if got != line:
                        self.tally.problem("wrong", "holder %d: sent %r, got %r" % (i, line, got))
                        break
                    with self.tally.lock:
                        self.tally.held_trips += 1
                    if first:
                        first = False
                        with self.cond:
                            self.acked[i] = epoch
                            self.cond.notify_all()
                    time.sleep(0.002)
            except OSError as e:
                self.tally.problem("failed", "holder %d line %d (connection opened before "
                                   "reload %d, now %d): %r" % (i, n - 1, at, self.reloads[0], e))
                time.sleep(0.01)
            finally:
                s.close()
                with self.tally.lock:
                    self.tally.most_reloads_held = max(self.tally.most_reloads_held,
                                                       self.reloads[0] - at)

    def join(self, timeout):
        for t in self.threads:
            t.join(timeout)
            check(not t.is_alive(), "a holder thread did not end")


def test_model(model):
    d = Daemon([{"name": "load", "transport": "tcp", "model": model,
                 "workers": WORKERS[model], "handler": "echo"}],
               shutdown_timeout=SHUTDOWN_TIMEOUT)
    write_conf(d, 8192)
    d.start()
    try:
        host, port = d.listener("load")["address"].rsplit(":", 1)
        addr = (host, int(port))
        stop = threading.Event()
        tally = Tally()
        reloads = [0]
        clients = [threading.Thread(target=short_client, args=(i, addr, stop, tally))
                   for i in range(CLIENTS)]
        holders = Holders(addr, stop, tally, reloads)
        try:
            for t in clients:
                t.start()
            holders.start()
            holders.new_connections()
            time.sleep(0.3)  # the load is running
            t0 = time.time()
            for r in range(RELOADS):
                if r % HOLD_FOR == 0 and r > 0:
                    holders.new_connections()
                write_conf(d, 8192 + (r + 1) % 2)
                try:
                    ans = d.command("reload", timeout=30)
                except (OSError, ValueError) as e:
                    ans = repr(e)
                check(ans == {"ok": True, "error": None, "generation": r + 2},
                      "%s: reload %d answered %r" % (model, r + 1, ans))
                reloads[0] = r + 1
            took = time.time() - t0
            time.sleep(0.3)  # the load goes on after the last reload
        finally:
            stop.set()
            for t in clients:
                t.join(IO_TIMEOUT + 5)
            holders.join(IO_TIMEOUT + 5)
        check(not any(t.is_alive() for t in clients), "%s: a client thread did not end" % model)
        print("%s: %d reloads in %.2f s; %d short sessions, %d held connections with %d "
              "round trips (up to %d reloads each); %d failed connections, %d wrong answers"
              % (model, RELOADS, took, tally.ok, tally.held_conns, tally.held_trips,
                 tally.most_reloads_held, tally.failed, tally.wrong))
        check(tally.failed == 0 and tally.wrong == 0, "%s: %d failed connections, %d wrong "
              "answers, e.g.:\n  %s\n%s" % (model, tally.failed, tally.wrong,
                                           "\n  ".join(tally.problems), d.log()))
        check(tally.ok >= RELOADS, "%s: only %d short sessions" % (model, tally.ok))
        check(tally.most_reloads_held >= HOLD_FOR, "%s: no connection was held across %d "
              "reloads" % (model, HOLD_FOR))
        # Once the old generations are gone and the last sessions seen to
        # end, the counters add up exactly.
        def settled():
            st = d.status()
            return not st["draining"] and st["listeners"][0]["connections_active"] == 0
        check(wait_until(settled, SHUTDOWN_TIMEOUT), "%s: still draining or active: %r"
              % (model, d.status()))
        st = d.status()
        l = st["listeners"][0]
        check(st["generation"] == RELOADS + 1 and l["serving"], "%s: status %r" % (model, st))
        check(l["connections_total"] == tally.connections and l["connections_active"] == 0 and
              l["bytes_in"] == tally.bytes and l["bytes_out"] == tally.bytes and
              l["errors"] == 0 and l["connections_refused"] == 0,
              "%s: counters %r; the clients made %d connections and sent %d bytes"
              % (model, l, tally.connections, tally.bytes))
        deferred = len(re.findall(r"reload deferred", d.log()))
        if deferred:
            print("%s: %d reload(s) waited for old generations to end" % (model, deferred))
        d.stop()
    finally:
        cleanup(d)


def main():
    t0 = time.time()
    for m in MODELS:
        check(m in WORKERS, "unknown model %s in NETLABD_MODELS" % m)
        test_model(m)
    print("all models in %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    run(main)
