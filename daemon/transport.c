/*
 * transport.c - the registry of transports: a listener's kind picks its
 * table here and nowhere else.  Everything address-family specific lives
 * in transport_inet.c and transport_unix.c; a socket systemd passed in
 * comes from activation.c instead.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "activation.h"
#include "conf.h"
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
    if ((rc = nl_activation_take(lc, sk, err, errlen)) != 0)
        return rc == 1 ? 0 : -1;
    return nl_transport_get(lc->transport)->open(lc, sk, err, errlen);
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
