"""netlabd-plugin-run: every shipped handler and the example, stream and
datagram mode (-u), max_line, handlers that refuse their options or do not
load, and the command line.  Asserts standard output, the messages on
standard error and the exit status (0 served, 1 usage/load/init, 2 the
session failed).

Environment (set by `make check`): NETLABD_PLUGIN_RUN (the runner),
NETLABD_PLUGIN_DIR, NETLABD_TEST_PLUGIN_DIR, NETLABD_EXAMPLE_DIR.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import BAD_LOG, PLUGIN_DIR, TEST_PLUGIN_DIR, TOP, check  # noqa: E402
from netlabd import fail as fail_test  # noqa: E402

RUN = os.environ.get("NETLABD_PLUGIN_RUN",
                     os.path.join(TOP, "build", "sdk", "netlabd-plugin-run"))
EXAMPLE_DIR = os.environ.get("NETLABD_EXAMPLE_DIR",
                             os.path.join(TOP, "build", "examples", "kv", ".libs"))

CTIME = r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}"


def so(name, folder=PLUGIN_DIR):
    path = os.path.join(folder, name + ".so")
    check(os.path.exists(path), "%s not built (make check builds it)" % path)
    return path


def run(args, stdin=b""):
    """(exit status, stdout bytes, stderr text) of the runner."""
    p = subprocess.run([RUN] + args, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    err = p.stderr.decode(errors="replace")
    check(not BAD_LOG.search(err), "sanitizer report from %s:\n%s" % (args, err))
    return p.returncode, p.stdout, err


def expect(args, stdin, rc, out=None, out_re=None, err_re=None, quiet=False):
    got_rc, got_out, err = run(args, stdin)
    what = "netlabd-plugin-run %s < %r" % (" ".join(args), stdin[:60])
    check(got_rc == rc, "%s: exit %d, expected %d\nstdout %r\nstderr %s"
          % (what, got_rc, rc, got_out[:200], err))
    if out is not None:
        check(got_out == out, "%s: stdout %r, expected %r" % (what, got_out[:200], out[:200]))
    if out_re is not None:
        check(re.fullmatch(out_re, got_out.decode(errors="replace")),
              "%s: stdout %r does not match %r" % (what, got_out[:200], out_re))
    if err_re is not None:
        check(re.search(err_re, err), "%s: stderr %r does not match %r" % (what, err, err_re))
    if quiet:
        check(err == "", "%s: unexpected stderr %r" % (what, err))
    return got_out, err


def stream_mode():
    echo, upper, ts = so("echo"), so("upper"), so("timestamp")
    logger, greeter = so("logger"), so("greeter")

    # The README's first test, and raw bytes through unchanged.
    expect([echo], b"hi\n", 0, out=b"hi\n", quiet=True)
    blob = bytes(range(256)) * 300
    expect([echo], blob, 0, out=blob, quiet=True)
    expect([upper], b"Hello, world\nno newline", 0,
           out=b"HELLO, WORLD\nNO NEWLINE", quiet=True)
    # Line framing: "\r\n" and a last unterminated line, as netlabd does.
    expect([ts], b"one\r\ntwo", 0,
           out_re=r"\[%s\] one\n\[%s\] two\n" % (CTIME, CTIME), quiet=True)
    expect([ts, "-o", "format=%Y"], b"a\n", 0, out_re=r"\[\d{4}\] a\n", quiet=True)
    # logger answers nothing and logs to stderr, naming the peer "stdin".
    expect([logger], b"first\nsecond\n", 0, out=b"",
           err_re=r"(?s)\[info\] listener logger: .*stdin.*first.*stdin: second")
    # greeter greets and closes: the rest of the input is not read.
    expect([greeter], b"ignored\n", 0, out=b"Thank you for connecting\n", quiet=True)
    expect(["-o", "message=Hello\n", greeter], b"", 0, out=b"Hello\n", quiet=True)
    # Options after the handler work too (getopt permutes).
    expect([greeter, "--option", "message=x"], b"", 0, out=b"x", quiet=True)


def datagram_mode():
    echo, upper, ts = so("echo"), so("upper"), so("timestamp")
    logger, greeter = so("logger"), so("greeter")

    # Each line, its newline included, is one datagram; a raw handler sees
    # the newline, a line handler does not.
    expect(["-u", echo], b"a\nbb\n\nlast", 0, out=b"a\nbb\n\nlast", quiet=True)
    expect(["-u", upper], b"a\nbb\n", 0, out=b"A\nBB\n", quiet=True)
    expect(["-u", ts, "-o", "format=%Y"], b"x\r\ny\n", 0,
           out_re=r"\[\d{4}\] x\n\[\d{4}\] y\n", quiet=True)
    # greeter answers every datagram (it only closes streams).
    expect(["--datagram", greeter], b"1\n2\n3\n", 0,
           out=b"Thank you for connecting\n" * 3, quiet=True)
    # No open() for a datagram: logger logs each line, with no connection line.
    _, err = expect(["-u", logger], b"p\nq\n", 0, out=b"")
    check("connection from" not in err and err.count("[info]") == 2,
          "logger -u: expected two log lines and no connection:\n" + err)
    # max_line does not apply to a datagram, as under netlabd.
    expect(["-u", "-m", "4", ts, "-o", "format=%Y"], b"abcdefgh\n", 0,
           out_re=r"\[\d{4}\] abcdefgh\n", quiet=True)
    # A datagram larger than netlabd serves (256 KiB) is dropped, counted,
    # and the others are still served.
    big = b"x" * (300 * 1024) + b"\n"
    expect(["-u", upper], b"a\n" + big + b"b\n", 2, out=b"A\nB\n",
           err_re=r"datagram of more than 262144 bytes dropped(?s:.*)"
                  r"1 datagram\(s\) ended in an error")


def max_line():
    ts, upper = so("timestamp"), so("upper")

    # Lines up to max_line pass, with or without "\r".
    expect(["-m", "4", ts, "-o", "format=%Y"], b"abcd\nabc\r\n", 0,
           out_re=r"\[\d{4}\] abcd\n\[\d{4}\] abc\n", quiet=True)
    # One byte more ends the session at once; as under netlabd, answers
    # still queued (the input is one read, a single write of the pipe) are
    # dropped with it, and nothing after the line is served.
    expect(["-m", "4", ts, "-o", "format=%Y"], b"abcd\nabc\r\nabcde\nafter\n", 2,
           out=b"",
           err_re=r"\[error\] listener timestamp: stdin: line longer than max_line "
                  r"\(4 bytes\), closing the session(?s:.*)the session ended in an error")
    # The default is the daemon's, 8192.
    expect([ts, "-o", "format=%Y"], b"y" * 8192 + b"\n", 0,
           out_re=r"\[\d{4}\] y{8192}\n", quiet=True)
    expect([ts, "-o", "format=%Y"], b"y" * 8193 + b"\n", 2, out=b"",
           err_re=r"line longer than max_line \(8192 bytes\)")
    # An unterminated line over max_line, at the end of input.
    expect(["--max-line", "3", ts], b"abcd", 2, out=b"", err_re=r"max_line \(3 bytes\)")
    # A raw handler has no lines: max_line does not apply.
    expect(["-m", "1", upper], b"abc\n", 0, out=b"ABC\n", quiet=True)


def handler_errors():
    fail = so("fail_data", TEST_PLUGIN_DIR)

    expect([fail], b"ok\n", 0, out=b"ok\n")
    # data() returns -1: the session ends at once, queued output with it
    # (all of the input is one read), and nothing after it is served.
    expect([fail], b"ok\nfail\nafter\n", 2, out=b"",
           err_re=r"\[debug\] listener fail_data: stdin: handler ended the session"
                  r"(?s:.*)the session ended in an error")
    expect([fail, "-o", "fail_open=true"], b"ok\n", 2, out=b"",
           err_re=r"handler refused the session(?s:.*)the session ended in an error")
    # A datagram that fails does not stop the others.
    expect(["-u", fail], b"ok\nfail\nafter\n", 2, out=b"ok\nafter\n",
           err_re=r"1 datagram\(s\) ended in an error")
    # A reader that goes away: the write fails, exit 2 (not SIGPIPE).
    p = subprocess.Popen([RUN, so("echo")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    try:
        _, err = p.communicate(b"x" * 100000, timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        fail_test("netlabd-plugin-run with a closed stdout did not end")
    check(p.returncode == 2, "stdout closed: exit %d, expected 2: %s" % (p.returncode, err))
    check(b"write failed" in err, "stdout closed: no message: %r" % err)


def refusals():
    echo = so("echo")
    init_fail = so("init_fail", TEST_PLUGIN_DIR)

    # init() refuses: its own words, exit 1, nothing served.
    expect([init_fail], b"hi\n", 1, out=b"",
           err_re=r"^netlabd-plugin-run: %s: handler init_fail: refused: always refuses\n$"
                  % re.escape(init_fail))
    expect([init_fail, "-o", "reason=not today"], b"", 1,
           err_re=r"handler init_fail: refused: not today\n$")
    # An option the handler never asked for, as netlabd reports it.
    expect([echo, "-o", "colour=red"], b"hi\n", 1, out=b"",
           err_re=r"^netlabd-plugin-run: \S+echo.so: unknown option `colour'\n$")
    # The loader's checks.
    expect([so("bad_abi", TEST_PLUGIN_DIR)], b"", 1, err_re=r"ABI version \d+, expected 1")
    expect([so("bad_magic", TEST_PLUGIN_DIR)], b"", 1, err_re=r"has magic 0x")
    expect([so("no_symbol", TEST_PLUGIN_DIR)], b"", 1, err_re=r"no symbol netlabd_handler")
    expect(["/nonexistent/x.so"], b"", 1, err_re=r"/nonexistent/x.so: cannot load")
    # The command line.
    expect([], b"", 1, err_re=r"no handler given(?s:.*)usage: netlabd-plugin-run")
    expect([echo, echo], b"", 1, err_re=r"one handler only")
    expect([echo, "-o", "novalue"], b"", 1, err_re=r"-o novalue: expected KEY=VALUE")
    expect([echo, "-o", "=v"], b"", 1, err_re=r"expected KEY=VALUE")
    expect([echo, "-o", "a=1", "-o", "a=2"], b"", 1, err_re=r"option `a' given twice")
    for bad in ("0", "-1", "x", "16777217", "4k"):
        expect(["-m", bad, echo], b"", 1, err_re=r"-m %s: expected a number from 1 to 16777216"
               % re.escape(bad))
    expect(["-x", echo], b"", 1, err_re=r"usage:")
    expect(["-h"], b"", 0, out_re=r"usage: netlabd-plugin-run (?s:.*)Exit status(?s:.*)", quiet=True)
    expect(["--version"], b"", 0, out_re=r"netlabd-plugin-run \(netlabd\) \d+\.\d+\.\d+\n",
           quiet=True)


def example():
    kv = so("kv", EXAMPLE_DIR)

    script = (b"set a 1\nget a\nget b\nset b two words\nget b\nset a 2\nget a\n"
              b"del a\nget a\ndel a\nbogus\nget\nquit\nget b\n")
    expect([kv], script, 0, quiet=True,
           out=b"OK\n1\nNOT FOUND\nOK\ntwo words\nOK\n2\nOK\nNOT FOUND\nNOT FOUND\n"
               b"ERR expected set KEY VALUE, get KEY, del KEY or quit\n"
               b"ERR expected set KEY VALUE, get KEY, del KEY or quit\nBYE\n")
    # The option, its default (16) and its validation.
    expect([kv, "-o", "max_keys=2"], b"set a 1\nset b 2\nset c 3\nset a 4\n", 0,
           out=b"OK\nOK\nERR full\nOK\n", quiet=True)
    expect([kv], b"".join(b"set k%d v\n" % i for i in range(17)), 0,
           out=b"OK\n" * 16 + b"ERR full\n", quiet=True)
    for bad in ("0", "1001", "many", ""):
        expect([kv, "-o", "max_keys=" + bad], b"", 1,
               err_re=r"handler kv: max_keys: expected 1 to 1000, got `%s'" % re.escape(bad))
    # No store for a datagram.
    expect(["-u", kv], b"get a\n", 0, out=b"ERR kv keeps a store per connection: "
           b"use a stream transport\n", quiet=True)


def main():
    check(os.access(RUN, os.X_OK), "%s not built" % RUN)
    stream_mode()
    datagram_mode()
    max_line()
    handler_errors()
    refusals()
    example()
    print("PASS")


if __name__ == "__main__":
    main()
