"""Log reopen and privilege drop.

Log reopen: with log_target a file, the file is moved away (as logrotate
does), then netlabd is told to reopen it: by SIGUSR1, by the control
command log-reopen and by `netlabctl log-reopen`.  Lines written before go
to the moved file; lines after (the master's own and those of serving
processes, which log through the master: the logger handler under libev
and prefork) go to a new file at the original path.

Privileges (root only, with a user "nobody"): with `user = "nobody";` the
serving processes run as nobody (uid, gid and supplementary groups in
/proc/PID/status) while the master stays root; handlers serve; a log
reopen, a reload that adds a listener on a new port and a reload that sets
`group` still work afterwards.  Not root: that part is skipped, with a
message.
"""
import grp
import os
import pwd
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import netlabd  # noqa: E402
from netlabd import (NETLABCTL, PLUGIN_DIR, Daemon, check, run,  # noqa: E402
                     stream_exchange)
from clitest import cleanup, free_tcp_port, wait_until  # noqa: E402



def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_file(path, pattern, what, timeout=5):
    check(wait_until(lambda: re.search(pattern, read(path)), timeout),
          "%s: %s never showed %r:\n%s" % (what, path, pattern, read(path)))


def log_lines(d, tag):
    """Sends a line to each logger listener; returns the patterns of the
    log lines they cause."""
    pats = []
    for name in ("lg", "lgp"):
        line = "%s-%s" % (tag, name)
        got = stream_exchange(d, name, line.encode() + b"\n", timeout=5)
        check(got == b"", "logger %s answered %r" % (name, got))
        pats.append(r"\[info\] listener %s: .*%s$" % (name, re.escape(line)))
    return pats


def reopen(d, how):
    if how == "SIGUSR1":
        os.kill(d.proc.pid, signal.SIGUSR1)
    elif how == "control":
        ans = d.command("log-reopen")
        check(ans == {"ok": True}, "log-reopen answered %r" % ans)
    else:
        p = subprocess.run([NETLABCTL, "-s", d.control, "log-reopen"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        check(p.returncode == 0, "netlabctl log-reopen exited %d: %r %r"
              % (p.returncode, p.stdout, p.stderr))


def rotate(d, how, n, moved):
    """One rotation: lines before, the move, lines between (still to the
    moved file), the reopen, lines after (to a new file)."""
    what = "log reopen by %s" % how
    before = log_lines(d, "before%d" % n)
    for p in before:
        wait_file(d.logfile, re.compile(p, re.M), what + ", before the move")
    old = d.logfile + ".%d" % n
    os.rename(d.logfile, old)
    moved.append(old)
    between = log_lines(d, "between%d" % n)
    for p in between:
        wait_file(old, re.compile(p, re.M), what + ", after the move, before the reopen")
    check(not os.path.exists(d.logfile), "%s: %s came back before the reopen" % (what, d.logfile))
    reopen(d, how)
    wait_file(d.logfile, r"\[info\] log reopened", what)
    after = log_lines(d, "after%d" % n)
    # A line of the master's own after the reopen, too.
    ans = d.command("reload", timeout=30)
    check(ans.get("ok") is True, "%s: reload answered %r" % (what, ans))
    for p in after + [r"reloaded: generation %d$" % ans["generation"]]:
        wait_file(d.logfile, re.compile(p, re.M), what + ", after the reopen")
    new, old_text = read(d.logfile), read(old)
    for p in before + between:
        check(re.search(p, old_text, re.M), "%s: %r not in the moved file" % (what, p))
        check(not re.search(p, new, re.M), "%s: %r in the new file:\n%s" % (what, p, new))
    for p in after:
        check(not re.search(p, old_text, re.M),
              "%s: %r in the moved file:\n%s" % (what, p, old_text))
    check("log reopened" not in old_text.split("between%d" % n, 1)[1],
          "%s: the reopen was logged to the moved file" % what)
    st = os.stat(d.logfile)
    check(st.st_ino != os.stat(old).st_ino, "%s: same file" % what)
    print("%s: %d lines in the moved file, %d in the new one"
          % (what, len(old_text.splitlines()), len(new.splitlines())))


def check_logs(d, moved):
    for path in moved:
        text = read(path)
        m = netlabd.BAD_LOG.search(text)
        check(m is None, "%s shows %r:\n%s" % (path, m and m.group(0), text))
        check("[error]" not in text, "error in %s:\n%s" % (path, text))


def test_log_reopen():
    d = Daemon([
        {"name": "lg", "transport": "tcp", "model": "libev", "handler": "logger"},
        {"name": "lgp", "transport": "tcp", "model": "prefork", "workers": 2,
         "handler": "logger"},
        {"name": "ec", "transport": "tcp", "handler": "echo"},
    ])
    d.start()
    moved = []
    try:
        hows = ["SIGUSR1", "control"]
        if os.access(NETLABCTL, os.X_OK):
            hows.append("netlabctl")
        else:
            print("note: %s not built; netlabctl log-reopen not tried" % NETLABCTL)
        for n, how in enumerate(hows, 1):
            rotate(d, how, n, moved)
            check(stream_exchange(d, "ec", b"ok\n") == b"ok\n", "echo after the reopen")
        check_logs(d, moved)
        d.stop()
    finally:
        for path in moved:
            if os.path.exists(path):
                os.unlink(path)
        cleanup(d)


# --- privileges -----------------------------------------------------------------

def ids(pid):
    """(uids, gids, groups) of pid from /proc/PID/status."""
    with open("/proc/%d/status" % pid) as f:
        text = f.read()
    uids = [int(x) for x in re.search(r"^Uid:\s+(.*)$", text, re.M).group(1).split()]
    gids = [int(x) for x in re.search(r"^Gid:\s+(.*)$", text, re.M).group(1).split()]
    groups = {int(x) for x in re.search(r"^Groups:[ \t]*(.*)$", text, re.M).group(1).split()}
    return uids, gids, groups


def readable_by_others(path):
    """True when a process of another user can read path (every folder on
    the way searchable, the file readable by others)."""
    path = os.path.abspath(path)
    parts = path.split("/")
    for i in range(2, len(parts)):
        if not os.stat("/".join(parts[:i])).st_mode & 0o001:
            return False
    return bool(os.stat(path).st_mode & 0o004)


def check_children(d, pw, gid, what, names):
    want_groups = set(os.getgrouplist(pw.pw_name, gid))
    kids = d.children()
    check(kids, "%s: no serving processes" % what)
    for pid in kids:
        uids, gids, groups = ids(pid)
        check(uids == [pw.pw_uid] * 4, "%s: serving process %d has uids %r, expected %d (%s)"
              % (what, pid, uids, pw.pw_uid, pw.pw_name))
        check(gids == [gid] * 4, "%s: serving process %d has gids %r, expected %d"
              % (what, pid, gids, gid))
        check(groups == want_groups, "%s: serving process %d has groups %r, expected %r"
              % (what, pid, sorted(groups), sorted(want_groups)))
    uids, gids, groups = ids(d.proc.pid)
    check(uids == [0] * 4 and gids[0] == 0, "%s: the master has uids %r, gids %r"
          % (what, uids, gids))
    for name in names:
        got = stream_exchange(d, name, b"as nobody\n", timeout=5)
        check(got == b"as nobody\n", "%s: %s answered %r" % (what, name, got))
    return kids


def test_privileges():
    if os.geteuid() != 0:
        print("SKIP (privilege drop): not running as root")
        return False
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        print("SKIP (privilege drop): no user nobody")
        return False
    so = os.path.join(PLUGIN_DIR, "echo.so")
    if not readable_by_others(so):
        print("SKIP (privilege drop): %s is not readable by other users" % so)
        return False
    d = Daemon([
        {"name": "pe", "transport": "tcp", "model": "libev", "handler": "echo"},
        {"name": "pt", "transport": "tcp", "model": "threads", "workers": 2, "handler": "echo"},
        {"name": "pp", "transport": "tcp", "model": "prefork", "workers": 2, "handler": "echo"},
        {"name": "lg", "transport": "tcp", "model": "libev", "handler": "logger"},
    ], extra={"user": "nobody"})
    d.start()
    moved = []
    try:
        echoes = ["pe", "pt", "pp"]
        kids = check_children(d, pw, pw.pw_gid, "user nobody", echoes)
        print("user nobody: %d serving processes run as uid %d gid %d, the master as root"
              % (len(kids), pw.pw_uid, pw.pw_gid))

        # A log reopen: the serving processes (nobody) still log, through
        # the master, into the new file.
        got = stream_exchange(d, "lg", b"privs-before\n")
        check(got == b"", "logger answered %r" % got)
        wait_file(d.logfile, r"listener lg: .*privs-before", "user nobody: logger line")
        os.rename(d.logfile, d.logfile + ".1")
        moved.append(d.logfile + ".1")
        os.kill(d.proc.pid, signal.SIGUSR1)
        wait_file(d.logfile, r"log reopened", "user nobody: SIGUSR1")
        stream_exchange(d, "lg", b"privs-after\n")
        wait_file(d.logfile, r"listener lg: .*privs-after", "user nobody: logger line after")
        check(os.stat(d.logfile).st_uid == 0, "the new log file is not root's")

        # A reload that adds a listener on a new port.
        port = free_tcp_port()
        with open(d.conf) as f:
            text = f.read()
        text = text.replace("\n);", ',\n  { name = "pn"; transport = "tcp"; model = "libev"; '
                            'handler = "echo"; address = "127.0.0.1"; port = %d; }\n);' % port)
        with open(d.conf, "w") as f:
            f.write(text)
        d.listeners.append({"name": "pn", "transport": "tcp"})
        ans = d.command("reload", timeout=30)
        check(ans == {"ok": True, "error": None, "generation": 2}, "reload answered %r" % ans)
        check(wait_until(lambda: all(l["serving"] for l in d.status()["listeners"]), 10),
              "not serving after the reload: %r" % d.status())
        check(d.listener("pn")["address"] == "127.0.0.1:%d" % port, "pn: %r" % d.listener("pn"))
        kids2 = check_children(d, pw, pw.pw_gid, "after adding a listener", echoes + ["pn"])
        check(set(kids) <= set(kids2), "unchanged listeners' processes went %r -> %r"
              % (sorted(kids), sorted(kids2)))
        wait_file(d.logfile, r"reloaded: generation 2", "user nobody: reload logged")

        # A reload that sets group: every listener gets new processes.
        try:
            gr = grp.getgrnam("daemon")
        except KeyError:
            gr = None
        if gr is not None and gr.gr_gid != pw.pw_gid:
            with open(d.conf, "w") as f:
                f.write(text.replace("listeners = (", 'group = "daemon";\nlisteners = (', 1))
            ans = d.command("reload", timeout=30)
            check(ans == {"ok": True, "error": None, "generation": 3}, "reload answered %r" % ans)
            check(wait_until(lambda: not d.status()["draining"] and
                             all(l["serving"] for l in d.status()["listeners"]), 10),
                  "not serving after setting group: %r" % d.status())
            kids3 = check_children(d, pw, gr.gr_gid, "group daemon", echoes + ["pn"])
            check(not set(kids3) & set(kids2), "setting group kept processes %r"
                  % sorted(set(kids3) & set(kids2)))
            print("group daemon: %d serving processes now run with gid %d"
                  % (len(kids3), gr.gr_gid))
        else:
            print("note: no group daemon; the group change is not tried")
        check_logs(d, moved)
        d.stop()
    finally:
        for path in moved:
            if os.path.exists(path):
                os.unlink(path)
        cleanup(d)
    return True


def main():
    t0 = time.time()
    test_log_reopen()
    test_privileges()
    print("%.1f s" % (time.time() - t0))


if __name__ == "__main__":
    run(main)
