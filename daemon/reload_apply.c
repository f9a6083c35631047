/*
 * reload_apply.c - applying a checked configuration to a running netlabd.
 *
 * A reload is all or nothing: the new file is parsed, its handlers are
 * loaded and initialised (in a child, while the master's loop goes on:
 * see reload.c) and its new sockets are bound before anything running is
 * touched; any failure leaves the old configuration as it was.  Then
 * listeners are matched by address, not by name, because the socket is
 * what must survive:
 *
 *  - same address, same spec (handler file unchanged on disk): kept as it
 *    is, serving processes and all;
 *  - same address, changed spec: the socket is kept, new serving processes
 *    start on it and the old ones drain (they stop accepting and finish
 *    their sessions), so no connection is refused and none in the backlog
 *    is lost;
 *  - an old address not in the new file: its socket is closed (a unix
 *    socket file removed) and its processes drain; a socket systemd passed
 *    in is kept aside instead, for a listener that takes it later;
 *  - a new address: bound, and served by new processes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activation.h"
#include "conf.h"
#include "errs.h"
#include "log.h"
#include "master_int.h"
#include "privs.h"
#include "reload.h"
#include "supervisor.h"
#include "transport.h"
#include "util.h"

static int
same_string(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * 1 when the new listener lc can take over o's socket: the same address,
 * or o asked for port 0 and lc names the port o was given.
 */
static int
same_socket(const struct lst *o, const struct nl_listener_conf *lc)
{
    const char *colon = strrchr(o->sk.address, ':');
    struct nl_listener_conf any;

    if (nl_listener_same_address(o->lc, lc))
        return 1;
    if (o->lc->path != NULL || o->lc->port != 0 || colon == NULL ||
        atoi(colon + 1) != lc->port)
        return 0;
    any = *lc;
    any.port = 0;
    return nl_listener_same_address(o->lc, &any);
}

struct nl_conf *
nl_reload_parse(struct nl_master *m, struct nl_errs *errs)
{
    struct nl_conf *nc;
    int here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);

    if (m->cwd_fd != -1 && fchdir(m->cwd_fd) == -1)
        nl_log_errno(NULL, "reload: back to the start-up folder");
    nc = nl_conf_load(m->conf->file, errs);
    /* Who handlers run as, as at start-up.  The warning about root was
     * given then, once; nl_reload_apply() warns when a reload is what
     * leaves them to root. */
    if (nc != NULL && nl_privs_resolve(nc, errs) == -1) {
        nl_conf_free(nc);
        nc = NULL;
    }
    if (here != -1) {
        if (fchdir(here) == -1)
            nl_log_errno(NULL, "reload: chdir");
        close(here);
    }
    return nc;
}

/* Applies log_target and log_level when the new file sets them. */
static int
apply_log(const struct nl_conf *old, const struct nl_conf *nc,
          struct nl_errs *errs)
{
    if (!nc->log_target_set) {
        nl_log_set_level(nc->log_level);
        return 0;
    }
    if (old->log_target_set && same_string(old->log_target, nc->log_target)) {
        nl_log_set_level(nc->log_level);
        return 0;
    }
    if (nl_log_open(nc->log_target, nc->log_level) == -1) {
        nl_errs_add(errs, "%s: log_target %s: %s", nc->file, nc->log_target,
                    strerror(errno));
        return -1;
    }
    return 0;
}

int
nl_reload_apply(struct nl_master *m, struct nl_conf *nc, struct nl_errs *errs)
{
    struct nl_conf *old = m->conf;
    struct lst **next = NULL, **match = NULL;
    unsigned char *taken = NULL;
    int spec_all; /* every listener counts as changed */
    char err[512];
    size_t n;

    n = nc->nlisteners;
    next = nl_xcalloc(n ? n : 1, sizeof(*next));
    match = nl_xcalloc(n ? n : 1, sizeof(*match));
    taken = nl_xcalloc(m->sup.nlst ? m->sup.nlst : 1, 1);

    /* Match by address; bind the new addresses before changing anything.
     * Passes, most specific first: a listener that names a port gets the
     * socket on it; port 0 listeners, which all share one configured
     * address, are told apart by name; then anything that fits. */
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m->sup.nlst && match[i] == NULL; j++)
                if (!taken[j] && same_socket(m->sup.lst[j], &nc->listeners[i]) &&
                    (pass == 2 || (pass == 0 && nc->listeners[i].port != 0) ||
                     (pass == 1 && same_string(m->sup.lst[j]->lc->name,
                                               nc->listeners[i].name)))) {
                    taken[j] = 1;
                    match[i] = m->sup.lst[j];
                }
    nl_activation_names(nc); /* which sockets from systemd go by name */
    for (size_t i = 0; i < n; i++) {
        const struct nl_listener_conf *lc = &nc->listeners[i];

        if (match[i] != NULL)
            continue;
        next[i] = nl_lst_new(&m->sup, lc);
        if ((next[i]->gate = nl_stats_alloc()) == NULL) {
            nl_errs_add(errs, "%s:%d: listener %s: no counter slot left",
                        nc->file, lc->line, lc->name);
            goto fail;
        }
        if (nl_transport_open(lc, &next[i]->sk, err, sizeof(err)) == -1) {
            nl_errs_add(errs, "%s:%d: listener %s: %s", nc->file, lc->line,
                        lc->name, err);
            goto fail;
        }
    }
    if (apply_log(old, nc, errs) == -1)
        goto fail;

    /* From here on nothing fails. */
    /* Handlers ran as an account and will run as root, because `user` is
     * not set and there is no default account (any more): never silent. */
    if (old->user != NULL && nc->user == NULL && geteuid() == 0) {
        if (old->user_default)
            nl_warnx(NULL,
                     "reload: user is not set and the %s account is gone: "
                     "serving processes now run handler code as root",
                     old->user);
        else
            nl_warnx(NULL,
                     "reload: user is no longer set and there is no %s "
                     "account: serving processes now run handler code as "
                     "root, not as %s",
                     nl_privs_default_user(), old->user);
        m->reload_to_root = 1;
    }
    if (!same_string(old->control, nc->control) ||
        !same_string(old->pidfile, nc->pidfile))
        nl_notice(NULL, "reload: control and pidfile changes take effect "
                        "at the next start");
    /* Settings a serving process took with it when it was forked: when
     * they change, every listener gets new processes. */
    spec_all =
        !same_string(old->user, nc->user) ||
        !same_string(old->group, nc->group) ||
        old->shutdown_timeout != nc->shutdown_timeout ||
        old->log_level != nc->log_level ||
        (nc->log_target_set && !same_string(old->log_target, nc->log_target));
    m->sup.generation++;
    for (size_t i = 0; i < n; i++) {
        const struct nl_listener_conf *lc = &nc->listeners[i];
        struct lst *o = match[i];

        if (o == NULL)
            continue;
        if (!spec_all && nl_listener_equal(o->lc, lc)) {
            o->lc = lc; /* same spec: the processes go on serving */
            next[i] = o;
            continue;
        }
        next[i] = nl_lst_new(&m->sup, lc);
        next[i]->id = o->id;
        next[i]->sk = o->sk;
        next[i]->gate = o->gate;
        nl_stats_ref(o->gate);
        next[i]->kept = o->kept;
        if (lc->path != NULL && lc->mode_set && lc->mode != o->lc->mode &&
            !o->sk.adopted && /* systemd's SocketMode= rules its file */
            chmod(lc->path, lc->mode) == -1)
            nl_log_errno(lc->name, "chmod %s", lc->path);
        /* Linux applies a new backlog to a listening socket. */
        if (lc->backlog != o->lc->backlog &&
            !nl_transport_is_dgram(lc->transport) &&
            listen(o->sk.fd, lc->backlog) == -1)
            nl_log_errno(lc->name, "listen");
        nl_info(lc->name, "changed: new serving processes, old ones drain");
        nl_lst_retire(o);
    }
    for (size_t j = 0; j < m->sup.nlst; j++) {
        struct lst *o = m->sup.lst[j];

        if (taken[j])
            continue;
        nl_info(o->lc->name, "removed: closing %s, its processes drain",
                o->sk.address);
        nl_transport_close(o->lc, &o->sk); /* systemd's goes back */
        nl_lst_retire(o);
    }
    free(m->sup.lst);
    m->sup.lst = next;
    m->sup.nlst = n;
    m->conf = nc;
    m->sup.conf = nc;
    nl_conf_free(old);
    for (size_t i = 0; i < n; i++)
        if (next[i] != match[i])
            nl_lst_spawn(next[i]);
    free(match);
    free(taken);
    return 0;

fail:
    for (size_t i = 0; next != NULL && i < n; i++) {
        if (next[i] == NULL)
            continue;
        nl_transport_close(next[i]->lc, &next[i]->sk);
        nl_lst_free(next[i]);
    }
    free(next);
    free(match);
    free(taken);
    nl_conf_free(nc);
    return -1;
}
