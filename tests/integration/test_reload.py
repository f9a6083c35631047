"""Reload, checked over real sockets and through status: adding, removing
and changing listeners in place (handler, model, workers, options), moving
one to another address, an unchanged listener keeping its serving
processes, refused files (syntax error, bad value, missing plugin) leaving
the old configuration running, SIGHUP, reloads that arrive during others,
and old serving processes draining in status.

The config is written one key per line, so that an error's FILE:LINE can
only be right if it names the very line at fault.  It is replaced by a
rename, as an editor does, so that a reload never reads half a file.
"""
import calendar
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import netlabd  # noqa: E402
from netlabd import (Daemon, check, conf_value, connect, fail, recv_all,  # noqa: E402
                     run, serving_pids, stream_exchange, threads_of)
from clitest import cleanup, free_tcp_port, wait_until  # noqa: E402

SHUTDOWN_TIMEOUT = 10  # old sessions outlive every step of the test
RELOAD_TIMEOUT = 30    # the control socket answers a reload once it is done
RELOADS_BUSY = 40


class ReloadDaemon(Daemon):
    """A Daemon whose log may hold the errors of the refused reloads (and
    only those: any other error still fails the test)."""

    def check_log(self):
        text = self.log() + getattr(self, "output", "")
        m = netlabd.BAD_LOG.search(text)
        check(m is None, "log shows %r:\n%s" % (m and m.group(0), text))
        allowed = re.compile(r"\[error\] (reload refused, configuration unchanged|%s:\d+: )"
                             % re.escape(self.conf))
        errors = [l for l in text.splitlines() if "[error]" in l and not allowed.search(l)]
        check(not errors, "unexpected errors in the log:\n" + "\n".join(errors))


# --- the config file ----------------------------------------------------------

def write_conf(d, listeners, inject=None):
    """Rewrites d.conf with d's top-level settings and these listeners, one
    key per line; inject = (name, key, text) puts the line text in place of
    listener name's key line.  Returns {(name, key): line number}, with
    (name, "{") for the line that opens the listener."""
    if not hasattr(d, "head"):
        with open(d.conf) as f:
            d.head = f.read().split("listeners = (")[0].rstrip("\n").splitlines()
    lines = list(d.head) + ["listeners = ("]
    where = {}
    for i, l in enumerate(listeners):
        l = dict(l)
        l.setdefault("model", "libev")
        if l["transport"] in ("tcp", "udp"):
            l.setdefault("address", "127.0.0.1")
            l.setdefault("port", 0)
        lines.append("  {")
        where[(l["name"], "{")] = len(lines)
        for k, v in l.items():
            text = "    %s = %s;" % (k, conf_value(v))
            if inject is not None and inject[:2] == (l["name"], k):
                text = inject[2]
            lines.append(text)
            where[(l["name"], k)] = len(lines)
        lines.append("  }" + ("," if i < len(listeners) - 1 else ""))
    lines.append(");")
    tmp = d.conf + ".new"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(tmp, d.conf)
    d.listeners = [dict(l) for l in listeners]
    return where


# --- probes -------------------------------------------------------------------

def expected(l, payload):
    if l["handler"] == "echo":
        return payload
    if l["handler"] == "upper":
        return payload.upper()
    if l["handler"] == "greeter":
        return l.get("options", {}).get("message", "Thank you for connecting\n").encode()
    fail("no probe for handler %s" % l["handler"])


def probe(d, name, what):
    """One session on listener name, checked against its current spec."""
    l = [x for x in d.listeners if x["name"] == name][0]
    payload = b"" if l["handler"] == "greeter" else b"probe %s: mixed Case\n" % name.encode()
    try:
        got = stream_exchange(d, name, payload, timeout=5)
    except OSError as e:
        fail("%s: listener %s: %s" % (what, name, e))
    want = expected(l, payload)
    check(got == want, "%s: listener %s (handler %s) answered %r, expected %r"
          % (what, name, l["handler"], got, want))


def probe_all(d, what):
    for l in d.listeners:
        probe(d, l["name"], what)


def round_trip(s, msg, want, what, timeout=5):
    s.settimeout(timeout)
    try:
        s.sendall(msg)
        got = b""
        while len(got) < len(want):
            chunk = s.recv(len(want) - len(got))
            check(chunk, "%s: EOF after %r, expected %r" % (what, got, want))
            got += chunk
    except OSError as e:
        fail("%s: %s" % (what, e))
    check(got == want, "%s: sent %r, got %r, expected %r" % (what, msg, got, want))


def tcp_refused(port, timeout=1.0):
    """True once a connection to 127.0.0.1:port is refused (within
    timeout); False if it is still accepted (and left unanswered)."""
    deadline = time.time() + timeout
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        except socket.timeout:
            pass
        finally:
            s.close()
        if time.time() > deadline:
            return False
        time.sleep(0.05)


def unix_refused(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        return True
    finally:
        s.close()
    return False


def port_of(d, name):
    return int(d.listener(name)["address"].rsplit(":", 1)[1])








# --- status -------------------------------------------------------------------

def wait_serving(d, what, timeout=10):
    st = None

    def ready():
        nonlocal st
        st = d.status()
        return all(l["serving"] for l in st["listeners"])
    check(wait_until(ready, timeout, 0.02), "%s: not every listener serving within %d s: %r"
          % (what, timeout, st))
    return st


def wait_drained(d, what, name=None, timeout=8):
    """Waits until nothing (of listener name) is draining any more."""
    st = None

    def done():
        nonlocal st
        st = d.status()
        return not [x for x in st["draining"] if name is None or x["listener"] == name]
    check(wait_until(done, timeout, 0.05), "%s: still draining after %d s: %r"
          % (what, timeout, st["draining"]))


def check_time(t, what):
    check(isinstance(t, str) and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:?\d\d)$", t),
          "%s: last_reload.time %r is not ISO 8601" % (what, t))
    when = calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S"))
    if t.endswith("Z"):
        check(abs(when - time.time()) <= 5, "%s: last_reload.time %s is not now (%s UTC)"
              % (what, t, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())))


def check_names(d, st, what):
    names = [l["name"] for l in st["listeners"]]
    want = [l["name"] for l in d.listeners]
    check(sorted(names) == sorted(want), "%s: status lists %r, the file %r" % (what, names, want))


def reload_ok(d, what, via="control"):
    """Reloads (the control command, or SIGHUP); checks the outcome and
    status; waits until every listener serves.  Returns the status."""
    g = d.status()["generation"]
    if via == "control":
        try:
            ans = d.command("reload", timeout=RELOAD_TIMEOUT)
        except (OSError, ValueError) as e:
            fail("%s: reload: %s" % (what, e))
        check(ans == {"ok": True, "error": None, "generation": g + 1},
              "%s: reload answered %r (generation was %d)" % (what, ans, g))
    else:
        os.kill(d.proc.pid, signal.SIGHUP)
        check(wait_until(lambda: d.status()["generation"] == g + 1, 10),
              "%s: SIGHUP: generation still %d after 10 s:\n%s"
              % (what, d.status()["generation"], d.log()))
    st = wait_serving(d, what)
    check(st["generation"] == g + 1, "%s: generation %d, expected %d"
          % (what, st["generation"], g + 1))
    lr = st["last_reload"]
    check(isinstance(lr, dict) and lr.get("ok") is True and lr.get("error") is None,
          "%s: last_reload %r" % (what, lr))
    check_time(lr.get("time"), what)
    check_names(d, st, what)
    return st


def reload_refused(d, where, key, what, via="control"):
    """Reloads a broken file; checks that the answer and status name the
    right line, that nothing changed and that the old listeners serve."""
    st0 = d.status()
    kids0 = sorted(d.children())
    keys = key if isinstance(key, list) else [key]
    prefixes = tuple("%s:%d: " % (d.conf, where[k]) for k in keys)
    wanted = " or ".join("%r (%s of listener %s)" % (p, k[1], k[0])
                         for p, k in zip(prefixes, keys))
    if via == "control":
        ans = d.command("reload", timeout=RELOAD_TIMEOUT)
        check(ans.get("ok") is False and ans.get("generation") == st0["generation"],
              "%s: reload answered %r (generation %d)" % (what, ans, st0["generation"]))
        err = ans.get("error")
        check(isinstance(err, str) and err.startswith(prefixes),
              "%s: error %r, expected it to start with %s" % (what, err, wanted))
    else:
        before = st0["last_reload"]
        os.kill(d.proc.pid, signal.SIGHUP)
        check(wait_until(lambda: d.status()["last_reload"] != before and
                         d.status()["last_reload"]["error"], 10),
              "%s: SIGHUP: last_reload still %r" % (what, d.status()["last_reload"]))
        err = None
    st = d.status()
    lr = st["last_reload"]
    check(isinstance(lr, dict) and lr.get("ok") is False, "%s: last_reload %r" % (what, lr))
    check(isinstance(lr.get("error"), str) and lr["error"].startswith(prefixes) and
          (err is None or lr["error"] == err),
          "%s: last_reload.error %r, expected %s" % (what, lr.get("error"), err or wanted))
    check_time(lr.get("time"), what)
    check(st["generation"] == st0["generation"], "%s: generation %d -> %d"
          % (what, st0["generation"], st["generation"]))
    check(st["listeners"] and [(l["name"], l["address"], l["model"], l["workers"], l["handler"])
                               for l in st["listeners"]] ==
          [(l["name"], l["address"], l["model"], l["workers"], l["handler"])
           for l in st0["listeners"]],
          "%s: listeners changed:\n%r\n%r" % (what, st0["listeners"], st["listeners"]))
    check(sorted(d.children()) == kids0, "%s: serving processes %r -> %r"
          % (what, kids0, sorted(d.children())))
    d.wait_log("|".join(re.escape(p) for p in prefixes), timeout=2)
    at = [k for p, k in zip(prefixes, keys) if lr["error"].startswith(p)][0]
    print("%s: refused at the %s line of %s: %s"
          % (what, at[1], at[0], lr["error"].splitlines()[0]))
    return lr["error"]


# --- the matrix -----------------------------------------------------------------

def spec(name, **kw):
    l = {"name": name, "transport": "tcp", "model": "libev", "handler": "echo"}
    l.update(kw)
    return l


def main():
    p_addr, p_addr2, p_gone = free_tcp_port(), free_tcp_port(), free_tcp_port()
    cur = {
        "keep": spec("keep"),
        "hand": spec("hand"),
        "mod": spec("mod"),
        "greet": spec("greet", handler="greeter", options={"message": "v1\n"}),
        "addr": spec("addr", port=p_addr),
        "upath": spec("upath", transport="unix", path="a.sock", handler="upper"),
        "ux": spec("ux", transport="unix", path="ux.sock"),
        "gone": spec("gone", port=p_gone),
    }
    order = ["keep", "hand", "mod", "greet", "addr", "upath", "ux", "gone"]

    def lst():
        return [cur[n] for n in order]

    d = ReloadDaemon([], shutdown_timeout=SHUTDOWN_TIMEOUT, expect_errors=True)
    write_conf(d, lst())
    d.start()
    t_start = time.time()
    try:
        st = wait_serving(d, "start")
        check(st["generation"] == 1 and st["last_reload"] is None, "at start: %r" % st)
        probe_all(d, "start")
        keep_pids = serving_pids(d, "keep")
        check(len(keep_pids) == 1, "keep: serving processes %r" % keep_pids)

        def keep_same(what):
            now = serving_pids(d, "keep")
            check(now == keep_pids, "%s: the unchanged listener keep's serving processes "
                  "went %r -> %r" % (what, keep_pids, now))

        # 1. Add a tcp listener and a unix one.
        cur["added"] = spec("added", handler="upper")
        cur["added_ux"] = spec("added_ux", transport="unix", path="added.sock")
        order += ["added", "added_ux"]
        write_conf(d, lst())
        check(not os.path.exists(d.path("added.sock")), "added.sock exists before the reload")
        st = reload_ok(d, "add")
        check(st["generation"] == 2, "add: generation %d" % st["generation"])
        probe(d, "added", "add")
        probe(d, "added_ux", "add")
        probe_all(d, "add")
        keep_same("add")

        # 2. Remove a unix listener and a tcp one, each with a session open.
        sux = connect(d, "ux")
        round_trip(sux, b"ux before\n", b"ux before\n", "ux session")
        sgone = connect(d, "gone")
        round_trip(sgone, b"gone before\n", b"gone before\n", "gone session")
        old_gone = serving_pids(d, "gone")
        order.remove("ux")
        order.remove("gone")
        write_conf(d, lst())
        st = reload_ok(d, "remove")
        check(not os.path.exists(d.path("ux.sock")), "remove: ux.sock still exists")
        check(unix_refused(d.path("ux.sock")), "remove: ux.sock still accepts")
        check(tcp_refused(p_gone), "remove: port %d (listener gone) still accepts "
              "connections 1 s after the reload, with no one to serve them" % p_gone)
        names = [l["name"] for l in st["listeners"]]
        check("ux" not in names and "gone" not in names, "remove: status lists %r" % names)
        dr = {(x["listener"], x["pid"]) for x in st["draining"]}
        check(("gone", old_gone[0]) in dr and any(x[0] == "ux" for x in dr),
              "remove: draining %r, expected gone (pid %d) and ux" % (st["draining"], old_gone[0]))
        round_trip(sux, b"ux after\n", b"ux after\n", "ux session after its removal")
        round_trip(sgone, b"gone after\n", b"gone after\n", "gone session after its removal")
        sux.close()
        sgone.close()
        wait_drained(d, "remove")
        check(tcp_refused(p_gone, 0.2) and unix_refused(d.path("ux.sock")),
              "remove: accepted after draining")
        probe_all(d, "remove")
        keep_same("remove")

        # 3. The handler changes in place: echo -> upper.
        old = connect(d, "hand")
        round_trip(old, b"before ", b"before ", "hand: old session")
        hand_pid = serving_pids(d, "hand")
        hand_port = port_of(d, "hand")
        cur["hand"] = spec("hand", handler="upper")
        write_conf(d, lst())
        st = reload_ok(d, "handler echo->upper")
        check(port_of(d, "hand") == hand_port, "hand: port %d -> %d"
              % (hand_port, port_of(d, "hand")))
        check(d.listener("hand")["handler"] == "upper", "hand: status %r" % d.listener("hand"))
        probe(d, "hand", "handler echo->upper")
        new = connect(d, "hand")
        round_trip(new, b"new one ", b"NEW ONE ", "hand: a session opened after the reload")
        round_trip(old, b"still echo ", b"still echo ",
                   "hand: the session opened before the reload")
        st = d.status()
        drains = [x for x in st["draining"] if x["listener"] == "hand"]
        check(len(drains) == 1 and drains[0]["pid"] == hand_pid[0] and
              drains[0]["generation"] == 1 and drains[0]["connections_active"] == 1,
              "hand: draining %r, expected pid %d of generation 1 (hand was unchanged "
              "until now) with 1 session" % (st["draining"], hand_pid[0]))
        check(d.listener("hand")["connections_active"] == 2,
              "hand: connections_active %r, 2 sessions are open" % d.listener("hand"))
        round_trip(old, b"last echo\n", b"last echo\n", "hand: old session, last")
        old.shutdown(socket.SHUT_WR)
        old.settimeout(5)
        check(recv_all(old) == b"", "hand: old session: data after its end")
        old.close()
        wait_drained(d, "hand: old session ended", "hand")
        check(hand_pid[0] not in d.children(),
              "hand: old serving process %d still there" % hand_pid[0])
        round_trip(new, b"and upper\n", b"AND UPPER\n", "hand: new session, after the drain")
        new.close()
        keep_same("handler")

        # 4. The model and workers: libev -> threads -> prefork, and back.
        steps = [("threads", 3), ("prefork", 2), ("prefork", 3), ("libev", 2), ("threads", 2)]
        mod_port = port_of(d, "mod")
        for model, workers in steps:
            what = "mod -> %s/%d" % (model, workers)
            held = connect(d, "mod")
            round_trip(held, b"held\n", b"held\n", what + ": held session")
            cur["mod"] = spec("mod", model=model, workers=workers)
            write_conf(d, lst())
            reload_ok(d, what)
            l = d.listener("mod")
            check(l["model"] == model and l["workers"] == workers and
                  l["address"] == "127.0.0.1:%d" % mod_port, "%s: status %r" % (what, l))
            probe(d, "mod", what)
            round_trip(held, b"held after\n", b"held after\n", what + ": held session after")
            held.close()
            wait_drained(d, what, "mod")
            pids = serving_pids(d, "mod")
            if model == "prefork":
                check(len(pids) == workers, "%s: serving processes %r" % (what, pids))
            else:
                check(len(pids) == 1, "%s: serving processes %r" % (what, pids))
                n = threads_of(pids[0])
                want = workers if model == "libev" else workers + 1
                check(n == want, "%s: the serving process runs %d threads, expected %d"
                      % (what, n, want))
            keep_same(what)
            print("%s: serving processes %r" % (what, pids))

        # 5. Options: the greeter's message.
        cur["greet"] = spec("greet", handler="greeter", options={"message": "v2\n"})
        write_conf(d, lst())
        reload_ok(d, "options")
        probe(d, "greet", "options")
        check(stream_exchange(d, "greet", b"") == b"v2\n", "options: greeter message")

        # 6. Addresses: tcp to another port, unix to another path.
        cur["addr"] = spec("addr", port=p_addr2)
        cur["upath"] = spec("upath", transport="unix", path="b.sock", handler="upper")
        write_conf(d, lst())
        reload_ok(d, "address")
        check(d.listener("addr")["address"] == "127.0.0.1:%d" % p_addr2,
              "address: status %r" % d.listener("addr"))
        check(d.listener("upath")["address"] == d.path("b.sock"),
              "address: status %r" % d.listener("upath"))
        probe(d, "addr", "address")
        probe(d, "upath", "address")
        check(tcp_refused(p_addr), "address: the old port %d still accepts" % p_addr)
        check(not os.path.exists(d.path("a.sock")), "address: a.sock still exists")
        wait_drained(d, "address")

        # 7. A port 0 listener named with the port it was given keeps its socket.
        greet_port = port_of(d, "greet")
        cur["greet"] = dict(cur["greet"], port=greet_port)
        write_conf(d, lst())
        reload_ok(d, "port 0 -> the port given")
        check(port_of(d, "greet") == greet_port, "greet: port %d -> %d"
              % (greet_port, port_of(d, "greet")))
        probe(d, "greet", "port 0 -> the port given")
        keep_same("port pinned")
        probe_all(d, "before the broken files")
        # Step 7's old processes must be gone: one that ends during a
        # refused reload would look like a change the refusal made.
        wait_drained(d, "port pinned")

        # 8. Broken files: nothing changes.
        where = write_conf(d, lst(), inject=("hand", "port", "    port = = 5;"))
        reload_refused(d, where, ("hand", "port"), "syntax error")
        probe_all(d, "after a syntax error")
        where = write_conf(d, lst(), inject=("mod", "port", "    port = 70000;"))
        reload_refused(d, where, ("mod", "port"), "bad port")
        probe_all(d, "after a bad port")
        where = write_conf(d, lst(), inject=("added", "handler", '    handler = "no-such-plugin";'))
        # The handler line, or the line that opens the listener (what a
        # plugin check reports): either names the listener at fault.
        e = reload_refused(d, where, [("added", "handler"), ("added", "{")], "missing plugin")
        check("no-such-plugin" in e, "missing plugin: the error does not name it: %r" % e)
        probe_all(d, "after a missing plugin")
        # ... also through SIGHUP.
        where = write_conf(d, lst(), inject=("keep", "model", '    model = "nonsense";'))
        reload_refused(d, where, ("keep", "model"), "unknown model, SIGHUP", via="sighup")
        probe_all(d, "after an unknown model")
        keep_same("broken files")
        # A good file again.
        write_conf(d, lst())
        reload_ok(d, "good again")
        probe_all(d, "good again")
        keep_same("good again")

        # 9. SIGHUP reloads.
        cur["greet"] = dict(cur["greet"], options={"message": "v3\n"})
        write_conf(d, lst())
        reload_ok(d, "SIGHUP", via="sighup")
        probe(d, "greet", "SIGHUP")
        d.wait_log(r"SIGHUP: reloading", timeout=2)

        # 10. Reloads during reloads: two SIGHUPs and a control reload at
        # once, then three control reloads at once; none is lost.
        g0 = d.status()["generation"]
        hups0 = len(re.findall(r"SIGHUP: reloading", d.log()))
        cur["greet"] = dict(cur["greet"], options={"message": "v4\n"})
        write_conf(d, lst())
        os.kill(d.proc.pid, signal.SIGHUP)
        cur["greet"] = dict(cur["greet"], options={"message": "v5\n"})
        write_conf(d, lst())
        os.kill(d.proc.pid, signal.SIGHUP)
        ans = d.command("reload", timeout=RELOAD_TIMEOUT)
        check(ans.get("ok") is True and ans.get("generation", 0) > g0,
              "reload after two SIGHUPs: %r" % ans)
        probe(d, "greet", "the control reload that followed two SIGHUPs")

        answers = []

        def one():
            try:
                answers.append(d.command("reload", timeout=RELOAD_TIMEOUT))
            except (OSError, ValueError) as e:
                answers.append(repr(e))
        ts = [threading.Thread(target=one) for _ in range(3)]
        for t in ts:
            t.start()
        os.kill(d.proc.pid, signal.SIGHUP)
        for t in ts:
            t.join(RELOAD_TIMEOUT + 5)
        check(len(answers) == 3 and all(isinstance(a, dict) and a.get("ok") is True
                                        for a in answers),
              "three reloads at once answered %r" % answers)
        gens = sorted(a["generation"] for a in answers)
        check(len(set(gens)) == 3, "three reloads at once answered generations %r" % gens)

        # A SIGHUP that finds a reload waiting (behind another, or behind
        # draining generations) is coalesced into it, so the three SIGHUPs
        # make one to three reloads of their own; every control reload is
        # its own.
        def settled():
            hups = len(re.findall(r"SIGHUP: reloading", d.log())) - hups0
            g = d.status()["generation"]
            return 1 <= hups <= 3 and g == g0 + 1 + 3 + hups
        ok = wait_until(settled, 5)
        hups = len(re.findall(r"SIGHUP: reloading", d.log())) - hups0
        g = d.status()["generation"]
        check(ok, "reloads at once: generation %d -> %d with %d SIGHUP reloads and 4 control "
              "reloads" % (g0, g, hups))
        st = wait_serving(d, "reloads at once")
        check(st["last_reload"]["ok"] is True, "reloads at once: %r" % st["last_reload"])
        probe_all(d, "reloads at once")
        keep_same("reloads at once")
        print("3 SIGHUPs and 4 control reloads at once: %d SIGHUP reloads, generation %d -> %d"
              % (hups, g0, g))
        wait_drained(d, "the end")

        # 11. Every listener still serves; a clean stop.
        probe_all(d, "the end")
        print("reload matrix: %d reloads in %.1f s" % (d.status()["generation"] - 1,
                                                       time.time() - t_start))
        d.stop()
    finally:
        cleanup(d)

    # Two more daemons; each is run even when the other fails.
    failed = []
    for t in (test_new_connections_after_answer, test_port0_removal):
        try:
            t()
        except SystemExit as e:
            if e.code:
                failed.append(t.__name__)
    check(not failed, "failed: " + ", ".join(failed))


def busy_cpus(n, seconds):
    """n processes that spin for up to seconds: a busy machine."""
    code = "import time\nt = time.time() + %d\nwhile time.time() < t:\n    pass\n" % seconds
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def test_new_connections_after_answer():
    """Once `reload` has answered, a new connection is served by the new
    spec: DESIGN says new connections go to the new spec, and the answer
    comes once the reload is done.  Greeters under each model get a new
    message at each reload; right after each answer, one connection to
    each must get it.  The machine is kept busy meanwhile, as a loaded
    server is, which is when old serving processes are slow to stop."""
    models = [("gl", "libev", 1), ("gt", "threads", 2), ("gp", "prefork", 2)]
    d = ReloadDaemon([], shutdown_timeout=5)

    def conf(g):
        return [spec(n, model=m, workers=w, handler="greeter",
                     options={"message": "generation %d\n" % g}) for n, m, w in models]
    write_conf(d, conf(1))
    d.start()
    spinners = []
    stale = []
    try:
        ports = {n: port_of(d, n) for n, _, _ in models}
        spinners = busy_cpus((os.cpu_count() or 2) + 1, 20)
        for g in range(2, 2 + RELOADS_BUSY):
            write_conf(d, conf(g))
            ans = d.command("reload", timeout=RELOAD_TIMEOUT)
            check(ans == {"ok": True, "error": None, "generation": g},
                  "reload to generation %d answered %r" % (g, ans))
            for n, m, _ in models:
                s = socket.create_connection(("127.0.0.1", ports[n]), timeout=5)
                try:
                    got = recv_all(s)
                finally:
                    s.close()
                if got != b"generation %d\n" % g:
                    stale.append("%s (%s): %r" % (n, m, got))
                    if len(stale) <= 5:
                        print("reload to generation %d answered ok, then a new connection "
                              "to %s (%s) got %r" % (g, n, m, got))
        for p in spinners:
            p.kill()
            p.wait(5)
        spinners = []
        check(not stale, "%d of %d new connections made after the reload answered were "
              "served by the old generation: %s" % (len(stale), RELOADS_BUSY * len(models),
                                                    "; ".join(stale[:6])))
        print("%d reloads on a busy machine: every new connection got the new spec"
              % RELOADS_BUSY)
        d.stop()
    finally:
        for p in spinners:
            p.kill()
            p.wait(5)
        cleanup(d)


def test_port0_removal():
    """Three listeners on port 0; the middle one goes.  The others keep
    their own sockets and handlers; the removed one's port refuses."""
    d = ReloadDaemon([], shutdown_timeout=2)
    ls = [spec("p0a", handler="echo"), spec("p0b", handler="upper"),
          spec("p0c", handler="greeter", options={"message": "c\n"})]
    write_conf(d, ls)
    d.start()
    try:
        before = {l["name"]: l["address"] for l in d.status()["listeners"]}
        probe_all(d, "port 0")
        write_conf(d, [ls[0], ls[2]])
        reload_ok(d, "port 0: remove the middle one")
        after = {l["name"]: l["address"] for l in d.status()["listeners"]}
        check(after == {"p0a": before["p0a"], "p0c": before["p0c"]},
              "port 0: removing p0b moved the others: %r -> %r\n%s" % (before, after, d.log()))
        probe_all(d, "port 0: after removing the middle one")
        check(tcp_refused(int(before["p0b"].rsplit(":", 1)[1])),
              "port 0: p0b's port still accepts after its removal")
        d.stop()
    finally:
        cleanup(d)


if __name__ == "__main__":
    run(main)
