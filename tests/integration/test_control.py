"""The control socket: status fields and exact counters, bad commands
(unknown, empty, garbage, over-long), a silent client, many queries in a
row, listener names that need JSON escaping."""
import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (PLUGIN_DIR, Daemon, check, connect, dgram_exchange,  # noqa: E402
                     run, stream_exchange)
from clitest import cleanup, control_json, raw_control, run_netlabd, wait_until  # noqa: E402

LISTENER_KEYS = ("name", "transport", "address", "model", "workers", "handler",
                 "connections_active", "connections_total", "connections_refused",
                 "bytes_in", "bytes_out", "errors", "connections_waited",
                 "longest_wait_ms")
COUNTERS = LISTENER_KEYS[6:]


def ipv6_ok():
    if not socket.has_ipv6:
        return False
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def by_name(st):
    return {l["name"]: l for l in st["listeners"]}


def test_status(d, have6):
    t0 = time.time()
    st0 = d.status()
    st = control_json(d.control, b"status\n")

    for key in ("pid", "version", "uptime_s", "config", "generation", "last_reload",
                "listeners"):
        check(key in st, "status lacks %r: %r" % (key, st))
    check(st["pid"] == d.proc.pid, "pid %r, expected %d" % (st["pid"], d.proc.pid))
    rc, out, err = run_netlabd(["-V"])
    check(rc == 0 and (out.strip() == st["version"] or
                       out.strip() == "netlabd " + st["version"]),
          "status version %r, -V says %r" % (st["version"], out))
    check(is_count(st["uptime_s"]) and st["uptime_s"] <= 10, "uptime_s %r" % st["uptime_s"])
    check(st["config"] == d.conf, "config %r, expected %r" % (st["config"], d.conf))
    check(st["generation"] == 1 and not isinstance(st["generation"], bool),
          "generation %r" % st["generation"])
    check(st["last_reload"] is None, "last_reload %r" % st["last_reload"])
    check(isinstance(st["listeners"], list) and len(st["listeners"]) == len(d.listeners),
          "listeners: %r" % st["listeners"])
    check([l["name"] for l in st["listeners"]] == [l["name"] for l in d.listeners],
          "listener order/names: %r" % [l["name"] for l in st["listeners"]])

    ls = by_name(st)
    for l in st["listeners"]:
        for key in LISTENER_KEYS:
            check(key in l, "listener %s lacks %r: %r" % (l.get("name"), key, l))
        for key in COUNTERS:
            check(is_count(l[key]), "%s.%s = %r" % (l["name"], key, l[key]))
            check(l[key] == 0, "%s.%s = %r before any traffic" % (l["name"], key, l[key]))
        check(l["model"] == "libev", "%s model %r" % (l["name"], l["model"]))
        check(l["workers"] == 1 and is_count(l["workers"]),
              "%s workers %r (libev default 1)" % (l["name"], l["workers"]))
    check(ls["echo"]["transport"] == "tcp", "echo transport %r" % ls["echo"]["transport"])
    check(ls["up"]["transport"] == "udp", "up transport %r" % ls["up"]["transport"])
    check(ls["ustream"]["transport"] == "unix", "ustream: %r" % ls["ustream"])
    check(ls["udgram"]["transport"] == "unix-dgram", "udgram: %r" % ls["udgram"])
    for name in ("echo", "up"):
        m = re.match(r"^127\.0\.0\.1:(\d+)$", ls[name]["address"])
        check(m and 0 < int(m.group(1)) < 65536, "%s address %r" % (name, ls[name]["address"]))
    check(ls["ustream"]["address"] == d.path("echo.sock"), "ustream address %r"
          % ls["ustream"]["address"])
    check(ls["udgram"]["address"] == d.path("dgram.sock"), "udgram address %r"
          % ls["udgram"]["address"])
    if have6:
        check(re.match(r"^\[::1\]:[1-9]\d*$", ls["six"]["address"]),
              "six address %r" % ls["six"]["address"])
    check(ls["echo"]["handler"] == "echo", "handler %r" % ls["echo"]["handler"])
    check(ls["ustream"]["handler"] == os.path.join(PLUGIN_DIR, "echo.so"),
          "handler given as a path shows %r" % ls["ustream"]["handler"])

    # Known traffic, exact counters.
    for payload in (b"hello\n", b"x" * 1000, b""):
        check(stream_exchange(d, "echo", payload) == payload, "echo %r" % payload[:10])
    for payload in (b"abc", b"hello world"):
        check(dgram_exchange(d, "up", payload) == payload.upper(), "upper %r" % payload)
    check(stream_exchange(d, "ustream", b"12345") == b"12345", "unix echo")
    check(dgram_exchange(d, "udgram", b"dg") == b"dg", "unix-dgram echo")
    if have6:
        check(stream_exchange(d, "six", b"v6\n") == b"v6\n", "ipv6 echo")

    # Two open sessions are active; then they end.
    a, b = connect(d, "echo"), connect(d, "echo")
    a.sendall(b"A")
    check(a.recv(1) == b"A", "echo on an open session")
    check(wait_until(lambda: d.listener("echo")["connections_active"] == 2, 3),
          "connections_active with two open sessions: %r" % d.listener("echo"))
    a.close()
    b.close()
    check(wait_until(lambda: all(l["connections_active"] == 0
                                 for l in d.status()["listeners"]), 3),
          "connections_active does not drop back to 0: %r" % d.status())

    ls = by_name(d.status())
    want = {
        "echo": dict(connections_total=5, bytes_in=1007, bytes_out=1007),
        "up": dict(bytes_in=14, bytes_out=14),
        "ustream": dict(connections_total=1, bytes_in=5, bytes_out=5),
        "udgram": dict(bytes_in=2, bytes_out=2),
    }
    if have6:
        want["six"] = dict(connections_total=1, bytes_in=3, bytes_out=3)
    for name, counts in want.items():
        for key, v in counts.items():
            check(ls[name][key] == v, "%s.%s = %r, expected %d: %r"
                  % (name, key, ls[name][key], v, ls[name]))
        for key in ("connections_refused", "errors", "connections_active"):
            check(ls[name][key] == 0, "%s.%s = %r" % (name, key, ls[name][key]))

    # uptime_s counts seconds.
    time.sleep(max(0, 1.2 - (time.time() - t0)))
    st1 = d.status()
    elapsed = time.time() - t0
    grew = st1["uptime_s"] - st0["uptime_s"]
    check(int(elapsed) - 1 <= grew <= int(elapsed) + 1,
          "uptime_s went %r -> %r in %.1f s" % (st0["uptime_s"], st1["uptime_s"], elapsed))


def healthy(d):
    st = d.status()
    check(st["pid"] == d.proc.pid and d.proc.poll() is None, "daemon unhealthy: %r" % st)
    check(stream_exchange(d, "echo", b"ok\n") == b"ok\n", "echo broken")


def test_bad_commands(d):
    for payload in (b"frobnicate\n", b"STATUS\n", b"status please\n", b"stop now\n"):
        ans = control_json(d.control, payload)
        check(isinstance(ans, dict) and isinstance(ans.get("error"), str) and ans["error"],
              "%r answered %r" % (payload, ans))
    for payload in (b"\n", b"\r\n", b"   \n"):
        ans = control_json(d.control, payload)
        check(isinstance(ans.get("error"), str), "empty line %r answered %r" % (payload, ans))
    # Without a newline, the end of what the client sends ends the command.
    ans = control_json(d.control, b"status", shut_wr=True)
    check("listeners" in ans, "status without newline: %r" % ans)
    ans = control_json(d.control, b"bogus", shut_wr=True)
    check("error" in ans, "bogus without newline: %r" % ans)
    healthy(d)

    # Garbage: control characters, bytes that are not UTF-8, a NUL.
    for payload in (b"\x01\x02\x1b[31m\x7f\n", b"\xff\xfe\xfd garbage \x80\n",
                    b"st\xc3\x28tus\n", b"\x00\x00\x00\n", b"status\x00junk\n",
                    bytes(range(1, 256)) + b"\n"):
        ans = control_json(d.control, payload)
        check(isinstance(ans.get("error"), str), "garbage %r answered %r" % (payload[:20], ans))
    healthy(d)

    # Over-long commands: an error, and the daemon carries on.
    for payload in (b"a" * 1100 + b"\n", b"status" + b" " * 2000 + b"\n", b"b" * 4096,
                    b"c" * 60000 + b"\n"):
        data = raw_control(d.control, payload)
        check(data.endswith(b"\n"), "over-long (%d bytes): answer %r" % (len(payload), data[:200]))
        ans = json.loads(data.decode())
        check(isinstance(ans.get("error"), str), "over-long (%d bytes) answered %r"
              % (len(payload), ans))
    healthy(d)

    # Help lists the commands.
    ans = control_json(d.control, b"help\n")
    check("status" in json.dumps(ans) and "stop" in json.dumps(ans), "help: %r" % ans)


def test_silent_client(d):
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(d.control)
    half = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    half.connect(d.control)
    half.sendall(b"sta")  # half a command, then nothing
    try:
        t0 = time.time()
        st = control_json(d.control, b"status\n", timeout=3)
        took = time.time() - t0
        check("listeners" in st, "status with a silent client: %r" % st)
        check(took < 1.0, "status took %.2f s with a silent client connected" % took)
        healthy(d)
    finally:
        silent.close()
        half.close()


def test_many_queries(d):
    t0 = time.time()
    pids = set()
    for i in range(50):
        st = control_json(d.control, b"status\n")
        pids.add(st["pid"])
        check(len(st["listeners"]) == len(d.listeners), "query %d: %r" % (i, st))
    took = time.time() - t0
    check(pids == {d.proc.pid}, "pids %r" % pids)
    check(took < 10, "50 status queries took %.1f s" % took)
    # And 20 at once.
    socks = []
    for i in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        # A full backlog makes a unix connect() with a timeout fail with
        # EAGAIN at once rather than wait: retry, bounded.
        deadline = time.time() + 5
        while True:
            try:
                s.connect(d.control)
                break
            except BlockingIOError:
                check(time.time() < deadline, "control socket backlog full for 5 s")
                time.sleep(0.01)
        socks.append(s)
    for s in socks:
        s.sendall(b"status\n")
    for i, s in enumerate(socks):
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        check(json.loads(data.decode())["pid"] == d.proc.pid, "concurrent query %d" % i)
    healthy(d)


def test_odd_names():
    names = ['say "hi"', "back\\slash", "tab\there", 'both \\" mixed', "\u00fcn\u00efcode"]
    listeners = [{"name": n, "transport": "tcp", "handler": "echo"} for n in names]
    listeners.append({"name": "path", "transport": "unix", "path": 'q"uote\\d.sock',
                      "handler": "echo"})
    d = Daemon(listeners)
    # libconfig has no \u escape: write the non-ASCII name as UTF-8.
    with open(d.conf, encoding="utf-8") as f:
        text = f.read()
    text = text.replace(json.dumps(names[-1]), '"%s"' % names[-1])
    with open(d.conf, "w", encoding="utf-8") as f:
        f.write(text)
    d.start()
    try:
        st = control_json(d.control, b"status\n")
        got = [l["name"] for l in st["listeners"]]
        check(got == names + ["path"], "names came out as %r" % got)
        check(st["listeners"][-1]["address"] == d.path('q"uote\\d.sock'),
              "path address %r" % st["listeners"][-1]["address"])
        for n in names:
            check(stream_exchange(d, n, b"n\n") == b"n\n", "listener %r" % n)
        d.stop()
    finally:
        cleanup(d)


def main():
    have6 = ipv6_ok()
    listeners = [
        {"name": "echo", "transport": "tcp", "handler": "echo"},
        {"name": "up", "transport": "udp", "handler": "upper"},
        {"name": "ustream", "transport": "unix", "path": "echo.sock",
         "handler": os.path.join(PLUGIN_DIR, "echo.so")},
        {"name": "udgram", "transport": "unix-dgram", "path": "dgram.sock", "handler": "echo"},
    ]
    if have6:
        listeners.append({"name": "six", "transport": "tcp", "address": "::1",
                          "handler": "echo"})
    else:
        print("note: no IPv6 loopback; [::1] address not checked")
    d = Daemon(listeners).start()
    try:
        test_status(d, have6)
        test_bad_commands(d)
        test_silent_client(d)
        test_many_queries(d)
        d.stop()
    finally:
        cleanup(d)
    test_odd_names()


run(main)
