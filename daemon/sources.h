/*
 * sources.h - per-source limits: how many sessions each client address
 * (each uid, on unix listeners) has open and how fast it opens new ones,
 * counted across every serving process of a listener in a table in
 * shared memory that the master maps before it forks them.
 *
 * The table is bounded: 4 entries per session max_connections allows
 * (at least 1024), found by hashing the source and probing at most 32
 * places.  An entry with sessions open is never taken from its source,
 * and there are at most max_connections of those; an entry that only
 * remembers how fast its source connected is taken over by a new source
 * once that memory has expired, or, when all 32 places hold such memories,
 * the oldest one is forgotten.  Only when all 32 hold open sessions (which
 * a table four times larger than what may be open makes very unlikely) is
 * a session admitted untracked: it counts against max_connections but not
 * against its source's limit, and the log says so once a second.
 *
 * Each open session holds a cell that names the process serving it, so
 * that the master gives back what a crashed process held
 * (nl_sources_give_back()).
 */
#ifndef NL_SOURCES_H
#define NL_SOURCES_H

#include <stdint.h>
#include <sys/types.h>

struct nl_source;
struct nl_sources;

/* What nl_sources_enter() decided. */
enum nl_src_verdict {
    NL_SRC_OK,        /* admitted and counted (*ticket names its cell) */
    NL_SRC_UNTRACKED, /* admitted, not counted (table full; *ticket 0) */
    NL_SRC_TOO_MANY,  /* refused: max_connections_per_source open */
    NL_SRC_TOO_FAST   /* refused: max_connection_rate_per_source */
};

/*
 * A new table in shared memory for a listener of up to max_sessions open
 * sessions, with one reference.  Master only, before the serving
 * processes that use it are forked.  NULL with errno set on failure.
 */
struct nl_sources *nl_sources_new(uint32_t max_sessions);

/* The number of sessions the table was made for. */
uint32_t nl_sources_capacity(const struct nl_sources *t);

/* References, as the master holds them (a listener and its reload). */
void nl_sources_ref(struct nl_sources *t);
void nl_sources_unref(struct nl_sources *t);

/*
 * A new session from src, at now_us (microseconds, a monotonic clock):
 * refused when src has max_open sessions open (0: no limit) or opened
 * more than rate a second (0: no limit; a burst of `rate` at once is
 * allowed).  Sources without an address or credentials are not limited.
 * On NL_SRC_OK the session is counted until nl_sources_leave(*ticket).
 * count_open 0: a datagram, held against the rate only.
 */
enum nl_src_verdict nl_sources_enter(struct nl_sources *t,
                                     const struct nl_source *src, int max_open,
                                     int rate, int count_open, uint64_t now_us,
                                     uint32_t *ticket);

/* The session of ticket has ended (ticket 0: nothing to do). */
void nl_sources_leave(struct nl_sources *t, uint32_t ticket);

/* The master, once serving process pid has ended: ends the sessions it
 * still held.  Returns how many. */
uint32_t nl_sources_give_back(struct nl_sources *t, pid_t pid);

/* Sessions src has open now (tests, status). */
uint32_t nl_sources_open(struct nl_sources *t, const struct nl_source *src);

#endif /* NL_SOURCES_H */
