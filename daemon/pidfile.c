/*
 * pidfile.c - the pidfile, locked with flock() for the master's life.
 *
 * The lock, not the pid written in the file, says whether a netlabd runs
 * on it: a pid can be reused by any process after a crash or a reboot,
 * while a lock goes with its holder.  The file is written in place (a
 * rename would swap the inode under the lock); a reader may see it empty
 * for an instant while it is being written.  The descriptor is
 * close-on-exec, and serving processes close it after fork, so that the
 * lock dies with the master even while its old children drain.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidfile.h"

static pid_t
read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    long pid;
    char *end;

    if (n <= 0)
        return 0;
    buf[n] = '\0';
    pid = strtol(buf, &end, 10);
    if (pid <= 0 || (*end != '\n' && *end != '\0'))
        return 0;
    return (pid_t)pid;
}

/* 1 when fd is still the file at path: one that stopped (unlinking it
 * under its lock) while we opened it leaves us a deleted file. */
static int
still_there(int fd, const char *path)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

int
nl_pidfile_lock(const char *path, pid_t *holder, char *err, size_t errlen)
{
    *holder = 0;
    /* A few rounds at most: each means another netlabd just stopped. */
    for (int tries = 0; tries < 5; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

        if (fd == -1) {
            snprintf(err, errlen, "pidfile %s: %s", path, strerror(errno));
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
            int saved = errno;

            if (saved == EWOULDBLOCK) {
                *holder = read_pid(fd);
                if (*holder > 0)
                    snprintf(err, errlen,
                             "netlabd is already running (pid %ld, pidfile "
                             "%s)",
                             (long)*holder, path);
                else
                    snprintf(err, errlen,
                             "netlabd is already running (pidfile %s is "
                             "locked)",
                             path);
            } else {
                snprintf(err, errlen, "pidfile %s: lock: %s", path,
                         strerror(saved));
            }
            close(fd);
            errno = saved;
            return -1;
        }
        if (still_there(fd, path))
            return fd;
        close(fd);
    }
    snprintf(err, errlen, "pidfile %s: keeps being replaced", path);
    errno = EAGAIN;
    return -1;
}

int
nl_pidfile_write(int fd, const char *path, pid_t pid, char *err, size_t errlen)
{
    char text[32];
    int n = snprintf(text, sizeof(text), "%ld\n", (long)pid);

    errno = 0;
    if (ftruncate(fd, 0) == -1 || pwrite(fd, text, (size_t)n, 0) != n) {
        snprintf(err, errlen, "pidfile %s: %s", path,
                 errno ? strerror(errno) : "short write");
        return -1;
    }
    return 0;
}

void
nl_pidfile_release(const char *path, int fd)
{
    if (fd == -1)
        return;
    /* Unlinked while still locked: a netlabd starting now finds our lock
     * or creates a fresh file. */
    if (still_there(fd, path))
        unlink(path);
    close(fd);
}
