/*
 * transport_sock.c - the connection side every socket transport shares:
 * accepting, reading and writing a connection, a datagram in and out, and
 * the end of a session.  transport_inet.c and transport_unix.c put these
 * in their tables and add what is their own (TCP_NODELAY, TCP_INFO).
 * A socket address as logs and status show it is formatted here too.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "transport.h"

int
nl_transport_socktype(enum nl_transport_kind t)
{
    return nl_transport_is_dgram(t) ? SOCK_DGRAM : SOCK_STREAM;
}

int
nl_sock_accept(const struct nl_listener_conf *lc, int lfd, struct nl_conn *c,
               struct sockaddr_storage *peer, socklen_t *peer_len)
{
    int fd;

    *peer_len = sizeof(*peer);
    fd = accept4(lfd, (struct sockaddr *)peer, peer_len,
                 SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd == -1)
        return -1;
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->out_fd = fd;
    return 0;
}

ssize_t
nl_sock_read(struct nl_conn *c, void *buf, size_t n)
{
    return read(c->fd, buf, n);
}

ssize_t
nl_sock_write(struct nl_conn *c, const void *buf, size_t n)
{
    /* A client gone is an error to report, not a signal to die of. */
    return send(c->fd, buf, n, MSG_NOSIGNAL);
}

ssize_t
nl_sock_writev(struct nl_conn *c, const struct iovec *iov, int n)
{
    struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n};

    return sendmsg(c->fd, &m, MSG_NOSIGNAL);
}

ssize_t
nl_sock_peek(struct nl_conn *c, void *buf, size_t n)
{
    return recv(c->fd, buf, n, MSG_PEEK | MSG_DONTWAIT);
}

ssize_t
nl_sock_recvfrom(struct nl_conn *c, void *buf, size_t n,
                 struct sockaddr_storage *peer, socklen_t *peer_len)
{
    *peer_len = sizeof(*peer);
    /* MSG_TRUNC: the real length, so that a cut datagram is noticed. */
    return recvfrom(c->fd, buf, n, MSG_DONTWAIT | MSG_TRUNC,
                    (struct sockaddr *)peer, peer_len);
}

ssize_t
nl_sock_sendto(struct nl_conn *c, const void *buf, size_t n,
               const struct sockaddr *peer, socklen_t peer_len)
{
    return sendto(c->fd, buf, n, MSG_NOSIGNAL, peer_len ? peer : NULL,
                  peer_len);
}

void
nl_sock_shutdown(struct nl_conn *c)
{
    char sink[4096];

    /* Closing with unread input makes the kernel send a reset, which can
     * destroy our last answer (a greeting, say) before the client reads
     * it.  Send FIN and drop what has arrived, a bounded amount, without
     * waiting. */
    shutdown(c->fd, SHUT_WR);
    for (int i = 0; i < 16; i++)
        if (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
            break;
}

void
nl_sock_release(struct nl_conn *c)
{
    close(c->fd);
    c->fd = -1;
}

const char *
nl_sockaddr_text(const struct sockaddr *sa, socklen_t len, char *buf,
                 size_t size)
{
    char host[INET6_ADDRSTRLEN];

    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const void *)sa;

        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%u", host, ntohs(sin->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const void *)sa;

        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(buf, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const void *)sa;
        size_t plen = len > offsetof(struct sockaddr_un, sun_path)
                          ? len - offsetof(struct sockaddr_un, sun_path)
                          : 0;

        if (plen == 0 || sun->sun_path[0] == '\0')
            snprintf(buf, size, "unix");
        else
            snprintf(buf, size, "%.*s", (int)strnlen(sun->sun_path, plen),
                     sun->sun_path);
        break;
    }
    default:
        snprintf(buf, size, "unknown");
    }
    return buf;
}
