"""make install DESTDIR=...: every file in its configured place, the paths
compiled into the binaries and filled into the config, units and man pages,
the installed config accepted by the installed `netlabd -t`, an edited
config kept by a second install and by make uninstall, and uninstall
removing everything else it added."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import TOP, check, fail, run  # noqa: E402

BUILDDIR = os.environ.get("NETLABD_BUILDDIR", os.path.join(TOP, "build"))
MAKE = os.environ.get("NETLABD_MAKE", "make")
HANDLERS = ["echo", "greeter", "logger", "timestamp", "upper"]


def d(name):
    v = os.environ.get("NL_" + name, "")
    if name != "systemdsystemunitdir":
        check(v.startswith("/"), "NL_%s not set (run me from make check)" % name)
    return v


def make(*args):
    # A make of our own, not a part of the make check that runs us.
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    try:
        p = subprocess.run([MAKE, "-s", "-C", BUILDDIR] + list(args), env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=300)
    except subprocess.TimeoutExpired:
        fail("make %s did not end within 300 s" % " ".join(args))
    out = p.stdout.decode(errors="replace")
    check(p.returncode == 0, "make %s exited %d:\n%s" % (" ".join(args), p.returncode, out))
    return out


def files_under(root):
    got = set()
    for top, _dirs, names in os.walk(root):
        for n in names:
            got.add("/" + os.path.relpath(os.path.join(top, n), root))
    return got


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def expected():
    want = {d("sbindir") + "/netlabd", d("bindir") + "/netlabctl",
            d("includedir") + "/netlabd/plugin.h",
            d("pkgconfigdir") + "/netlabd-plugin.pc",
            d("sysconfdir") + "/netlabd.conf",
            d("docdir") + "/examples/netlabd.conf",
            d("mandir") + "/man8/netlabd.8", d("mandir") + "/man8/netlabctl.8",
            d("mandir") + "/man5/netlabd.conf.5",
            d("mandir") + "/man3/netlabd-plugin.3"}
    want |= {"%s/%s.so" % (d("pkglibdir"), h) for h in HANDLERS}
    unitdir = d("systemdsystemunitdir")
    if unitdir:
        want |= {unitdir + "/" + u for u in
                 ("netlabd.service", "netlabd.socket", "netlabd-greeter.socket")}
    return want


def run_tool(args, what):
    try:
        p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60,
                           env=dict(os.environ, NETLABD_CONTROL=""))
    except subprocess.TimeoutExpired:
        fail("%s did not end within 60 s" % what)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def check_paths(dest):
    """The configured folders are in the installed files, filled in."""
    conf = read(dest + d("sysconfdir") + "/netlabd.conf")
    check('pidfile = "%s/netlabd.pid";' % d("rundir") in conf,
          "installed netlabd.conf: no pidfile under %s:\n%s" % (d("rundir"), conf))
    check('control = "%s/control.sock";' % d("rundir") in conf,
          "installed netlabd.conf: no control socket under %s" % d("rundir"))
    check(d("pkglibdir") in conf, "installed netlabd.conf does not name %s" % d("pkglibdir"))
    addrs = re.findall(r'^\s*address\s*=\s*"([^"]*)"', conf, re.M)
    check(addrs and all(a in ("127.0.0.1", "::1") for a in addrs),
          "installed netlabd.conf listens beyond loopback: %s" % addrs)
    for path in sorted(files_under(dest)):
        if re.search(r"\.(conf|service|socket|[1-9])$", path):
            left = re.findall(r"@[A-Za-z_]+@", read(dest + path))
            check(not left, "%s: tokens not filled in: %s" % (path, sorted(set(left))))
    if d("systemdsystemunitdir"):
        unit = read(dest + d("systemdsystemunitdir") + "/netlabd.service")
        check("ExecStart=%s/netlabd -f\n" % d("sbindir") in unit,
              "netlabd.service does not start %s/netlabd -f:\n%s" % (d("sbindir"), unit))
        check("ExecReload=%s/netlabctl reload\n" % d("bindir") in unit,
              "netlabd.service does not reload with %s/netlabctl" % d("bindir"))
    # Compiled in: the default config, and netlabctl's default socket (the
    # daemon's default control).
    rc, out = run_tool([dest + d("sbindir") + "/netlabd", "-h"], "netlabd -h")
    check(rc == 0 and "default %s/netlabd.conf" % d("sysconfdir") in out,
          "installed netlabd -h does not default to %s/netlabd.conf:\n%s"
          % (d("sysconfdir"), out))
    if not os.path.exists(d("rundir") + "/control.sock"):
        rc, out = run_tool([dest + d("bindir") + "/netlabctl", "status"], "netlabctl status")
        check(rc != 0 and d("rundir") + "/control.sock" in out,
              "netlabctl status does not try %s/control.sock: exit %d, %s"
              % (d("rundir"), rc, out))


def check_conf_accepted(dest, tmp):
    """The installed netlabd -t accepts the installed config, its folders
    moved into the DESTDIR tree and a run folder of the test's own."""
    rundir = os.path.join(tmp, "run")
    os.mkdir(rundir)
    os.chmod(rundir, 0o755)
    conf = read(dest + d("sysconfdir") + "/netlabd.conf")
    conf = conf.replace('"%s/' % d("rundir"), '"%s/' % rundir)
    conf = conf.replace('#plugin_dir = "%s";' % d("pkglibdir"),
                        'plugin_dir = "%s%s";' % (dest, d("pkglibdir")))
    check("plugin_dir = " in conf, "no plugin_dir line to point at the DESTDIR")
    path = os.path.join(tmp, "netlabd.conf")
    with open(path, "w") as f:
        f.write(conf)
    rc, out = run_tool([dest + d("sbindir") + "/netlabd", "-t", "-c", path], "netlabd -t")
    check(rc == 0 and "configuration OK" in out,
          "installed netlabd -t refused the installed config (exit %d):\n%s" % (rc, out))


def main():
    tmp = tempfile.mkdtemp(prefix="netlabd-install-")
    try:
        # Readable by all: the handler check may run as the netlabd account.
        os.chmod(tmp, 0o755)
        dest = os.path.join(tmp, "dest")
        make("install", "DESTDIR=" + dest)
        got, want = files_under(dest), expected()
        check(not (want - got), "not installed: %s" % sorted(want - got))
        check(d("sbindir") + "/netlabctl" not in got, "netlabctl installed in sbindir too")
        for h in HANDLERS:
            check(os.access(dest + "%s/%s.so" % (d("pkglibdir"), h), os.R_OK),
                  "%s.so not readable" % h)
        check_paths(dest)
        check_conf_accepted(dest, tmp)

        # An operator's edit survives a second install and an uninstall.
        conf = dest + d("sysconfdir") + "/netlabd.conf"
        with open(conf, "a") as f:
            f.write("# edited by the operator\n")
        edited = read(conf)
        make("install", "DESTDIR=" + dest)
        check(read(conf) == edited, "a second make install replaced the edited config")
        make("uninstall", "DESTDIR=" + dest)
        left = files_under(dest)
        check(left == {d("sysconfdir") + "/netlabd.conf"},
              "after make uninstall with an edited config, left: %s" % sorted(left))
        check(read(conf) == edited, "make uninstall changed the edited config")

        # Unedited, it goes with the rest.
        os.unlink(conf)
        make("install", "DESTDIR=" + dest)
        check(os.path.exists(conf), "make install did not install netlabd.conf")
        make("uninstall", "DESTDIR=" + dest)
        left = files_under(dest)
        check(not left, "after make uninstall, left: %s" % sorted(left))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


run(main)
