"""The operator's first hour: what a new user meets when netlabd does not
start, or starts as it should not.

- Start-up errors reach stderr until netlabd is ready, also in the
  background and with the log in a file, also when they happen after the
  fork, and once each (not twice when the log is that stderr); a
  successful background start leaves stderr closed.
- `netlabd -t` checks folders and ports without binding: errors at the
  line of their key or listener, a port in use as a warning (a unix socket
  with a full backlog too, at once, without connecting), a privileged
  port (as nobody) as an error.
- Bind errors name the config line and the address (start and reload),
  and for EACCES on a privileged port (below
  net.ipv4.ip_unprivileged_port_start) what would allow it.
- Without `user`, a netlabd started as root runs handlers as the default
  account when it exists, else warns once (start-up and -t); a reload
  that finds the account gone warns; the test suite's stand-in for the
  account may not be root.
- The pidfile is locked: a stale one naming a live process is taken over,
  a master killed while its children drain does not block a new one, and
  messages name the pidfile.
- A handler check as another user fails in one clear line.
- netlabctl prints a multi-line error one line at a time.

Parts that need root (switching to nobody) say so and are skipped when
not root; every wait is bounded.
"""
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import netlabd as harness  # noqa: E402
from netlabd import (NETLABCTL, DEFAULT_USER_ENV, NETLABD, NO_SUCH_USER, PLUGIN_DIR,  # noqa: E402
                     Daemon, check, conf_value, fail, run, stream_exchange)
from clitest import (children_of, cleanup, kill_tree, pid_alive,  # noqa: E402
                     run_netlabd, tempdir, wait_until)

ROOT_WARNING = "serving processes will run handler code as root"
ENV_USER = DEFAULT_USER_ENV


def write_conf(dir, top, listeners, name="netlabd.conf"):
    """Writes a config, one top-level key a line, then one listener a
    line; returns (path, {key or listener name: line})."""
    lines, where = [], {}
    for k, v in top.items():
        lines.append("%s = %s;" % (k, conf_value(v)))
        where[k] = len(lines)
    lines.append("listeners = (")
    for i, l in enumerate(listeners):
        lines.append("  { " + " ".join("%s = %s;" % (k, conf_value(v))
                                       for k, v in l.items()) + " }" +
                     ("," if i + 1 < len(listeners) else ""))
        where[l["name"]] = len(lines)
    lines.append(");")
    path = os.path.join(dir, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o644)
    return path, where


def base(dir, **more):
    top = {"log_target": os.path.join(dir, "netlabd.log"),
           "pidfile": os.path.join(dir, "netlabd.pid"),
           "control": os.path.join(dir, "control.sock"),
           "plugin_dir": PLUGIN_DIR, "shutdown_timeout": 2}
    top.update(more)
    return top


def tcp(name, port, **more):
    l = {"name": name, "transport": "tcp", "address": "127.0.0.1", "port": port,
         "handler": "echo"}
    l.update(more)
    return l


def unprivileged_start():
    """net.ipv4.ip_unprivileged_port_start, as netlabd reads it (1024
    when it cannot be read)."""
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1024


def busy_port():
    """A socket listening on 127.0.0.1 (kept by the caller) and its port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def stop_daemon(pidfile):
    pid = read_pid(pidfile)
    check(pid is not None and pid_alive(pid), "no live pid in %s" % pidfile)
    kids = children_of(pid)
    os.kill(pid, signal.SIGTERM)
    check(wait_until(lambda: not pid_alive(pid), 10), "daemon %d did not stop" % pid)
    for k in kids:
        check(wait_until(lambda: not pid_alive(k), 5), "serving process %d left" % k)


def nobody():
    """The nobody account when running as root, else None (said why)."""
    if os.geteuid() != 0:
        print("note: not root: the checks as another user are skipped")
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        print("note: no user nobody: the checks as another user are skipped")
        return None


def run_as(pw, args, timeout=20, env=None):
    """Runs netlabd as pw (from root); returns (rc, stdout, stderr)."""
    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    try:
        p = subprocess.run([NETLABD] + args, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, preexec_fn=drop, env=env, cwd="/")
    except subprocess.TimeoutExpired:
        fail("netlabd %s as %s did not end within %s s" % (args, pw.pw_name, timeout))
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def lines_of(text):
    return [l for l in text.splitlines() if l]


# --- start-up errors on stderr ----------------------------------------------

def test_startup_errors():
    dir = tempdir()
    s, port = busy_port()
    try:
        # A port in use, in the background, the log in a file: the error
        # is in the file and on stderr, with the line and the address.
        conf, at = write_conf(dir, base(dir), [tcp("web", port)])
        want = "%s:%d: listener web: 127.0.0.1:%d: Address already in use" % (
            conf, at["web"], port)
        rc, out, err = run_netlabd(["-c", conf])
        check(rc == 2, "port in use: exit %d, expected 2:\n%s" % (rc, err))
        check("netlabd: " + want in lines_of(err),
              "port in use: stderr lacks %r:\n%s" % (want, err))
        with open(os.path.join(dir, "netlabd.log")) as f:
            check(want in f.read(), "port in use: the log lacks %r" % want)
        # Without log_target (syslog in the background), the same.
        top = base(dir)
        del top["log_target"]
        conf2, at2 = write_conf(dir, top, [tcp("web", port)], "syslog.conf")
        rc, out, err = run_netlabd(["-c", conf2])
        check(rc == 2 and "netlabd: %s:%d: listener web: 127.0.0.1:%d: Address "
              "already in use" % (conf2, at2["web"], port) in err,
              "port in use, syslog: exit %d, stderr:\n%s" % (rc, err))
        # In the foreground with the log in a file: on stderr too.
        rc, out, err = run_netlabd(["-f", "-c", conf])
        check(rc == 2 and "netlabd: " + want in lines_of(err),
              "-f, port in use: exit %d, stderr:\n%s" % (rc, err))
        # In the background with the log on stderr: the log line reaches
        # the terminal, and no copy repeats it.
        conf3, at3 = write_conf(dir, base(dir, log_target="stderr"), [tcp("web", port)],
                                "stderr.conf")
        want3 = "%s:%d: listener web: 127.0.0.1:%d: Address already in use" % (
            conf3, at3["web"], port)
        rc, out, err = run_netlabd(["-c", conf3])
        check(rc == 2 and len([l for l in lines_of(err) if want3 in l]) == 1,
              "log on stderr, in the background: %d, expected %r once in:\n%s"
              % (rc, want3, err))

        # A control socket in a missing folder fails after the fork, in
        # the daemonized child: its error still reaches stderr.
        conf, at = write_conf(dir, base(dir, control="/nonexistent-netlabd-op/c.sock"),
                              [tcp("web", 0)])
        rc, out, err = run_netlabd(["-c", conf])
        check(rc == 2, "missing control folder: exit %d:\n%s" % (rc, err))
        check(re.search(r"(?m)^netlabd: control socket: /nonexistent-netlabd-op/c\.sock: "
                        r"No such file or directory$", err),
              "missing control folder: stderr:\n%s" % err)
        # (The parent exits on the failure; the daemon cleans up after.)
        check(wait_until(lambda: not os.path.exists(os.path.join(dir, "netlabd.pid")), 5),
              "pidfile left")

        # A pidfile in a missing folder: named, never a temporary name.
        conf, at = write_conf(dir, base(dir, pidfile="/nonexistent-netlabd-op/n.pid"),
                              [tcp("web", 0)])
        rc, out, err = run_netlabd(["-c", conf])
        check(rc == 2 and re.search(r"(?m)^netlabd: pidfile /nonexistent-netlabd-op/n\.pid: "
                                    r"No such file or directory$", err),
              "missing pidfile folder: exit %d, stderr:\n%s" % (rc, err))
        check(".tmp" not in err, "a temporary name leaked: %s" % err)

        # A good background start returns at once with stderr closed (the
        # daemon keeps no copy once ready) and only the warning on it.
        conf, at = write_conf(dir, base(dir), [tcp("web", 0)])
        rc, out, err = run_netlabd(["-c", conf], timeout=15)
        check(rc == 0, "good start: exit %d:\n%s" % (rc, err))
        check(lines_of(err) == ["netlabd: warning: user is not set and there is no "
                                "netlabd account: " + ROOT_WARNING]
              if os.geteuid() == 0 else lines_of(err) == [],
              "good start: stderr:\n%s" % err)
        stop_daemon(os.path.join(dir, "netlabd.pid"))
    finally:
        s.close()
        shutil.rmtree(dir, ignore_errors=True)


# --- -t checks the system ---------------------------------------------------

def test_check_system():
    dir = tempdir()
    s, port = busy_port()
    try:
        top = base(dir, pidfile="/nonexistent-netlabd-op/p/netlabd.pid",
                   control="/nonexistent-netlabd-op/c/control.sock")
        conf, at = write_conf(dir, top, [
            tcp("web", 0),
            {"name": "u", "transport": "unix", "path": "/nonexistent-netlabd-op/u/u.sock",
             "handler": "echo"}])
        rc, out, err = run_netlabd(["-t", "-c", conf])
        check(rc == 1 and "configuration OK" not in out, "-t said OK:\n%s" % err)
        for key, path in (("pidfile", top["pidfile"]), ("control", top["control"])):
            want = "%s:%d: %s: %s: folder %s does not exist" % (
                conf, at[key], key, path, os.path.dirname(path))
            check(want in lines_of(err), "-t: no %r in:\n%s" % (want, err))
        want = "%s:%d: listener u: /nonexistent-netlabd-op/u/u.sock: folder " \
               "/nonexistent-netlabd-op/u does not exist" % (conf, at["u"])
        check(want in lines_of(err), "-t: no %r in:\n%s" % (want, err))
        # -p is checked instead of the config's pidfile.
        rc, out, err = run_netlabd(["-t", "-c", conf, "-p", "/nonexistent-netlabd-op/q.pid"])
        check(rc == 1 and "%s: pidfile (-p): /nonexistent-netlabd-op/q.pid: folder "
              "/nonexistent-netlabd-op does not exist" % conf in lines_of(err),
              "-t -p: %d\n%s" % (rc, err))

        # A unix listener whose backlog is full (a hung netlabd), and a
        # control socket that would answer: warnings, at once, and neither
        # socket gets a connection.
        full = os.path.join(dir, "full.sock")
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        clients = []
        try:
            u.bind(full)
            u.listen(0)
            ctl.bind(os.path.join(dir, "control.sock"))
            ctl.listen(8)
            for _ in range(64):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.setblocking(False)
                clients.append(c)
                try:
                    c.connect(full)
                except BlockingIOError:
                    break
            else:
                fail("the backlog of %s never filled" % full)
            conf, at = write_conf(dir, base(dir), [
                {"name": "u", "transport": "unix", "path": full, "handler": "echo"}])
            t0 = time.time()
            rc, out, err = run_netlabd(["-t", "-c", conf], timeout=10)
            took = time.time() - t0
            check(took < 5, "-t took %.1f s on a full backlog" % took)
            for want in ("%s:%d: warning: listener u: %s is in use now" % (conf, at["u"], full),
                         "%s:%d: warning: control: %s is in use now" % (
                             conf, at["control"], os.path.join(dir, "control.sock"))):
                check(rc == 0 and any(l.startswith(want) for l in lines_of(err)),
                      "-t, busy unix sockets: %d, no %r in:\n%s" % (rc, want, err))
            ctl.setblocking(False)
            try:
                ctl.accept()[0].close()
                fail("-t connected to the control socket")
            except BlockingIOError:
                pass
        finally:
            for c in clients:
                c.close()
            u.close()
            ctl.close()
            for name in ("full.sock", "control.sock"):
                try:
                    os.unlink(os.path.join(dir, name))
                except OSError:
                    pass

        # A port in use is a warning; the config is OK and nothing is left.
        conf, at = write_conf(dir, base(dir), [tcp("web", port)])
        rc, out, err = run_netlabd(["-t", "-c", conf])
        check(rc == 0 and out == "%s: configuration OK\n" % conf, "-t busy port: %d %r %r"
              % (rc, out, err))
        want = "%s:%d: warning: listener web: tcp 127.0.0.1:%d is in use now" % (
            conf, at["web"], port)
        check(any(l.startswith(want) for l in lines_of(err)), "-t: no %r in:\n%s" % (want, err))
        check(not [n for n in os.listdir(dir) if n.endswith((".sock", ".pid"))],
              "-t left files: %s" % os.listdir(dir))
        # A privileged port as root: no error.
        if os.geteuid() == 0:
            conf, at = write_conf(dir, base(dir), [tcp("low", 1)])
            rc, out, err = run_netlabd(["-t", "-c", conf])
            check(rc == 0 and "CAP_NET_BIND_SERVICE" not in err, "-t port 1 as root: %d\n%s"
                  % (rc, err))

        pw = nobody()
        if pw is None:
            return
        # As nobody: a folder it cannot write, a privileged port (below
        # what the system lets anyone bind; containers often let anyone
        # bind any).
        start = unprivileged_start()
        low = min(80, start - 1)
        os.chmod(dir, 0o755)
        mine = os.path.join(dir, "nobody")
        os.mkdir(mine)
        os.chown(mine, pw.pw_uid, pw.pw_gid)
        top = base(mine, pidfile=os.path.join(dir, "netlabd.pid"))
        conf, at = write_conf(mine, top, [tcp("low", max(low, 0))])
        rc, out, err = run_as(pw, ["-t", "-c", conf])
        check(rc == 1, "-t as nobody: exit %d\n%s" % (rc, err))
        want = "%s:%d: pidfile: %s: folder %s is not writable by uid %d, who runs the master" % (
            conf, at["pidfile"], top["pidfile"], dir, pw.pw_uid)
        check(want in lines_of(err), "-t as nobody: no %r in:\n%s" % (want, err))
        if low < 1:
            print("note: net.ipv4.ip_unprivileged_port_start is %d: no port is privileged, "
                  "the privileged-port messages are not tried" % start)
            return
        want = ("%s:%d: listener low: 127.0.0.1:%d: a port below %d needs root or the "
                "CAP_NET_BIND_SERVICE capability: run netlabd as root, grant it "
                "CAP_NET_BIND_SERVICE, or use a port of %d or more"
                % (conf, at["low"], low, start, start))
        check(want in lines_of(err), "-t as nobody: no %r in:\n%s" % (want, err))
        # Starting so: the bind error names the line, the address, the cure,
        # with the same bound as -t.
        conf, at = write_conf(mine, base(mine), [tcp("low", low)])
        rc, out, err = run_as(pw, ["-f", "-c", conf])
        want = ("netlabd: %s:%d: listener low: 127.0.0.1:%d: Permission denied (a port "
                "below %d needs root or the CAP_NET_BIND_SERVICE capability: run netlabd "
                "as root, grant it CAP_NET_BIND_SERVICE, or use a port of %d or more)"
                % (conf, at["low"], low, start, start))
        check(rc == 2 and want in lines_of(err), "start as nobody on port %d: %d\n%s"
              % (low, rc, err))
    finally:
        s.close()
        shutil.rmtree(dir, ignore_errors=True)


# --- bind errors on reload --------------------------------------------------

def test_reload_bind_error():
    s, port = busy_port()
    d = Daemon([{"name": "echo", "transport": "tcp", "handler": "echo"}],
               expect_errors=True).start()
    try:
        with open(d.conf) as f:
            text = f.read()
        text = text.replace("\n);", ',\n  { name = "busy"; transport = "tcp"; '
                            'address = "127.0.0.1"; port = %d; handler = "echo"; }\n);' % port)
        with open(d.conf, "w") as f:
            f.write(text)
        line = text.split("\n").index([l for l in text.split("\n") if '"busy"' in l][0]) + 1
        ans = d.command("reload", timeout=30)
        want = "%s:%d: listener busy: 127.0.0.1:%d: Address already in use" % (d.conf, line, port)
        check(ans.get("ok") is False and ans.get("error") == want,
              "reload answered %r, expected error %r" % (ans, want))
        d.stop()
    finally:
        s.close()
        cleanup(d)


# --- the default user -------------------------------------------------------

def uids_of(pid):
    """(uid, gid) of pid, or None when it just ended."""
    try:
        with open("/proc/%d/status" % pid) as f:
            text = f.read()
    except OSError:
        return None
    uid = int(re.search(r"^Uid:\s+(\d+)", text, re.M).group(1))
    gid = int(re.search(r"^Gid:\s+(\d+)", text, re.M).group(1))
    return uid, gid


def start_with_default(name, extra=None):
    """A daemon started with the default account named `name` (None: the
    real one); returns it, started."""
    saved = os.environ.get(ENV_USER)
    if name is None:
        os.environ.pop(ENV_USER, None)
    else:
        os.environ[ENV_USER] = name
    try:
        return Daemon([{"name": "echo", "transport": "tcp", "handler": "echo"}],
                      extra=extra).start()
    finally:
        os.environ[ENV_USER] = saved if saved is not None else NO_SUCH_USER


def expect_serving_as(d, uid, gid, what):
    kids = [k for k in d.children() if uids_of(k) is not None]
    check(kids, "%s: no serving process" % what)
    for pid in kids:
        got = uids_of(pid)
        check(got in (None, (uid, gid)), "%s: serving process %d runs as %r, expected %r"
              % (what, pid, got, (uid, gid)))
    check(uids_of(d.proc.pid)[0] == os.geteuid(), "%s: the master changed user" % what)
    check(stream_exchange(d, "echo", b"who\n") == b"who\n", "%s: no echo" % what)


def expect_warned(d, times, what):
    n = d.log().count(ROOT_WARNING)
    check(n == times, "%s: the warning is logged %d times, expected %d:\n%s"
          % (what, n, times, d.log()))


def test_default_user():
    if os.geteuid() != 0:
        # Not root: handlers run as this user; nothing to warn about.
        d = start_with_default(None)
        try:
            expect_serving_as(d, os.geteuid(), os.getegid(), "not root")
            expect_warned(d, 0, "not root")
            d.stop()
        finally:
            cleanup(d)
        print("note: not root: the default account is not tried")
        return
    pw = nobody()
    if pw is not None:
        # An account that exists: serving processes run as it, and the log
        # says whose stand-in it is.
        d = start_with_default("nobody")
        try:
            expect_serving_as(d, pw.pw_uid, pw.pw_gid, "default nobody")
            expect_warned(d, 0, "default nobody")
            want = ("[notice] the default account is nobody, not netlabd, because %s is "
                    "set (for netlabd's tests only)" % ENV_USER)
            check(want in d.log(), "default nobody: no %r in the log:\n%s" % (want, d.log()))
            # A reload (of a changed listener) keeps to the same account.
            with open(d.conf) as f:
                text = f.read()
            with open(d.conf, "w") as f:
                f.write(text.replace('handler = "echo";', 'handler = "echo"; idle_timeout = 77;'))
            ans = d.command("reload", timeout=30)
            check(ans.get("ok") is True, "reload answered %r" % ans)
            check(wait_until(lambda: d.children() and all(
                uids_of(k) in (None, (pw.pw_uid, pw.pw_gid)) for k in d.children()), 10),
                "after a reload, serving processes run as %r"
                % [uids_of(k) for k in d.children()])
            expect_serving_as(d, pw.pw_uid, pw.pw_gid, "default nobody, reloaded")
            d.stop()
        finally:
            cleanup(d)
        # With group set: that group instead of the account's own.
        other = [g for g in ("daemon", "bin", "users") if _gid(g) not in (None, 0, pw.pw_gid)]
        if other:
            d = start_with_default("nobody", extra={"group": other[0]})
            try:
                expect_serving_as(d, pw.pw_uid, _gid(other[0]), "default nobody, group")
                d.stop()
            finally:
                cleanup(d)

    # No such account: root, and one warning at start-up (and on reload
    # none); -t says it too.
    d = start_with_default(NO_SUCH_USER)
    try:
        expect_serving_as(d, 0, 0, "no account")
        expect_warned(d, 1, "no account")
        check(d.command("reload", timeout=30).get("ok") is True, "reload failed")
        expect_warned(d, 1, "no account, after a reload")
        rc, out, err = run_netlabd(["-t", "-c", d.conf])
        check(rc == 0 and "%s: warning: user is not set and there is no netlabd account: %s"
              % (d.conf, ROOT_WARNING) in lines_of(err), "-t: %d\n%s" % (rc, err))
        d.stop()
    finally:
        cleanup(d)

    # The real default: the netlabd account if this machine has one.
    try:
        real = pwd.getpwnam("netlabd")
    except KeyError:
        real = None
    d = start_with_default(None)
    try:
        if real is not None:
            expect_serving_as(d, real.pw_uid, real.pw_gid, "netlabd account")
            expect_warned(d, 0, "netlabd account")
        else:
            expect_serving_as(d, 0, 0, "no netlabd account")
            expect_warned(d, 1, "no netlabd account")
        d.stop()
    finally:
        cleanup(d)

    # The stand-in may not be root: refused, -t and start alike, and
    # nothing runs.
    dir = tempdir()
    try:
        conf, at = write_conf(dir, base(dir), [tcp("web", 0)])
        env = dict(os.environ)
        env[ENV_USER] = "root"
        want = "%s: %s=root names uid 0; refused (it is for netlabd's tests only)" % (
            conf, ENV_USER)
        rc, out, err = run_netlabd(["-t", "-c", conf], env=env)
        check(rc == 1 and want in lines_of(err), "-t, stand-in root: %d\n%s" % (rc, err))
        rc, out, err = run_netlabd(["-f", "-c", conf], env=env)
        check(rc == 1 and lines_of(err) == [want], "start, stand-in root: %d\n%s" % (rc, err))
        check(not os.path.exists(os.path.join(dir, "netlabd.pid")), "started anyway")
    finally:
        shutil.rmtree(dir, ignore_errors=True)

    # group without user, and no account to go with it: refused at its line.
    dir = tempdir()
    try:
        conf, at = write_conf(dir, base(dir, group="daemon"), [tcp("web", 0)])
        rc, out, err = run_netlabd(["-t", "-c", conf])
        want = ("%s:%d: group: set without user, and no default user applies (the %s "
                "account is used when it exists and netlabd starts as root)"
                % (conf, at["group"], NO_SUCH_USER))
        check(rc == 1 and want in lines_of(err), "-t group only: %d\n%s" % (rc, err))
    finally:
        shutil.rmtree(dir, ignore_errors=True)


def test_default_user_vanishes():
    """The default account is gone at a reload: handlers go to root, and
    the log says so.  Run in a mount namespace whose /etc/passwd is a
    copy this test edits, so that the system's accounts are not touched."""
    if os.geteuid() != 0:
        print("note: not root: a vanishing default account is not tried")
        return
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run(
            [unshare, "-m", "--propagation", "private", "true"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, timeout=10).returncode != 0:
        print("note: no mount namespace (unshare -m): a vanishing default account "
              "is not tried")
        return
    pw = nobody()
    if pw is None:
        return
    dir = tempdir()
    saved = os.environ.get(ENV_USER)
    real = harness.NETLABD
    d = None
    try:
        with open("/etc/passwd") as f:
            system = f.read()
        taken = {p.pw_uid for p in pwd.getpwall()}
        uid = next(u for u in range(64000, 65000) if u not in taken)
        name = "nl-test-vanish"
        passwd = os.path.join(dir, "passwd")
        with open(passwd, "w") as f:
            f.write(system.rstrip("\n") + "\n%s:x:%d:%d::/nonexistent:/usr/sbin/nologin\n"
                    % (name, uid, pw.pw_gid))
        os.chmod(dir, 0o755)
        os.chmod(passwd, 0o644)
        # netlabd, exec'd (same pid) in a namespace that sees the copy.
        wrapper = os.path.join(dir, "netlabd-ns")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec %s -m --propagation private /bin/sh -c '
                    '\'mount --bind "$0" /etc/passwd && exec "$@"\' %s %s "$@"\n'
                    % (unshare, passwd, real))
        os.chmod(wrapper, 0o755)
        harness.NETLABD = wrapper
        os.environ[ENV_USER] = name
        d = Daemon([{"name": "echo", "transport": "tcp", "handler": "echo"}]).start()
        expect_serving_as(d, uid, pw.pw_gid, "default %s" % name)
        expect_warned(d, 0, "default %s" % name)
        # Rewritten in place: the bind mount shows the same file.
        with open(passwd, "w") as f:
            f.write(system)
        ans = d.command("reload", timeout=30)
        check(ans.get("ok") is True, "reload answered %r" % ans)
        check(wait_until(lambda: d.children() and all(
            uids_of(k) in (None, (0, 0)) for k in d.children()), 10),
            "after the account went, serving processes run as %r"
            % [uids_of(k) for k in d.children()])
        expect_serving_as(d, 0, 0, "account gone")
        want = ("[warning] reload: user is not set and the %s account is gone: serving "
                "processes now run handler code as root" % name)
        check(want in d.log(), "account gone: no %r in the log:\n%s" % (want, d.log()))
        check(re.search(r"\[notice\] reloaded: generation \d+; handlers now run as root\n",
                        d.log()), "account gone: the reload line does not say it:\n%s"
              % d.log())
        # A further reload (still root) does not say it again.
        check(d.command("reload", timeout=30).get("ok") is True, "second reload failed")
        check(d.log().count("reload: user is not set") == 1 and
              d.log().count("handlers now run as root") == 1,
              "said again on the next reload:\n%s" % d.log())
        d.stop()
    finally:
        harness.NETLABD = real
        os.environ[ENV_USER] = saved if saved is not None else NO_SUCH_USER
        if d is not None:
            cleanup(d)
        shutil.rmtree(dir, ignore_errors=True)


def _gid(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


# --- the pidfile ------------------------------------------------------------

def test_pidfile():
    # A stale pidfile naming a live, unrelated process: taken over.  (The
    # second start below logs its refusal in the same file.)
    d = Daemon([{"name": "echo", "transport": "tcp", "handler": "echo"}],
               expect_errors=True)
    try:
        with open(d.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
        d.start()
        check(read_pid(d.pidfile) == d.proc.pid, "pidfile holds %r, not %d"
              % (read_pid(d.pidfile), d.proc.pid))
        # A second netlabd on it is refused, naming the pid and the file.
        rc, out, err = run_netlabd(["-f", "-c", d.conf, "-p", d.pidfile])
        want = "netlabd is already running (pid %d, pidfile %s)" % (d.proc.pid, d.pidfile)
        check(rc == 2 and want in out + err + d.log(), "second start: %d\n%s" % (rc, err))
        check(".tmp" not in err + d.log(), "a temporary name leaked:\n" + err)

        # The master dies while a child drains a session: the lock goes
        # with it, and a new netlabd starts at once.
        conn = socket.create_connection(d.addr("echo")[1], 5)
        conn.sendall(b"x")
        check(conn.recv(1) == b"x", "no echo before the kill")
        kids = d.children()
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait(5)
        check(any(pid_alive(k) for k in kids), "no child left draining (test is moot)")
        d.start()
        check(read_pid(d.pidfile) == d.proc.pid, "new master's pid not in the pidfile")
        conn.close()
        for k in kids:
            check(wait_until(lambda: not pid_alive(k), 10), "old child %d left" % k)
        d.stop()
    finally:
        cleanup(d)


# --- handler checks as another user ----------------------------------------

def test_check_as_user():
    dir = tempdir()
    try:
        # A user that does not exist: one line, at the user's line.
        conf, at = write_conf(dir, base(dir, user="nl-no-such-user-4711"), [tcp("web", 0)])
        rc, out, err = run_netlabd(["-t", "-c", conf])
        check(rc == 1 and lines_of(err) == [
            "%s:%d: user: nl-no-such-user-4711: no such user" % (conf, at["user"]),
            "%s: configuration has errors" % conf], "-t unknown user: %d\n%s" % (rc, err))

        pw = nobody()
        if pw is None:
            return
        os.chmod(dir, 0o755)
        mine = os.path.join(dir, "nobody")
        os.mkdir(mine)
        os.chown(mine, pw.pw_uid, pw.pw_gid)
        # Not root, asked to switch to someone else: one line, -t and start.
        conf, at = write_conf(mine, base(mine, user="daemon"), [tcp("web", 0)])
        want = ["%s:%d: user: netlabd runs as uid %d, not root, so it cannot switch to daemon"
                % (conf, at["user"], pw.pw_uid)]
        rc, out, err = run_as(pw, ["-t", "-c", conf])
        check(rc == 1 and lines_of(err) == want + ["%s: configuration has errors" % conf],
              "-t as nobody, user daemon: %d\n%s" % (rc, err))
        rc, out, err = run_as(pw, ["-f", "-c", conf])
        check(rc == 1 and lines_of(err) == want, "start as nobody, user daemon: %d\n%s"
              % (rc, err))

        # A handler nobody cannot read, user nobody: read as root, served.
        so = os.path.join(dir, "private.so")
        shutil.copy(os.path.join(PLUGIN_DIR, "echo.so"), so)
        os.chmod(so, 0o600)
        d = Daemon([{"name": "echo", "transport": "tcp", "handler": so}],
                   extra={"user": "nobody"})
        try:
            rc, out, err = run_netlabd(["-t", "-c", d.conf])
            check(rc == 0 and err == "", "-t, private handler: %d\n%s" % (rc, err))
            d.start()
            expect_serving_as(d, pw.pw_uid, pw.pw_gid, "private handler")
            d.stop()
        finally:
            cleanup(d)
    finally:
        shutil.rmtree(dir, ignore_errors=True)


# --- netlabctl and multi-line errors ----------------------------------------

def test_netlabctl_lines():
    d = Daemon([{"name": "echo", "transport": "tcp", "handler": "echo"}],
               expect_errors=True).start()
    try:
        with open(d.conf) as f:
            good = f.read()
        n = good.count("\n")
        with open(d.conf, "a") as f:
            f.write("colour = 1;\nflavour = 2;\n")
        p = subprocess.run([NETLABCTL, "-s", d.control, "reload"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=45)
        err = p.stderr.decode()
        want = ["netlabctl: reload: %s:%d: colour: unknown key" % (d.conf, n + 1),
                "netlabctl: reload: %s:%d: flavour: unknown key" % (d.conf, n + 2)]
        check(p.returncode == 1 and lines_of(err) == want,
              "netlabctl reload: %d %r, expected %r" % (p.returncode, err, want))
        p = subprocess.run([NETLABCTL, "-s", d.control, "status"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=45)
        out = p.stdout.decode()
        m = re.search(r"(?m)^last reload: failed at \S+: (.*)\n {13}(.*)$", out)
        check(p.returncode == 0 and m and
              m.group(1) == "%s:%d: colour: unknown key" % (d.conf, n + 1) and
              m.group(2) == "%s:%d: flavour: unknown key" % (d.conf, n + 2),
              "netlabctl status:\n%s" % out)
        check("?" not in out.split("\n\n")[0], "a '?' in the status head:\n%s" % out)
        with open(d.conf, "w") as f:
            f.write(good)
        d.stop()
    finally:
        cleanup(d)


def main():
    test_startup_errors()
    test_check_system()
    test_reload_bind_error()
    test_default_user()
    test_default_user_vanishes()
    test_pidfile()
    test_check_as_user()
    test_netlabctl_lines()


run(main)
