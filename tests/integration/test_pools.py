"""Pools that grow: under prefork and threads one worker serves one session
at a time, so the pool grows with the load, from `workers` up to
max_workers, and extras that stay idle end.  Both models run side by side
on one daemon, each on a listener of its own (workers = 2):

- with the default max_workers, PERSISTENT clients that all stay
  connected each get their round trip answered, and status shows
  workers_running grown past workers (prefork on a unix socket too);
- on a listener with max_workers = 3, six persistent clients: the first
  three are answered, the others wait, and status (connections_waited)
  and the log ("all 3 workers busy") say so; once the first three close,
  the others are served;
- the extras end after their idle period (10 s): workers_running goes
  back to workers; a prefork extra ending is neither logged as a failure
  nor restarted (the daemon's log has no error, and the processes are
  back to `workers`);
- a reload that changes max_workers applies (status shows it, and the
  pool grows to the new cap).

Before the pools grew, the persistent clients past `workers` got no
answer at all (the round trips below failed after their timeout).
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (NETLABD, Daemon, check, metrics, round_trip, run,  # noqa: E402
                     wait_status)

MODELS = ("threads", "prefork")
WORKERS = 2
PERSISTENT = 24
CAP = 3
CAPPED = 6
IDLE_EXIT = 10  # POOL_IDLE_EXIT in model_threads.c and supervisor.c


def listeners(cap_of_capped):
    # On a unix socket the master cannot see the backlog: the pool grows
    # by the workers' 'G' alone.
    out = [{"name": "prefork-unix", "transport": "unix", "path": "pool.sock",
            "model": "prefork", "workers": WORKERS, "handler": "echo"}]
    for m in MODELS:
        out.append({"name": m, "transport": "tcp", "model": m,
                    "workers": WORKERS, "handler": "echo"})
        out.append({"name": m + "-capped", "transport": "tcp", "model": m,
                    "workers": WORKERS, "max_workers": cap_of_capped,
                    "handler": "echo"})
    return out


def connect_all(d, name, n):
    family, addr = d.addr(name)
    out = []
    for _ in range(n):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(addr)
        out.append(s)
    return out


def grow(d, m):
    """PERSISTENT clients, all connected at once, each answered."""
    st = d.listener(m)
    check(st["max_workers"] == 256, "%s: max_workers %r, want the default 256"
          % (m, st["max_workers"]))
    check(st["workers_running"] == WORKERS, "%s: workers_running %r at start"
          % (m, st["workers_running"]))
    socks = connect_all(d, m, PERSISTENT)
    try:
        for i, s in enumerate(socks):
            round_trip(s, b"hello %d\n" % i, "%s client %d of %d" % (m, i, PERSISTENT),
                       timeout=10)
        # All still connected: one worker each.
        l = d.listener(m)
        check(l["connections_active"] == PERSISTENT, "%s: %r active, want %d"
              % (m, l["connections_active"], PERSISTENT))
        check(l["workers_running"] >= PERSISTENT, "%s: workers_running %r with %d "
              "sessions open" % (m, l["workers_running"], PERSISTENT))
        check(l["connections_waited"] == 0, "%s: %r waited below the cap"
              % (m, l["connections_waited"]))
    finally:
        for s in socks:
            s.close()


def answered(s, timeout):
    """1 when the echo of a line already sent comes within timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(100).startswith(b"w")
    except socket.timeout:
        return False


def capped(d, m):
    """CAPPED clients against max_workers = CAP: CAP answered, the rest
    wait until those close."""
    name = m + "-capped"
    socks = connect_all(d, name, CAPPED)
    try:
        for i, s in enumerate(socks[:CAP]):
            round_trip(s, b"first %d\n" % i, "%s client %d" % (name, i), timeout=10)
        for s in socks[CAP:]:
            s.sendall(b"wait\n")
        for i, s in enumerate(socks[CAP:]):
            check(not answered(s, 0.5), "%s: client %d answered past max_workers = %d"
                  % (name, CAP + i, CAP))
        l = d.listener(name)
        check(l["workers_running"] == CAP, "%s: workers_running %r, want the cap %d"
              % (name, l["workers_running"], CAP))
        # Said by status while they wait (prefork: the backlog, on tcp).
        wait_status(d, name, lambda l: l["connections_waiting"] == CAPPED - CAP, 5,
                    "connections_waiting is not %d" % (CAPPED - CAP))
        d.wait_log(r"listener %s: all %d workers busy; \d+ connections? waiting"
                   % (name, CAP))
        for s in socks[:CAP]:
            s.close()
        for i, s in enumerate(socks[CAP:]):
            check(answered(s, 10), "%s: client %d not served once the first closed"
                  % (name, CAP + i))
        wait_status(d, name, lambda l: l["connections_waiting"] == 0, 5,
                    "connections_waiting not back to 0 once all were served")
        # Counted by the time they are served (prefork: when accepted).
        l = wait_status(d, name, lambda l: l["connections_waited"] >= 1, 5,
                        "no connection counted as having waited")
        # The pool found full, in metrics: once at least (threads: when
        # a client began to wait, so no more often than clients waited).
        full = re.search(r'^netlabd_max_workers_reached_total\{listener="%s",'
                         r'[^}]*\} (\d+)$' % re.escape(name), metrics(d), re.M)
        check(full and 1 <= int(full.group(1)) and
              (m != "threads" or int(full.group(1)) <= l["connections_waited"]),
              "%s: max_workers reached %s times, %d waited"
              % (name, full and full.group(1), l["connections_waited"]))
    finally:
        for s in socks:
            s.close()


def shrink(d):
    """Every listener back to `workers` after the idle period, and no
    prefork extra restarted."""
    for m in MODELS:
        for name in (m, m + "-capped") + (("prefork-unix",) if m == "prefork" else ()):
            wait_status(d, name, lambda l: l["workers_running"] == WORKERS,
                        IDLE_EXIT + 8, "workers_running not back to %d" % WORKERS)
    # Prefork: the processes too (the extras were reaped, none restarted).
    kids = d.children()
    want = 3 * WORKERS + 2  # three prefork listeners, two threads processes
    deadline = time.time() + 5
    while len(kids) != want and time.time() < deadline:
        time.sleep(0.1)
        kids = d.children()
    check(len(kids) == want, "%d serving processes after the extras ended, want %d"
          % (len(kids), want))
    time.sleep(1.5)  # a restart would come after a back-off of 0.1 s or more
    check(len(d.children()) == want, "an ended extra was restarted: %r" % d.children())


def spare_stays(d):
    """Every base worker busy: the extra the last one asked for stays idle
    past the idle period (one idle process always stays, whose taking the
    next connection says 'G'), and a new client is answered at once.  On a
    unix socket nothing else could grow the pool again."""
    name = "prefork-unix"
    socks = connect_all(d, name, WORKERS)
    try:
        for i, s in enumerate(socks):
            round_trip(s, b"busy %d\n" % i, "%s client %d" % (name, i), timeout=10)
        wait_status(d, name, lambda l: l["workers_running"] == WORKERS + 1, 5,
                    "no spare started with every worker busy")
        time.sleep(IDLE_EXIT + 3)
        l = d.listener(name)
        check(l["workers_running"] == WORKERS + 1, "%s: workers_running %r after "
              "the idle period with every base worker busy; the spare must stay"
              % (name, l["workers_running"]))
        late = connect_all(d, name, 1)[0]
        socks.append(late)
        round_trip(late, b"late\n", "%s: a client after the idle period" % name,
                   timeout=2)
    finally:
        for s in socks:
            s.close()


def reload_cap(d):
    """A reload with another max_workers applies."""
    with open(d.conf) as f:
        text = f.read()
    check(text.count("max_workers = %d;" % CAP) == 2, "the config:\n" + text)
    with open(d.conf + ".new", "w") as f:
        f.write(text.replace("max_workers = %d;" % CAP, "max_workers = %d;" % (CAP + 2)))
    os.replace(d.conf + ".new", d.conf)
    r = d.command("reload", timeout=15)
    check(r.get("ok") is True, "reload refused: %r" % r)
    for m in MODELS:
        name = m + "-capped"
        check(d.listener(name)["max_workers"] == CAP + 2, "%s: max_workers %r after "
              "the reload" % (name, d.listener(name)["max_workers"]))
        socks = connect_all(d, name, CAP + 2)
        try:
            for i, s in enumerate(socks):
                round_trip(s, b"again %d\n" % i, "%s client %d after the reload"
                           % (name, i), timeout=10)
        finally:
            for s in socks:
                s.close()


def refused_by_test():
    """netlabd -t refuses max_workers below workers, naming FILE:LINE."""
    d = Daemon([{"name": "less", "transport": "tcp", "model": "prefork",
                 "workers": 4, "max_workers": 2, "handler": "echo"}])
    try:
        p = subprocess.run([NETLABD, "-t", "-c", d.conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode(errors="replace")
        check(p.returncode == 1, "netlabd -t exited %d:\n%s" % (p.returncode, out))
        check(re.search(r"^%s:\d+: listeners\.less\.max_workers: 2 is less than "
                        r"workers \(4\)$" % re.escape(d.conf), out, re.M),
              "netlabd -t said:\n" + out)
    finally:
        d.kill()
        shutil.rmtree(d.dir, ignore_errors=True)


def main():
    refused_by_test()
    d = Daemon(listeners(CAP))
    d.start()
    try:
        for m in MODELS:
            grow(d, m)
            capped(d, m)
        grow(d, "prefork-unix")
        shrink(d)
        spare_stays(d)
        log = d.log()
        check("[error]" not in log and "restarting" not in log,
              "an extra ending was logged as a failure:\n" + log)
        reload_cap(d)
    except BaseException:
        d.kill()
        print(d.log())
        raise
    d.stop()


if __name__ == "__main__":
    run(main)
