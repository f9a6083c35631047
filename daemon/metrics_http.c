/*
 * metrics_http.c - `metrics_listen`: GET /metrics over HTTP/1.1 on the
 * master's loop, for a Prometheus server to scrape.  It is an open port,
 * so everything about a client is bounded: at most NL_HTTP_MAX_CLIENTS at
 * once (a newcomer takes the place of the oldest that has not finished
 * its request), NL_HTTP_MAX_REQUEST bytes of request head, read within
 * NL_HTTP_TIMEOUT seconds of the accept, and the same to read the answer.
 * A client that trickles, sends garbage or never reads only ever loses its
 * own connection; the master and the control socket go on.  The body is
 * never read: a request with one is answered and closed.  Every answer
 * closes the connection.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "metrics_http.h"
#include "transport.h"
#include "util.h"

struct client {
    struct nl_metrics_http *h;
    int fd;
    ev_io io;
    ev_timer timer;
    char req[NL_HTTP_MAX_REQUEST + 1];
    size_t len;
    int answering; /* the request is read; the answer is going out */
    struct nl_buf out;
    struct client *prev, *next;
};

struct nl_metrics_http {
    struct ev_loop *loop;
    struct nl_listener_conf lc; /* what nl_transport_open() binds */
    struct nl_socket sk;
    ev_io accept_w;
    ev_timer backoff_w;
    nl_metrics_http_fn fn;
    void *arg;
    struct client *clients;
    int nclients;
};

static void
client_close(struct client *c)
{
    struct nl_metrics_http *h = c->h;

    ev_io_stop(h->loop, &c->io);
    ev_timer_stop(h->loop, &c->timer);
    close(c->fd);
    nl_buf_free(&c->out);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        h->clients = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    h->nclients--;
    free(c);
}

static void
client_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    client_close(t->data);
}

/* The answer is sent: what the client still sends is read and dropped
 * until it closes (a bounded amount, within the timer), so that closing
 * with its bytes unread does not reset the connection before it has read
 * the answer. */
static void
client_drain_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct client *c = io->data;
    char buf[4096];
    ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return;
    c->len += n > 0 ? (size_t)n : 0;
    if (n <= 0 || c->len > NL_HTTP_MAX_DRAIN)
        client_close(c);
}

static void
client_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct client *c = io->data;
    ssize_t n = send(c->fd, nl_buf_head(&c->out), c->out.len,
                     MSG_NOSIGNAL | MSG_DONTWAIT);

    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0)
        nl_buf_consume(&c->out, (size_t)n);
    if (n <= 0) {
        client_close(c);
        return;
    }
    if (c->out.len > 0)
        return;
    shutdown(c->fd, SHUT_WR);
    c->len = 0;
    ev_io_stop(loop, &c->io);
    ev_io_init(&c->io, client_drain_cb, c->fd, EV_READ);
    c->io.data = c;
    ev_io_start(loop, &c->io);
}

/* Queues the whole answer and starts sending it. */
static void
answer(struct client *c, int code, const char *reason, const char *type,
       const struct nl_buf *body)
{
    char head[256];
    size_t blen = body != NULL ? body->len : strlen(reason) + 1;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     code, reason, type, blen);

    nl_buf_append(&c->out, head, (size_t)n);
    if (body != NULL) {
        nl_buf_append(&c->out, nl_buf_head(body), body->len);
    } else {
        nl_buf_append(&c->out, reason, strlen(reason));
        nl_buf_append(&c->out, "\n", 1);
    }
    c->answering = 1;
    ev_io_stop(c->h->loop, &c->io);
    ev_io_init(&c->io, client_write_cb, c->fd, EV_WRITE);
    c->io.data = c;
    ev_io_start(c->h->loop, &c->io);
    /* The answer too must be read in time. */
    ev_timer_stop(c->h->loop, &c->timer);
    ev_timer_set(&c->timer, NL_HTTP_TIMEOUT, 0.0);
    ev_timer_start(c->h->loop, &c->timer);
}

/* The request head is whole (it ends in an empty line): answers it. */
static void
serve(struct client *c)
{
    char *line_end = strstr(c->req, "\r\n");
    char method[16], target[256], version[16], extra;

    if (line_end != NULL)
        *line_end = '\0';
    if (line_end == NULL ||
        sscanf(c->req, "%15s %255s %15s %c", method, target, version,
               &extra) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        answer(c, 400, "Bad Request", "text/plain; charset=utf-8", NULL);
        return;
    }
    if (strcmp(target, "/metrics") != 0 &&
        strncmp(target, "/metrics?", 9) != 0) {
        answer(c, 404, "Not Found", "text/plain; charset=utf-8", NULL);
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        answer(c, 405, "Method Not Allowed", "text/plain; charset=utf-8",
               NULL);
        return;
    }
    {
        struct nl_buf body = {0};

        c->h->fn(c->h->arg, &body);
        answer(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
               &body);
        if (strcmp(method, "HEAD") == 0) /* the head alone */
            c->out.len -= body.len;
        nl_buf_free(&body);
    }
}

static void
client_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct client *c = io->data;
    ssize_t n = recv(c->fd, c->req + c->len, NL_HTTP_MAX_REQUEST - c->len,
                     MSG_DONTWAIT);

    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)n;
    c->req[c->len] = '\0';
    /* A NUL has no place in a request head (and would hide the rest of it
     * from the string functions below). */
    if (memchr(c->req, '\0', c->len) != NULL)
        answer(c, 400, "Bad Request", "text/plain; charset=utf-8", NULL);
    else if (strstr(c->req, "\r\n\r\n") != NULL ||
             strstr(c->req, "\n\n") != NULL)
        serve(c);
    else if (c->len == NL_HTTP_MAX_REQUEST)
        answer(c, 431, "Request Header Fields Too Large",
               "text/plain; charset=utf-8", NULL);
}

/* The client that has not finished its request for the longest. */
static struct client *
oldest_reading(struct nl_metrics_http *h)
{
    struct client *oldest = NULL;

    /* The list is newest first: the last one reading is the oldest. */
    for (struct client *c = h->clients; c != NULL; c = c->next)
        if (!c->answering)
            oldest = c;
    return oldest;
}

static void
backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct nl_metrics_http *h = t->data;

    ev_io_start(loop, &h->accept_w);
}

static void
accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct nl_metrics_http *h = io->data;
    struct client *c;
    int fd = accept4(h->sk.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd == -1) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM) {
            nl_log_errno(NULL, "metrics_listen: accept (pausing for 1 s)");
            ev_io_stop(loop, &h->accept_w);
            ev_timer_set(&h->backoff_w, 1.0, 0.0);
            ev_timer_start(loop, &h->backoff_w);
        }
        return;
    }
    if (h->nclients >= NL_HTTP_MAX_CLIENTS) {
        struct client *old = oldest_reading(h);

        if (old == NULL) {
            close(fd);
            return;
        }
        client_close(old);
    }
    c = nl_xcalloc(1, sizeof(*c));
    c->h = h;
    c->fd = fd;
    ev_io_init(&c->io, client_read_cb, fd, EV_READ);
    c->io.data = c;
    ev_timer_init(&c->timer, client_timeout_cb, NL_HTTP_TIMEOUT, 0.0);
    c->timer.data = c;
    ev_io_start(loop, &c->io);
    ev_timer_start(loop, &c->timer);
    c->next = h->clients;
    if (h->clients != NULL)
        h->clients->prev = c;
    h->clients = c;
    h->nclients++;
}

struct nl_metrics_http *
nl_metrics_http_open(struct ev_loop *loop, const char *host, int port,
                     nl_metrics_http_fn fn, void *arg, char *err,
                     size_t errlen)
{
    struct nl_metrics_http *h = nl_xcalloc(1, sizeof(*h));

    h->lc.name = "metrics_listen";
    h->lc.transport = NL_TRANSPORT_TCP;
    h->lc.address = (char *)host;
    h->lc.port = port;
    h->lc.backlog = NL_HTTP_MAX_CLIENTS;
    if (nl_transport_open(&h->lc, &h->sk, err, errlen) == -1) {
        free(h);
        return NULL;
    }
    h->lc.address = NULL; /* the caller's; not needed past the bind */
    h->loop = loop;
    h->fn = fn;
    h->arg = arg;
    ev_io_init(&h->accept_w, accept_cb, h->sk.fd, EV_READ);
    h->accept_w.data = h;
    ev_io_start(loop, &h->accept_w);
    ev_init(&h->backoff_w, backoff_cb);
    h->backoff_w.data = h;
    return h;
}

const char *
nl_metrics_http_address(const struct nl_metrics_http *h)
{
    return h->sk.address;
}

void
nl_metrics_http_close(struct nl_metrics_http *h)
{
    if (h == NULL)
        return;
    while (h->clients != NULL)
        client_close(h->clients);
    ev_io_stop(h->loop, &h->accept_w);
    ev_timer_stop(h->loop, &h->backoff_w);
    close(h->sk.fd);
    free(h);
}

void
nl_metrics_http_close_in_child(struct nl_metrics_http *h)
{
    if (h == NULL)
        return;
    close(h->sk.fd);
    for (struct client *c = h->clients; c != NULL; c = c->next)
        close(c->fd);
}
