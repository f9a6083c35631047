"""Netlabd behind a real load balancer: Debian's HAProxy, in TCP mode, in
front of two netlabd instances whose logger listeners have
proxy_protocol = true and access_log = true, its servers declared with
send-proxy-v2 and a health check (inter 200ms fall 2 rise 1).

Checked: HAProxy's health checks (a connect, a PROXY v2 LOCAL header, a
reset) see both instances UP (L4OK), each opens a session from HAProxy's
own address that receives nothing and ends client_closed, not as an error
(errors 0), no header is refused (proxy_header_errors 0) and no [error]
is logged;
clients coming through HAProxy are served by both instances, round robin;
the logger's lines and the access log lines name each client's own address
and port (the client binds 127.0.0.2, HAProxy connects out from
127.0.0.1, so a line with HAProxy's address could not pass for the
client's), never HAProxy's outgoing ones (which HAProxy's own log gives);
after one instance is stopped, HAProxy marks it DOWN within a bounded
time, and the requests after that all succeed, all on the other instance.

Skips (77) when HAProxy is not installed (Debian package haproxy,
tools/bootstrap.sh installs it; HAPROXY=/path/to/haproxy picks another).
HAProxy runs in the foreground (-db) on a config in a temporary folder, on
free loopback ports, and is killed at the end whatever happens."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (SKIP, Daemon, check, fail, free_ports, recv_all,  # noqa: E402
                     run)

CLIENT_ADDR = "127.0.0.2"  # clients' source; HAProxy's outgoing is 127.0.0.1
FIRST_ROUND = 10           # clients while both instances are up
SECOND_ROUND = 20          # clients once one is DOWN
INTER_MS = 200             # health check interval
CLIENT_PORTS = set()       # the clients' ports, to tell them from checks


def find_haproxy():
    env = os.environ.get("HAPROXY")
    if env:
        return env if os.access(env, os.X_OK) else None
    for path in ("/usr/sbin/haproxy", shutil.which("haproxy")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def client_addr_usable():
    """Linux answers for all of 127.0.0.0/8; elsewhere only 127.0.0.1 may."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((CLIENT_ADDR, 0))
        return True
    except OSError:
        return False
    finally:
        s.close()



class LogKeeper(Daemon):
    """Keeps the log it had when it stopped (stop removes the folder)."""

    final_log = None

    def check_log(self):
        self.final_log = self.log()
        Daemon.check_log(self)

    def text(self):
        return self.final_log if self.final_log is not None else self.log()


class HAProxy:
    """HAProxy in the foreground (-db: one process, this one's child, which
    writes no pidfile) on a config of its own in dir."""

    # %ci:%cp the client, %bi:%bp HAProxy's own end of its connection to
    # the server, %ts the termination state ("--" is a clean end).
    LOG_FORMAT = "%ci:%cp %ft %b/%s %bi:%bp %ts %U %B"

    def __init__(self, binary, dir, servers):
        self.binary = binary
        self.dir = dir
        self.servers = servers  # [(name, port)]
        self.cfg = os.path.join(dir, "haproxy.cfg")
        self.stats = os.path.join(dir, "haproxy.sock")
        self.out = os.path.join(dir, "haproxy.out")
        self.proc = None
        self.port = None

    def version(self):
        p = subprocess.run([self.binary, "-v"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
        return p.stdout.decode(errors="replace").splitlines()[0].split(" - ")[0].strip()

    def write_config(self, port):
        lines = [
            "global",
            "    log stdout format raw local0 info",
            "    stats socket %s mode 600 level admin" % self.stats,
            "    nbthread 1",
            "    maxconn 200",
            "",
            "defaults",
            "    mode tcp",
            "    log global",
            '    log-format "%s"' % self.LOG_FORMAT,
            "    timeout connect 2s",
            "    timeout client 10s",
            "    timeout server 10s",
            "    timeout check 1s",
            "",
            "frontend fe",
            "    bind 127.0.0.1:%d" % port,
            "    default_backend netlabd",
            "",
            "backend netlabd",
            "    balance roundrobin",
        ]
        for name, sport in self.servers:
            lines.append("    server %s 127.0.0.1:%d send-proxy-v2 check inter %dms "
                         "fall 2 rise 1" % (name, sport, INTER_MS))
        with open(self.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=10):
        for attempt in range(3):
            self.port = free_ports(1)[0]
            self.write_config(self.port)
            p = subprocess.run([self.binary, "-c", "-q", "-f", self.cfg],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=20)
            check(p.returncode == 0, "haproxy -c refused %s:\n%s%s" % (
                self.cfg, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace")))
            with open(self.out, "wb") as out:
                self.proc = subprocess.Popen(
                    [self.binary, "-db", "-f", self.cfg],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            deadline = time.time() + timeout
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                # The stats socket answers once every listener is bound (a
                # connection to the frontend would be a session on n1).
                try:
                    self.command("show info")
                    return self
                except OSError:
                    time.sleep(0.05)
            else:
                self.kill()
                fail("haproxy not ready within %d s:\n%s" % (timeout, self.output()))
            # It ended: most likely the port was taken in the meantime.
            if "cannot bind" not in self.output().lower() or attempt == 2:
                fail("haproxy exited with %d at start:\n%s"
                     % (self.proc.returncode, self.output()))
        return self

    def command(self, cmd, timeout=5):
        """One command on the stats socket; its whole answer."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.stats)
            s.sendall(cmd.encode() + b"\n")
            return recv_all(s).decode(errors="replace")
        finally:
            s.close()

    def server_stats(self):
        """{server name: show stat row as a dict} for the backend."""
        text = self.command("show stat")
        lines = [l for l in text.splitlines() if l.strip()]
        check(lines and lines[0].startswith("# "), "show stat: %r" % text[:200])
        head = lines[0][2:].split(",")
        out = {}
        for l in lines[1:]:
            row = dict(zip(head, l.split(",")))
            if row.get("pxname") == "netlabd" and \
               row.get("svname") not in ("BACKEND", "FRONTEND"):
                out[row["svname"]] = row
        return out

    def wait_states(self, want, timeout, what):
        """Polls show stat until every server in want {name: (status,
        check statuses allowed, or None for any)} is so; returns the rows."""
        deadline = time.time() + timeout
        while True:
            st = self.server_stats()
            if all(n in st and st[n]["status"] == status and
                   (checks is None or st[n]["check_status"] in checks)
                   for n, (status, checks) in want.items()):
                return st
            if time.time() > deadline:
                fail("%s within %s s; HAProxy says %s" % (what, timeout, ", ".join(
                    "%s %s/%s" % (n, r["status"], r["check_status"])
                    for n, r in sorted(st.items()))))
            time.sleep(0.05)

    def output(self):
        try:
            with open(self.out, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def session_log(self):
        """HAProxy's log lines, as {client port: (server, out ip:port,
        termination state)}."""
        out = {}
        pat = re.compile(r"^(\S+):(\d+) fe netlabd/(\S+) (\S+):(\d+) (\S+) ", re.M)
        for m in pat.finditer(self.output()):
            out[int(m.group(2))] = (m.group(3), "%s:%s" % (m.group(4), m.group(5)),
                                    m.group(6))
        return out

    def wait_logged(self, port, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.session_log().get(port)
            if got:
                return got
            time.sleep(0.05)
        fail("HAProxy never logged the session of client port %d:\n%s"
             % (port, self.output()))

    def stop(self, timeout=5):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # hard stop
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            fail("haproxy did not stop within %s s" % timeout)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def listener(model):
    return [{"name": "lg", "transport": "tcp", "handler": "logger",
             "model": model, "workers": 2, "proxy_protocol": True,
             "access_log": True}]


def client(hp, tag, timeout=5):
    """One client through HAProxy from CLIENT_ADDR: sends a line, half
    closes, reads to the end.  Returns (its port, what came back)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.bind((CLIENT_ADDR, 0))
        s.connect(("127.0.0.1", hp.port))
        port = s.getsockname()[1]
        CLIENT_PORTS.add(port)
        s.sendall(("%s from %s:%d\n" % (tag, CLIENT_ADDR, port)).encode())
        s.shutdown(socket.SHUT_WR)
        try:
            got = recv_all(s)
        except socket.timeout:
            fail("%s: no end of the session through HAProxy within %s s"
                 % (tag, timeout))
        except ConnectionResetError:
            fail("%s: reset through HAProxy" % tag)
        return port, got
    finally:
        s.close()


def served_by(daemons, tag, port, timeout=5):
    """The instance whose logger logged tag's line, checked to name the
    client's address, with its access line; returns (name, logger line,
    access line)."""
    peer = re.escape("%s:%d" % (CLIENT_ADDR, port))
    line_pat = re.compile(r"(?m)^.*\[info\] listener lg: handler logger: (\S+): "
                          r"%s from %s$" % (re.escape(tag), peer))
    deadline = time.time() + timeout
    while True:
        hits = [(n, line_pat.search(d.text())) for n, d in daemons.items()]
        hits = [(n, m) for n, m in hits if m]
        if hits:
            break
        if time.time() > deadline:
            fail("%s (client %s:%d): no instance logged its line:\n%s" % (
                tag, CLIENT_ADDR, port, "\n".join(
                    "--- %s\n%s" % (n, d.text()) for n, d in daemons.items())))
        time.sleep(0.05)
    check(len(hits) == 1, "%s logged by %d instances" % (tag, len(hits)))
    name, m = hits[0]
    check(m.group(1) == "%s:%d" % (CLIENT_ADDR, port),
          "%s: the logger's peer is %s, not the client %s:%d:\n%s"
          % (tag, m.group(1), CLIENT_ADDR, port, m.group(0)))
    d = daemons[name]
    check(re.search(r"(?m)\[info\] listener lg: handler logger: %s: connection from %s$"
                    % (peer, peer), d.text()),
          "%s: no 'connection from %s:%d' on %s:\n%s"
          % (tag, CLIENT_ADDR, port, name, d.text()))
    want_in = len(tag) + len(" from %s:%d\n" % (CLIENT_ADDR, port))
    acc_pat = re.compile(r"(?m)^.*\[info\] listener lg: access %s duration=\d+\.\d{3}s "
                         r"in=(\d+) out=(\d+) end=(\S+)$" % peer)
    while True:
        a = acc_pat.search(d.text())
        if a or time.time() > deadline:
            break
        time.sleep(0.05)
    check(a is not None, "%s: no access line for %s:%d on %s:\n%s"
          % (tag, CLIENT_ADDR, port, name, d.text()))
    check(int(a.group(1)) == want_in and a.group(2) == "0"
          and a.group(3) == "client_closed",
          "%s: access line %r: want in=%d (the line, not the PROXY header) "
          "out=0 end=client_closed" % (tag, a.group(0), want_in))
    return name, m.group(0), a.group(0)


def short(line):
    """A log line without its timestamp and pid."""
    return re.sub(r"^\S+ netlabd\[\d+\]: ", "", line)


def round_of(hp, daemons, n, tag, summary):
    """n clients one after the other; {client port: instance}.  The
    summary gets one line per client, and the netlabd log lines of the
    first client each instance served."""
    served = {}
    shown = set()
    for i in range(n):
        t = "%s-%02d" % (tag, i)
        port, got = client(hp, t)
        check(got == b"", "%s: the logger answered %r" % (t, got))
        name, logline, accline = served_by(daemons, t, port)
        server, out, ts = hp.wait_logged(port)
        check(server == name, "%s: HAProxy sent it to %s, %s logged it"
              % (t, server, name))
        check(ts == "--", "%s: HAProxy's termination state %s" % (t, ts))
        check(out != "%s:%d" % (CLIENT_ADDR, port),
              "%s: HAProxy's outgoing address %s is the client's" % (t, out))
        check(out not in logline and out not in accline,
              "%s: netlabd logged HAProxy's outgoing %s:\n%s\n%s"
              % (t, out, logline, accline))
        served[port] = name
        summary.append("  client %s:%d -> %s (HAProxy's side %s)"
                       % (CLIENT_ADDR, port, name, out))
        if name not in shown:
            shown.add(name)
            summary.append("      %s: %s\n      %s: %s"
                           % (name, short(logline), name, short(accline)))
    return served


HEALTH = re.compile(r"(?m)\[info\] listener lg: access 127\.0\.0\.1:(\d+) "
                    r"duration=\S+ in=(\d+) out=(\d+) end=(\S+)$")


def health_sessions(d):
    """The sessions of HAProxy's health checks, from HAProxy's own address
    (the clients come from CLIENT_ADDR): [(port, in, out, end)]."""
    return [h for h in HEALTH.findall(d.text())
            if CLIENT_ADDR != "127.0.0.1" or int(h[0]) not in CLIENT_PORTS]


def check_health_sessions(d, name):
    """Each health check's session was opened (the PROXY LOCAL header read:
    the logger's open ran, with HAProxy's address) and got no byte."""
    text = d.text()
    checks = health_sessions(d)
    check(checks, "%s: no session of HAProxy's health checks in the access log:\n%s"
          % (name, text))
    for port, n_in, n_out, end in checks:
        check(n_in == "0" and n_out == "0",
              "%s: health check session 127.0.0.1:%s with in=%s out=%s"
              % (name, port, n_in, n_out))
        # HAProxy ends a check with a reset: the usual end of a check,
        # not a session error.
        check(end == "client_closed",
              "%s: health check session 127.0.0.1:%s ended %s" % (name, port, end))
        check(re.search(r"(?m)\[info\] listener lg: handler logger: 127\.0\.0\.1:%s: "
                        r"connection from 127\.0\.0\.1:%s$" % (port, port), text),
              "%s: health check session 127.0.0.1:%s never reached the handler:\n%s"
              % (name, port, text))
    return len(checks), sorted(set(c[3] for c in checks))


def status_line(name, d):
    """netlabd's own counts for the listener; no PROXY header refused."""
    l = d.listener("lg")
    check(l.get("proxy_header_errors") == 0 and l.get("errors") == 0,
          "%s: proxy_header_errors %r, errors %r (a health check's reset is "
          "not an error)" % (name, l.get("proxy_header_errors"), l.get("errors")))
    return ("%s status: connections_total %d, proxy_header_errors 0, errors 0"
            % (name, l["connections_total"]))


def main():
    binary = find_haproxy()
    if binary is None:
        print("SKIP: haproxy not installed (Debian package haproxy; "
              "tools/bootstrap.sh installs it, HAPROXY=path picks another)")
        sys.exit(SKIP)
    global CLIENT_ADDR
    if not client_addr_usable():
        print("note: cannot bind %s; the clients come from 127.0.0.1, HAProxy's "
              "own address, told apart by port only" % CLIENT_ADDR)
        CLIENT_ADDR = "127.0.0.1"
    tmp = tempfile.mkdtemp(prefix="netlabd-haproxy-")
    daemons = {"n1": LogKeeper(listener("libev"), shutdown_timeout=1),
               "n2": LogKeeper(listener("prefork"), shutdown_timeout=1)}
    hp = None
    ok = False
    summary = []
    try:
        for d in daemons.values():
            d.start()
        ports = {n: d.addr("lg")[1][1] for n, d in daemons.items()}
        hp = HAProxy(binary, tmp, sorted(ports.items()))
        summary.append("HAProxy: %s (%s)" % (hp.version(), binary))
        hp.start()
        summary.append("frontend 127.0.0.1:%d, mode tcp, balance roundrobin; "
                       "servers n1 127.0.0.1:%d (libev), n2 127.0.0.1:%d "
                       "(prefork): send-proxy-v2 check inter %dms fall 2 rise 1"
                       % (hp.port, ports["n1"], ports["n2"], INTER_MS))

        # Both UP, a check having passed on each.
        up = {"n1": ("UP", {"L4OK"}), "n2": ("UP", {"L4OK"})}
        hp.wait_states(up, 10, "n1 and n2 UP after a passed check")
        # A few checks more on each: every one must pass.
        deadline = time.time() + 10
        while min(len(health_sessions(d)) for d in daemons.values()) < 3:
            check(time.time() < deadline, "fewer than 3 health checks in 10 s")
            time.sleep(0.05)
        st = hp.wait_states(up, 1, "n1 and n2 still UP after 3 checks")
        check(all(st[n]["chkfail"] == "0" for n in st),
              "failed checks: %r" % {n: st[n]["chkfail"] for n in st})
        summary.append("health checks: " + ", ".join(
            "%s %s/%s" % (n, st[n]["status"], st[n]["check_status"])
            for n in sorted(st)))

        # Clients through HAProxy: served by both, each line naming the
        # client itself.
        summary.append("%d clients from %s while both are UP:" % (FIRST_ROUND,
                                                                   CLIENT_ADDR))
        served = round_of(hp, daemons, FIRST_ROUND, "first", summary)
        by = {n: sorted(p for p, x in served.items() if x == n) for n in daemons}
        check(all(by[n] for n in daemons),
              "not served by both instances: %r" % by)
        summary.append("served: " + "; ".join("%s %d (client ports %s)" % (
            n, len(by[n]), " ".join(map(str, by[n]))) for n in sorted(by)))
        stot = {n: int(r["stot"]) for n, r in hp.server_stats().items()}
        for n, d in sorted(daemons.items()):
            summary.append(status_line(n, d))

        # One instance goes: HAProxy marks it DOWN, the rest go to the other.
        t0 = time.time()
        daemons["n1"].stop()
        st = hp.wait_states({"n1": ("DOWN", None), "n2": ("UP", {"L4OK"})}, 10,
                            "n1 DOWN after its stop")
        summary.append("n1 stopped: HAProxy had it %s/%s after %.2f s "
                       "(n2 %s/%s)" % (st["n1"]["status"], st["n1"]["check_status"],
                                       time.time() - t0, st["n2"]["status"],
                                       st["n2"]["check_status"]))
        m = re.search(r"(?m)^\[WARNING\].*(Server netlabd/n1 is DOWN, reason: "
                      r"[^,]*, info: \"[^\"]*\")", hp.output())
        if m:
            summary.append("  HAProxy: " + m.group(1))
        served2 = round_of(hp, daemons, SECOND_ROUND, "second", [])
        check(set(served2.values()) == {"n2"}, "after n1's stop: %r" % served2)
        st = hp.server_stats()
        check(int(st["n1"]["stot"]) == stot["n1"],
              "HAProxy sent %d sessions to n1 after it was DOWN"
              % (int(st["n1"]["stot"]) - stot["n1"]))
        check(int(st["n2"]["stot"]) == stot["n2"] + SECOND_ROUND,
              "n2 had %d sessions more, not %d" % (int(st["n2"]["stot"]) - stot["n2"],
                                                   SECOND_ROUND))
        summary.append("%d clients after n1 went DOWN: all served by n2, none "
                       "failed (HAProxy: n1 stot %s, econ %s; n2 stot %s, econ %s)"
                       % (SECOND_ROUND, st["n1"]["stot"], st["n1"]["econ"],
                          st["n2"]["stot"], st["n2"]["econ"]))

        summary.append(status_line("n2", daemons["n2"]))
        hp.stop()
        daemons["n2"].stop()
        for n, d in sorted(daemons.items()):
            count, ends = check_health_sessions(d, n)
            summary.append("%s: %d health-check sessions from HAProxy's 127.0.0.1 "
                           "(PROXY LOCAL): each opened (the handler's open ran), "
                           "in=0 out=0, ended %s; no [error] in the log"
                           % (n, count, "/".join(ends)))
        ok = True
    finally:
        if hp is not None:
            hp.kill()
        for n, d in sorted(daemons.items()):
            if not ok and d.proc is not None:
                print("--- netlabd %s log:\n%s" % (n, d.text()))
            d.kill()
            shutil.rmtree(d.dir, ignore_errors=True)
        if not ok and hp is not None:
            print("--- haproxy config:\n%s--- haproxy output:\n%s"
                  % (open(hp.cfg).read() if os.path.exists(hp.cfg) else "",
                     hp.output()))
        shutil.rmtree(tmp, ignore_errors=True)
        if not ok and summary:
            print("--- checked before the failure:")
        print("\n".join(summary))


run(main)
