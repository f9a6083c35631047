/*
 * control.c - the control socket's line discipline, on the master's loop.
 *
 * A client gets NL_CONTROL_LINE_TIMEOUT seconds from its accept and
 * NL_CONTROL_MAX_LINE bytes to send its command, and NL_CONTROL_TIMEOUT
 * seconds to read the answer; garbage, an over-long line, a client that
 * never writes, trickles or never reads its answer all end with that client
 * closed and the daemon unaffected.  At most NL_CONTROL_MAX_CLIENTS are
 * served at once.  When the table is full, a new client takes the place of
 * the oldest one that has not sent its command yet, so that connections
 * that stay silent cannot lock an operator out; only when every place holds
 * a command being answered (a reload, say) is the newcomer closed.
 * Out of descriptors, accepting pauses for a second, as it does in serving
 * processes: the socket stays readable, and watching it on would spin the
 * master.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "control.h"
#include "log.h"
#include "transport.h"
#include "util.h"

struct nl_control {
    struct ev_loop *loop;
    struct nl_socket sk;
    char *path;
    ev_io accept_w;
    ev_timer backoff_w; /* accepting paused: out of descriptors */
    nl_control_cmd_fn cmd;
    void *arg;
    struct nl_control_client *clients;
    int nclients;
};

struct nl_control_client {
    struct nl_control *ctl;
    int fd;
    ev_io io;
    ev_timer timer;
    char line[NL_CONTROL_MAX_LINE + 2]; /* the longest, its "\n", a NUL */
    size_t len;
    int dispatched; /* the command went to the callback */
    struct nl_buf out;
    struct nl_control_client *prev, *next;
};

static void
client_close(struct nl_control_client *c)
{
    struct nl_control *ctl = c->ctl;

    ev_io_stop(ctl->loop, &c->io);
    ev_timer_stop(ctl->loop, &c->timer);
    close(c->fd);
    nl_buf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        ctl->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ctl->nclients--;
    free(c);
}

static void
client_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct nl_control_client *c = io->data;

    while (c->out.len > 0) {
        ssize_t n = send(c->fd, nl_buf_head(&c->out), c->out.len, MSG_NOSIGNAL);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0)
            break;
        nl_buf_consume(&c->out, (size_t)n);
    }
    client_close(c);
}

void
nl_control_reply(struct nl_control_client *c, const char *json)
{
    struct nl_control *ctl = c->ctl;

    nl_buf_append(&c->out, json, strlen(json));
    nl_buf_append(&c->out, "\n", 1);
    c->dispatched = 1;
    ev_io_stop(ctl->loop, &c->io);
    ev_io_init(&c->io, client_write_cb, c->fd, EV_WRITE);
    c->io.data = c;
    ev_io_start(ctl->loop, &c->io);
    /* A client that never reads its answer is dropped on the timer. */
    ev_timer_stop(ctl->loop, &c->timer);
    ev_timer_set(&c->timer, NL_CONTROL_TIMEOUT, 0.0);
    ev_timer_start(ctl->loop, &c->timer);
}

static void
dispatch(struct nl_control_client *c)
{
    c->line[c->len] = '\0';
    /* Trailing white space, "\r" included, is not part of the command. */
    while (c->len > 0 &&
           (c->line[c->len - 1] == '\r' || c->line[c->len - 1] == ' ' ||
            c->line[c->len - 1] == '\t'))
        c->line[--c->len] = '\0';
    c->dispatched = 1;
    ev_io_stop(c->ctl->loop, &c->io);
    c->ctl->cmd(c->ctl->arg, c, c->line);
}

static void
client_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct nl_control_client *c = io->data;
    size_t room = sizeof(c->line) - 1 - c->len;
    ssize_t n = recv(c->fd, c->line + c->len, room, 0);
    char *nl;

    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (n == 0 && c->len > 0)
            dispatch(c);
        else
            client_close(c);
        return;
    }
    if (memchr(c->line + c->len, '\0', (size_t)n) != NULL) {
        /* A command is text; a NUL would cut it short unnoticed. */
        nl_control_reply(c, "{\"error\": \"NUL byte in command\"}");
        return;
    }
    if ((nl = memchr(c->line + c->len, '\n', (size_t)n)) != NULL) {
        c->len = (size_t)(nl - c->line);
        dispatch(c);
        return;
    }
    c->len += (size_t)n;
    if (c->len > NL_CONTROL_MAX_LINE)
        nl_control_reply(c, "{\"error\": \"command too long\"}");
}

static void
client_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct nl_control_client *c = t->data;

    /* A dispatched command whose answer is pending (a reload) waits. */
    if (c->dispatched && c->out.len == 0 && !ev_is_active(&c->io))
        return;
    client_close(c);
}

/* The oldest client still to send its command, or NULL.  The list runs
 * from the newest.  One whose bytes wait unread is passed over: it may be
 * an operator's command that this turn of the loop has not read yet. */
static struct nl_control_client *
oldest_undispatched(struct nl_control *ctl)
{
    struct nl_control_client *oldest = NULL;
    int pending;

    for (struct nl_control_client *c = ctl->clients; c != NULL; c = c->next)
        if (!c->dispatched &&
            (ioctl(c->fd, FIONREAD, &pending) == -1 || pending == 0))
            oldest = c;
    return oldest;
}

static void
backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct nl_control *ctl = t->data;

    ev_io_start(loop, &ctl->accept_w);
}

static void
accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct nl_control *ctl = io->data;
    struct nl_control_client *c;
    int fd = accept4(ctl->sk.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd == -1) {
        switch (errno) {
        case EAGAIN:
        case EINTR:
        case ECONNABORTED:
            break;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            nl_log_errno(NULL, "control socket: accept (pausing for 1 s)");
            ev_io_stop(loop, &ctl->accept_w);
            ev_timer_set(&ctl->backoff_w, 1.0, 0.0);
            ev_timer_start(loop, &ctl->backoff_w);
            break;
        default:
            nl_log_errno(NULL, "control socket: accept");
        }
        return;
    }
    if (ctl->nclients >= NL_CONTROL_MAX_CLIENTS) {
        struct nl_control_client *old = oldest_undispatched(ctl);

        /* Who has not spoken yet gives way to the newcomer; a command
         * being answered keeps its place.  Not logged: a flood of
         * connections would flood the log too. */
        if (old == NULL) {
            close(fd);
            return;
        }
        client_close(old);
    }
    c = nl_xcalloc(1, sizeof(*c));
    c->ctl = ctl;
    c->fd = fd;
    ev_io_init(&c->io, client_read_cb, fd, EV_READ);
    c->io.data = c;
    /* One deadline for the whole line: trickling bytes does not renew it. */
    ev_timer_init(&c->timer, client_timeout_cb, NL_CONTROL_LINE_TIMEOUT, 0.0);
    c->timer.data = c;
    ev_io_start(loop, &c->io);
    ev_timer_start(loop, &c->timer);
    c->next = ctl->clients;
    if (ctl->clients)
        ctl->clients->prev = c;
    ctl->clients = c;
    ctl->nclients++;
}

struct nl_control *
nl_control_open(struct ev_loop *loop, const char *path, int mode,
                nl_control_cmd_fn cmd, void *arg, char *err, size_t errlen)
{
    struct nl_control *ctl = nl_xcalloc(1, sizeof(*ctl));

    if (nl_unix_bind(path, SOCK_STREAM, mode, NL_CONTROL_MAX_CLIENTS, &ctl->sk,
                     err, errlen) == -1) {
        free(ctl);
        return NULL;
    }
    ctl->loop = loop;
    ctl->path = nl_xstrdup(path);
    ctl->cmd = cmd;
    ctl->arg = arg;
    ev_io_init(&ctl->accept_w, accept_cb, ctl->sk.fd, EV_READ);
    ctl->accept_w.data = ctl;
    ev_io_start(loop, &ctl->accept_w);
    ev_init(&ctl->backoff_w, backoff_cb);
    ctl->backoff_w.data = ctl;
    return ctl;
}

int
nl_control_peer(const struct nl_control_client *c, pid_t *pid, uid_t *uid,
                gid_t *gid)
{
    struct ucred uc;
    socklen_t len = sizeof(uc);

    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1)
        return -1;
    *pid = uc.pid;
    *uid = uc.uid;
    *gid = uc.gid;
    return 0;
}

void
nl_control_close(struct nl_control *ctl)
{
    if (ctl == NULL)
        return;
    /* An answer still queued (to "stop", say) gets one try. */
    for (struct nl_control_client *c = ctl->clients; c != NULL; c = c->next)
        if (c->out.len > 0)
            (void)!send(c->fd, nl_buf_head(&c->out), c->out.len,
                        MSG_NOSIGNAL | MSG_DONTWAIT);
    while (ctl->clients != NULL)
        client_close(ctl->clients);
    ev_io_stop(ctl->loop, &ctl->accept_w);
    ev_timer_stop(ctl->loop, &ctl->backoff_w);
    close(ctl->sk.fd);
    nl_unix_unlink(ctl->path, &ctl->sk);
    free(ctl->path);
    free(ctl);
}

void
nl_control_close_in_child(struct nl_control *ctl)
{
    close(ctl->sk.fd);
    for (struct nl_control_client *c = ctl->clients; c != NULL; c = c->next)
        close(c->fd);
}
