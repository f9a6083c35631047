#!/usr/bin/python3
"""bench/peers/pyecho.py - the benchmark's Python peer: the standard
library's thread-per-connection servers, as a user who compares netlabd
with socketserver would write them.

    pyecho.py [-g MESSAGE] HOST

Serves on HOST, each on a port the kernel picks:
  echo     socketserver.ThreadingTCPServer, every byte read written back;
  greeter  socketserver.ThreadingTCPServer, MESSAGE then close;
  udp      socketserver.ThreadingUDPServer, each datagram sent back.
Prints "echo HOST:PORT", "greeter HOST:PORT", "udp HOST:PORT" and then
"ready" on stdout, and serves until SIGTERM or SIGINT.

The listen backlog is 511 and TCP_NODELAY is set, as netlabd and nlbase
do, so that the comparison is of the serving, not of the settings.
"""
import argparse
import signal
import socket
import socketserver
import sys
import threading


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                sock.sendall(data)
            except OSError:
                return


class GreeterHandler(socketserver.BaseRequestHandler):
    message = b"Thank you for connecting\n"

    def handle(self):
        try:
            self.request.sendall(self.message)
        except OSError:
            pass


class UdpEchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        try:
            sock.sendto(data, self.client_address)
        except OSError:
            pass


class TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 511


class UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description="socketserver echo/greeter/udp")
    ap.add_argument("-g", dest="message", default=None)
    ap.add_argument("host")
    args = ap.parse_args()
    if args.message is not None:
        GreeterHandler.message = args.message.encode()

    servers = [("echo", TcpServer((args.host, 0), EchoHandler)),
               ("greeter", TcpServer((args.host, 0), GreeterHandler)),
               ("udp", UdpServer((args.host, 0), UdpEchoHandler))]
    for name, srv in servers:
        host, port = srv.server_address[:2]
        print("%s %s:%d" % (name, host, port))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("ready", flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(3600):
        pass
    for _, srv in servers:
        srv.shutdown()
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
