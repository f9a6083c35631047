/*
 * admit.c - admission of stream connections.  The gate is a listener's
 * count of open sessions in shared memory (the `active` of a counter slot
 * the master gives every serving process of the listener, stats.h); each
 * admitted session adds one and takes it back when it ends, and the
 * master gives back what a process that died without ending its sessions
 * still counted.  Datagrams are not admitted: they hold nothing.
 */
#include "config.h"

#include "admit.h"
#include "conf.h"
#include "session.h"
#include "stats.h"

int
nl_admit(const struct nl_session_env *env, const struct sockaddr *peer,
         socklen_t peer_len)
{
    uint64_t n = __atomic_add_fetch(env->gate, 1, __ATOMIC_RELAXED);

    (void)peer; /* no per-source rule yet */
    (void)peer_len;
    if (n > (uint64_t)env->lc->max_connections) {
        __atomic_sub_fetch(env->gate, 1, __ATOMIC_RELAXED);
        nl_count_add(env->ctr, refused, 1);
        return -1;
    }
    nl_count_add(env->ctr, active, 1);
    nl_count_add(env->ctr, total, 1);
    return 0;
}

void
nl_admit_leave(const struct nl_session_env *env)
{
    /* This order: if the process dies in between, the master gives back
     * what ctr->active says to the gate, and a gate slot can at worst be
     * lost, never given back twice. */
    nl_count_sub(env->ctr, active, 1);
    __atomic_sub_fetch(env->gate, 1, __ATOMIC_RELAXED);
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
