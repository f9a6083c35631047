/*
 * plugin_check.c - checking every listener's handler before it serves: a
 * throw-away child loads each handler, runs its init() with the listener's
 * options and its fini(), and reports to the master through a pipe, so
 * that the master never executes handler code and a handler that crashes
 * or hangs in init() costs a child, not the daemon.  nl_plugins_check()
 * waits for it (start-up, -t); nl_check_*() let an event loop wait (a
 * reload).  Each failure becomes one "FILE:LINE: listener NAME: ..." error.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlabd/plugin.h>

#include "conf.h"
#include "errs.h"
#include "log.h"
#include "plugin_check.h"
#include "plugins.h"
#include "privs.h"
#include "transport.h"
#include "util.h"

/* How long the check child may take for all listeners together, and how
 * many of its error lines are kept. */
#define CHECK_TIMEOUT    NL_CHECK_TIMEOUT
#define CHECK_MAX_ERRORS 100

#define MSG_MAX NL_PLUGIN_MSG_MAX

/* The longest handler version kept; a longer one is cut. */
#define VERSION_MAX 64

/*
 * The check runs in a child and reports through a pipe, one record a line:
 *
 *   L<i>               listener i: loading its handler
 *   V<i> <version>     listener i: its handler's version
 *   I<i>               listener i: in init()
 *   F<i>               listener i: in fini()
 *   E<i> <line> <msg>  listener i failed; <line> is the config line
 *   X <msg>            the check itself failed (switching users)
 *   D                  every listener was checked
 *
 * The progress records let the parent say which listener's handler and
 * which step killed the child when it dies without reaching D.
 */

/* Messages travel as one line: a handler's init_error() text may hold
 * anything. */
static void
flatten(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

static void
child_put(int fd, const char *fmt, ...)
{
    char rec[MSG_MAX + 64];
    struct nl_conn c;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(rec, sizeof(rec) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        _exit(2);
    if ((size_t)n > sizeof(rec) - 2)
        n = sizeof(rec) - 2;
    rec[n++] = '\n';
    nl_conn_plain(&c, -1, fd);
    /* Short: the parent is gone or gave up on us; nobody is listening. */
    if (nl_conn_write_all(&c, rec, (size_t)n) < (size_t)n)
        _exit(2);
}

static void
child_check(const struct nl_listener_conf *lc, size_t i, int fd, int hfd)
{
    char err[MSG_MAX];
    struct nl_plugin *p;
    const char *version;
    void *state;
    int line = lc->line;

    child_put(fd, "L%zu", i);
    /* As a serving process loads it, so that the check sees the same. */
    if ((p = nl_plugin_load_copy(lc->handler_path, hfd, err, sizeof(err))) ==
        NULL)
        goto fail;
    /* The version as status and metrics show it: printable ASCII, and
     * short (a label value must be UTF-8, a metrics line bounded). */
    version = nl_plugin_handler(p)->version;
    snprintf(err, VERSION_MAX + 1, "%s", version != NULL ? version : "");
    for (char *c = err; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
    child_put(fd, "V%zu %s", i, err);
    child_put(fd, "I%zu", i);
    if (nl_plugin_init(p, lc, &state, err, sizeof(err), &line) == -1) {
        nl_plugin_unload(p);
        goto fail;
    }
    child_put(fd, "F%zu", i);
    nl_plugin_fini(p, state);
    nl_plugin_unload(p);
    return;

fail:
    flatten(err);
    child_put(fd, "E%zu %d %s", i, line, err);
}

static void __attribute__((noreturn))
child_main(const struct nl_conf *conf, int fd)
{
    int *hfds;
    struct sigaction sa;
    sigset_t none;

    /* Handler code must run as in a fresh process, not inside the
     * master's signal handlers (which would write to its self-pipe). */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &sa, NULL); /* fails for KILL, STOP: fine */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Nothing of the master's (listening sockets, control connections,
     * the terminal it started on) may live on in a helper a handler's
     * init() might start. */
    nl_log_startup_end();
    if (fd != 3 && dup2(fd, 3) == 3) {
        close(fd);
        fd = 3;
    }
    close_range((unsigned)fd + 1, ~0U, 0);
    /* The files are opened before the drop, as a serving process does:
     * the user need not be able to read the build or install folder. */
    hfds = nl_xcalloc(conf->nlisteners ? conf->nlisteners : 1, sizeof(*hfds));
    for (size_t i = 0; i < conf->nlisteners; i++)
        hfds[i] = open(conf->listeners[i].handler_path, O_RDONLY | O_CLOEXEC);
    /* Handler code runs with the rights it will have when serving.  Who
     * that is was settled by nl_privs_resolve(); a switch that fails
     * anyway is one error about the whole check, not about a listener. */
    if (conf->user != NULL) {
        char err[MSG_MAX];

        if (nl_privs_switch(conf->user, conf->group, err, sizeof(err)) == -1) {
            flatten(err);
            child_put(fd, "X cannot check the handlers: %s", err);
            child_put(fd, "D");
            _exit(0);
        }
    }

    for (size_t i = 0; i < conf->nlisteners; i++)
        child_check(&conf->listeners[i], i, fd, hfds[i]);
    child_put(fd, "D");
    /* _exit: the master's stdio buffers and atexit handlers are not ours. */
    _exit(0);
}

/* What the parent learns from the child's records. */
struct nl_check {
    struct nl_conf *conf;
    struct nl_errs *errs;
    pid_t pid;
    int fd; /* the child's reports */
    size_t nerrs;
    long cur;  /* listener being checked, -1 before the first */
    char step; /* 'L', 'I' or 'F' */
    int done;
    char rec[MSG_MAX + 64];
    size_t len;
};

static void
check_error(struct nl_check *c, long i, int line, const char *msg)
{
    const struct nl_conf *conf = c->conf;

    if (c->nerrs++ == CHECK_MAX_ERRORS) {
        nl_errs_add(c->errs, "%s: more handler errors not shown", conf->file);
        return;
    }
    if (c->nerrs > CHECK_MAX_ERRORS)
        return;
    if (i < 0) {
        nl_errs_add(c->errs, "%s: %s", conf->file, msg);
        return;
    }
    nl_errs_add(c->errs, "%s:%d: listener %s: %s", conf->file,
                line != 0 ? line : conf->listeners[i].line,
                conf->listeners[i].name, msg);
}

static void
check_record(struct nl_check *c, char *rec)
{
    char type = rec[0], *end;
    unsigned long i;
    long line;

    if (type == 'D') {
        c->done = 1;
        return;
    }
    if (type == 'X' && rec[1] == ' ') {
        check_error(c, -1, 0, rec + 2);
        return;
    }
    if (type == '\0')
        return;
    i = strtoul(rec + 1, &end, 10);
    if (end == rec + 1 || i >= c->conf->nlisteners)
        return; /* not ours: a handler wrote to the pipe */
    if (type == 'L' || type == 'I' || type == 'F') {
        c->cur = (long)i;
        c->step = type;
    } else if (type == 'V' && *end == ' ') {
        struct nl_listener_conf *lc = &c->conf->listeners[i];

        free(lc->handler_version);
        lc->handler_version = nl_xstrdup(end + 1);
    } else if (type == 'E' && *end == ' ') {
        line = strtol(end + 1, &end, 10);
        if (*end == ' ')
            check_error(c, (long)i, (int)line, end + 1);
    }
}

/* Splits what the child sent into records; a record longer than any the
 * child writes is cut, not grown, so the parent's memory stays bounded. */
static void
check_feed(struct nl_check *c, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl != NULL ? (size_t)(nl - p) : n;
        size_t room = sizeof(c->rec) - 1 - c->len;

        memcpy(c->rec + c->len, p, take < room ? take : room);
        c->len += take < room ? take : room;
        if (nl == NULL)
            return;
        c->rec[c->len] = '\0';
        check_record(c, c->rec);
        c->len = 0;
        p += take + 1;
        n -= take + 1;
    }
}

/* Reads records until the child closes the pipe or the time is up.
 * Returns 0, or -1 on timeout. */

static const char *
step_name(char step)
{
    switch (step) {
    case 'I':
        return "in init()";
    case 'F':
        return "in fini()";
    default:
        return "while loading";
    }
}

static const char *
signal_name(int sig, char *buf, size_t len)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
    const char *abbrev = sigabbrev_np(sig);

    if (abbrev != NULL) {
        snprintf(buf, len, "SIG%s (%s)", abbrev, strsignal(sig));
        return buf;
    }
#endif
    snprintf(buf, len, "signal %d (%s)", sig, strsignal(sig));
    return buf;
}

/* The child died before it was done: says how, against the listener it
 * was checking. */
static void
check_died(struct nl_check *c, int status, int timed_out, int wait_errno)
{
    char msg[MSG_MAX], sig[128];

    if (timed_out)
        snprintf(msg, sizeof(msg),
                 "handler check did not finish within %d s (stuck %s)",
                 CHECK_TIMEOUT, step_name(c->step));
    else if (wait_errno != 0)
        snprintf(msg, sizeof(msg),
                 "handler check stopped %s, cause unknown (waitpid: %s)",
                 step_name(c->step), strerror(wait_errno));
    else if (WIFSIGNALED(status))
        snprintf(msg, sizeof(msg), "handler crashed %s: killed by %s",
                 step_name(c->step),
                 signal_name(WTERMSIG(status), sig, sizeof(sig)));
    else if (WIFEXITED(status))
        snprintf(msg, sizeof(msg), "handler exited %s with status %d",
                 step_name(c->step), WEXITSTATUS(status));
    else
        snprintf(msg, sizeof(msg), "handler check ended %s",
                 step_name(c->step));
    check_error(c, c->cur, 0, msg);
}

struct nl_check *
nl_check_start(struct nl_conf *conf, struct nl_errs *errs)
{
    struct nl_check *c = nl_xcalloc(1, sizeof(*c));
    int fds[2];

    c->conf = conf;
    c->errs = errs;
    c->cur = -1;
    c->fd = -1;
    if (pipe2(fds, O_CLOEXEC) == -1) {
        nl_errs_add(errs, "%s: cannot check handlers: pipe: %s", conf->file,
                    strerror(errno));
        free(c);
        return NULL;
    }
    if ((c->pid = nl_fork()) == -1) {
        nl_errs_add(errs, "%s: cannot check handlers: fork: %s", conf->file,
                    strerror(errno));
        close(fds[0]);
        close(fds[1]);
        free(c);
        return NULL;
    }
    if (c->pid == 0) {
        close(fds[0]);
        child_main(conf, fds[1]);
    }
    close(fds[1]);
    c->fd = fds[0];
    return c;
}

int
nl_check_fd(const struct nl_check *c)
{
    return c->fd;
}

int
nl_check_read(struct nl_check *c)
{
    char buf[4096];
    ssize_t n = read(c->fd, buf, sizeof(buf));

    if (n == -1 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        return 1;
    check_feed(c, buf, (size_t)n);
    /* Done even if a process the handler started keeps the pipe. */
    return c->done;
}

int
nl_check_end(struct nl_check *c, int timed_out)
{
    int status = 0, wait_errno = 0, rc;

    close(c->fd);
    if (timed_out)
        (void)kill(c->pid, SIGKILL); /* it is ours, and waited for below */
    while (waitpid(c->pid, &status, 0) == -1) {
        if (errno != EINTR) {
            /* Someone else reaped it (a SIGCHLD handler): only D tells. */
            wait_errno = errno;
            break;
        }
    }
    if (!c->done)
        check_died(c, status, timed_out, wait_errno);
    rc = c->nerrs > 0 ? -1 : 0;
    free(c);
    return rc;
}

int
nl_plugins_check(struct nl_conf *conf, struct nl_errs *errs)
{
    struct nl_check *c = nl_check_start(conf, errs);
    double deadline = nl_now() + CHECK_TIMEOUT;

    if (c == NULL)
        return -1;
    for (;;) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        double left = deadline - nl_now();

        if (left <= 0)
            return nl_check_end(c, 1);
        if (poll(&pfd, 1, (int)(left * 1000) + 1) > 0 && nl_check_read(c))
            return nl_check_end(c, 0);
    }
}
