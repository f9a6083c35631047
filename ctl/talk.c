/*
 * talk.c - netlabctl's side of the control socket: connect without
 * blocking, send the command line, read the answer until the daemon
 * closes the connection, each step bounded by one deadline, so that a
 * stopped or stuck daemon makes netlabctl fail in time, not hang.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "answer.h"
#include "talk.h"

long long
nl_talk_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or deadline passes (ETIMEDOUT). */
static int
wait_fd(int fd, short events, long long deadline)
{
    struct pollfd pfd = {.fd = fd, .events = events};

    for (;;) {
        long long left = deadline - nl_talk_now();
        int n;

        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        n = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
        if (n > 0)
            return 0;
        if (n == -1 && errno != EINTR)
            return -1;
    }
}

/*
 * Connects without blocking: a unix socket whose listen queue is full makes
 * a blocking connect() wait for ever (say, on a stopped daemon), and a
 * non-blocking one fail with EAGAIN, which no poll() event ends, so that
 * case retries until the deadline.
 */
int
nl_talk_connect(const char *path, long long deadline)
{
    struct sockaddr_un sa;
    size_t len = strlen(path);
    int fd, e;
    socklen_t elen = sizeof(e);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (len >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, len + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1)
        return -1;
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN && nl_talk_now() < deadline) {
            (void)poll(NULL, 0, 10); /* only a pause */
            continue;
        }
        if (errno != EINPROGRESS)
            goto fail;
        if (wait_fd(fd, POLLOUT, deadline) == -1)
            goto fail;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
            goto fail;
        if (e != 0) {
            errno = e;
            goto fail;
        }
        break;
    }
    return fd;
fail:
    e = errno;
    close(fd);
    errno = e;
    return -1;
}

int
nl_talk_send(int fd, const char *buf, size_t len, long long deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, deadline) == -1)
                return -1;
            continue;
        }
        if (n == -1)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * Reads until the daemon closes the connection: the answer ends there, not
 * at its newline, so a document is never cut short.  Returns a
 * NUL-terminated buffer, or NULL with errno set (EMSGSIZE past the parser's
 * limit, ETIMEDOUT at the deadline).
 */
char *
nl_talk_read(int fd, long long deadline, size_t *lenp)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap), *bigger;
    int e;

    if (buf == NULL)
        return NULL;
    for (;;) {
        ssize_t n;

        if (cap - len < 2048) {
            if (cap > NL_ANSWER_MAX_SIZE) {
                errno = EMSGSIZE;
                goto fail;
            }
            if ((bigger = realloc(buf, cap * 2)) == NULL)
                goto fail;
            buf = bigger;
            cap *= 2;
        }
        n = recv(fd, buf + len, cap - len - 1, 0);
        if (n == 0)
            break;
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            goto fail;
        if (wait_fd(fd, POLLIN, deadline) == -1)
            goto fail;
    }
    buf[len] = '\0';
    *lenp = len;
    return buf;
fail:
    e = errno;
    free(buf);
    errno = e;
    return NULL;
}
