/*
 * talk.h - netlabctl's side of the control socket: connecting, sending
 * and reading, each bounded by a deadline in CLOCK_MONOTONIC milliseconds.
 */
#ifndef NL_TALK_H
#define NL_TALK_H

#include <stddef.h>

/* The monotonic clock in milliseconds, for deadlines. */
long long nl_talk_now(void);

/* Connects to the unix socket at path.  Returns the (non-blocking) socket,
 * or -1 with errno set (ETIMEDOUT at the deadline). */
int nl_talk_connect(const char *path, long long deadline);

/* Sends all len bytes of buf.  Returns 0, or -1 with errno set. */
int nl_talk_send(int fd, const char *buf, size_t len, long long deadline);

/*
 * Reads until the daemon closes the connection.  Returns a NUL-terminated
 * buffer to free(), its length in *lenp, or NULL with errno set (EMSGSIZE
 * past NL_ANSWER_MAX_SIZE, ETIMEDOUT at the deadline).
 */
char *nl_talk_read(int fd, long long deadline, size_t *lenp);

#endif /* NL_TALK_H */
