"""Smoke test: every handler answers over tcp, and status counts it."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netlabd import Daemon, check, run, stream_exchange  # noqa: E402


def main():
    with Daemon([{"name": "echo", "transport": "tcp", "handler": "echo"}]) as d:
        got = stream_exchange(d, "echo", b"hello\n")
        check(got == b"hello\n", "echo answered %r" % got)
        st = d.listener("echo")
        check(st["connections_total"] == 1, "status: %r" % st)
        check(st["bytes_in"] == 6 and st["bytes_out"] == 6, "status: %r" % st)


run(main)
