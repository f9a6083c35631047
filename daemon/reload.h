/*
 * reload.h - applying a changed configuration to a running netlabd: the
 * queue of reloads asked for (SIGHUP, control clients), the handler check,
 * the answers held back, and the steps that apply a checked configuration
 * (match, bind the new addresses, commit).  The master starts reloads
 * and is told how they end; commands.c queues the ones a client asks for
 * and writes their outcome into status.
 */
#ifndef NL_RELOAD_H
#define NL_RELOAD_H

#include <stddef.h>

struct lst;
struct nl_conf;
struct nl_control_client;
struct nl_errs;
struct nl_json;
struct nl_master;

/* At most this many older generations drain at once: a reload waits
 * while they do. */
#define NL_MAX_OLD_GENERATIONS 3

/* At most this many control clients wait for a queued reload; more are
 * refused at once, so that they cannot take every place of the control
 * socket (NL_CONTROL_MAX_CLIENTS). */
#define NL_MAX_QUEUED_RELOADS 8

/* Readies the reload's timers on m->loop. */
void nl_reload_init(struct nl_master *m);

/* A reload asked for by client (NULL: SIGHUP; why is a string constant
 * for the log): now, or after those that run or wait.  A client is
 * answered when it is done. */
void nl_reload_request(struct nl_master *m, const char *why,
                       struct nl_control_client *client);

/* Control clients whose reload waits in the queue. */
int nl_reload_queued_clients(const struct nl_master *m);

/* netlabd stops: a reload in progress ends, those queued are refused, and
 * whoever asked is told. */
void nl_reload_abort(struct nl_master *m);

/* Sends the answers held back, even if older processes still accept. */
void nl_reload_flush(struct nl_master *m);

/* The last reload's "ok" and "error" members (the `reload` answer's, and
 * status's last_reload). */
void nl_reload_outcome(const struct nl_master *m, struct nl_json *j);

/* The supervisor's events, arg the master: a draining process stopped
 * accepting (a held answer may go), or ended (a deferred reload may). */
void nl_reload_on_stopped_accepting(void *arg);
void nl_reload_on_drained(void *arg);

/*
 * The steps, around the handler check (which runs in a child while the
 * master's loop goes on).  nl_reload_parse() reads the config file again
 * as it was named at start-up; NULL after adding FILE:LINE errors to errs.
 * nl_reload_apply() binds the new addresses and applies nc; it takes nc.
 * Returns 0, or -1 with the errors in errs and the running configuration
 * untouched.
 */
struct nl_conf *nl_reload_parse(struct nl_master *m, struct nl_errs *errs);
int nl_reload_apply(struct nl_master *m, struct nl_conf *nc,
                    struct nl_errs *errs);

/*
 * nl_reload_apply() in its steps, for the tests.  A plan says, for each
 * listener of nc, which current listener's socket it takes (match[i], or
 * NULL for a new address) and what serves it after the commit (next[i]);
 * taken[j] is 1 for each current listener matched.
 *
 *  - nl_reload_match() fills match and taken; nothing changes;
 *  - nl_reload_bind() opens the new addresses (and log_target); -1 with
 *    errors in errs, and nothing running touched: nl_reload_plan_free()
 *    then closes what it opened;
 *  - nl_reload_commit() cannot fail: keeps, replaces (the old processes
 *    drain) or removes each current listener and makes nc the running
 *    configuration; nl_reload_spawn() then starts the new processes.
 */
struct nl_reload_plan {
    struct nl_conf *nc;
    size_t n;
    struct lst **match;
    struct lst **next;
    unsigned char *taken;
};

void nl_reload_match(const struct nl_master *m, struct nl_conf *nc,
                     struct nl_reload_plan *p);
int nl_reload_bind(struct nl_master *m, struct nl_reload_plan *p,
                   struct nl_errs *errs);
void nl_reload_commit(struct nl_master *m, struct nl_reload_plan *p);
void nl_reload_spawn(struct nl_reload_plan *p);
/* Frees the plan.  Before a commit (committed 0) it also closes the
 * sockets nl_reload_bind() opened and frees nc; after one, those belong to
 * the master and its supervisor. */
void nl_reload_plan_free(struct nl_reload_plan *p, int committed);

#endif /* NL_RELOAD_H */
