/*
 * transport_plain.c - a session over two plain descriptors that need not
 * be sockets (netlabd-plugin-run's standard input and output): read()
 * from one, write() to the other.  There is nothing to accept, and the
 * descriptors belong to the caller, so ending a session closes neither.
 * A datagram session's reply is written whole, as one reply.
 */
#include "config.h"

#include <sys/uio.h>
#include <unistd.h>

#include "transport.h"

static ssize_t
plain_read(struct nl_conn *c, void *buf, size_t n)
{
    return read(c->fd, buf, n);
}

static ssize_t
plain_write(struct nl_conn *c, const void *buf, size_t n)
{
    return write(c->out_fd, buf, n);
}

static ssize_t
plain_writev(struct nl_conn *c, const struct iovec *iov, int n)
{
    return writev(c->out_fd, iov, n);
}

static ssize_t
plain_sendto(struct nl_conn *c, const void *buf, size_t n,
             const struct sockaddr *peer, socklen_t peer_len)
{
    return nl_conn_write_all(c, buf, n) < n ? -1 : (ssize_t)n;
}

const struct nl_transport_ops nl_transport_plain = {
    .name = "plain",
    .read = plain_read,
    .write = plain_write,
    .writev = plain_writev,
    .sendto = plain_sendto,
};

void
nl_conn_plain(struct nl_conn *c, int in_fd, int out_fd)
{
    c->ops = &nl_transport_plain;
    c->fd = in_fd;
    c->out_fd = out_fd;
    c->priv = NULL;
}
