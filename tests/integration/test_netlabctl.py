"""netlabctl against the real daemon and against a scripted fake one.

The real daemon checks the status table after known traffic, --json
against the control socket's own answer, -s over NETLABD_CONTROL, an
unknown command (exit 1), stop (exit 0, the daemon exits) and, when the
daemon knows them, reload and log-reopen.  The fake daemon, a unix socket
served by this script, sends answers the real one cannot be made to send
on demand (a refused reload, draining processes, big counters, garbage)
and shows what netlabctl wrote on the socket.  Unreachable sockets (none
there, a plain file) must give exit 2 and name the socket.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (NETLABCTL, Daemon, check, dgram_exchange, fail,  # noqa: E402
                     run, stream_exchange)
from clitest import cleanup, pid_alive, wait_until  # noqa: E402


TABLE_HEADER = ["NAME", "TRANSPORT", "ADDRESS", "MODEL", "WORKERS", "HANDLER",
                "ACTIVE", "TOTAL", "REFUSED", "DENIED", "LIMITED", "IN", "OUT",
                "ERRORS"]


def ctl(args, env=None, timeout=45):
    """Runs netlabctl with NETLABD_CONTROL unset unless env sets it;
    returns (rc, stdout, stderr)."""
    e = dict(os.environ)
    e.pop("NETLABD_CONTROL", None)
    e.update(env or {})
    try:
        p = subprocess.run([NETLABCTL] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=e)
    except subprocess.TimeoutExpired:
        fail("netlabctl %s did not end within %s s" % (" ".join(args), timeout))
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    # A sanitizer build reports on stderr; that is a failure wherever it is.
    check(not re.search(r"AddressSanitizer|LeakSanitizer|runtime error:", err),
          "netlabctl %s: sanitizer report:\n%s" % (" ".join(args), err))
    return p.returncode, out, err


def expect(args, rc, env=None):
    got, out, err = ctl(args, env)
    check(got == rc, "netlabctl %s exited %d, expected %d\nstdout: %s\nstderr: %s"
          % (" ".join(args), got, rc, out, err))
    return out, err


def split_row(line):
    # Cells are separated by two spaces or more; "18 B" holds only one.
    return re.split(r"\s{2,}", line.strip())


def parse_status(out):
    """The header fields and the listener rows of `netlabctl status`."""
    head, rows, lines = {}, [], out.split("\n")
    i = 0
    while i < len(lines) and lines[i]:
        key, _, value = lines[i].partition(":")
        head[key] = value.strip()
        i += 1
    i += 1
    check(i < len(lines) and split_row(lines[i]) == TABLE_HEADER,
          "no table header in:\n" + out)
    i += 1
    while i < len(lines) and lines[i]:
        rows.append(split_row(lines[i]))
        i += 1
    return head, rows, lines[i:]


# --- the fake daemon -------------------------------------------------------

class Fake:
    """A unix socket that answers one client with `answer` (bytes, or
    None to hang up without a word) and records the bytes it got."""

    def __init__(self, answer):
        self.dir = tempfile.mkdtemp(prefix="netlabctl-it-")
        self.path = os.path.join(self.dir, "fake.sock")
        self.answer = answer
        self.got = b""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(30)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        c.settimeout(30)
        try:
            while not self.got.endswith(b"\n"):
                chunk = c.recv(4096)
                if not chunk:
                    break
                self.got += chunk
            if self.answer is not None:
                c.sendall(self.answer)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.thread.join(5)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def with_fake(answer, args, rc):
    f = Fake(answer)
    try:
        out, err = expect(["-s", f.path] + args, rc)
        f.thread.join(5)
        return out, err, f.got
    finally:
        f.close()


def test_fake_answers():
    # What goes on the wire: the command and one newline.
    _, _, got = with_fake(b'{"ok": true}\n', ["stop"], 0)
    check(got == b"stop\n", "netlabctl sent %r" % got)

    out, _, _ = with_fake(b'{"ok": true, "generation": 7}\n', ["reload"], 0)
    check(out == "reloaded (generation 7)\n", "reload said %r" % out)
    out, _, _ = with_fake(b'{"ok": true}\n', ["log-reopen"], 0)
    check(out == "log reopened\n", "log-reopen said %r" % out)
    out, _, _ = with_fake(b'{"commands": ["status", "stop"]}\n', ["help"], 0)
    check(out == "status\nstop\n", "help said %r" % out)
    out, _, _ = with_fake(b'{"commands": {"status": "what runs", "log-reopen": "new log"}}\n',
                          ["help"], 0)
    check(out == "status      what runs\nlog-reopen  new log\n", "help said %r" % out)

    # A refused reload: exit 1, the daemon's FILE:LINE: message on stderr.
    doc = b'{"ok": false, "error": "/etc/netlabd.conf:14: listeners.web.port: 70000 out of range (1-65535)"}\n'
    out, err, _ = with_fake(doc, ["reload"], 1)
    check(out == "", "refused reload printed %r" % out)
    check("netlabd.conf:14: listeners.web.port: 70000 out of range" in err,
          "refused reload: stderr %r" % err)
    out, err, _ = with_fake(doc, ["--json", "reload"], 1)
    check(json.loads(out) == json.loads(doc), "--json reload printed %r" % out)
    _, err, _ = with_fake(b'{"ok": false}\n', ["reload"], 1)
    check(err.startswith("netlabctl: reload: "), "ok false: %r" % err)
    # A control character in an error does not reach the terminal.
    _, err, _ = with_fake(b'{"error": "bad\\u001b[2Jthing"}\n', ["x"], 1)
    check("\x1b" not in err and "bad?[2Jthing" in err, "escape: %r" % err)

    # Bad answers are exit 2 and name the socket.
    for answer, why in ((b"garbage\n", "bad answer from"),
                        (b'{"a": 1\n', "bad answer from"),
                        (b'[1, 2]\n', "not a JSON object"),
                        (b"", "without answering"),
                        (None, "without answering")):
        f = Fake(answer)
        try:
            _, err = expect(["-s", f.path, "status"], 2)
            check(f.path in err and why in err, "answer %r: stderr %r" % (answer, err))
        finally:
            f.close()


def test_fake_status():
    st = {
        "pid": 4242, "version": "9.9.9", "uptime_s": 3 * 3600 + 2 * 60 + 5,
        "config": "/etc/netlabd.conf", "generation": 3,
        "last_reload": {"ok": False, "error": "/etc/netlabd.conf:7: unknown key",
                        "time": "2026-11-24T10:00:00Z"},
        "listeners": [
            {"name": "big", "transport": "tcp", "address": "[::1]:7001",
             "model": "threads", "workers": 8, "max_workers": 256,
             "workers_running": 12, "handler": "/opt/x.so",
             "connections_active": 12, "connections_total": 123456,
             "connections_refused": 9999, "connections_denied": 7,
             "connections_limited": 12345, "bytes_in": 5 * 1024 * 1024,
             "bytes_out": 3 * 1024 ** 3 + 1024 ** 3 // 2, "errors": 18446744073709551615,
             "serving": True},
            {"name": "caf\u00e9", "transport": "unix", "address": "/run/x.sock",
             "model": "prefork", "workers": 4, "handler": "greeter",
             "connections_active": 0, "connections_total": 0,
             "connections_refused": 0, "bytes_in": 1023, "bytes_out": 1536,
             "errors": 0, "serving": False},
        ],
        "draining": [{"listener": "big", "pid": 4300, "generation": 2,
                      "connections_active": 5}],
    }
    out, _, _ = with_fake((json.dumps(st) + "\n").encode(), ["status"], 0)
    head, rows, rest = parse_status(out)
    want_head = {"pid": "4242", "version": "9.9.9", "uptime": "3h 2m",
                 "config": "/etc/netlabd.conf", "generation": "3",
                 "last reload": "failed at 2026-11-24T10:00:00Z: "
                                "/etc/netlabd.conf:7: unknown key"}
    check(head == want_head, "status header %r, expected %r" % (head, want_head))
    want_rows = [
        # A pool that grows: running/max; without those (an older daemon),
        # workers; without the access counters, "-".
        ["big", "tcp", "[::1]:7001", "threads", "12/256", "/opt/x.so", "12", "123.5k",
         "9999", "7", "12.3k", "5.0 MiB", "3.5 GiB", "18.4E"],
        ["caf\u00e9", "unix", "/run/x.sock", "prefork", "4", "greeter", "0", "0",
         "0", "-", "-", "1023 B", "1.5 KiB", "0"],
    ]
    check(rows == want_rows, "status rows:\n%r\nexpected\n%r\n%s" % (rows, want_rows, out))
    # Columns line up: every row is as long as the header (é is one column).
    table = out.split("\n\n")[1].split("\n")[:3]
    check(len(table[1]) == len(table[0]), "numbers are not right-aligned:\n" + out)
    rest = "\n".join(rest)
    check("caf\u00e9 is not serving" in rest, "not-serving note missing:\n" + out)
    check(re.search(r"draining:\nLISTENER\s+PID\s+GENERATION\s+ACTIVE\n"
                    r"big\s+4300\s+2\s+5\n", rest), "draining table:\n" + out)

    # Uptime forms.
    for secs, text in ((5, "5s"), (65, "1m 5s"), (3600, "1h 0m"),
                       (2 * 86400 + 3 * 3600 + 7, "2d 3h")):
        out, _, _ = with_fake(json.dumps({"uptime_s": secs, "listeners": []}).encode(),
                              ["status"], 0)
        check(parse_status(out)[0]["uptime"] == text, "uptime %d: %r" % (secs, out))


# --- without a daemon --------------------------------------------------------

def test_usage():
    out, _ = expect(["--help"], 0)
    for word in ("status", "reload", "stop", "log-reopen", "help", "--json",
                 "-s", "NETLABD_CONTROL", "Exit status",
                 os.environ.get("NL_rundir", "/run/netlabd") + "/control.sock"):
        check(word in out, "--help does not mention %r:\n%s" % (word, out))
    out2, _ = expect(["-h"], 0)
    check(out2 == out, "-h and --help differ")
    out, _ = expect(["-V"], 0)
    check(re.match(r"^netlabctl \d+\.\d+\.\d+\n$", out), "-V printed %r" % out)
    for args, why in (([], "no command"), (["status", "stop"], "one command"),
                      (["--bogus", "status"], "usage"), (["-s"], "usage"),
                      (["sta\ntus"], "one line")):
        _, err = expect(args, 2)
        check(why in err and "usage:" in err, "%r: stderr %r" % (args, err))


def test_unreachable():
    tmp = tempfile.mkdtemp(prefix="netlabctl-it-")
    try:
        missing = os.path.join(tmp, "none.sock")
        _, err = expect(["-s", missing, "status"], 2)
        check(err == "netlabctl: cannot connect to %s: No such file or directory\n"
              % missing, "missing socket: %r" % err)
        plain = os.path.join(tmp, "plain")
        with open(plain, "w") as f:
            f.write("not a socket\n")
        _, err = expect(["-s", plain, "status"], 2)
        check(err.startswith("netlabctl: cannot connect to %s: " % plain),
              "plain file: %r" % err)
        # A socket file with nobody listening behind it.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale = os.path.join(tmp, "stale.sock")
        s.bind(stale)
        s.close()
        _, err = expect(["-s", stale, "status"], 2)
        check(err == "netlabctl: cannot connect to %s: Connection refused\n" % stale,
              "stale socket: %r" % err)
        _, err = expect(["-s", "/" + "x" * 200, "status"], 2)
        check("cannot connect to /xxx" in err, "long path: %r" % err)
        # NETLABD_CONTROL is used without -s, and named when it fails.
        _, err = expect(["status"], 2, env={"NETLABD_CONTROL": missing})
        check(missing in err, "NETLABD_CONTROL not used: %r" % err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- the real daemon ---------------------------------------------------------

def counters_settle(d, want):
    def ok():
        st = d.status()
        ls = {l["name"]: l for l in st["listeners"]}
        return all(ls[n][k] == v for n, kv in want.items() for k, v in kv.items())
    check(wait_until(ok, 5), "counters never reached %r: %r" % (want, d.status()))


def test_status_table(d):
    check(stream_exchange(d, "echo", b"hello\n") == b"hello\n", "echo")
    check(stream_exchange(d, "echo", b"x" * 3000) == b"x" * 3000, "echo 3000")
    check(dgram_exchange(d, "up", b"abc") == b"ABC", "upper")
    check(stream_exchange(d, "ustream", b"12345") == b"12345", "unix echo")
    counters_settle(d, {
        "echo": dict(connections_total=2, bytes_in=3006, bytes_out=3006,
                     connections_active=0),
        "up": dict(bytes_in=3, bytes_out=3),
        "ustream": dict(connections_total=1, bytes_in=5, bytes_out=5,
                        connections_active=0),
    })
    st = d.status()
    out, err = expect(["-s", d.control, "status"], 0)
    check(err == "", "status wrote to stderr: %r" % err)
    head, rows, _ = parse_status(out)
    check(head.get("pid") == str(d.proc.pid), "pid line %r" % head)
    check(head.get("version") == st["version"], "version line %r" % head)
    check(head.get("config") == d.conf, "config line %r" % head)
    check(head.get("generation") == "1", "generation line %r" % head)
    check(head.get("last reload") == "none", "last reload line %r" % head)
    check(re.match(r"^\d+s$", head.get("uptime", "")), "uptime line %r" % head)
    ls = {l["name"]: l for l in st["listeners"]}
    want = {
        "echo": ["echo", "tcp", ls["echo"]["address"], "libev", "1", "echo",
                 "0", "2", "0", "0", "0", "2.9 KiB", "2.9 KiB", "0"],
        "up": ["up", "udp", ls["up"]["address"], "libev", "1", "upper",
               "0", str(ls["up"]["connections_total"]), "0", "0", "0", "3 B", "3 B",
               "0"],
        "ustream": ["ustream", "unix", d.path("echo.sock"), "libev", "1", "echo",
                    "0", "1", "0", "0", "0", "5 B", "5 B", "0"],
    }
    check(len(rows) == 3, "%d rows:\n%s" % (len(rows), out))
    for row in rows:
        check(row == want.get(row[0]), "row %r, expected %r" % (row, want.get(row[0])))


def test_json(d):
    out, _ = expect(["-s", d.control, "--json", "status"], 0)
    check(out.endswith("}\n") and out.count("\n") == 1, "--json output %r" % out)
    mine = json.loads(out)
    theirs = d.status()
    check(set(mine) == set(theirs), "keys %r vs %r" % (sorted(mine), sorted(theirs)))
    for k in theirs:
        if k == "uptime_s":
            check(abs(mine[k] - theirs[k]) <= 1, "uptime %r vs %r" % (mine[k], theirs[k]))
        else:
            check(mine[k] == theirs[k], "%s: %r vs %r" % (k, mine[k], theirs[k]))
    # The option may follow the command.
    out2, _ = expect(["-s", d.control, "status", "--json"], 0)
    check(json.loads(out2)["pid"] == d.proc.pid, "status --json")


def test_socket_choice(d):
    bogus = d.path("no-such.sock")
    out, _ = expect(["-s", d.control, "--json", "status"], 0,
                    env={"NETLABD_CONTROL": bogus})
    check(json.loads(out)["pid"] == d.proc.pid, "-s did not win over NETLABD_CONTROL")
    out, _ = expect(["--json", "status"], 0, env={"NETLABD_CONTROL": d.control})
    check(json.loads(out)["pid"] == d.proc.pid, "NETLABD_CONTROL not used")
    _, err = expect(["status"], 2, env={"NETLABD_CONTROL": bogus})
    check(bogus in err, "NETLABD_CONTROL path not named: %r" % err)


def test_errors_and_help(d):
    out, err = expect(["-s", d.control, "frobnicate"], 1)
    check(out == "", "unknown command printed %r" % out)
    check(err.startswith("netlabctl: frobnicate: ") and "unknown command" in err,
          "unknown command: stderr %r" % err)
    out, err = expect(["-s", d.control, "--json", "frobnicate"], 1)
    check(isinstance(json.loads(out).get("error"), str), "--json error %r" % out)
    out, _ = expect(["-s", d.control, "help"], 0)
    cmds = [line.split()[0] for line in out.splitlines() if line]
    check("status" in cmds and "stop" in cmds, "help printed %r" % out)


def unknown_to_daemon(rc, err):
    """True if netlabctl failed because the daemon does not know the
    command yet (reload and log-reopen are being added)."""
    return rc == 1 and "unknown command" in err


def check_reload(d):
    rc, out, err = ctl(["-s", d.control, "reload"])
    if unknown_to_daemon(rc, err):
        print("note: the daemon does not know reload yet; its checks skipped")
        return
    check(rc == 0 and out == "reloaded (generation 2)\n",
          "reload exited %d, printed %r, stderr %r" % (rc, out, err))
    head = parse_status(expect(["-s", d.control, "status"], 0)[0])[0]
    check(head["generation"] == "2", "generation after reload %r" % head)
    check(re.match(r"^ok at \d{4}-\d\d-\d\dT", head["last reload"]),
          "last reload %r" % head["last reload"])
    with open(d.conf) as f:
        good = f.read()
    with open(d.conf, "a") as f:
        f.write("no_such_key = 1;\n")
    out, err = expect(["-s", d.control, "reload"], 1)
    check(out == "", "refused reload printed %r" % out)
    check(re.search(r"^netlabctl: reload: .*netlabd\.conf:\d+: ", err),
          "refused reload: stderr %r" % err)
    head = parse_status(expect(["-s", d.control, "status"], 0)[0])[0]
    check(head["generation"] == "2", "generation after refusal %r" % head)
    check(head["last reload"].startswith("failed at ") and
          "netlabd.conf:" in head["last reload"],
          "last reload %r" % head["last reload"])
    with open(d.conf, "w") as f:
        f.write(good)


def check_log_reopen(d):
    moved = d.logfile + ".1"
    os.rename(d.logfile, moved)
    rc, out, err = ctl(["-s", d.control, "log-reopen"])
    if unknown_to_daemon(rc, err):
        os.rename(moved, d.logfile)
        print("note: the daemon does not know log-reopen yet; its checks skipped")
        return
    check(rc == 0 and out == "log reopened\n",
          "log-reopen exited %d, printed %r, stderr %r" % (rc, out, err))
    check(wait_until(lambda: os.path.exists(d.logfile), 3),
          "log-reopen did not open %s again" % d.logfile)


def test_reload_and_reopen():
    # A refused reload logs an error: this daemon is allowed to.
    d = Daemon([{"name": "echo", "transport": "tcp", "handler": "echo"}],
               expect_errors=True)
    d.start()
    try:
        check_reload(d)
        check_log_reopen(d)
        d.stop()
    except BaseException:
        cleanup(d)
        raise


def test_stop():
    d = Daemon([{"name": "echo", "transport": "tcp", "handler": "echo"}])
    d.start()
    try:
        pid = d.proc.pid
        out, err = expect(["-s", d.control, "stop"], 0)
        check(out == "stopping\n", "stop printed %r (stderr %r)" % (out, err))
        try:
            rc = d.proc.wait(15)
        except subprocess.TimeoutExpired:
            fail("netlabd still running 15 s after netlabctl stop")
        check(rc == 0, "netlabd exited %d after stop:\n%s" % (rc, d.log()))
        check(not pid_alive(pid), "netlabd %d still alive" % pid)
        check(not os.path.exists(d.control), "control socket left behind")
        d.output = d.proc.stdout.read().decode(errors="replace")
        d.check_log()
        _, err = expect(["-s", d.control, "status"], 2)
        check(d.control in err, "after stop: %r" % err)
    finally:
        cleanup(d)


def main():
    if not os.access(NETLABCTL, os.X_OK):
        fail("no netlabctl at %s (set NETLABCTL)" % NETLABCTL)
    test_usage()
    test_unreachable()
    test_fake_answers()
    test_fake_status()
    d = Daemon([{"name": "echo", "transport": "tcp", "handler": "echo"},
                {"name": "up", "transport": "udp", "handler": "upper"},
                {"name": "ustream", "transport": "unix", "path": "echo.sock",
                 "handler": "echo"}])
    d.start()
    try:
        test_status_table(d)
        test_json(d)
        test_socket_choice(d)
        test_errors_and_help(d)
        d.stop()
    except BaseException:
        cleanup(d)
        raise
    test_reload_and_reopen()
    test_stop()


run(main)
