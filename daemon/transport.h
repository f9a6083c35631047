/*
 * transport.h - how bytes reach a client: opening and closing a listener's
 * socket, and the server side of each connection on it (accept, read,
 * write, one datagram in and out, the end of a session, and which events
 * the descriptor must be waited for).  The inet transports (tcp, udp), the
 * unix ones (unix, unix-dgram) and plain descriptors (netlabd-plugin-run)
 * are siblings behind one table, struct nl_transport_ops.  session.c does
 * every read and write of a session through it, the master opens and
 * closes listeners through it, and the models only ever wait on the
 * descriptor: none of them knows which transport it serves.
 *
 * The table is enough for a transport that keeps state of its own, such
 * as TLS, which would be one more file (transport_tls.c, built under an
 * AM_CONDITIONAL) filling in the same slots, with no model and no rule in
 * session.c edited:
 *  - accept() takes the connection; admitted() makes its SSL object (in
 *    c->priv), so that a connection admission refuses costs no TLS state;
 *    the handshake goes on in the first read() and write() calls, which
 *    return -1 with EAGAIN until it is done.
 *  - read() and write() map SSL_read()/SSL_write(): SSL_ERROR_WANT_READ
 *    and SSL_ERROR_WANT_WRITE become -1 with EAGAIN, and the transport
 *    notes which of the two the call needs.
 *  - events() turns what the session wants into what the descriptor must
 *    be waited for: a write that needs to read first (WANT_READ, a
 *    renegotiation or the handshake) answers NL_EV_READ for NL_EV_WRITE,
 *    and a read that needs to write answers NL_EV_WRITE for NL_EV_READ.
 *    Models ask the session (nl_session_events(), nl_session_read_ready()),
 *    which asks here, so they wait on the right event without knowing why.
 *  - shutdown() sends close_notify (SSL_shutdown(), once, not waiting for
 *    the peer's) before the TCP FIN; release() frees the SSL object and
 *    closes the descriptor.
 *  - No decrypted byte waits inside the library unannounced by the
 *    descriptor: with read-ahead off (OpenSSL's default) SSL_read() takes
 *    one record from the socket, and a session reads
 *    NL_SESSION_READ_CHUNK bytes, TLS's largest record, at a time.
 *  - silent_for() and backlog() are the TCP ones; peek() is SSL_peek().
 *  - A DTLS transport would fill recvfrom() and sendto() the same way.
 */
#ifndef NL_TRANSPORT_H
#define NL_TRANSPORT_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

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

/* What a descriptor is waited for: bits of nl_conn_events() and of
 * nl_session_events(). */
#define NL_EV_READ  1
#define NL_EV_WRITE 2

/* One connection (or a datagram socket, or a pair of plain descriptors)
 * as its transport serves it. */
struct nl_conn {
    const struct nl_transport_ops *ops;
    int fd;     /* what a model waits on; -1 once released */
    int out_fd; /* where output goes: fd, but for plain descriptors */
    void *priv; /* the transport's own state of the connection */
    uint32_t ticket; /* admission's note of the session's source, or 0 */
};

/*
 * A transport.  The listener side runs in the master; the connection side
 * in serving processes, called by session.c (and the models, for accept
 * and peek).  Reads and writes follow read(2): a byte count, 0 at the end
 * of input, or -1 with errno, EAGAIN when the call would block whatever it
 * waits for (events() says what that is).  A NULL slot is not needed.
 */
struct nl_transport_ops {
    const char *name;
    /* Binds (and for streams listens) per lc; fills sk.  Returns 0, or -1
     * with a one-line reason in err. */
    int (*open)(const struct nl_listener_conf *lc, struct nl_socket *sk,
                char *err, size_t errlen);
    /* Closes the descriptor and removes what open() created.  */
    void (*close)(const struct nl_listener_conf *lc, struct nl_socket *sk);
    /* Removes what open() created (a socket file), if still its own. */
    void (*remove)(const struct nl_listener_conf *lc,
                   const struct nl_socket *sk);
    /* Connections waiting in the listening socket lfd's accept queue, 0
     * when that cannot be told. */
    unsigned (*backlog)(int lfd);

    /* Takes one connection from the listening socket lfd, non-blocking
     * and close-on-exec; fills c's descriptors (its ops are set by
     * nl_transport_accept(), so that no transport calls back into the
     * table) and the peer's address.  Nothing more: admission comes
     * next, and a refused connection should cost no more than this.  0,
     * or -1 with errno as accept4() sets it. */
    int (*accept)(const struct nl_listener_conf *lc, int lfd,
                  struct nl_conn *c, struct sockaddr_storage *peer,
                  socklen_t *peer_len);
    /* Sets up an admitted connection for serving (tcp: TCP_NODELAY).
     * 0, or -1 after logging: the connection is then released. */
    int (*admitted)(const struct nl_listener_conf *lc, struct nl_conn *c);
    ssize_t (*read)(struct nl_conn *c, void *buf, size_t n);
    ssize_t (*write)(struct nl_conn *c, const void *buf, size_t n);
    /* Writes the n buffers of iov in order, as one write would; NULL
     * when the transport cannot gather (session.c then copies). */
    ssize_t (*writev)(struct nl_conn *c, const struct iovec *iov, int n);
    /* Input waiting to be read, left there; as read(), never blocking. */
    ssize_t (*peek)(struct nl_conn *c, void *buf, size_t n);
    /* One datagram, never blocking, and its sender; returns its whole
     * length, which may exceed n (it was cut). */
    ssize_t (*recvfrom)(struct nl_conn *c, void *buf, size_t n,
                        struct sockaddr_storage *peer, socklen_t *peer_len);
    /* One datagram to peer (NULL: the connected one); as sendto(). */
    ssize_t (*sendto)(struct nl_conn *c, const void *buf, size_t n,
                      const struct sockaddr *peer, socklen_t peer_len);
    /* What the descriptor must be waited for so that what the session
     * wants, NL_EV_READ or NL_EV_WRITE, can go on.  NULL: the same. */
    int (*events)(const struct nl_conn *c, int want);
    /* Ends a session whose input was not all read, without waiting: tells
     * the peer no more comes, and drops a bounded amount of its input. */
    void (*shutdown)(struct nl_conn *c);
    /* Frees the connection's state and closes its descriptor. */
    void (*release)(struct nl_conn *c);
    /* Seconds since the client last sent something, as the kernel saw it
     * (time in the listen backlog included).  0, or -1 when unknown. */
    int (*silent_for)(const struct nl_conn *c, double *seconds);
};

extern const struct nl_transport_ops nl_transport_inet;
extern const struct nl_transport_ops nl_transport_unix;
extern const struct nl_transport_ops nl_transport_plain;

/* The table for a transport kind, or NULL for an unknown one. */
const struct nl_transport_ops *nl_transport_get(enum nl_transport_kind t);

/* SOCK_STREAM or SOCK_DGRAM: the socket type of a transport kind
 * (transport_sock.c). */
int nl_transport_socktype(enum nl_transport_kind t);

/* Makes c the connection (or datagram socket) fd of lc's transport. */
void nl_conn_init(struct nl_conn *c, const struct nl_listener_conf *lc,
                  int fd);

/* Makes c a pair of plain descriptors that need not be sockets: read()
 * from in_fd, write() to out_fd; releasing it closes neither. */
void nl_conn_plain(struct nl_conn *c, int in_fd, int out_fd);

/* Accepts on lc's listening socket lfd (see accept above). */
int nl_transport_accept(const struct nl_listener_conf *lc, int lfd,
                        struct nl_conn *c, struct sockaddr_storage *peer,
                        socklen_t *peer_len);

/* Sets up a connection admission let in (see admitted above). */
int nl_transport_admitted(const struct nl_listener_conf *lc,
                          struct nl_conn *c);

/*
 * Writes n bytes at p to c, again after EINTR and short writes, until all
 * is written, c would block or a write fails.  Returns the bytes written;
 * fewer than n with errno saying why.
 */
size_t nl_conn_write_all(struct nl_conn *c, const void *p, size_t n);

/* c's events() for want, or want itself.  Inline: every wake-up of
 * every session asks. */
static inline int
nl_conn_events(const struct nl_conn *c, int want)
{
    return c->ops->events != NULL ? c->ops->events(c, want) : want;
}

/* c's shutdown(), when it has one. */
void nl_conn_shutdown(struct nl_conn *c);

/* Releases c (see release above); nothing when it already was. */
void nl_conn_release(struct nl_conn *c);

/* c's silent_for(): 0 and the seconds, or -1 when it cannot tell. */
int nl_conn_silent_for(const struct nl_conn *c, double *seconds);

/* Connections waiting on lc's listening socket lfd, 0 when unknown. */
unsigned nl_transport_backlog(const struct nl_listener_conf *lc, int lfd);

/* Opens lc's socket, non-blocking and close-on-exec: the one systemd
 * passed in for lc, if any, else a new one.  0 or -1 (see ops). */
int nl_transport_open(const struct nl_listener_conf *lc, struct nl_socket *sk,
                      char *err, size_t errlen);

/* Closes sk; a unix socket file is removed if it is still the one made.
 * A socket systemd passed in goes back to its pool instead. */
void nl_transport_close(const struct nl_listener_conf *lc,
                        struct nl_socket *sk);

/*
 * The master's stop: closes sk's descriptor for good (a socket systemd
 * passed in leaves its pool too) but leaves its socket file, which
 * nl_transport_remove() removes at exit.
 */
void nl_transport_stop(const struct nl_listener_conf *lc,
                       struct nl_socket *sk);

/* Removes what opening sk created (a unix socket file), if it is still
 * the one made and systemd did not make it. */
void nl_transport_remove(const struct nl_listener_conf *lc,
                         const struct nl_socket *sk);

/* Closes a copy of a listening socket (a serving process's, or one a
 * forked child inherited): the descriptor only, never the file nor
 * systemd's pool, which are the master's. */
void nl_transport_close_copy(int fd);

/* The connection side every socket transport shares (transport_sock.c):
 * accept4(), read(), send() and sendmsg() without SIGPIPE, recvfrom(),
 * sendto(), recv(MSG_PEEK), shutdown(SHUT_WR) with a bounded drain,
 * close(). */
int nl_sock_accept(const struct nl_listener_conf *lc, int lfd,
                   struct nl_conn *c, struct sockaddr_storage *peer,
                   socklen_t *peer_len);
ssize_t nl_sock_read(struct nl_conn *c, void *buf, size_t n);
ssize_t nl_sock_write(struct nl_conn *c, const void *buf, size_t n);
ssize_t nl_sock_writev(struct nl_conn *c, const struct iovec *iov, int n);
ssize_t nl_sock_peek(struct nl_conn *c, void *buf, size_t n);
ssize_t nl_sock_recvfrom(struct nl_conn *c, void *buf, size_t n,
                         struct sockaddr_storage *peer, socklen_t *peer_len);
ssize_t nl_sock_sendto(struct nl_conn *c, const void *buf, size_t n,
                       const struct sockaddr *peer, socklen_t peer_len);
void nl_sock_shutdown(struct nl_conn *c);
void nl_sock_release(struct nl_conn *c);

/* Formats a socket address: "1.2.3.4:5", "[::1]:5", a path, or "unix". */
const char *nl_sockaddr_text(const struct sockaddr *sa, socklen_t len,
                             char *buf, size_t size);

/* The slots of a socket transport's table that are transport_sock.c's. */
#define NL_SOCK_OPS                                                            \
    .read = nl_sock_read, .write = nl_sock_write,                              \
    .writev = nl_sock_writev, .peek = nl_sock_peek,                            \
    .recvfrom = nl_sock_recvfrom, .sendto = nl_sock_sendto,                    \
    .shutdown = nl_sock_shutdown, .release = nl_sock_release

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
