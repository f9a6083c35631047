"""bench/run.sh works end to end: a short run against the baseline and
netlabd writes latest.md with a row for every scenario, a JSON line per
nlbench run, the idle-memory rows and (with gnuplot) the plot; a peer
that is missing is shown as "not installed" with its package, never as an
error; and a run interrupted half-way stops its servers, removes its
temporary folder and leaves the last good results as they were.  It never
looks at a figure: timings belong in bench/, not in the suite."""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import NETLABD, PLUGIN_DIR, TOP, check, run  # noqa: E402

SRCDIR = os.environ.get("NETLABD_SRCDIR", TOP)
BUILDDIR = os.environ.get("NETLABD_BUILDDIR",
                          os.path.dirname(os.path.dirname(NETLABD)))
RUN_SH = os.path.join(SRCDIR, "bench", "run.sh")
TITLES = {
    "ping1": "ping-pong 64 B, 1 connection",
    "pingmany": "ping-pong 64 B, 4 connections",
    "pipeline": "pipeline 16 in flight, 10 connections",
    "greeter": "greeter, 10 connectors",
    "udp": "UDP echo, 10 sockets",
}
MODES = {"ping1": "pingpong", "pingmany": "pingpong", "pipeline": "pipeline",
         "greeter": "connrate", "udp": "udp"}
SERVERS = ["nlbase w=1", "libev w=1", "Python socketserver"]


def env(tmp):
    e = dict(os.environ)
    e.update(NETLABD=NETLABD, NETLABD_PLUGIN_DIR=PLUGIN_DIR,
             NLBENCH=os.path.join(BUILDDIR, "bench", "nlbench"),
             NLBASE=os.path.join(BUILDDIR, "bench", "nlbase"),
             # The Python peer's interpreter is missing: "not installed".
             PEER_PYTHON=os.path.join(tmp, "no-such-python3"),
             TMPDIR=tmp)
    return e


def row(md, title):
    """The cells of the throughput table's row for a scenario."""
    table = md.split("## Throughput", 1)[1].split("\n## ", 1)[0]
    for line in table.splitlines():
        if line.startswith("| %s |" % title):
            return [c.strip() for c in line.strip("|").split("|")][1:]
    return None


def netlabd_pids(tmp):
    """The netlabd processes started with a config under tmp."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if any(a.startswith(tmp.encode()) and a.endswith(b"netlabd.conf")
                   for a in args):
                pids.append(int(d))
    return pids


def leftovers(tmp):
    return [n for n in os.listdir(tmp) if n.startswith("nlbench.")]


def main():
    tmp = tempfile.mkdtemp(prefix="nlbenchrun.")
    try:
        out = os.path.join(tmp, "results")
        cmd = ["bash", RUN_SH, "-d", "0.2", "-r", "1", "-c", "4", "-I", "20",
               "-C", "-L", "-b", "200", "-o", out, "base:1", "libev:1", "python"]
        p = subprocess.run(cmd, env=env(tmp), capture_output=True, text=True,
                           timeout=240)
        check(p.returncode == 0, "run.sh exited %d:\n%s" % (p.returncode,
                                                          p.stderr[-3000:]))
        md = open(os.path.join(out, "latest.md")).read()
        check(md in p.stdout, "stdout does not carry latest.md")
        check("----- for README.md: replace its Performance section" in p.stdout,
              "no README snippet on stdout")
        for key in ("- date: ", "- command: `bench/run.sh -d 0.2", "- machine: ",
                    "- netlabd: ", "- pinned: no"):
            check(key in md, "latest.md has no %r" % key)
        header = "| scenario | %s |" % " | ".join(SERVERS)
        check(header in md, "no table header %r in:\n%s" % (header, md))
        for sc, title in TITLES.items():
            cells = row(md, title)
            check(cells is not None and len(cells) == 3,
                  "no throughput row for %r in:\n%s" % (title, md))
            check(re.match(r"1\.00 \(", cells[0]) is not None,
                  "%s: the baseline's cell is %r" % (sc, cells[0]))
            check(re.match(r"[0-9]+\.[0-9]+", cells[1]) is not None,
                  "%s: netlabd's cell is %r" % (sc, cells[1]))
            check(cells[2] == "not installed (python3)",
                  "%s: the missing peer's cell is %r" % (sc, cells[2]))
            check("`nlbench -m %s " % MODES[sc] in md,
                  "%s: its nlbench options are not shown" % sc)

        runs = set()
        for line in open(os.path.join(out, "latest.jsonl")):
            j = json.loads(line)
            if j["scenario"] != "idle":
                check(j["mode"] == MODES[j["scenario"]],
                      "a %s run in mode %s" % (j["scenario"], j["mode"]))
                runs.add((j["scenario"], j["server"], j["round"]))
        for sc in TITLES:
            for server in SERVERS[:2]:
                for r in (0, 1):
                    check((sc, server, r) in runs,
                          "no JSON line for %s, %s, round %d" % (sc, server, r))

        idle = md.split("## Idle connections", 1)[1].split("\n## ", 1)[0]
        for server in ("nlbase w=1", "libev w=1"):
            check(re.search(r"^\| %s \| 20 \| [0-9]+ \| [0-9]+ \| -?[0-9.]+ \|$"
                            % re.escape(server), idle, re.M) is not None,
                  "no idle-memory row for %s in:\n%s" % (server, idle))
        check("| Twisted | not installed (python3) |" in idle,
              "the missing Twisted is not shown as such:\n" + idle)
        check("callgrind: not run (-C)" in md, "-C did not skip callgrind")

        svg = os.path.join(out, "latest.svg")
        if shutil.which("gnuplot"):
            check(os.path.exists(svg) and "<svg" in open(svg).read(),
                  "gnuplot is installed but there is no plot")
        check(not leftovers(tmp), "temporary folders left: %r" % leftovers(tmp))

        # Interrupted while the servers run: the last results stay whole.
        before = {f: open(os.path.join(out, f), "rb").read()
                  for f in os.listdir(out)}
        p = subprocess.Popen(cmd[:3] + ["5"] + cmd[4:], env=env(tmp),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        seen = ""
        deadline = time.monotonic() + 60
        while "round 1/1 nlbase" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([p.stderr], [], [], left)[0]:
                break
            line = p.stderr.readline()
            if not line:
                break
            seen += line
        daemons = netlabd_pids(tmp)
        check(daemons, "no netlabd of the second run found")
        check("round 1/1 nlbase" in seen, "the second run did not start:\n" + seen)
        p.send_signal(signal.SIGINT)
        try:
            rc = p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
            rc = None
        check(rc == 130, "run.sh exited %r on SIGINT, not 130" % rc)
        after = {f: open(os.path.join(out, f), "rb").read()
                 for f in os.listdir(out)}
        check(after == before, "an interrupted run changed the results")
        check(not leftovers(tmp), "temporary folders left after SIGINT: %r"
              % leftovers(tmp))
        alive = [pid for pid in daemons if os.path.exists("/proc/%d" % pid)]
        check(not alive, "netlabd %r still running after SIGINT" % alive)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


run(main)
