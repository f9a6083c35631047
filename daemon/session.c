/*
 * session.c - framing, buffering and the plugin host API for one session.
 *
 * This module does no waiting and owns no event loop: the models decide
 * when to read and write and call in here.  It does own every rule a client
 * can observe, so that a handler behaves the same under each model: how
 * lines are cut, what max_line does, how much output may queue before
 * reading pauses, and what is counted.
 *
 * Line framing avoids copying: complete lines are handed to the handler
 * straight from the read buffer; only an unterminated tail is kept in
 * s->in, bounded by max_line.  Output avoids it too: a handler's write
 * goes straight to the socket when nothing is queued before it, and only
 * what the socket does not take is kept in s->out.  Writes are queued
 * instead while more lines of the same read wait to be delivered, so that
 * a client sending many lines at once gets their answers in one write
 * (the last answer then goes out with them, gathered, without a copy).
 * Both buffers hold memory only while they hold bytes: an idle session
 * costs its struct alone.
 *
 * Bytes move through the session's transport (transport.h), never a
 * system call here, and what a model waits for is decided here too
 * (nl_session_events()), so that every model waits by the same rule.
 * Admission is admit.c's, asked by nl_session_accept().  Only this file
 * and session_proxy.c (a PROXY header before the session opens) read a
 * struct nl_session's fields.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "admit.h"
#include "conf.h"
#include "log.h"
#include "session.h"
#include "session_int.h"
#include "stats.h"
#include "util.h"

static int host_write(struct netlabd_session *ps, const void *buf, size_t len);
static void host_close(struct netlabd_session *ps);
static const char *host_peer(struct netlabd_session *ps);
static void host_set_data(struct netlabd_session *ps, void *data);
static void *host_get_data(struct netlabd_session *ps);
static void *host_listener_data(struct netlabd_session *ps);
static void host_vlog(struct netlabd_session *ps, int level, const char *fmt,
                      va_list ap);
static int host_peer_cred(struct netlabd_session *ps, pid_t *pid, uid_t *uid,
                          gid_t *gid);

static const struct netlabd_host session_host = {
    .size = sizeof(struct netlabd_host),
    .write = host_write,
    .close = host_close,
    .peer = host_peer,
    .set_data = host_set_data,
    .get_data = host_get_data,
    .listener_data = host_listener_data,
    .vlog = host_vlog,
    .peer_cred = host_peer_cred,
};

#define S(ps) ((struct nl_session *)(void *)(ps))
#define PS(s) ((struct netlabd_session *)(void *)(s))

enum nl_accept
nl_session_accept(const struct nl_session_env *env, int lfd,
                  struct nl_conn *c, struct sockaddr_storage *peer,
                  socklen_t *peer_len)
{
    if (nl_transport_accept(env->lc, lfd, c, peer, peer_len) == -1) {
        switch (errno) {
        case EAGAIN:
            return NL_ACCEPT_AGAIN;
        case EINTR:
        case ECONNABORTED:
            return NL_ACCEPT_SKIP;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            nl_log_errno(env->lc->name, "accept (pausing for 1 s)");
            return NL_ACCEPT_FULL;
        default:
            nl_log_errno(env->lc->name, "accept");
            return NL_ACCEPT_AGAIN;
        }
    }
    if (nl_admit(env, c, (struct sockaddr *)peer, *peer_len) == -1) {
        nl_conn_release(c);
        return NL_ACCEPT_SKIP;
    }
    if (nl_transport_admitted(env->lc, c) == -1) {
        nl_admit_leave(env, c);
        nl_conn_release(c);
        return NL_ACCEPT_SKIP;
    }
    return NL_ACCEPT_OK;
}

void
nl_session_stopped_accepting(const struct nl_session_env *env)
{
    /* Nothing to do if the master is gone. */
    if (env->notify_fd != -1)
        (void)!write(env->notify_fd, "S", 1);
}

void
nl_session_init(struct nl_session *s, const struct nl_session_env *env,
                const struct nl_conn *c, const struct sockaddr *peer,
                socklen_t peer_len)
{
    memset(s, 0, sizeof(*s));
    s->h.host = &session_host;
    s->env = env;
    s->lines = env->handler->framing == NETLABD_FRAMING_LINE;
    s->conn = *c;
    if (peer_len > sizeof(s->peer))
        peer_len = sizeof(s->peer);
    if (peer != NULL)
        memcpy(&s->peer, peer, peer_len);
    else
        peer_len = 0;
    s->peer_len = peer_len;
    s->started = nl_now();
    if (env->lc->proxy_protocol) {
        int t = env->lc->idle_timeout;

        s->proxy = 1;
        s->header_by = nl_now() + (t > 0 && t < NL_PROXY_TIMEOUT
                                       ? t
                                       : NL_PROXY_TIMEOUT);
    }
}

void
nl_session_init_plain(struct nl_session *s, const struct nl_session_env *env,
                      int in_fd, int out_fd, int dgram, const char *peer)
{
    struct nl_conn c;

    nl_conn_plain(&c, in_fd, out_fd);
    nl_session_init(s, env, &c, NULL, 0);
    s->dgram = dgram != 0;
    /* host_peer() formats the address only while this is empty. */
    snprintf(s->peer_text, sizeof(s->peer_text), "%s", peer);
}

void
nl_session_ending(struct nl_session *s, enum nl_end why)
{
    if (s->end != NL_END_UNKNOWN)
        return;
    s->end = (unsigned char)why;
    if (why == NL_END_IDLE)
        nl_count_add(s->env->ctr, err[NL_ERR_IDLE], 1);
}

/* The session ends in error, counted once, by why. */
static void
session_fail(struct nl_session *s, enum nl_err why)
{
    if (!s->failed) {
        nl_count_add(s->env->ctr, errors, 1);
        nl_count_add(s->env->ctr, err[why], 1);
    }
    s->failed = 1;
    nl_session_ending(s, NL_END_ERROR);
}

static const char *const end_names[] = {
    [NL_END_UNKNOWN] = "unknown",         [NL_END_CLIENT] = "client_closed",
    [NL_END_HANDLER] = "handler_closed",  [NL_END_IDLE] = "idle_timeout",
    [NL_END_LINE] = "line_too_long",      [NL_END_ERROR] = "error",
    [NL_END_STOP] = "daemon_stopping",
};

/* The access log's line for a stream session that ends (access_log). */
static void
access_line(struct nl_session *s)
{
    enum nl_end why = (enum nl_end)s->end;

    if (why == NL_END_UNKNOWN)
        why = s->eof ? NL_END_CLIENT
              : s->closing ? NL_END_HANDLER
                           : NL_END_STOP;
    nl_info(s->env->lc->name,
            "access %s duration=%.3fs in=%llu out=%llu end=%s",
            host_peer(PS(s)), nl_now() - s->started,
            (unsigned long long)s->nin, (unsigned long long)s->nout,
            end_names[why]);
}

int
nl_session_open(struct nl_session *s)
{
    const struct netlabd_handler *h = s->env->handler;

    if (s->proxy) /* opened once the header has come (session_proxy.c) */
        return 0;
    s->opened = 1;
    if (h->open != NULL && h->open(PS(s)) == -1) {
        nl_debug(s->env->lc->name, "%s: handler refused the session",
                 host_peer(PS(s)));
        session_fail(s, NL_ERR_HANDLER);
    }
    return s->failed ? -1 : 0;
}

static int
handler_ended(struct nl_session *s)
{
    nl_debug(s->env->lc->name, "%s: handler ended the session",
             host_peer(PS(s)));
    session_fail(s, NL_ERR_HANDLER);
    return -1;
}

static inline uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Hands one message to the handler's data(), timed for the histogram. */
static inline int
deliver(struct nl_session *s, const char *p, size_t n)
{
    const struct netlabd_handler *h = s->env->handler;
    uint64_t t0;
    int rc;

    if (s->failed || s->closing || h->data == NULL)
        return 0;
    t0 = now_ns();
    rc = h->data(PS(s), p, n);
    nl_hist_add(&s->env->ctr->handler_time, nl_handler_ns, now_ns() - t0);
    if (rc == -1)
        return handler_ended(s);
    return s->failed ? -1 : 0;
}

/* Delivers one line without its "\n" or "\r\n". */
static int
deliver_line(struct nl_session *s, const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    return deliver(s, p, n);
}

static int
line_too_long(struct nl_session *s)
{
    nl_errx(s->env->lc->name,
            "%s: line longer than max_line (%d bytes), closing the session",
            host_peer(PS(s)), s->env->lc->max_line);
    nl_session_ending(s, NL_END_LINE);
    session_fail(s, NL_ERR_LINE);
    return -1;
}

/* 1 when a line of len bytes (its "\n" not counted) exceeds max_line; a
 * "\r" before the "\n" does not count either. */
static int
too_long(const struct nl_session *s, const char *line, size_t len)
{
    size_t max = (size_t)s->env->lc->max_line;

    return len > max && !(len == max + 1 && line[len - 1] == '\r');
}

/*
 * Hands complete lines in buf to the handler while the output is below
 * NL_SESSION_OUT_HIGH: a burst of short lines that each make a long answer
 * is paced by how fast the client reads, not cut off.  Returns the bytes
 * used, or -1 when the session failed.
 */
static ssize_t
deliver_lines(struct nl_session *s, const char *buf, size_t n)
{
    const char *nl = memchr(buf, '\n', n), *next;
    size_t off = 0;
    int rc = 0;

    while (nl != NULL && s->out.len < NL_SESSION_OUT_HIGH && !s->closing) {
        size_t len = (size_t)(nl - (buf + off));

        if (too_long(s, buf + off, len)) {
            rc = line_too_long(s);
            break;
        }
        /* Looked for now, so that the answer to a line with more after
         * it is queued, to go out with theirs. */
        next = memchr(nl + 1, '\n', n - (off + len + 1));
        s->batch = next != NULL;
        if ((rc = deliver_line(s, buf + off, len)) == -1)
            break;
        off += len + 1;
        nl = next;
    }
    s->batch = 0;
    return rc == -1 ? -1 : (ssize_t)off;
}

/* Notes whether s->in holds lines not yet delivered (reading then pauses),
 * and refuses an unterminated line that has grown past max_line; one byte
 * over is allowed, as it may be the "\r" of a "\r\n". */
static int
check_pending(struct nl_session *s)
{
    /* After the handler closed, what is left is never delivered (nor
     * judged against max_line at EOF). */
    if (s->closing) {
        nl_buf_free(&s->in);
        s->held = 0;
        return 0;
    }
    s->held = s->in.len > 0 && memchr(nl_buf_head(&s->in), '\n', s->in.len);
    if (!s->held && s->in.len > (size_t)s->env->lc->max_line + 1)
        return line_too_long(s);
    return 0;
}

/* Delivers what it can of the input kept in s->in. */
static int
deliver_pending(struct nl_session *s)
{
    ssize_t used = 0;

    if (s->out.len < NL_SESSION_OUT_HIGH &&
        (used = deliver_lines(s, nl_buf_head(&s->in), s->in.len)) == -1)
        return -1;
    nl_buf_consume(&s->in, (size_t)used);
    if (s->in.len == 0)
        nl_buf_free(&s->in);
    return check_pending(s);
}

static int
input_lines(struct nl_session *s, const char *buf, size_t n)
{
    int had_pending = s->in.len > 0;
    ssize_t used;

    /* Common case: nothing pending, lines straight from the read buffer. */
    if (!had_pending) {
        if ((used = deliver_lines(s, buf, n)) == -1)
            return -1;
        buf += used;
        n -= (size_t)used;
    }
    /* The handler closed on one of those lines: the rest is ignored, as
     * later reads are, not judged against max_line (which would fail the
     * session and drop the answer queued before the close). */
    if (s->closing)
        return 0;
    /* An unterminated line past max_line is refused before it is kept. */
    if (!s->held && s->in.len + n > (size_t)s->env->lc->max_line + 1 &&
        memchr(buf, '\n', n) == NULL)
        return line_too_long(s);
    nl_buf_append(&s->in, buf, n);
    return had_pending ? deliver_pending(s) : check_pending(s);
}

int
nl_session_resume(struct nl_session *s)
{
    if (s->failed)
        return -1;
    if (!s->held)
        return 0;
    return deliver_pending(s);
}

static inline int
input(struct nl_session *s, const char *buf, size_t n)
{
    nl_count_add(s->env->ctr, bytes_in, n);
    s->nin += n;
    if (s->failed)
        return -1;
    if (s->closing)
        return 0;
    if (s->lines)
        return input_lines(s, buf, n);
    return deliver(s, buf, n);
}

int
nl_session_input(struct nl_session *s, const char *buf, size_t n)
{
    return input(s, buf, n);
}

int
nl_session_eof(struct nl_session *s)
{
    s->eof = 1;
    nl_session_ending(s, NL_END_CLIENT);
    if (s->in.len > 0 && s->lines) {
        int rc = too_long(s, nl_buf_head(&s->in), s->in.len)
                     ? line_too_long(s)
                     : deliver_line(s, nl_buf_head(&s->in), s->in.len);

        nl_buf_free(&s->in);
        return rc;
    }
    return s->failed ? -1 : 0;
}

/*
 * 1 when a failed read or write is a balancer's health check (a PROXY
 * LOCAL header and nothing after it) ending, as HAProxy ends its checks,
 * with a reset: the usual end of a check, not a session error.
 */
static int
check_ended(const struct nl_session *s)
{
    return s->health && s->nin == 0 && (errno == ECONNRESET || errno == EPIPE);
}

/* A read that brought no byte: the end of input, or why not. */
static enum nl_io
read_none(struct nl_session *s, ssize_t n)
{
    if (n == 0)
        return nl_session_eof(s) == -1 ? NL_IO_ERROR : NL_IO_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return NL_IO_AGAIN;
    if (check_ended(s))
        return nl_session_eof(s) == -1 ? NL_IO_ERROR : NL_IO_EOF;
    nl_info(s->env->lc->name, "%s: read failed: %s", host_peer(PS(s)),
            strerror(errno));
    session_fail(s, NL_ERR_RESET);
    return NL_IO_ERROR;
}

static inline __attribute__((always_inline)) enum nl_io
read_once(struct nl_session *s)
{
    char buf[NL_SESSION_READ_CHUNK];
    ssize_t n;

    if (__builtin_expect(s->proxy, 0))
        return nl_session_header_read(s);
    n = s->conn.ops->read(&s->conn, buf, sizeof(buf));

    if (n > 0)
        return input(s, buf, (size_t)n) == -1 ? NL_IO_ERROR : NL_IO_OK;
    return read_none(s, n);
}

enum nl_io
nl_session_read(struct nl_session *s)
{
    return read_once(s);
}

/* After a write that left `left` bytes unwritten: notes whether the
 * socket is full, or fails the session on any other error. */
static enum nl_io
written(struct nl_session *s, size_t n, size_t left)
{
    nl_count_add(s->env->ctr, bytes_out, n);
    s->nout += n;
    if (left == 0) {
        s->blocked = 0;
        return NL_IO_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        s->blocked = 1;
        return NL_IO_AGAIN;
    }
    if (check_ended(s)) {
        nl_session_ending(s, NL_END_CLIENT);
        s->failed = 1;
        return NL_IO_ERROR;
    }
    nl_info(s->env->lc->name, "%s: write failed: %s", host_peer(PS(s)),
            strerror(errno));
    session_fail(s, NL_ERR_WRITE);
    return NL_IO_ERROR;
}

enum nl_io
nl_session_flush(struct nl_session *s)
{
    size_t n;
    enum nl_io rc;

    if (s->failed)
        return NL_IO_ERROR;
    if (s->out.len == 0) /* an unused buffer has no memory to point into */
        return NL_IO_OK;
    n = nl_conn_write_all(&s->conn, nl_buf_head(&s->out), s->out.len);
    nl_buf_consume(&s->out, n);
    rc = written(s, n, s->out.len);
    /* An idle session keeps no buffer. */
    if (s->out.len == 0)
        nl_buf_free(&s->out);
    return rc;
}

static inline int
want_read(const struct nl_session *s)
{
    return !s->failed && !s->closing && !s->eof && !s->held &&
           s->out.len < NL_SESSION_OUT_HIGH;
}

static inline int
done(const struct nl_session *s)
{
    return s->failed || ((s->closing || s->eof) && s->out.len == 0);
}

static inline int
events(const struct nl_session *s)
{
    int ev = 0;

    if (s->failed)
        return 0;
    if (want_read(s))
        ev |= nl_conn_events(&s->conn, NL_EV_READ);
    /* Held lines wait for a writable socket, as their answers will: they
     * go on as output drains (nl_session_resume() after a flush), and a
     * session that holds lines wants neither to read nor, once its
     * output is all sent, anything else; without this it would wait for
     * nothing.  (A model that resumes before it waits finds output queued
     * whenever lines are held, so for it this changes nothing.) */
    if (s->out.len > 0 || s->held)
        ev |= nl_conn_events(&s->conn, NL_EV_WRITE);
    return ev;
}

static inline int
read_ready(const struct nl_session *s, int ready)
{
    return want_read(s) && (ready & nl_conn_events(&s->conn, NL_EV_READ)) != 0;
}

int
nl_session_step(struct nl_session *s, int ready)
{
    if (read_ready(s, ready))
        read_once(s);
    /* The usual end of a step, the answer all sent: wait to read again
     * (what events() says, without its tests). */
    if (want_read(s) && s->out.len == 0 && s->conn.ops->events == NULL)
        return NL_EV_READ;
    if ((s->out.len > 0 || s->held) && nl_session_flush(s) == NL_IO_OK &&
        nl_session_resume(s) == 0)
        nl_session_flush(s);
    return done(s) ? -1 : events(s);
}

int
nl_session_want_read(const struct nl_session *s)
{
    return want_read(s);
}

int
nl_session_events(const struct nl_session *s)
{
    return events(s);
}

int
nl_session_read_ready(const struct nl_session *s, int ready)
{
    return read_ready(s, ready);
}

int
nl_session_fd(const struct nl_session *s)
{
    return s->conn.fd;
}

const struct nl_conn *
nl_session_conn(const struct nl_session *s)
{
    return &s->conn;
}

int
nl_session_done(const struct nl_session *s)
{
    return done(s);
}

void
nl_session_end(struct nl_session *s)
{
    const struct netlabd_handler *h = s->env->handler;

    if (s->opened && h->close != NULL)
        h->close(PS(s));
    s->opened = 0;
    if (!s->dgram && !s->proxy && !s->unserved) {
        nl_hist_add(&s->env->ctr->duration, nl_duration_us,
                    (uint64_t)((nl_now() - s->started) * 1e6));
        if (s->env->lc->access_log)
            access_line(s);
    }
    /* Input may be left unread: the transport ends the connection so that
     * the last answer still reaches the client. */
    if (!s->failed && !s->eof)
        nl_conn_shutdown(&s->conn);
    nl_conn_release(&s->conn);
    nl_buf_free(&s->in);
    nl_buf_free(&s->out);
}

void
nl_session_datagram(const struct nl_session_env *env, int fd,
                    const struct sockaddr *peer, socklen_t peer_len,
                    const char *buf, size_t n)
{
    struct nl_session s;
    struct nl_conn c;

    nl_conn_init(&c, env->lc, fd);
    nl_session_init(&s, env, &c, peer, peer_len);
    if (peer_len < sizeof(sa_family_t) && peer != NULL) {
        /* An unbound unix sender has no address at all. */
        s.peer.ss_family = AF_UNIX;
        s.peer_len = sizeof(sa_family_t);
    }
    s.dgram = 1;
    nl_session_message(&s, buf, n);
}

void
nl_session_message(struct nl_session *s, const char *buf, size_t n)
{
    nl_count_add(s->env->ctr, total, 1);
    nl_count_add(s->env->ctr, bytes_in, n);
    s->nin = n;
    /* A datagram is one message; a line handler sees it without one
     * trailing newline. */
    if (s->env->handler->framing == NETLABD_FRAMING_LINE) {
        if (n > 0 && buf[n - 1] == '\n')
            n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    }
    deliver(s, buf, n);
    /* Datagrams are logged one by one only when debugging. */
    if (s->dgram && s->env->lc->access_log)
        nl_debug(s->env->lc->name, "access %s in=%llu out=%llu%s",
                 host_peer(PS(s)), (unsigned long long)s->nin,
                 (unsigned long long)s->nout, s->failed ? " end=error" : "");
}

int
nl_session_recv_datagram(const struct nl_session_env *env, int fd, char *buf)
{
    const struct nl_listener_conf *lc = env->lc;
    struct sockaddr_storage ss;
    socklen_t len;
    struct nl_conn c;
    struct nl_source cred, *credp = NULL;
    ssize_t n;

    nl_conn_init(&c, lc, fd);
    /* The datagram's real length, so that a cut one is noticed; a unix
     * sender's credentials, when rules or limits look at them. */
    if (nl_transport_is_unix(lc->transport) &&
        (lc->allow.n > 0 || lc->deny.n > 0 || env->sources != NULL)) {
        n = nl_source_recv(fd, buf, NL_DGRAM_MAX, &ss, &len, &cred);
        credp = &cred;
    } else {
        n = c.ops->recvfrom(&c, buf, NL_DGRAM_MAX, &ss, &len);
    }
    if (n == -1) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            nl_log_errno(env->lc->name, "recvfrom");
        return 0;
    }
    nl_count_add(env->ctr, dgram_in, 1);
    if (n > NL_DGRAM_MAX) {
        nl_warnx(
            env->lc->name, "%s: datagram of %zd bytes dropped (more than %d)",
            nl_sockaddr_text((struct sockaddr *)&ss, len, (char[128]){0}, 128),
            n, NL_DGRAM_MAX);
        nl_count_add(env->ctr, errors, 1);
        nl_count_add(env->ctr, err[NL_ERR_TOO_BIG], 1);
        nl_count_add(env->ctr, dgram_dropped, 1);
        return 1;
    }
    if (nl_admit_datagram(env, (struct sockaddr *)&ss, len, credp) == -1) {
        nl_count_add(env->ctr, dgram_dropped, 1); /* and why, by admit.c */
        return 1;
    }
    nl_session_datagram(env, fd, (struct sockaddr *)&ss, len, buf, (size_t)n);
    return 1;
}

/* Sends what is queued and buf in one gathered write; returns the bytes
 * of buf left to write, or -1 after queueing them when nothing more can
 * be written now (NL_IO_AGAIN or NL_IO_ERROR in *rc). */
static ssize_t
write_gathered(struct nl_session *s, const char *buf, size_t len,
               enum nl_io *rc)
{
    size_t queued = s->out.len;
    struct iovec iov[2] = {{nl_buf_head(&s->out), queued}, {(void *)buf, len}};
    ssize_t w;

    while ((w = s->conn.ops->writev(&s->conn, iov, 2)) == -1 && errno == EINTR)
        ;
    if (w == 0)
        errno = EIO; /* no progress and no reason: not "try again" */
    if (w < (ssize_t)queued) {
        /* The rest of the queue first: flushing tells full from failed. */
        if (w > 0) {
            nl_count_add(s->env->ctr, bytes_out, w);
            s->nout += (uint64_t)w;
            nl_buf_consume(&s->out, (size_t)w);
        }
        nl_buf_append(&s->out, buf, len);
        *rc = w == -1 || w == 0 ? written(s, 0, 1) : nl_session_flush(s);
        return -1;
    }
    nl_count_add(s->env->ctr, bytes_out, w);
    s->nout += (uint64_t)w;
    nl_buf_free(&s->out);
    return (ssize_t)(len - ((size_t)w - queued));
}

/*
 * Writes what is queued and then buf, straight from where the handler has
 * it, as far as the socket takes them; only the rest is copied into
 * s->out.  Queued bytes go out with buf in one gathered write where the
 * transport has one.
 */
static enum nl_io
write_now(struct nl_session *s, const char *buf, size_t len)
{
    enum nl_io rc = NL_IO_OK;
    size_t n;

    if (s->out.len > 0) {
        ssize_t left;

        if (s->conn.ops->writev == NULL) {
            nl_buf_append(&s->out, buf, len);
            return nl_session_flush(s);
        }
        if ((left = write_gathered(s, buf, len, &rc)) == -1)
            return rc;
        buf += len - (size_t)left;
        len = (size_t)left;
        if (len == 0) {
            s->blocked = 0;
            return NL_IO_OK;
        }
    }
    n = nl_conn_write_all(&s->conn, buf, len);
    if (n < len)
        nl_buf_append(&s->out, buf + n, len - n);
    return written(s, n, len - n);
}

/* A datagram session's write: one reply datagram. */
static int
reply_datagram(struct nl_session *s, const void *buf, size_t len)
{
    ssize_t n = s->conn.ops->sendto(&s->conn, buf, len,
                                    (struct sockaddr *)&s->peer, s->peer_len);

    if (n == -1) {
        nl_debug(s->env->lc->name, "%s: reply not sent: %s", host_peer(PS(s)),
                 strerror(errno));
        nl_count_add(s->env->ctr, errors, 1);
        nl_count_add(s->env->ctr, err[NL_ERR_WRITE], 1);
        return -1;
    }
    nl_count_add(s->env->ctr, dgram_out, 1);
    nl_count_add(s->env->ctr, bytes_out, n);
    s->nout += (uint64_t)n;
    return 0;
}

/* Every write but the usual one (host_write()). */
static int
write_queued(struct nl_session *s, const void *buf, size_t len)
{
    if (s->failed)
        return -1;
    if (s->dgram)
        return reply_datagram(s, buf, len);
    if (s->closing)
        return -1;
    if (s->out.len + len > NL_SESSION_OUT_MAX) {
        nl_errx(s->env->lc->name,
                "%s: more than %d bytes of output queued for a client that "
                "does not read, closing the session",
                host_peer(PS(s)), NL_SESSION_OUT_MAX);
        session_fail(s, NL_ERR_OVERFLOW);
        return -1;
    }
    if (s->batch || s->blocked || len == 0)
        nl_buf_append(&s->out, buf, len);
    else if (write_now(s, buf, len) == NL_IO_ERROR)
        return -1;
    return 0;
}

static int
host_write(struct netlabd_session *ps, const void *buf, size_t len)
{
    struct nl_session *s = S(ps);
    ssize_t n;

    /* The usual answer: a stream session with nothing queued, and the
     * socket takes it all. */
    if (s->failed || s->closing || s->batch || s->blocked || s->dgram ||
        s->out.len > 0 || len == 0 || len > NL_SESSION_OUT_MAX)
        return write_queued(s, buf, len);
    n = s->conn.ops->write(&s->conn, buf, len);
    if (n > 0) {
        nl_count_add(s->env->ctr, bytes_out, n);
        s->nout += (uint64_t)n;
    }
    if (n == (ssize_t)len)
        return 0;
    /* What the socket did not take, queued (or the failure noted). */
    if (n < 0) {
        if (errno != EINTR && written(s, 0, len) == NL_IO_ERROR)
            return -1;
        n = 0;
    }
    return write_queued(s, (const char *)buf + n, len - (size_t)n);
}

static void
host_close(struct netlabd_session *ps)
{
    struct nl_session *s = S(ps);

    if (!s->dgram) {
        s->closing = 1;
        nl_session_ending(s, NL_END_HANDLER);
    }
}

const char *
nl_session_peer(struct nl_session *s)
{
    return host_peer(PS(s));
}

static const char *
host_peer(struct netlabd_session *ps)
{
    struct nl_session *s = S(ps);

    if (s->peer_text[0] == '\0')
        nl_sockaddr_text((struct sockaddr *)&s->peer, s->peer_len, s->peer_text,
                         sizeof(s->peer_text));
    return s->peer_text;
}

static int
host_peer_cred(struct netlabd_session *ps, pid_t *pid, uid_t *uid, gid_t *gid)
{
    struct nl_session *s = S(ps);
    struct nl_source src = {0};

    /* A client named by a PROXY header is not the socket's peer. */
    if (s->dgram || s->env->lc->transport != NL_TRANSPORT_UNIX || s->named ||
        nl_source_peercred(&src, s->conn.fd) == -1)
        return -1;
    if (pid != NULL)
        *pid = src.pid;
    if (uid != NULL)
        *uid = (uid_t)src.uid;
    if (gid != NULL)
        *gid = (gid_t)src.gid;
    return 0;
}

static void
host_set_data(struct netlabd_session *ps, void *data)
{
    S(ps)->data = data;
}

static void *
host_get_data(struct netlabd_session *ps)
{
    return S(ps)->data;
}

static void *
host_listener_data(struct netlabd_session *ps)
{
    return S(ps)->env->listener_data;
}

static void
host_vlog(struct netlabd_session *ps, int level, const char *fmt, va_list ap)
{
    struct nl_session *s = S(ps);
    char msg[1024];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    nl_log(level, s->env->lc->name, "handler %s: %s: %s", s->env->handler->name,
           host_peer(ps), msg);
}
