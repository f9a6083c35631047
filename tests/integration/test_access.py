"""Who may connect: allow and deny rules and per-source limits, under every
model and transport, with clients bound to different loopback addresses
(the whole of 127/8 is loopback), ::1 and a v4-mapped peer of a dual-stack
socket, and unix clients run as another user (setpriv); a reload that
changes the rules with a session open; per-source limits with several
processes serving one listener, and given back when one of them is killed."""
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (Daemon, check, fail, round_trip, run,  # noqa: E402
                     wait_status)

MODELS = ["libev", "threads", "prefork"]
PYTHON = sys.executable
SETPRIV = "/usr/bin/setpriv"


def tcp_from(d, name, src, family=socket.AF_INET):
    """A connection to listener name from address src."""
    fam, addr = d.addr(name)
    if family == socket.AF_INET6 and fam == socket.AF_INET:
        addr = ("::ffff:" + addr[0], addr[1]) if src != "::1" else ("::1", addr[1])
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(addr)
    return s


def served(s, what):
    """The connection answers an echo."""
    round_trip(s, b"hello\n", what)


def refused(s, what):
    """The connection is closed at once, nothing read."""
    s.settimeout(5)
    try:
        s.sendall(b"hello\n")
        data = s.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    except socket.timeout:
        fail("%s: still open after 5 s; it should have been refused" % what)
    check(data == b"", "%s: answered %r; it should have been refused" % (what, data))
    s.close()


def echoes(s):
    """1 when the connection echoes a line (and stays open); 0, without a
    failure, when it is refused."""
    s.settimeout(5)
    try:
        s.sendall(b"hello\n")
        return s.recv(100) == b"hello\n"
    except OSError:
        return False


def wait_count(d, name, key, n, what):
    wait_status(d, name, lambda l: l[key] >= n, 5, "%s (%s reaching %d)" % (what, key, n))


def test_tcp_rules(model):
    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo",
                 "model": model, "workers": 2,
                 "allow": ["127.0.0.0/30", "127.0.0.8"],
                 "deny": ["127.0.0.3"]}])
    with d:
        served(tcp_from(d, "e", "127.0.0.1"), model + " 127.0.0.1 in 127.0.0.0/30")
        served(tcp_from(d, "e", "127.0.0.2"), model + " 127.0.0.2")
        refused(tcp_from(d, "e", "127.0.0.3"), model + " 127.0.0.3 (deny wins)")
        refused(tcp_from(d, "e", "127.0.0.4"), model + " 127.0.0.4 (past the /30)")
        served(tcp_from(d, "e", "127.0.0.8"), model + " 127.0.0.8")
        refused(tcp_from(d, "e", "127.0.0.9"), model + " 127.0.0.9")
        l = wait_status(d, "e", lambda l: l["connections_denied"] >= 3, 5,
                        model + ": three denied")
        check(l["connections_denied"] == 3, "%s: denied %r" % (model, l))
        check(l["connections_refused"] == 0 and l["connections_limited"] == 0,
              "%s: other counters moved: %r" % (model, l))
        d.wait_log(r"listener e: connection from 127\.0\.0\.3 refused: allow/deny rules")
        # At most one line a second about refusals.
        check(d.log().count("refused: allow/deny") <= 2,
              model + ": refusals logged more than once a second:\n" + d.log())


def test_dual_stack(model):
    d = Daemon([{"name": "v6", "transport": "tcp", "handler": "echo",
                 "address": "::", "model": model, "workers": 2,
                 "allow": ["127.0.0.2", "::1"]}])
    with d:
        port = int(d.listener("v6")["address"].rsplit(":", 1)[1])
        for src, ok in (("127.0.0.2", True), ("127.0.0.3", False)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(5)
            s.bind((src, 0))
            s.connect(("127.0.0.2", port))
            (served if ok else refused)(s, "%s v4-mapped from %s" % (model, src))
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(("::1", port))
        served(s, model + " ::1")
        wait_count(d, "v6", "connections_denied", 1, model + " v4-mapped denied")


def udp_from(d, name, src, payload=b"ping"):
    fam, addr = d.addr(name)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.bind((src, 0))
    try:
        s.sendto(payload, addr)
        return s.recv(1024)
    except socket.timeout:
        return None
    finally:
        s.close()


def test_udp(model):
    d = Daemon([{"name": "u", "transport": "udp", "handler": "echo",
                 "model": model, "workers": 2, "deny": ["127.0.0.3"],
                 "max_connection_rate_per_source": 3}])
    with d:
        check(udp_from(d, "u", "127.0.0.2") == b"ping", model + ": udp from .2")
        check(udp_from(d, "u", "127.0.0.3") is None, model + ": udp from .3 answered")
        wait_count(d, "u", "connections_denied", 1, model + " udp denied")
        # The rate: three at once from one source, then dropped; another
        # source is not held back.
        fam, addr = d.addr("u")
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind(("127.0.0.4", 0))
        s.settimeout(1)
        for i in range(6):
            s.sendto(b"r%d" % i, addr)
        got = []
        try:
            while True:
                got.append(s.recv(1024))
        except socket.timeout:
            pass
        s.close()
        check(len(got) == 3, "%s: %d of 6 quick datagrams answered, want 3 (%r)"
              % (model, len(got), got))
        wait_count(d, "u", "connections_limited", 3, model + " udp limited")
        check(udp_from(d, "u", "127.0.0.5") == b"ping", model + ": udp from .5")


# --- unix: credentials ---------------------------------------------------

CLIENT = r"""
import socket, sys
kind, path, mine = sys.argv[1], sys.argv[2], sys.argv[3]
if kind == "unix":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    try:
        s.sendall(b"hi\n")
        if mine == "noreply":
            s.shutdown(socket.SHUT_WR)
        data = s.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
else:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.bind(mine)
    s.sendto(b"hi", path)
    try:
        data = s.recv(100)
    except socket.timeout:
        data = b""
    s.close()
    import os
    os.unlink(mine)
print("ANSWER=%r" % data)
"""


def as_user(user, kind, path, mine):
    """Runs the client as user (None: as we are); returns what it got."""
    cmd = [PYTHON, "-c", CLIENT, kind, path, mine]
    if user is not None:
        cmd = [SETPRIV, "--reuid=" + user, "--regid=" + user_group(user),
               "--clear-groups"] + cmd
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=20)
    out = p.stdout.decode()
    check(p.returncode == 0 and "ANSWER=" in out,
          "client as %s failed: %s %s" % (user, out, p.stderr.decode()))
    return out.split("ANSWER=", 1)[1].strip()


def user_group(user):
    import grp
    import pwd
    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name


def test_unix(model):
    for kind in ("unix", "unix-dgram"):
        d = Daemon([{"name": "x", "transport": kind, "handler": "echo",
                     "path": "x.sock", "mode": "0666", "model": model,
                     "workers": 2, "allow": ["uid:0", "user:nobody"],
                     "deny": ["user:nobody"]}])
        os.chmod(d.dir, 0o755)  # so that nobody reaches the socket
        with d:
            path = d.listener("x")["address"]
            mine_root = d.path("c-root.sock")
            got = as_user(None, kind, path, mine_root)
            check("hi" in got, "%s %s: root not served: %s" % (model, kind, got))
            mine_nobody = os.path.join(d.dir, "c-nobody")
            os.mkdir(mine_nobody)
            os.chmod(mine_nobody, 0o777)
            got = as_user("nobody", kind, path, os.path.join(mine_nobody, "c.sock"))
            check(got == "b''", "%s %s: nobody served though denied: %s"
                  % (model, kind, got))
            wait_count(d, "x", "connections_denied", 1,
                       "%s %s nobody denied" % (model, kind))
            d.wait_log(r"listener x: (connection|datagram) from uid 65534 refused")


def test_logger_uid(model):
    """The logger handler logs a unix stream peer's uid
    (netlabd_peer_cred()), and a tcp peer without one."""
    d = Daemon([{"name": "lg", "transport": "unix", "handler": "logger",
                 "path": "lg.sock", "mode": "0666", "model": model},
                {"name": "lt", "transport": "tcp", "handler": "logger",
                 "model": model}])
    os.chmod(d.dir, 0o755)
    with d:
        path = d.listener("lg")["address"]
        as_user("nobody", "unix", path, "noreply")
        d.wait_log(r"listener lg: .*connection from .* \(uid 65534, pid \d+\)")
        s = tcp_from(d, "lt", "127.0.0.2")
        s.sendall(b"x\n")
        s.close()
        d.wait_log(r"(?m)listener lt: .*connection from 127\.0\.0\.2:\d+$")
        check(not re.search(r"listener lt: .*uid", d.log()),
              model + ": a tcp peer logged with a uid:\n" + d.log())


# --- per-source limits -----------------------------------------------------

def test_per_source(model):
    # prefork: each session its own process, so the limit holds across
    # processes.
    d = Daemon([{"name": "p", "transport": "tcp", "handler": "echo",
                 "model": model, "workers": 4,
                 "max_connections_per_source": 2}])
    with d:
        held = [tcp_from(d, "p", "127.0.0.2") for _ in range(2)]
        for i, s in enumerate(held):
            served(s, "%s .2 session %d" % (model, i))
        refused(tcp_from(d, "p", "127.0.0.2"), model + " third from .2")
        other = tcp_from(d, "p", "127.0.0.3")
        served(other, model + " .3 alongside")
        wait_count(d, "p", "connections_limited", 1, model + " limited")
        held.pop().close()
        # Its place comes back once the daemon has seen the close.
        deadline = time.time() + 10
        while True:
            s = tcp_from(d, "p", "127.0.0.2")
            if echoes(s):
                held.append(s)
                break
            s.close()
            if time.time() > deadline:
                fail(model + ": .2 still limited 10 s after a session closed")
            time.sleep(0.1)
        for s in held + [other]:
            s.close()


class KillDaemon(Daemon):
    """Its log may show the one serving process the test kills."""

    def check_log(self):
        killed = "listener p: serving process killed by signal 9 (SIGKILL)"
        lines = self.log().splitlines(True)
        check(sum(killed in l for l in lines) == 1,
              "the kill is not in the log once:\n" + self.log())
        with open(self.logfile, "w") as f:
            f.write("".join(l for l in lines if killed not in l))
        Daemon.check_log(self)


def answers(s):
    """echoes(s), and s closed."""
    try:
        return echoes(s)
    finally:
        s.close()


def test_crash_gives_back():
    d = KillDaemon([{"name": "p", "transport": "tcp", "handler": "echo",
                     "model": "prefork", "workers": 3,
                     "max_connections_per_source": 1}])
    with d:
        s = tcp_from(d, "p", "127.0.0.2")
        served(s, "prefork .2 held")
        refused(tcp_from(d, "p", "127.0.0.2"), "prefork second from .2")
        # The process serving s, killed while it holds .2's one place.
        victim = serving_pid_of(d, s.getsockname()[1])
        check(victim is not None, "no serving process holds the connection")
        os.kill(victim, signal.SIGKILL)
        s.close()
        deadline = time.time() + 10
        while not answers(tcp_from(d, "p", "127.0.0.2")):
            if time.time() > deadline:
                fail("prefork: .2 still limited 10 s after the process that "
                     "held its session was killed:\n" + d.log())
            time.sleep(0.2)


def serving_pid_of(d, client_port):
    """The child of d holding the server end of the tcp connection from
    client_port."""
    inode = None
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[2].split(":")[1], 16) == client_port:
                inode = fields[9]
    if inode is None:
        return None
    target = "socket:[%s]" % inode
    for pid in d.children():
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == target:
                    return pid
        except OSError:
            pass
    return None


def test_rate(model):
    d = Daemon([{"name": "r", "transport": "tcp", "handler": "echo",
                 "model": model, "workers": 2,
                 "max_connection_rate_per_source": 3}])
    with d:
        for i in range(3):
            s = tcp_from(d, "r", "127.0.0.2")
            served(s, "%s quick connection %d" % (model, i))
            s.close()
        refused(tcp_from(d, "r", "127.0.0.2"), model + " fourth within a second")
        served(tcp_from(d, "r", "127.0.0.3"), model + " another source")
        wait_count(d, "r", "connections_limited", 1, model + " rate limited")
        time.sleep(0.5)  # a third of a second gives one back
        s = tcp_from(d, "r", "127.0.0.2")
        served(s, model + " after the rate allows one more")
        d.wait_log(r"listener r: connection from 127\.0\.0\.2 refused: "
                   r"max_connection_rate_per_source")


# --- reload ----------------------------------------------------------------

def test_reload(model):
    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo",
                 "model": model, "workers": 2, "allow": ["127.0.0.2"],
                 "max_connections_per_source": 1}])
    with d:
        s = tcp_from(d, "e", "127.0.0.2")
        served(s, model + " before the reload")
        refused(tcp_from(d, "e", "127.0.0.2"), model + " second from .2")
        port = int(d.listener("e")["address"].rsplit(":", 1)[1])
        # The new file: deny .2, allow .3; the same socket.
        with open(d.conf) as f:
            text = f.read()
        text = text.replace('allow = ["127.0.0.2"];',
                            'allow = ["127.0.0.2", "127.0.0.3"]; '
                            'deny = ["127.0.0.2"];')
        text = text.replace("port = 0;", "port = %d;" % port)
        with open(d.conf, "w") as f:
            f.write(text)
        r = d.command("reload", timeout=20)
        check(r.get("ok") is True, "%s: reload failed: %r" % (model, r))
        # The open session goes on under the old rules...
        served(s, model + " the session open across the reload")
        # ...new ones meet the new rules.
        refused(tcp_from(d, "e", "127.0.0.2"), model + " .2 after the reload")
        t = tcp_from(d, "e", "127.0.0.3")
        served(t, model + " .3 after the reload")
        # .3's count survives a second reload: its second is limited.
        r = d.command("reload", timeout=20)
        refused(tcp_from(d, "e", "127.0.0.3"), model + " .3's second after reloads")
        t.close()
        s.close()


def main():
    as_other = os.geteuid() == 0 and os.access(SETPRIV, os.X_OK)
    if not as_other:
        print("not testing unix credentials: running a client as another "
              "user needs root and %s" % SETPRIV)
    for model in MODELS:
        test_tcp_rules(model)
        test_dual_stack(model)
        test_udp(model)
        if as_other:
            test_unix(model)
            test_logger_uid(model)
        test_per_source(model)
        test_rate(model)
        test_reload(model)
    test_crash_gives_back()


run(main)
