"""Every handler on every transport, in one daemon, with DESIGN.md's answers.

The case table (CASES) is independent of the concurrency model: run_matrix(
model) starts one daemon with a listener per case under that model and runs
every case through it.  main() runs it for each model this build serves
(`netlabd -t` refuses the others) or for the models named in NETLABD_MODELS.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (NETLABD, PLUGIN_DIR, SKIP, Daemon, check, connect,  # noqa: E402
                     conf_value, fail, recv_all, run, stream_exchange)

TRANSPORTS = ("tcp", "udp", "unix", "unix-dgram")
DGRAM = ("udp", "unix-dgram")
ALL_MODELS = ("libev", "threads", "prefork")

GREETING = b"Thank you for connecting\n"
CUSTOM_GREETING = "Hi, \"netlabd\" here\r\n"

# ctime()'s layout, without its newline: "Tue Nov 24 10:00:00 2026".
CTIME = (r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
         r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
         r"[ 123]\d \d\d:\d\d:\d\d \d{4}")
STAMPED = re.compile(rb"\[(" + CTIME.encode() + rb")\] ([^\n]*)\n")


def upper(data):
    return bytes(c - 32 if 0x61 <= c <= 0x7a else c for c in data)


def check_ctime(text, what):
    """The stamp is local time, now (give or take a few seconds)."""
    t = time.mktime(time.strptime(text.decode(), "%a %b %d %H:%M:%S %Y"))
    check(abs(t - time.time()) < 10,
          "%s: stamp %r is not the local time now" % (what, text))


def parse_stamped(got, what):
    """[(stamp, line), ...] from a timestamp answer; fails on anything else."""
    out = []
    pos = 0
    while pos < len(got):
        m = STAMPED.match(got, pos)
        check(m is not None, "%s: answer is not `[ctime] line\\n' lines at "
              "offset %d: %r" % (what, pos, got))
        check_ctime(m.group(1), what)
        out.append(m.group(2))
        pos = m.end()
    return out


def dgram_send(d, name, payload, timeout=5, expect_reply=True, quiet=0.3):
    """Sends one datagram; returns the replies (a list): the first within
    timeout, then any more that come within `quiet` seconds."""
    family, addr = d.addr(name)
    s = socket.socket(family, socket.SOCK_DGRAM)
    client_path = None
    replies = []
    try:
        if family == socket.AF_UNIX:
            client_path = tempfile.mktemp(prefix="m", suffix=".sock", dir=d.dir)
            s.bind(client_path)
        s.settimeout(timeout if expect_reply else quiet)
        s.sendto(payload, addr)
        while True:
            try:
                replies.append(s.recv(1 << 17))
            except socket.timeout:
                break
            s.settimeout(quiet)
    finally:
        s.close()
        if client_path and os.path.exists(client_path):
            os.unlink(client_path)
    if expect_reply:
        check(replies, "%s: no reply to a datagram within %s s" % (name, timeout))
    return replies


# --- the cases -------------------------------------------------------------
# Each case: a handler, its options, and a function (d, name, transport)
# that talks to the listener, checks the answer and returns the counters it
# expects (bytes_in, bytes_out, streams) or None when they are not exact.

MIXED = b"Hello, World! az AZ @[`{ 0123 \x00\x7f \xc3\xa9t\xc3\xa9 \xff\xfe\x80\n"


def case_echo(d, name, transport):
    if transport in DGRAM:
        r = dgram_send(d, name, MIXED)
        check(r == [MIXED], "%s: echo replied %r to %r" % (name, r, MIXED))
        return len(MIXED), len(MIXED), 0
    got = stream_exchange(d, name, MIXED)
    check(got == MIXED, "%s: echo answered %r to %r" % (name, got, MIXED))
    return len(MIXED), len(MIXED), 1


def case_upper(d, name, transport):
    want = upper(MIXED)
    check(want == b"HELLO, WORLD! AZ AZ @[`{ 0123 \x00\x7f \xc3\xa9T\xc3\xa9 "
          b"\xff\xfe\x80\n", "the test's own upper() is wrong")
    if transport in DGRAM:
        r = dgram_send(d, name, MIXED)
        check(r == [want], "%s: upper replied %r, want %r" % (name, r, want))
        return len(MIXED), len(want), 0
    got = stream_exchange(d, name, MIXED)
    check(got == want, "%s: upper answered %r, want %r" % (name, got, want))
    return len(MIXED), len(want), 1


def case_timestamp(d, name, transport):
    if transport in DGRAM:
        # One message, whatever it holds: one reply, without the trailing
        # newline of the datagram; an inner newline stays.
        sent = b"hello dgram\n"
        r = dgram_send(d, name, sent)
        check(len(r) == 1, "%s: %d replies to one datagram: %r" % (name, len(r), r))
        check(parse_stamped(r[0], name) == [b"hello dgram"],
              "%s: timestamp replied %r to %r" % (name, r[0], sent))
        sent2 = b"two\nlines"
        r2 = dgram_send(d, name, sent2)
        check(len(r2) == 1, "%s: %d replies to one datagram: %r" % (name, len(r2), r2))
        m = re.fullmatch(rb"\[(" + CTIME.encode() + rb")\] two\nlines\n", r2[0])
        check(m is not None, "%s: timestamp replied %r to %r" % (name, r2[0], sent2))
        return len(sent) + len(sent2), len(r[0]) + len(r2[0]), 0
    sent = b"one\ntwo\r\n\n  spaced  \tout \nlast without newline"
    got = stream_exchange(d, name, sent)
    lines = parse_stamped(got, name)
    want = [b"one", b"two", b"", b"  spaced  \tout ", b"last without newline"]
    check(lines == want, "%s: timestamp answered %r to %r" % (name, got, sent))
    return len(sent), len(got), 1


def case_timestamp_format(d, name, transport):
    year = time.strftime("%Y").encode()
    want = b"[" + year + b"] formatted\n"
    if transport in DGRAM:
        r = dgram_send(d, name, b"formatted\n")
        check(r == [want], "%s: format %%Y: replied %r, want %r" % (name, r, want))
        return 10, len(want), 0
    got = stream_exchange(d, name, b"formatted\nagain\n")
    want2 = want + b"[" + year + b"] again\n"
    check(got == want2, "%s: format %%Y: answered %r, want %r" % (name, got, want2))
    return 16, len(want2), 1


def case_logger(d, name, transport):
    tag = "logged-%s-%d" % (name, os.getpid())
    if transport in DGRAM:
        sent = ("%s via datagram\n" % tag).encode()
        r = dgram_send(d, name, sent, expect_reply=False, quiet=0.5)
        check(r == [], "%s: logger replied %r to a datagram" % (name, r))
        d.wait_log(r"(?m)\[info\] listener %s: .*%s via datagram$" % (re.escape(name), tag))
        # A datagram is one line, whatever it holds: an inner newline or an
        # escape sequence must not forge or garble a log line.
        sent2 = ("%s inner\nforged line\x1b[31m\n" % tag).encode()
        r = dgram_send(d, name, sent2, expect_reply=False, quiet=0.5)
        check(r == [], "%s: logger replied %r to a datagram" % (name, r))
        d.wait_log(r"(?m)\[info\] listener %s: .*%s inner\\x0aforged line\\x1b\[31m$"
                   % (re.escape(name), tag))
        check(not re.search(r"(?m)^forged line", d.log()),
              "%s: a datagram forged a log line:\n%s" % (name, d.log()))
        return len(sent) + len(sent2), 0, 0
    sent = ("%s line one\n%s line two\n" % (tag, tag)).encode()
    got = stream_exchange(d, name, sent)
    check(got == b"", "%s: logger sent %r" % (name, got))
    # Serving processes hand their log lines to the master: allow it a
    # moment to write them.
    d.wait_log(r"(?m)\[info\] listener %s: .*connection from" % re.escape(name))
    for line in ("line one", "line two"):
        d.wait_log(r"(?m)\[info\] listener %s: .*%s %s$" % (re.escape(name), tag, line))
    return len(sent), 0, 1


def greeter_case(message):
    def case(d, name, transport):
        if transport in DGRAM:
            r = dgram_send(d, name, b"anything at all")
            check(r == [message], "%s: greeter replied %r, want %r" % (name, r, message))
            return 15, len(message), 0
        # The greeter speaks first and closes: send nothing, read to EOF.
        s = connect(d, name)
        try:
            got = recv_all(s)
        finally:
            s.close()
        check(got == message, "%s: greeter sent %r, want %r" % (name, got, message))
        return 0, len(message), 1
    return case


# (key, handler, options, case function)
CASES = [
    ("echo", "echo", None, case_echo),
    ("upper", "upper", None, case_upper),
    ("timestamp", "timestamp", None, case_timestamp),
    ("logger", "logger", None, case_logger),
    ("greeter", "greeter", None, greeter_case(GREETING)),
    ("tsfmt", "timestamp", {"format": "%Y"}, case_timestamp_format),
    ("greetmsg", "greeter", {"message": CUSTOM_GREETING},
     greeter_case(CUSTOM_GREETING.encode())),
]


def listener_name(key, transport):
    return "%s_%s" % (key, transport.replace("-", "_"))


def matrix_listeners(model, transports=TRANSPORTS, cases=CASES):
    out = []
    for key, handler, options, _ in cases:
        for t in transports:
            l = {"name": listener_name(key, t), "transport": t,
                 "model": model, "handler": handler}
            if t in ("unix", "unix-dgram"):
                l["path"] = "%s.sock" % listener_name(key, t)
            if options:
                l["options"] = options
            out.append(l)
    return out


def wait_until(pred, timeout, what):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            fail("%s within %s s" % (what, timeout))
        time.sleep(0.05)


def run_matrix(model, transports=TRANSPORTS, cases=CASES):
    """Starts one daemon serving every case on every transport under
    `model` and runs each case; returns the number of cases run."""
    n = 0
    with Daemon(matrix_listeners(model, transports, cases)) as d:
        expected = {}
        errors = []

        def one(fn, name, t):
            try:
                expected[name] = fn(d, name, t)
            except SystemExit:  # check() failed; it printed why
                errors.append(name)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("%s: %r" % (name, e))

        # The cases run at once: each has its own listener, and the quiet
        # periods of the datagram cases overlap.
        threads = []
        for key, _, _, fn in cases:
            for t in transports:
                th = threading.Thread(target=one, args=(fn, listener_name(key, t), t))
                th.start()
                threads.append(th)
                n += 1
        deadline = time.time() + 30
        for th in threads:
            th.join(max(0.1, deadline - time.time()))
        check(not any(th.is_alive() for th in threads),
              "%s: cases still running after 30 s" % model)
        check(not errors, "%s: failed cases: %s" % (model, ", ".join(errors)))

        def settled():
            st = {l["name"]: l for l in d.status()["listeners"]}
            return st if all(l["connections_active"] == 0 for l in st.values()) else None
        st = wait_until(settled, 5, "%s: connections_active back to 0" % model)
        for name, exp in expected.items():
            l = st[name]
            check(l["model"] == model, "%s: status model %r" % (name, l["model"]))
            check(l["errors"] == 0, "%s: errors in status: %r" % (name, l))
            check(l["connections_refused"] == 0, "%s: refused in status: %r" % (name, l))
            bytes_in, bytes_out, streams = exp
            check(l["bytes_in"] == bytes_in and l["bytes_out"] == bytes_out,
                  "%s: status bytes_in/out %d/%d, want %d/%d: %r" % (
                      name, l["bytes_in"], l["bytes_out"], bytes_in, bytes_out, l))
            if streams:
                check(l["connections_total"] == streams,
                      "%s: connections_total %d, want %d" % (
                          name, l["connections_total"], streams))
    return n


def model_available(model):
    """True when `netlabd -t` accepts a listener with this model."""
    tmp = tempfile.mkdtemp(prefix="netlabd-model-")
    conf = os.path.join(tmp, "netlabd.conf")
    with open(conf, "w") as f:
        f.write("log_target = \"stderr\";\nplugin_dir = %s;\n" % conf_value(PLUGIN_DIR))
        f.write("control = \"control.sock\";\npidfile = \"netlabd.pid\";\n")
        f.write("listeners = ( { name = \"e\"; transport = \"tcp\"; "
                "address = \"127.0.0.1\"; port = 0; model = %s; handler = \"echo\"; } );\n"
                % conf_value(model))
    try:
        p = subprocess.run([NETLABD, "-t", "-c", conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=15)
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    out = p.stdout.decode(errors="replace")
    if p.returncode == 0:
        return True
    if "not available" in out:
        return False
    fail("netlabd -t on a %s listener failed oddly:\n%s" % (model, out))


def main():
    if os.environ.get("NETLABD_MODELS"):
        models = os.environ["NETLABD_MODELS"].split()
    else:
        models = [m for m in ALL_MODELS if model_available(m)]
        check("libev" in models, "model libev is not available")
    if not models:
        sys.exit(SKIP)
    for model in models:
        t0 = time.time()
        n = run_matrix(model)
        print("model %s: %d cases passed in %.1f s" % (model, n, time.time() - t0))


if __name__ == "__main__":
    run(main)
