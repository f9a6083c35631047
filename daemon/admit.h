/*
 * admit.h - admission: whether a new stream connection may be served
 * under max_connections.
 */
#ifndef NL_ADMIT_H
#define NL_ADMIT_H

struct nl_session_env;

/*
 * Counts a new stream connection against max_connections: 0 when it may be
 * served (counted as active and total), -1 when it must be closed at once
 * (counted as refused).  Every admitted connection ends with
 * nl_session_leave().
 */
int nl_session_admit(const struct nl_session_env *env);
void nl_session_leave(const struct nl_session_env *env);

#endif /* NL_ADMIT_H */
