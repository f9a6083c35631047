"""Config files that used to end the process, checked with -t and by
reloading a running master: a unix listener without a valid path (-t died
of SIGSEGV, a SIGHUP killed the master), an @include naming a folder
(libconfig's scanner called exit(2)), an @include of a FIFO (the open
waited for a writer), and @include nesting past the bound.

-t must exit 1 with one FILE:LINE line naming the fault, within a bounded
time.  A running master sent SIGHUP (or the control socket's reload) with
each such file must keep running: status answers, last_reload holds the
FILE:LINE error, and every listener still serves.
"""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import Daemon, check, fail, run, stream_exchange  # noqa: E402
from clitest import run_netlabd, tempdir, wait_until, write  # noqa: E402

DEPTH = 10  # NL_CONF_INCLUDE_DEPTH


def dash_t(path, want, what):
    """netlabd -t on path: exit 1 (not a signal, not 2), and stderr's first
    line is exactly want."""
    rc, out, err = run_netlabd(["-t", "-c", path], timeout=15)
    first = err.splitlines()[0] if err else ""
    check(rc == 1, "%s: -t exited %d (want 1):\n%s%s" % (what, rc, out, err))
    check(first == want, "%s: -t said %r, want %r:\n%s" % (what, first, want, err))
    check("flex" not in err, "%s: libconfig's scanner spoke:\n%s" % (what, err))


def unix_pair(dirname, second_path):
    """Two unix listeners, the second with `path` as given (None: none)."""
    more = "" if second_path is None else " path = %s;" % second_path
    return ('listeners = (\n'
            '  { name = "a"; transport = "unix"; path = "%s/a.sock"; handler = "echo"; },\n'
            '  { name = "b"; transport = "unix";%s handler = "echo"; }\n'
            ');\n' % (dirname, more))


def test_dash_t():
    tmp = tempdir()
    try:
        for label, value, why in (("none", None, "missing path"),
                                  ("int", "5", "b.path: expected a string, got an integer"),
                                  ("empty", '""', "b.path: must not be empty")):
            path = write(os.path.join(tmp, "unix-%s.conf" % label), unix_pair(tmp, value))
            want = "%s:3: listeners.%s" % (path, why if why.startswith("b.") else "b: " + why)
            dash_t(path, want, "unix listener, path " + label)

        os.mkdir(os.path.join(tmp, "conf.d"))
        path = write(os.path.join(tmp, "folder.conf"),
                     'log_level = "info";\n@include "conf.d"\n')
        dash_t(path, '%s:2: @include "conf.d": Is a directory' % path, "@include of a folder")

        # A folder included from an included file names that file.
        write(os.path.join(tmp, "inner.inc"), '# inner\n@include "conf.d"\n')
        path = write(os.path.join(tmp, "outer.conf"), '@include "inner.inc"\n')
        dash_t(path, '%s:2: @include "conf.d": Is a directory' % os.path.join(tmp, "inner.inc"),
               "@include of a folder, one level down")

        # No writer ever opens the FIFO: -t must not wait for one.
        os.mkfifo(os.path.join(tmp, "fifo"))
        path = write(os.path.join(tmp, "fifo.conf"), '@include "fifo"\n')
        dash_t(path, '%s:1: @include "fifo": not a regular file' % path, "@include of a FIFO")

        # DEPTH nested files are fine; one more is refused, naming the
        # file whose @include goes too deep.
        for i in range(1, DEPTH + 2):
            write(os.path.join(tmp, "n%d.inc" % i),
                  '@include "n%d.inc"\n' % (i + 1) if i <= DEPTH else "")
        path = write(os.path.join(tmp, "deep-ok.conf"), '@include "n2.inc"\n')
        rc, out, err = run_netlabd(["-t", "-c", path], timeout=15)
        check(rc == 0, "%d nested @include files: -t exited %d:\n%s" % (DEPTH, rc, err))
        path = write(os.path.join(tmp, "deep.conf"), '@include "n1.inc"\n')
        dash_t(path, '%s:1: @include "n%d.inc": nested more than %d deep'
               % (os.path.join(tmp, "n%d.inc" % DEPTH), DEPTH + 1, DEPTH),
               "%d nested @include files" % (DEPTH + 1))
    finally:
        for name in sorted(os.listdir(tmp)):
            p = os.path.join(tmp, name)
            (os.rmdir if os.path.isdir(p) and not os.path.islink(p) else os.unlink)(p)
        os.rmdir(tmp)


def serves(d, what):
    for name in ("web", "sock"):
        got = stream_exchange(d, name, b"still here\n")
        check(got == b"still here\n", "%s: %s echoed %r" % (what, name, got))


def last_reload(d):
    """status's last_reload, or a string when the master does not answer
    (the old code died here)."""
    try:
        return d.status()["last_reload"]
    except (OSError, ValueError):
        return "no answer"


def refused(d, text, want, what, via):
    """Replaces the config with text, reloads, and checks that the master
    lives on with the old listeners and the error in last_reload."""
    st0 = d.status()
    write(d.conf + ".new", text)
    os.rename(d.conf + ".new", d.conf)  # as an editor does: never half a file
    if via == "sighup":
        before = st0["last_reload"]
        os.kill(d.proc.pid, signal.SIGHUP)
        if not wait_until(lambda: last_reload(d) != before, 10):
            fail("%s: no reload within 10 s:\n%s" % (what, d.log()))
        wait_until(lambda: d.proc.poll() is not None or last_reload(d) != "no answer", 5)
    else:
        ans = d.command("reload", timeout=15)
        check(ans.get("ok") is False and isinstance(ans.get("error"), str) and
              ans["error"].startswith(want),
              "%s: reload answered %r, want an error starting %r" % (what, ans, want))
    check(d.proc.poll() is None, "%s: the master exited %s:\n%s"
          % (what, d.proc.returncode, d.log()))
    st = d.status()
    lr = st["last_reload"]
    check(isinstance(lr, dict) and lr.get("ok") is False and
          isinstance(lr.get("error"), str) and lr["error"].startswith(want),
          "%s: last_reload %r, want an error starting %r" % (what, lr, want))
    check(st["generation"] == st0["generation"], "%s: generation %d -> %d"
          % (what, st0["generation"], st["generation"]))
    check([l["address"] for l in st["listeners"]] ==
          [l["address"] for l in st0["listeners"]],
          "%s: listeners changed: %r" % (what, st["listeners"]))
    serves(d, what)


def test_reload():
    d = Daemon([{"name": "web", "transport": "tcp", "handler": "echo"},
                {"name": "sock", "transport": "unix", "path": "sock.sock", "handler": "echo"}],
               expect_errors=True)
    with open(d.conf) as f:
        good = f.read()
    lines = good.count("\n")
    # The same listeners and one more, a unix listener without a path
    # (on line `b` of the file): the crash needed a unix listener before it.
    head = good[:good.index("listeners = (")]
    bad_unix = head + (
        'listeners = (\n'
        '  { name = "web"; transport = "tcp"; address = "127.0.0.1"; port = 0;'
        ' handler = "echo"; },\n'
        '  { name = "sock"; transport = "unix"; path = "sock.sock"; handler = "echo"; },\n'
        '  { name = "b"; transport = "unix"; handler = "echo"; }\n'
        ');\n')
    b = bad_unix.count("\n") - 1
    os.mkdir(d.path("conf.d"))
    os.mkfifo(d.path("fifo"))
    d.start()
    try:
        serves(d, "at start")
        for via in ("sighup", "control"):
            refused(d, bad_unix, "%s:%d: listeners.b: missing path" % (d.conf, b),
                    "unix listener without a path, " + via, via)
            refused(d, good + '@include "conf.d"\n',
                    '%s:%d: @include "conf.d": Is a directory' % (d.conf, lines + 1),
                    "@include of a folder, " + via, via)
            refused(d, good + '@include "fifo"\n',
                    '%s:%d: @include "fifo": not a regular file' % (d.conf, lines + 1),
                    "@include of a FIFO, " + via, via)
        # The good file again: the master reloads it as ever.
        write(d.conf, good)
        ans = d.command("reload", timeout=15)
        check(ans.get("ok") is True, "good file again: reload answered %r" % ans)
        serves(d, "after the good reload")
    except BaseException:
        d.kill()
        print(d.log())
        raise
    os.rmdir(d.path("conf.d"))
    os.unlink(d.path("fifo"))
    d.stop()


def main():
    test_dash_t()
    test_reload()


run(main)
