/*
 * pidfile.h - the pidfile: refuse to start over a live netlabd, write it
 * atomically, remove it on exit.
 */
#ifndef NL_PIDFILE_H
#define NL_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/* The pid a pidfile names when that process is alive, else 0. */
pid_t nl_pidfile_running(const char *path);

/* Writes pid to path through a temporary file and rename(2), so a reader
 * never sees a partial file.  0, or -1 with a reason in err. */
int nl_pidfile_write(const char *path, pid_t pid, char *err, size_t errlen);

/* Removes path if it still names pid. */
void nl_pidfile_remove(const char *path, pid_t pid);

#endif /* NL_PIDFILE_H */
