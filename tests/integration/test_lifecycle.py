"""Lifecycle: graceful stop by SIGTERM, SIGINT and the `stop` command;
draining with shutdown_timeout; daemonizing; refusing to start twice;
socket files (stale, foreign, mode); the log file's lines."""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (PLUGIN_DIR, Daemon, check, conf_value, connect,  # noqa: E402
                     fail, run, stream_exchange, dgram_exchange)
from clitest import (cleanup, children_of, kill_tree, pid_alive, run_netlabd,  # noqa: E402
                     wait_until, tempdir)

ECHO_LISTENERS = [
    {"name": "tcp", "transport": "tcp", "handler": "echo"},
    {"name": "ustream", "transport": "unix", "path": "echo.sock", "handler": "echo"},
    {"name": "udgram", "transport": "unix-dgram", "path": "dgram.sock", "handler": "echo"},
]


def leftovers(d):
    return [n for n in os.listdir(d.dir)
            if n.endswith(".sock") or n == "netlabd.pid" or ".tmp" in n]


def stop_with(d, how, timeout=10):
    """Stops d by a signal number or the string "stop" (control command)
    and checks the clean end as Daemon.stop() does; returns the seconds
    it took."""
    kids = d.children()
    check(kids, "no serving process before the stop")
    t0 = time.time()
    if how == "stop":
        ans = d.command("stop")
        check(isinstance(ans, dict) and "error" not in ans, "stop answered %r" % ans)
    else:
        d.proc.send_signal(how)
    try:
        rc = d.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        d.kill()
        fail("netlabd did not stop on %s within %s s:\n%s" % (how, timeout, d.log()))
    took = time.time() - t0
    out = d.proc.stdout.read().decode(errors="replace")
    check(rc == 0, "netlabd exited %d after %s:\n%s\n%s" % (rc, how, out, d.log()))
    for pid in kids:
        check(wait_until(lambda: not pid_alive(pid), 2),
              "serving process %d survived the stop (%s)" % (pid, how))
    check(not leftovers(d), "left behind after %s: %s" % (how, leftovers(d)))
    d.check_log()
    shutil.rmtree(d.dir, ignore_errors=True)
    return took


def exercise(d):
    check(stream_exchange(d, "tcp", b"abc\n") == b"abc\n", "tcp echo")
    check(stream_exchange(d, "ustream", b"def\n") == b"def\n", "unix echo")
    check(dgram_exchange(d, "udgram", b"ghi") == b"ghi", "unix-dgram echo")


def test_signals_and_stop():
    for how in (signal.SIGTERM, signal.SIGINT, "stop"):
        d = Daemon(ECHO_LISTENERS).start()
        try:
            exercise(d)
            took = stop_with(d, how)
            check(took < 3, "stop by %s with no session took %.1f s" % (how, took))
        finally:
            cleanup(d)


def test_ctrl_c_reaches_the_group():
    """Ctrl-C on `netlabd -f` sends SIGINT to the whole process group: the
    serving processes leave the stop to the master, so that none looks to
    it like a failure to restart (it logged errors and restarts before)."""
    listeners = [dict(l, model=m, name="%s-%s" % (l["name"], m))
                 for m in ("libev", "threads", "prefork")
                 for l in ECHO_LISTENERS[:1]]
    d = Daemon(listeners).start()
    try:
        kids = d.children()
        check(len(kids) >= 3, "serving processes: %r" % kids)
        # As a terminal does: to every process of the group, children first.
        for pid in kids:
            os.kill(pid, signal.SIGINT)
        time.sleep(0.3)  # a child that ended on it would be reaped by now
        check(all(pid_alive(pid) for pid in kids),
              "a serving process ended on SIGINT by itself:\n" + d.log())
        d.proc.send_signal(signal.SIGINT)
        try:
            rc = d.proc.wait(10)
        except subprocess.TimeoutExpired:
            fail("netlabd did not stop on SIGINT within 10 s:\n" + d.log())
        d.output = d.proc.stdout.read().decode(errors="replace")
        check(rc == 0, "netlabd exited %d after SIGINT:\n%s" % (rc, d.log()))
        check("restarting" not in d.log(), "restarts after Ctrl-C:\n" + d.log())
        d.check_log()  # no [error] line
        for pid in kids:
            check(wait_until(lambda: not pid_alive(pid), 2),
                  "serving process %d survived the stop" % pid)
    finally:
        cleanup(d)


def refused(d, name):
    family, addr = d.addr_cache[name]
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(addr)
        return False
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_idle_session_timeout():
    """An idle session is let run until shutdown_timeout, then closed."""
    d = Daemon(ECHO_LISTENERS[:2], shutdown_timeout=1).start()
    try:
        d.addr_cache = {n: d.addr(n) for n in ("tcp", "ustream")}
        idle = connect(d, "tcp")
        idle2 = connect(d, "ustream")
        check(wait_until(lambda: d.listener("tcp")["connections_active"] == 1 and
                         d.listener("ustream")["connections_active"] == 1, 3),
              "idle sessions not counted active: %r" % d.status())
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)
        # New connections are refused at once, while the old ones drain.
        check(wait_until(lambda: refused(d, "tcp") and refused(d, "ustream"), 0.8),
              "new connections still accepted after SIGTERM")
        check(d.proc.poll() is None, "netlabd exited at once with open idle sessions "
              "(after %.2f s); they should get shutdown_timeout" % (time.time() - t0))
        idle.settimeout(3)
        try:
            got = idle.recv(100)
        except ConnectionResetError:
            got = b""
        check(got == b"", "idle session got %r" % got)
        try:
            rc = d.proc.wait(3)
        except subprocess.TimeoutExpired:
            fail("netlabd still running 3 s after SIGTERM with shutdown_timeout 1")
        took = time.time() - t0
        check(rc == 0, "exit %d:\n%s" % (rc, d.log()))
        check(0.7 <= took <= 2.0, "stop with an idle session took %.2f s "
              "(shutdown_timeout = 1: expected 1 to 2 s)" % took)
        idle.close()
        idle2.close()
        check(wait_until(lambda: not children_of(d.proc.pid), 2), "children left")
        check(not leftovers(d), "left behind: %s" % leftovers(d))
        d.check_log()
    finally:
        cleanup(d)
        shutil.rmtree(d.dir, ignore_errors=True)


def test_session_finishes():
    """A session mid-exchange at SIGTERM is served to its end, and the
    daemon exits as soon as it ends, before shutdown_timeout."""
    d = Daemon(ECHO_LISTENERS[:1], shutdown_timeout=5).start()
    try:
        s = connect(d, "tcp")
        s.sendall(b"one\n")
        check(s.recv(100) == b"one\n", "echo before SIGTERM")
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        check(d.proc.poll() is None, "netlabd gave up an open session at once")
        s.sendall(b"two\n")
        got = b""
        while len(got) < 4:
            chunk = s.recv(100)
            if not chunk:
                break
            got += chunk
        check(got == b"two\n", "echo after SIGTERM got %r" % got)
        s.shutdown(socket.SHUT_WR)
        check(s.recv(100) == b"", "no end of session")
        s.close()
        try:
            rc = d.proc.wait(3)
        except subprocess.TimeoutExpired:
            fail("netlabd still running after its last session ended")
        took = time.time() - t0
        check(rc == 0, "exit %d:\n%s" % (rc, d.log()))
        check(took < 3, "stop took %.1f s though the session ended after 0.3 s" % took)
        check(not leftovers(d), "left behind: %s" % leftovers(d))
        d.check_log()
    finally:
        cleanup(d)
        shutil.rmtree(d.dir, ignore_errors=True)


def read_pidfile(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def test_daemonize():
    d = Daemon(ECHO_LISTENERS)
    pid = None
    try:
        rc, out, err = run_netlabd(["-c", d.conf], timeout=15)
        check(rc == 0, "netlabd (daemonizing) exited %d:\n%s%s\n%s" % (rc, out, err, d.log()))
        # Serving the moment it returned: no retry.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(d.path("echo.sock"))
        s.sendall(b"right away\n")
        check(s.recv(100) == b"right away\n", "unix echo right after start")
        s.close()
        st = d.status()
        check(all(l.get("serving", True) for l in st["listeners"]), "not serving: %r" % st)
        pid = read_pidfile(d.pidfile)
        check(pid is not None, "no pidfile %s" % d.pidfile)
        check(pid == st["pid"], "pidfile says %s, status says %s" % (pid, st["pid"]))
        check(pid_alive(pid), "pid %d from the pidfile is not running" % pid)
        family, addr = d.addr("tcp")
        s = socket.create_connection(addr, 5)
        s.sendall(b"x")
        check(s.recv(10) == b"x", "tcp echo")
        s.close()
        kids = children_of(pid)
        check(kids, "the daemon has no serving process")
        os.kill(pid, signal.SIGTERM)
        check(wait_until(lambda: not pid_alive(pid), 10),
              "daemon %d still running 10 s after SIGTERM" % pid)
        for k in kids:
            check(wait_until(lambda: not pid_alive(k), 2), "serving process %d left" % k)
        check(wait_until(lambda: not leftovers(d), 2), "left behind: %s" % leftovers(d))
        d.check_log()
        check(re.search(r"(?i)stop", d.log()), "log says nothing of stopping:\n" + d.log())
    finally:
        if pid and pid_alive(pid):
            kill_tree(pid)
        shutil.rmtree(d.dir, ignore_errors=True)

    # Daemonizing with a relative -c and relative paths in the file: they
    # resolve against the config's folder, not against "/" after the fork.
    top = tempdir()
    sub = os.path.join(top, "etc")
    os.mkdir(sub)
    pid = None
    try:
        conf = write_conf(sub, {"log_target": "rel.log", "pidfile": "rel.pid",
                                "control": "rel-control.sock", "plugin_dir": PLUGIN_DIR},
                          [{"name": "rel", "transport": "unix", "path": "rel.sock",
                            "handler": "echo"}])
        rc, out, err = run_netlabd(["-c", "etc/netlabd.conf"], cwd=top, timeout=15)
        check(rc == 0, "daemonizing with -c etc/netlabd.conf exited %d: %s%s" % (rc, out, err))
        pid = read_pidfile(os.path.join(sub, "rel.pid"))
        check(pid is not None and pid_alive(pid), "no live pid in etc/rel.pid: %s" % os.listdir(sub))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(os.path.join(sub, "rel.sock"))
        s.sendall(b"rel\n")
        check(s.recv(10) == b"rel\n", "relative unix listener not served")
        s.close()
        check(os.path.exists(os.path.join(sub, "rel-control.sock")), "control socket not in etc/")
        os.kill(pid, signal.SIGTERM)
        check(wait_until(lambda: not pid_alive(pid), 10), "daemon %d did not stop" % pid)
        left = sorted(n for n in os.listdir(sub) if n not in ("netlabd.conf", "rel.log"))
        check(wait_until(lambda: not [n for n in os.listdir(sub)
                                      if n not in ("netlabd.conf", "rel.log")], 2),
              "left in etc/: %s" % left)
        with open(os.path.join(sub, "rel.log")) as f:
            log = f.read()
        check("[error]" not in log and "Sanitizer" not in log, "log:\n" + log)
    finally:
        if pid and pid_alive(pid):
            kill_tree(pid)
        shutil.rmtree(top, ignore_errors=True)

    # Start-up failing after the fork (pidfile in a missing folder): the
    # parent does not exit 0.
    d = Daemon(ECHO_LISTENERS[:2], extra={"pidfile": "/nonexistent-netlabd-dir/x/netlabd.pid"},
               expect_errors=True)
    try:
        rc, out, err = run_netlabd(["-c", d.conf], timeout=15)
        check(rc == 2, "daemonizing with an unwritable pidfile exited %d, expected 2:\n%s%s\n%s"
              % (rc, out, err, d.log()))
        check("nonexistent-netlabd-dir" in out + err + d.log(),
              "failure does not name the pidfile:\n%s%s\n%s" % (out, err, d.log()))
        check(wait_until(lambda: not leftovers(d), 3), "left behind: %s" % leftovers(d))
        check(wait_until(lambda: not os.path.exists(d.path("echo.sock")), 3), "socket left")
    finally:
        shutil.rmtree(d.dir, ignore_errors=True)


def write_conf(dir, top, listeners):
    path = os.path.join(dir, "netlabd.conf")
    with open(path, "w") as f:
        for k, v in top.items():
            f.write("%s = %s;\n" % (k, conf_value(v)))
        f.write("listeners = (\n")
        f.write(",\n".join("  { " + " ".join("%s = %s;" % (k, conf_value(v))
                                             for k, v in l.items()) + " }"
                           for l in listeners))
        f.write("\n);\n")
    return path


def test_second_instance():
    d = Daemon(ECHO_LISTENERS[:2]).start()
    other = tempdir()
    try:
        first_pid = d.proc.pid
        base = {"log_target": "stderr", "plugin_dir": PLUGIN_DIR,
                "pidfile": os.path.join(other, "netlabd.pid"),
                "control": os.path.join(other, "control.sock")}
        mine = {"name": "mine", "transport": "unix",
                "path": os.path.join(other, "mine.sock"), "handler": "echo"}
        cases = [
            ("same pidfile", dict(base, pidfile=d.pidfile), [mine], [],
             [r"(?i)already running|running", re.escape(d.pidfile) + "|%d" % first_pid]),
            ("same pidfile by -p", base, [mine], ["-p", d.pidfile],
             [r"(?i)running", re.escape(d.pidfile) + "|%d" % first_pid]),
            ("same control socket", dict(base, control=d.control), [mine], [],
             [re.escape(d.control), r"(?i)in use|running|exists"]),
            ("same unix listener path", base,
             [dict(mine, path=d.path("echo.sock"))], [],
             [re.escape(d.path("echo.sock")), r"(?i)in use|running|exists"]),
        ]
        for what, top, listeners, args, regexes in cases:
            conf = write_conf(other, top, listeners)
            rc, out, err = run_netlabd(["-f", "-c", conf] + args, timeout=15)
            text = out + err
            check(rc == 2, "second netlabd (%s) exited %d, expected 2:\n%s" % (what, rc, text))
            for r in regexes:
                check(re.search(r, text), "second netlabd (%s): message %r lacks %r"
                      % (what, text, r))
            # The first is undisturbed.
            check(d.proc.poll() is None, "first netlabd died (%s)" % what)
            check(read_pidfile(d.pidfile) == first_pid, "first pidfile changed (%s)" % what)
            check(d.status()["pid"] == first_pid, "control socket taken (%s)" % what)
            check(stream_exchange(d, "ustream", b"still\n") == b"still\n",
                  "first's unix listener disturbed (%s)" % what)
            check(stream_exchange(d, "tcp", b"still\n") == b"still\n",
                  "first's tcp listener disturbed (%s)" % what)
            left = [n for n in os.listdir(other) if n != "netlabd.conf"]
            check(not left, "second netlabd (%s) left %s" % (what, left))
        shutil.rmtree(other, ignore_errors=True)
        d.stop()
    finally:
        cleanup(d)
        shutil.rmtree(other, ignore_errors=True)


def test_socket_files():
    # A stale socket file (nobody answers) is replaced.
    d = Daemon([{"name": "stale", "transport": "unix", "path": "stale.sock", "handler": "echo"},
                {"name": "staled", "transport": "unix-dgram", "path": "staled.sock",
                 "handler": "echo"}])
    for name, kind in (("stale.sock", socket.SOCK_STREAM), ("staled.sock", socket.SOCK_DGRAM)):
        s = socket.socket(socket.AF_UNIX, kind)
        s.bind(d.path(name))
        s.close()
        check(stat.S_ISSOCK(os.lstat(d.path(name)).st_mode), "no stale socket made")
    d.start()
    try:
        check(stream_exchange(d, "stale", b"fresh\n") == b"fresh\n", "stale path not served")
        check(dgram_exchange(d, "staled", b"fresh") == b"fresh", "stale dgram path not served")
        d.stop()
    finally:
        cleanup(d)

    # A regular file at a listener path is kept, and start-up fails naming it.
    for transport in ("unix", "unix-dgram"):
        d = Daemon([{"name": "ok", "transport": "unix", "path": "ok.sock", "handler": "echo"},
                    {"name": "precious", "transport": transport, "path": "precious.sock",
                     "handler": "echo"}], expect_errors=True)
        try:
            with open(d.path("precious.sock"), "w") as f:
                f.write("precious data\n")
            rc, out, err = run_netlabd(["-f", "-c", d.conf], timeout=15)
            text = out + err + d.log()
            check(rc == 2, "start with a regular file at a %s path exited %d, expected 2:\n%s"
                  % (transport, rc, text))
            check(d.path("precious.sock") in text, "message does not name the file:\n" + text)
            with open(d.path("precious.sock")) as f:
                check(f.read() == "precious data\n", "the regular file was changed")
            check(not leftovers(d) or leftovers(d) == ["precious.sock"],
                  "left behind: %s" % leftovers(d))
        finally:
            shutil.rmtree(d.dir, ignore_errors=True)

    # mode gives the file that mode exactly (umask or not); control_mode too.
    old = os.umask(0o077)
    try:
        d = Daemon([{"name": "m600", "transport": "unix", "path": "m600.sock",
                     "mode": "0600", "handler": "echo"},
                    {"name": "m666", "transport": "unix", "path": "m666.sock",
                     "mode": "0666", "handler": "echo"},
                    {"name": "d640", "transport": "unix-dgram", "path": "d640.sock",
                     "mode": "0640", "handler": "echo"}],
                   extra={"control_mode": "0620"})
        d.start()
    finally:
        os.umask(old)
    try:
        for name, mode in (("m600.sock", 0o600), ("m666.sock", 0o666), ("d640.sock", 0o640),
                           ("control.sock", 0o620)):
            got = stat.S_IMODE(os.lstat(d.path(name)).st_mode)
            check(got == mode, "%s has mode %o, expected %o" % (name, got, mode))
        check(stream_exchange(d, "m600", b"m\n") == b"m\n", "m600 not served")
        d.stop()
    finally:
        cleanup(d)


def test_log_file():
    d = Daemon([{"name": "logsink", "transport": "tcp", "handler": "logger"},
                {"name": "echo-x", "transport": "tcp", "handler": "echo"}],
               log_level="debug")
    d.start()
    try:
        stream_exchange(d, "logsink", b"hello-log-line\n")
        d.wait_log(r"hello-log-line")
        text = d.log()
        line = [l for l in text.splitlines() if "hello-log-line" in l][0]
        check(re.search(r"\d\d:\d\d:\d\d", line), "no time in %r" % line)
        check(re.search(r"\d{4}-\d\d-\d\d|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b",
                        line), "no date in %r" % line)
        check(re.search(r"(?i)\binfo\b", line), "no level in %r" % line)
        check("logsink" in line, "no listener name in %r" % line)
        check(text.endswith("\n"), "log does not end in a newline")
        for l in text.splitlines():
            check(re.search(r"\d\d:\d\d:\d\d", l) and
                  re.search(r"(?i)\b(debug|info|notice|warning|error)\b", l),
                  "log line without a time or a level: %r" % l)
        check(any("echo-x" in l for l in text.splitlines()),
              "the log never names listener echo-x (debug level):\n" + text)
        d.stop()
    finally:
        cleanup(d)


def main():
    t0 = time.time()
    test_signals_and_stop()
    test_ctrl_c_reaches_the_group()
    test_idle_session_timeout()
    test_session_finishes()
    test_daemonize()
    test_second_instance()
    test_socket_files()
    test_log_file()
    print("took %.1f s" % (time.time() - t0))


run(main)
