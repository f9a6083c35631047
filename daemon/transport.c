/*
 * transport.c - picks the transport table for a listener.  Everything
 * address-family specific lives in transport_inet.c and transport_unix.c;
 * a socket systemd passed in comes from activation.c instead.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "activation.h"
#include "conf.h"
#include "transport.h"

static const struct nl_transport_ops *
ops_for(const struct nl_listener_conf *lc)
{
    switch (lc->transport) {
    case NL_TRANSPORT_UNIX:
    case NL_TRANSPORT_UNIX_DGRAM:
        return &nl_transport_unix;
    default:
        return &nl_transport_inet;
    }
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
    return ops_for(lc)->open(lc, sk, err, errlen);
}

void
nl_transport_close(const struct nl_listener_conf *lc, struct nl_socket *sk)
{
    if (sk->fd == -1)
        return;
    if (sk->adopted)
        nl_activation_give_back(lc, sk);
    else
        ops_for(lc)->close(lc, sk);
    sk->fd = -1;
}
