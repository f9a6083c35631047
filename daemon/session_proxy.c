/*
 * session_proxy.c - the PROXY protocol header a session reads first when
 * its listener has proxy_protocol: the session opens only once the header
 * has come, for the client it names, admitted then (nl_admit_client()).
 * A connection that sends a bad header, or none in time, is closed
 * without reaching the handler, counted by reason and logged, at most
 * once a second per listener.  The parsing is proxy.c's; the reads and
 * the session's state are session.c's, whose fields this file alone
 * shares.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "admit.h"
#include "conf.h"
#include "log.h"
#include "proxy.h"
#include "session.h"
#include "session_int.h"
#include "stats.h"
#include "util.h"

/*
 * A connection closed for want of a valid PROXY header (why), counted
 * apart from session errors and logged at most once a second per
 * listener across its serving processes, with how many since the last
 * line: a port scan must not flood the log.
 */
static void
header_failed(struct nl_session *s, int late, const char *why)
{
    static struct nl_counters own; /* without a shared gate (unit tests) */
    const struct nl_session_env *env = s->env;
    struct nl_counters *g = env->refusals != NULL ? env->refusals : &own;
    uint64_t n;

    if (late)
        nl_count_add(env->ctr, proxy_timeout, 1);
    else
        nl_count_add(env->ctr, proxy_invalid, 1);
    s->failed = 1;
    s->unserved = 1;
    __atomic_add_fetch(&g->proxy_unlogged, 1, __ATOMIC_RELAXED);
    if (!nl_log_due(&g->proxy_logged_ms))
        return;
    n = __atomic_exchange_n(&g->proxy_unlogged, 0, __ATOMIC_RELAXED);
    nl_notice(env->lc->name,
              "%s: closed without a valid PROXY header: %s (%llu such "
              "connection%s since this was last logged)",
              nl_session_peer(s), why, (unsigned long long)n,
              n == 1 ? "" : "s");
}

double
nl_session_header_left(const struct nl_session *s)
{
    double left;

    if (!s->proxy)
        return -1;
    left = s->header_by - nl_now();
    return left > 0 ? left : 0;
}

void
nl_session_header_late(struct nl_session *s)
{
    if (s->proxy)
        header_failed(s, 1, "none within the timeout");
}

/*
 * The header has come: the peer is now the client it names (a LOCAL
 * header, a balancer's health check, keeps the connection's own), who is
 * admitted and served.  What followed the header is the client's.
 */
static enum nl_io
header_done(struct nl_session *s, const struct nl_proxy *px, size_t used)
{
    char rest[NL_PROXY_MAX];
    size_t n = s->in.len - used;

    s->proxy = 0;
    s->health = px->local != 0;
    s->named = px->local == 0;
    if (!px->local) {
        memcpy(&s->peer, &px->src, px->src_len);
        s->peer_len = px->src_len;
        s->peer_text[0] = '\0';
    }
    memcpy(rest, nl_buf_head(&s->in) + used, n);
    nl_buf_free(&s->in);
    if (nl_admit_client(s->env, &s->conn, (struct sockaddr *)&s->peer,
                        s->peer_len, s->named) == -1) {
        s->failed = 1;
        s->unserved = 1;
        return NL_IO_ERROR;
    }
    if (nl_session_open(s) == -1 || (n > 0 && nl_session_input(s, rest, n) == -1))
        return NL_IO_ERROR;
    return NL_IO_OK;
}

enum nl_io
nl_session_header_read(struct nl_session *s)
{
    char buf[NL_PROXY_MAX];
    struct nl_proxy px;
    const char *why;
    size_t used;
    ssize_t n = s->conn.ops->read(&s->conn, buf, sizeof(buf) - s->in.len);

    if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
                   errno != EINTR)) {
        header_failed(s, 0, n == 0 ? "closed before a whole header"
                                   : strerror(errno));
        return NL_IO_ERROR;
    }
    if (n == -1)
        return NL_IO_AGAIN;
    nl_buf_append(&s->in, buf, (size_t)n);
    switch (nl_proxy_parse((const unsigned char *)nl_buf_head(&s->in),
                           s->in.len, &px, &used, &why)) {
    case NL_PROXY_MORE:
        return NL_IO_OK;
    case NL_PROXY_BAD:
        header_failed(s, 0, why);
        return NL_IO_ERROR;
    case NL_PROXY_OK:
        break;
    }
    return header_done(s, &px, used);
}
