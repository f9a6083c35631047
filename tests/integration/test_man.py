"""Every man page renders with `man --warnings -l` and nothing on stderr:
the pages made from man/*.in in the build tree (their configured folders
filled in, no @TOKEN@ left) and any page kept as it is in the source tree.
And netlabd.conf(5) describes every key netlabd knows (the keys[] table of
daemon/conf_keys.c) with its type, and its default or that it is required."""
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
MADE = ["netlabctl.8", "netlabd.8", "netlabd.conf.5", "netlabd-plugin.3",
        "netlabd-plugin-run.1"]


def pages():
    found = {}
    for d in (os.path.join(SRCDIR, "man"), os.path.join(BUILDDIR, "man")):
        for p in sorted(glob.glob(os.path.join(d, "*"))):
            if PAGE.search(p):
                found[os.path.basename(p)] = p  # the build tree's wins
    return found


def conf_keys():
    with open(os.path.join(SRCDIR, "daemon", "conf_keys.c")) as f:
        text = f.read()
    table = text[text.index("static const struct key keys[]"):]
    table = table[:table.index("};")]
    keys = re.findall(r'\.name = "([a-z_0-9]+)"', table)
    check(len(keys) > 20, "read only %d keys from daemon/conf_keys.c" % len(keys))
    return keys


def check_conf_page(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # Each key is an entry: ".TP\n.B key\n" up to the next ".TP" or ".SH".
    entries = {}
    for m in re.finditer(r"(?m)^\.TP\n\.B ([a-z_0-9]+)\n(.*?)(?=^\.TP$|^\.SH |^\.PP$)",
                         text, re.S):
        entries.setdefault(m.group(1), m.group(2))
    for key in conf_keys():
        body = entries.get(key)
        check(body is not None, "netlabd.conf(5) has no entry for %s" % key)
        check("Type:" in body, "netlabd.conf(5): %s says no type" % key)
        check("Default" in body or "Required" in body,
              "netlabd.conf(5): %s says neither its default nor that it is required" % key)
    print("ok: netlabd.conf(5) describes every key")


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
    check_conf_page(found["netlabd.conf.5"])


run(main)
