"""Socket activation, with Debian's systemd-socket-activate handing netlabd
a tcp and a unix socket by name (--fdname, as FileDescriptorName= does):
both are served (the connection that woke netlabd up included), neither is
bound a second time (the listening inodes are the ones
systemd-socket-activate made, held by the master), both survive a reload,
a listener removed by a reload and added back by the next takes its socket
again, the unix socket file is never removed (systemd owns it), a passed
socket no listener wants is closed with a warning, and a socket whose
transport or address contradicts the listener of its name stops the
start-up with exit status 1 and a FILE:LINE message.  Also a udp socket
(--datagram, a run of its own), an IPv6 [::1] tcp socket, a dual-stack
[::] socket for a listener with ipv6only = true (refused), and a plain
-l PORT ([::]:PORT) left to a 0.0.0.0 listener (the warning names it).
Every socket is looked for in the master's descriptors, not just on its
port, and each attempt at starting takes fresh ports."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (NETLABD, SKIP, TEST_PLUGIN_DIR, Daemon,  # noqa: E402
                     check, conf_value, fail, free_ports, listening_inode,
                     round_trip, run)

SD_ENV = os.path.join(TEST_PLUGIN_DIR, "sd_env.so")


def find_activate():
    for path in (shutil.which("systemd-socket-activate"),
                 "/usr/bin/systemd-socket-activate",
                 "/lib/systemd/systemd-socket-activate"):
        if path and os.access(path, os.X_OK):
            return path
    return None


ACTIVATE = find_activate()



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


def held_inode(pid, port, proto="tcp"):
    """The inode of the socket bound at port (listening, for tcp) that
    process pid holds, IPv4 or IPv6; None when it holds none: another
    process on the same port does not count."""
    try:
        held = fds_of(pid)
    except OSError:
        return None
    for table in (proto, proto + "6"):
        try:
            f = open("/proc/net/" + table)
        except OSError:
            continue
        with f:
            next(f)
            for line in f:
                fields = line.split()
                if (int(fields[1].rsplit(":", 1)[1], 16) == port
                        and fields[3] == ("0A" if proto == "tcp" else "07")
                        and "socket:[%s]" % fields[9] in held):
                    return fields[9]
    return None


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def wait_until(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    fail("%s within %s s" % (what, timeout))


def activate(d, build, datagram=False):
    """Runs netlabd -f under systemd-socket-activate.  build() picks fresh
    ports, writes d's config and returns (listens, names, wake): -l
    arguments (tcp "127.0.0.1:PORT", "[::1]:PORT" or "PORT", unix paths),
    --fdname names, and (family, address) of the first socket.  Waits
    until systemd-socket-activate (the pid netlabd will have) holds that
    socket, and the unix ones exist, then wakes it: a connection, or with
    datagram a datagram.  Returns that socket."""
    # The ports were free a moment ago; another test may have taken one:
    # each attempt takes new ones.
    for attempt in range(3):
        listens, names, wake = build()
        args = [ACTIVATE] + (["--datagram"] if datagram else [])
        for l in listens:
            args += ["-l", l]
        args += ["--fdname=" + ":".join(names)] if names else []
        args += [NETLABD, "-f", "-c", d.conf]
        port = wake[1][1]
        d.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_until(lambda: held_inode(d.proc.pid, port,
                                      "udp" if datagram else "tcp")
                   or d.proc.poll() is not None,
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
    s = socket.socket(wake[0], socket.SOCK_DGRAM if datagram else socket.SOCK_STREAM)
    s.settimeout(10)
    if datagram:
        s.sendto(b"wake up\n", wake[1])
    else:
        s.connect(wake[1])
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
    body = ",\n".join("  { " + " ".join("%s = %s;" % (k, conf_value(v))
                                         for k, v in l.items()) + " }"
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
    tcp = {"name": "tcpname", "transport": "tcp", "address": "127.0.0.1",
           "port": 0, "model": "libev", "handler": "echo"}
    # Its handler refuses to start if it sees LISTEN_* (or NOTIFY_*).
    own = {"name": "own", "transport": "tcp", "address": "127.0.0.1",
           "port": 0, "model": "libev", "handler": SD_ENV}
    d = Daemon([tcp, {"name": "unixname", "transport": "unix", "path": "sd.sock",
                      "handler": "echo"}, own])
    path = d.path("sd.sock")
    unix = {"name": "unixname", "transport": "unix", "path": path,
            "model": "libev", "handler": "echo"}
    ports = {}

    def build():
        ports["tcp"], ports["stray"] = free_ports(2)
        tcp["port"] = ports["tcp"]
        write_listeners(d, [tcp, unix, own])
        return (["127.0.0.1:%d" % ports["tcp"], path,
                 "127.0.0.1:%d" % ports["stray"]],
                ["tcpname", "unixname", "stray"],
                (socket.AF_INET, ("127.0.0.1", ports["tcp"])))

    try:
        first = activate(d, build)
        port, stray = ports["tcp"], ports["stray"]
        tcp_inode = held_inode(d.proc.pid, port)
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
        check(held_inode(master, stray) is None, "the stray socket is still open")
        check("adopted" not in "".join(l for l in log.splitlines() if "listener own:" in l),
              "listener own adopted something:\n" + log)

        def same_sockets(when):
            check(held_inode(master, port) == tcp_inode, "%s: the tcp socket on "
                  "%d is not the one systemd-socket-activate made" % (when, port))
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


def expect_exit(d, s, rc_wanted, pattern, why):
    """netlabd exits with rc_wanted, saying pattern (a function of the
    config file's name); returns the text."""
    try:
        rc = d.proc.wait(15)
    except subprocess.TimeoutExpired:
        fail("%s: netlabd did not refuse to start:\n%s" % (why, d.log()))
    s.close()
    text = d.log() + proc_output(d)
    check(rc == rc_wanted, "%s: exit status %d, not %d:\n%s"
          % (why, rc, rc_wanted, text))
    check(re.search(pattern(re.escape(d.conf)), text),
          "%s: no clear message:\n%s" % (why, text))
    return text


def test_refused(listener, names, why):
    """A tcp socket passed under the name of a listener it contradicts;
    listener(other) is that listener, other a port free but not the
    socket's."""
    ports = {}
    d = Daemon([listener(0)], expect_errors=True)

    def build():
        ports["port"], other = free_ports(2)
        write_listeners(d, [listener(other)])
        return (["127.0.0.1:%d" % ports["port"]], names,
                (socket.AF_INET, ("127.0.0.1", ports["port"])))

    try:
        s = activate(d, build)
        port = ports["port"]
        expect_exit(d, s, 1, lambda conf: conf + r":\d+: listener %s: the socket "
                    r"systemd passed as \"%s\" does not fit: it is tcp "
                    r"127\.0\.0\.1:%d; " % (listener(0)["name"], names[0], port),
                    why)
        check(listening_inode(port) is None, "%s: the port is still open" % why)
    finally:
        d.kill()
        shutil.rmtree(d.dir, ignore_errors=True)


def test_udp():
    """A udp socket (systemd-socket-activate --datagram: all its sockets
    are datagram ones, hence a run of its own), matched by address: the
    datagram that woke netlabd up is answered, and more after it."""
    u = {"name": "u", "transport": "udp", "address": "127.0.0.1", "port": 0,
         "handler": "echo"}
    d = Daemon([u])
    ports = {}

    def build():
        ports["u"] = free_ports(1, socket.SOCK_DGRAM)[0]
        u["port"] = ports["u"]
        write_listeners(d, [u])
        return (["127.0.0.1:%d" % ports["u"]], ["netlabd.socket"],
                (socket.AF_INET, ("127.0.0.1", ports["u"])))

    try:
        s = activate(d, build, datagram=True)
        port = ports["u"]
        inode = held_inode(d.proc.pid, port, "udp")
        wait_serving(d)
        try:
            data, _ = s.recvfrom(4096)
        except socket.timeout:
            fail("no answer to the datagram that started netlabd:\n" + d.log())
        check(data == b"wake up\n", "answer %r" % data)
        s.sendto(b"again\n", ("127.0.0.1", port))
        check(s.recvfrom(4096)[0] == b"again\n", "no echo of a second datagram")
        s.close()
        check("listener u: adopted udp 127.0.0.1:%d from systemd" % port in d.log(),
              "no adoption logged:\n" + d.log())
        check(held_inode(d.proc.pid, port, "udp") == inode,
              "the master does not hold the udp socket systemd-socket-activate made")
        d.stop()
    finally:
        d.kill()
        shutil.rmtree(d.dir, ignore_errors=True)


def test_ipv6():
    """An IPv6 tcp socket at [::1] for a listener at ::1; then a dual-stack
    [::] socket (a plain -l PORT) refused by a listener with ipv6only =
    true, and closed, unmatched, with a warning naming the 0.0.0.0
    listener at its port."""
    if not have_ipv6_loopback():
        print("SKIP (part): no IPv6 loopback (::1) on this machine; the "
              "IPv6 cases are not run")
        return
    t = {"name": "t6", "transport": "tcp", "address": "::1", "port": 0,
         "handler": "echo"}
    d = Daemon([t])
    ports = {}

    def build():
        ports["t"] = free_ports(1)[0]
        t["port"] = ports["t"]
        write_listeners(d, [t])
        return (["[::1]:%d" % ports["t"]], ["t6"],
                (socket.AF_INET6, ("::1", ports["t"])))

    try:
        s = activate(d, build)
        port = ports["t"]
        wait_serving(d)
        round_trip(s, b"over ipv6\n", "the connection that started netlabd")
        s.close()
        check("listener t6: adopted tcp [::1]:%d from systemd" % port in d.log(),
              "no adoption logged:\n" + d.log())
        check(held_inode(d.proc.pid, port) is not None,
              "the master does not hold the [::1] socket")
        d.stop()
    finally:
        d.kill()
        shutil.rmtree(d.dir, ignore_errors=True)

    # Dual-stack [::]:PORT, named for a listener that wants IPv6 only.
    only = {"name": "only6", "transport": "tcp", "address": "::", "port": 0,
            "ipv6only": True, "handler": "echo"}
    d = Daemon([only], expect_errors=True)

    def build_only():
        ports["t"] = free_ports(1)[0]
        only["port"] = ports["t"]
        write_listeners(d, [only])
        return (["%d" % ports["t"]], ["only6"],
                (socket.AF_INET, ("127.0.0.1", ports["t"])))

    try:
        s = activate(d, build_only)
        expect_exit(d, s, 1, lambda conf: conf + r":\d+: listener only6: the "
                    r"socket systemd passed as \"only6\" does not fit: tcp "
                    r"\[::\]:%d is dual-stack .*; the listener has ipv6only = "
                    r"true" % ports["t"], "a dual-stack socket for ipv6only")
    finally:
        d.kill()
        shutil.rmtree(d.dir, ignore_errors=True)

    # The same socket, unnamed, and a listener at 0.0.0.0 on its port.
    any4 = {"name": "any4", "transport": "tcp", "address": "0.0.0.0",
            "port": 0, "handler": "echo"}
    d = Daemon([any4], expect_errors=True)

    def build_any4():
        ports["t"] = free_ports(1)[0]
        any4["port"] = ports["t"]
        write_listeners(d, [any4])
        return (["%d" % ports["t"]], [],
                (socket.AF_INET, ("127.0.0.1", ports["t"])))

    try:
        s = activate(d, build_any4)
        # systemd-socket-activate keeps no copy, as systemd would: with
        # this one closed, the listener binds the port itself.
        wait_serving(d)
        s.close()
        log = d.log()
        check(re.search(r"descriptor 3 \(tcp \[::\]:%d\) matches no listener; "
                        r"closing it; listener any4 \(%s:\d+\) is at its port, "
                        r"tcp 0\.0\.0\.0:%d, but another address: while systemd "
                        r"holds this socket, binding that listener fails"
                        % (ports["t"], re.escape(d.conf), ports["t"]), log),
              "the warning does not name listener any4:\n" + log)
        d.stop()
    finally:
        d.kill()
        shutil.rmtree(d.dir, ignore_errors=True)


def main():
    if ACTIVATE is None:
        print("SKIP: systemd-socket-activate not found (Debian package systemd)")
        sys.exit(SKIP)
    test_served_and_kept()
    test_refused(lambda other: {"name": "u", "transport": "udp",
                                "address": "127.0.0.1", "port": 0,
                                "handler": "echo"},
                 ["u"], "a tcp socket for a udp listener")
    test_refused(lambda other: {"name": "x", "transport": "unix",
                                "path": "x.sock", "handler": "echo"},
                 ["x"], "a tcp socket for a unix listener")
    test_refused(lambda other: {"name": "t", "transport": "tcp",
                                "address": "127.0.0.1", "port": other,
                                "handler": "echo"},
                 ["t"], "a tcp socket at another port")
    test_udp()
    test_ipv6()


run(main)
