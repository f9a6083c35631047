"""The benchmark's baseline server (bench/nlbase) answers as netlabd's
handlers do, so that bench/run.sh compares like with like: echo over tcp
and unix (a 1 MiB payload, more than a socket takes at once, so the part
the client has not taken yet is kept and sent later), several threads on
one port with SO_REUSEPORT, the greeter's message and close, and datagram
echo over udp and unix-dgram.  What it serves, never how fast: timings
belong in bench/, not in the suite."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import NETLABD, check, recv_all, run  # noqa: E402

NLBASE = os.environ.get("NLBASE") or os.path.join(
    os.path.dirname(os.path.dirname(NETLABD)), "bench", "nlbase")


class Base:
    def __init__(self, *args):
        self.proc = subprocess.Popen([NLBASE] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # bound: nlbase exits on error
        check(line.startswith("listening "), "nlbase %r said %r, %r"
              % (args, line, self.proc.stderr.read() if not line else ""))
        self.address = line.split()[1]

    def inet(self):
        host, port = self.address.rsplit(":", 1)
        return host, int(port)

    def stop(self):
        self.proc.terminate()
        try:
            rc = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            rc = None
        check(rc == 0, "nlbase did not stop on SIGTERM (%r)" % rc)


def stream(family, addr, payload):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(addr)

    def send():  # while the answer is read: neither side may block the other
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    got = recv_all(s)
    sender.join(10)
    check(not sender.is_alive(), "the payload was not taken in 10 s")
    s.close()
    return got


def datagram(family, addr, payload, bind=None):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(5)
    if bind is not None:
        s.bind(bind)
    s.sendto(payload, addr)
    got = s.recv(65536)
    s.close()
    return got


def main():
    if not os.access(NLBASE, os.X_OK):
        check(False, "no baseline server at %s (make check builds it)" % NLBASE)
    tmp = tempfile.mkdtemp(prefix="nlbase-it-")
    try:
        big = bytes(range(256)) * 4096  # 1 MiB
        for threads in ("1", "2"):
            b = Base("-t", threads, "echo", "127.0.0.1:0")
            try:
                for payload in (b"ping\n", big):
                    got = stream(socket.AF_INET, b.inet(), payload)
                    check(got == payload, "tcp echo (-t %s) of %d bytes gave %d"
                          % (threads, len(payload), len(got)))
            finally:
                b.stop()

        path = os.path.join(tmp, "echo.sock")
        b = Base("echo", "unix:" + path)
        try:
            got = stream(socket.AF_UNIX, path, big)
            check(got == big, "unix echo of 1 MiB gave %d bytes" % len(got))
        finally:
            b.stop()
        check(not os.path.exists(path), "nlbase left its socket file")

        b = Base("-g", "hello\n", "greeter", "127.0.0.1:0")
        try:
            got = stream(socket.AF_INET, b.inet(), b"")
            check(got == b"hello\n", "greeter said %r" % got)
        finally:
            b.stop()

        b = Base("udp", "127.0.0.1:0")
        try:
            got = datagram(socket.AF_INET, b.inet(), b"dgram")
            check(got == b"dgram", "udp echo gave %r" % got)
            # Whole, however large: more than a stream read takes at once.
            got = datagram(socket.AF_INET, b.inet(), big[:60000])
            check(got == big[:60000], "udp echo of 60000 bytes gave %d"
                  % len(got))
        finally:
            b.stop()

        path = os.path.join(tmp, "dgram.sock")
        b = Base("udp", "unix:" + path)
        try:
            got = datagram(socket.AF_UNIX, path, b"unix dgram",
                           bind=os.path.join(tmp, "client.sock"))
            check(got == b"unix dgram", "unix-dgram echo gave %r" % got)
        finally:
            b.stop()

        r = subprocess.run([NLBASE, "echo", "nowhere"], capture_output=True,
                           text=True, timeout=10)
        check(r.returncode == 2 and "usage:" in r.stderr,
              "a bad address: exit %d, %r" % (r.returncode, r.stderr))
        print("nlbase: echo (tcp, 2 threads, unix), greeter, udp and unix-dgram answer")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


run(main)
