/*
 * pool.h - a prefork pool's size, in the master (pool.c): extras started
 * on demand up to max_workers and ended when idle; what status shows of
 * every pool.  For supervisor.c and commands.c.
 */
#ifndef NL_POOL_H
#define NL_POOL_H

#include <ev.h>

struct lst;
struct nl_counters;

/* Writes into l's gate how many of its processes run (started and not
 * asked to end). */
void nl_pool_note(struct lst *l);

/* A worker of l took the last idle place: starts as many extras as
 * connections wait in the backlog (one at least), less those starting,
 * up to max_workers; at the cap with connections waiting, says so in the
 * log. */
void nl_pool_grow(struct lst *l);

/* Every second, for every prefork listener: ends the extras idle for
 * long enough, and grows the pool should a 'G' have been missed.  t->data
 * is the struct nl_sup. */
void nl_pool_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* The master, once a serving process has ended: gives back to the
 * listener's gate the idle place a prefork process held (it may have been
 * killed while waiting for a connection). */
void nl_pool_give_back(struct nl_counters *gate,
                       const struct nl_counters *slot);

/* Workers the listener runs now: a prefork pool's processes, a threads
 * pool's threads, libev's event loops. */
int nl_lst_workers_running(const struct lst *l);

/* Connections waiting for a worker now, the pool being at max_workers: a
 * threads pool's queue past its idle threads; a full prefork pool's
 * backlog (tcp: the kernel tells; 0 on a unix socket, where it cannot). */
unsigned long long nl_lst_waiting(const struct lst *l);

#endif /* NL_POOL_H */
