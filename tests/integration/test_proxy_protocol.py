"""proxy_protocol: a PROXY header, v1 or v2, before the client's first
byte names the client; netlabd_peer() (the logger's line), the access
log, the allow/deny rules and the per-source limits all see that client.
A LOCAL header (a balancer's health check) is served as from the
connection's own address.  A malformed header, none before the client
closes, or none within the timeout closes the connection unserved, and is
counted by reason and logged -- under every model, over tcp and unix."""
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (NETLABD, Daemon, check, connect, metrics,  # noqa: E402
                     recv_all, run, wait_status)

MODELS = ["libev", "threads", "prefork"]
SIG2 = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, sport, dst="192.0.2.1", dport=7000, proto="TCP4"):
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport, dport)).encode()


def v2(src, sport, dst="192.0.2.1", dport=7000, local=False, tlv=b""):
    """A v2 header: PROXY (or LOCAL) over TCP, IPv4 or IPv6 by src."""
    if local:
        return SIG2 + bytes([0x20, 0x00]) + struct.pack("!H", len(tlv)) + tlv
    if ":" in src:
        fam, a = 0x21, socket.inet_pton(socket.AF_INET6, src) + \
            socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    else:
        fam, a = 0x11, socket.inet_aton(src) + socket.inet_aton(dst)
    body = a + struct.pack("!HH", sport, dport) + tlv
    return SIG2 + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


def exchange(d, name, chunks, pause=0.0):
    """Sends chunks (with a pause between), half-closes, returns all the
    answer, or None when the connection was reset."""
    s = connect(d, name)
    try:
        for i, c in enumerate(chunks):
            if i and pause:
                time.sleep(pause)
            s.sendall(c)
        s.shutdown(socket.SHUT_WR)
        return recv_all(s)
    except ConnectionResetError:
        return None
    finally:
        s.close()


def access_line(d, name, peer, timeout=5):
    pat = re.compile(r"listener %s: access %s duration=\S+ in=(\d+) out=(\d+) "
                     r"end=(\w+)" % (name, re.escape(peer)))
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = pat.search(d.log())
        if m:
            return int(m.group(1)), int(m.group(2)), m.group(3)
        time.sleep(0.05)
    check(False, "no access line for %s on %s:\n%s" % (peer, name, d.log()))



def errors_of(d, name):
    return d.listener(name)["proxy_header_errors"]


def good_headers(d):
    # v1, with the client's first line in the same segment.
    got = exchange(d, "ec", [v1("203.0.113.7", 4567) + b"hello\n"])
    check(got == b"hello\n", "v1: echo %r" % got)
    check(access_line(d, "ec", "203.0.113.7:4567") == (6, 6, "client_closed"),
          "v1: access line counts the client's bytes, not the header's")
    # v2 over IPv6, dribbled a few bytes at a time.
    h = v2("2001:db8::7", 40000) + b"one\n"
    got = exchange(d, "ec", [h[i:i + 5] for i in range(0, len(h), 5)], 0.01)
    check(got == b"one\n", "v2 dribbled: echo %r" % got)
    access_line(d, "ec", "[2001:db8::7]:40000")
    # v2 with a TLV after the addresses, the client's line sent later.
    got = exchange(d, "ec", [v2("198.51.100.9", 5000, tlv=b"\x04\x00\x01x"),
                             b"two\n"], 0.05)
    check(got == b"two\n", "v2 with TLV: echo %r" % got)
    access_line(d, "ec", "198.51.100.9:5000")
    # LOCAL (v2) and UNKNOWN (v1): a health check, served as from the
    # connection itself.
    for h, what in ((v2("", 0, local=True), "v2 LOCAL"),
                    (b"PROXY UNKNOWN\r\n", "v1 UNKNOWN")):
        s = connect(d, "ec")
        port = s.getsockname()[1]
        s.sendall(h + b"ping\n")
        s.shutdown(socket.SHUT_WR)
        got = recv_all(s)
        s.close()
        check(got == b"ping\n", "%s: echo %r" % (what, got))
        access_line(d, "ec", "127.0.0.1:%d" % port)
    # The handler's netlabd_peer(): the logger's line names the client.
    exchange(d, "lg", [v2("192.0.2.200", 6100) + b"note\n"])
    d.wait_log(r"handler logger: 192\.0\.2\.200:6100: connection from "
               r"192\.0\.2\.200:6100")
    # A unix stream listener behind a balancer: the client is an address;
    # a LOCAL header keeps the socket's own peer.
    got = exchange(d, "ux", [v1("203.0.113.8", 1234) + b"unix\n"])
    check(got == b"unix\n", "unix: echo %r" % got)
    access_line(d, "ux", "203.0.113.8:1234")
    got = exchange(d, "ux", [v2("", 0, local=True) + b"local\n"])
    check(got == b"local\n", "unix, LOCAL: echo %r" % got)
    access_line(d, "ux", "unix")


def bad_headers(d):
    before = errors_of(d, "ec")
    bad = [
        [b"hello\n"],                                      # no header at all
        [b"PROXY TCP4 203.0.113.300 192.0.2.1 1 2\r\n"],   # not an address
        [b"PROXY TCP4 203.0.113.7 192.0.2.1 1 2\n"],       # no \r
        [b"PROXY TCP4 " + b"1" * 120 + b"\r\n"],           # too long
        [SIG2 + bytes([0x31, 0x11, 0, 12]) + b"\0" * 12],  # version 3
        [SIG2 + bytes([0x21, 0x11, 0, 4]) + b"\0" * 4],    # short addresses
        [SIG2 + bytes([0x21, 0x11, 0xff, 0xff])],          # too long
        [b"PROXY TCP4 203.0.113.7"],                       # closed before the end
    ]
    for chunks in bad:
        got = exchange(d, "ec", chunks)
        check(not got, "%r: answered %r" % (chunks, got))
    wait_status(d, "ec", lambda l: l["proxy_header_errors"] == before + len(bad),
                5, "every bad header counted")
    d.wait_log(r"listener ec: 127\.0\.0\.1:\d+: closed without a valid PROXY "
               r"header: ")
    check(not re.search(r"access 127\.0\.0\.1:\d+ .*in=0 out=0", d.log()),
          "a connection without a header got an access line:\n" + d.log())
    m = metrics(d)
    check('netlabd_proxy_header_errors_total{listener="ec",transport="tcp",'
          'model="%s",reason="invalid"} %d' % (d.model, before + len(bad)) in m,
          "metrics count the bad headers:\n" + m)


def late_header(d):
    """idle_timeout = 1 s: the header is due within 1 s, not 5."""
    before = metrics(d)
    s = connect(d, "ec")
    s.sendall(b"PROXY TCP4 ")  # a beginning, then nothing
    t0 = time.time()
    s.settimeout(5)
    try:
        got = s.recv(100)
    except ConnectionResetError:
        got = b""
    waited = time.time() - t0
    s.close()
    check(got == b"" and 0.5 < waited < 4,
          "a header left unfinished: %r after %.2f s" % (got, waited))
    pat = (r'netlabd_proxy_header_errors_total\{listener="ec",[^}]*'
           r'reason="timeout"\} (\d+)')
    n0 = int(re.search(pat, before).group(1))
    deadline = time.time() + 5
    while int(re.search(pat, metrics(d)).group(1)) != n0 + 1:
        check(time.time() < deadline, "the late header was not counted")
        time.sleep(0.05)


def client_rules(d):
    """deny and max_connections_per_source judge the client named."""
    st = d.listener("rl")
    got = exchange(d, "rl", [v1("203.0.113.66", 1000) + b"x\n"])
    check(not got, "a denied client was served: %r" % got)
    got = exchange(d, "rl", [v1("203.0.113.67", 1000) + b"y\n"])
    check(got == b"y\n", "an allowed client: %r" % got)
    # One session per source: a second from the same client is refused,
    # one from another client through the same balancer is served.
    held = connect(d, "rl")
    held.sendall(v2("198.51.100.5", 2000) + b"a\n")
    check(held.recv(10) == b"a\n", "the first session of 198.51.100.5")
    got = exchange(d, "rl", [v2("198.51.100.5", 2001) + b"b\n"])
    check(not got, "a second session of 198.51.100.5 was served: %r" % got)
    got = exchange(d, "rl", [v2("198.51.100.6", 2002) + b"c\n"])
    check(got == b"c\n", "198.51.100.6 beside it: %r" % got)
    held.close()
    wait_status(d, "rl", lambda l: l["connections_denied"] == st["connections_denied"] + 1
                and l["connections_limited"] == st["connections_limited"] + 1,
                5, "one denied and one limited")
    # A refused client never reaches the handler.
    got = exchange(d, "lg", [v1("203.0.113.66", 1001) + b"hidden\n"])
    check(not got, "logger answered a denied client: %r" % got)
    wait_status(d, "lg", lambda l: l["connections_denied"] == 1, 5,
                "the logger's denied client counted")
    check("203.0.113.66" not in re.sub(r".*refused: allow/deny.*\n", "", d.log()),
          "a denied client reached the handler:\n" + d.log())


def test_model(model):
    d = Daemon([
        {"name": "ec", "transport": "tcp", "handler": "echo", "model": model,
         "workers": 2, "proxy_protocol": True, "access_log": True,
         "idle_timeout": 1},
        {"name": "lg", "transport": "tcp", "handler": "logger", "model": model,
         "workers": 1, "proxy_protocol": True, "deny": ["203.0.113.66"]},
        {"name": "nt", "transport": "tcp", "handler": "echo", "model": model,
         "workers": 2, "proxy_protocol": True, "idle_timeout": 0},
        {"name": "rl", "transport": "tcp", "handler": "echo", "model": model,
         "workers": 3, "proxy_protocol": True, "deny": ["203.0.113.66"],
         "max_connections_per_source": 1},
        {"name": "ux", "transport": "unix", "path": "ux.sock",
         "handler": "echo", "model": model, "workers": 1,
         "proxy_protocol": True, "access_log": True}], shutdown_timeout=1)
    d.model = model
    with d:
        # The default timeout (5 s) on a listener without idle_timeout:
        # a silent connection is closed then; one whose header came stays.
        t0 = time.time()
        silent = connect(d, "nt")
        kept = connect(d, "nt")
        kept.sendall(v1("192.0.2.50", 5050) + b"a\n")
        check(kept.recv(10) == b"a\n", "nt: first echo")
        good_headers(d)
        bad_headers(d)
        late_header(d)
        client_rules(d)
        check(d.listener("ec")["errors"] == 0,
              "header failures are not session errors")
        silent.settimeout(max(0.1, t0 + 9 - time.time()))
        try:
            got = silent.recv(10)
        except ConnectionResetError:
            got = b""
        except socket.timeout:
            got = None
        waited = time.time() - t0
        check(got == b"" and 4.5 < waited < 9,
              "nt: no header: %r after %.1f s (due after 5 s)" % (got, waited))
        kept.sendall(b"b\n")
        check(kept.recv(10) == b"b\n", "nt: the session whose header came "
              "outlived the header's timeout")
        kept.close()
        silent.close()
        # Nothing left open: every refused, bad or late connection gave
        # its place back.
        for name in ("ec", "lg", "rl", "ux", "nt"):
            wait_status(d, name, lambda l: l["connections_active"] == 0, 5,
                        "connections_active back to 0")
    print("%s: ok" % model)


def test_udp_refused():
    """proxy_protocol on a datagram listener is a FILE:LINE error."""
    d = Daemon([{"name": "u", "transport": "udp", "handler": "echo",
                 "proxy_protocol": True}])
    p = subprocess.run([NETLABD, "-t", "-c", d.conf], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=15)
    shutil.rmtree(d.dir, ignore_errors=True)
    check(p.returncode == 1 and re.search(r"netlabd\.conf:\d+: .*proxy_protocol",
                                          p.stderr),
          "udp with proxy_protocol: %r" % ((p.returncode, p.stdout, p.stderr),))


def main():
    test_udp_refused()
    for model in MODELS:
        test_model(model)


run(main)
