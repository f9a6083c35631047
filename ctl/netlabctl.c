/*
 * netlabctl.c - the control socket's client: sends one command line, reads
 * the daemon's one JSON answer and prints it for a person, or as it came
 * with --json.
 *
 * It knows the commands only well enough to print their answers; any other
 * word goes to the daemon unchanged, which decides whether it exists.  So a
 * newer daemon's commands work through an older netlabctl (printed raw).
 *
 * Exit status: 0 when the daemon did it; 1 when it answered with an error
 * (an "error" that is not null, or "ok": false); 2 when it could not be
 * asked: a bad command line, no socket, no answer in time, or an answer
 * that is not a JSON object.  Scripts can thus tell "refused" from
 * "unreachable".
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "answer.h"
#include "paths.h"

#define EXIT_REFUSED 1
#define EXIT_TROUBLE 2

/* A reload answers only once the new configuration runs or was refused,
 * which includes checking every handler (up to 30 s, NL_CHECK_TIMEOUT),
 * perhaps behind a reload already running (as long again), then up to
 * 2 s for the old processes to stop accepting: 75 s covers that, and stays
 * below systemd's default 90 s for ExecReload=.  It does not cover a
 * reload that waits for older generations to drain (up to
 * shutdown_timeout): netlabctl(8) says so. */
#define TIMEOUT_MS        10000
#define RELOAD_TIMEOUT_MS 75000

#define CELL 1024 /* bytes of one table cell; longer text is cut */

static const char *progname = "netlabctl";

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: netlabctl [-s SOCKET] [--json] COMMAND\n"
            "Ask a running netlabd through its control socket.\n"
            "\n"
            "Commands:\n"
            "  status      the daemon (pid, version, uptime, config, "
            "generation, last\n"
            "              reload) and a table of its listeners with their "
            "counters;\n"
            "              serving processes still draining after a reload "
            "are listed\n"
            "  reload      re-read the configuration file; waits for the "
            "outcome and\n"
            "              fails with the daemon's FILE:LINE: message if "
            "the new\n"
            "              configuration is refused (the old one keeps "
            "running)\n"
            "  stop        stop gracefully: close the listening sockets, let "
            "open\n"
            "              sessions finish for up to shutdown_timeout, "
            "then exit\n"
            "  log-reopen  reopen the log file (after logrotate moved it)\n"
            "  help        list the commands the daemon knows\n"
            "\n"
            "Options:\n"
            "  -s, --socket SOCKET  the control socket (default: "
            "$NETLABD_CONTROL if set,\n"
            "                       else %s)\n"
            "      --json           print the daemon's JSON answer as it "
            "is\n"
            "  -V, --version        print the version and exit\n"
            "  -h, --help           print this help and exit\n"
            "\n"
            "Exit status: 0 done; 1 the daemon answered with an error; 2 "
            "the daemon\n"
            "could not be asked (bad usage, no socket, no answer in time, "
            "an answer\n"
            "that is not JSON).\n",
            NL_DEFAULT_CONTROL);
}

static void
usage_error(const char *msg)
{
    if (msg != NULL)
        fprintf(stderr, "%s: %s\n", progname, msg);
    fprintf(stderr, "usage: netlabctl [-s SOCKET] [--json] "
                    "status | reload | stop | log-reopen | help\n"
                    "Try 'netlabctl --help' for more.\n");
    exit(EXIT_TROUBLE);
}

static long long
now_ms(void)
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
        long long left = deadline - now_ms();
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
static int
connect_control(const char *path, long long deadline)
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
        if (errno == EAGAIN && now_ms() < deadline) {
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

static int
send_all(int fd, const char *buf, size_t len, long long deadline)
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
static char *
read_answer(int fd, long long deadline, size_t *lenp)
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

/* Copies s into out, replacing control characters so that a listener name
 * or an error message cannot move the terminal's cursor. */
static void
sanitize(const char *s, char *out, size_t size)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i + 1 < size; i++) {
        unsigned char c = (unsigned char)s[i];

        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[i] = '\0';
}

/*
 * n exactly below `exact`, else scaled by `base` with one decimal and the
 * first unit that keeps it under `base` once rounded (so never "1024.0").
 */
static void
fmt_scaled(unsigned long long n, char *out, size_t size,
           unsigned long long exact, unsigned base, const char *plain,
           const char *const *units, size_t nunits)
{
    double v = (double)n / base, top = base - 0.05;
    size_t u = 0;

    if (n < exact) {
        snprintf(out, size, "%llu%s", n, plain);
        return;
    }
    while (v >= top && u + 1 < nunits) {
        v /= base;
        u++;
    }
    snprintf(out, size, "%.1f%s", v, units[u]);
}

static void
fmt_bytes(unsigned long long n, char *out, size_t size)
{
    static const char *const units[] = {" KiB", " MiB", " GiB",
                                        " TiB", " PiB", " EiB"};

    fmt_scaled(n, out, size, 1024, 1024, " B", units,
               sizeof(units) / sizeof(*units));
}

/* Counts are exact below 10000: small counts are the ones people compare. */
static void
fmt_count(unsigned long long n, char *out, size_t size)
{
    static const char *const units[] = {"k", "M", "G", "T", "P", "E"};

    fmt_scaled(n, out, size, 10000, 1000, "", units,
               sizeof(units) / sizeof(*units));
}

static void
fmt_uptime(unsigned long long s, char *out, size_t size)
{
    unsigned long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

    if (d > 0)
        snprintf(out, size, "%llud %lluh", d, h);
    else if (h > 0)
        snprintf(out, size, "%lluh %llum", h, m);
    else if (m > 0)
        snprintf(out, size, "%llum %llus", m, s % 60);
    else
        snprintf(out, size, "%llus", s);
}

/* Any scalar as text; "-" for a missing value or a container. */
static void
fmt_plain(const struct json_object *v, char *out, size_t size)
{
    uint64_t u;
    int64_t i;
    double d;
    int b;

    if (nl_answer_string(v) != NULL)
        sanitize(nl_answer_string(v), out, size);
    else if (nl_answer_uint(v, &u) == 0)
        snprintf(out, size, "%llu", (unsigned long long)u);
    else if (nl_answer_negative(v, &i) == 0)
        snprintf(out, size, "%lld", (long long)i);
    else if (nl_answer_double(v, &d) == 0)
        snprintf(out, size, "%g", d);
    else if (nl_answer_bool(v, &b) == 0)
        snprintf(out, size, "%s", b ? "true" : "false");
    else
        snprintf(out, size, "-");
}

static void
fmt_count_value(const struct json_object *v, char *out, size_t size)
{
    uint64_t u;

    if (nl_answer_uint(v, &u) == 0)
        fmt_count(u, out, size);
    else
        fmt_plain(v, out, size);
}

static void
fmt_bytes_value(const struct json_object *v, char *out, size_t size)
{
    uint64_t u;

    if (nl_answer_uint(v, &u) == 0)
        fmt_bytes(u, out, size);
    else
        fmt_plain(v, out, size);
}

struct column {
    const char *title;
    const char *key;
    int right; /* numbers align right */
    void (*fmt)(const struct json_object *, char *, size_t);
};

/* Columns are as wide as what they show on screen: UTF-8 continuation
 * bytes take no room of their own. */
static size_t
display_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

static void
print_cell(const char *s, size_t width, int right, int last)
{
    size_t pad = width - display_width(s);

    if (right)
        printf("%*s%s", (int)pad, "", s);
    else
        printf("%s%*s", s, last ? 0 : (int)pad, "");
    printf("%s", last ? "\n" : "  ");
}

/* Prints the objects of array rows as a table; cells are formatted twice
 * (for widths, then to print) rather than stored. */
static void
print_table(const struct column *cols, size_t ncols,
            const struct json_object *rows)
{
    size_t width[16] = {0}, nrows = nl_answer_len(rows);
    char cell[CELL];

    for (size_t c = 0; c < ncols; c++) {
        width[c] = strlen(cols[c].title);
        for (size_t r = 0; r < nrows; r++) {
            const struct json_object *row = nl_answer_index(rows, r);
            size_t w;

            cols[c].fmt(nl_answer_get(row, cols[c].key), cell, sizeof(cell));
            if ((w = display_width(cell)) > width[c])
                width[c] = w;
        }
    }
    for (size_t c = 0; c < ncols; c++)
        print_cell(cols[c].title, width[c], cols[c].right, c + 1 == ncols);
    for (size_t r = 0; r < nrows; r++) {
        const struct json_object *row = nl_answer_index(rows, r);

        for (size_t c = 0; c < ncols; c++) {
            cols[c].fmt(nl_answer_get(row, cols[c].key), cell, sizeof(cell));
            print_cell(cell, width[c], cols[c].right, c + 1 == ncols);
        }
    }
}

static const struct column listener_cols[] = {
    {"NAME", "name", 0, fmt_plain},
    {"TRANSPORT", "transport", 0, fmt_plain},
    {"ADDRESS", "address", 0, fmt_plain},
    {"MODEL", "model", 0, fmt_plain},
    {"WORKERS", "workers", 1, fmt_plain},
    {"HANDLER", "handler", 0, fmt_plain},
    {"ACTIVE", "connections_active", 1, fmt_count_value},
    {"TOTAL", "connections_total", 1, fmt_count_value},
    {"REFUSED", "connections_refused", 1, fmt_count_value},
    {"IN", "bytes_in", 1, fmt_bytes_value},
    {"OUT", "bytes_out", 1, fmt_bytes_value},
    {"ERRORS", "errors", 1, fmt_count_value},
};

static const struct column draining_cols[] = {
    {"LISTENER", "listener", 0, fmt_plain},
    {"PID", "pid", 1, fmt_plain},
    {"GENERATION", "generation", 1, fmt_plain},
    {"ACTIVE", "connections_active", 1, fmt_count_value},
};

/*
 * Prints text (a daemon's error: a reload's are one "FILE:LINE: ..." per
 * line) one line at a time, each after `first` (the first line) or `more`
 * (the others), sanitized.
 */
static void
print_lines(FILE *out, const char *first, const char *more, const char *text)
{
    char buf[CELL], piece[CELL];

    for (int i = 0;; i++) {
        size_t len = strcspn(text, "\n");

        snprintf(piece, sizeof(piece), "%.*s", (int)len, text);
        sanitize(piece, buf, sizeof(buf));
        fprintf(out, "%s%s\n", i == 0 ? first : more, buf);
        if (text[len] == '\0' || text[len + 1] == '\0')
            break;
        text += len + 1;
    }
}

static void
print_last_reload(const struct json_object *lr)
{
    char when[CELL], error[CELL], first[CELL + 64];
    const char *text;
    int ok;

    if (!nl_answer_is_object(lr)) {
        printf("%-13s%s\n", "last reload:", "none");
        return;
    }
    fmt_plain(nl_answer_get(lr, "time"), when, sizeof(when));
    if (nl_answer_bool(nl_answer_get(lr, "ok"), &ok) == 0 && ok) {
        printf("%-13sok at %s\n", "last reload:", when);
        return;
    }
    snprintf(first, sizeof(first), "%-13sfailed at %s: ", "last reload:", when);
    if ((text = nl_answer_string(nl_answer_get(lr, "error"))) != NULL) {
        /* One error a line, under the first. */
        print_lines(stdout, first, "             ", text);
        return;
    }
    fmt_plain(nl_answer_get(lr, "error"), error, sizeof(error));
    printf("%s%s\n", first, error);
}

static void
print_status(const struct json_object *doc)
{
    const struct json_object *ls = nl_answer_get(doc, "listeners");
    const struct json_object *dr = nl_answer_get(doc, "draining");
    char buf[CELL];
    uint64_t up;

    fmt_plain(nl_answer_get(doc, "pid"), buf, sizeof(buf));
    printf("%-13s%s\n", "pid:", buf);
    fmt_plain(nl_answer_get(doc, "version"), buf, sizeof(buf));
    printf("%-13s%s\n", "version:", buf);
    if (nl_answer_uint(nl_answer_get(doc, "uptime_s"), &up) == 0)
        fmt_uptime(up, buf, sizeof(buf));
    else
        fmt_plain(nl_answer_get(doc, "uptime_s"), buf, sizeof(buf));
    printf("%-13s%s\n", "uptime:", buf);
    fmt_plain(nl_answer_get(doc, "config"), buf, sizeof(buf));
    printf("%-13s%s\n", "config:", buf);
    fmt_plain(nl_answer_get(doc, "generation"), buf, sizeof(buf));
    printf("%-13s%s\n", "generation:", buf);
    print_last_reload(nl_answer_get(doc, "last_reload"));

    printf("\n");
    print_table(listener_cols, sizeof(listener_cols) / sizeof(*listener_cols),
                ls);
    for (size_t i = 0, notes = 0; i < nl_answer_len(ls); i++) {
        const struct json_object *l = nl_answer_index(ls, i);
        int serving;

        if (nl_answer_bool(nl_answer_get(l, "serving"), &serving) == 0 && !serving) {
            fmt_plain(nl_answer_get(l, "name"), buf, sizeof(buf));
            printf("%slistener %s is not serving (starting or restarting)\n",
                   notes++ ? "" : "\n", buf);
        }
    }
    if (nl_answer_len(dr) > 0) {
        printf("\ndraining:\n");
        print_table(draining_cols,
                    sizeof(draining_cols) / sizeof(*draining_cols), dr);
    }
}

/* The daemon lists its commands as an array of names, or as an object
 * from name to a line of description; either prints one per line. */
static void
print_help_answer(const struct json_object *doc, const char *raw)
{
    const struct json_object *cmds = nl_answer_get(doc, "commands");
    char name[CELL], what[CELL];
    struct json_object *v;
    size_t width = 0;
    const char *key;

    if (nl_answer_is_array(cmds)) {
        for (size_t i = 0; i < nl_answer_len(cmds); i++) {
            fmt_plain(nl_answer_index(cmds, i), name, sizeof(name));
            printf("%s\n", name);
        }
        return;
    }
    if (!nl_answer_is_object(cmds)) {
        printf("%s\n", raw);
        return;
    }
    for (size_t i = 0; nl_answer_member(cmds, i, &key, &v) == 0; i++)
        if (strlen(key) > width)
            width = strlen(key);
    for (size_t i = 0; nl_answer_member(cmds, i, &key, &v) == 0; i++) {
        sanitize(key, name, sizeof(name));
        fmt_plain(v, what, sizeof(what));
        printf("%-*s  %s\n", (int)width, name, what);
    }
}

static void
print_human(const char *cmd, const struct json_object *doc, const char *raw)
{
    uint64_t gen;

    if (strcmp(cmd, "status") == 0) {
        print_status(doc);
    } else if (strcmp(cmd, "reload") == 0) {
        if (nl_answer_uint(nl_answer_get(doc, "generation"), &gen) == 0)
            printf("reloaded (generation %llu)\n", (unsigned long long)gen);
        else
            printf("reloaded\n");
    } else if (strcmp(cmd, "stop") == 0) {
        printf("stopping\n");
    } else if (strcmp(cmd, "log-reopen") == 0) {
        printf("log reopened\n");
    } else if (strcmp(cmd, "help") == 0) {
        print_help_answer(doc, raw);
    } else {
        /* A command this netlabctl does not know: show what came. */
        printf("%s\n", raw);
    }
}

/* Prints the daemon's answer; returns the exit status it calls for. */
static int
report(const char *cmd, const struct json_object *doc, const char *raw,
       int json)
{
    const struct json_object *err = nl_answer_get(doc, "error");
    char prefix[CELL];
    int ok = 1;

    (void)nl_answer_bool(nl_answer_get(doc, "ok"), &ok); /* absent means no verdict */
    if (json)
        printf("%s\n", raw);
    if (err == NULL && ok) {
        if (!json)
            print_human(cmd, doc, raw);
        return 0;
    }
    /* A refused reload may have several errors: each on its own line,
     * each with the prefix, so that every line stands alone in a log. */
    snprintf(prefix, sizeof(prefix), "%s: %s: ", progname, cmd);
    print_lines(stderr, prefix, prefix,
                nl_answer_string(err) != NULL ? nl_answer_string(err)
                                              : "failed, without saying why");
    return EXIT_REFUSED;
}

/* Asks the daemon at path; exits with status 2 if that fails. */
static char *
ask(const char *path, const char *cmd, size_t *len)
{
    long long deadline =
        now_ms() +
        (strcmp(cmd, "reload") == 0 ? RELOAD_TIMEOUT_MS : TIMEOUT_MS);
    size_t clen = strlen(cmd);
    char *line = malloc(clen + 2), *answer;
    int fd, rc;

    if (line == NULL) {
        perror(progname);
        exit(EXIT_TROUBLE);
    }
    memcpy(line, cmd, clen);
    memcpy(line + clen, "\n", 2);
    if ((fd = connect_control(path, deadline)) == -1) {
        fprintf(stderr, "%s: cannot connect to %s: %s\n", progname, path,
                strerror(errno));
        exit(EXIT_TROUBLE);
    }
    rc = send_all(fd, line, clen + 1, deadline);
    free(line);
    if (rc == -1) {
        fprintf(stderr, "%s: cannot send to %s: %s\n", progname, path,
                strerror(errno));
        exit(EXIT_TROUBLE);
    }
    if ((answer = read_answer(fd, deadline, len)) == NULL) {
        fprintf(stderr, "%s: no answer from %s: %s\n", progname, path,
                strerror(errno));
        exit(EXIT_TROUBLE);
    }
    close(fd);
    return answer;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *path = NULL, *cmd;
    struct json_object *doc;
    char err[256], *answer;
    size_t len;
    int json = 0, ch, rc;

    while ((ch = getopt_long(argc, argv, "s:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            path = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'V':
            printf("netlabctl %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage_error(NULL);
        }
    }
    if (optind == argc)
        usage_error("no command given");
    if (argc - optind > 1)
        usage_error("one command at a time");
    cmd = argv[optind];
    if (cmd[0] == '\0' || strpbrk(cmd, "\r\n") != NULL)
        usage_error("a command is one word on one line");
    if (path == NULL)
        path = getenv("NETLABD_CONTROL");
    if (path == NULL || path[0] == '\0')
        path = NL_DEFAULT_CONTROL;

    answer = ask(path, cmd, &len);
    /* The newline ends the answer on the wire; --json prints its own. */
    while (len > 0 && (answer[len - 1] == '\n' || answer[len - 1] == '\r'))
        answer[--len] = '\0';
    if (len == 0) {
        fprintf(stderr,
                "%s: no answer from %s: the daemon closed the "
                "connection without answering\n",
                progname, path);
        free(answer);
        return EXIT_TROUBLE;
    }
    doc = nl_answer_parse(answer, len, err, sizeof(err));
    if (doc == NULL || !nl_answer_is_object(doc)) {
        fprintf(stderr, "%s: bad answer from %s: %s\n", progname, path,
                doc == NULL ? err : "not a JSON object");
        json_object_put(doc);
        free(answer);
        return EXIT_TROUBLE;
    }
    rc = report(cmd, doc, answer, json);
    json_object_put(doc);
    free(answer);
    if (fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, "%s: writing the output: %s\n", progname,
                strerror(errno));
        return EXIT_TROUBLE;
    }
    return rc;
}
