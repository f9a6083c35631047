/*
 * pidfile.h - the pidfile, locked for the master's life: a second netlabd
 * on the same pidfile is refused while the lock is held, and a pidfile left
 * behind by one that died (whatever pid it names) is simply taken over.
 */
#ifndef NL_PIDFILE_H
#define NL_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Opens path (creating it 0644, close-on-exec) and takes an exclusive
 * flock() on it, without waiting.  Returns the descriptor, which holds the
 * lock until it is closed; or -1 with one line in err naming path.  When
 * another process holds the lock, errno is EWOULDBLOCK and *holder is the
 * pid the file names (0 when it names none).
 */
int nl_pidfile_lock(const char *path, pid_t *holder, char *err, size_t errlen);

/* Writes pid into the locked file fd, replacing what it held.  0, or -1
 * with one line in err naming path. */
int nl_pidfile_write(int fd, const char *path, pid_t pid, char *err,
                     size_t errlen);

/* Removes path if it is still the file fd has open, then closes fd (which
 * releases the lock).  fd -1 does nothing. */
void nl_pidfile_release(const char *path, int fd);

#endif /* NL_PIDFILE_H */
