"""The benchmark's load generator (bench/nlbench) counts what it should in
every mode, against the baseline server (bench/nlbase) and the real
netlabd: pingpong and pipeline on echo over tcp and unix, connrate on the
greeter, udp over udp and unix-dgram, idle holding connections (netlabd's
status sees them), the server's CPU time with -P.  And it reports each
kind of trouble: a server that never answers, one that closes without a
word, wrong bytes, nothing listening, held connections that the server
closes, options that do not go together.

What it counts, never how fast: every run is short (-n small or -d 0.3)
and no figure of speed is checked; timings belong in bench/."""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import NETLABD, Daemon, check, fail, run, wait_status  # noqa: E402

BENCH = os.path.join(os.path.dirname(os.path.dirname(NETLABD)), "bench")
NLBENCH = os.environ.get("NLBENCH") or os.path.join(BENCH, "nlbench")
NLBASE = os.environ.get("NLBASE") or os.path.join(BENCH, "nlbase")
GREETING = "hello from the greeter\n"


def nlbench(*args, timeout=30):
    """Runs nlbench --json; (exit status, the JSON report, stderr)."""
    r = subprocess.run([NLBENCH, "--json", "-T", "20"] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    lines = r.stdout.splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, ValueError):
        report = None
    return r.returncode, report, r.stderr


def target(kind, addr):
    if kind == "unix":
        return ["-u", addr]
    if kind == "unix-dgram":
        return ["-U", addr]
    host, port = addr.rsplit(":", 1)
    return ["-h", host, "-p", port]


def healthy(what, args, pid=None, ops=None):
    """A run that must go well: every op answered, none failed or lost,
    ordered percentiles, the CPU time exactly when -P is given."""
    if pid is not None:
        args = list(args) + ["-P", str(pid)]
    rc, j, err = nlbench(*args)
    check(rc == 0 and j is not None, "%s: nlbench %s exited %d: %r %s"
          % (what, " ".join(args), rc, j, err))
    check(j["ops"] > 0 and j["failures"] == 0 and j["unanswered"] == 0 and
          j["lost"] == 0 and j["gave_up"] == 0 and not j["aborted"],
          "%s: an unhealthy report: %r" % (what, j))
    check(ops is None or j["ops"] == ops, "%s: %d ops, want %r: %r"
          % (what, j["ops"], ops, j))
    check(j["roundtrips"] == j["ops"] and j["starved"] == j["unanswered"] and
          j["roundtrips_per_s"] == j["ops_per_s"],
          "%s: the old keys differ from the new: %r" % (what, j))
    check(0 < j["lat_p50_us"] <= j["lat_p99_us"] <= j["lat_p999_us"]
          <= j["lat_max_us"], "%s: percentiles out of order: %r" % (what, j))
    if pid is None:
        check(j["server_cpu_s"] is None and j["server_cpu_us_per_op"] is None,
              "%s: a CPU time without -P: %r" % (what, j))
    else:
        check(j["server_cpu_s"] is not None and j["server_cpu_s"] >= 0 and
              j["server_cpu_us_per_op"] is not None,
              "%s: no CPU time with -P %d: %r" % (what, pid, j))
    return j


class Base:
    """bench/nlbase serving one thing; its "listening ADDR" line read."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([NLBASE] + list(args),
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # bound: nlbase exits on error
        check(line.startswith("listening "), "nlbase %r said %r" % (args, line))
        self.address = line.split()[1]
        if self.address.startswith("unix:"):
            self.address = self.address[5:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


def read_line(proc, timeout):
    """The next line nlbench prints, within timeout seconds."""
    deadline = time.time() + timeout
    line = b""
    while not line.endswith(b"\n") and time.time() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:  # one byte at a time: what follows the line stays there
            ch = os.read(proc.stdout.fileno(), 1)
            if not ch:
                break
            line += ch
    return line.decode()


def idle_start(args):
    """Starts nlbench -m idle; returns it and the number it holds."""
    proc = subprocess.Popen([NLBENCH, "--json", "-T", "20", "-m", "idle"] +
                            list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0)
    line = read_line(proc, 15)
    if not line.startswith("holding "):
        proc.kill()
        proc.wait(5)
        fail("idle %r printed %r, not 'holding N connections': %r"
             % (args, line, proc.stderr.read()))
    return proc, int(line.split()[1])


def idle_end(proc, timeout=15):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, json.loads(out.decode().splitlines()[-1]), err


def against_nlbase(tmp):
    echo = Base("echo", "127.0.0.1:0")
    uecho = Base("echo", "unix:" + os.path.join(tmp, "echo.sock"))
    greeter = Base("-g", GREETING, "greeter", "127.0.0.1:0")
    udp = Base("udp", "127.0.0.1:0")
    udgram = Base("udp", "unix:" + os.path.join(tmp, "dgram.sock"))
    try:
        t = target("tcp", echo.address)
        j = healthy("nlbase pingpong", ["-c", "4", "-n", "50"] + t,
                    pid=echo.proc.pid, ops=200)
        check(j["mode"] == "pingpong" and j["inflight"] == 1 and
              j["bytes_in"] == 200 * 64 and j["target"] == "tcp:" + echo.address,
              "pingpong's report: %r" % j)
        j = healthy("nlbase pipeline", ["-m", "pipeline", "-k", "8", "-c", "3",
                                        "-n", "100", "-s", "100", "-j", "2"] + t,
                    ops=300)
        check(j["inflight"] == 8 and j["threads"] == 2 and
              j["bytes_in"] == 300 * 100, "pipeline's report: %r" % j)
        healthy("nlbase pipeline -d", ["-m", "pipeline", "-c", "2", "-d", "0.3"]
                + t, pid=echo.proc.pid)
        healthy("nlbase unix pingpong", ["-c", "3", "-n", "20", "-s", "70000"]
                + target("unix", uecho.address), ops=60)
        j = healthy("nlbase connrate", ["-m", "connrate", "-c", "3", "-n", "20"]
                    + target("tcp", greeter.address), pid=greeter.proc.pid,
                    ops=60)
        check(j["bytes_in"] == 60 * len(GREETING), "connrate bytes: %r" % j)
        healthy("nlbase connrate -d", ["-m", "connrate", "-c", "2", "-d", "0.3"]
                + target("tcp", greeter.address))
        j = healthy("nlbase udp", ["-m", "udp", "-c", "4", "-n", "50"]
                    + target("udp", udp.address), pid=udp.proc.pid, ops=200)
        check(j["target"] == "udp:" + udp.address, "udp's target: %r" % j)
        before = set(os.listdir(tempfile.gettempdir()))
        j = healthy("nlbase unix-dgram", ["-m", "udp", "-c", "3", "-d", "0.3",
                                          "-j", "2"]
                    + target("unix-dgram", udgram.address))
        left = [n for n in set(os.listdir(tempfile.gettempdir())) - before
                if n.startswith("nlbench.")]
        check(not left, "nlbench left its client sockets' folder: %r" % left)

        # Idle: held until SIGTERM, which ends the hold normally.
        proc, n = idle_start(["-c", "30"] + t + ["-P", str(echo.proc.pid)])
        check(n == 30, "idle holds %d of 30" % n)
        proc.send_signal(signal.SIGTERM)
        rc, j, err = idle_end(proc)
        check(rc == 0 and j["held"] == 30 and j["ops"] == 30 and
              j["failures"] == 0 and j["unanswered"] == 0 and
              j["server_cpu_s"] is not None and not j["aborted"],
              "idle ended by SIGTERM: exit %d %r %s" % (rc, j, err))

        # Idle: the server goes away while held: every one a failure.
        proc, n = idle_start(["-c", "10", "-d", "3"] + t)
        echo.stop()
        rc, j, err = idle_end(proc)
        check(rc == 1 and j["held"] == 0 and j["failures_eof"] +
              j["failures_reset"] == 10,
              "idle with the server gone: exit %d %r %s" % (rc, j, err))

        # Nothing listens there any more: connect failures, all give up.
        rc, j, err = nlbench("-c", "3", "-n", "5", *t)
        check(rc == 1 and j["failures_connect"] >= 3 and j["gave_up"] == 3 and
              j["unanswered"] == 3 and j["ops"] == 0,
              "nothing listening: exit %d %r %s" % (rc, j, err))

        # connrate against an echo server, which never closes: no op.
        rc, j, err = nlbench("-m", "connrate", "-c", "2", "-d", "0.3",
                             *target("unix", uecho.address))
        check(rc == 1 and j["ops"] == 0 and j["unanswered"] == 2 and
              j["failures"] == 0, "connrate on echo: exit %d %r %s"
              % (rc, j, err))
    finally:
        for b in (echo, uecho, greeter, udp, udgram):
            b.stop()


def silent_servers(tmp):
    """Servers that never answer, or close without a word."""
    listen = socket.socket()
    listen.bind(("127.0.0.1", 0))
    listen.listen(64)  # never accepted: connects succeed, nothing answers
    port = str(listen.getsockname()[1])
    dgram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dgram.bind(("127.0.0.1", 0))  # never read
    dport = str(dgram.getsockname()[1])
    closer = socket.socket()
    closer.bind(("127.0.0.1", 0))
    closer.listen(64)
    cport = str(closer.getsockname()[1])
    try:
        rc, j, err = nlbench("-c", "5", "-d", "0.3", "-h", "127.0.0.1",
                             "-p", port)
        check(rc == 1 and j["ops"] == 0 and j["unanswered"] == 5 and
              j["starved"] == 5 and j["failures"] == 0 and not j["aborted"],
              "a server that never answers: exit %d %r %s" % (rc, j, err))
        # 1 s, five times the loss timeout: slack for a loaded machine.
        rc, j, err = nlbench("-m", "udp", "-c", "3", "-d", "1",
                             "-h", "127.0.0.1", "-p", dport)
        check(rc == 1 and j["ops"] == 0 and j["unanswered"] == 3 and
              j["lost"] >= 3, "udp that never answers: exit %d %r %s"
              % (rc, j, err))
        # A -n run against silence ends at the deadline, exit 2.
        r = subprocess.run([NLBENCH, "-T", "1", "-c", "2", "-n", "1", "-h",
                            "127.0.0.1", "-p", port], capture_output=True,
                           text=True, timeout=15)
        check(r.returncode == 2 and "deadline" in r.stderr and
              "ABORTED" in r.stdout, "the deadline: exit %d %r %r"
              % (r.returncode, r.stdout, r.stderr))

        # Accepts and closes at once: connrate counts end-of-stream failures.
        proc = subprocess.Popen(
            [NLBENCH, "--json", "-T", "20", "-m", "connrate", "-c", "1",
             "-n", "3", "-h", "127.0.0.1", "-p", cport],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        closer.settimeout(5)
        try:
            for _ in range(3):  # MAX_RETRIES in a row, then it gives up
                c, _ = closer.accept()
                c.close()
        except socket.timeout:
            pass
        out, err = proc.communicate(timeout=15)
        j = json.loads(out.splitlines()[-1])
        check(proc.returncode == 1 and j["failures_eof"] == 3 and
              j["gave_up"] == 1 and j["ops"] == 0,
              "a greeter that says nothing: exit %d %r %s"
              % (proc.returncode, j, err))
    finally:
        listen.close()
        dgram.close()
        closer.close()


def usage_errors():
    for args, want in ((["-k", "4"], "-k is for -m pipeline"),
                       (["-m", "idle", "-n", "5"], "-n is not for -m idle"),
                       (["-m", "udp", "-u", "/nonexistent"], "-m udp takes"),
                       (["-U", "/nonexistent"], "-U UNIX_DGRAM_PATH is for"),
                       (["-m", "nosuch"], "-m must be"),
                       (["-n", "5", "-d", "1"], "exclude each other"),
                       (["-P", "999999999"], "-P")):
        if "-u" not in args and "-U" not in args:
            args = args + ["-h", "127.0.0.1", "-p", "9"]
        r = subprocess.run([NLBENCH] + args,
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 2 and want in r.stderr,
              "nlbench %r: exit %d, %r (want %r)"
              % (args, r.returncode, r.stderr, want))


def against_netlabd():
    listeners = [
        {"name": "echo", "transport": "tcp", "handler": "echo"},
        {"name": "uecho", "transport": "unix", "handler": "echo",
         "path": "uecho.sock"},
        {"name": "greeter", "transport": "tcp", "handler": "greeter",
         "options": {"message": GREETING}},
        {"name": "udp", "transport": "udp", "handler": "echo"},
        {"name": "udgram", "transport": "unix-dgram", "handler": "echo",
         "path": "udgram.sock"},
        {"name": "upper", "transport": "tcp", "handler": "upper"},
    ]
    with Daemon(listeners) as d:
        pid = d.proc.pid
        addr = {l["name"]: l["address"] for l in d.status()["listeners"]}
        t = target("tcp", addr["echo"])
        healthy("netlabd pingpong", ["-c", "4", "-n", "50"] + t, pid=pid,
                ops=200)
        healthy("netlabd pipeline", ["-m", "pipeline", "-c", "3", "-d", "0.3"]
                + t, pid=pid)
        healthy("netlabd unix pipeline", ["-m", "pipeline", "-k", "4", "-c",
                                          "2", "-n", "100"]
                + target("unix", addr["uecho"]), ops=200)
        j = healthy("netlabd connrate", ["-m", "connrate", "-c", "3", "-n",
                                         "20"]
                    + target("tcp", addr["greeter"]), pid=pid, ops=60)
        check(j["bytes_in"] == 60 * len(GREETING), "connrate bytes: %r" % j)
        healthy("netlabd udp", ["-m", "udp", "-c", "3", "-n", "50"]
                + target("udp", addr["udp"]), pid=pid, ops=150)
        healthy("netlabd unix-dgram", ["-m", "udp", "-c", "3", "-d", "0.3"]
                + target("unix-dgram", addr["udgram"]), pid=pid)

        # The upper handler answers other bytes than were sent.
        rc, j, err = nlbench("-c", "2", "-n", "5",
                             *target("tcp", addr["upper"]))
        check(rc == 1 and j["failures_mismatch"] >= 2 and j["ops"] == 0,
              "upper is not an echo: exit %d %r %s" % (rc, j, err))

        # Idle: netlabd sees the connections held.
        proc, n = idle_start(["-c", "25", "-d", "10"] + t)
        check(n == 25, "idle holds %d of 25" % n)
        wait_status(d, "echo", lambda l: l["connections_active"] == 25, 5,
                    "25 connections active while nlbench holds them")
        proc.send_signal(signal.SIGINT)
        rc, j, err = idle_end(proc)
        check(rc == 0 and j["held"] == 25 and j["failures"] == 0,
              "idle on netlabd: exit %d %r %s" % (rc, j, err))
        wait_status(d, "echo", lambda l: l["connections_active"] == 0, 5,
                    "the held connections closed")


def main():
    for prog in (NLBENCH, NLBASE):
        if not os.access(prog, os.X_OK):
            fail("no %s (make check builds it)" % prog)
    tmp = tempfile.mkdtemp(prefix="nlbench-it-")
    try:
        usage_errors()
        against_nlbase(tmp)
        silent_servers(tmp)
        against_netlabd()
        print("nlbench: every mode against nlbase and netlabd, and each kind "
              "of trouble, counted")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


run(main)
