/*
 * control.h - the control socket: a unix stream socket on which a client
 * writes one command line and gets one JSON document and a newline back.
 * This module does the socket and the line discipline; what a command
 * means is the master's business (a callback).
 */
#ifndef NL_CONTROL_H
#define NL_CONTROL_H

#include <stddef.h>

struct ev_loop;
struct nl_control;
struct nl_control_client;

/* Called with one command line (without its newline).  The callee answers
 * with nl_control_reply(), now or later. */
typedef void (*nl_control_cmd_fn)(void *arg, struct nl_control_client *c,
                                  const char *line);

#define NL_CONTROL_MAX_LINE     1024 /* longer commands are refused */
#define NL_CONTROL_LINE_TIMEOUT 2.0  /* seconds from accept to send it */
#define NL_CONTROL_TIMEOUT      5.0  /* seconds to read the answer */
/* Served at once; past this a newcomer takes the place of the oldest
 * client that has not sent its command yet. */
#define NL_CONTROL_MAX_CLIENTS 64

/*
 * Binds the control socket at path with mode (replacing a stale socket
 * file; one in use means another netlabd runs) and serves it on loop.
 * Returns the control, or NULL with a reason in err.
 */
struct nl_control *nl_control_open(struct ev_loop *loop, const char *path,
                                   int mode, nl_control_cmd_fn cmd, void *arg,
                                   char *err, size_t errlen);

/* Sends json and a newline to the client, then closes it. */
void nl_control_reply(struct nl_control_client *c, const char *json);

/* The credentials of the process that connected as c (SO_PEERCRED):
 * 0, or -1 with errno set. */
int nl_control_peer(const struct nl_control_client *c, pid_t *pid, uid_t *uid,
                    gid_t *gid);

/* Closes the socket and all clients and removes the socket file. */
void nl_control_close(struct nl_control *ctl);

/*
 * In a child forked from the master: closes the control socket and every
 * client connection, without touching the master's loop.  A client whose
 * connection lived on in a child would never see its answer end.
 */
void nl_control_close_in_child(struct nl_control *ctl);

#endif /* NL_CONTROL_H */
