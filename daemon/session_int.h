/*
 * session_int.h - what session.c and session_proxy.c share and no other
 * module may call.
 */
#ifndef NL_SESSION_INT_H
#define NL_SESSION_INT_H

#include "session.h"

/*
 * Reads what may be s's PROXY header, no further than its longest form;
 * once it is whole, sets the peer, admits the client and opens the
 * session, handing on what followed the header.  As nl_session_read().
 */
enum nl_io nl_session_header_read(struct nl_session *s);

#endif /* NL_SESSION_INT_H */
