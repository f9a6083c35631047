/*
 * log.c - the only module that writes diagnostics.  Every process of netlabd
 * (master, serving processes, the plugin check) logs through here; each line
 * is formatted whole and written with one write(2), so lines from several
 * processes never interleave.  syslog gets the level as its priority and no
 * time stamp of ours.
 *
 * Serving processes do not write a log file themselves: they send their
 * lines down a pipe to the master, which writes them to the file.  So only
 * the master ever opens the file, and a log reopen (SIGUSR1) works after
 * the serving processes have dropped privileges.  A serving process never
 * waits for the master: when the pipe is full, the line is dropped.
 *
 * Until netlabd is ready, warnings and errors also go to the stderr it was
 * started with, as "netlabd: ..." (the start-up copy): a netlabd that
 * fails to start in the background, or logs to syslog or a file, still
 * says why on the terminal that started it.  Serving processes started
 * before then keep the copy until they serve.  No copy is made while the
 * log writes to that same file (logging to stderr, before the fork).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum target { TARGET_STDERR, TARGET_SYSLOG, TARGET_FILE, TARGET_PIPE };

static enum target log_target = TARGET_STDERR;
static int log_level = NL_LOG_INFO;
static int log_fd = STDERR_FILENO;
static char log_path[4096];
static int startup_fd = -1; /* the start-up copy of stderr */

static const char *const level_names[] = {"debug", "info", "notice", "warning",
                                          "error"};
static const int syslog_prio[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING,
                                  LOG_ERR};

int
nl_log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(*level_names); i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *
nl_log_level_name(int level)
{
    if (level < NL_LOG_DEBUG || level > NL_LOG_ERROR)
        return "?";
    return level_names[level];
}

static int
open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

    return fd;
}

int
nl_log_open(const char *target, int level)
{
    int fd = -1;

    if (strcmp(target, "stderr") != 0 && strcmp(target, "syslog") != 0) {
        if ((fd = open_file(target)) == -1)
            return -1;
    }
    nl_log_close();
    log_level = level;
    if (strcmp(target, "stderr") == 0) {
        log_target = TARGET_STDERR;
        log_fd = STDERR_FILENO;
    } else if (strcmp(target, "syslog") == 0) {
        log_target = TARGET_SYSLOG;
        openlog("netlabd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    } else {
        log_target = TARGET_FILE;
        log_fd = fd;
        snprintf(log_path, sizeof(log_path), "%s", target);
    }
    return 0;
}

void
nl_log_startup(int fd)
{
    nl_log_startup_end();
    startup_fd = fd;
}

void
nl_log_startup_end(void)
{
    if (startup_fd != -1)
        close(startup_fd);
    startup_fd = -1;
}

/*
 * 1 when the log itself writes to the file the start-up copy goes to: a
 * daemon logging to "stderr" before it forks (or to /dev/stderr, or a
 * file that is the terminal).  The copy would print each line twice.
 * Asked for each line, as the answer changes when the daemon's stderr
 * goes to /dev/null after the fork.
 */
static int
startup_same_as_log(void)
{
    struct stat a, b;

    if (log_target != TARGET_STDERR && log_target != TARGET_FILE)
        return 0;
    return fstat(log_fd, &a) == 0 && fstat(startup_fd, &b) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The start-up copy of one line: "netlabd: [warning: ]message\n". */
static void
startup_copy(int level, const char *msg, size_t len)
{
    char line[2100];
    int n;

    if (startup_same_as_log())
        return;
    n = snprintf(line, sizeof(line), "netlabd: %s%.*s",
                 level == NL_LOG_WARNING ? "warning: " : "", (int)len, msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    /* Nobody may be reading it any more: nothing to do then. */
    (void)!write(startup_fd, line, (size_t)n);
}

void
nl_log_set_level(int level)
{
    log_level = level;
}

int
nl_log_reopen(void)
{
    int fd;

    if (log_target != TARGET_FILE)
        return 0;
    if ((fd = open_file(log_path)) == -1)
        return -1;
    /* dup2 keeps the descriptor number, so nothing else needs telling. */
    if (dup2(fd, log_fd) == -1) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    close(fd);
    return 0;
}

int
nl_log_pipe(int fds[2])
{
    if (log_target == TARGET_SYSLOG)
        return -1; /* children reach syslog themselves */
    return pipe2(fds, O_CLOEXEC | O_NONBLOCK);
}

void
nl_log_to_pipe(int fd)
{
    if (log_target == TARGET_SYSLOG || fd == -1)
        return;
    if (log_target == TARGET_FILE && log_fd > STDERR_FILENO)
        close(log_fd);
    log_target = TARGET_PIPE;
    log_fd = fd;
}

void
nl_log_pump(int fd)
{
    static char buf[65536];
    static size_t have;
    ssize_t n;

    /* Lines arrive whole (each is one write of less than PIPE_BUF) but a
     * read may end inside one: only complete lines are passed on, so that
     * the master's own lines never land in the middle of them. */
    while ((n = read(fd, buf + have, sizeof(buf) - have)) > 0) {
        char *end;

        have += (size_t)n;
        end = memrchr(buf, '\n', have);
        if (end == NULL && have == sizeof(buf))
            end = buf + have - 1; /* cannot happen with whole lines */
        if (end == NULL)
            continue;
        /* A log that cannot be written has nowhere to report that. */
        (void)!write(log_fd, buf, (size_t)(end + 1 - buf));
        have -= (size_t)(end + 1 - buf);
        memmove(buf, end + 1, have);
    }
}

void
nl_log_close(void)
{
    if ((log_target == TARGET_FILE || log_target == TARGET_PIPE) &&
        log_fd > STDERR_FILENO)
        close(log_fd);
    else if (log_target == TARGET_SYSLOG)
        closelog();
    log_target = TARGET_STDERR;
    log_fd = STDERR_FILENO;
}

void
nl_vlog(int level, const char *listener, const char *fmt, va_list ap)
{
    char line[2048], stamp[40];
    int n = 0, m, body;
    struct timeval tv;
    struct tm tm;
    int saved = errno;

    if (level < log_level)
        return;
    if (level < NL_LOG_DEBUG || level > NL_LOG_ERROR)
        level = NL_LOG_ERROR;
    if (log_target != TARGET_SYSLOG) {
        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        n = snprintf(line, sizeof(line), "%s.%03ld netlabd[%ld]: ", stamp,
                     (long)tv.tv_usec / 1000, (long)getpid());
    }
    n += snprintf(line + n, sizeof(line) - n, "[%s] ", level_names[level]);
    body = n;
    if (listener != NULL)
        n += snprintf(line + n, sizeof(line) - n, "listener %s: ", listener);
    m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2) {
        n = (int)sizeof(line) - 2;
        memcpy(line + n - 3, "...", 3);
    }
    line[n++] = '\n';
    line[n] = '\0';
    if (startup_fd != -1 && level >= NL_LOG_WARNING)
        startup_copy(level, line + body, (size_t)(n - body));
    if (log_target == TARGET_SYSLOG) {
        line[n - 1] = '\0';
        syslog(syslog_prio[level], "%s", line);
    } else {
        /* A log that cannot be written has nowhere to report that. */
        (void)!write(log_fd, line, n);
    }
    errno = saved;
}

void
nl_log(int level, const char *listener, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    nl_vlog(level, listener, fmt, ap);
    va_end(ap);
}

void
nl_log_errno(const char *listener, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int saved = errno;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    nl_log(NL_LOG_ERROR, listener, "%s: %s", msg, strerror(saved));
    errno = saved;
}
