/*
 * transport.h - opening and closing a listener's socket.  The inet
 * transports (tcp, udp) and the unix ones (unix, unix-dgram) are siblings
 * behind one table; the master calls them, the models only ever see the
 * descriptor.
 */
#ifndef NL_TRANSPORT_H
#define NL_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "conf.h"

/* Ports below this need root or CAP_NET_BIND_SERVICE, when the system
 * does not say (nl_unprivileged_port_start()). */
#define NL_PRIVILEGED_PORTS 1024

/*
 * The lowest port anyone may bind: net.ipv4.ip_unprivileged_port_start
 * (containers often set 0), or NL_PRIVILEGED_PORTS when it cannot be read.
 * Bind errors and -t both say "a port below N" from it, so they agree.
 */
int nl_unprivileged_port_start(void);

struct addrinfo;

/*
 * Resolves a tcp or udp listener's address and port as binding it does
 * (passive, a numeric port, any family), for the listener's transport.
 * Returns getaddrinfo()'s code: 0 with *res to freeaddrinfo().
 */
int nl_resolve_listener(const struct nl_listener_conf *lc,
                        struct addrinfo **res);

/* A bound socket. */
struct nl_socket {
    int fd;
    dev_t dev;         /* unix transports: the socket file this process made, */
    ino_t ino;         /* so that only that file is ever removed */
    char address[256]; /* as status shows it, with the port actually bound */
    int adopted;       /* passed in by systemd (activation.c): never unlinked */
};

struct nl_transport_ops {
    const char *name;
    /* Binds (and for streams listens) per lc; fills sk.  Returns 0, or -1
     * with a one-line reason in err. */
    int (*open)(const struct nl_listener_conf *lc, struct nl_socket *sk,
                char *err, size_t errlen);
    /* Closes the descriptor and removes what open() created.  */
    void (*close)(const struct nl_listener_conf *lc, struct nl_socket *sk);
};

extern const struct nl_transport_ops nl_transport_inet;
extern const struct nl_transport_ops nl_transport_unix;

/* The table for a transport kind, or NULL for an unknown one. */
const struct nl_transport_ops *nl_transport_get(enum nl_transport_kind t);

/* Opens lc's socket, non-blocking and close-on-exec: the one systemd
 * passed in for lc, if any, else a new one.  0 or -1 (see ops). */
int nl_transport_open(const struct nl_listener_conf *lc, struct nl_socket *sk,
                      char *err, size_t errlen);

/* Closes sk; a unix socket file is removed if it is still the one made.
 * A socket systemd passed in goes back to its pool instead. */
void nl_transport_close(const struct nl_listener_conf *lc,
                        struct nl_socket *sk);

/*
 * Binds a unix socket of type (SOCK_STREAM listens with backlog) at path,
 * replacing a stale socket file; mode -1 leaves the permissions to the
 * umask.  Used by the unix transports and the control socket.  0 or -1
 * with a reason in err.
 */
int nl_unix_bind(const char *path, int type, int mode, int backlog,
                 struct nl_socket *sk, char *err, size_t errlen);

/* Removes path if it is still the socket file sk was bound to (never
 * when systemd made it). */
void nl_unix_unlink(const char *path, const struct nl_socket *sk);

#endif /* NL_TRANSPORT_H */
