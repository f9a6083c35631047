"""The `metrics` command and `netlabctl metrics`, and GET /metrics on
metrics_listen: the Prometheus text format
(checked by promtool when Debian's prometheus package is installed, and by
a parser here either way), the same counts as status, under load, after a
reload and after a serving process was killed, with no counter going
backwards; the HTTP endpoint's 404, 400 and 431, and slow, silent and
garbage clients that neither block the master nor the control socket."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (Daemon, check, connect, dgram_exchange,  # noqa: E402
                     fail, metrics, recv_all, run, serving_pids,
                     stream_exchange, wait_status)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
PROMTOOL = shutil.which("promtool")



def parse(text):
    """{(name, frozenset(labels)): value}; fails on anything the text
    format does not allow, or a sample without # HELP and # TYPE."""
    check(text.endswith("\n") and not text.endswith("\n\n"),
          "metrics do not end in exactly one newline: %r" % text[-20:])
    helped, typed, out = set(), {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            check(kind in ("counter", "gauge", "histogram"), "type %s" % line)
            typed[name] = kind
            continue
        m = SAMPLE.match(line)
        check(m is not None, "not a sample line: %r" % line)
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if typed.get(family) == "histogram":
            check(family in helped, "%s has no HELP" % family)
        else:
            check(name in helped and name in typed, "%s has no HELP or TYPE" % name)
        check(typed.get(name) != "counter" or name.endswith("_total"),
              "counter %s does not end in _total" % name)
        key = (name, frozenset(LABEL.findall(labels)))
        check(key not in out, "sample %s twice" % line)
        out[key] = float(value)
    return out


def promtool(text, what):
    if PROMTOOL is None:
        return
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    check(p.returncode == 0, "%s: promtool check metrics: %s%s"
          % (what, p.stdout.decode(), p.stderr.decode()))


def of(m, name, listener, **labels):
    for (n, ls), v in m.items():
        d = dict(ls)
        if n == name and d.get("listener") == listener and \
           all(d.get(k) == x for k, x in labels.items()):
            return v
    fail("no %s for %s %r" % (name, listener, labels))


def counters(m):
    """Counters, and the parts of histograms that only grow."""
    return {k: v for k, v in m.items()
            if re.search(r"(_total|_bucket|_count)$", k[0])}


def histogram(m, name, listener):
    """[(le, cumulative count)], sum, count of listener's histogram;
    fails unless the buckets grow, end in +Inf and that equals _count."""
    buckets = sorted(((float(dict(ls)["le"]), v) for (n, ls), v in m.items()
                      if n == name + "_bucket" and dict(ls)["listener"] == listener))
    count = of(m, name + "_count", listener)
    check(buckets and buckets[-1][0] == float("inf") and buckets[-1][1] == count,
          "%s: +Inf bucket %r, count %s" % (name, buckets[-1:], count))
    check(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])),
          "%s: buckets not cumulative: %r" % (name, buckets))
    return buckets, of(m, name + "_sum", listener), count


def no_counter_backwards(before, after, what):
    for k, v in before.items():
        if k in after:
            check(after[k] >= v, "%s: %s %s went %s -> %s"
                  % (what, k[0], dict(k[1]), v, after[k]))


def check_against_status(d, m, what):
    """Every listener's counters as status has them, and the labels."""
    for l in d.status()["listeners"]:
        n = l["name"]
        for name, key in (("netlabd_connections_accepted_total", "connections_total"),
                          ("netlabd_received_bytes_total", "bytes_in"),
                          ("netlabd_sent_bytes_total", "bytes_out"),
                          ("netlabd_connections_peak", "connections_peak"),
                          ("netlabd_proxy_header_errors_total", "proxy_header_errors")):
            # Counts may move between the two questions under load.
            v = sum(x for (nm, ls), x in m.items()
                    if nm == name and dict(ls)["listener"] == n)
            check(v <= l[key], "%s: %s %s is %s, status later says %s"
                  % (what, n, name, v, l[key]))
        # Errors by reason: idle timeouts are not in status' errors.
        errs = {dict(ls)["reason"]: x for (nm, ls), x in m.items()
                if nm == "netlabd_session_errors_total" and dict(ls)["listener"] == n}
        check(sum(x for r, x in errs.items() if r != "idle_timeout") <= l["errors"],
              "%s: %s errors by reason %r, status %s" % (what, n, errs, l["errors"]))
        check(of(m, "netlabd_handler_info", n, handler=l["handler"],
                 version=l["handler_version"]) == 1, what)
        check(of(m, "netlabd_connections_refused_total", n,
                 reason="max_connections") <= l["connections_refused"], what)
        check(of(m, "netlabd_workers_max", n) == l["max_workers"], what)
        labels = [dict(ls) for (nm, ls) in m if nm == "netlabd_connections_active"
                  and dict(ls).get("listener") == n][0]
        check(labels == {"listener": n, "transport": l["transport"],
                         "model": l["model"]}, "%s: labels %r" % (what, labels))


class KillDaemon(Daemon):
    """Its log may show the serving process the test kills."""

    def check_log(self):
        lines = self.log().splitlines(True)
        with open(self.logfile, "w") as f:
            f.write("".join(l for l in lines
                            if "listener echo: serving process killed by "
                               "signal 9" not in l))
        Daemon.check_log(self)


def main_all():
    main()
    test_http()
    test_stopping()


def test_stopping():
    """Once a stop begins, the listener no longer serves (a balancer's
    check on the metrics port must see it) while open sessions finish."""
    d = Daemon([{"name": "echo", "transport": "tcp", "handler": "echo"}],
               shutdown_timeout=10, extra={"metrics_listen": "127.0.0.1:0"})
    with d:
        addr = d.status()["metrics_listen"]
        pat = r'(?m)^netlabd_listener_serving\{listener="echo",[^}]*\} (\d)$'
        code, _, body = http(addr, b"GET /metrics HTTP/1.0\r\n\r\n")
        check(re.search(pat, body.decode()).group(1) == "1", "serving at first")
        s = connect(d, "echo")
        s.sendall(b"x\n")
        check(s.recv(10) == b"x\n", "echo before the stop")
        d.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 5
        while True:
            code, _, body = http(addr, b"GET /metrics HTTP/1.0\r\n\r\n")
            if re.search(pat, body.decode()).group(1) == "0":
                break
            check(time.time() < deadline, "still serving 5 s into the stop")
            time.sleep(0.05)
        check(d.status()["listeners"][0]["serving"] is False,
              "status says serving while stopping")
        s.sendall(b"y\n")
        check(s.recv(10) == b"y\n", "the open session goes on during the stop")
        s.close()


def main():
    if PROMTOOL is None:
        print("promtool not found (Debian package prometheus): checking the "
              "format with this test's own parser only")
    # expect_errors: the refused reload below logs its error.
    d = KillDaemon([{"name": "echo", "transport": "tcp", "handler": "echo",
                     "model": "libev"},
                    {"name": "up", "transport": "udp", "handler": "upper",
                     "model": "threads", "workers": 2},
                    {"name": "greet", "transport": "unix", "handler": "greeter",
                     "path": "g.sock", "model": "prefork", "workers": 2,
                     "max_connections": 5}], expect_errors=True)
    with d:
        text = metrics(d)
        promtool(text, "at start")
        m0 = parse(text)
        check(m0[("netlabd_build_info", frozenset({("version", d.status()["version"])}))]
              == 1, "build_info")
        check(m0[("netlabd_generation", frozenset())] == 1, "generation")
        # Some traffic, then the counts.
        check(stream_exchange(d, "echo", b"hello\n") == b"hello\n", "echo")
        check(dgram_exchange(d, "up", b"abc") == b"ABC", "upper")
        g = connect(d, "greet")
        check(g.recv(100), "no greeting")
        g.close()
        m1 = parse(metrics(d))
        check_against_status(d, m1, "after traffic")
        check(of(m1, "netlabd_connections_accepted_total", "echo") == 1, "echo accepted")
        check(of(m1, "netlabd_received_bytes_total", "echo") == 6, "echo bytes in")
        check(of(m1, "netlabd_connections_accepted_total", "up") >= 1, "up accepted")
        check(of(m1, "netlabd_datagrams_received_total", "up") == 1 and
              of(m1, "netlabd_datagrams_sent_total", "up") == 1 and
              of(m1, "netlabd_datagrams_dropped_total", "up") == 0, "datagrams")
        # One echo session, one data() call; one datagram, one data().
        _, secs, n = histogram(m1, "netlabd_session_duration_seconds", "echo")
        check(n == 1 and 0 <= secs < 5, "echo's session duration: %s, %s" % (n, secs))
        check(histogram(m1, "netlabd_handler_data_duration_seconds", "echo")[2] == 1,
              "echo's data() calls")
        check(histogram(m1, "netlabd_handler_data_duration_seconds", "up")[2] == 1,
              "upper's data() calls")
        check(of(m1, "netlabd_connections_peak", "echo") == 1, "echo's peak")
        check(d.listener("echo")["handler_version"] == "1.0", "handler_version")
        no_counter_backwards(counters(m0), counters(m1), "traffic")

        # Under load: a client doing round trips while metrics are read.
        stop = threading.Event()
        errors = []

        def load():
            try:
                s = connect(d, "echo")
                while not stop.is_set():
                    s.sendall(b"x" * 63 + b"\n")
                    got = b""
                    while len(got) < 64:
                        chunk = s.recv(64 - len(got))
                        if not chunk:
                            raise OSError("EOF")
                        got += chunk
                s.close()
            except OSError as e:
                errors.append(e)
        t = threading.Thread(target=load)
        t.start()
        prev = counters(m1)
        try:
            for i in range(5):
                text = metrics(d)
                m = parse(text)
                no_counter_backwards(prev, counters(m), "under load %d" % i)
                prev = counters(m)
                time.sleep(0.1)
            promtool(text, "under load")
        finally:
            stop.set()
            t.join(10)
        check(not errors, "load client: %r" % errors)

        # A reload (a changed listener: new serving processes) and a refused
        # one: counters go on from where they were.
        with open(d.conf) as f:
            conf = f.read()
        with open(d.conf, "w") as f:
            f.write(conf.replace("max_connections = 5;", "max_connections = 6;"))
        check(d.command("reload", timeout=30).get("ok") is True, "reload")
        with open(d.conf, "w") as f:
            f.write(conf + "\nnonsense = = 1;\n")
        check(d.command("reload", timeout=30).get("ok") is False, "bad reload")
        text = metrics(d)
        promtool(text, "after reloads")
        m2 = parse(text)
        no_counter_backwards(prev, counters(m2), "reload")
        check(m2[("netlabd_generation", frozenset())] == 2, "generation after reload")
        check(m2[("netlabd_reloads_total", frozenset({("outcome", "ok")}))] == 1,
              "reloads ok")
        check(m2[("netlabd_reloads_total", frozenset({("outcome", "error")}))] == 1,
              "reloads failed")
        check(m2[("netlabd_last_reload_success", frozenset())] == 0, "last reload")

        # A serving process killed: its counts stay.
        pids = serving_pids(d, "echo")
        os.kill(pids[0], signal.SIGKILL)
        # Reaped, restarted and serving (status may still say serving
        # before the master has seen the death).
        wait_status(d, "echo", lambda l: l["serving"] and l["processes_started"] == 2,
                    10, "echo restarted and serving again")
        text = metrics(d)
        promtool(text, "after a crash")
        m3 = parse(text)
        no_counter_backwards(counters(m2), counters(m3), "crash")
        check_against_status(d, m3, "after a crash")
        check(of(m3, "netlabd_serving_processes_crashed_total", "echo") == 1,
              "crashed_total after one SIGKILL")
        check(of(m3, "netlabd_serving_processes_crashed_total", "greet") == 0,
              "a reload counted as a crash")
        check(of(m3, "netlabd_serving_processes_started_total", "echo") == 2,
              "echo's processes started: the first and its restart")
        # greet: 2 at start, 2 after the reload that changed it.
        check(of(m3, "netlabd_serving_processes_started_total", "greet") == 4,
              "greet's processes started")
        st = d.listener("echo")
        check(st["processes_crashed"] == 1 and st["last_exit_signal"] == "SIGKILL",
              "status after the crash: %r" % st)


def http(addr, raw, timeout=5):
    """Sends raw bytes to addr, returns (status code, headers, body)."""
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        s.sendall(raw)
        data = recv_all(s)
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    code = int(lines[0].split()[1])
    headers = dict(l.split(": ", 1) for l in lines[1:])
    return code, headers, body


def test_http():
    d = Daemon([{"name": "echo", "transport": "tcp", "handler": "echo"}],
               extra={"metrics_listen": "127.0.0.1:0"})
    with d:
        addr = d.status().get("metrics_listen")
        check(addr and addr.startswith("127.0.0.1:"), "status: %r" % addr)
        d.wait_log(r"metrics at http://127\.0\.0\.1:\d+/metrics")
        check(stream_exchange(d, "echo", b"hi\n") == b"hi\n", "echo")
        code, headers, body = http(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        check(code == 200, "GET /metrics: %d" % code)
        check(headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
              "Content-Type %r" % headers)
        check(int(headers["Content-Length"]) == len(body), "Content-Length")
        promtool(body.decode(), "GET /metrics")
        m = parse(body.decode())
        check(of(m, "netlabd_connections_accepted_total", "echo") == 1, "accepted")
        code, _, _ = http(addr, b"GET / HTTP/1.1\r\n\r\n")
        check(code == 404, "GET /: %d" % code)
        code, _, _ = http(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        check(code == 405, "POST: %d" % code)
        code, _, _ = http(addr, b"\x00\xffgarbage\r\n\r\n")
        check(code == 400, "garbage: %d" % code)
        code, _, _ = http(addr, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000)
        check(code == 431, "a head past 8 KiB: %d" % code)
        # Silent and trickling clients, more than the 16 places: the
        # master, the control socket and a real scrape go on at once.
        host, port = addr.rsplit(":", 1)
        idle = []
        for i in range(20):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(b"GET /met")
            idle.append(s)
        t0 = time.time()
        code, _, body = http(addr, b"GET /metrics HTTP/1.0\r\n\r\n")
        check(code == 200 and body, "GET beside 20 silent clients: %d" % code)
        check(d.status()["generation"] == 1, "status beside silent clients")
        check(time.time() - t0 < 2, "served in %.1f s beside silent clients"
              % (time.time() - t0))
        # The silent ones are closed: the oldest gave way, the rest time out.
        deadline = time.time() + 15
        for s in idle:
            s.settimeout(max(0.1, deadline - time.time()))
            try:
                check(s.recv(100) == b"", "a silent client got an answer")
            except ConnectionResetError:
                pass
            except socket.timeout:
                fail("a silent metrics client still open after 15 s")
            s.close()


run(main_all)
