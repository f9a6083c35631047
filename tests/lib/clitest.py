"""Helpers for the command-line, lifecycle, control and crash tests.

They complement netlabd.py (whose Daemon class they reuse) with what those
tests need beyond it: running netlabd to completion with a bounded wait,
writing raw config text, looking at processes by pid, raw control-socket
exchanges that tolerate the daemon hanging up, and bounded polling.
Standard library only; every wait is bounded.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from netlabd import NETLABD, fail


def run_netlabd(args, timeout=20, cwd=None, env=None):
    """Runs netlabd with args to its end; returns (rc, stdout, stderr)."""
    try:
        p = subprocess.run([NETLABD] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        fail("netlabd %s did not end within %s s" % (" ".join(args), timeout))
    return (p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace"))


def tempdir():
    return tempfile.mkdtemp(prefix="netlabd-it-")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_until(cond, timeout, step=0.02):
    """Polls cond() until it is true or timeout seconds pass; returns
    its last value."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def children_of(pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(p))
        except (OSError, IndexError):
            pass
    return out


def kill_tree(pid):
    """SIGKILLs pid and its children (only these ids)."""
    for c in children_of(pid):
        try:
            os.kill(c, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def free_tcp_port():
    """A port that was free a moment ago on 127.0.0.1."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tcp_port_free(port):
    """True if nobody listens on 127.0.0.1:port and it can be bound."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    finally:
        s.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def raw_control(path, payload, timeout=5, shut_wr=False):
    """Sends payload bytes on the control socket; returns all bytes the
    daemon sent before it closed (a reset after an answer counts as the
    end: the daemon may hang up with our bytes unread)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    data = b""
    try:
        s.connect(path)
        try:
            s.sendall(payload)
            if shut_wr:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        fail("control socket: no end of answer within %s s to %r (got %r)"
             % (timeout, payload[:80], data))
    finally:
        s.close()
    return data


def control_json(path, payload, timeout=5, shut_wr=False):
    """raw_control, then checks the answer is one UTF-8 JSON document
    ending in a newline, and returns it parsed."""
    data = raw_control(path, payload, timeout, shut_wr)
    if not data.endswith(b"\n"):
        fail("answer to %r does not end in a newline: %r" % (payload[:80], data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        fail("answer to %r is not UTF-8 (%s): %r" % (payload[:80], e, data))
    try:
        return json.loads(text)
    except ValueError as e:
        fail("answer to %r is not JSON (%s): %r" % (payload[:80], e, data))


def cleanup(d):
    """After a test, passed or failed: kills what is left of Daemon d (its
    own processes only) and removes its temp folder."""
    d.kill()
    shutil.rmtree(d.dir, ignore_errors=True)
