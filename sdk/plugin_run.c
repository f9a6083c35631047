/*
 * plugin_run.c - netlabd-plugin-run: serves standard input to a handler as
 * one session and writes its replies to standard output, so that a plugin
 * author can try a handler without a config, a socket or a daemon:
 *
 *   printf 'hi\n' | netlabd-plugin-run ./my.so
 *
 * Nothing here decides what a handler sees.  The handler is loaded and its
 * options checked by the daemon's loader (plugins.c), and the bytes go
 * through the daemon's session code (session.c) over two plain descriptors:
 * framing, max_line, the rule that a handler's -1 ends the session, and
 * what reaches the peer are the same as under netlabd.  What this file owns
 * is the command line, the one listener it makes up (options from -o,
 * max_line from -m) and the exit status.
 *
 * In datagram mode (-u) every line of input, with its newline, is one
 * datagram, and every write of the handler is one reply written as it is.
 * Lines are the unit because a read from a pipe or a terminal has no
 * boundaries a user can predict.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlabd/plugin.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "plugins.h"
#include "session.h"
#include "stats.h"
#include "util.h"

#define PROG "netlabd-plugin-run"

/* Exit statuses, as netlabd-plugin-run(1) documents them. */
#define EXIT_OK      0
#define EXIT_SETUP   1 /* usage, load, or init() refused its options */
#define EXIT_SESSION 2 /* the session (or a datagram) ended in an error */

/* The peer's name in the handler's netlabd_peer() and in log lines. */
#define PEER "stdin"

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " [-u] [-m BYTES] [-o KEY=VALUE]... HANDLER.so\n"
            "Serves standard input to a netlabd handler as one session and\n"
            "writes its replies to standard output.\n"
            "  -o, --option KEY=VALUE  an option for the handler's init(), as\n"
            "                          in the listener's options group\n"
            "  -m, --max-line BYTES    longest line for a line handler "
            "(default %d)\n"
            "  -u, --datagram          datagram mode: each input line is one\n"
            "                          datagram, each reply is written as is\n"
            "  -V, --version           print the version and exit\n"
            "  -h, --help              print this help and exit\n"
            "Exit status: 0 served, 1 usage, load or init() error, "
            "2 the session failed.\n",
            NL_DEFAULT_MAX_LINE);
}

/* Adds -o KEY=VALUE to the made-up listener; -1 after saying why not. */
static int
add_option(struct nl_listener_conf *lc, const char *arg)
{
    const char *eq = strchr(arg, '=');
    struct nl_option *o;

    if (eq == NULL || eq == arg) {
        fprintf(stderr, PROG ": -o %s: expected KEY=VALUE\n", arg);
        return -1;
    }
    for (size_t i = 0; i < lc->noptions; i++) {
        if (strlen(lc->options[i].key) == (size_t)(eq - arg) &&
            strncmp(lc->options[i].key, arg, (size_t)(eq - arg)) == 0) {
            fprintf(stderr, PROG ": -o %s: option `%s' given twice\n", arg,
                    lc->options[i].key);
            return -1;
        }
    }
    lc->options =
        realloc(lc->options, (lc->noptions + 1) * sizeof(*lc->options));
    if (lc->options == NULL) {
        perror(PROG);
        exit(EXIT_SETUP);
    }
    o = &lc->options[lc->noptions++];
    o->key = nl_xasprintf("%.*s", (int)(eq - arg), arg);
    o->value = nl_xstrdup(eq + 1);
    o->line = 0;
    return 0;
}

static int
parse_max_line(const char *arg, int *max_line)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 1 ||
        v > NL_MAX_LINE_MAX) {
        fprintf(stderr, PROG ": -m %s: expected a number from 1 to %d\n", arg,
                NL_MAX_LINE_MAX);
        return -1;
    }
    *max_line = (int)v;
    return 0;
}

/* Writes what the session queued; blocking, so NL_IO_AGAIN cannot come. */
static int
flush(struct nl_session *s)
{
    return nl_session_flush(s) == NL_IO_OK ? 0 : -1;
}

/*
 * Stream mode: what a model does for one connection, with blocking
 * descriptors.  Returns 0 when the session ended well (end of input, or
 * the handler closed it), -1 when it failed.
 */
static int
serve_stream(const struct nl_session_env *env)
{
    struct nl_session s;
    int rc = 0;

    nl_session_init_plain(&s, env, STDIN_FILENO, STDOUT_FILENO, 0, PEER);
    if (nl_session_open(&s) == -1)
        goto out;
    for (;;) {
        if (flush(&s) == -1 || nl_session_done(&s))
            break;
        /* Lines held back while output was high, now that it is out. */
        if (s.held) {
            if (nl_session_resume(&s) == -1)
                break;
            continue;
        }
        if (!nl_session_want_read(&s))
            break; /* cannot happen once output is flushed: be safe */
        if (nl_session_read(&s) == NL_IO_ERROR)
            break;
    }
out:
    rc = s.failed ? -1 : 0;
    nl_session_end(&s);
    return rc;
}

/* Serves one input line as one datagram, on a session of its own. */
static void
serve_datagram(const struct nl_session_env *env, const char *buf, size_t n)
{
    struct nl_session s;

    nl_session_init_plain(&s, env, STDIN_FILENO, STDOUT_FILENO, 1, PEER);
    nl_session_message(&s, buf, n);
    nl_session_end(&s);
}

/*
 * Datagram mode: each line of input (its newline included, as `nc -u`
 * sends it) is one datagram; a last line without a newline is one too.
 * One longer than the daemon's largest datagram is dropped and counted as
 * an error, as netlabd drops it.  Returns 0, or -1 when a datagram failed.
 */
static int
serve_datagrams(const struct nl_session_env *env)
{
    struct nl_buf in = {0};
    char chunk[NL_SESSION_READ_CHUNK];
    int eof = 0, skipping = 0;

    while (!eof) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
        const char *nl;

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            fprintf(stderr, PROG ": reading standard input: %s\n",
                    strerror(errno));
            nl_count_add(env->ctr, errors, 1);
            break;
        }
        if (n == 0)
            eof = 1;
        nl_buf_append(&in, chunk, (size_t)n);
        while (in.len > 0 &&
               ((nl = memchr(nl_buf_head(&in), '\n', in.len)) != NULL ||
                eof || in.len > NL_DGRAM_MAX)) {
            size_t len = nl != NULL ? (size_t)(nl - nl_buf_head(&in)) + 1
                                    : in.len;

            if (len > NL_DGRAM_MAX || skipping) {
                /* Dropped whole, however many reads it spans. */
                if (!skipping) {
                    nl_warnx(env->lc->name,
                             PEER ": datagram of more than %d bytes dropped",
                             NL_DGRAM_MAX);
                    nl_count_add(env->ctr, errors, 1);
                }
                skipping = nl == NULL && !eof;
            } else {
                serve_datagram(env, nl_buf_head(&in), len);
            }
            nl_buf_consume(&in, len);
        }
    }
    nl_buf_free(&in);
    return env->ctr->errors > 0 ? -1 : 0;
}

/* Frees what add_option() made. */
static void
free_options(struct nl_listener_conf *lc)
{
    for (size_t i = 0; i < lc->noptions; i++) {
        free(lc->options[i].key);
        free(lc->options[i].value);
    }
    free(lc->options);
    lc->options = NULL;
    lc->noptions = 0;
}

/* Loads the handler, runs init() with the options and serves; returns the
 * exit status. */
static int
run(const char *path, struct nl_listener_conf *lc, int dgram)
{
    struct nl_counters ctr = {0};
    uint64_t gate = 0;
    struct nl_session_env env = {0};
    struct nl_plugin *p;
    char err[1024];
    void *state;
    int line = 0, rc;

    if ((p = nl_plugin_load(path, err, sizeof(err))) == NULL) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_SETUP;
    }
    /* The made-up listener is named after the handler, for its logs. */
    lc->name = (char *)nl_plugin_handler(p)->name;
    lc->transport = dgram ? NL_TRANSPORT_UDP : NL_TRANSPORT_TCP;
    lc->handler = (char *)path;
    lc->handler_path = (char *)path;
    if (nl_plugin_init(p, lc, &state, err, sizeof(err), &line) == -1) {
        fprintf(stderr, PROG ": %s: %s\n", path, err);
        nl_plugin_unload(p);
        return EXIT_SETUP;
    }

    env.lc = lc;
    env.handler = nl_plugin_handler(p);
    env.listener_data = state;
    env.ctr = &ctr;
    env.gate = &gate;
    env.notify_fd = -1;
    rc = dgram ? serve_datagrams(&env) : serve_stream(&env);

    nl_plugin_fini(p, state);
    nl_plugin_unload(p);
    if (rc == -1) {
        if (dgram)
            fprintf(stderr, PROG ": %s: %llu datagram(s) ended in an error\n",
                    path, (unsigned long long)ctr.errors);
        else
            fprintf(stderr, PROG ": %s: the session ended in an error\n",
                    path);
        return EXIT_SESSION;
    }
    return EXIT_OK;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"option", required_argument, NULL, 'o'},
        {"max-line", required_argument, NULL, 'm'},
        {"datagram", no_argument, NULL, 'u'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct nl_listener_conf lc = {0};
    int ch, dgram = 0, rc = -1;

    lc.max_line = NL_DEFAULT_MAX_LINE;
    lc.max_connections = 1;
    while (rc == -1 &&
           (ch = getopt_long(argc, argv, "o:m:uVh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            if (add_option(&lc, optarg) == -1)
                rc = EXIT_SETUP;
            break;
        case 'm':
            if (parse_max_line(optarg, &lc.max_line) == -1)
                rc = EXIT_SETUP;
            break;
        case 'u':
            dgram = 1;
            break;
        case 'V':
            printf(PROG " (netlabd) %s\n", PACKAGE_VERSION);
            rc = EXIT_OK;
            break;
        case 'h':
            usage(stdout);
            rc = EXIT_OK;
            break;
        default:
            usage(stderr);
            rc = EXIT_SETUP;
        }
    }
    if (rc == -1 && argc - optind != 1) {
        fprintf(stderr, PROG ": %s\n",
                optind == argc ? "no handler given" : "one handler only");
        usage(stderr);
        rc = EXIT_SETUP;
    }
    if (rc == -1) {
        /* Diagnostics, the handler's netlabd_log() included, go to stderr;
         * debug too: "handler ended the session" is what an author needs. */
        nl_log_open("stderr", NL_LOG_DEBUG);
        /* A reader that goes away is a failed write, not a silent death. */
        signal(SIGPIPE, SIG_IGN);
        rc = run(argv[optind], &lc, dgram);
    }
    free_options(&lc);
    return rc;
}
