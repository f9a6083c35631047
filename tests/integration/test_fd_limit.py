"""Out of descriptors: a serving process under each model (libev with one
and with two loops, threads, prefork) and the master with its control
socket pause accepting at their descriptor limit instead of spinning a
core on a socket that stays readable, log a bounded number of lines, and
serve again once descriptors are free.

Each process is brought to its limit by lowering its soft RLIMIT_NOFILE
with prlimit(2) once it runs (netlabd raises the soft limit to the hard one
at start, so a limit set before would not stay): to the descriptors it
holds plus ROOM for a few sessions, and to exactly what it holds for
prefork, whose workers hold one session at a time and would otherwise
never run out.  Then the CPU time of every netlabd process (utime + stime
from /proc/PID/stat) and the lines the log grew by are measured over
WINDOW seconds: a spinning process uses a whole core there.

NETLABD_MODELS="libev prefork" runs only some of the models.
"""
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (Daemon, check, connect, fail, run,  # noqa: E402
                     serving_pids, wait_status)

MODELS = os.environ.get("NETLABD_MODELS", "libev threads prefork").split()
CASES = [(m, w) for m, w in [("libev", 1), ("libev", 2), ("threads", 2),
                             ("prefork", 2)] if m in MODELS]
ROOM = 8          # sessions a serving process has room for
CLIENTS = 40      # connections made: well past ROOM, within the backlog
WINDOW = 2.0      # seconds measured
MAX_CPU = 0.1     # of one core, for all netlabd processes together (idle: 0)
MAX_LINES = 100   # log lines a second
EMFILE_LINE = r"accept \(pausing for 1 s\): Too many open files"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def lowest_free_fd(pid):
    """The descriptor number pid's next open() would get: a limit at or
    below it makes that open() fail with EMFILE."""
    used = {int(fd) for fd in os.listdir("/proc/%d/fd" % pid)}
    n = 0
    while n in used:
        n += 1
    return n


def set_soft_limit(pid, soft):
    """Lowers pid's soft RLIMIT_NOFILE; returns the limits it had."""
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, old[1]))
    return old


def tcp_inodes(port):
    """{remote port: socket inode} of the connections accepted on port."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if fields[3] == "01" and int(local.split(":")[1], 16) == port:
                out[int(remote.split(":")[1], 16)] = fields[9]
    return out


def loops_of(pid):
    """For each libev loop (epoll instance) of pid, the set of socket
    inodes it watches."""
    fd_inode, loops = {}, []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            fd_inode[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            pass
    for fd, target in fd_inode.items():
        if target != "anon_inode:[eventpoll]":
            continue
        with open("/proc/%d/fdinfo/%d" % (pid, fd)) as f:
            watched = [int(line.split()[1]) for line in f if line.startswith("tfd:")]
        loops.append({fd_inode[t][len("socket:["):-1] for t in watched
                      if fd_inode.get(t, "").startswith("socket:[")})
    return loops


def unbalance(d, name, pid, clients):
    """Closes the clients served by all loops but the busiest, so that it
    has more than its share of sessions; returns the clients left."""
    port = d.addr(name)[1][1]
    deadline = time.time() + 10
    while True:
        by_port = tcp_inodes(port)
        loops = [l for l in loops_of(pid) if l]
        placed = sum(len(l) for l in loops)
        if placed >= len(clients) and all(
                c.getsockname()[1] in by_port for c in clients):
            break
        if time.time() > deadline:
            fail("sessions not all accepted and watched within 10 s: %d of %d"
                 % (placed, len(clients)))
        time.sleep(0.05)
    busiest = max(loops, key=len)
    keep = [c for c in clients if by_port[c.getsockname()[1]] in busiest]
    for c in clients:
        if c not in keep:
            c.close()
    print("libev: %d sessions on one loop, %d closed on the other" % (
        len(keep), len(clients) - len(keep)))
    check(len(keep) > 2, "libev: only %d sessions on the busiest loop" % len(keep))
    # Their descriptors must be free before the limit is set below them.
    wait_status(d, name, lambda l: l["connections_active"] == len(keep), 10,
                "the closed sessions did not end")
    return keep


def measure(d, what):
    """Fails if netlabd spins or floods its log over WINDOW seconds."""
    pids = [d.proc.pid] + d.children()
    lines0 = d.log().count("\n")
    cpu0 = cpu_seconds(pids)
    t0 = time.time()
    time.sleep(WINDOW)
    cpu = (cpu_seconds(pids) - cpu0) / (time.time() - t0)
    lines = (d.log().count("\n") - lines0) / (time.time() - t0)
    print("%s: %.1f%% of a core, %.1f log lines/s at the limit" % (
        what, cpu * 100, lines))
    check(cpu < MAX_CPU, "%s: netlabd used %.0f%% of a core out of descriptors "
          "(limit %.0f%%)" % (what, cpu * 100, MAX_CPU * 100))
    check(lines < MAX_LINES, "%s: the log grew by %.0f lines/s out of descriptors:"
          "\n%s" % (what, lines, d.log()[-3000:]))


def open_clients(connect_one, n):
    clients = []
    for _ in range(n):
        clients.append(connect_one())
    return clients


def echoed(d, name):
    """True when a new connection gets its bytes echoed within 2 s."""
    try:
        s = connect(d, name, timeout=2)
    except OSError:
        return False
    try:
        s.sendall(b"again\n")
        got = b""
        while len(got) < 6:
            chunk = s.recv(64)
            if not chunk:
                break
            got += chunk
        return got == b"again\n"
    except OSError:
        return False
    finally:
        s.close()


def serves_again(d, name, what, timeout=15):
    deadline = time.time() + timeout
    while not echoed(d, name):
        if time.time() > deadline:
            fail("%s: not served again within %s s:\n%s" % (what, timeout, d.log()))
        time.sleep(0.2)


def test_serving(model, workers):
    what = "%s workers=%d" % (model, workers)
    name = "fd"
    d = Daemon([{"name": name, "transport": "tcp", "handler": "echo",
                 "model": model, "workers": workers}], expect_errors=True)
    d.start()
    clients = []
    try:
        pids = serving_pids(d, name)
        room = 0 if model == "prefork" else ROOM
        if model == "libev" and workers > 1:
            # A loop over its share leaves connections to the others; at
            # the limit those are paused, so it must pause too.
            clients = unbalance(d, name, pids[0], open_clients(
                lambda: connect(d, name), 4 * workers + 4))
            room = 0
        old = {pid: set_soft_limit(pid, lowest_free_fd(pid) + room) for pid in pids}
        clients += open_clients(lambda: connect(d, name), CLIENTS)
        d.wait_log(EMFILE_LINE, timeout=10)
        measure(d, what)
        for s in clients:
            s.close()
        clients = []
        if room == 0:
            # The descriptors freed may all be above the limit (prefork's
            # workers hold no session at all): give it back first.
            for pid, lim in old.items():
                resource.prlimit(pid, resource.RLIMIT_NOFILE, lim)
        serves_again(d, name, what + ", after the clients left")
        for pid, lim in old.items():
            resource.prlimit(pid, resource.RLIMIT_NOFILE, lim)
        d.stop()
    except BaseException:
        for s in clients:
            s.close()
        d.kill()
        raise


def control_client(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(d.control)
    return s


def test_master():
    """Silent clients of the control socket take the master's last
    descriptors; the master must not spin on the socket meanwhile."""
    d = Daemon([{"name": "m", "transport": "tcp", "handler": "echo"}],
               expect_errors=True)
    d.start()
    clients = []
    try:
        pid = d.proc.pid
        old = set_soft_limit(pid, lowest_free_fd(pid) + 4)
        clients = open_clients(lambda: control_client(d), 30)
        d.wait_log(r"control socket: accept.*Too many open files", timeout=10)
        measure(d, "master")
        for s in clients:
            s.close()
        clients = []
        deadline = time.time() + 15
        while True:
            try:
                st = d.command("status", timeout=2)
                break
            except (OSError, ValueError):
                if time.time() > deadline:
                    fail("control socket not answering 15 s after its clients left:\n"
                         + d.log())
                time.sleep(0.2)
        check(st["listeners"][0]["serving"], "status after the limit: %r" % st)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        d.stop()
    except BaseException:
        for s in clients:
            s.close()
        d.kill()
        raise


def main():
    for model, workers in CASES:
        test_serving(model, workers)
    test_master()


if __name__ == "__main__":
    run(main)
