"""access_log: one line per session when it ends, with the peer, duration,
bytes in and out, and why it ended -- client closed, handler closed, idle
timeout, line too long, error (a reset), daemon stopping -- under every
model; a datagram listener logs each datagram only at log_level debug."""
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (Daemon, check, connect, dgram_exchange,  # noqa: E402
                     metrics, recv_all, run)

MODELS = ["libev", "threads", "prefork"]
LINE = (r"\[info\] listener %s: access 127\.0\.0\.1:%d duration=(\d+\.\d{3})s "
        r"in=(\d+) out=(\d+) end=%s$")


class LogKeeper(Daemon):
    """Keeps the log it had when it stopped (the folder goes)."""

    def check_log(self):
        self.final_log = self.log()
        Daemon.check_log(self)


def wait_line(d, name, port, end, timeout=8):
    pat = re.compile(LINE % (name, port, end), re.M)
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = pat.search(d.log())
        if m:
            return float(m.group(1)), int(m.group(2)), int(m.group(3))
        time.sleep(0.05)
    check(False, "no access line %s for port %d:\n%s" % (pat.pattern, port, d.log()))


def test_model(model):
    d = LogKeeper([
        {"name": "e", "transport": "tcp", "handler": "echo", "model": model,
         "workers": 2, "access_log": True},
        {"name": "i", "transport": "tcp", "handler": "echo", "model": model,
         "workers": 2, "access_log": True, "idle_timeout": 1},
        {"name": "g", "transport": "tcp", "handler": "greeter", "model": model,
         "workers": 2, "access_log": True},
        {"name": "u", "transport": "tcp", "handler": "timestamp", "model": model,
         "workers": 2, "access_log": True, "max_line": 8},
        {"name": "quiet", "transport": "tcp", "handler": "echo", "model": model},
        {"name": "dg", "transport": "udp", "handler": "echo", "model": model,
         "access_log": True}], shutdown_timeout=1, log_level="debug",
        expect_errors=True)  # a line too long is logged as an error
    with d:
        # The client closes.
        s = connect(d, "e")
        port = s.getsockname()[1]
        s.sendall(b"hello\n")
        check(s.recv(100) == b"hello\n", "echo")
        time.sleep(0.2)
        s.close()
        dur, n_in, n_out = wait_line(d, "e", port, "client_closed")
        check(n_in == 6 and n_out == 6 and dur >= 0.2,
              "%s: client_closed in=%d out=%d duration %.3f" % (model, n_in, n_out, dur))
        # The handler closes (the greeter, after its greeting).
        s = connect(d, "g")
        port = s.getsockname()[1]
        greeting = recv_all(s)
        s.close()
        _, n_in, n_out = wait_line(d, "g", port, "handler_closed")
        check(n_out == len(greeting) and n_in == 0,
              "%s: handler_closed in=%d out=%d" % (model, n_in, n_out))
        # Idle.
        s = connect(d, "i")
        port = s.getsockname()[1]
        dur, _, _ = wait_line(d, "i", port, "idle_timeout")
        check(dur >= 0.9, "%s: idle after %.3f s" % (model, dur))
        s.close()
        # A line past max_line.
        s = connect(d, "u")
        port = s.getsockname()[1]
        s.sendall(b"x" * 20)
        _, n_in, _ = wait_line(d, "u", port, "line_too_long")
        check(n_in == 20, "%s: line_too_long in=%d" % (model, n_in))
        s.close()
        # An error: the client resets the connection.
        s = connect(d, "e")
        port = s.getsockname()[1]
        s.sendall(b"abc\n")
        time.sleep(0.1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        wait_line(d, "e", port, "error")
        # A listener without access_log says nothing.
        s = connect(d, "quiet")
        s.sendall(b"q\n")
        s.recv(10)
        s.close()
        # A datagram, logged at debug.
        check(dgram_exchange(d, "dg", b"ping") == b"ping", "udp")
        d.wait_log(r"(?m)\[debug\] listener dg: access 127\.0\.0\.1:\d+ in=4 out=4$")
        # The same ends, as metrics count session errors by reason.
        m = metrics(d)
        for name, reason in (("i", "idle_timeout"), ("u", "line_too_long"),
                             ("e", "reset")):
            check(re.search(r'netlabd_session_errors_total\{listener="%s",[^}]*'
                            r'reason="%s"\} 1$' % (name, reason), m, re.M),
                  "%s: metrics do not count one %s on %s:\n%s"
                  % (model, reason, name, m))
        # Open when the daemon stops, past shutdown_timeout.
        s = connect(d, "e")
        stop_port = s.getsockname()[1]
        s.sendall(b"x\n")
        s.recv(10)
    # (left the with: stopped)
    s.close()
    check(re.search(LINE % ("e", stop_port, "daemon_stopping"), d.final_log, re.M),
          "%s: no daemon_stopping line:\n%s" % (model, d.final_log))
    check("listener quiet: access" not in d.final_log,
          model + ": a listener without access_log logged a session")



def main():
    for model in MODELS:
        test_model(model)


run(main)
