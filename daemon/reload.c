/*
 * reload.c - applying a changed configuration to a running netlabd.
 *
 * A reload is all or nothing: the new file is parsed, its handlers are
 * loaded and initialised (in a child, while the master's loop goes on:
 * see master.c) and its new sockets are bound before anything running is
 * touched; any failure
 * leaves the old configuration as it was.  Then listeners are matched by
 * address, not by name, because the socket is what must survive:
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
 *
 * Reloads run one at a time: one asked for while another runs follows it
 * (several SIGHUPs make one more reload), and one asked for while three
 * older generations still drain waits for one of them to end (master.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activation.h"
#include "buf.h"
#include "conf.h"
#include "control.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "master_int.h"
#include "plugins.h"
#include "privs.h"
#include "reload.h"
#include "supervisor.h"
#include "notify.h"
#include "transport.h"
#include "util.h"

#define REPLY_WAIT 2.0 /* longest a reload answer waits for old processes */

/* A reload asked for while another runs: by a control client, or by
 * SIGHUP (client NULL). */
struct waiter {
    struct nl_control_client *client;
    const char *why; /* a string constant, for the log */
    struct waiter *next;
};

/* A `reload` answer held until the old processes stopped accepting. */
struct reply {
    struct nl_control_client *client;
    char *json;
    unsigned generation; /* the reload's */
    double deadline;     /* sent then at the latest */
    struct reply *next;
};

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

/* Sends the reload answers held back, once no older process accepts any
 * more (or the wait is over). */
static void
flush_replies(struct nl_master *m, int force)
{
    struct reply **rp = &m->replies;
    double now = nl_now(), next = 0;

    while (*rp != NULL) {
        struct reply *r = *rp;
        /* Only processes that reload (or an earlier one) retired count. */
        int wait = nl_sup_accepting(&m->sup, r->generation);
        if (wait && !force && now < r->deadline) {
            if (next == 0 || r->deadline < next)
                next = r->deadline;
            rp = &r->next;
            continue;
        }
        *rp = r->next;
        nl_control_reply(r->client, r->json);
        free(r->json);
        free(r);
    }
    ev_timer_stop(m->loop, &m->replies_w);
    if (next > 0) {
        ev_timer_set(&m->replies_w, next - now, 0.0);
        ev_timer_start(m->loop, &m->replies_w);
    }
}

static void
replies_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    flush_replies(t->data, 0); /* sends those whose deadline passed */
}

/*
 * Reloading.  The new file is parsed at once, its handlers are checked in
 * a child while the loop goes on (so status, restarts and logs do not wait
 * for a slow init()), and the rest is applied when the child is done.  A
 * control client gets the outcome when it is known.  A reload asked for
 * while one runs is queued and runs after it; so is one asked for while
 * NL_MAX_OLD_GENERATIONS older generations drain, until one of them ends:
 * reloads in a quick row never end a live session before its
 * shutdown_timeout, and never pile up processes.
 */
static void reload_next(struct nl_master *m);
static void flush_replies(struct nl_master *m, int force);

/* Answers a client's `reload`: at once if it failed, else once the old
 * processes stopped accepting, so that a client that connects after the
 * answer meets the new configuration. */
static void
answer_reload(struct nl_master *m, struct nl_control_client *c)
{
    struct nl_buf b = {0};
    struct reply *r;

    nl_buf_printf(&b,
                  "{\"ok\": %s, \"error\": ", m->reload_ok ? "true" : "false");
    if (m->reload_error != NULL)
        nl_json_string(&b, m->reload_error);
    else
        nl_buf_printf(&b, "null");
    nl_buf_printf(&b, ", \"generation\": %u}", m->sup.generation);
    nl_buf_append(&b, "", 1);
    if (!m->reload_ok) {
        nl_control_reply(c, nl_buf_head(&b));
        nl_buf_free(&b);
        return;
    }
    r = nl_xcalloc(1, sizeof(*r));
    r->client = c;
    r->json = nl_xstrdup(nl_buf_head(&b));
    r->generation = m->sup.generation;
    r->deadline = nl_now() + REPLY_WAIT;
    r->next = m->replies;
    m->replies = r;
    nl_buf_free(&b);
    flush_replies(m, 0);
}

/* Records the outcome of a reload, answers who asked, starts the next. */
static void
reload_done(struct nl_master *m, int rc)
{
    struct nl_control_client *c = m->reloader;

    free(m->reload_error);
    m->reload_error = NULL;
    if (rc == -1) {
        for (size_t i = 0; i < m->check_errs.n; i++)
            nl_errx(NULL, "%s", m->check_errs.msg[i]);
        m->reload_error = nl_errs_join(&m->check_errs);
    }
    nl_errs_clear(&m->check_errs);
    m->reloaded = 1;
    m->reload_ok = rc == 0;
    m->reload_time = time(NULL);
    if (rc == 0)
        nl_notice(NULL, "reloaded: generation %u%s", m->sup.generation,
                  m->reload_to_root ? "; handlers now run as root" : "");
    else
        nl_errx(NULL, "reload refused, configuration unchanged");
    /* Refused or not, the reload is over: systemd must not stay in
     * "reloading" (STATUS= then names the error). */
    nl_notify_reloaded(m);
    m->reloader = NULL;
    m->reloading = 0;
    if (c != NULL)
        answer_reload(m, c);
    reload_next(m);
}

static void
check_done(struct nl_master *m, int timed_out)
{
    struct nl_conf *nc = m->check_conf;
    int rc;

    ev_io_stop(m->loop, &m->check_w);
    ev_timer_stop(m->loop, &m->check_t);
    rc = nl_check_end(m->check, timed_out);
    m->check = NULL;
    m->check_conf = NULL;
    if (rc == 0)
        rc = nl_reload_apply(m, nc, &m->check_errs);
    else
        nl_conf_free(nc);
    reload_done(m, rc);
}

static void
check_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct nl_master *m = io->data;

    if (nl_check_read(m->check))
        check_done(m, 0);
}

static void
check_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    check_done(t->data, 1);
}

/* A stop ends a reload in progress; whoever asked, for it or for one
 * queued after it, is told. */
void
nl_reload_abort(struct nl_master *m)
{
    if (m->check == NULL) {
        reload_next(m); /* the queue, which m->sup.stopping refuses */
        return;
    }
    ev_io_stop(m->loop, &m->check_w);
    ev_timer_stop(m->loop, &m->check_t);
    (void)nl_check_end(m->check, 1); /* its verdict no longer matters */
    m->check = NULL;
    nl_conf_free(m->check_conf);
    m->check_conf = NULL;
    nl_errs_clear(&m->check_errs);
    nl_errs_add(&m->check_errs, "netlabd is stopping");
    reload_done(m, -1); /* runs the queue, which m->sup.stopping refuses */
}

static void
reload_run(struct nl_master *m, const char *why,
           struct nl_control_client *client)
{
    m->reloader = client;
    m->reloading = 1;
    if (m->sup.stopping) {
        nl_errs_add(&m->check_errs, "netlabd is stopping");
        reload_done(m, -1);
        return;
    }
    nl_notice(NULL, "%s: reloading %s", why, m->conf->file);
    nl_notify_reloading(m);
    m->reload_to_root = 0;
    if ((m->check_conf = nl_reload_parse(m, &m->check_errs)) == NULL ||
        (m->check = nl_check_start(m->check_conf, &m->check_errs)) == NULL) {
        nl_conf_free(m->check_conf);
        m->check_conf = NULL;
        reload_done(m, -1);
        return;
    }
    ev_io_init(&m->check_w, check_cb, nl_check_fd(m->check), EV_READ);
    m->check_w.data = m;
    ev_io_start(m->loop, &m->check_w);
    ev_timer_set(&m->check_t, NL_CHECK_TIMEOUT, 0.0);
    ev_timer_start(m->loop, &m->check_t);
}

/*
 * Starts the first reload asked for, unless one runs, or
 * NL_MAX_OLD_GENERATIONS older generations still drain: then it waits for
 * one of them to end (nl_reload_on_drained()), which it does at the latest
 * when its processes are killed after shutdown_timeout.  A reload that
 * waits reads the file when it runs, so it applies what was asked for
 * meanwhile too.
 */
static void
reload_next(struct nl_master *m)
{
    struct waiter *w = m->queue;
    const char *why;
    struct nl_control_client *c;

    if (w == NULL || m->reloading)
        return;
    if (!m->sup.stopping &&
        nl_sup_old_generations(&m->sup) >= NL_MAX_OLD_GENERATIONS) {
        if (!m->reload_deferred)
            nl_notice(NULL,
                      "%s: reload deferred: %d older generations still "
                      "draining",
                      w->why, NL_MAX_OLD_GENERATIONS);
        m->reload_deferred = 1;
        return;
    }
    m->reload_deferred = 0;
    m->queue = w->next;
    why = w->why;
    c = w->client;
    free(w);
    reload_run(m, why, c);
}

/* Control clients whose reload waits in the queue. */
int
nl_reload_queued_clients(const struct nl_master *m)
{
    int n = 0;

    for (const struct waiter *w = m->queue; w != NULL; w = w->next)
        n += w->client != NULL;
    return n;
}

/* A reload asked for by client (NULL: SIGHUP): now, or after those that
 * run or wait.  A SIGHUP while one waits is coalesced into it: that one
 * reads the file later.  A client's reload is its own, answered with its
 * outcome. */
void
nl_reload_request(struct nl_master *m, const char *why,
               struct nl_control_client *client)
{
    struct waiter **tail = &m->queue;

    if (client == NULL && m->queue != NULL)
        return;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = nl_xcalloc(1, sizeof(**tail));
    (*tail)->client = client;
    (*tail)->why = why;
    reload_next(m);
}

void
nl_reload_init(struct nl_master *m)
{
    ev_init(&m->check_t, check_timeout_cb);
    m->check_t.data = m;
    ev_init(&m->replies_w, replies_timeout_cb);
    m->replies_w.data = m;
}

void
nl_reload_flush(struct nl_master *m)
{
    flush_replies(m, 1);
}

void
nl_reload_on_stopped_accepting(void *arg)
{
    struct nl_master *m = arg;

    if (m->replies != NULL)
        flush_replies(m, 0);
}

void
nl_reload_on_drained(void *arg)
{
    reload_next(arg);
}
