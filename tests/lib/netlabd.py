"""Test harness for netlabd integration tests.

Starts the real netlabd binary on a config written to a fresh temporary
folder (listeners on 127.0.0.1 port 0, unix sockets inside the folder),
waits until the control socket reports every listener serving, and stops
it again, checking that it exited 0, left no process behind and logged no
sanitizer report or unexpected error.

Environment (set by `make check`): NETLABD (the binary), NETLABD_PLUGIN_DIR
(the built handlers), NETLABD_TEST_PLUGIN_DIR (the test handlers).
Every wait here is bounded.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
NETLABD = os.environ.get("NETLABD", os.path.join(TOP, "build", "daemon", "netlabd"))
# netlabctl: NETLABCTL, or the one built beside NETLABD.
NETLABCTL = os.environ.get("NETLABCTL") or os.path.join(
    os.path.dirname(os.path.dirname(NETLABD)), "ctl", "netlabctl")
PLUGIN_DIR = os.environ.get("NETLABD_PLUGIN_DIR", os.path.join(TOP, "build", "plugins", ".libs"))
TEST_PLUGIN_DIR = os.environ.get("NETLABD_TEST_PLUGIN_DIR",
                                 os.path.join(TOP, "build", "tests", "plugins", ".libs"))

SKIP = 77

# Without `user`, a netlabd started as root runs handlers as the netlabd
# account when the machine has one (the Debian package creates it).  The
# tests were written for handlers running as whoever started netlabd, and
# must pass whether or not the account exists: through netlabd's test-suite
# variable they name one that cannot exist, unless a test sets its own
# (test_operator.py tries both).  netlabd refuses a name with uid 0 there
# and logs that the default account was replaced.
DEFAULT_USER_ENV = "NETLABD_TESTSUITE_DEFAULT_USER"
NO_SUCH_USER = "netlabd-test-no-such-user"
os.environ.setdefault(DEFAULT_USER_ENV, NO_SUCH_USER)

# Log lines that always mean a bug, whatever the test expects.
BAD_LOG = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|"
                     r"UndefinedBehaviorSanitizer|killed by signal")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def conf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):
        return "{ " + " ".join("%s = %s;" % (k, conf_value(x)) for k, x in v.items()) + " }"
    return json.dumps(v)  # a libconfig string is a JSON string


class Daemon:
    """One netlabd instance. listeners: list of dicts of listener keys;
    a unix `path` that is relative lands in the temp folder; tcp/udp get
    address 127.0.0.1 and port 0 unless given."""

    def __init__(self, listeners, shutdown_timeout=2, log_level="info",
                 extra=None, expect_errors=False):
        self.dir = tempfile.mkdtemp(prefix="netlabd-it-")
        self.conf = os.path.join(self.dir, "netlabd.conf")
        self.control = os.path.join(self.dir, "control.sock")
        self.pidfile = os.path.join(self.dir, "netlabd.pid")
        self.logfile = os.path.join(self.dir, "netlabd.log")
        self.listeners = listeners
        self.expect_errors = expect_errors
        self.proc = None
        top = {
            "log_target": self.logfile,
            "log_level": log_level,
            "pidfile": self.pidfile,
            "control": self.control,
            "plugin_dir": PLUGIN_DIR,
            "shutdown_timeout": shutdown_timeout,
        }
        top.update(extra or {})
        with open(self.conf, "w") as f:
            for k, v in top.items():
                f.write("%s = %s;\n" % (k, conf_value(v)))
            f.write("listeners = (\n")
            items = []
            for l in listeners:
                l = dict(l)
                l.setdefault("model", "libev")
                if l["transport"] in ("tcp", "udp"):
                    l.setdefault("address", "127.0.0.1")
                    l.setdefault("port", 0)
                items.append("  { " + " ".join("%s = %s;" % (k, conf_value(v))
                                               for k, v in l.items()) + " }")
            f.write(",\n".join(items) + "\n);\n")

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, timeout=15):
        self.proc = subprocess.Popen([NETLABD, "-f", "-c", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail("netlabd exited with %d at start:\n%s\n%s" % (
                    self.proc.returncode, self.proc.stdout.read().decode(), self.log()))
            try:
                st = self.status()
                if all(l.get("serving") for l in st["listeners"]):
                    self.status_at_start = st
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        self.kill()
        fail("netlabd not ready within %d s:\n%s" % (timeout, self.log()))

    def command(self, cmd, timeout=5):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.control)
            s.sendall(cmd.encode() + b"\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        return json.loads(data.decode())

    def status(self):
        return self.command("status")

    def listener(self, name):
        for l in self.status()["listeners"]:
            if l["name"] == name:
                return l
        fail("no listener %s in status" % name)

    def addr(self, name):
        """(family, address) to connect to listener `name`."""
        for l in self.listeners:
            if l["name"] == name:
                break
        else:
            fail("no listener " + name)
        address = self.listener(name)["address"]
        if l["transport"] in ("unix", "unix-dgram"):
            return socket.AF_UNIX, address
        host, port = address.rsplit(":", 1)
        if host.startswith("["):
            return socket.AF_INET6, (host[1:-1], int(port))
        return socket.AF_INET, (host, int(port))

    def children(self):
        """pids of the daemon's child processes."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    out.append(int(pid))
            except (OSError, IndexError):
                pass
        return out

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.log()):
                return True
            time.sleep(0.05)
        fail("log never matched %r:\n%s" % (pattern, self.log()))

    def stop(self, timeout=None):
        """SIGTERM; asserts a clean exit, no process left, files removed."""
        if timeout is None:
            timeout = 10
        kids = self.children()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            fail("netlabd did not stop within %s s" % timeout)
        out = self.proc.stdout.read().decode(errors="replace")
        self.output = out
        check(rc == 0, "netlabd exited %d:\n%s\n%s" % (rc, out, self.log()))
        for pid in kids:
            check(not os.path.exists("/proc/%d" % pid) or _is_zombie_gone(pid),
                  "serving process %d survived the stop" % pid)
        for name in os.listdir(self.dir):
            check(not name.endswith(".sock") and name != "netlabd.pid",
                  "%s left behind after stop" % name)
        self.check_log()
        shutil.rmtree(self.dir, ignore_errors=True)

    def check_log(self):
        # Sanitizer reports go to stderr, the log to the log file.
        text = self.log() + getattr(self, "output", "")
        m = BAD_LOG.search(text)
        check(m is None, "log shows %r:\n%s" % (m and m.group(0), text))
        if not self.expect_errors:
            check("[error]" not in text, "unexpected error in log:\n" + text)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            for pid in self.children():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.kill()
            self.proc.wait(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            self.kill()
            print(self.log())
            return False
        self.stop()
        return False


def _is_zombie_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def connect(d, name, timeout=5):
    family, addr = d.addr(name)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(addr)
    return s


def metrics(d):
    """`netlabctl metrics` against d: the Prometheus text it printed."""
    p = subprocess.run([NETLABCTL, "-s", d.control, "metrics"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    check(p.returncode == 0, "netlabctl metrics exited %d: %s"
          % (p.returncode, p.stderr.decode()))
    return p.stdout.decode()


def free_ports(n, kind=socket.SOCK_STREAM):
    """n distinct ports free on 127.0.0.1 just now (tcp, or udp)."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def recv_all(s, limit=64 << 20):
    data = b""
    while len(data) < limit:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    return data


def stream_exchange(d, name, payload, timeout=10):
    """Sends payload, half-closes, returns all the server sent back."""
    s = connect(d, name, timeout)
    try:
        import threading
        got = []
        t = threading.Thread(target=lambda: got.append(recv_all(s)))
        t.start()
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        t.join(timeout)
        check(not t.is_alive(), "no end of answer from %s within %s s" % (name, timeout))
        return got[0]
    finally:
        s.close()


def dgram_exchange(d, name, payload, timeout=5, expect_reply=True):
    family, addr = d.addr(name)
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(timeout if expect_reply else 0.5)
    client_path = None
    try:
        if family == socket.AF_UNIX:
            client_path = tempfile.mktemp(prefix="c", suffix=".sock", dir=d.dir)
            s.bind(client_path)
        s.sendto(payload, addr)
        try:
            return s.recv(1 << 17)
        except socket.timeout:
            if expect_reply:
                fail("no reply from %s" % name)
            return None
    finally:
        s.close()
        if client_path and os.path.exists(client_path):
            os.unlink(client_path)


def listening_inode(port):
    """The inode of the tcp socket listening on port, or None."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                return fields[9]
    return None


def serving_pids(d, name):
    """The daemon's child processes that hold tcp listener name's socket,
    sorted."""
    port = d.addr(name)[1][1]
    inode = listening_inode(port)
    check(inode is not None, "%s: nothing listens on port %d" % (name, port))
    target = "socket:[%s]" % inode
    pids = []
    for pid in d.children():
        try:
            if any(os.readlink("/proc/%d/fd/%s" % (pid, fd)) == target
                   for fd in os.listdir("/proc/%d/fd" % pid)):
                pids.append(pid)
        except OSError:
            pass
    return sorted(pids)


def threads_of(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))


def wait_status(d, name, pred, timeout, what):
    """Polls listener `name` in status until pred(listener) holds; fails
    after timeout seconds saying `what` did not happen."""
    deadline = time.time() + timeout
    while True:
        l = d.listener(name)
        if pred(l):
            return l
        if time.time() > deadline:
            fail("%s: %s within %s s; status: %r" % (name, what, timeout, l))
        time.sleep(0.05)


def round_trip(s, msg, what, timeout=5):
    """Sends msg, reads exactly len(msg) bytes back; fails unless the echo."""
    s.settimeout(timeout)
    s.sendall(msg)
    got = b""
    try:
        while len(got) < len(msg):
            chunk = s.recv(len(msg) - len(got))
            check(chunk, "%s: EOF after %r waiting for the echo of %r" % (what, got, msg))
            got += chunk
    except socket.timeout:
        fail("%s: no echo of %r within %s s (got %r)" % (what, msg, timeout, got))
    except ConnectionResetError:
        fail("%s: reset waiting for the echo of %r" % (what, msg))
    check(got == msg, "%s: sent %r, got back %r" % (what, msg, got))


def run(main):
    """Runs a test function; prints PASS and exits 0 unless it failed."""
    main()
    print("PASS")
    sys.exit(0)
