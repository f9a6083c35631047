"""Payload sizes and shapes: echo and upper from 0 bytes to 1 MiB over the
stream transports, datagrams up to ~60000 bytes, and timestamp's line
framing with lines split oddly across writes, CRLF and a last line without
its newline."""
import os
import random
import re
import socket
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (Daemon, check, connect, fail, recv_all, run,  # noqa: E402
                     stream_exchange)

MODEL = os.environ.get("NETLABD_MODEL", "libev")

UPPER = bytes(c - 32 if 0x61 <= c <= 0x7a else c for c in range(256))

CTIME = (rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
         rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
         rb"[ 123]\d \d\d:\d\d:\d\d \d{4}")
STAMPED = re.compile(rb"\[" + CTIME + rb"\] ([^\n]*)\n")


def upper(data):
    return data.translate(UPPER)


def describe(data):
    if len(data) <= 64:
        return repr(data)
    return "%d bytes" % len(data)


def first_difference(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


def stream_payloads(rng):
    big = rng.randbytes(1 << 20)
    return [
        ("0 bytes", b""),
        ("1 byte", b"a"),
        ("256 byte values", bytes(range(256))),
        ("64 KiB", rng.randbytes(64 << 10)),
        ("1 MiB", big),
        ("1 MiB of letters", bytes(0x61 + b % 26 for b in big[:1 << 20])),
    ]


def dgram_payloads(rng):
    return [
        ("0 bytes", b""),
        ("1 byte", b"q"),
        ("256 byte values", bytes(range(256))),
        ("60000 bytes", rng.randbytes(60000)),
    ]


def dgram_exchange(d, name, payload, timeout=5):
    """One datagram out, one back (the harness's variant binds a client path
    and has a big enough receive buffer; this one checks the size too)."""
    family, addr = d.addr(name)
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    client_path = None
    try:
        if family == socket.AF_UNIX:
            client_path = tempfile.mktemp(prefix="p", suffix=".sock", dir=d.dir)
            s.bind(client_path)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 18)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 18)
        s.sendto(payload, addr)
        try:
            return s.recv(1 << 17)
        except socket.timeout:
            fail("no reply from %s to a datagram of %d bytes within %s s" % (
                name, len(payload), timeout))
    finally:
        s.close()
        if client_path and os.path.exists(client_path):
            os.unlink(client_path)


def test_streams(d, rng):
    for transport in ("tcp", "unix"):
        for handler, conv in (("echo", lambda b: b), ("upper", upper)):
            name = "%s_%s" % (handler, transport)
            for what, payload in stream_payloads(rng):
                got = stream_exchange(d, name, payload, timeout=20)
                want = conv(payload)
                check(got == want, "%s: %s: got %d bytes, want %d; first "
                      "difference at offset %d" % (
                          name, what, len(got), len(want),
                          first_difference(got, want)))


def test_dgrams(d, rng):
    for transport in ("udp", "unix_dgram"):
        for handler, conv in (("echo", lambda b: b), ("upper", upper)):
            name = "%s_%s" % (handler, transport)
            for what, payload in dgram_payloads(rng):
                got = dgram_exchange(d, name, payload)
                want = conv(payload)
                check(got == want, "%s: %s datagram: got %s, want %s" % (
                    name, what, describe(got), describe(want)))


def test_big_unix_dgram(d):
    """A unix datagram may be bigger than any UDP one.  Whatever the daemon
    does with one of 100000 bytes, it must not answer with a cut copy: echo
    sends it back whole, or it is dropped and counted as an error."""
    name = "echo_unix_dgram"
    payload = bytes(range(256)) * 390 + b"end"
    errors0 = d.listener(name)["errors"]
    family, addr = d.addr(name)
    s = socket.socket(family, socket.SOCK_DGRAM)
    client_path = tempfile.mktemp(prefix="p", suffix=".sock", dir=d.dir)
    try:
        s.bind(client_path)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 19)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 19)
        s.settimeout(2)
        s.sendto(payload, addr)
        try:
            got = s.recv(1 << 19)
        except socket.timeout:
            got = None
    finally:
        s.close()
        os.unlink(client_path)
    if got is None:
        l = d.listener(name)
        check(l["errors"] > errors0,
              "%s: a %d-byte datagram was dropped silently: %r" % (
                  name, len(payload), l))
    else:
        check(got == payload, "%s: a %d-byte datagram was echoed as %d bytes "
              "(cut at offset %d)" % (name, len(payload), len(got),
                                      first_difference(got, payload)))


def reading_exchange(d, name, payload, timeout=20):
    """Like stream_exchange, but a reset is returned, not raised:
    (bytes received, None or the error)."""
    s = connect(d, name, timeout)
    got = []
    errs = []

    def reader():
        data = b""
        try:
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
        except OSError as e:
            errs.append(e)
        got.append(data)
    t = threading.Thread(target=reader)
    t.start()
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        errs.append(e)
    t.join(timeout)
    check(not t.is_alive(), "%s: no end of answer within %s s" % (name, timeout))
    s.close()
    return got[0], (repr(errs[0]) if errs else None)


LONG_FORMAT = "%Y-%m-%d %H:%M:%S " * 11  # 198 bytes of stamp


def test_timestamp_burst(d):
    """A burst of short lines makes far more output than input: with a
    198-byte stamp, 32768 empty lines (32 KiB) ask for 6.6 MB of answers.
    A client that reads all the while must get every one of them."""
    name = "timestamp_long"
    n = 32768
    got, err = reading_exchange(d, name, b"\n" * n, timeout=20)
    check(err is None, "%s: %d empty lines sent at once (reading all the "
          "while): %s after %d answers" % (name, n, err, got.count(b"\n")))
    stamp = time.strftime(LONG_FORMAT).encode()
    per = len(stamp) + 4
    check(got.count(b"\n") == n and len(got) == n * per,
          "%s: %d empty lines sent at once (reading all the while) got %d "
          "answers (%d bytes), want %d (%d bytes)" % (
              name, n, got.count(b"\n"), len(got), n, n * per))


def chunked_exchange(d, name, chunks, timeout=20, pause_every=0):
    """Sends the chunks as separate writes (TCP_NODELAY, a short pause now
    and then so that they arrive as separate reads), reading concurrently;
    half-closes and returns everything received."""
    s = connect(d, name, timeout)
    if s.family != socket.AF_UNIX:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    got = []
    t = threading.Thread(target=lambda: got.append(recv_all(s)))
    t.start()
    try:
        for i, c in enumerate(chunks):
            s.sendall(c)
            if pause_every and i % pause_every == 0:
                time.sleep(0.001)
        s.shutdown(socket.SHUT_WR)
        t.join(timeout)
        check(not t.is_alive(), "%s: no end of answer within %s s" % (name, timeout))
    finally:
        s.close()
    return got[0]


def stamped_lines(name, got):
    out = []
    pos = 0
    while pos < len(got):
        m = STAMPED.match(got, pos)
        if m is None:
            fail("%s: not a `[ctime] line\\n' answer at offset %d: %r" % (
                name, pos, got[pos:pos + 200]))
        out.append(m.group(1))
        pos = m.end()
    return out


def split_oddly(data, rng):
    """Cuts data into pieces of 1 to 40 bytes, with byte-by-byte runs."""
    chunks = []
    i = 0
    while i < len(data):
        if rng.random() < 0.2:
            n = 1
        else:
            n = rng.choice((1, 2, 3, 7, 13, 40, 300))
        chunks.append(data[i:i + n])
        i += n
    return chunks


def test_timestamp(d, rng):
    for name in ("timestamp_tcp", "timestamp_unix"):
        # Many lines of odd lengths, cut at odd places.
        lines = [bytes(rng.choice(b"abcXYZ 019-_.,;:!\t\x01\xc3\xa9\xff")
                       for _ in range(rng.choice((0, 1, 2, 5, 17, 100, 1000, 8191))))
                 for _ in range(300)]
        data = b"".join(l + b"\n" for l in lines)
        got = chunked_exchange(d, name, split_oddly(data, rng), pause_every=50)
        check(stamped_lines(name, got) == lines,
              "%s: %d lines sent in odd pieces came back as %d lines, first "
              "different: %r" % (name, len(lines), len(stamped_lines(name, got)),
                                 next((i for i, (a, b) in enumerate(
                                     zip(stamped_lines(name, got), lines)) if a != b),
                                      None)))

        # Every byte a write of its own.
        data = b"byte\nby byte\r\n\nlast"
        got = chunked_exchange(d, name, [data[i:i + 1] for i in range(len(data))],
                               pause_every=1)
        want = [b"byte", b"by byte", b"", b"last"]
        check(stamped_lines(name, got) == want,
              "%s: byte-by-byte %r answered %r" % (name, data, got))

        # CRLF lines, a CR split from its LF, a lone CR kept, a final line
        # without newline delivered at EOF.
        chunks = [b"crlf one\r\n", b"crlf two\r", b"\n", b"lone\rcr\n",
                  b"two crs\r\r\n", b"\r\n", b"no newline at the end"]
        got = chunked_exchange(d, name, chunks, pause_every=1)
        want = [b"crlf one", b"crlf two", b"lone\rcr", b"two crs\r", b"",
                b"no newline at the end"]
        check(stamped_lines(name, got) == want,
              "%s: CRLF lines %r answered %r" % (name, chunks, got))

        # Only a final line without newline; nothing; an empty line.
        for data, want in ((b"only", [b"only"]),
                           (b"", []), (b"\n", [b""])):
            got = stream_exchange(d, name, data)
            check(stamped_lines(name, got) == want,
                  "%s: %r answered %r, want lines %r" % (name, data, got, want))


def main():
    rng = random.Random(862)
    listeners = []
    for handler in ("echo", "upper", "timestamp"):
        for transport in ("tcp", "unix", "udp", "unix-dgram"):
            if handler == "timestamp" and transport in ("udp", "unix-dgram"):
                continue
            l = {"name": "%s_%s" % (handler, transport.replace("-", "_")),
                 "transport": transport, "model": MODEL, "handler": handler}
            if transport.startswith("unix"):
                l["path"] = l["name"] + ".sock"
            listeners.append(l)
    listeners.append({"name": "timestamp_long", "transport": "tcp", "model": MODEL,
                      "handler": "timestamp", "options": {"format": LONG_FORMAT}})
    failed = []

    def soft(fn, *args):
        """Runs one part; a failure is reported at the end."""
        try:
            fn(*args)
        except SystemExit:  # check() said why
            failed.append(fn.__name__)
        except Exception:  # noqa: BLE001 - shown, then failed below
            traceback.print_exc()
            failed.append(fn.__name__)

    with Daemon(listeners) as d:
        soft(test_streams, d, rng)
        soft(test_dgrams, d, rng)
        soft(test_timestamp, d, rng)
        soft(test_timestamp_burst, d)
        soft(test_big_unix_dgram, d)
        deadline = time.time() + 5
        while True:
            st = d.status()["listeners"]
            if all(l["connections_active"] == 0 for l in st) or time.time() > deadline:
                break
            time.sleep(0.05)
        check(not failed, "failed: " + ", ".join(failed))
        for l in st:
            if l["name"] == "echo_unix_dgram":
                continue  # test_big_unix_dgram may have counted an error
            check(l["connections_active"] == 0 and l["errors"] == 0,
                  "status after the payloads: %r" % l)
            check(l["bytes_in"] == l["bytes_out"] or l["handler"] == "timestamp",
                  "%s: bytes_in %d != bytes_out %d" % (l["name"], l["bytes_in"],
                                                        l["bytes_out"]))


if __name__ == "__main__":
    run(main)
