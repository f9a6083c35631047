/*
 * admit.h - admission: whether a new stream connection is served, under
 * max_connections, counted across every serving process of a listener in
 * its gate (shared memory); how the master gives back what a crashed
 * process held; and how the event loops of one process share the work.
 * The access rules (access.h) and per-source limits (sources.h) are held
 * here too, for stream connections and datagrams alike.
 */
#ifndef NL_ADMIT_H
#define NL_ADMIT_H

#include <sys/socket.h>

struct nl_conn;
struct nl_counters;
struct nl_session_env;
struct nl_source;

/*
 * Admits a new stream connection c from peer: held against the listener's
 * allow and deny rules (a unix peer by its credentials, read from c's
 * socket), max_connections, and the per-source limits.  Returns 0 when it
 * may be served (counted as active and total; c->ticket notes its
 * source's count), -1 when it must be closed at once (counted as
 * refused, denied or limited; the last two logged at most once a second
 * per listener).  Every admitted connection ends with nl_admit_leave().
 */
int nl_admit(const struct nl_session_env *env, struct nl_conn *c,
             const struct sockaddr *peer, socklen_t peer_len);

/*
 * With proxy_protocol, nl_admit() takes only the connection's place under
 * max_connections (counted as active), since the client is not known
 * before the PROXY header; once it is, this holds the client at peer
 * against the rules and per-source limits and counts the session in
 * total.  named: peer is the address the header carries (not LOCAL),
 * whose credentials the socket does not know.  Returns 0, or -1 when the
 * connection must be closed (counted
 * and logged as nl_admit() does).  The connection ends with
 * nl_admit_leave() either way.
 */
int nl_admit_client(const struct nl_session_env *env, struct nl_conn *c,
                    const struct sockaddr *peer, socklen_t peer_len,
                    int named);

/*
 * A datagram from peer (or, for unix-dgram, from the sender of cred when
 * not NULL): 0 when it may be served, -1 when it must be dropped (counted
 * as denied or limited, logged as above).  Only the rules and the rate
 * per source apply: a datagram holds nothing open.
 */
int nl_admit_datagram(const struct nl_session_env *env,
                      const struct sockaddr *peer, socklen_t peer_len,
                      const struct nl_source *cred);

/* The listener's gate, of which env->gate is the `active`, or NULL. */
struct nl_counters *nl_admit_gate(const struct nl_session_env *env);

/* The admitted connection c has ended. */
void nl_admit_leave(const struct nl_session_env *env, const struct nl_conn *c);

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
