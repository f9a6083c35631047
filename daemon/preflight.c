/*
 * preflight.c - `netlabd -t` beyond the file.  conf.c checks what the text
 * says and plugins.c whether the handlers load; this module checks what
 * the system will say at start-up, as far as it can be known without
 * binding: that the folders netlabd creates files in exist and are
 * writable by the master (the user running -t), that privileged ports can
 * be bound, and whether an address is in use right now.  Ports and sockets
 * are only probed: a bind test on a socket closed at once; a unix socket
 * is looked up in /proc/net/unix, never connected to.
 *
 * One missing folder is not an error: the default runtime folder
 * (/run/netlabd), which a reboot empties away and netlabd creates at
 * start-up, as chronyd does for /run/chrony.
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

#include "conf.h"
#include "errs.h"
#include "preflight.h"
#include "session.h"
#include "transport.h"
#include "util.h"

#define CAP_NET_BIND_SERVICE_BIT 10 /* <linux/capability.h> */

/* What is checked, for messages: "pidfile: ", "listener web: ". */
struct what {
    const struct nl_conf *conf;
    struct nl_errs *errs, *warns;
    const char *rundir;
    int line;
    const char *label;
};

/* 1 when this process may create files in dir (its effective ids). */
static int
writable(const char *path)
{
    return faccessat(AT_FDCWD, path, W_OK | X_OK, AT_EACCESS) == 0;
}

/* The folder that file `path` is created in must exist and be writable;
 * the default runtime folder may be missing when its parent is there. */
static void
check_folder(const struct what *w, const char *path)
{
    char *dir = nl_path_dir(path), *parent;
    struct stat st;

    if (stat(dir, &st) == -1) {
        int e = errno;

        parent = nl_path_dir(dir);
        if (e == ENOENT && strcmp(dir, w->rundir) == 0 &&
            stat(parent, &st) == 0 && S_ISDIR(st.st_mode) && writable(parent))
            ; /* made at start-up */
        else if (e == ENOENT)
            nl_conf_report(w->conf, w->errs, w->line,
                           "%s%s: folder %s does not exist", w->label, path,
                           dir);
        else
            nl_conf_report(w->conf, w->errs, w->line, "%s%s: %s: %s", w->label,
                           path, dir, strerror(e));
        free(parent);
    } else if (!S_ISDIR(st.st_mode)) {
        nl_conf_report(w->conf, w->errs, w->line, "%s%s: %s is not a folder",
                       w->label, path, dir);
    } else if (!writable(dir)) {
        nl_conf_report(w->conf, w->errs, w->line,
                       "%s%s: folder %s is not writable by uid %ld, who runs "
                       "the master",
                       w->label, path, dir, (long)geteuid());
    }
    free(dir);
}

#define UNIX_LISTENING 0x10000 /* __SO_ACCEPTCON in /proc/net/unix */

/*
 * Whether some process has a socket bound at path right now, as start-up
 * would find it (transport_unix.c): a listening stream socket, or any
 * bound datagram one.  Looked up in /proc/net/unix rather than asked by
 * connecting: a connect waits forever on a full backlog or a hung
 * netlabd, and on a running one it opens a real session (a greeter
 * answers, a logger logs).  Returns 1 or 0, or -1 when /proc/net/unix
 * cannot be read.  (It lists this network namespace's sockets only.)
 */
static int
unix_bound_proc(const char *path)
{
    FILE *f = fopen("/proc/net/unix", "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int found = 0;

    if (f == NULL)
        return -1;
    while (!found && (len = getline(&line, &cap, f)) != -1) {
        unsigned long flags;
        unsigned type;
        int n = -1, got;

        /* "Num: RefCount Protocol Flags Type St Inode Path"; the header
         * line does not scan, nor does a socket with no path. */
        got = sscanf(line, "%*x: %*x %*x %lx %x %*x %*u%n", &flags, &type, &n);
        if (got != 2 || n < 0 || line[n] != ' ')
            continue;
        if (len > 0 && line[len - 1] == '\n')
            line[len - 1] = '\0';
        found = strcmp(line + n + 1, path) == 0 &&
                ((flags & UNIX_LISTENING) != 0 || type == SOCK_DGRAM);
    }
    free(line);
    fclose(f);
    return found;
}

/* Without /proc: a connect that cannot wait, a full backlog (EAGAIN)
 * counting as in use. */
static int
unix_bound_connect(const char *path, int type)
{
    struct sockaddr_un sun;
    int fd, rc;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if ((fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
        return 0;
    rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    if (rc == -1 && errno == EAGAIN)
        rc = 0;
    close(fd);
    return rc == 0;
}

/* A unix socket path: its folder, and what is there already. */
static void
check_unix_path(const struct what *w, const char *path, int type)
{
    struct stat st;
    int used;

    check_folder(w, path);
    if (lstat(path, &st) == -1)
        return;
    if (!S_ISSOCK(st.st_mode)) {
        nl_conf_report(w->conf, w->errs, w->line,
                       "%s%s exists and is not a socket", w->label, path);
        return;
    }
    if ((used = unix_bound_proc(path)) == -1)
        used = unix_bound_connect(path, type);
    if (used)
        nl_conf_report(w->conf, w->warns, w->line,
                       "warning: %s%s is in use now (by a running netlabd, "
                       "or start-up will fail)",
                       w->label, path);
}

/* 1 when this process's effective capabilities hold CAP_NET_BIND_SERVICE
 * (root has it, unless a container or a unit took it away). */
static int
can_bind_privileged(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long caps = 0;
    int found = 0;

    if (f == NULL)
        return geteuid() == 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "CapEff: %llx", &caps) == 1) {
            found = 1;
            break;
        }
    fclose(f);
    if (!found)
        return geteuid() == 0;
    return (caps >> CAP_NET_BIND_SERVICE_BIT) & 1;
}

/* Binds a throw-away socket to ai, as transport_inet.c would, and closes
 * it at once.  Returns 0 or the errno of the failure. */
static int
bind_probe(const struct nl_listener_conf *lc, const struct addrinfo *ai)
{
    int on = 1, fd, e = 0;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return errno;
    if (!nl_transport_is_dgram(lc->transport)) /* tcp: as when binding */
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (ai->ai_family == AF_INET6) {
        int v6only = lc->ipv6only;

        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
                         sizeof(v6only));
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
        e = errno;
    close(fd);
    return e;
}

static void
check_inet(const struct what *w, const struct nl_listener_conf *lc,
           int privileged_ok, int unpriv_start)
{
    struct addrinfo *res;
    char addr[128];
    int rc, e;

    if ((rc = nl_resolve_listener(lc, &res)) != 0) {
        nl_conf_report(w->conf, w->errs, w->line, "%scannot resolve %s: %s",
                       w->label, lc->address, gai_strerror(rc));
        return;
    }
    /* The first address is the one start-up binds when it can. */
    nl_sockaddr_text(res->ai_addr, res->ai_addrlen, addr, sizeof(addr));
    if (lc->port > 0 && lc->port < unpriv_start && !privileged_ok) {
        nl_conf_report(w->conf, w->errs, w->line,
                       "%s%s: a port below %d needs root or the "
                       "CAP_NET_BIND_SERVICE capability: run netlabd as root, "
                       "grant it CAP_NET_BIND_SERVICE, or use a port of %d or "
                       "more",
                       w->label, addr, unpriv_start, unpriv_start);
    } else if ((e = bind_probe(lc, res)) == EADDRINUSE) {
        if (lc->port != 0)
            nl_conf_report(w->conf, w->warns, w->line,
                           "warning: %s%s %s is in use now (by a running "
                           "netlabd, or start-up will fail)",
                           w->label, nl_transport_name(lc->transport), addr);
    } else if (e != 0) {
        nl_conf_report(w->conf, w->errs, w->line, "%s%s: %s", w->label, addr,
                       strerror(e));
    }
    freeaddrinfo(res);
}

/* metrics_listen, as a tcp listener on its address would be checked. */
static void
check_metrics_listen(struct what *w, int privileged_ok, int unpriv_start)
{
    struct nl_listener_conf lc = {.transport = NL_TRANSPORT_TCP};
    char host[256];

    /* The parser accepted it, so it splits. */
    if (nl_hostport_split(w->conf->metrics_listen, host, sizeof(host),
                          &lc.port) == -1)
        return;
    lc.address = host;
    w->line = nl_conf_line(w->conf, "metrics_listen");
    w->label = "metrics_listen: ";
    check_inet(w, &lc, privileged_ok, unpriv_start);
}

int
nl_preflight(const struct nl_conf *conf, const char *pidfile,
             const char *rundir, struct nl_errs *errs, struct nl_errs *warns)
{
    size_t nerrs = errs->n;
    int privileged_ok = can_bind_privileged();
    int unpriv_start = nl_unprivileged_port_start();
    struct what w = {
        .conf = conf, .errs = errs, .warns = warns, .rundir = rundir};

    if (pidfile != NULL) {
        w.label = "pidfile (-p): ";
        check_folder(&w, pidfile);
    } else {
        w.line = nl_conf_line(conf, "pidfile");
        w.label = "pidfile: ";
        check_folder(&w, conf->pidfile);
    }
    w.line = nl_conf_line(conf, "control");
    w.label = "control: ";
    check_unix_path(&w, conf->control, SOCK_STREAM);
    if (conf->log_target_set && strcmp(conf->log_target, "stderr") != 0 &&
        strcmp(conf->log_target, "syslog") != 0) {
        w.line = nl_conf_line(conf, "log_target");
        w.label = "log_target: ";
        if (access(conf->log_target, F_OK) == 0) {
            if (faccessat(AT_FDCWD, conf->log_target, W_OK, AT_EACCESS) == -1)
                nl_conf_report(conf, errs, w.line,
                               "log_target: %s is not writable by uid %ld, who "
                               "runs the master",
                               conf->log_target, (long)geteuid());
        } else {
            check_folder(&w, conf->log_target);
        }
    }
    for (size_t i = 0; i < conf->nlisteners; i++) {
        const struct nl_listener_conf *lc = &conf->listeners[i];
        char *label = nl_xasprintf("listener %s: ", lc->name);

        w.line = lc->line;
        w.label = label;
        if (lc->path != NULL)
            check_unix_path(&w, lc->path,
                            nl_transport_socktype(lc->transport));
        else
            check_inet(&w, lc, privileged_ok, unpriv_start);
        free(label);
    }
    if (conf->metrics_listen != NULL)
        check_metrics_listen(&w, privileged_ok, unpriv_start);
    return errs->n > nerrs ? -1 : 0;
}

/* 1 when path's folder is dir. */
static int
in_folder(const char *path, const char *dir)
{
    char *d = nl_path_dir(path);
    int same = strcmp(d, dir) == 0;

    free(d);
    return same;
}

int
nl_rundir_make(const struct nl_conf *conf, const char *pidfile,
               const char *rundir, char *err, size_t errlen)
{
    int used = in_folder(pidfile != NULL ? pidfile : conf->pidfile, rundir) ||
               in_folder(conf->control, rundir);
    int rc = 0;

    for (size_t i = 0; i < conf->nlisteners && !used; i++)
        used = conf->listeners[i].path != NULL &&
               in_folder(conf->listeners[i].path, rundir);
    if (used && mkdir(rundir, 0755) == 0) {
        /* Exactly 0755, whatever the umask. */
        if (chmod(rundir, 0755) == -1) {
            snprintf(err, errlen, "chmod %s: %s", rundir, strerror(errno));
            rc = -1;
        }
    } else if (used && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the runtime folder %s: %s", rundir,
                 strerror(errno));
        rc = -1;
    }
    return rc;
}
