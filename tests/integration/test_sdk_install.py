"""Install into a temporary prefix and use it as a plugin author would.

Configures the source tree again into a temporary build folder with
--prefix inside the temporary folder, builds and installs it; copies the
installed example handler (kv) with its own Makefile, builds it against the
*installed* header through pkg-config (PKG_CONFIG_PATH to the prefix only),
tries it with the installed netlabd-plugin-run, serves it with the
installed netlabd (plus a shipped handler by its bare name, from the
compiled-in plugin_dir), talks to it over TCP, rebuilds it with another
default and reloads with the installed netlabctl: new sessions get the new
build, a session opened before the reload keeps the old one.

The README's handler is written and built from the README's text alone,
and the README's `$ ` commands must print what the README shows.

Works from a tarball under `make distcheck` (the source folder is
read-only there; nothing is written into it).  Skipped when a compiler,
make or pkg-config is missing.  Environment: NETLABD_SRCDIR (set by
`make check`, the source tree's absolute path).
"""
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import BAD_LOG, SKIP, TOP, check, fail  # noqa: E402

SRCDIR = os.environ.get("NETLABD_SRCDIR", TOP)

# Bounds: the build takes 30 to 60 s on two cores; leave room for a loaded
# machine (the rest of the suite runs at the same time).
CONFIGURE_TIMEOUT = 300
MAKE_TIMEOUT = 900
STEP_TIMEOUT = 60


def tool_env(extra=None):
    """The environment without what the outer `make check` exports: its
    jobserver and flags must not leak into the inner build."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
                        "DESTDIR", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR")}
    env.update(extra or {})
    return env


def sh(args, cwd, timeout=STEP_TIMEOUT, env=None, stdin=b"", ok=True):
    """Runs args; fails the test (with the output) unless it exits 0 when
    ok.  Returns the CompletedProcess."""
    try:
        p = subprocess.run(args, cwd=cwd, env=env or tool_env(), input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("%s (in %s) took more than %d s" % (" ".join(args), cwd, timeout))
    if ok and p.returncode != 0:
        fail("%s (in %s) exited %d:\n%s" % (" ".join(args), cwd, p.returncode,
                                           p.stdout.decode(errors="replace")[-4000:]))
    return p


def need_tools():
    missing = [t for t in ("cc", "make", "pkg-config") if shutil.which(t) is None]
    if missing:
        print("SKIP: %s not found: install build-essential and pkg-config"
              % " and ".join(missing))
        sys.exit(SKIP)
    if os.path.exists(os.path.join(SRCDIR, "config.status")):
        print("SKIP: %s is configured in place; this test configures it again "
              "into another folder, which configure refuses then" % SRCDIR)
        sys.exit(SKIP)
    if not os.path.exists(os.path.join(SRCDIR, "configure")):
        fail("no configure in %s (NETLABD_SRCDIR)" % SRCDIR)


def build_and_install(tmp):
    prefix = os.path.join(tmp, "prefix")
    build = os.path.join(tmp, "build")
    os.mkdir(build)
    t0 = time.time()
    sh([os.path.join(SRCDIR, "configure"), "--prefix=" + prefix,
        "--disable-unit-tests"], build, timeout=CONFIGURE_TIMEOUT)
    sh(["make", "-j2"], build, timeout=MAKE_TIMEOUT)
    sh(["make", "install"], build, timeout=MAKE_TIMEOUT)
    print("configure, build and install: %.0f s" % (time.time() - t0))
    return prefix


def find(prefix, *candidates):
    for c in candidates:
        path = os.path.join(prefix, c)
        if os.access(path, os.X_OK):
            return path
    fail("none of %s installed in %s" % (", ".join(candidates), prefix))


def build_example(prefix, tmp, cppflags=None):
    """Copies the installed example and builds it with its own Makefile
    against the installed header only.  Returns the .so's path."""
    src = os.path.join(prefix, "share", "doc", "netlabd", "examples", "kv")
    work = os.path.join(tmp, "kv")
    for name in ("Makefile", "kv.c"):
        check(os.path.isfile(os.path.join(src, name)), "%s/%s not installed" % (src, name))
    os.makedirs(work, exist_ok=True)
    for name in ("Makefile", "kv.c"):
        shutil.copy(os.path.join(src, name), work)
    pc = os.path.join(prefix, "lib", "pkgconfig")
    check(os.path.isfile(os.path.join(pc, "netlabd-plugin.pc")), "no netlabd-plugin.pc in " + pc)
    env = tool_env({"PKG_CONFIG_PATH": pc})
    cflags = sh(["pkg-config", "--cflags", "netlabd-plugin"], work, env=env).stdout.decode()
    check(cflags.strip() == "-I" + os.path.join(prefix, "include"),
          "pkg-config --cflags netlabd-plugin gave %r, expected the prefix's include" % cflags)
    args = ["make", "-B"]
    if cppflags:
        args.append("CPPFLAGS=" + cppflags)
    out = sh(args, work, env=env).stdout.decode(errors="replace")
    check("warning" not in out, "the example builds with warnings:\n" + out)
    so = os.path.join(work, "kv.so")
    check(os.path.isfile(so), "make built no kv.so:\n" + out)
    return so


def readme_blocks():
    """The README's "Writing a handler" section: its ```c, ```make and
    ```sh blocks, first of each kind."""
    with open(os.path.join(SRCDIR, "README.md")) as f:
        text = f.read()
    start = text.find("\n## Writing a handler\n")
    check(start != -1, "README.md has no section \"Writing a handler\"")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end != -1 else len(text)]
    blocks = {}
    for m in re.finditer(r"^```(\w+)\n(.*?)^```$", section, re.S | re.M):
        blocks.setdefault(m.group(1), m.group(2))
    for kind in ("c", "make", "sh"):
        check(kind in blocks, "README's \"Writing a handler\" has no ```%s block" % kind)
    return blocks


def readme_handler(prefix, tmp):
    """Writes and builds the README's handler from the README's text alone,
    then runs the README's `$ ` commands and compares their output with
    the lines the README shows.  Returns the .so's path."""
    blocks = readme_blocks()
    work = os.path.join(tmp, "rev")
    os.mkdir(work)
    with open(os.path.join(work, "rev.c"), "w") as f:
        f.write(blocks["c"])
    with open(os.path.join(work, "Makefile"), "w") as f:
        f.write(blocks["make"])
    env = tool_env({"PKG_CONFIG_PATH": os.path.join(prefix, "lib", "pkgconfig"),
                    "PATH": os.path.join(prefix, "bin") + os.pathsep + os.environ["PATH"]})
    out = sh(["make"], work, env=env).stdout.decode(errors="replace")
    check("warning" not in out, "the README's handler builds with warnings:\n" + out)
    so = os.path.join(work, "rev.so")
    check(os.path.isfile(so), "the README's Makefile built no rev.so:\n" + out)
    cmds = []
    for line in blocks["sh"].splitlines():
        if line.startswith("$ "):
            cmds.append([line[2:], []])
        elif cmds:
            cmds[-1][1].append(line)
    check(len(cmds) >= 3, "README: too few `$ ` commands: %r" % blocks["sh"])
    for cmd, want in cmds:
        p = sh(["sh", "-c", cmd], work, env=env, ok=False)
        got = p.stdout.decode(errors="replace").splitlines()
        check(got == want, "README command %r printed %r, the README shows %r"
              % (cmd, got, want))
    return so


def try_with_runner(run, so):
    p = sh([run, so], os.path.dirname(so), stdin=b"set a 1\nget a\nget b\n")
    check(p.stdout == b"OK\n1\nNOT FOUND\n", "netlabd-plugin-run kv.so: %r" % p.stdout)
    p = sh([run, so, "-o", "max_keys=0"], os.path.dirname(so), ok=False)
    check(p.returncode == 1 and b"max_keys: expected 1 to 1000" in p.stdout,
          "netlabd-plugin-run -o max_keys=0: exit %d, %r" % (p.returncode, p.stdout))


class Served:
    """The installed netlabd in the foreground on a config in tmp."""

    def __init__(self, netlabd, netlabctl, tmp, so, rev):
        self.dir = tmp
        self.netlabctl = netlabctl
        self.control = os.path.join(tmp, "control.sock")
        self.logfile = os.path.join(tmp, "netlabd.log")
        self.conf = os.path.join(tmp, "netlabd.conf")
        with open(self.conf, "w") as f:
            f.write('log_target = "%s";\n' % self.logfile)
            f.write('pidfile = "%s";\n' % os.path.join(tmp, "netlabd.pid"))
            f.write('control = "%s";\n' % self.control)
            f.write("shutdown_timeout = 5;\n")
            f.write("listeners = (\n")
            f.write('  { name = "kv"; transport = "tcp"; address = "127.0.0.1"; '
                    'port = 0; model = "threads"; workers = 2; handler = "%s"; },\n' % so)
            f.write('  { name = "rev"; transport = "tcp"; address = "127.0.0.1"; '
                    'port = 0; model = "libev"; handler = "%s"; '
                    'options = { limit = 2; }; },\n' % rev)
            # A shipped handler by its bare name: the compiled-in plugin_dir.
            f.write('  { name = "upper"; transport = "tcp"; address = "127.0.0.1"; '
                    'port = 0; model = "libev"; handler = "upper"; }\n')
            f.write(");\n")
        self.proc = subprocess.Popen([netlabd, "-f", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail("installed netlabd exited %d at start:\n%s\n%s" % (
                    self.proc.returncode, self.proc.stdout.read().decode(), self.log()))
            try:
                st = self.status()
                if all(l.get("serving") for l in st["listeners"]):
                    return
            except (OSError, ValueError, AssertionError):
                pass
            time.sleep(0.1)
        self.kill()
        fail("installed netlabd not serving within 20 s:\n" + self.log())

    def ctl(self, *args, ok=True):
        return sh([self.netlabctl, "-s", self.control] + list(args), self.dir, ok=ok)

    def status(self):
        p = subprocess.run([self.netlabctl, "-s", self.control, "--json", "status"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
        if p.returncode != 0:
            raise OSError("netlabctl status exited %d" % p.returncode)
        return json.loads(p.stdout.decode())

    def port(self, name):
        for l in self.status()["listeners"]:
            if l["name"] == name:
                return int(l["address"].rsplit(":", 1)[1])
        fail("no listener %s" % name)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()
            fail("installed netlabd did not stop within 20 s:\n" + self.log())
        check(rc == 0, "installed netlabd exited %d:\n%s" % (rc, self.log()))
        check(not BAD_LOG.search(self.log()), "bad log lines:\n" + self.log())


class Client:
    """One line-at-a-time TCP session; every wait bounded."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def ask(self, line):
        """Sends line (unless None) and returns the next line received."""
        if line is not None:
            self.s.sendall(line + b"\n")
        while b"\n" not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                fail("connection closed waiting for the answer to %r" % line)
            self.buf += chunk
        answer, self.buf = self.buf.split(b"\n", 1)
        return answer

    def close(self):
        self.s.close()


def sets(c, n):
    return [c.ask(b"set k%d v" % i) for i in range(n)]


def main():
    need_tools()
    tmp = tempfile.mkdtemp(prefix="netlabd-install-")
    # Readable by all: when netlabd starts as root, its serving processes
    # may run as another account (`user`, or the netlabd account), which
    # must be able to read the handler.
    os.chmod(tmp, 0o755)
    served = None
    try:
        prefix = build_and_install(tmp)
        netlabd = find(prefix, "sbin/netlabd")
        netlabctl = find(prefix, "bin/netlabctl", "sbin/netlabctl")
        run = find(prefix, "bin/netlabd-plugin-run")
        for h in ("echo", "greeter", "logger", "timestamp", "upper"):
            check(os.path.isfile(os.path.join(prefix, "lib", "netlabd", h + ".so")),
                  "handler %s not installed in %s/lib/netlabd" % (h, prefix))
        check(os.path.isfile(os.path.join(prefix, "include", "netlabd", "plugin.h")),
              "netlabd/plugin.h not installed")

        so = build_example(prefix, tmp)
        try_with_runner(run, so)
        rev = readme_handler(prefix, tmp)
        served = Served(netlabd, netlabctl, tmp, so, rev)

        # The built example, served: 16 keys by default.
        old = Client(served.port("kv"))
        check(sets(old, 3) == [b"OK"] * 3, "kv over TCP: sets refused")
        check(old.ask(b"get k1") == b"v", "kv over TCP: get k1")
        up = Client(served.port("upper"))
        check(up.ask(b"installed") == b"INSTALLED", "upper by its bare name")
        up.close()
        c = Client(served.port("rev"))
        check([c.ask(b"hello"), c.ask(b"abc"), c.ask(None)] == [b"olleh", b"cba", b"bye"],
              "the README's handler, served with limit = 2")
        c.close()

        # Rebuilt with a default of 2 keys, then reloaded.
        build_example(prefix, tmp, cppflags="-DKV_DEFAULT_MAX_KEYS=2")
        p = sh([run, so], tmp, stdin=b"set a 1\nset b 2\nset c 3\n")
        check(p.stdout == b"OK\nOK\nERR full\n", "the rebuilt kv.so: %r" % p.stdout)
        served.ctl("reload")
        st = served.status()
        check(st["generation"] == 2, "generation after reload: %r" % st.get("generation"))

        new = Client(served.port("kv"))
        check(sets(new, 3) == [b"OK", b"OK", b"ERR full"],
              "a session after the reload does not run the rebuilt handler")
        new.close()
        # The session opened before the reload finishes under the old build.
        check(old.ask(b"set k3 v") == b"OK", "the old session lost its build")
        check(old.ask(b"quit") == b"BYE", "quit on the old session")
        old.close()

        served.stop()
        served = None
        print("PASS")
    finally:
        if served is not None:
            served.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
