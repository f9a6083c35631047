/*
 * transport_inet.c - tcp and udp sockets.  The address may be an IPv4 or
 * IPv6 literal or a host name; a name that resolves to several addresses
 * binds the first that works, as a listener is one socket.  "::" accepts
 * IPv4 too unless ipv6only is set.  Port 0 binds a free port, which the
 * socket's address then shows.
 *
 * Connections: tcp sets TCP_NODELAY on each one admitted, and asks the
 * kernel (TCP_INFO) how long a client has been silent and how many
 * connections wait in the backlog; the rest is transport_sock.c's.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "transport.h"

int
nl_unprivileged_port_start(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
    int port = NL_PRIVILEGED_PORTS;

    if (f != NULL) {
        if (fscanf(f, "%d", &port) != 1 || port < 0)
            port = NL_PRIVILEGED_PORTS;
        fclose(f);
    }
    return port;
}

int
nl_resolve_listener(const struct nl_listener_conf *lc, struct addrinfo **res)
{
    struct addrinfo hints;
    char port[16];

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = nl_transport_socktype(lc->transport);
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", lc->port);
    return getaddrinfo(lc->address, port, &hints, res);
}

/* "127.0.0.1:80: Permission denied", and for a privileged port (below
 * nl_unprivileged_port_start()) what would allow it. */
static void
bind_error(const struct nl_listener_conf *lc, const struct addrinfo *ai, int e,
           char *err, size_t errlen)
{
    char addr[128];
    int start = nl_unprivileged_port_start();

    nl_sockaddr_text(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr));
    if (e == EACCES && lc->port > 0 && lc->port < start)
        snprintf(err, errlen,
                 "%s: %s (a port below %d needs root or the "
                 "CAP_NET_BIND_SERVICE capability: run netlabd as root, grant "
                 "it CAP_NET_BIND_SERVICE, or use a port of %d or more)",
                 addr, strerror(e), start, start);
    else
        snprintf(err, errlen, "%s: %s", addr, strerror(e));
}

static int
bind_one(const struct nl_listener_conf *lc, const struct addrinfo *ai,
         char *err, size_t errlen)
{
    int on = 1, fd;
    int stream = ai->ai_socktype == SOCK_STREAM;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd == -1) {
        bind_error(lc, ai, errno, err, errlen);
        return -1;
    }
    if (stream &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
        goto fail;
    if (ai->ai_family == AF_INET6) {
        int v6only = lc->ipv6only;

        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
                       sizeof(v6only)) == -1)
            goto fail;
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
        goto fail;
    if (stream && listen(fd, lc->backlog) == -1)
        goto fail;
    return fd;
fail:
    bind_error(lc, ai, errno, err, errlen);
    close(fd);
    return -1;
}

static int
inet_open(const struct nl_listener_conf *lc, struct nl_socket *sk, char *err,
          size_t errlen)
{
    struct addrinfo *res, *ai;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int rc;

    if ((rc = nl_resolve_listener(lc, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", lc->address,
                 gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next)
        if ((sk->fd = bind_one(lc, ai, err, errlen)) != -1)
            break;
    freeaddrinfo(res);
    if (sk->fd == -1)
        return -1;
    if (getsockname(sk->fd, (struct sockaddr *)&ss, &sslen) == 0)
        nl_sockaddr_text((struct sockaddr *)&ss, sslen, sk->address,
                         sizeof(sk->address));
    return 0;
}

static void
inet_close(const struct nl_listener_conf *lc, struct nl_socket *sk)
{
    close(sk->fd);
}

/* Answers go out as soon as they are written, not after the client's
 * delayed ACK.  A connection that cannot have it is still served. */
static int
tcp_admitted(const struct nl_listener_conf *lc, struct nl_conn *c)
{
    int on = 1;

    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
        nl_log_errno(lc->name, "TCP_NODELAY");
    return 0;
}

static int
tcp_silent_for(const struct nl_conn *c, double *seconds)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
        return -1;
    /* Set at the handshake, moved by each segment with data. */
    *seconds = ti.tcpi_last_data_recv / 1000.0;
    return 0;
}

static unsigned
tcp_backlog(int lfd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    if (getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
        return 0;
    /* On a listening socket, Linux reports its accept queue here. */
    return ti.tcpi_unacked;
}

const struct nl_transport_ops nl_transport_inet = {
    .name = "inet",
    .open = inet_open,
    .close = inet_close,
    .backlog = tcp_backlog,
    .accept = nl_sock_accept,
    .admitted = tcp_admitted,
    NL_SOCK_OPS,
    .silent_for = tcp_silent_for,
};
