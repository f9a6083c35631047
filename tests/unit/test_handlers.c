/*
 * test_handlers.c - the five shipped handlers, each loaded from its built
 * .so and driven through a fake session: a struct of this test's own that
 * begins with struct netlabd_handle, and a host table that records what
 * the handler writes, whether it closes and what it logs.  No socket, no
 * model: what is checked here is the handler's side of the contract.
 *
 * The built handlers are found through NETLABD_PLUGIN_DIR (plugins/.libs).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netlabd/plugin.h>

#include "conf.h"
#include "plugins.h"
#include "util.h"

struct fake {
    struct netlabd_handle h; /* first, as in every real session */
    void *listener_data;
    void *data;
    const char *peer;
    char *out;
    size_t outlen;
    int writes;
    int closes;
    int logs;
    int level;      /* of the last log */
    char log[2048]; /* the last log */
};

static int
fake_write(struct netlabd_session *s, const void *buf, size_t len)
{
    struct fake *f = (struct fake *)(void *)s;

    f->out = nl_xreallocarray(f->out, f->outlen + len + 1, 1);
    memcpy(f->out + f->outlen, buf, len);
    f->outlen += len;
    f->out[f->outlen] = '\0';
    f->writes++;
    return 0;
}

static void
fake_close(struct netlabd_session *s)
{
    ((struct fake *)(void *)s)->closes++;
}

static const char *
fake_peer(struct netlabd_session *s)
{
    return ((struct fake *)(void *)s)->peer;
}

static void
fake_set_data(struct netlabd_session *s, void *data)
{
    ((struct fake *)(void *)s)->data = data;
}

static void *
fake_get_data(struct netlabd_session *s)
{
    return ((struct fake *)(void *)s)->data;
}

static void *
fake_listener_data(struct netlabd_session *s)
{
    return ((struct fake *)(void *)s)->listener_data;
}

static void
fake_vlog(struct netlabd_session *s, int level, const char *fmt, va_list ap)
{
    struct fake *f = (struct fake *)(void *)s;

    vsnprintf(f->log, sizeof(f->log), fmt, ap);
    f->level = level;
    f->logs++;
}

static const struct netlabd_host fake_host = {
    .size = sizeof(struct netlabd_host),
    .write = fake_write,
    .close = fake_close,
    .peer = fake_peer,
    .set_data = fake_set_data,
    .get_data = fake_get_data,
    .listener_data = fake_listener_data,
    .vlog = fake_vlog,
};

/* One handler, initialised for one listener, with one fake session. */
struct run {
    struct nl_plugin *p;
    const struct netlabd_handler *h;
    void *state;
    struct fake f;
};

#define S(r) ((struct netlabd_session *)(void *)&(r)->f)

/* Loads plugins/NAME.so and runs its init() with opts; returns init's
 * result, with its message in err. */
static int
start_opts(struct run *r, const char *name, struct nl_option *opts,
           size_t nopts, char *err, size_t errlen)
{
    const char *dir = getenv("NETLABD_PLUGIN_DIR");
    char *path = nl_xasprintf("%s/%s.so", dir ? dir : "plugins/.libs", name);
    struct nl_listener_conf lc;
    int line;
    int rc;

    memset(r, 0, sizeof(*r));
    memset(&lc, 0, sizeof(lc));
    lc.name = "test";
    lc.line = 1;
    lc.options = opts;
    lc.noptions = nopts;
    lc.options_line = 2;
    r->p = nl_plugin_load(path, err, errlen);
    if (r->p == NULL)
        fail_msg("%s", err);
    free(path);
    r->h = nl_plugin_handler(r->p);
    rc = nl_plugin_init(r->p, &lc, &r->state, err, errlen, &line);
    r->f.h.host = &fake_host;
    r->f.listener_data = r->state;
    r->f.peer = "192.0.2.7:5512";
    return rc;
}

static void
start(struct run *r, const char *name, struct nl_option *opts, size_t nopts)
{
    char err[1024];

    if (start_opts(r, name, opts, nopts, err, sizeof(err)) != 0)
        fail_msg("%s", err);
}

/* Forgets what the fake session recorded, for the next call. */
static void
reset(struct run *r)
{
    free(r->f.out);
    r->f.out = NULL;
    r->f.outlen = 0;
    r->f.writes = r->f.closes = r->f.logs = 0;
    r->f.log[0] = '\0';
}

static void
stop(struct run *r)
{
    if (r->h->close != NULL)
        r->h->close(S(r));
    nl_plugin_fini(r->p, r->state);
    nl_plugin_unload(r->p);
    free(r->f.out);
}

/* Calls data() and checks it went on. */
static void
send_data(struct run *r, const void *buf, size_t len)
{
    reset(r);
    assert_non_null(r->h->data);
    assert_int_equal(r->h->data(S(r), buf, len), 0);
}

static void
open_session(struct run *r)
{
    reset(r);
    if (r->h->open != NULL)
        assert_int_equal(r->h->open(S(r)), 0);
}

static void
test_echo(void **state)
{
    unsigned char bin[256], *big;
    struct run r;

    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (unsigned char)i;
    start(&r, "echo", NULL, 0);
    assert_int_equal(r.h->framing, NETLABD_FRAMING_RAW);
    open_session(&r);
    assert_int_equal(r.f.writes, 0);
    send_data(&r, bin, sizeof(bin));
    assert_int_equal(r.f.outlen, sizeof(bin));
    assert_memory_equal(r.f.out, bin, sizeof(bin));
    /* An empty datagram gets an empty reply. */
    send_data(&r, "", 0);
    assert_int_equal(r.f.writes, 1);
    assert_int_equal(r.f.outlen, 0);
    big = nl_xmalloc(100000);
    memset(big, 'x', 100000);
    send_data(&r, big, 100000);
    assert_int_equal(r.f.writes, 1);
    assert_int_equal(r.f.outlen, 100000);
    assert_memory_equal(r.f.out, big, 100000);
    assert_int_equal(r.f.closes, 0);
    assert_int_equal(r.f.logs, 0);
    free(big);
    stop(&r);
}

static void
test_upper(void **state)
{
    unsigned char bin[256], *big;
    struct run r;

    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (unsigned char)i;
    start(&r, "upper", NULL, 0);
    assert_int_equal(r.h->framing, NETLABD_FRAMING_RAW);
    open_session(&r);
    send_data(&r, bin, sizeof(bin));
    assert_int_equal(r.f.writes, 1);
    assert_int_equal(r.f.outlen, sizeof(bin));
    for (size_t i = 0; i < sizeof(bin); i++) {
        unsigned char want = i >= 'a' && i <= 'z' ? i - 'a' + 'A' : i;

        assert_int_equal((unsigned char)r.f.out[i], want);
    }
    send_data(&r, "h\xc3\xa9llo, World!\n", 15);
    assert_string_equal(r.f.out, "H\xc3\xa9LLO, WORLD!\n");
    send_data(&r, "", 0);
    assert_int_equal(r.f.writes, 1);
    assert_int_equal(r.f.outlen, 0);
    /* More than its stack buffer, still one write. */
    big = nl_xmalloc(10000);
    memset(big, 'q', 10000);
    send_data(&r, big, 10000);
    assert_int_equal(r.f.writes, 1);
    assert_int_equal(r.f.outlen, 10000);
    memset(big, 'Q', 10000);
    assert_memory_equal(r.f.out, big, 10000);
    assert_int_equal(r.f.logs, 0);
    free(big);
    stop(&r);
}

/* Checks out is "[" + one of the stamps + "] " + line + "\n". */
static void
assert_stamped(const struct fake *f, const char *a, const char *b,
               const char *line, size_t len)
{
    char *wa = nl_xasprintf("[%s] ", a), *wb = nl_xasprintf("[%s] ", b);
    size_t n = strlen(wa);

    if (f->outlen != n + len + 1 || f->out[f->outlen - 1] != '\n')
        fail_msg("bad reply: %.*s", (int)f->outlen, f->out);
    if (memcmp(f->out, wa, n) != 0 && memcmp(f->out, wb, n) != 0)
        fail_msg("reply %.*s is not stamped %s or %s", (int)f->outlen, f->out,
                 wa, wb);
    assert_memory_equal(f->out + n, line, len);
    free(wa);
    free(wb);
}

/* ctime()'s text for t, without its newline. */
static void
ctime_text(time_t t, char *buf, size_t size)
{
    snprintf(buf, size, "%.24s", ctime(&t));
}

static void
test_timestamp(void **state)
{
    char a[64], b[64];
    regex_t re;
    time_t t0;
    struct run r;

    start(&r, "timestamp", NULL, 0);
    assert_int_equal(r.h->framing, NETLABD_FRAMING_LINE);
    open_session(&r);
    assert_int_equal(r.f.writes, 0);
    t0 = time(NULL);
    send_data(&r, "hello world", 11);
    ctime_text(t0, a, sizeof(a));
    ctime_text(time(NULL), b, sizeof(b));
    assert_int_equal(r.f.writes, 1);
    assert_stamped(&r.f, a, b, "hello world", 11);
    assert_int_equal(
        regcomp(&re,
                "^\\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                "[ 123][0-9] [012][0-9]:[0-5][0-9]:[0-6][0-9] "
                "[0-9]{4}\\] hello world\n$",
                REG_EXTENDED | REG_NOSUB),
        0);
    assert_int_equal(regexec(&re, r.f.out, 0, NULL, 0), 0);
    regfree(&re);
    /* A line is bytes: a NUL in it is sent back too. */
    t0 = time(NULL);
    send_data(&r, "a\0b", 3);
    ctime_text(t0, a, sizeof(a));
    ctime_text(time(NULL), b, sizeof(b));
    assert_stamped(&r.f, a, b, "a\0b", 3);
    send_data(&r, "", 0);
    assert_int_equal(r.f.writes, 1);
    assert_int_equal(r.f.out[r.f.outlen - 2], ' ');
    assert_int_equal(r.f.logs, 0);
    stop(&r);
}

static void
strftime_now(time_t t, const char *format, char *buf, size_t size)
{
    struct tm tm;

    localtime_r(&t, &tm);
    assert_true(strftime(buf, size, format, &tm) > 0);
}

static void
test_timestamp_format(void **state)
{
    struct nl_option opts[] = {{"format", "%Y-%m-%d|%%", 3}};
    char a[64], b[64], err[1024];
    char *longfmt;
    time_t t0;
    struct run r;

    start(&r, "timestamp", opts, 1);
    t0 = time(NULL);
    send_data(&r, "x", 1);
    strftime_now(t0, "%Y-%m-%d|%%", a, sizeof(a));
    strftime_now(time(NULL), "%Y-%m-%d|%%", b, sizeof(b));
    assert_stamped(&r.f, a, b, "x", 1);
    stop(&r);

    /* A format whose text cannot fit is refused at init(). */
    longfmt = nl_xcalloc(301, 1);
    for (int i = 0; i < 100; i++)
        memcpy(longfmt + 3 * i, "%Y ", 3);
    opts[0].value = longfmt;
    assert_int_equal(start_opts(&r, "timestamp", opts, 1, err, sizeof(err)),
                     -1);
    assert_memory_equal(err, "handler timestamp: format `%Y %Y",
                        strlen("handler timestamp: format `%Y %Y"));
    nl_plugin_unload(r.p);
    free(longfmt);
}

static void
test_logger(void **state)
{
    struct run r;
    char big[2000];

    start(&r, "logger", NULL, 0);
    assert_int_equal(r.h->framing, NETLABD_FRAMING_LINE);
    open_session(&r);
    assert_int_equal(r.f.logs, 1);
    assert_int_equal(r.f.level, NETLABD_LOG_INFO);
    assert_string_equal(r.f.log, "connection from 192.0.2.7:5512");
    send_data(&r, "hello, log", 10);
    assert_int_equal(r.f.logs, 1);
    assert_int_equal(r.f.level, NETLABD_LOG_INFO);
    assert_string_equal(r.f.log, "hello, log");
    /* Bytes that could forge or garble a log line are escaped. */
    send_data(&r, "a\nb\\c\x1b[31m\xff\0%s", 14);
    assert_string_equal(r.f.log, "a\\x0ab\\\\c\\x1b[31m\\xff\\x00%s");
    /* A long line is cut, visibly. */
    memset(big, 'z', sizeof(big));
    send_data(&r, big, sizeof(big));
    assert_true(strlen(r.f.log) < 512);
    assert_string_equal(r.f.log + strlen(r.f.log) - 4, "z...");
    assert_int_equal(r.f.writes, 0);
    assert_int_equal(r.f.closes, 0);
    stop(&r);
}

static void
test_greeter(void **state)
{
    struct run r;

    start(&r, "greeter", NULL, 0);
    assert_int_equal(r.h->framing, NETLABD_FRAMING_RAW);
    open_session(&r);
    assert_string_equal(r.f.out, "Thank you for connecting\n");
    assert_int_equal(r.f.writes, 1);
    assert_int_equal(r.f.closes, 1);
    /* A datagram is answered with the message. */
    send_data(&r, "anyone?", 7);
    assert_string_equal(r.f.out, "Thank you for connecting\n");
    assert_int_equal(r.f.closes, 0);
    assert_int_equal(r.f.logs, 0);
    stop(&r);
}

static void
test_greeter_message(void **state)
{
    struct nl_option opts[] = {{"message", "Go away\n", 3}};
    struct nl_option typo[] = {{"msg", "Go away\n", 3}};
    char err[1024];
    struct run r;

    start(&r, "greeter", opts, 1);
    open_session(&r);
    assert_string_equal(r.f.out, "Go away\n");
    assert_int_equal(r.f.closes, 1);
    stop(&r);

    assert_int_equal(start_opts(&r, "greeter", typo, 1, err, sizeof(err)), -1);
    assert_string_equal(err, "unknown option `msg'");
    nl_plugin_unload(r.p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_upper),
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_timestamp_format),
        cmocka_unit_test(test_logger),
        cmocka_unit_test(test_greeter),
        cmocka_unit_test(test_greeter_message),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
