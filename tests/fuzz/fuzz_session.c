/*
 * fuzz_session.c - libFuzzer target for a session's input path
 * (daemon/session.c): line framing, max_line, output pacing, EOF and
 * datagrams, with a handler that records what it is handed.
 *
 * Input: two header bytes, then chunks, each a length byte and that many
 * bytes (the last one cut short by the end of the input).  The chunks are
 * what a model would read at once, so the fuzzer picks the read
 * boundaries.  Header byte 0:
 *   bit 0      line framing (else raw)
 *   bits 1-2   how much the handler writes back per call: 0, the line,
 *              4 KiB or 40 KiB (the last two make output pass
 *              NL_SESSION_OUT_HIGH and hold lines back)
 *   bit 3      read the chunks through a pipe with nl_session_read()
 *              (else hand them to nl_session_input())
 *   bit 4      each chunk is a datagram (nl_session_message())
 * Header byte 1: max_line, 1 to 256.
 *
 * A stream session is driven as a model drives one: input only while
 * nl_session_want_read(), output flushed and held lines resumed in
 * between, EOF at the end.  What the handler saw is then compared with
 * what a plain reading of the input says it must see: every line in order
 * without its "\n" or "\r\n", up to the first line over max_line (which
 * fails the session), a "quit" line (the handler closes) or a "fail" line
 * (the handler returns -1); raw framing sees every byte in order.
 */
#include "config.h"

#include "fuzz.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlabd/plugin.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "session.h"
#include "stats.h"

static struct nl_buf seen; /* each call's bytes, then "\n" for a line */
static size_t amplify;
static int null_fd = -1;

/* A buffer's bytes; "" for an empty one, whose data may be NULL. */
static const char *
head(const struct nl_buf *b)
{
    return b->len > 0 ? nl_buf_head(b) : "";
}

static int
rec_data(struct netlabd_session *ps, const void *buf, size_t len)
{
    static char out[40960];

    nl_buf_append(&seen, buf, len);
    nl_buf_append(&seen, "\n", 1);
    if (len == 4 && memcmp(buf, "quit", 4) == 0) {
        netlabd_close(ps);
        return 0;
    }
    if (len == 4 && memcmp(buf, "fail", 4) == 0)
        return -1;
    if (amplify == 1)
        return netlabd_write(ps, buf, len);
    if (amplify > 1)
        return netlabd_write(ps, out, amplify);
    return 0;
}

static int
rec_data_raw(struct netlabd_session *ps, const void *buf, size_t len)
{
    (void)ps;
    nl_buf_append(&seen, buf, len);
    return 0;
}

/* What the line handler must have been handed for input in[0..n), ended
 * by EOF; *fails says whether the session must end failed. */
static void
expected_lines(struct nl_buf *exp, const char *in, size_t n, size_t max,
               int *fails)
{
    size_t off = 0;

    *fails = 0;
    while (off < n) {
        const char *nl = memchr(in + off, '\n', n - off);
        size_t len = nl != NULL ? (size_t)(nl - (in + off)) : n - off;
        const char *line = in + off;

        off += len + 1;
        if (len > max && !(len == max + 1 && line[len - 1] == '\r')) {
            *fails = 1;
            return;
        }
        if (len > 0 && line[len - 1] == '\r')
            len--;
        nl_buf_append(exp, line, len);
        nl_buf_append(exp, "\n", 1);
        if (len == 4 && memcmp(line, "quit", 4) == 0)
            return;
        if (len == 4 && memcmp(line, "fail", 4) == 0) {
            *fails = 1;
            return;
        }
    }
}

/* Writes output out and delivers held lines until the session may read
 * again or is done; as a model's write path does. */
static void
drain(struct nl_session *s)
{
    for (int i = 0; i < 1000 && !nl_session_done(s); i++) {
        if (nl_session_flush(s) == NL_IO_ERROR || nl_session_resume(s) == -1)
            return;
        if (nl_session_want_read(s) || (s->eof && !s->held))
            return;
    }
    if (!nl_session_done(s) && !nl_session_want_read(s) && !s->eof)
        abort(); /* output written, yet the session never reads again */
}

static void
run_stream(const struct nl_session_env *env, const uint8_t *p, size_t n,
           int use_pipe, int line, size_t max)
{
    struct nl_session s;
    struct nl_buf fed = {0}, exp = {0};
    int fds[2] = {-1, -1};
    int fails = 0;

    if (use_pipe && pipe(fds) == -1)
        abort();
    nl_session_init_plain(&s, env, use_pipe ? fds[0] : -1, null_fd, 0, "fuzz");
    if (nl_session_open(&s) == -1)
        abort();
    while (n > 0 && nl_session_want_read(&s)) {
        size_t len = p[0] < n - 1 ? p[0] : n - 1;
        const char *chunk = (const char *)p + 1;

        p += 1 + len;
        n -= 1 + len;
        if (len == 0)
            continue;
        nl_buf_append(&fed, chunk, len);
        if (use_pipe) {
            if (write(fds[1], chunk, len) != (ssize_t)len ||
                nl_session_read(&s) == NL_IO_AGAIN)
                abort(); /* a pipe takes 255 bytes; the read finds them */
        } else {
            nl_session_input(&s, chunk, len);
        }
        drain(&s);
    }
    if (!nl_session_done(&s)) {
        if (use_pipe) {
            close(fds[1]);
            fds[1] = -1;
            if (nl_session_read(&s) != NL_IO_EOF && !s.failed)
                abort();
        } else {
            nl_session_eof(&s);
        }
        drain(&s);
    }
    if (line) {
        expected_lines(&exp, head(&fed), fed.len, max, &fails);
        if (fails != (int)s.failed)
            abort();
    } else {
        nl_buf_append(&exp, head(&fed), fed.len);
    }
    if (exp.len != seen.len ||
        memcmp(head(&exp), head(&seen), exp.len) != 0)
        abort(); /* the handler saw other lines or bytes than were sent */
    nl_session_end(&s);
    if (fds[0] != -1)
        close(fds[0]);
    if (fds[1] != -1)
        close(fds[1]);
    nl_buf_free(&fed);
    nl_buf_free(&exp);
}

static void
run_dgrams(const struct nl_session_env *env, const uint8_t *p, size_t n,
           int line)
{
    while (n > 0) {
        size_t len = p[0] < n - 1 ? p[0] : n - 1, want = len;
        const char *chunk = (const char *)p + 1;
        struct nl_session s;

        p += 1 + len;
        n -= 1 + len;
        nl_buf_free(&seen);
        nl_session_init_plain(&s, env, -1, null_fd, 1, "fuzz");
        nl_session_message(&s, chunk, len);
        nl_session_end(&s);
        if (line && want > 0 && chunk[want - 1] == '\n')
            want--;
        if (line && want > 0 && chunk[want - 1] == '\r')
            want--;
        if (seen.len != want + (line ? 1 : 0) ||
            memcmp(head(&seen), chunk, want) != 0)
            abort(); /* a datagram is one message, seen whole */
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Every log line is formatted (the debug ones too), then dropped. */
    if (nl_log_open("/dev/null", NL_LOG_DEBUG) == -1 ||
        (null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t amp[] = {0, 1, 4096, 40960};
    struct netlabd_handler handler = {NETLABD_HANDLER_HEADER};
    struct nl_listener_conf lc = {0};
    struct nl_counters ctr = {0};
    uint64_t gate = 0;
    struct nl_session_env env = {0};
    int line;

    if (size < 2 || size > 65536)
        return 0;
    line = data[0] & 1;
    amplify = amp[(data[0] >> 1) & 3];
    lc.name = "fuzz";
    lc.transport = NL_TRANSPORT_TCP;
    lc.max_line = data[1] + 1;
    lc.max_connections = 1;
    handler.name = "recorder";
    handler.framing = line ? NETLABD_FRAMING_LINE : NETLABD_FRAMING_RAW;
    handler.data = line ? rec_data : rec_data_raw;
    env.lc = &lc;
    env.handler = &handler;
    env.ctr = &ctr;
    env.gate = &gate;
    env.notify_fd = -1;
    nl_buf_free(&seen);
    if (data[0] & 16)
        run_dgrams(&env, data + 2, size - 2, line);
    else
        run_stream(&env, data + 2, size - 2, (data[0] & 8) != 0, line,
                   (size_t)lc.max_line);
    nl_buf_free(&seen);
    return 0;
}
