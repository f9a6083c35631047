"""Who may steer netlabd through its control socket: status and help for
anyone who can connect; reload, stop and log-reopen only for root,
netlabd's own user and members of control_admin_group (by primary group
and by a supplementary one), checked with SO_PEERCRED; others get
{"error": "permission denied: ..."}, nothing happens, and netlabctl prints
it and exits 1.  control_group owns the socket."""
import grp
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import NETLABCTL, Daemon, check, run  # noqa: E402

SETPRIV = "/usr/bin/setpriv"


def ctl_as(d, user_args, *cmd):
    """netlabctl --json as another user; returns (rc, answer or None, err)."""
    p = subprocess.run([SETPRIV] + user_args + [NETLABCTL, "-s", d.control, "--json"]
                       + list(cmd), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30)
    out = p.stdout.decode()
    try:
        doc = json.loads(out) if out.strip() else None
    except ValueError:
        doc = None
    return p.returncode, doc, p.stderr.decode() + out


NOBODY = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def test_nobody_refused():
    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo"}],
               extra={"control_mode": "0666"})
    os.chmod(d.dir, 0o755)
    with d:
        gen = d.status()["generation"]
        rc, doc, out = ctl_as(d, NOBODY, "status")
        check(rc == 0 and doc and doc["listeners"][0]["name"] == "e",
              "status as nobody: rc %d %s" % (rc, out))
        rc, doc, out = ctl_as(d, NOBODY, "help")
        check(rc == 0 and "reload" in doc.get("commands", {}),
              "help as nobody: rc %d %s" % (rc, out))
        for cmd in ("reload", "stop", "log-reopen"):
            rc, doc, out = ctl_as(d, NOBODY, cmd)
            check(rc == 1, "%s as nobody: exit %d, want 1: %s" % (cmd, rc, out))
            check(doc and doc.get("error", "").startswith("permission denied: "),
                  "%s as nobody: %s" % (cmd, out))
            check("uid 65534" in doc["error"], "%s: %s" % (cmd, doc["error"]))
        # The plain netlabctl says it too.
        p = subprocess.run([SETPRIV] + NOBODY + [NETLABCTL, "-s", d.control, "stop"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        check(p.returncode == 1 and b"permission denied" in p.stdout + p.stderr,
              "netlabctl stop as nobody: %d %r" % (p.returncode, p.stdout + p.stderr))
        # Nothing happened: still running, no reload.
        check(d.proc.poll() is None, "netlabd stopped for nobody")
        check(d.status()["generation"] == gen, "a reload ran for nobody")
        d.wait_log(r"control socket: stop refused: permission denied")
        # Root may.
        check(d.command("reload")["ok"] is True, "reload as root refused")


def test_admin_group():
    # nobody's primary group.
    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo"}],
               extra={"control_mode": "0666", "control_admin_group": "nogroup"})
    os.chmod(d.dir, 0o755)
    with d:
        rc, doc, out = ctl_as(d, NOBODY, "reload")
        check(rc == 0 and doc.get("ok") is True,
              "reload by a member of control_admin_group: %s" % out)
        check(d.status()["generation"] == 2, "the reload did not run")
    # A supplementary group, and control_group owning the socket.
    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo"}],
               extra={"control_mode": "0660", "control_group": "adm",
                      "control_admin_group": "adm"})
    os.chmod(d.dir, 0o755)
    with d:
        st = os.stat(d.control)
        check(st.st_gid == grp.getgrnam("adm").gr_gid,
              "control socket's group is %d, not adm" % st.st_gid)
        check(st.st_mode & 0o777 == 0o660, "mode %o" % (st.st_mode & 0o777))
        member = ["--reuid=nobody", "--regid=nogroup", "--groups=adm"]
        rc, doc, out = ctl_as(d, member, "log-reopen")
        check(rc == 0 and doc.get("ok") is True,
              "log-reopen by a supplementary member: %s" % out)
        # Without the group, nobody cannot even connect (0660).
        rc, doc, out = ctl_as(d, NOBODY, "status")
        check(rc == 2, "status as nobody through a 0660 socket of adm: %d %s"
              % (rc, out))
        rc, doc, out = ctl_as(d, member, "stop")
        check(rc == 0 and doc.get("ok") is True, "stop by a member: %s" % out)
        d.proc.wait(15)
        d.proc = _Stopped(d.proc)


class _Stopped:
    """A netlabd stopped by the test: stop() finds it gone, exit 0."""

    def __init__(self, proc):
        self.proc = proc
        self.stdout = proc.stdout
        self.returncode = proc.returncode

    def send_signal(self, sig):
        pass

    def wait(self, timeout=None):
        return self.proc.returncode

    def poll(self):
        return self.proc.returncode

    @property
    def pid(self):
        return self.proc.pid


def main():
    if os.geteuid() != 0 or not os.access(SETPRIV, os.X_OK):
        print("SKIP: running netlabctl as another user needs root and %s" % SETPRIV)
        sys.exit(77)
    try:
        grp.getgrnam("adm")
        grp.getgrnam("nogroup")
    except KeyError:
        print("SKIP: the groups adm and nogroup are needed")
        sys.exit(77)
    test_nobody_refused()
    test_admin_group()


run(main)
