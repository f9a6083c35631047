/*
 * admit.h - admission: whether a new stream connection is served, under
 * max_connections, counted across every serving process of a listener in
 * its gate (shared memory); how the master gives back what a crashed
 * process held; and how the event loops of one process share the work.
 * Each rule is handed what a per-source rule would need (the peer), so
 * that such a limit is one more function here.
 */
#ifndef NL_ADMIT_H
#define NL_ADMIT_H

#include <sys/socket.h>

struct nl_counters;
struct nl_session_env;

/*
 * Counts a new stream connection from peer against max_connections: 0
 * when it may be served (counted as active and total), -1 when it must be
 * closed at once (counted as refused).  Every admitted connection ends
 * with nl_admit_leave().
 */
int nl_admit(const struct nl_session_env *env, const struct sockaddr *peer,
             socklen_t peer_len);

/* An admitted connection has ended. */
void nl_admit_leave(const struct nl_session_env *env);

/*
 * The master, once a serving process has ended however it ended: gives
 * back to the listener's gate the sessions the process still counted as
 * active in its slot (a crashed process could not).
 */
void nl_admit_give_back(struct nl_counters *gate,
                        const struct nl_counters *slot);

/*
 * 1 when an event loop serving `mine` sessions, one of `loops` loops of
 * the process on the same socket, should leave the next connection to the
 * others: otherwise the first loop to wake takes whole bursts.
 */
int nl_admit_over_share(const struct nl_session_env *env, int mine,
                        int loops);

#endif /* NL_ADMIT_H */
