"""A reload whose handler check is slow (an init() that takes 2 s) does not
stall the master: status is answered meanwhile, the reload's own answer
comes when the check is done, a second reload asked for meanwhile runs
after it, and a stop during the check ends it with a clear answer."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import (TEST_PLUGIN_DIR, Daemon, check, run,  # noqa: E402
                     stream_exchange)

SLOW = os.path.join(TEST_PLUGIN_DIR, "slow_init.so")


def add_slow(d, seconds):
    with open(d.conf) as f:
        text = f.read()
    slow = ('  { name = "slow"; transport = "tcp"; address = "127.0.0.1"; port = 0; '
            'model = "libev"; handler = "%s"; options = { seconds = "%d"; }; }\n);\n'
            % (SLOW, seconds))
    text = text.rstrip().rstrip(";").rstrip().rstrip(")").rstrip() + ",\n" + slow
    with open(d.conf + ".new", "w") as f:
        f.write(text)
    os.rename(d.conf + ".new", d.conf)
    d.listeners.append({"name": "slow", "transport": "tcp"})


def in_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    return t, out


def test_status_during_slow_check():
    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo"}])
    with d:
        add_slow(d, 2)
        t0 = time.time()
        t, out = in_thread(lambda: d.command("reload", timeout=15))
        time.sleep(0.3)
        # The master answers while the check runs.
        for _ in range(5):
            s0 = time.time()
            st = d.status()
            check(time.time() - s0 < 1.0, "status took %.2f s during a reload"
                  % (time.time() - s0))
            time.sleep(0.1)
        check(st["generation"] == 1, "generation moved before the check ended: %r" % st)
        check(stream_exchange(d, "e", b"meanwhile\n") == b"meanwhile\n",
              "listener e not served during the reload")
        # A second reload asked for meanwhile runs after the first.
        t2, out2 = in_thread(lambda: d.command("reload", timeout=15))
        t.join(15)
        took = time.time() - t0
        check(out and out[0].get("ok") is True and out[0].get("generation") == 2,
              "slow reload answered %r" % out)
        check(took >= 1.5, "the reload answered after %.2f s, before its check" % took)
        t2.join(15)
        check(out2 and out2[0].get("ok") is True and out2[0].get("generation") == 3,
              "the reload queued behind it answered %r" % out2)
        check(stream_exchange(d, "slow", b"added\n") == b"added\n",
              "the listener added by the slow reload does not answer")


def test_stop_during_slow_check():
    d = Daemon([{"name": "e", "transport": "tcp", "handler": "echo"}],
               shutdown_timeout=1, expect_errors=True)
    d.start()
    add_slow(d, 10)
    t, out = in_thread(lambda: d.command("reload", timeout=15))
    time.sleep(0.5)
    t0 = time.time()
    d.stop(timeout=5)
    check(time.time() - t0 < 3, "stop during a slow reload took %.2f s" % (time.time() - t0))
    t.join(5)
    check(out and out[0].get("ok") is False and "stopping" in str(out[0].get("error")),
          "the interrupted reload answered %r" % out)


def main():
    test_status_during_slow_check()
    test_stop_during_slow_check()


run(main)
