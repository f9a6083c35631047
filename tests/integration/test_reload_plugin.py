"""A handler rebuilt on disk: loaded anew on reload for new sessions, while
sessions opened before go on with the old code, and a file overwritten in
place (same inode, as `cp` does) crashes no running process.

The test builds a small line handler with the system C compiler against
include/ of the source tree, in versions that answer "v1 LINE", "v2 LINE"
and "v3 LINE", and serves it on a libev and a prefork listener:

  v1 installed; sessions A open (v1);
  (a) v2 copied OVER the same file (same inode): A still answers v1, and so
      do new sessions (nothing reloaded); reload: new sessions answer v2,
      A still v1 until it ends; sessions B open (v2);
  (b) v3 written to a new file and renamed over it: reload: new sessions
      answer v3, B still v2.

No serving process may die of a signal.  Skipped (77) without a compiler.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import SKIP, Daemon, check, fail, run, stream_exchange  # noqa: E402
from clitest import cleanup, wait_until  # noqa: E402

SRC_INCLUDE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            "..", "..", "include"))

HANDLER_C = r"""
#include <string.h>
#include <netlabd/plugin.h>

/* The tag is in a writable array so that the compiler cannot fold it into
 * the code: each version differs in its data, not only its text. */
static char tag[] = TAG " ";

static int
on_data(struct netlabd_session *s, const void *line, size_t len)
{
    if (netlabd_write(s, tag, strlen(tag)) == -1 ||
        netlabd_write(s, line, len) == -1 || netlabd_write(s, "\n", 1) == -1)
        return -1;
    return 0;
}

const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_LINE,
    .name = "versioned",
    .version = TAG,
    .data = on_data,
};
"""

LISTENERS = [("ev", "libev", 1), ("pf", "prefork", 2)]


def build(cc, tmp, tag, out, pad=0):
    """Compiles the handler with TAG tag into out.  pad adds that many
    bytes of data, so that versions differ in size too."""
    src = os.path.join(tmp, "versioned.c")
    with open(src, "w") as f:
        f.write(HANDLER_C)
        if pad:
            f.write("const char versioned_pad[%d] = {1};\n" % pad)
    cmd = [cc, "-shared", "-fPIC", "-O1", "-I", SRC_INCLUDE, "-DTAG=\"%s\"" % tag,
           "-o", out, src]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    check(p.returncode == 0, "%s failed:\n%s" % (" ".join(cmd), p.stdout.decode(errors="replace")))


def ask(s, line, want, what):
    s.settimeout(5)
    try:
        s.sendall(line + b"\n")
        got = b""
        while not got.endswith(b"\n"):
            chunk = s.recv(4096)
            check(chunk, "%s: EOF after %r" % (what, got))
            got += chunk
    except OSError as e:
        fail("%s: %s" % (what, e))
    check(got == want + b" " + line + b"\n", "%s: sent %r, got %r, expected %s's answer"
          % (what, line, got, want.decode()))


def connect(d, name):
    host, port = d.listener(name)["address"].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    return s


def new_sessions_answer(d, want, what):
    for name, _, _ in LISTENERS:
        got = stream_exchange(d, name, b"fresh\n", timeout=5)
        check(got == want + b" fresh\n", "%s: a new session on %s answered %r, expected %s"
              % (what, name, got, want.decode()))


def reload(d, what):
    g = d.status()["generation"]
    ans = d.command("reload", timeout=30)
    check(ans == {"ok": True, "error": None, "generation": g + 1},
          "%s: reload answered %r" % (what, ans))
    check(wait_until(lambda: all(l["serving"] for l in d.status()["listeners"]), 10),
          "%s: not serving again: %r" % (what, d.status()))
    st = d.status()
    for name, _, _ in LISTENERS:
        # The handler file changed on disk: a changed listener, so its old
        # processes drain (they still hold a session each).
        check(any(x["listener"] == name for x in st["draining"]),
              "%s: %s's old processes not draining: %r" % (what, name, st["draining"]))


def no_crash(d, what):
    m = re.search(r".*(killed by signal|dumped core|SIGSEGV|SIGBUS).*", d.log())
    check(m is None, "%s: %s" % (what, m and m.group(0)))


def main():
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        print("SKIP: no C compiler (cc) to build the test handler")
        sys.exit(SKIP)
    if not os.path.exists(os.path.join(SRC_INCLUDE, "netlabd", "plugin.h")):
        print("SKIP: %s/netlabd/plugin.h not found" % SRC_INCLUDE)
        sys.exit(SKIP)
    d = Daemon([{"name": n, "transport": "tcp", "model": m, "workers": w,
                 "handler": "PLACEHOLDER"} for n, m, w in LISTENERS],
               shutdown_timeout=10)
    try:
        so = d.path("versioned.so")
        build(cc, d.dir, "v1", so)
        with open(d.conf) as f:
            text = f.read()
        with open(d.conf, "w") as f:
            f.write(text.replace('"PLACEHOLDER"', '"%s"' % so))
        d.start()
        ino1 = os.stat(so).st_ino

        a = {n: connect(d, n) for n, _, _ in LISTENERS}
        for n in a:
            ask(a[n], b"hello", b"v1", "%s: session A" % n)
        new_sessions_answer(d, b"v1", "v1 installed")

        # (a) v2 copied over the very file the running processes loaded.
        v2 = os.path.join(d.dir, "build-v2.so")
        build(cc, d.dir, "v2", v2, pad=4096)
        shutil.copyfile(v2, so)  # open(O_TRUNC) and write: same inode
        check(os.stat(so).st_ino == ino1, "cp changed the inode")
        time.sleep(0.2)
        for n in a:
            ask(a[n], b"after cp", b"v1", "%s: session A after v2 was copied over the file" % n)
        new_sessions_answer(d, b"v1", "v2 copied over, not reloaded yet")
        no_crash(d, "v2 copied over the loaded file")
        reload(d, "reload after cp")
        new_sessions_answer(d, b"v2", "reload after cp")
        b = {n: connect(d, n) for n, _, _ in LISTENERS}
        for n in a:
            ask(b[n], b"hi", b"v2", "%s: session B" % n)
            ask(a[n], b"still", b"v1", "%s: session A after the reload" % n)

        # (b) v3 renamed over it: a new inode.
        v3 = so + ".tmp"
        build(cc, d.dir, "v3", v3, pad=8192)
        os.rename(v3, so)
        check(os.stat(so).st_ino != ino1, "rename kept the inode")
        reload(d, "reload after rename")
        new_sessions_answer(d, b"v3", "reload after rename")
        for n in a:
            ask(a[n], b"and still", b"v1", "%s: session A after the second reload" % n)
            ask(b[n], b"still", b"v2", "%s: session B after the second reload" % n)

        # The old sessions end; their processes drain away.
        for s in list(a.values()) + list(b.values()):
            s.close()
        check(wait_until(lambda: not d.status()["draining"], 8),
              "still draining after the old sessions ended: %r" % d.status()["draining"])
        new_sessions_answer(d, b"v3", "after the drain")
        no_crash(d, "the end")
        check(len(re.findall(r"after draining", d.log())) >= 2 * (1 + 2),
              "old serving processes did not all end after draining:\n" + d.log())
        print("v1 -> v2 (cp over the same inode) -> v3 (rename): old sessions kept "
              "their version, new ones got the new one; %d reloads"
              % (d.status()["generation"] - 1))
        d.stop()
    finally:
        cleanup(d)


if __name__ == "__main__":
    run(main)
