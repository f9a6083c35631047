"""Every man page renders with `man --warnings -l` and nothing on stderr:
the pages made from man/*.in in the build tree (their configured folders
filled in, no @TOKEN@ left) and any page kept as it is in the source tree."""
import glob
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import SKIP, TOP, check, fail, run  # noqa: E402

BUILDDIR = os.environ.get("NETLABD_BUILDDIR", os.path.join(TOP, "build"))
SRCDIR = os.environ.get("NETLABD_SRCDIR", TOP)
PAGE = re.compile(r"\.[1-9]$")
# The pages made from man/*.in; a missing one means the build did not make it.
MADE = ["netlabctl.8", "netlabd.8", "netlabd.conf.5", "netlabd-plugin.3"]


def pages():
    found = {}
    for d in (os.path.join(SRCDIR, "man"), os.path.join(BUILDDIR, "man")):
        for p in sorted(glob.glob(os.path.join(d, "*"))):
            if PAGE.search(p):
                found[os.path.basename(p)] = p  # the build tree's wins
    return found


def main():
    if shutil.which("man") is None:
        print("SKIP: man not found (Debian package man-db)")
        sys.exit(SKIP)
    found = pages()
    for name in MADE:
        check(name in found, "man/%s not made in %s" % (name, BUILDDIR))
    env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80",
               LC_ALL="C.UTF-8")
    env.pop("MANROFFOPT", None)
    for name, path in sorted(found.items()):
        with open(path, encoding="utf-8") as f:
            src = f.read()
        left = re.findall(r"@[A-Za-z_]+@", src)
        check(not left, "%s: tokens not filled in: %s" % (path, sorted(set(left))))
        try:
            p = subprocess.run(["man", "--warnings", "-l", path], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
        except subprocess.TimeoutExpired:
            fail("man -l %s did not end within 60 s" % path)
        out = p.stdout.decode(errors="replace")
        err = p.stderr.decode(errors="replace")
        check(p.returncode == 0, "man -l %s exited %d: %s" % (path, p.returncode, err))
        check(err == "", "man --warnings -l %s warned:\n%s" % (path, err))
        check("NAME" in out and len(out.splitlines()) > 10,
              "man -l %s rendered almost nothing:\n%s" % (path, out))
        print("ok: %s" % name)


run(main)
