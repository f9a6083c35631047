#!/usr/bin/python3
"""bench/peers/twecho.py - the benchmark's Twisted peer: one reactor,
as a user who compares netlabd with Twisted would write the servers.

    twecho.py [-g MESSAGE] HOST

Serves on HOST, each on a port the kernel picks:
  echo     a Protocol whose dataReceived writes the data back;
  greeter  a Protocol that writes MESSAGE and loses the connection;
  udp      a DatagramProtocol that sends each datagram back.
Prints "echo HOST:PORT", "greeter HOST:PORT", "udp HOST:PORT" and then
"ready" on stdout, and serves until SIGTERM or SIGINT (the reactor's own
handlers stop it).

Twisted picks its default reactor (epoll on Linux).  The listen backlog
is 511 and TCP_NODELAY is set, as netlabd and nlbase do.
"""
import argparse
import sys

from twisted.internet import protocol, reactor


class Echo(protocol.Protocol):
    def connectionMade(self):
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self.transport.write(data)


class Greeter(protocol.Protocol):
    message = b"Thank you for connecting\n"

    def connectionMade(self):
        self.transport.write(self.message)
        self.transport.loseConnection()


class UdpEcho(protocol.DatagramProtocol):
    def datagramReceived(self, data, addr):
        self.transport.write(data, addr)


def main():
    ap = argparse.ArgumentParser(description="Twisted echo/greeter/udp")
    ap.add_argument("-g", dest="message", default=None)
    ap.add_argument("host")
    args = ap.parse_args()
    if args.message is not None:
        Greeter.message = args.message.encode()

    ports = [("echo", reactor.listenTCP(
                 0, protocol.Factory.forProtocol(Echo), backlog=511,
                 interface=args.host)),
             ("greeter", reactor.listenTCP(
                 0, protocol.Factory.forProtocol(Greeter), backlog=511,
                 interface=args.host)),
             ("udp", reactor.listenUDP(0, UdpEcho(), interface=args.host))]
    for name, port in ports:
        addr = port.getHost()
        print("%s %s:%d" % (name, addr.host, addr.port))
    print("ready", flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
