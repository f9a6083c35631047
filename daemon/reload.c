/*
 * reload.c - the reload state machine.
 *
 * A reload is asked for by SIGHUP or by a control client (`reload`).  The
 * new file is parsed at once, its handlers are checked in a child while
 * the loop goes on (so status, restarts and logs do not wait for a slow
 * init()), and the rest is applied when the child is done
 * (reload_apply.c).  A control client gets the outcome when it is known:
 * a success once the old processes stopped accepting, so that a client
 * that connects after the answer meets the new configuration.
 *
 * Reloads run one at a time: one asked for while another runs follows it
 * (several SIGHUPs make one more reload), and one asked for while
 * NL_MAX_OLD_GENERATIONS older generations still drain waits for one of
 * them to end: reloads in a quick row never end a live session before
 * its shutdown_timeout, and never pile up processes.
 */
#include "config.h"

#include <stdlib.h>

#include "buf.h"
#include "conf.h"
#include "control.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "master_int.h"
#include "notify.h"
#include "plugins.h"
#include "reload.h"
#include "supervisor.h"
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

/* Sends the reload answers held back, once no older process accepts any
 * more (or the wait is over). */
static void
flush_replies(struct nl_master *m, int force)
{
    struct reply **rp = &m->rl.replies;
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
    ev_timer_stop(m->loop, &m->rl.replies_w);
    if (next > 0) {
        ev_timer_set(&m->rl.replies_w, next - now, 0.0);
        ev_timer_start(m->loop, &m->rl.replies_w);
    }
}

static void
replies_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    flush_replies(t->data, 0); /* sends those whose deadline passed */
}

static void reload_next(struct nl_master *m);

/* Answers a client's `reload`: at once if it failed, else once the old
 * processes stopped accepting, so that a client that connects after the
 * answer meets the new configuration. */
static void
answer_reload(struct nl_master *m, struct nl_control_client *c)
{
    struct nl_buf b = {0};
    struct nl_json j;
    struct reply *r;

    nl_json_init(&j, &b);
    nl_json_open(&j, NULL, NL_JSON_OBJECT);
    nl_reload_outcome(m, &j);
    nl_json_uint(&j, "generation", m->sup.generation);
    nl_json_close(&j);
    nl_buf_append(&b, "", 1);
    if (!m->rl.ok) {
        nl_control_reply(c, nl_buf_head(&b));
        nl_buf_free(&b);
        return;
    }
    r = nl_xcalloc(1, sizeof(*r));
    r->client = c;
    r->json = nl_xstrdup(nl_buf_head(&b));
    r->generation = m->sup.generation;
    r->deadline = nl_now() + REPLY_WAIT;
    r->next = m->rl.replies;
    m->rl.replies = r;
    nl_buf_free(&b);
    flush_replies(m, 0);
}

/* Records the outcome of a reload, answers who asked, starts the next. */
static void
reload_done(struct nl_master *m, int rc)
{
    struct nl_control_client *c = m->rl.client;

    free(m->rl.error);
    m->rl.error = NULL;
    if (rc == -1) {
        for (size_t i = 0; i < m->rl.errs.n; i++)
            nl_errx(NULL, "%s", m->rl.errs.msg[i]);
        m->rl.error = nl_errs_join(&m->rl.errs);
    }
    nl_errs_clear(&m->rl.errs);
    m->rl.done = 1;
    m->rl.ok = rc == 0;
    if (rc == 0)
        m->rl.nok++;
    else
        m->rl.nfailed++;
    m->rl.time = time(NULL);
    if (rc == 0)
        nl_notice(NULL, "reloaded: generation %u%s", m->sup.generation,
                  m->rl.to_root ? "; handlers now run as root" : "");
    else
        nl_errx(NULL, "reload refused, configuration unchanged");
    /* Refused or not, the reload is over: systemd must not stay in
     * "reloading" (STATUS= then names the error). */
    nl_notify_reloaded(m);
    m->rl.client = NULL;
    m->rl.running = 0;
    if (c != NULL)
        answer_reload(m, c);
    reload_next(m);
}

static void
check_done(struct nl_master *m, int timed_out)
{
    struct nl_conf *nc = m->rl.check_conf;
    int rc;

    ev_io_stop(m->loop, &m->rl.check_w);
    ev_timer_stop(m->loop, &m->rl.check_t);
    rc = nl_check_end(m->rl.check, timed_out);
    m->rl.check = NULL;
    m->rl.check_conf = NULL;
    if (rc == 0)
        rc = nl_reload_apply(m, nc, &m->rl.errs);
    else
        nl_conf_free(nc);
    reload_done(m, rc);
}

static void
check_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct nl_master *m = io->data;

    if (nl_check_read(m->rl.check))
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
    if (m->rl.check == NULL) {
        reload_next(m); /* the queue, which m->sup.stopping refuses */
        return;
    }
    ev_io_stop(m->loop, &m->rl.check_w);
    ev_timer_stop(m->loop, &m->rl.check_t);
    (void)nl_check_end(m->rl.check, 1); /* its verdict no longer matters */
    m->rl.check = NULL;
    nl_conf_free(m->rl.check_conf);
    m->rl.check_conf = NULL;
    nl_errs_clear(&m->rl.errs);
    nl_errs_add(&m->rl.errs, "netlabd is stopping");
    reload_done(m, -1); /* runs the queue, which m->sup.stopping refuses */
}

static void
reload_run(struct nl_master *m, const char *why,
           struct nl_control_client *client)
{
    m->rl.client = client;
    m->rl.running = 1;
    if (m->sup.stopping) {
        nl_errs_add(&m->rl.errs, "netlabd is stopping");
        reload_done(m, -1);
        return;
    }
    nl_notice(NULL, "%s: reloading %s", why, m->conf->file);
    nl_notify_reloading(m);
    m->rl.to_root = 0;
    if ((m->rl.check_conf = nl_reload_parse(m, &m->rl.errs)) == NULL ||
        (m->rl.check = nl_check_start(m->rl.check_conf, &m->rl.errs)) == NULL) {
        nl_conf_free(m->rl.check_conf);
        m->rl.check_conf = NULL;
        reload_done(m, -1);
        return;
    }
    ev_io_init(&m->rl.check_w, check_cb, nl_check_fd(m->rl.check), EV_READ);
    m->rl.check_w.data = m;
    ev_io_start(m->loop, &m->rl.check_w);
    ev_timer_set(&m->rl.check_t, NL_CHECK_TIMEOUT, 0.0);
    ev_timer_start(m->loop, &m->rl.check_t);
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
    struct waiter *w = m->rl.queue;
    const char *why;
    struct nl_control_client *c;

    if (w == NULL || m->rl.running)
        return;
    if (!m->sup.stopping &&
        nl_sup_old_generations(&m->sup) >= NL_MAX_OLD_GENERATIONS) {
        if (!m->rl.deferred)
            nl_notice(NULL,
                      "%s: reload deferred: %d older generations still "
                      "draining",
                      w->why, NL_MAX_OLD_GENERATIONS);
        m->rl.deferred = 1;
        return;
    }
    m->rl.deferred = 0;
    m->rl.queue = w->next;
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

    for (const struct waiter *w = m->rl.queue; w != NULL; w = w->next)
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
    struct waiter **tail = &m->rl.queue;

    if (client == NULL && m->rl.queue != NULL)
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
    ev_init(&m->rl.check_t, check_timeout_cb);
    m->rl.check_t.data = m;
    ev_init(&m->rl.replies_w, replies_timeout_cb);
    m->rl.replies_w.data = m;
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

    if (m->rl.replies != NULL)
        flush_replies(m, 0);
}

void
nl_reload_on_drained(void *arg)
{
    reload_next(arg);
}

void
nl_reload_outcome(const struct nl_master *m, struct nl_json *j)
{
    nl_json_bool(j, "ok", m->rl.ok);
    nl_json_str(j, "error", m->rl.error);
}
