/*
 * util.c - allocation wrappers and small helpers shared by every module.
 * Allocation failure aborts: netlabd's allocations are small and bounded,
 * and a daemon that limps on without memory serves nobody well.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void
nl_oom(void)
{
    static const char msg[] = "netlabd: out of memory\n";

    /* The result is ignored: there is nothing left to report it with. */
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    abort();
}

void *
nl_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        nl_oom();
    return p;
}

void *
nl_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        nl_oom();
    return p;
}

void *
nl_xreallocarray(void *p, size_t n, size_t size)
{
    if (size && n > (size_t)-1 / size)
        nl_oom();
    p = realloc(p, n * size > 0 ? n * size : 1);
    if (p == NULL)
        nl_oom();
    return p;
}

char *
nl_xstrdup(const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        nl_oom();
    return p;
}

char *
nl_xvasprintf(const char *fmt, va_list ap)
{
    char *s;

    if (vasprintf(&s, fmt, ap) == -1)
        nl_oom();
    return s;
}

char *
nl_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = nl_xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

int
nl_str_equal(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

char *
nl_path_resolve(const char *file, const char *path)
{
    const char *slash = strrchr(file, '/');
    char cwd[4096];

    if (path[0] == '/')
        return nl_xstrdup(path);
    /* Absolute, so that the result survives the daemon's chdir("/"). */
    if (slash != NULL && file[0] == '/')
        return nl_xasprintf("%.*s/%s", (int)(slash - file), file, path);
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return slash ? nl_xasprintf("%.*s/%s", (int)(slash - file), file, path)
                     : nl_xstrdup(path);
    if (slash == NULL)
        return nl_xasprintf("%s/%s", cwd, path);
    return nl_xasprintf("%s/%.*s/%s", cwd, (int)(slash - file), file, path);
}

char *
nl_path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return nl_xstrdup(".");
    if (slash == path)
        return nl_xstrdup("/");
    return nl_xasprintf("%.*s", (int)(slash - path), path);
}

int
nl_set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl == -1)
        return -1;
    fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    return fcntl(fd, F_SETFL, fl);
}

int
nl_set_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);

    if (fl == -1)
        return -1;
    return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

pid_t
nl_fork(void)
{
    sigset_t all, old;
    pid_t pid;
    int saved;

    fflush(NULL);
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid = fork();
    saved = errno;
    if (pid != 0)
        sigprocmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return pid;
}

double
nl_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
nl_hostport_split(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon, *h = s, *p;
    size_t hlen;
    char *end;
    long v;

    if (s[0] == '[') { /* "[2001:db8::1]:9109" */
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        p = close + 2;
    } else {
        if ((colon = strrchr(s, ':')) == NULL || strchr(s, ':') != colon)
            return -1; /* none, or an IPv6 literal without brackets */
        hlen = (size_t)(colon - s);
        p = colon + 1;
    }
    if (hlen == 0 || hlen >= hostlen || *p < '0' || *p > '9')
        return -1;
    errno = 0;
    v = strtol(p, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return 0;
}
