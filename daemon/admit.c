/*
 * admit.c - admission of stream connections.  The gate is a listener's
 * count of open sessions in shared memory (the `active` of a counter slot
 * the master gives every serving process of the listener, stats.h); each
 * admitted session adds one and takes it back when it ends, and the
 * master gives back what a process that died without ending its sessions
 * still counted.  Datagrams are not admitted: they hold nothing.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "access.h"
#include "admit.h"
#include "conf.h"
#include "log.h"
#include "session.h"
#include "sources.h"
#include "stats.h"
#include "transport.h"
#include "util.h"

/* Why a source was refused, for the log. */
enum refusal { BY_RULES, TOO_MANY, TOO_FAST };

/*
 * Counts a refusal by rules or limits and logs it, at most once a second
 * per listener across its serving processes: the first refusal after a
 * quiet second is logged at once, with how many there were since the
 * last line.
 */
static void
refused(const struct nl_session_env *env, const struct nl_source *src,
        enum refusal why, int dgram)
{
    static struct nl_counters own; /* without a shared gate (unit tests) */
    struct nl_counters *g = env->refusals != NULL ? env->refusals : &own;
    const struct nl_listener_conf *lc = env->lc;
    uint64_t n;
    char text[64];

    if (why == BY_RULES)
        nl_count_add(env->ctr, denied, 1);
    else
        nl_count_add(env->ctr, limited, 1);
    __atomic_add_fetch(&g->refusals_unlogged, 1, __ATOMIC_RELAXED);
    if (!nl_log_due(&g->refusals_logged_ms))
        return;
    n = __atomic_exchange_n(&g->refusals_unlogged, 0, __ATOMIC_RELAXED);
    nl_notice(lc->name, "%s from %s refused: %s (%llu refusals since the "
              "last such line)",
              dgram ? "datagram" : "connection",
              nl_source_text(src, text, sizeof(text)),
              why == BY_RULES  ? "allow/deny rules"
              : why == TOO_MANY ? "max_connections_per_source reached"
                                : "max_connection_rate_per_source reached",
              (unsigned long long)n);
}

/* A session admitted without a per-source count (sources.h says when),
 * said at most once a second per process. */
static void
untracked(const struct nl_session_env *env, const struct nl_source *src)
{
    static uint64_t logged_ms;
    char text[64];

    if (src->family == AF_UNIX && !src->has_cred)
        return; /* nothing to count it by: not a full table */
    if (!nl_log_due(&logged_ms))
        return;
    nl_warnx(env->lc->name,
             "per-source table full: a session from %s is admitted without "
             "a per-source count",
             nl_source_text(src, text, sizeof(text)));
}

/* 1 when the listener looks at where sessions come from. */
static int
looks_at_source(const struct nl_listener_conf *lc, const struct nl_sources *t)
{
    return lc->allow.n > 0 || lc->deny.n > 0 || t != NULL;
}

static uint64_t
now_us(void)
{
    return (uint64_t)(nl_now() * 1e6);
}

/* 0 when the allow and deny rules let src (from peer) in; -1, counted
 * and logged, when they do not.  A unix peer is known by its
 * credentials, read from c's socket. */
static int
check_rules(const struct nl_session_env *env, const struct nl_conn *c,
            const struct sockaddr *peer, socklen_t peer_len, int named,
            struct nl_source *src)
{
    const struct nl_listener_conf *lc = env->lc;

    if (!looks_at_source(lc, env->sources))
        return 0;
    nl_source_from_addr(src, peer, peer_len);
    /* A client a PROXY header named is not the socket's peer. */
    if (nl_transport_is_unix(lc->transport) && !named)
        (void)nl_source_peercred(src, c->fd); /* none: no rule matches */
    if (nl_access_allowed(&lc->allow, &lc->deny, src))
        return 0;
    refused(env, src, BY_RULES, 0);
    return -1;
}

struct nl_counters *
nl_admit_gate(const struct nl_session_env *env)
{
    if (env->gate == NULL)
        return NULL;
    return (struct nl_counters *)((char *)env->gate -
                                  offsetof(struct nl_counters, active));
}

/* Takes a place under max_connections: 0, or -1 (counted) when full. */
static int
enter_gate(const struct nl_session_env *env)
{
    uint64_t n = __atomic_add_fetch(env->gate, 1, __ATOMIC_RELAXED);

    if (n > (uint64_t)env->lc->max_connections) {
        __atomic_sub_fetch(env->gate, 1, __ATOMIC_RELAXED);
        nl_count_add(env->ctr, refused, 1);
        return -1;
    }
    return 0;
}

/* A connection is open and counted: the listener's peak may be higher. */
static void
note_peak(const struct nl_session_env *env)
{
    nl_count_max(&nl_admit_gate(env)->peak_active,
                 __atomic_load_n(env->gate, __ATOMIC_RELAXED));
}

/* Holds src against the per-source limits: 0, or -1 (counted, logged). */
static int
enter_source(const struct nl_session_env *env, struct nl_conn *c,
             const struct nl_source *src)
{
    const struct nl_listener_conf *lc = env->lc;
    enum nl_src_verdict v;

    if (env->sources == NULL)
        return 0;
    v = nl_sources_enter(env->sources, src, lc->max_connections_per_source,
                         lc->max_connection_rate_per_source, 1, now_us(),
                         &c->ticket);
    if (v == NL_SRC_TOO_MANY || v == NL_SRC_TOO_FAST) {
        refused(env, src, v == NL_SRC_TOO_MANY ? TOO_MANY : TOO_FAST, 0);
        return -1;
    }
    if (v == NL_SRC_UNTRACKED)
        untracked(env, src);
    return 0;
}

int
nl_admit(const struct nl_session_env *env, struct nl_conn *c,
         const struct sockaddr *peer, socklen_t peer_len)
{
    struct nl_source src = {0};

    /* Behind a balancer the client is known only from the header: the
     * rest waits for it (nl_admit_client()). */
    if (env->lc->proxy_protocol) {
        if (enter_gate(env) == -1)
            return -1;
        nl_count_add(env->ctr, active, 1);
        note_peak(env);
        return 0;
    }
    if (check_rules(env, c, peer, peer_len, 0, &src) == -1 ||
        enter_gate(env) == -1)
        return -1;
    if (enter_source(env, c, &src) == -1) {
        __atomic_sub_fetch(env->gate, 1, __ATOMIC_RELAXED);
        return -1;
    }
    nl_count_add(env->ctr, active, 1);
    nl_count_add(env->ctr, total, 1);
    note_peak(env);
    return 0;
}

int
nl_admit_client(const struct nl_session_env *env, struct nl_conn *c,
                const struct sockaddr *peer, socklen_t peer_len, int named)
{
    struct nl_source src = {0};

    if (check_rules(env, c, peer, peer_len, named, &src) == -1 ||
        enter_source(env, c, &src) == -1)
        return -1;
    nl_count_add(env->ctr, total, 1);
    return 0;
}

int
nl_admit_datagram(const struct nl_session_env *env,
                  const struct sockaddr *peer, socklen_t peer_len,
                  const struct nl_source *cred)
{
    const struct nl_listener_conf *lc = env->lc;
    struct nl_source src;
    uint32_t ticket;

    if (!looks_at_source(lc, env->sources))
        return 0;
    if (cred != NULL)
        src = *cred;
    else
        nl_source_from_addr(&src, peer, peer_len);
    if (!nl_access_allowed(&lc->allow, &lc->deny, &src)) {
        refused(env, &src, BY_RULES, 1);
        return -1;
    }
    if (env->sources != NULL &&
        nl_sources_enter(env->sources, &src, 0,
                         lc->max_connection_rate_per_source, 0, now_us(),
                         &ticket) == NL_SRC_TOO_FAST) {
        refused(env, &src, TOO_FAST, 1);
        return -1;
    }
    return 0;
}

void
nl_admit_leave(const struct nl_session_env *env, const struct nl_conn *c)
{
    /* This order: if the process dies in between, the master gives back
     * what ctr->active says to the gate, and a gate slot can at worst be
     * lost, never given back twice. */
    nl_count_sub(env->ctr, active, 1);
    __atomic_sub_fetch(env->gate, 1, __ATOMIC_RELAXED);
    if (c->ticket != 0)
        nl_sources_leave(env->sources, c->ticket);
}

void
nl_admit_give_back(struct nl_counters *gate, const struct nl_counters *slot)
{
    __atomic_sub_fetch(&gate->active,
                       __atomic_load_n(&slot->active, __ATOMIC_RELAXED),
                       __ATOMIC_RELAXED);
}

int
nl_admit_over_share(const struct nl_session_env *env, int mine, int loops)
{
    /* More than an even share of what is open, with one of slack.  A
     * process's only loop never reads the gate, a line that every
     * serving process of the listener writes. */
    return loops > 1 &&
           (uint64_t)mine * loops >
               __atomic_load_n(env->gate, __ATOMIC_RELAXED) + loops;
}
