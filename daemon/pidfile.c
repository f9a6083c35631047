/*
 * pidfile.c - pidfile handling.  A stale pidfile (its process is gone) is
 * simply overwritten; a pidfile whose process lives means another netlabd
 * runs on it, and start-up stops with a message rather than taking over.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pidfile.h"

static pid_t
read_pid(const char *path)
{
    char buf[32];
    ssize_t n;
    long pid;
    char *end;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    pid = strtol(buf, &end, 10);
    if (pid <= 0 || (*end != '\n' && *end != '\0'))
        return 0;
    return (pid_t)pid;
}

pid_t
nl_pidfile_running(const char *path)
{
    pid_t pid = read_pid(path);

    if (pid <= 0 || pid == getpid())
        return 0;
    if (kill(pid, 0) == 0 || errno == EPERM)
        return pid;
    return 0;
}

int
nl_pidfile_write(const char *path, pid_t pid, char *err, size_t errlen)
{
    char tmp[4096], text[32];
    int fd, n;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)pid) >=
        sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    n = snprintf(text, sizeof(text), "%ld\n", (long)pid);
    if (write(fd, text, n) != n) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) == -1) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void
nl_pidfile_remove(const char *path, pid_t pid)
{
    if (read_pid(path) == pid)
        unlink(path);
}
