/*
 * admit.c - admission of stream connections against max_connections.
 */
#include "config.h"

#include "admit.h"
#include "conf.h"
#include "session.h"
#include "stats.h"

int
nl_session_admit(const struct nl_session_env *env)
{
    uint64_t n = __atomic_add_fetch(env->gate, 1, __ATOMIC_RELAXED);

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
nl_session_leave(const struct nl_session_env *env)
{
    /* This order: if the process dies in between, the master gives back
     * what ctr->active says to the gate, and a gate slot can at worst be
     * lost, never given back twice. */
    nl_count_sub(env->ctr, active, 1);
    __atomic_sub_fetch(env->gate, 1, __ATOMIC_RELAXED);
}
