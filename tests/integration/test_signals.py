"""Signals and process hygiene: SIGHUP and SIGUSR1 sent to every netlabd
process (as `killall -USR1 netlabd` does) end no session; a renamed
listener keeps its counters across a reload; with `user` set, serving
processes still die with a killed master (root only)."""
import os
import pwd
import shutil
import signal
import tempfile
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (PLUGIN_DIR, Daemon, check, connect, run,  # noqa: E402
                     stream_exchange)


def round_trip(s, msg):
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        chunk = s.recv(len(msg) - len(got))
        check(chunk, "EOF waiting for the echo of %r" % msg)
        got += chunk
    check(got == msg, "echo of %r came back as %r" % (msg, got))


def test_killall_usr1_hup():
    models = ("libev", "threads", "prefork")
    d = Daemon([{"name": m, "transport": "tcp", "handler": "echo", "model": m,
                 "workers": 2} for m in models])
    with d:
        sessions = {m: connect(d, m) for m in models}
        for m, s in sessions.items():
            round_trip(s, b"before %s\n" % m.encode())
        kids = d.children()
        gen = d.status()["generation"]
        for sig in (signal.SIGUSR1, signal.SIGHUP):
            for pid in kids + [d.proc.pid]:
                os.kill(pid, sig)
        time.sleep(0.5)
        for m, s in sessions.items():
            round_trip(s, b"after %s\n" % m.encode())
            s.close()
        check(sorted(d.children()) == sorted(kids) or d.status()["generation"] > gen,
              "serving processes replaced after SIGUSR1: %r -> %r" % (kids, d.children()))
        check("killed by signal" not in d.log(), "a serving process died:\n" + d.log())


def test_rename_keeps_counts():
    d = Daemon([{"name": "old", "transport": "tcp", "handler": "echo"}])
    with d:
        s = connect(d, "old")
        round_trip(s, b"12345\n")
        port = d.addr("old")[1][1]
        text = open(d.conf).read().replace('"old"', '"new"').replace("port = 0", "port = %d" % port)
        with open(d.conf, "w") as f:
            f.write(text)
        d.listeners[0]["name"] = "new"
        ans = d.command("reload")
        check(ans.get("ok") is True, "reload: %r" % ans)
        st = d.listener("new")
        check(st["bytes_in"] == 6 and st["connections_total"] == 1,
              "renamed listener lost its counts while draining: %r" % st)
        s.close()
        deadline = time.time() + 5
        while d.status()["draining"] and time.time() < deadline:
            time.sleep(0.05)
        st = d.listener("new")
        check(st["bytes_in"] == 6 and st["bytes_out"] == 6 and st["connections_total"] == 1,
              "renamed listener lost its counts after draining: %r" % st)


def can_drop_to_nobody():
    """True when running as root and user nobody exists; else says why."""
    if os.geteuid() != 0:
        print("skip: dropping to a user needs root")
        return False
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        print("skip: no user nobody")
        return False
    return True


def test_orphans_with_user():
    if not can_drop_to_nobody():
        return
    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo"}],
               extra={"user": "nobody"})
    d.start()
    kids = d.children()
    check(kids, "no serving process")
    d.proc.kill()
    d.proc.wait(5)
    deadline = time.time() + 5
    alive = kids
    while alive and time.time() < deadline:
        time.sleep(0.05)
        alive = [p for p in kids if os.path.exists("/proc/%d" % p)]
    for p in alive:
        os.kill(p, signal.SIGKILL)
    shutil.rmtree(d.dir, ignore_errors=True)
    check(not alive, "serving processes %r outlived a killed master" % alive)


def test_handler_in_private_folder():
    """With `user` set, a handler in a folder only root can read still
    loads: it is opened before privileges are dropped (the check too)."""
    if not can_drop_to_nobody():
        return
    private = tempfile.mkdtemp(prefix="netlabd-private-")
    try:
        os.chmod(private, 0o700)
        shutil.copy(os.path.join(PLUGIN_DIR, "echo.so"), private)
        d = Daemon([{"name": "e", "transport": "tcp",
                     "handler": os.path.join(private, "echo.so")}],
                   extra={"user": "nobody"})
        with d:
            check(stream_exchange(d, "e", b"private\n") == b"private\n",
                  "handler from a private folder did not answer")
    finally:
        shutil.rmtree(private, ignore_errors=True)


def main():
    test_killall_usr1_hup()
    test_rename_keeps_counts()
    test_orphans_with_user()
    test_handler_in_private_folder()


run(main)
