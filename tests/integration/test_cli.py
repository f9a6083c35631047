"""The command line: -V, -h, bad options, -t on good and broken configs
(FILE:LINE: messages, FILE as given, nothing opened), --plugin-info."""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import PLUGIN_DIR, TEST_PLUGIN_DIR, check, run  # noqa: E402
from clitest import (free_tcp_port, run_netlabd, tcp_port_free,  # noqa: E402
                     tempdir, write)

TMP = tempdir()


def test_plugin(name):
    path = os.path.join(TEST_PLUGIN_DIR, name + ".so")
    check(os.path.exists(path), "test plugin %s not built (make check builds it)" % path)
    return path


def header(extra=""):
    """Global settings, 4 lines (so that listeners start at line 6 after
    `listeners = (` on line 5)."""
    return ('pidfile = "netlabd.pid";\n'
            'control = "control.sock";\n'
            'plugin_dir = "%s";\n'
            'log_target = "netlabd.log";%s\n'
            'listeners = (\n') % (PLUGIN_DIR, extra)


def tcp(name, handler, more=""):
    return ('  { name = "%s"; transport = "tcp"; address = "127.0.0.1"; '
            'port = 0; model = "libev"; handler = "%s";%s }' % (name, handler, more))


def conf(lines):
    """header() + listeners, one per line from line 6, comma separated."""
    return header() + ",\n".join(lines) + "\n);\n"


def test_simple_options():
    rc, out, err = run_netlabd(["-V"])
    check(rc == 0, "-V exited %d: %s" % (rc, err))
    check(re.match(r"^netlabd \d+\.\d+(\.\d+)?\S*\n$", out), "-V printed %r" % out)

    rc, out, err = run_netlabd(["--version"])
    check(rc == 0 and re.match(r"^netlabd \d", out), "--version: %d %r" % (rc, out))

    for opt in ("-h", "--help"):
        rc, out, err = run_netlabd([opt])
        check(rc == 0, "%s exited %d" % (opt, rc))
        for word in ("usage", "-c", "-f", "-t", "-p", "-V", "--plugin-info"):
            check(word in out, "%s output lacks %r:\n%s" % (opt, word, out))

    for args in (["--no-such-option"], ["-Z"], ["-c"], ["unexpected-arg"]):
        rc, out, err = run_netlabd(args)
        check(rc == 1, "netlabd %s exited %d, expected 1" % (" ".join(args), rc))
        check(err.strip() != "", "netlabd %s said nothing on stderr" % " ".join(args))
        check("configuration OK" not in out, "netlabd %s: %r" % (" ".join(args), out))

    # A config file that does not exist: exit 1, named as given.
    missing = os.path.join(TMP, "no-such.conf")
    rc, out, err = run_netlabd(["-t", "-c", missing])
    check(rc == 1, "-t on a missing file exited %d" % rc)
    check(err.startswith(missing + ":"), "missing file message: %r" % err)


def test_good_config():
    d = os.path.join(TMP, "good")
    os.mkdir(d)
    port = free_tcp_port()
    text = header() + ",\n".join([
        '  { name = "echo"; transport = "tcp"; address = "127.0.0.1"; '
        'port = %d; handler = "echo"; }' % port,
        '  { name = "greeter"; transport = "unix"; path = "greeter.sock"; '
        'mode = "0600"; handler = "greeter"; options = { message = "hi\\n"; }; }',
        '  { name = "ts"; transport = "udp"; address = "127.0.0.1"; port = 0; '
        'handler = "timestamp"; options = { format = "%H:%M"; }; }',
        '  { name = "log"; transport = "unix-dgram"; path = "log.sock"; '
        'handler = "logger"; }',
        '  { name = "up"; transport = "tcp"; address = "127.0.0.1"; port = 0; '
        'handler = "upper"; max_connections = 10; idle_timeout = 5; '
        'max_line = 100; backlog = 8; }',
    ]) + "\n);\n"
    path = write(os.path.join(d, "netlabd.conf"), text)

    for args, cwd, shown in ((["-t", "-c", path], None, path),
                             (["-t", "-c", "netlabd.conf"], d, "netlabd.conf"),
                             (["--test", "--config", "./netlabd.conf"], d, "./netlabd.conf"),
                             (["-t", "-c", "good/netlabd.conf"], TMP, "good/netlabd.conf")):
        rc, out, err = run_netlabd(args, cwd=cwd)
        check(rc == 0, "%s exited %d:\n%s" % (args, rc, err))
        check(out == "%s: configuration OK\n" % shown, "%s printed %r" % (args, out))
        for name in ("greeter.sock", "log.sock", "control.sock", "netlabd.pid"):
            check(not os.path.exists(os.path.join(d, name)),
                  "-t left %s behind (it must open no socket)" % name)
        check(tcp_port_free(port), "-t left tcp port %d in use" % port)


def expect_errors(name, text, expected, as_given=None, cwd=None):
    """Writes text to TMP/name, runs -t on it and checks every expected
    (line, [regex...]) shows up as `FILE:LINE: ...` with FILE as given."""
    path = write(os.path.join(TMP, name), text)
    given = as_given or path
    rc, out, err = run_netlabd(["-t", "-c", given], cwd=cwd or TMP)
    ctx = "-t -c %s (exit %d):\n--- config\n%s--- stderr\n%s--- stdout\n%s" % (
        given, rc, text, err, out)
    check(rc == 1, "expected exit 1: " + ctx)
    check("configuration OK" not in out + err, "said OK: " + ctx)
    lines = err.splitlines()
    for line, regexes in expected:
        prefix = "%s:%d: " % (given, line)
        hits = [l for l in lines if l.startswith(prefix)
                and all(re.search(r, l) for r in regexes)]
        check(hits, "no line %r matching %r: %s" % (prefix, regexes, ctx))
    # Every message with a line number names the file as given.
    for l in lines:
        m = re.match(r"^(.*?):(\d+): ", l)
        if m:
            check(m.group(1) == given, "message names %r, not %r: %s"
                  % (m.group(1), given, ctx))
    return err


def test_config_errors():
    abi_file = test_plugin("bad_abi")
    init_fail = test_plugin("init_fail")
    rc, out, err = run_netlabd(["--plugin-info", os.path.join(PLUGIN_DIR, "echo.so")])
    m = re.search(r"(?im)^\s*abi\w*\s*[:=]\s*(\d+)", out)
    check(rc == 0 and m, "--plugin-info echo.so: %d %r %r" % (rc, out, err))
    abi = int(m.group(1))

    # Syntax error on line 3; the file given relative, then with ./
    bad = ('pidfile = "netlabd.pid";\n'
           'control = "control.sock";\n'
           'log_level = = "info";\n'
           'listeners = ();\n')
    expect_errors("syntax.conf", bad, [(3, [])], as_given="syntax.conf")
    expect_errors("syntax.conf", bad, [(3, [])], as_given="./syntax.conf")
    os.mkdir(os.path.join(TMP, "sub"))
    expect_errors("sub/syntax.conf", bad, [(3, [])], as_given="sub/syntax.conf")
    # An unterminated group: the error is at or after it, never before.
    text = header() + '  { name = "a"; transport = "tcp";\n'
    path = write(os.path.join(TMP, "unterminated.conf"), text)
    rc, out, err = run_netlabd(["-t", "-c", path])
    check(rc == 1 and re.match(r"^%s:\d+: " % re.escape(path), err),
          "unterminated group: %d %r" % (rc, err))

    # Unknown keys, at top level (line 4) and in a listener (line 8).
    text = ('pidfile = "netlabd.pid";\n'
            'control = "control.sock";\n'
            'plugin_dir = "%s";\n'
            'colour = "red";\n'
            'listeners = (\n'
            '  { name = "a"; transport = "tcp"; address = "127.0.0.1";\n'
            '    port = 0; handler = "echo";\n'
            '    flavour = 3; }\n'
            ');\n') % PLUGIN_DIR
    expect_errors("unknown-key.conf", text,
                  [(4, [r"colour", r"(?i)unknown"]), (8, [r"flavour", r"(?i)unknown"])])

    # Duplicate name: reported at the second.
    text = conf([tcp("twice", "echo"), tcp("other", "echo"), tcp("twice", "upper")])
    err = expect_errors("dup.conf", text, [(8, [r"twice", r"(?i)duplicate"])])
    check(not re.search(r":6: ", err), "duplicate reported at the first: " + err)
    expect_errors("dup.conf", text, [(8, [r"twice"])], as_given="dup.conf")

    # Two listeners on one unix path: reported at the second.
    text = conf(['  { name = "u1"; transport = "unix"; path = "same.sock"; handler = "echo"; }',
                 '  { name = "u2"; transport = "unix"; path = "same.sock"; handler = "echo"; }'])
    expect_errors("dup-path.conf", text, [(7, [r"same\.sock"])])

    # Port out of range, unknown transport, unknown model, missing key.
    text = conf(['  { name = "p"; transport = "tcp"; address = "127.0.0.1"; port = 70000; handler = "echo"; }',
                 '  { name = "t"; transport = "sctp"; address = "127.0.0.1"; port = 0; handler = "echo"; }',
                 '  { name = "m"; transport = "tcp"; address = "127.0.0.1"; port = 0; model = "fibers"; handler = "echo"; }',
                 '  { name = "h"; transport = "tcp"; address = "127.0.0.1"; port = 0; }'])
    expect_errors("keys.conf", text, [(6, [r"70000"]), (7, [r"sctp"]), (8, [r"fibers"]),
                                      (9, [r"handler"])])

    # A handler .so that does not exist.
    text = conf([tcp("ok", "echo"), tcp("missing", "nosuch_handler")])
    expect_errors("missing-so.conf", text, [(7, [r"nosuch_handler"])])
    text = conf([tcp("missing", "/nonexistent/dir/handler.so")])
    expect_errors("missing-so2.conf", text, [(6, [r"/nonexistent/dir/handler\.so"])])

    # Wrong ABI: names the file and says what it found and expected.
    text = conf([tcp("abi", abi_file)])
    expect_errors("abi.conf", text,
                  [(6, [re.escape(abi_file), r"\b999\b",
                        r"(?i)expect\w*\D{0,20}\b%d\b" % abi])])
    expect_errors("abi.conf", text, [(6, [r"\b999\b"])], as_given="./abi.conf")
    expect_errors("sub/abi.conf", text, [(6, [r"\b999\b"])], as_given="sub/abi.conf")
    # Not a handler at all: no symbol, wrong magic.
    text = conf([tcp("nosym", test_plugin("no_symbol")),
                 tcp("magic", test_plugin("bad_magic"))])
    expect_errors("nohandler.conf", text,
                  [(6, [re.escape(test_plugin("no_symbol")), r"netlabd_handler"]),
                   (7, [re.escape(test_plugin("bad_magic"))])])

    # A handler whose init refuses: its reason reaches the user.
    text = conf([tcp("refuses", init_fail, ' options = { reason = "tests-say-no"; };')])
    expect_errors("init-fail.conf", text, [(6, [r"tests-say-no"])])

    # An unknown greeter option, at the option's own line.
    text = header() + (
        '  { name = "greet"; transport = "tcp"; address = "127.0.0.1"; port = 0;\n'
        '    handler = "greeter";\n'
        '    options = {\n'
        '      message = "hello\\n";\n'
        '      colour = "blue";\n'
        '    };\n'
        '  }\n);\n')
    expect_errors("greeter-opt.conf", text, [(10, [r"colour"])])

    # Every model is accepted, with its workers.
    for model in ("prefork", "threads", "libev"):
        text = conf([tcp("m", "echo", ' workers = 3;').replace(
            '"libev"', '"%s"' % model)])
        path = write(os.path.join(TMP, "model-%s.conf" % model), text)
        rc, out, err = run_netlabd(["-t", "-c", path])
        check(rc == 0 and out == "%s: configuration OK\n" % path,
              "-t with model %s exited %d: %r %r" % (model, rc, out, err))
    # An unknown model is refused with the ones allowed.
    text = conf([tcp("m", "echo", ' model = "forking";').replace(' model = "libev";', '')])
    expect_errors("model-unknown.conf", text, [(6, [r"forking", r"prefork", r"threads"])])

    # Several errors in one file are all reported: config errors...
    text = ('pidfile = "netlabd.pid";\n'
            'control = "control.sock";\n'
            'plugin_dir = "%s";\n'
            'colour = "red";\n'
            'listeners = (\n'
            '  { name = "a"; transport = "tcp"; address = "127.0.0.1"; port = 0; handler = "echo"; },\n'
            '  { name = "b"; transport = "tcp"; address = "127.0.0.1"; port = 99999; handler = "echo"; },\n'
            '  { name = "a"; transport = "tcp"; address = "127.0.0.1"; port = 0; handler = "echo"; },\n'
            '  { name = "c"; transport = "tcp"; address = "127.0.0.1"; port = 0; handler = "echo"; shape = 1; }\n'
            ');\n') % PLUGIN_DIR
    expect_errors("many.conf", text, [(4, [r"colour"]), (7, [r"99999"]),
                                      (8, [r"duplicate"]), (9, [r"shape"])])
    # ... and handler and model errors.
    text = conf([tcp("ok", "echo"),
                 tcp("missing", "nosuch_handler"),
                 tcp("abi", abi_file),
                 tcp("magic", test_plugin("bad_magic")),
                 tcp("refuses", init_fail),
                 tcp("greet", "greeter", ' options = { colour = "blue"; };')])
    expect_errors("many-handlers.conf", text,
                  [(7, [r"nosuch_handler"]), (8, [r"\b999\b"]), (9, [r"magic"]),
                   (10, [r"init_fail|refuse"]), (11, [r"colour"])])


def test_plugin_info():
    echo = os.path.join(PLUGIN_DIR, "echo.so")
    rc, out, err = run_netlabd(["--plugin-info", echo])
    check(rc == 0, "--plugin-info echo.so exited %d: %s" % (rc, err))
    check(re.search(r"(?im)^\s*name\s*[:=]\s*echo\s*$", out), "no name: %r" % out)
    check(re.search(r"(?im)^\s*version\s*[:=]\s*\S+", out), "no version: %r" % out)
    check(re.search(r"(?im)^\s*abi\w*\s*[:=]\s*\d+", out), "no abi: %r" % out)

    text = write(os.path.join(TMP, "not-a-plugin.so"), "just some text\n")
    for path in (text, os.path.join(TMP, "does-not-exist.so")):
        rc, out, err = run_netlabd(["--plugin-info", path])
        check(rc == 1, "--plugin-info %s exited %d: %r %r" % (path, rc, out, err))
        check(path in err, "--plugin-info %s: message does not name it: %r" % (path, err))

    rc, out, err = run_netlabd(["--plugin-info", test_plugin("bad_abi")])
    check(rc == 1 or re.search(r"\b999\b", out),
          "--plugin-info bad_abi.so: %d %r %r" % (rc, out, err))


def main():
    try:
        test_simple_options()
        test_good_config()
        test_config_errors()
        test_plugin_info()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


run(main)
