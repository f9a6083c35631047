"""Slow clients against a small pool: six connections that send one byte
and stop must not keep a later client waiting for long.  idle_timeout
counts from accept, time spent waiting for a free worker included, so the
slow ones are closed idle_timeout after their last byte whether a worker
had taken them or not; the waits show in status (connections_waited,
longest_wait_ms) and, under prefork and threads, in one rate-limited log
line ("all N workers busy; M connections waiting").

The three models run side by side on one daemon, each on its own listener
(workers = max_workers = 2, idle_timeout = 2: a pool that cannot grow, so
that the slow ones fill it).  Before the fix the blocking models served
the slow ones two at a time, each for a full idle_timeout from when a
worker took it: the legit client waited about three idle_timeouts (5.7 s).
"""
import os
import re
import select
import socket
import sys
import threading
import time
from datetime import datetime

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import Daemon, check, fail, run  # noqa: E402

IDLE = 2
WORKERS = 2
SLOW = 6
# The legit client's answer must come well before the three idle_timeouts
# it used to take: one idle_timeout, plus slack for a loaded machine.
LEGIT_BOUND = IDLE + 2.5
MODELS = ("threads", "prefork", "libev")
BUSY = r"listener %s: all %d workers busy; (\d+) connections? waiting"


def open_slow(addr):
    s = socket.create_connection(addr, timeout=5)
    s.sendall(b"x")  # an incomplete line, then nothing
    return s, time.time()


def watch_closes(slow, limit, out):
    """Fills out[i] with the seconds from slow[i]'s byte until the daemon
    closed it (EOF or reset); None for one still open after limit s."""
    left = {s: i for i, (s, _) in enumerate(slow)}
    t_end = time.time() + limit
    while left and time.time() < t_end:
        ready, _, _ = select.select(list(left), [], [], 0.1)
        for s in ready:
            try:
                if s.recv(4096):
                    continue
            except OSError:
                pass  # a reset is a close too
            i = left.pop(s)
            out[i] = time.time() - slow[i][1]


def scenario(d, name, out):
    addr = d.addr(name)[1]
    slow = [open_slow(addr) for _ in range(SLOW)]
    out["slow_closed"] = [None] * SLOW
    watcher = threading.Thread(target=watch_closes,
                               args=(slow, IDLE + 8, out["slow_closed"]))
    watcher.start()
    time.sleep(0.3)  # the slow ones are in line first
    t0 = time.time()
    legit = socket.create_connection(addr, timeout=LEGIT_BOUND + 10)
    legit.sendall(b"hello\n")
    answer = b""
    try:
        while b"\n" not in answer:
            chunk = legit.recv(4096)
            if not chunk:
                break
            answer += chunk
    except socket.timeout:
        pass
    out["legit_s"] = time.time() - t0
    out["answer"] = answer
    legit.close()
    watcher.join(IDLE + 10)
    for s, _ in slow:
        s.close()


def queue_scenario(d, name, out):
    """Under threads the queue has an idle clock of its own: a silent
    connection queued behind a session that keeps the only worker busy is
    closed idle_timeout after its last byte, not once a worker is free."""
    addr = d.addr(name)[1]
    busy = socket.create_connection(addr, timeout=5)
    busy.sendall(b"first\n")
    check(busy.recv(4096).endswith(b"] first\n"), "%s: no answer to the busy one" % name)
    # The second sends one more byte while queued: its clock starts again.
    slow = [open_slow(addr), open_slow(addr)]
    out["slow_closed"] = [None, None]
    watcher = threading.Thread(target=watch_closes,
                               args=(slow, IDLE + 8, out["slow_closed"]))
    watcher.start()
    # Keeps its worker busy for two idle_timeouts.
    t_end = time.time() + 2 * IDLE
    second_byte = time.time() + IDLE / 2
    while time.time() < t_end:
        time.sleep(0.4)
        if second_byte and time.time() >= second_byte:
            slow[1][0].sendall(b"y")
            slow[1] = (slow[1][0], time.time())
            second_byte = None
        busy.sendall(b"again\n")
        check(busy.recv(4096).endswith(b"] again\n"), "%s: no answer to the busy one" % name)
    busy.close()
    watcher.join(IDLE + 10)
    for s, _ in slow:
        s.close()


def stamps(log, pattern):
    """The times of the log lines matching pattern, in seconds."""
    out = []
    for line in log.splitlines():
        if re.search(pattern, line):
            when = datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%f")
            out.append(when.timestamp())
    return out


def test_whole_request_waits_for_its_answer():
    """A client that sent a whole request in time is answered, however long
    a busy pool kept it waiting: only a silent client, or one that sent part
    of a line, is closed for idle_timeout (workers = 1, idle_timeout = 1, the
    worker busy for 3 s)."""
    listeners = [{"name": m, "transport": "tcp", "model": m, "workers": 1,
                  "max_workers": 1, "idle_timeout": 1, "handler": "timestamp"}
                 for m in ("threads", "prefork")]
    with Daemon(listeners) as d:
        for m in ("threads", "prefork"):
            addr = d.addr(m)[1]
            busy = socket.create_connection(addr, timeout=5)
            busy.sendall(b"first\n")
            check(busy.recv(4096).endswith(b"] first\n"), "%s: no answer" % m)
            waiting = socket.create_connection(addr, timeout=10)
            waiting.sendall(b"hello\n")
            t_end = time.time() + 3
            while time.time() < t_end:
                time.sleep(0.3)
                busy.sendall(b"again\n")
                check(busy.recv(4096).endswith(b"] again\n"), "%s: no answer" % m)
            busy.close()
            try:
                got = waiting.recv(4096)
            except OSError as e:
                got = repr(e).encode()
            waiting.close()
            check(got.endswith(b"] hello\n"),
                  "%s: a request sent in time, kept waiting 3 s by a busy "
                  "worker, got %r instead of its answer" % (m, got))
            print("%s: a whole request that waited 3 s was answered" % m)


def main():
    test_whole_request_waits_for_its_answer()
    listeners = [dict({"name": m, "transport": "tcp", "model": m, "workers": WORKERS,
                       "idle_timeout": IDLE, "handler": "timestamp"},
                      **({} if m == "libev" else {"max_workers": WORKERS}))
                 for m in MODELS]
    listeners.append({"name": "queue", "transport": "tcp", "model": "threads",
                      "workers": 1, "max_workers": 1, "idle_timeout": IDLE,
                      "handler": "timestamp"})
    with Daemon(listeners) as d:
        results = {m: {} for m in MODELS + ("queue",)}
        threads = [threading.Thread(target=scenario, args=(d, m, results[m]))
                   for m in MODELS]
        threads.append(threading.Thread(target=queue_scenario,
                                        args=(d, "queue", results["queue"])))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
            check(not t.is_alive(), "a client scenario did not end within 60 s")
        st = {l["name"]: l for l in d.status()["listeners"]}
        log = d.log()
        for m in MODELS:
            r = results[m]
            print("%s: legit client answered after %.2f s (bound %.1f s); "
                  "slow ones closed after %s s; connections_waited %s, "
                  "longest_wait_ms %s" % (
                      m, r["legit_s"], LEGIT_BOUND,
                      [None if c is None else round(c, 2) for c in r["slow_closed"]],
                      st[m].get("connections_waited"), st[m].get("longest_wait_ms")))
        print("queue: silent connections queued behind a busy worker closed "
              "after %s s from their last byte" % [
                  None if c is None else round(c, 2)
                  for c in results["queue"]["slow_closed"]])
        for took in results["queue"]["slow_closed"]:
            check(took is not None and IDLE - 0.5 <= took <= IDLE + 1.5,
                  "threads: a silent queued connection closed after %s s, not "
                  "at idle_timeout (%d s) after its last byte" % (took, IDLE))
        check(re.search(r"listener queue: .*idle for %d s waiting for a worker"
                        % IDLE, log), "queue: no idle line in the log:\n" + log)
        for m in MODELS:
            r = results[m]
            check(r["answer"].endswith(b"] hello\n"),
                  "%s: the legit client got %r" % (m, r["answer"]))
            check(r["legit_s"] < LEGIT_BOUND,
                  "%s: the legit client waited %.2f s behind %d slow ones "
                  "(workers = %d, idle_timeout = %d)" % (
                      m, r["legit_s"], SLOW, WORKERS, IDLE))
            for i, took in enumerate(r["slow_closed"]):
                check(took is not None and IDLE - 0.5 <= took <= IDLE + 2,
                      "%s: slow connection %d closed after %s s, not at "
                      "idle_timeout (%d s) after its byte" % (m, i, took, IDLE))
            for key in ("connections_waited", "longest_wait_ms"):
                check(isinstance(st[m].get(key), int),
                      "%s: status has no %s: %r" % (m, key, st[m]))
            busy = stamps(log, BUSY % (m, WORKERS))
            gaps = [b - a for a, b in zip(busy, busy[1:])]
            check(all(g >= 0.9 for g in gaps),
                  "%s: busy lines closer than a second apart: %s\n%s" % (m, gaps, log))
            if m == "libev":
                check(st[m]["connections_waited"] == 0 and not busy,
                      "libev waits for no worker, yet: %r" % st[m])
                continue
            check(st[m]["connections_waited"] >= SLOW - WORKERS,
                  "%s: connections_waited %d, expected at least %d" % (
                      m, st[m]["connections_waited"], SLOW - WORKERS))
            check(st[m]["longest_wait_ms"] >= 1000,
                  "%s: longest_wait_ms %d: the slow ones waited about %d s" % (
                      m, st[m]["longest_wait_ms"], IDLE))
            check(busy, "%s: no 'all workers busy' line in the log:\n%s" % (m, log))
            counts = [int(x) for x in re.findall(BUSY % (m, WORKERS), log)]
            check(all(c >= 1 for c in counts), "%s: busy lines say %s" % (m, counts))
            check(re.search(r"listener %s: .*idle for %d s" % (m, IDLE), log),
                  "%s: no idle line in the log:\n%s" % (m, log))


if __name__ == "__main__":
    try:
        run(main)
    except SystemExit:
        raise
    except Exception as e:  # an unexpected exception is a failure, said so
        fail("%s: %s" % (type(e).__name__, e))
