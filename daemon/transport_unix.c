/*
 * transport_unix.c - unix stream and datagram sockets on a path.
 *
 * A socket file left behind by a netlabd that died is replaced: it is a
 * socket and nobody answers on it.  A socket somebody answers on is in use,
 * and anything that is not a socket is never deleted.  The file gets its
 * `mode` from the umask at bind(), so it is never briefly more open than
 * configured, and on close it is removed only if it is still the file this
 * process made (another netlabd may have replaced it).
 *
 * Connections are transport_sock.c's as they are; the kernel keeps no
 * time of a unix client's last byte, so the idle clock of a unix session
 * starts at accept.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "transport.h"

/* Removes a stale socket file at path.  0 when the path is free, -1 with a
 * reason in err otherwise. */
static int
clear_stale(const struct sockaddr_un *sun, int type, char *err, size_t errlen)
{
    struct stat st;
    int fd, rc;

    if (lstat(sun->sun_path, &st) == -1) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", sun->sun_path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket; not removing it",
                 sun->sun_path);
        return -1;
    }
    /* Non-blocking: a live listener whose backlog is full answers EAGAIN
     * (in use) at once instead of holding the master up. */
    if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
    close(fd);
    if (rc == 0 || (errno != ECONNREFUSED && errno != ENOENT)) {
        snprintf(err, errlen, "%s is in use by another process", sun->sun_path);
        return -1;
    }
    if (unlink(sun->sun_path) == -1 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove stale socket %s: %s",
                 sun->sun_path, strerror(errno));
        return -1;
    }
    return 0;
}

int
nl_unix_bind(const char *path, int type, int mode, int backlog,
             struct nl_socket *sk, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    struct stat st;
    mode_t old_mask = 0;
    int rc;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "%s: path longer than %zu bytes", path,
                 sizeof(sun.sun_path) - 1);
        return -1;
    }
    strcpy(sun.sun_path, path);
    if (clear_stale(&sun, type, err, errlen) == -1)
        return -1;
    sk->fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sk->fd == -1) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (mode >= 0)
        old_mask = umask(~(mode_t)mode & 0777);
    rc = bind(sk->fd, (struct sockaddr *)&sun, sizeof(sun));
    if (mode >= 0)
        umask(old_mask);
    if (rc == -1 || (type == SOCK_STREAM && listen(sk->fd, backlog) == -1)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    /* umask can only take bits away; chmod gives the exact mode. */
    if (mode >= 0 && chmod(path, (mode_t)mode) == -1) {
        snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
        unlink(path);
        goto fail;
    }
    if (lstat(path, &st) == 0) {
        sk->dev = st.st_dev;
        sk->ino = st.st_ino;
    }
    snprintf(sk->address, sizeof(sk->address), "%s", path);
    return 0;
fail:
    close(sk->fd);
    sk->fd = -1;
    return -1;
}

void
nl_unix_unlink(const char *path, const struct nl_socket *sk)
{
    struct stat st;

    if (sk->adopted)
        return; /* systemd's file */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == sk->dev &&
        st.st_ino == sk->ino)
        unlink(path);
}

static int
unix_open(const struct nl_listener_conf *lc, struct nl_socket *sk, char *err,
          size_t errlen)
{
    int type = nl_transport_socktype(lc->transport);

    return nl_unix_bind(lc->path, type, lc->mode_set ? (int)lc->mode : -1,
                        lc->backlog, sk, err, errlen);
}

static void
unix_remove(const struct nl_listener_conf *lc, const struct nl_socket *sk)
{
    nl_unix_unlink(lc->path, sk);
}

static void
unix_close(const struct nl_listener_conf *lc, struct nl_socket *sk)
{
    close(sk->fd);
    unix_remove(lc, sk);
}

const struct nl_transport_ops nl_transport_unix = {
    .name = "unix",
    .open = unix_open,
    .close = unix_close,
    .remove = unix_remove,
    .accept = nl_sock_accept,
    NL_SOCK_OPS,
};
