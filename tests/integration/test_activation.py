"""Socket activation, with Debian's systemd-socket-activate handing netlabd
a tcp and a unix socket by name (--fdname, as FileDescriptorName= does):
both are served (the connection that woke netlabd up included), neither is
bound a second time (the listening inodes are the ones
systemd-socket-activate made, held by the master), both survive a reload,
a listener removed by a reload and added back by the next takes its socket
again, the unix socket file is never removed (systemd owns it), a passed
socket no listener wants is closed with a warning, and a socket whose
transport or address contradicts the listener of its name stops the
start-up with exit status 1 and a FILE:LINE message."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (NETLABD, SKIP, Daemon, check, fail,  # noqa: E402
                     listening_inode, round_trip, run)


def find_activate():
    for path in (shutil.which("systemd-socket-activate"),
                 "/usr/bin/systemd-socket-activate",
                 "/lib/systemd/systemd-socket-activate"):
        if path and os.access(path, os.X_OK):
            return path
    return None


ACTIVATE = find_activate()


def free_ports(n):
    """n distinct tcp ports free on 127.0.0.1 just now."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def proc_output(d):
    """What netlabd wrote on stdout and stderr; never blocks for long."""
    try:
        return d.proc.communicate(timeout=5)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        return "(its output is still open)"


def unix_inodes(path):
    """Inodes of the sockets bound at path, from /proc/net/unix."""
    out = []
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == path:
                out.append(fields[6])
    return out


def fds_of(pid):
    out = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out.add(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    return out


def wait_until(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    fail("%s within %s s" % (what, timeout))


def activate(d, listens, names):
    """Runs netlabd -f under systemd-socket-activate listening on listens
    (tcp ports as "127.0.0.1:PORT", unix paths), waits until those
    sockets are up, then connects to the first (a tcp one) to have
    netlabd executed.  Returns that connection."""
    args = [ACTIVATE]
    for l in listens:
        args += ["-l", l]
    args += ["--fdname=" + ":".join(names), NETLABD, "-f", "-c", d.conf]
    port = int(listens[0].rsplit(":", 1)[1])
    # The ports were free a moment ago; another test may have taken one.
    for attempt in range(3):
        d.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_until(lambda: listening_inode(port) or d.proc.poll() is not None,
                   10, "systemd-socket-activate did not listen on %d" % port)
        if d.proc.poll() is None:
            break
        print("systemd-socket-activate exited %d: %s" % (d.proc.returncode,
                                                        proc_output(d)))
    else:
        fail("systemd-socket-activate %r failed three times" % args)
    for l in listens[1:]:
        if l.startswith("/"):
            wait_until(lambda: os.path.exists(l), 10, "no socket file %s" % l)
    s = socket.socket()
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def wait_serving(d, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if d.proc.poll() is not None:
            fail("netlabd exited %d:\n%s\n%s" % (d.proc.returncode,
                                                 proc_output(d), d.log()))
        try:
            st = d.status()
            if all(l.get("serving") for l in st["listeners"]):
                return st
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    fail("netlabd not serving within %d s:\n%s" % (timeout, d.log()))


def unix_round_trip(path, msg, what):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    round_trip(s, msg, what)
    s.close()


def write_listeners(d, listeners):
    """Rewrites d's config with these listeners (same globals)."""
    with open(d.conf) as f:
        head = f.read().split("listeners = (", 1)[0]
    body = ",\n".join("  { " + " ".join("%s = %s;" % (k, '"%s"' % v if isinstance(v, str)
                                                        else v) for k, v in l.items()) + " }"
                      for l in listeners)
    with open(d.conf + ".new", "w") as f:
        f.write(head + "listeners = (\n" + body + "\n);\n")
    os.rename(d.conf + ".new", d.conf)


def reload(d, generation):
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: d.status()["generation"] == generation, 15,
               "reload to generation %d not done:\n%s" % (generation, d.log()))
    return wait_serving(d)


def test_served_and_kept():
    port, stray = free_ports(2)
    tcp = {"name": "tcpname", "transport": "tcp", "address": "127.0.0.1",
           "port": port, "model": "libev", "handler": "echo"}
    own = {"name": "own", "transport": "tcp", "address": "127.0.0.1",
           "port": 0, "model": "libev", "handler": "echo"}
    d = Daemon([tcp, {"name": "unixname", "transport": "unix", "path": "sd.sock",
                      "handler": "echo"}, own])
    path = d.path("sd.sock")
    unix = {"name": "unixname", "transport": "unix", "path": path,
            "model": "libev", "handler": "echo"}
    try:
        first = activate(d, ["127.0.0.1:%d" % port, path, "127.0.0.1:%d" % stray],
                         ["tcpname", "unixname", "stray"])
        tcp_inode = listening_inode(port)
        unix_inode = unix_inodes(path)
        check(len(unix_inode) == 1, "sockets at %s: %r" % (path, unix_inode))
        file_inode = os.stat(path).st_ino
        st = wait_serving(d)
        # The connection that woke netlabd up waited in the backlog.
        round_trip(first, b"first\n", "the connection that started netlabd")
        first.close()
        master = d.proc.pid
        check(st["pid"] == master, "status pid %s, started as %d (LISTEN_PID)"
              % (st["pid"], master))
        addrs = {l["name"]: l["address"] for l in st["listeners"]}
        check(addrs["tcpname"] == "127.0.0.1:%d" % port and addrs["unixname"] == path,
              "status addresses: %r" % addrs)
        log = d.log()
        for what in ("listener tcpname: adopted tcp 127.0.0.1:%d from systemd" % port,
                     "listener unixname: adopted unix %s from systemd" % path):
            check(what in log, "log lacks %r:\n%s" % (what, log))
        check(re.search(r"\"stray\" \(tcp 127\.0\.0\.1:%d\) matches no listener; "
                        r"closing it" % stray, log), "no warning about the stray "
              "socket:\n" + log)
        check(listening_inode(stray) is None, "the stray socket is still open")
        check("adopted" not in "".join(l for l in log.splitlines() if "listener own:" in l),
              "listener own adopted something:\n" + log)

        def same_sockets(when):
            check(listening_inode(port) == tcp_inode, "%s: the tcp socket on %d "
                  "is not the one systemd-socket-activate made" % (when, port))
            check(unix_inodes(path) == unix_inode, "%s: sockets at %s: %r, not %r"
                  % (when, path, unix_inodes(path), unix_inode))
            check(os.path.exists(path) and os.stat(path).st_ino == file_inode,
                  "%s: the socket file %s was removed or replaced" % (when, path))
            held = fds_of(master)
            for inode in (tcp_inode, unix_inode[0]):
                check("socket:[%s]" % inode in held, "%s: the master does not "
                      "hold socket %s: %r" % (when, inode, sorted(held)))
            round_trip_all(when)

        def round_trip_all(when):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            round_trip(s, b"tcp " + when.encode() + b"\n", "tcp " + when)
            s.close()
            unix_round_trip(path, b"unix " + when.encode() + b"\n", "unix " + when)

        same_sockets("after start")

        # A reload keeps both sockets (and a changed listener too).
        unix["model"] = "threads"
        write_listeners(d, [tcp, unix, own])
        reload(d, 2)
        same_sockets("after a reload")

        # Removed: not closed for good, not unlinked; added back: the same.
        write_listeners(d, [tcp, own])
        reload(d, 3)
        check(os.path.exists(path) and os.stat(path).st_ino == file_inode,
              "removing listener unixname removed systemd's socket file")
        check(unix_inodes(path) == unix_inode, "after removing unixname, "
              "sockets at %s: %r" % (path, unix_inodes(path)))
        write_listeners(d, [tcp, unix, own])
        reload(d, 4)
        check(d.log().count("listener unixname: adopted unix %s from systemd"
                            % path) == 2, "unixname did not adopt its socket again:\n"
              + d.log())
        same_sockets("after removing and adding back a listener")

        d.proc.send_signal(signal.SIGTERM)
        rc = d.proc.wait(15)
        out = proc_output(d)
        check(rc == 0, "netlabd exited %d:\n%s\n%s" % (rc, out, d.log()))
        check(os.path.exists(path) and os.stat(path).st_ino == file_inode,
              "the stop removed %s, which systemd owns" % path)
        check(not os.path.exists(d.pidfile), "pidfile left behind")
        d.output = out
        d.check_log()
    finally:
        d.kill()
        shutil.rmtree(d.dir, ignore_errors=True)


def test_refused(listener, names, why):
    """A tcp socket passed under the name of a listener it contradicts."""
    port = free_ports(1)[0]
    d = Daemon([listener], expect_errors=True)
    try:
        s = activate(d, ["127.0.0.1:%d" % port], names)
        try:
            rc = d.proc.wait(15)
        except subprocess.TimeoutExpired:
            fail("%s: netlabd did not refuse to start:\n%s" % (why, d.log()))
        s.close()
        out = proc_output(d)
        text = d.log() + out
        check(rc == 1, "%s: exit status %d, not 1:\n%s" % (why, rc, text))
        pattern = (re.escape(d.conf) + r":\d+: listener %s: the socket systemd "
                   r"passed as \"%s\" does not fit: it is tcp 127\.0\.0\.1:%d; "
                   % (listener["name"], names[0], port))
        check(re.search(pattern, text), "%s: no clear message:\n%s" % (why, text))
        check(listening_inode(port) is None, "%s: the port is still open" % why)
    finally:
        d.kill()
        shutil.rmtree(d.dir, ignore_errors=True)


def main():
    if ACTIVATE is None:
        print("SKIP: systemd-socket-activate not found (Debian package systemd)")
        sys.exit(SKIP)
    test_served_and_kept()
    test_refused({"name": "u", "transport": "udp", "handler": "echo"}, ["u"],
                 "a tcp socket for a udp listener")
    test_refused({"name": "x", "transport": "unix", "path": "x.sock",
                  "handler": "echo"}, ["x"], "a tcp socket for a unix listener")
    test_refused({"name": "t", "transport": "tcp", "address": "127.0.0.1",
                  "port": free_ports(1)[0], "handler": "echo"}, ["t"],
                 "a tcp socket at another port")


run(main)
