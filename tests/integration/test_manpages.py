"""The manual pages: each renders with `man --warnings` and nothing on
stderr, and netlabd.conf(5) describes every key netlabd knows (the keys[]
table of daemon/conf.c) with its type, and its default or that it is
required."""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import SKIP, TOP, check, fail, run  # noqa: E402


def pages():
    found = sorted(p for p in glob.glob(os.path.join(TOP, "man", "*"))
                   if re.search(r"\.[1-8](\.in)?$", p))
    check(found, "no manual pages in %s/man" % TOP)
    return found


def test_render():
    for page in pages():
        try:
            p = subprocess.run(["man", "--warnings", "-l", page], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                               env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
        except subprocess.TimeoutExpired:
            fail("man -l %s did not end within 60 s" % page)
        err = p.stderr.decode(errors="replace")
        check(p.returncode == 0 and err == "" and p.stdout.strip(),
              "man --warnings -l %s: exit %d, stderr:\n%s" % (page, p.returncode, err))


def conf_keys():
    with open(os.path.join(TOP, "daemon", "conf.c")) as f:
        text = f.read()
    table = text[text.index("static const struct key keys[]"):]
    table = table[:table.index("};")]
    keys = re.findall(r'\.name = "([a-z_0-9]+)"', table)
    check(len(keys) > 20, "read only %d keys from daemon/conf.c" % len(keys))
    return keys


def test_conf_page():
    page = [p for p in pages() if re.search(r"/netlabd\.conf\.5(\.in)?$", p)]
    check(len(page) == 1, "no netlabd.conf.5 in man/")
    with open(page[0]) as f:
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


def main():
    try:
        subprocess.run(["man", "--version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
    except OSError:
        print("SKIP: man is not installed (Debian package man-db)")
        sys.exit(SKIP)
    test_render()
    test_conf_page()


run(main)
