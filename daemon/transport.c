/*
 * transport.c - the registry of transports and the calls through their
 * tables: a listener's kind picks its table here and nowhere else, and a
 * slot a transport leaves NULL gets its plain meaning here.  Everything
 * address-family specific lives in transport_inet.c and transport_unix.c,
 * what every socket shares in transport_sock.c; a socket systemd passed in
 * comes from activation.c instead.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "activation.h"
#include "conf.h"
#include "log.h"
#include "transport.h"

static const struct nl_transport_ops *const transports[] = {
    [NL_TRANSPORT_TCP] = &nl_transport_inet,
    [NL_TRANSPORT_UDP] = &nl_transport_inet,
    [NL_TRANSPORT_UNIX] = &nl_transport_unix,
    [NL_TRANSPORT_UNIX_DGRAM] = &nl_transport_unix,
};

const struct nl_transport_ops *
nl_transport_get(enum nl_transport_kind t)
{
    if ((size_t)t >= sizeof(transports) / sizeof(*transports))
        return NULL;
    return transports[t];
}

int
nl_transport_open(const struct nl_listener_conf *lc, struct nl_socket *sk,
                  char *err, size_t errlen)
{
    int rc;

    memset(sk, 0, sizeof(*sk));
    sk->fd = -1;
    if ((rc = nl_activation_take(lc, sk, err, errlen)) == 0)
        rc = nl_transport_get(lc->transport)->open(lc, sk, err, errlen);
    else
        rc = rc == 1 ? 0 : -1;
    /* Linux notes a sender's credentials only while the socket asks for
     * them (SO_PASSCRED): asked from the start, every datagram has them
     * for the access rules, whenever those are configured (access.c). */
    if (rc == 0 && lc->transport == NL_TRANSPORT_UNIX_DGRAM &&
        nl_source_passcred(sk->fd) == -1)
        nl_log_errno(lc->name, "SO_PASSCRED");
    return rc;
}

void
nl_transport_close(const struct nl_listener_conf *lc, struct nl_socket *sk)
{
    if (sk->fd == -1)
        return;
    if (sk->adopted)
        nl_activation_give_back(lc, sk);
    else
        nl_transport_get(lc->transport)->close(lc, sk);
    sk->fd = -1;
}

void
nl_transport_stop(const struct nl_listener_conf *lc, struct nl_socket *sk)
{
    if (sk->fd == -1)
        return;
    if (sk->adopted)
        nl_activation_release(sk);
    else
        close(sk->fd);
    sk->fd = -1;
}

void
nl_transport_remove(const struct nl_listener_conf *lc,
                    const struct nl_socket *sk)
{
    const struct nl_transport_ops *ops = nl_transport_get(lc->transport);

    if (ops->remove != NULL)
        ops->remove(lc, sk);
}

void
nl_transport_close_copy(int fd)
{
    if (fd != -1)
        close(fd);
}

unsigned
nl_transport_backlog(const struct nl_listener_conf *lc, int lfd)
{
    const struct nl_transport_ops *ops = nl_transport_get(lc->transport);

    return ops->backlog != NULL ? ops->backlog(lfd) : 0;
}

void
nl_conn_init(struct nl_conn *c, const struct nl_listener_conf *lc, int fd)
{
    memset(c, 0, sizeof(*c));
    c->ops = nl_transport_get(lc->transport);
    c->fd = fd;
    c->out_fd = fd;
}

int
nl_transport_accept(const struct nl_listener_conf *lc, int lfd,
                    struct nl_conn *c, struct sockaddr_storage *peer,
                    socklen_t *peer_len)
{
    const struct nl_transport_ops *ops = nl_transport_get(lc->transport);

    if (ops->accept(lc, lfd, c, peer, peer_len) == -1)
        return -1;
    c->ops = ops;
    return 0;
}
int
nl_transport_admitted(const struct nl_listener_conf *lc, struct nl_conn *c)
{
    const struct nl_transport_ops *ops = nl_transport_get(lc->transport);

    return ops->admitted != NULL ? ops->admitted(lc, c) : 0;
}

size_t
nl_conn_write_all(struct nl_conn *c, const void *p, size_t n)
{
    size_t off = 0;

    while (off < n) {
        ssize_t w = c->ops->write(c, (const char *)p + off, n - off);

        if (w == -1 && errno == EINTR)
            continue;
        if (w == 0)
            errno = EIO; /* no progress and no reason: not "try again" */
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    return off;
}

void
nl_conn_shutdown(struct nl_conn *c)
{
    if (c->fd != -1 && c->ops->shutdown != NULL)
        c->ops->shutdown(c);
}

void
nl_conn_release(struct nl_conn *c)
{
    if (c->fd != -1 && c->ops->release != NULL)
        c->ops->release(c);
    c->fd = -1;
}

int
nl_conn_silent_for(const struct nl_conn *c, double *seconds)
{
    if (c->ops->silent_for == NULL)
        return -1;
    return c->ops->silent_for(c, seconds);
}
