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
    if (old->log_target_set && nl_str_equal(old->log_target, nc->log_target)) {
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

/*
 * How a reload treats a change of one listener that keeps its socket: 0,
 * none (its processes go on serving), or 1, new serving processes (the
 * old ones drain).  respawn_all says that a global setting the processes
 * took with them changed (settings_respawn()).  The one place that
 * decides it per listener.
 */
static int
listener_respawns(const struct nl_listener_conf *o,
                  const struct nl_listener_conf *lc, int respawn_all)
{
    return respawn_all || nl_listener_change(o, lc) != NL_CHANGE_NONE;
}

/* 1 when a global setting changed that a serving process took with it
 * when it was forked: then every listener gets new processes. */
static int
settings_respawn(const struct nl_conf *old, const struct nl_conf *nc)
{
    return nl_conf_changed(old, nc, NL_CHANGE_RESPAWN);
}

/* Whether, in match pass 0, 1 or 2, the new listener lc may take the
 * socket of the current listener o (which same_socket() allows). */
static int
pass_fits(int pass, const struct lst *o, const struct nl_listener_conf *lc)
{
    switch (pass) {
    case 0:
        return lc->port != 0;
    case 1:
        return nl_str_equal(o->lc->name, lc->name);
    default:
        return 1;
    }
}

void
nl_reload_match(const struct nl_master *m, struct nl_conf *nc,
                struct nl_reload_plan *p)
{
    const struct nl_sup *s = &m->sup;

    p->nc = nc;
    p->n = nc->nlisteners;
    p->next = nl_xcalloc(p->n ? p->n : 1, sizeof(*p->next));
    p->match = nl_xcalloc(p->n ? p->n : 1, sizeof(*p->match));
    p->taken = nl_xcalloc(s->nlst ? s->nlst : 1, 1);
    /* Passes, most specific first: a listener that names a port gets the
     * socket on it; port 0 listeners, which all share one configured
     * address, are told apart by name; then anything that fits. */
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < p->n; i++)
            for (size_t j = 0; j < s->nlst && p->match[i] == NULL; j++) {
                const struct nl_listener_conf *lc = &nc->listeners[i];

                if (p->taken[j] || !same_socket(s->lst[j], lc) ||
                    !pass_fits(pass, s->lst[j], lc))
                    continue;
                p->taken[j] = 1;
                p->match[i] = s->lst[j];
            }
}

int
nl_reload_bind(struct nl_master *m, struct nl_reload_plan *p,
               struct nl_errs *errs)
{
    struct nl_conf *nc = p->nc;
    char err[512];

    nl_activation_names(nc); /* which sockets from systemd go by name */
    for (size_t i = 0; i < p->n; i++) {
        const struct nl_listener_conf *lc = &nc->listeners[i];

        if (p->match[i] != NULL)
            continue;
        p->next[i] = nl_lst_new(&m->sup, lc);
        if ((p->next[i]->gate = nl_stats_alloc()) == NULL) {
            nl_errs_add(errs, "%s:%d: listener %s: no counter slot left",
                        nc->file, lc->line, lc->name);
            return -1;
        }
        if (nl_lst_sources(p->next[i], NULL) == -1) {
            nl_errs_add(errs, "%s:%d: listener %s: no memory for the "
                        "per-source table", nc->file, lc->line, lc->name);
            return -1;
        }
        if (nl_transport_open(lc, &p->next[i]->sk, err, sizeof(err)) == -1) {
            nl_errs_add(errs, "%s:%d: listener %s: %s", nc->file, lc->line,
                        lc->name, err);
            return -1;
        }
    }
    return apply_log(m->conf, nc, errs);
}

/* What a reload says about settings it does not apply, or that change who
 * handlers run as. */
static void
warn_settings(struct nl_master *m, const struct nl_conf *old,
              const struct nl_conf *nc)
{
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
        m->rl.to_root = 1;
    }
    if (nl_conf_changed(old, nc, NL_CHANGE_RESTART))
        nl_notice(NULL, "reload: control and pidfile changes take effect "
                        "at the next start");
}

/* The socket settings Linux applies to o's socket as it is. */
static void
apply_socket_live(const struct lst *o, const struct nl_listener_conf *lc)
{
    if (lc->path != NULL && lc->mode_set && lc->mode != o->lc->mode &&
        !o->sk.adopted && /* systemd's SocketMode= rules its file */
        chmod(lc->path, lc->mode) == -1)
        nl_log_errno(lc->name, "chmod %s", lc->path);
    /* Linux applies a new backlog to a listening socket. */
    if (lc->backlog != o->lc->backlog &&
        !nl_transport_is_dgram(lc->transport) &&
        listen(o->sk.fd, lc->backlog) == -1)
        nl_log_errno(lc->name, "listen");
}

/* A new listener for lc on o's socket, with o's counts; o's processes
 * drain. */
static struct lst *
replace_listener(struct nl_master *m, struct lst *o,
                 const struct nl_listener_conf *lc)
{
    struct lst *l = nl_lst_new(&m->sup, lc);

    l->id = o->id;
    l->sk = o->sk;
    l->gate = o->gate;
    nl_stats_ref(o->gate);
    (void)nl_lst_sources(l, o); /* logged; the listener serves anyway */
    l->kept = o->kept;
    l->procs_started = o->procs_started;
    l->procs_crashed = o->procs_crashed;
    l->last_signal = o->last_signal;
    apply_socket_live(o, lc);
    nl_info(lc->name, "changed: new serving processes, old ones drain");
    nl_lst_retire(o);
    return l;
}

void
nl_reload_commit(struct nl_master *m, struct nl_reload_plan *p)
{
    struct nl_sup *s = &m->sup;
    struct nl_conf *old = m->conf;
    int respawn_all = settings_respawn(old, p->nc);

    warn_settings(m, old, p->nc);
    s->generation++;
    for (size_t i = 0; i < p->n; i++) {
        const struct nl_listener_conf *lc = &p->nc->listeners[i];
        struct lst *o = p->match[i];

        if (o == NULL)
            continue;
        if (listener_respawns(o->lc, lc, respawn_all)) {
            p->next[i] = replace_listener(m, o, lc);
            continue;
        }
        o->lc = lc; /* same spec: the processes go on serving */
        p->next[i] = o;
    }
    for (size_t j = 0; j < s->nlst; j++) {
        struct lst *o = s->lst[j];

        if (p->taken[j])
            continue;
        nl_info(o->lc->name, "removed: closing %s, its processes drain",
                o->sk.address);
        nl_transport_close(o->lc, &o->sk); /* systemd's goes back */
        nl_lst_retire(o);
    }
    free(s->lst);
    s->lst = p->next;
    s->nlst = p->n; /* p->next is the supervisor's now */
    m->conf = p->nc;
    s->conf = p->nc;
    nl_conf_free(old);
}

void
nl_reload_spawn(struct nl_reload_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->next[i] != p->match[i])
            nl_lst_spawn(p->next[i]);
}

void
nl_reload_plan_free(struct nl_reload_plan *p, int committed)
{
    for (size_t i = 0; !committed && p->next != NULL && i < p->n; i++) {
        if (p->next[i] == NULL)
            continue;
        nl_transport_close(p->next[i]->lc, &p->next[i]->sk);
        nl_lst_free(p->next[i]);
    }
    if (!committed)
        nl_conf_free(p->nc);
    if (!committed)
        free(p->next);
    free(p->match);
    free(p->taken);
    memset(p, 0, sizeof(*p));
}

int
nl_reload_apply(struct nl_master *m, struct nl_conf *nc, struct nl_errs *errs)
{
    struct nl_reload_plan p;

    nl_reload_match(m, nc, &p);
    if (nl_reload_bind(m, &p, errs) == -1) {
        nl_reload_plan_free(&p, 0);
        return -1;
    }
    /* From here on nothing fails. */
    nl_reload_commit(m, &p);
    nl_reload_spawn(&p);
    nl_reload_plan_free(&p, 1);
    return 0;
}
