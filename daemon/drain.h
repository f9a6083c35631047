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

int read_status_byte(int fd, char *c);
void close_gate(struct nl_counters *gate, struct nl_counters *slot);
void drain_free(struct drain *d);
void drain_reaped(struct nl_sup *s, struct drain *d, int status);
void drain_new(struct lst *l, struct proc *pr, double deadline);
void drain_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

#endif /* NL_DRAIN_H */
