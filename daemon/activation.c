/*
 * activation.c - sockets systemd passes in (socket activation).
 *
 * The variables are read first thing in main() and removed from the
 * environment, before anything forks (the start-up check of the handlers
 * does).  When LISTEN_PID is netlabd's pid, descriptors 3 .. 3+LISTEN_FDS-1
 * are sockets systemd bound for it, named in LISTEN_FDNAMES as the socket
 * unit's FileDescriptorName= says.  Each goes to one listener: the one
 * whose `name` it carries or, when its name is no listener's, the one
 * with its transport and address (a port 0 listener takes a socket by
 * name only: any port is its port, so an address cannot pick it).  A
 * socket that contradicts its listener (another transport or address,
 * on "::" IPV6_V6ONLY other than its ipv6only, or a connection from
 * Accept=yes)
 * stops the start-up; one that no listener wants is closed with a warning.
 * When LISTEN_PID is another process's, the descriptors are not ours to
 * close (sd_listen_fds() leaves them too): a warning says so.  A listener without a socket binds its
 * own, as usual.
 *
 * The sockets stay in a pool for the master's lifetime.  A listener takes
 * its socket when it opens (nl_transport_open) and gives it back when it
 * closes, so that a reload that removes the listener, and a later one
 * that adds it again, meet the same socket: systemd keeps its own copy
 * bound all along, and binding the address anew would fail.  Nothing here
 * unlinks a socket file, ever: systemd made it, and removes it.
 *
 * Not here: binding (transport_*.c) and the notify protocol (sdnotify.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "activation.h"
#include "conf.h"
#include "log.h"
#include "session.h"
#include "transport.h"
#include "util.h"

#define FIRST_FD 3 /* SD_LISTEN_FDS_START */

struct passed {
    int fd;     /* -1 once closed */
    char *name; /* from LISTEN_FDNAMES; NULL without one */
    int named;  /* name is a listener's: that listener's alone */
    int in_use; /* a listener holds it */
};

static struct passed *pool;
static size_t npool;

/* What nl_activation_read() found, for nl_activation_start(). */
static struct {
    int n;        /* sockets passed to us, or -1 when malformed */
    char **names; /* n names (or NULLs) */
    char err[512];
    char other[160]; /* the variables, when LISTEN_PID is another's */
} env;

/* What a socket is, as far as matching goes. */
struct sockinfo {
    int kind; /* enum nl_transport_kind, or -1 for none of them */
    int listening;
    int v6only; /* IPV6_V6ONLY of an IPv6 socket; -1 for others */
    struct sockaddr_storage ss;
    socklen_t sslen;
    char text[300]; /* "tcp 127.0.0.1:80", for messages */
};

static int
parse_int(const char *s, long max, long *out)
{
    char *end;
    long v;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

int
nl_activation_parse(const char *pid, const char *fds, const char *fdnames,
                    pid_t self, char ***names, char *err, size_t errlen)
{
    long p, n;

    if (names != NULL)
        *names = NULL;
    if (pid == NULL)
        return 0;
    if (parse_int(pid, 0x7fffffffL, &p) == -1 || p == 0) {
        snprintf(err, errlen, "LISTEN_PID=%s: not a process id", pid);
        return -1;
    }
    if (p != (long)self)
        return 0; /* meant for another process */
    if (fds == NULL) {
        snprintf(err, errlen,
                 "LISTEN_PID is netlabd's, but LISTEN_FDS is not set");
        return -1;
    }
    if (parse_int(fds, NL_ACTIVATION_MAX_FDS, &n) == -1) {
        snprintf(err, errlen,
                 "LISTEN_FDS=%s: not a number of descriptors (0-%d)", fds,
                 NL_ACTIVATION_MAX_FDS);
        return -1;
    }
    if (names != NULL && n > 0) {
        const char *s = fdnames;

        *names = nl_xcalloc((size_t)n, sizeof(**names));
        /* Fewer names than sockets leave the rest unnamed; more are
         * ignored, as systemd-socket-activate documents. */
        for (long i = 0; s != NULL && i < n; i++) {
            size_t len = strcspn(s, ":");

            if (len > 0) {
                (*names)[i] = nl_xcalloc(1, len + 1);
                memcpy((*names)[i], s, len);
            }
            s = s[len] == ':' ? s + len + 1 : NULL;
        }
    }
    return (int)n;
}

void
nl_activation_free_names(char **names, int n)
{
    for (int i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}

/* Fills si for fd; -1 when fd is not a socket. */
static int
sock_info(int fd, struct sockinfo *si)
{
    int type = 0, domain = 0, acc = 0;
    socklen_t len = sizeof(int);
    char addr[256];
    struct stat st;

    memset(si, 0, sizeof(*si));
    si->kind = -1;
    if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode)) {
        snprintf(si->text, sizeof(si->text), "descriptor %d, not a socket", fd);
        return -1;
    }
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    len = sizeof(int);
    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
    len = sizeof(int);
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len);
    si->listening = acc;
    si->v6only = -1;
    if (domain == AF_INET6) {
        int on = 0;

        len = sizeof(int);
        if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, &len) == 0)
            si->v6only = on != 0;
    }
    si->sslen = sizeof(si->ss);
    if (getsockname(fd, (struct sockaddr *)&si->ss, &si->sslen) == -1)
        si->sslen = 0;
    if ((domain == AF_INET || domain == AF_INET6 || domain == AF_UNIX) &&
        (type == SOCK_STREAM || type == SOCK_DGRAM))
        si->kind = nl_transport_find(domain == AF_UNIX, type == SOCK_DGRAM);
    if (si->sslen > 0)
        nl_sockaddr_text((struct sockaddr *)&si->ss, si->sslen, addr,
                         sizeof(addr));
    else
        snprintf(addr, sizeof(addr), "without an address");
    if (si->kind == -1)
        snprintf(si->text, sizeof(si->text), "a socket of family %d, type %d",
                 domain, type);
    else
        snprintf(si->text, sizeof(si->text), "%s %s",
                 nl_transport_name(si->kind), addr);
    return 0;
}

/* 1 when the inet socket's address is one lc->address names (and its
 * port lc's, unless lc asks for any port). */
static int
inet_matches(const struct nl_listener_conf *lc, const struct sockinfo *si)
{
    struct addrinfo *res, *ai;
    const struct sockaddr *sa = (const struct sockaddr *)&si->ss;
    int found = 0;

    if (nl_resolve_listener(lc, &res) != 0)
        return 0;
    for (ai = res; ai != NULL && !found; ai = ai->ai_next) {
        if (ai->ai_family != sa->sa_family)
            continue;
        if (sa->sa_family == AF_INET) {
            const struct sockaddr_in *a = (const void *)ai->ai_addr;
            const struct sockaddr_in *b = (const void *)sa;

            found = a->sin_addr.s_addr == b->sin_addr.s_addr &&
                    (lc->port == 0 || ntohs(b->sin_port) == lc->port);
        } else {
            const struct sockaddr_in6 *a = (const void *)ai->ai_addr;
            const struct sockaddr_in6 *b = (const void *)sa;

            found = memcmp(&a->sin6_addr, &b->sin6_addr,
                           sizeof(a->sin6_addr)) == 0 &&
                    (lc->port == 0 || ntohs(b->sin6_port) == lc->port);
        }
    }
    freeaddrinfo(res);
    return found;
}

/* 1 when the unix socket is bound at lc->path (or at another name for the
 * same file). */
static int
unix_matches(const struct nl_listener_conf *lc, const struct sockinfo *si)
{
    const struct sockaddr_un *sun = (const void *)&si->ss;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    char path[sizeof(sun->sun_path) + 1];
    struct stat a, b;

    if (si->sslen <= off || sun->sun_path[0] == '\0')
        return 0; /* unnamed or abstract: no listener has such a path */
    snprintf(path, sizeof(path), "%.*s", (int)(si->sslen - off), sun->sun_path);
    if (strcmp(path, lc->path) == 0)
        return 1;
    return stat(path, &a) == 0 && stat(lc->path, &b) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* 1 when the socket has lc's transport and address. */
static int
at_address(const struct nl_listener_conf *lc, const struct sockinfo *si)
{
    if (si->kind != (int)lc->transport)
        return 0;
    return lc->path != NULL ? unix_matches(lc, si) : inet_matches(lc, si);
}

/* 0 when the socket fits lc; -1 with the reason in err when not. */
static int
fits(const struct nl_listener_conf *lc, const struct sockinfo *si, char *err,
     size_t errlen)
{
    if (!at_address(lc, si)) {
        char want[256];

        snprintf(err, errlen, "it is %s; the listener is %s %s", si->text,
                 nl_transport_name(lc->transport),
                 nl_listener_address(lc, want, sizeof(want)));
        return -1;
    }
    /* On "::", dual-stack or not is which connections arrive at all.  On
     * another IPv6 address it changes nothing (systemd sets IPV6_V6ONLY
     * on [::1]), so it is not held against the socket there. */
    if (si->v6only != -1 && si->v6only != lc->ipv6only &&
        IN6_IS_ADDR_UNSPECIFIED(
            &((const struct sockaddr_in6 *)(const void *)&si->ss)->sin6_addr)) {
        snprintf(err, errlen,
                 "%s is %s; the listener has ipv6only = %s (the socket "
                 "unit's BindIPv6Only= sets it)",
                 si->text,
                 si->v6only ? "IPv6 only (IPV6_V6ONLY)"
                            : "dual-stack (IPv4 too, no IPV6_V6ONLY)",
                 lc->ipv6only ? "true" : "false");
        return -1;
    }
    if (!nl_transport_is_dgram(lc->transport) && !si->listening) {
        snprintf(err, errlen,
                 "%s is not listening (a connection from Accept=yes? "
                 "netlabd needs Accept=no)",
                 si->text);
        return -1;
    }
    return 0;
}

/* The pool entry lc would take: the one its name names, else an unnamed
 * one at its address; NULL for none.  *si describes it. */
static struct passed *
find(const struct nl_listener_conf *lc, struct sockinfo *si)
{
    for (size_t i = 0; i < npool; i++) {
        struct passed *p = &pool[i];

        if (p->fd != -1 && !p->in_use && p->named &&
            strcmp(p->name, lc->name) == 0) {
            sock_info(p->fd, si);
            return p;
        }
    }
    if (lc->path == NULL && lc->port == 0)
        return NULL;
    for (size_t i = 0; i < npool; i++) {
        struct passed *p = &pool[i];

        if (p->fd != -1 && !p->in_use && !p->named &&
            sock_info(p->fd, si) == 0 && at_address(lc, si) &&
            (nl_transport_is_dgram(lc->transport) || si->listening))
            return p;
    }
    return NULL;
}

static void
describe_passed(const struct passed *p, char *buf, size_t len)
{
    if (p->name != NULL)
        snprintf(buf, len, "the socket systemd passed as \"%s\"", p->name);
    else
        snprintf(buf, len, "the socket systemd passed as descriptor %d", p->fd);
}

void
nl_activation_names(const struct nl_conf *conf)
{
    for (size_t i = 0; i < npool; i++) {
        pool[i].named = 0;
        for (size_t j = 0; pool[i].name != NULL && j < conf->nlisteners; j++)
            if (strcmp(pool[i].name, conf->listeners[j].name) == 0)
                pool[i].named = 1;
    }
}

int
nl_activation_take(const struct nl_listener_conf *lc, struct nl_socket *sk,
                   char *err, size_t errlen)
{
    struct sockinfo si;
    struct passed *p = find(lc, &si);
    char what[128], why[512];

    if (p == NULL)
        return 0;
    if (fits(lc, &si, why, sizeof(why)) == -1) {
        describe_passed(p, what, sizeof(what));
        snprintf(err, errlen, "%s does not fit: %s", what, why);
        return -1;
    }
    p->in_use = 1;
    sk->fd = p->fd;
    sk->adopted = 1;
    sk->dev = 0; /* no file of ours to remove */
    sk->ino = 0;
    snprintf(sk->address, sizeof(sk->address), "%s", strchr(si.text, ' ') + 1);
    nl_notice(lc->name, "adopted %s from systemd", si.text);
    return 1;
}

void
nl_activation_give_back(const struct nl_listener_conf *lc, struct nl_socket *sk)
{
    for (size_t i = 0; i < npool; i++)
        if (pool[i].fd == sk->fd && pool[i].in_use) {
            pool[i].in_use = 0;
            nl_info(lc->name,
                    "keeping %s, the socket systemd passed in, for a later "
                    "reload",
                    sk->address);
            return;
        }
    close(sk->fd); /* not the pool's: cannot happen, but leak nothing */
}

void
nl_activation_release(struct nl_socket *sk)
{
    for (size_t i = 0; i < npool; i++)
        if (pool[i].fd == sk->fd) {
            pool[i].fd = -1;
            pool[i].in_use = 0;
        }
    close(sk->fd);
    sk->fd = -1;
}

void
nl_activation_close_unused(void)
{
    for (size_t i = 0; i < npool; i++)
        if (pool[i].fd != -1 && !pool[i].in_use)
            close(pool[i].fd);
}

void
nl_activation_read(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    long p;

    nl_activation_free_names(env.names, env.n);
    memset(&env, 0, sizeof(env));
    env.n = nl_activation_parse(pid, fds, getenv("LISTEN_FDNAMES"), getpid(),
                                &env.names, env.err, sizeof(env.err));
    if (env.n == 0 && pid != NULL && parse_int(pid, 0x7fffffffL, &p) == 0 &&
        p != (long)getpid())
        snprintf(env.other, sizeof(env.other), "LISTEN_PID=%.20s%s%.20s", pid,
                 fds != NULL ? ", LISTEN_FDS=" : "", fds != NULL ? fds : "");
    /* Read once: no child, nor anything it runs, is meant. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
}

/* For a passed socket no listener takes: the listener at its port (but
 * another address), whose own bind fails while systemd holds its copy of
 * the socket, said as "; listener web (FILE:LINE) …", or nothing. */
static void
near_miss(const struct nl_conf *conf, const struct sockinfo *si, char *buf,
          size_t len)
{
    const struct sockaddr *sa = (const struct sockaddr *)&si->ss;
    int port;

    buf[0] = '\0';
    if (si->kind == -1 || nl_transport_is_unix(si->kind))
        return;
    port = sa->sa_family == AF_INET
               ? ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port)
               : ntohs(((const struct sockaddr_in6 *)(const void *)sa)
                           ->sin6_port);
    for (size_t j = 0; j < conf->nlisteners; j++) {
        const struct nl_listener_conf *lc = &conf->listeners[j];
        char addr[256];

        if ((int)lc->transport != si->kind || lc->port != port)
            continue;
        snprintf(buf, len,
                 "; listener %s (%s:%d) is at its port, %s %s, but another "
                 "address: while systemd holds this socket, binding that "
                 "listener fails (address in use)%s",
                 lc->name, conf->file, lc->line, nl_transport_name(lc->transport),
                 nl_listener_address(lc, addr, sizeof(addr)),
                 sa->sa_family == AF_INET6
                     ? ": a socket unit's ListenStream=PORT (or "
                       "ListenDatagram=PORT) alone is [::]:PORT"
                     : "");
        return;
    }
}

/* Takes the LISTEN_FDS descriptors into the pool, each with its name
 * (names[i] moves into the pool).  0, or -1 when one is not open. */
static int
pool_fill(char **names, int n)
{
    int rc = 0;

    for (size_t i = 0; i < npool; i++) /* once per process, but for tests */
        free(pool[i].name);
    free(pool);
    npool = 0;
    pool = nl_xcalloc(n > 0 ? (size_t)n : 1, sizeof(*pool));
    for (int i = 0; i < n; i++) {
        int fd = FIRST_FD + i;

        if (fcntl(fd, F_GETFD) == -1) {
            nl_errx(NULL,
                    "socket activation: LISTEN_FDS=%d, but descriptor %d "
                    "is not open",
                    n, fd);
            rc = -1;
            continue;
        }
        /* Ours now: not for a program a handler runs; and the models
         * expect what transport.c makes, a non-blocking socket. */
        if (nl_set_cloexec(fd) == -1 || nl_set_nonblock(fd, 1) == -1)
            nl_log_errno(NULL, "socket activation: descriptor %d", fd);
        pool[npool].fd = fd;
        pool[npool].name = names[i];
        names[i] = NULL;
        npool++;
    }
    return rc;
}

/* Plans what each listener will take, so that every contradiction is
 * reported now, with its line; the real taking is in nl_master_new.
 * Returns 1 when a passed socket does not fit its listener. */
static int
pool_plan(const struct nl_conf *conf)
{
    int misfit = 0;

    for (size_t j = 0; j < conf->nlisteners; j++) {
        const struct nl_listener_conf *lc = &conf->listeners[j];
        struct sockinfo si;
        struct passed *p = find(lc, &si);
        char what[128], why[512];

        if (p == NULL)
            continue;
        if (fits(lc, &si, why, sizeof(why)) == -1) {
            describe_passed(p, what, sizeof(what));
            nl_errx(NULL, "%s:%d: listener %s: %s does not fit: %s", conf->file,
                    lc->line, lc->name, what, why);
            misfit = 1;
        }
        p->in_use = 1; /* planned */
    }
    return misfit;
}

/* Closes, with a warning, each passed socket no listener plans to take. */
static void
pool_close_unplanned(const struct nl_conf *conf)
{
    for (size_t i = 0; i < npool; i++) {
        struct passed *p = &pool[i];
        struct sockinfo si;
        char what[128], near[600];

        if (p->in_use) {
            p->in_use = 0;
            continue;
        }
        sock_info(p->fd, &si);
        describe_passed(p, what, sizeof(what));
        near_miss(conf, &si, near, sizeof(near));
        nl_warnx(NULL, "%s (%s) matches no listener; closing it%s", what,
                 si.text, near);
        close(p->fd);
        p->fd = -1;
    }
}

int
nl_activation_start(const struct nl_conf *conf)
{
    char **names = env.names;
    int n = env.n, rc, misfit;

    env.names = NULL;
    env.n = 0;
    if (env.other[0] != '\0')
        nl_warnx(NULL,
                 "socket activation: %s is for another process, not netlabd "
                 "(pid %ld): ignored; descriptors from 3 up are left open, "
                 "as they are not netlabd's to close",
                 env.other, (long)getpid());
    if (n == -1) {
        nl_errx(NULL, "socket activation: %s", env.err);
        return -1;
    }
    rc = pool_fill(names, n);
    nl_activation_free_names(names, n);
    nl_activation_names(conf);
    misfit = pool_plan(conf);
    pool_close_unplanned(conf);
    if (misfit)
        nl_errx(NULL,
                "%s: the sockets systemd passed in do not fit the "
                "listeners; not starting",
                conf->file);
    return rc == -1 || misfit ? -1 : 0;
}
