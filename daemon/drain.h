/*
 * drain.h - the supervisor's drains (drain.c) and the helpers every
 * serving process's end needs.  For supervisor.c only.
 */
#ifndef NL_DRAIN_H
#define NL_DRAIN_H

#include <ev.h>
#include <stddef.h>

struct drain;
struct lst;
struct nl_counters;
struct nl_sup;
struct proc;

/* Tells the owner, when it listens for that event. */
#define TELL(s, what)                                                          \
    do {                                                                       \
        if ((s)->ev.what != NULL)                                              \
            (s)->ev.what((s)->ev.arg);                                         \
    } while (0)

/* Reads the byte a serving process sent on its status pipe: 1 with it in
 * *c, 0 at EOF (or an error), -1 when there is nothing yet. */
int nl_read_status_byte(int fd, char *c);

/* pr, of l, becomes a drain, SIGKILLed after deadline if still there; the
 * process is asked to finish (SIGTERM). */
void nl_drain_new(struct lst *l, struct proc *pr, double deadline);

/* Reaps the drains that ended; 1 when one did. */
int nl_drain_reap(struct nl_sup *s);

/* Frees every drain record (netlabd exits). */
void nl_drain_free_all(struct nl_sup *s);

/* Every second: kills the drains that outstay their deadline. */
void nl_drain_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

#endif /* NL_DRAIN_H */
