#!/bin/bash
# tools/run-local.sh - build netlabd and run it in the foreground from the
# source tree with etc/netlabd.local.conf (loopback listeners, sockets and
# pidfile in run/).  Ctrl-C stops it.
#
# As root it first installs any missing Debian packages (tools/bootstrap.sh).
# Extra arguments are passed to netlabd, e.g. `tools/run-local.sh -p FILE`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
caller_dir=$PWD
# shellcheck source=tools/bootstrap.sh
. "$here/bootstrap.sh"
nl_bootstrap

cd "$NL_ROOT"
# The config is given by absolute path: netlabd resolves the relative paths
# inside it against the config's folder, so the socket names it binds are
# then absolute too and work from any directory (a unix-dgram client only
# accepts a reply whose sender name equals the name it sent to).
conf=$NL_ROOT/etc/netlabd.local.conf
daemon=$NL_ROOT/build/daemon/netlabd
mkdir -p run

# How to talk to each listener.  Paths are shown relative to the directory
# this script was started from when they lie below it, absolute otherwise.
python3 - "$conf" "$caller_dir" "$NL_ROOT" <<'EOF' || echo "(could not list the listeners of $conf)" >&2
import os, re, sys

conf, cwd, root = sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3]
text = open(conf, encoding="utf-8").read()
base = os.path.dirname(os.path.abspath(conf))

# Tokens of libconfig: strings, comments, names, numbers, punctuation.
tok = re.compile(r'''"(?:[^"\\]|\\.)*"|\#[^\n]*|//[^\n]*|/\*.*?\*/|[-\w.+]+|\S''',
                 re.S)
tokens = [t for t in tok.findall(text)
          if not t.startswith(("#", "//", "/*"))]

def unquote(t):
    if t.startswith('"'):
        return bytes(t[1:-1], "utf-8").decode("unicode_escape")
    return t

# Listener groups: the {...} at depth 1 inside "listeners = ( ... )".
listeners, cur, depth, in_list, i = [], None, 0, False, 0
control = None
while i < len(tokens):
    t = tokens[i]
    if not in_list:
        if t == "listeners" and i + 2 < len(tokens) and tokens[i + 2] == "(":
            in_list, i = True, i + 3
            continue
        if t == "control" and i + 2 < len(tokens) and tokens[i + 1] in ("=", ":"):
            control = unquote(tokens[i + 2])
    elif t == "{":
        depth += 1
        if depth == 1:
            cur = {}
    elif t == "}":
        depth -= 1
        if depth == 0 and cur is not None:
            listeners.append(cur)
            cur = None
    elif t == ")" and depth == 0:
        in_list = False
    elif (depth == 1 and i + 2 < len(tokens) and tokens[i + 1] in ("=", ":")
          and tokens[i + 2] not in ("{", "(", "[")):
        cur[t] = unquote(tokens[i + 2])
        i += 3
        continue
    i += 1

def bound(path):
    """The name netlabd binds: the path joined to the config's folder."""
    if path.startswith("/") or "/" not in conf:
        return path
    return conf[:conf.rindex("/")] + "/" + path

def show(path):
    p = os.path.normpath(os.path.join(base, path))
    rel = os.path.relpath(p, cwd)
    return p if rel.startswith("..") else rel

def host(addr):
    return addr if addr not in ("0.0.0.0", "::", "") else "127.0.0.1"

notes = {"logger": "   # nothing comes back; netlabd logs the line",
         "greeter": "   # greets and closes",
         "timestamp": "   # the line with the time in front"}

print("netlabd: listeners of %s; try them from another terminal:" % conf)
width = max((len(l.get("name", "")) for l in listeners), default=0)
for l in listeners:
    name, tr = l.get("name", "?"), l.get("transport", "?")
    note = notes.get(l.get("handler", ""), "")
    greeter = l.get("handler") == "greeter"
    if tr == "tcp" and greeter:
        cmd = "nc -d %s %s" % (host(l.get("address", "")), l.get("port", "?"))
    elif tr == "tcp":
        cmd = "printf 'hello\\n' | nc -q1 %s %s" % (host(l.get("address", "")),
                                                   l.get("port", "?"))
    elif tr == "udp":
        cmd = "printf 'hello\\n' | nc -u -w1 %s %s" % (host(l.get("address", "")),
                                                      l.get("port", "?"))
    elif tr == "unix" and greeter:
        cmd = "socat -u UNIX-CONNECT:%s -" % show(l.get("path", "?"))
    elif tr == "unix":
        cmd = "printf 'hello\\n' | socat - UNIX-CONNECT:%s" % show(l.get("path", "?"))
    elif tr == "unix-dgram":
        # socat takes a reply only from the very name it sent to, and
        # netlabd replies to the client's name as seen from its own
        # directory (the top of the tree).
        sock = bound(l.get("path", "?"))
        client = os.path.join(os.path.dirname(os.path.normpath(sock)),
                              "client-$$.sock")
        if cwd == root:
            client = os.path.relpath(client, root)
        cmd = ("printf 'hello\\n' | socat - UNIX-SENDTO:%s,bind=%s; rm -f %s"
               % (sock, client, client))
    else:
        cmd = "(unknown transport %s)" % tr
    print("  %-*s %-10s %s%s" % (width, name, tr, cmd, note))
if control:
    print("  %-*s %-10s printf 'status\\n' | socat - UNIX-CONNECT:%s"
          % (width, "status", "control", show(control)))
print("Ctrl-C stops netlabd.", flush=True)
EOF

exec "$daemon" -f -c "$conf" "$@"
