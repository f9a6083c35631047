/*
 * plugins.c - the handler loader.  It owns everything between a path to a
 * .so and a checked, initialised handler table: dlopen(), the checks on the
 * exported `netlabd_handler` table, the host functions a handler's init()
 * sees (struct netlabd_init, its options and its error), and the check that
 * runs every listener's init() in a throw-away child so that the master
 * never executes handler code.  The host functions of a *session* are not
 * here but in session.c, which owns sessions.
 *
 * Every refusal is one line that names the file and says what was found
 * and what was expected; every failed load dlclose()s what it opened.
 */
#include "config.h"

#include <dlfcn.h>
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
#include <sys/mman.h>
#include <unistd.h>

#include <netlabd/plugin.h>

#include "conf.h"
#include "errs.h"
#include "log.h"
#include "plugins.h"
#include "privs.h"
#include "util.h"

/* How long the check child may take for all listeners together, and how
 * many of its error lines are kept. */
#define CHECK_TIMEOUT    NL_CHECK_TIMEOUT
#define CHECK_MAX_ERRORS 100

/* Longest message one refusal produces; the child sends no longer lines. */
#define MSG_MAX 1024

struct nl_plugin {
    void *pl_dl;
    const struct netlabd_handler *pl_handler;
};

/* What a handler's init() is handed.  Lives on nl_plugin_init()'s stack. */
struct netlabd_init {
    struct netlabd_handle h; /* first: the plugin's wrappers read it */
    const struct netlabd_handler *handler;
    const struct nl_listener_conf *lc;
    unsigned char *asked; /* one flag per lc->options[] */
    void *data;
    char error[MSG_MAX];
    int error_set;
};

static const char *
init_option(struct netlabd_init *ini, const char *key)
{
    for (size_t i = 0; i < ini->lc->noptions; i++) {
        if (strcmp(ini->lc->options[i].key, key) == 0) {
            ini->asked[i] = 1;
            return ini->lc->options[i].value;
        }
    }
    return NULL;
}

static void
init_set_listener_data(struct netlabd_init *ini, void *data)
{
    ini->data = data;
}

static void
init_error(struct netlabd_init *ini, const char *fmt, va_list ap)
{
    /* The first complaint is kept: later ones tend to be consequences. */
    if (ini->error_set)
        return;
    vsnprintf(ini->error, sizeof(ini->error), fmt, ap);
    ini->error_set = 1;
}

static const char *
init_listener_name(struct netlabd_init *ini)
{
    return ini->lc->name;
}

/* The session functions stay NULL: no session exists during init(). */
static const struct netlabd_host init_host = {
    .size = sizeof(struct netlabd_host),
    .option = init_option,
    .set_listener_data = init_set_listener_data,
    .init_error = init_error,
    .listener_name = init_listener_name,
};

/* dlerror() usually starts with the file name, which our message already
 * carries; drop it so that the name is not said twice. */
static const char *
strip_path(const char *msg, const char *path)
{
    size_t n = strlen(path);

    if (msg == NULL)
        return "unknown error";
    if (strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
        return msg + n + 2;
    return msg;
}

static int
check_table(const char *path, const struct netlabd_handler *h, char *err,
            size_t errlen)
{
    /* A table may be larger (a newer header with the same ABI version
     * using a reserved slot) but must hold every field read here. */
    size_t need = offsetof(struct netlabd_handler, reserved);

    if (h->magic != NETLABD_MAGIC) {
        snprintf(err, errlen,
                 "%s: %s has magic 0x%08x, expected 0x%08x "
                 "(not a netlabd handler table?)",
                 path, NETLABD_HANDLER_SYMBOL, (unsigned)h->magic,
                 (unsigned)NETLABD_MAGIC);
        return -1;
    }
    if (h->abi_version != NETLABD_ABI_VERSION) {
        snprintf(err, errlen, "%s: ABI version %u, expected %u", path,
                 (unsigned)h->abi_version, (unsigned)NETLABD_ABI_VERSION);
        return -1;
    }
    if (h->size < need) {
        snprintf(err, errlen,
                 "%s: handler table of %u bytes, expected at least %zu", path,
                 (unsigned)h->size, need);
        return -1;
    }
    if (h->name == NULL) {
        snprintf(err, errlen, "%s: handler table has no name", path);
        return -1;
    }
    if (h->framing != NETLABD_FRAMING_RAW &&
        h->framing != NETLABD_FRAMING_LINE) {
        snprintf(err, errlen, "%s: framing %u, expected %d (raw) or %d (line)",
                 path, (unsigned)h->framing, NETLABD_FRAMING_RAW,
                 NETLABD_FRAMING_LINE);
        return -1;
    }
    return 0;
}

/* dlopen()s open_path; messages name path, the file the user named. */
static struct nl_plugin *
load(const char *open_path, const char *path, char *err, size_t errlen)
{
    struct nl_plugin *p;
    const struct netlabd_handler *h;
    char *local = NULL;
    void *dl;

    /* Without a slash dlopen() would search the system's library path,
     * which is never what a handler file given to us means. */
    if (strchr(open_path, '/') == NULL)
        local = nl_xasprintf("./%s", open_path);
    dl = dlopen(local != NULL ? local : open_path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        snprintf(err, errlen, "%s: cannot load: %s", path,
                 strip_path(dlerror(), local != NULL ? local : open_path));
        free(local);
        return NULL;
    }
    free(local);
    (void)dlerror();
    h = dlsym(dl, NETLABD_HANDLER_SYMBOL);
    if (h == NULL) {
        snprintf(err, errlen, "%s: no symbol %s (not a netlabd handler?)", path,
                 NETLABD_HANDLER_SYMBOL);
        goto fail;
    }
    if (check_table(path, h, err, errlen) == -1)
        goto fail;
    p = nl_xcalloc(1, sizeof(*p));
    p->pl_dl = dl;
    p->pl_handler = h;
    return p;

fail:
    dlclose(dl);
    return NULL;
}

struct nl_plugin *
nl_plugin_load(const char *path, char *err, size_t errlen)
{
    return load(path, path, err, errlen);
}

struct nl_plugin *
nl_plugin_load_copy(const char *path, int in, char *err, size_t errlen)
{
    struct nl_plugin *p;
    char buf[65536], fdpath[64];
    ssize_t n;
    int mem;

    if (in == -1 && (in = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
        snprintf(err, errlen, "%s: cannot load: %s", path, strerror(errno));
        return NULL;
    }
    if ((mem = memfd_create("netlabd-handler", MFD_CLOEXEC)) == -1) {
        snprintf(err, errlen, "%s: memfd_create: %s", path, strerror(errno));
        close(in);
        return NULL;
    }
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(mem, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    close(in);
    if (n == -1) {
        snprintf(err, errlen, "%s: copying for loading: %s", path,
                 strerror(errno));
        close(mem);
        return NULL;
    }
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", mem);
    p = load(fdpath, path, err, errlen);
    /* The mapping keeps the copy alive. */
    close(mem);
    return p;
}

void
nl_plugin_unload(struct nl_plugin *p)
{
    if (p == NULL)
        return;
    dlclose(p->pl_dl);
    free(p);
}

const struct netlabd_handler *
nl_plugin_handler(const struct nl_plugin *p)
{
    return p->pl_handler;
}

int
nl_plugin_init(struct nl_plugin *p, const struct nl_listener_conf *lc,
               void **state, char *err, size_t errlen, int *line)
{
    const struct netlabd_handler *h = p->pl_handler;
    struct netlabd_init ini;
    int rc = -1;

    memset(&ini, 0, sizeof(ini));
    ini.h.host = &init_host;
    ini.handler = h;
    ini.lc = lc;
    ini.asked = nl_xcalloc(lc->noptions, 1);
    *state = NULL;
    if (h->init != NULL && h->init(&ini) != 0) {
        snprintf(err, errlen, "handler %s: %s", h->name,
                 ini.error_set ? ini.error
                               : "init() refused without saying why");
        *line = lc->options_line;
        goto out;
    }
    /* Checked after init() so that a handler may look up options in any
     * order, or not at all depending on other options. */
    for (size_t i = 0; i < lc->noptions; i++) {
        if (!ini.asked[i]) {
            snprintf(err, errlen, "unknown option `%s'", lc->options[i].key);
            *line = lc->options[i].line;
            if (h->fini != NULL)
                h->fini(ini.data);
            goto out;
        }
    }
    *state = ini.data;
    rc = 0;
out:
    free(ini.asked);
    return rc;
}

void
nl_plugin_fini(struct nl_plugin *p, void *state)
{
    if (p->pl_handler->fini != NULL)
        p->pl_handler->fini(state);
}

int
nl_plugin_info(const char *path)
{
    char err[MSG_MAX];
    struct nl_plugin *p;
    const struct netlabd_handler *h;

    if ((p = nl_plugin_load(path, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    h = p->pl_handler;
    printf("file: %s\n", path);
    printf("name: %s\n", h->name);
    printf("version: %s\n", h->version != NULL ? h->version : "(none)");
    printf("abi: %u\n", (unsigned)h->abi_version);
    printf("framing: %s\n",
           h->framing == NETLABD_FRAMING_LINE ? "line" : "raw");
    fflush(stdout);
    nl_plugin_unload(p);
    return 0;
}

/*
 * The check runs in a child and reports through a pipe, one record a line:
 *
 *   L<i>               listener i: loading its handler
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
    va_list ap;
    size_t off = 0;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(rec, sizeof(rec) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        _exit(2);
    if ((size_t)n > sizeof(rec) - 2)
        n = sizeof(rec) - 2;
    rec[n++] = '\n';
    while (off < (size_t)n) {
        ssize_t w = write(fd, rec + off, n - off);

        if (w == -1 && errno == EINTR)
            continue;
        /* The parent is gone or gave up on us: nobody is listening. */
        if (w <= 0)
            _exit(2);
        off += (size_t)w;
    }
}

static void
child_check(const struct nl_listener_conf *lc, size_t i, int fd, int hfd)
{
    char err[MSG_MAX];
    struct nl_plugin *p;
    void *state;
    int line = lc->line;

    child_put(fd, "L%zu", i);
    /* As a serving process loads it, so that the check sees the same. */
    if ((p = nl_plugin_load_copy(lc->handler_path, hfd, err, sizeof(err))) ==
        NULL)
        goto fail;
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
    const struct nl_conf *conf;
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
nl_check_start(const struct nl_conf *conf, struct nl_errs *errs)
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
nl_plugins_check(const struct nl_conf *conf, struct nl_errs *errs)
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
