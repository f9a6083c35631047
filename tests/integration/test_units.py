"""The systemd units made from systemd/*.in pass `systemd-analyze verify`
(with nothing to say), start the configured netlabd, reload with netlabctl,
and the socket activation examples name listeners of the shipped config
with the same transport and address."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import SKIP, TOP, check, fail, run  # noqa: E402

BUILDDIR = os.environ.get("NETLABD_BUILDDIR", os.path.join(TOP, "build"))
UNITS = ["netlabd.service", "netlabd.socket", "netlabd-greeter.socket"]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def verify(paths):
    """systemd-analyze verify's exit status and everything it said."""
    try:
        p = subprocess.run(["systemd-analyze", "verify", "--man=no"] + paths,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
    except subprocess.TimeoutExpired:
        fail("systemd-analyze verify did not end within 60 s")
    return p.returncode, p.stdout.decode(errors="replace").strip()


def keys(text):
    """The unit's Key=value lines as a dict of lists."""
    got = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            got.setdefault(m.group(1), []).append(m.group(2))
    return got


def listeners(conf):
    """name -> the listener's group text, from the shipped config."""
    return {m.group(2): m.group(1) for m in
            re.finditer(r'\{([^{}]*?name\s*=\s*"([^"]+)";.*?)\n  \}', conf, re.S)}


def field(group, key):
    m = re.search(r'^\s*%s\s*=\s*"?([^";]*)"?;' % key, group, re.M)
    return m.group(1) if m else None


def main():
    sbindir, bindir = os.environ.get("NL_sbindir"), os.environ.get("NL_bindir")
    check(sbindir and bindir, "NL_sbindir/NL_bindir not set (run me from make check)")
    made = {u: os.path.join(BUILDDIR, "systemd", u) for u in UNITS}
    for u, path in made.items():
        check(os.path.exists(path), "%s not made" % path)
    service = keys(read(made["netlabd.service"]))
    check(service.get("Type") == ["notify"], "netlabd.service: Type is not notify")
    check(service.get("ExecStart") == ["%s/netlabd -f" % sbindir],
          "netlabd.service: ExecStart=%s" % service.get("ExecStart"))
    check(service.get("ExecReload") == ["%s/netlabctl reload" % bindir],
          "netlabd.service: ExecReload=%s" % service.get("ExecReload"))
    check(service.get("RuntimeDirectory") == ["netlabd"], "netlabd.service: no RuntimeDirectory")
    check(service.get("WatchdogSec") == ["30s"], "netlabd.service: WatchdogSec is not 30s")
    check(service.get("RestartPreventExitStatus") == ["1"],
          "netlabd.service: RestartPreventExitStatus is not 1")
    for k in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        check(service.get(k) == ["yes"], "netlabd.service: %s is not yes" % k)
    check(service.get("ProtectSystem") == ["strict"], "netlabd.service: ProtectSystem")
    check(service.get("RestrictAddressFamilies") == ["AF_UNIX AF_INET AF_INET6"],
          "netlabd.service: RestrictAddressFamilies=%s" % service.get("RestrictAddressFamilies"))

    # The examples hand the shipped config's listeners over by name.
    ls = listeners(read(os.path.join(BUILDDIR, "etc", "netlabd.conf")))
    for u, transport in (("netlabd.socket", "tcp"), ("netlabd-greeter.socket", "unix")):
        sk = keys(read(made[u]))
        name = (sk.get("FileDescriptorName") or ["?"])[0]
        check(name in ls, "%s: FileDescriptorName=%s is no listener of etc/netlabd.conf (%s)"
              % (u, name, sorted(ls)))
        check(field(ls[name], "transport") == transport,
              "%s: listener %s is not %s" % (u, name, transport))
        where = (field(ls[name], "address") + ":" + field(ls[name], "port")
                 if transport == "tcp" else field(ls[name], "path"))
        check(sk.get("ListenStream") == [where],
              "%s: ListenStream=%s, the listener %s is on %s"
              % (u, sk.get("ListenStream"), name, where))

    if shutil.which("systemd-analyze") is None:
        print("SKIP: systemd-analyze not found (Debian package systemd); the units were not verified")
        sys.exit(SKIP)
    # verify wants the commands to exist: the same units, starting the
    # binaries of this build instead of the ones make install would put
    # in place.
    tmp = tempfile.mkdtemp(prefix="netlabd-units-")
    try:
        paths = []
        for u, path in made.items():
            text = read(path)
            text = text.replace("=%s/netlabd " % sbindir,
                                "=%s/daemon/netlabd " % BUILDDIR)
            text = text.replace("=%s/netlabctl " % bindir,
                                "=%s/ctl/netlabctl " % BUILDDIR)
            paths.append(os.path.join(tmp, u))
            with open(paths[-1], "w") as f:
                f.write(text)
        rc, out = verify(paths)
        check(rc == 0 and out == "", "systemd-analyze verify (exit %d):\n%s" % (rc, out))
        print("ok: systemd-analyze verify %s" % " ".join(UNITS))

        # And it would have said so: a unit with a mistake is reported.
        with open(paths[0], "a") as f:
            f.write("[Service]\nNoSuchKey=1\n")
        rc, out = verify(paths[:1])
        check("NoSuchKey" in out, "systemd-analyze verify missed an unknown key:\n%s" % out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


run(main)
