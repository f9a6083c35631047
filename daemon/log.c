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
 *
 * A line repeated word for word (a failing accept, a client that sends the
 * same garbage) must not fill the disk: the same text at the same level
 * is written at most NL_LOG_BURST times a second, and the repeats beyond
 * that are counted and told in one line, "... (N more like this)", once
 * the second is over (with the next line logged, or when the log closes or
 * the process exits).
 * The text is compared whole, so distinct lines are never held back.  A
 * few recent texts are remembered, in a table of fixed size.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The line buffer: a longer line is cut, ending in "...". */
#define LINE_MAX_LEN 2048

/* Texts remembered by the repeat limit, and the window it counts in. */
#define REPEAT_SLOTS  16
#define REPEAT_WINDOW 1.0

struct repeat {
    unsigned long hash; /* of text, 0 for a free slot */
    double start;       /* when its window began */
    int level;
    unsigned shown;      /* written in this window */
    unsigned long extra; /* held back in this window */
    char text[LINE_MAX_LEN]; /* from "[level] " on, without the "\n" */
};

/* Serving processes log from several threads: the table has a lock. */
static pthread_mutex_t repeat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct repeat repeats[REPEAT_SLOTS];
static double (*repeat_clock)(void);

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

/* A child forked while another thread held the lock (a handler that
 * forks under `threads`) starts with it free, or its first log line, or
 * its exit's flush, would wait forever. */
static void
repeat_lock_reset(void)
{
    pthread_mutex_init(&repeat_lock, NULL);
}

int
nl_log_open(const char *target, int level)
{
    static int flush_at_exit;
    int fd = -1;

    /* Repeats held back when the process ends are told then. */
    if (!flush_at_exit && atexit(nl_log_flush) == 0 &&
        pthread_atfork(NULL, NULL, repeat_lock_reset) == 0)
        flush_at_exit = 1;

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
    /* A new serving process: the master's repeats are the master's. */
    memset(repeats, 0, sizeof(repeats));
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
    nl_log_flush();
    memset(repeats, 0, sizeof(repeats));
    if ((log_target == TARGET_FILE || log_target == TARGET_PIPE) &&
        log_fd > STDERR_FILENO)
        close(log_fd);
    else if (log_target == TARGET_SYSLOG)
        closelog();
    log_target = TARGET_STDERR;
    log_fd = STDERR_FILENO;
}

static double
repeat_now(void)
{
    struct timespec ts;

    if (repeat_clock != NULL)
        return repeat_clock();
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

void
nl_log_set_clock(double (*now)(void))
{
    repeat_clock = now;
}

/* The start of a line: time and pid, but for syslog.  Returns its length. */
static int
line_prefix(char *line, size_t size)
{
    struct timeval tv;
    struct tm tm;
    char stamp[40];

    if (log_target == TARGET_SYSLOG)
        return 0;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    return snprintf(line, size, "%s.%03ld netlabd[%ld]: ", stamp,
                    (long)tv.tv_usec / 1000, (long)getpid());
}

/*
 * Writes a line of n bytes ending in "\n" to the target; text is where
 * its "[level] " begins.  The start-up copy gets it too, from after that.
 */
static void
emit(int level, char *line, char *text, int n)
{
    int body = (int)strlen(level_names[level]) + 3;

    if (startup_fd != -1 && level >= NL_LOG_WARNING)
        startup_copy(level, text + body, (size_t)(n - (text - line) - body));
    if (log_target == TARGET_SYSLOG) {
        line[n - 1] = '\0';
        syslog(syslog_prio[level], "%s", line);
    } else {
        /* A log that cannot be written has nowhere to report that. */
        (void)!write(log_fd, line, n);
    }
}

/* Tells how many repeats of r were held back, and forgets them. */
static void
repeat_tell(struct repeat *r)
{
    char line[LINE_MAX_LEN + 128];
    int head = line_prefix(line, sizeof(line)), n;

    n = head + snprintf(line + head, sizeof(line) - head,
                        "%s (%lu more like this)\n", r->text, r->extra);
    if (n > (int)sizeof(line) - 1) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    r->extra = 0;
    emit(r->level, line, line + head, n);
}

/* Tells the repeats held back in windows that are over (all with force). */
static void
repeat_flush(double now, int force)
{
    for (int i = 0; i < REPEAT_SLOTS; i++)
        if (repeats[i].extra > 0 &&
            (force || now - repeats[i].start >= REPEAT_WINDOW))
            repeat_tell(&repeats[i]);
}

/* FNV-1a; never 0, which marks a free slot. */
static unsigned long
repeat_hash(const char *text)
{
    unsigned long h = 14695981039346656037UL;

    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211UL;
    return h | 1;
}

/*
 * 1 when the line text (from its "[level] ", without "\n") is to be
 * written, 0 when it is a repeat held back.  Windows that are over have
 * been told already (repeat_flush).
 */
static int
repeat_admit(int level, const char *text, double now)
{
    unsigned long h = repeat_hash(text);
    struct repeat *r, *victim = &repeats[0];

    for (int i = 0; i < REPEAT_SLOTS; i++) {
        r = &repeats[i];
        if (r->hash == h && r->level == level && strcmp(r->text, text) == 0) {
            if (now - r->start >= REPEAT_WINDOW) {
                r->start = now;
                r->shown = 0;
            }
            if (r->shown < NL_LOG_BURST) {
                r->shown++;
                return 1;
            }
            r->extra++;
            return 0;
        }
        /* A free slot, else the one whose window began first. */
        if (victim->hash != 0 && (r->hash == 0 || r->start < victim->start))
            victim = r;
    }
    if (victim->extra > 0)
        repeat_tell(victim);
    victim->hash = h;
    victim->level = level;
    victim->start = now;
    victim->shown = 1;
    victim->extra = 0;
    snprintf(victim->text, sizeof(victim->text), "%s", text);
    return 1;
}

void
nl_log_flush(void)
{
    pthread_mutex_lock(&repeat_lock);
    repeat_flush(0, 1);
    pthread_mutex_unlock(&repeat_lock);
}

void
nl_log_tick(void)
{
    pthread_mutex_lock(&repeat_lock);
    repeat_flush(repeat_now(), 0);
    pthread_mutex_unlock(&repeat_lock);
}

void
nl_vlog(int level, const char *listener, const char *fmt, va_list ap)
{
    char line[LINE_MAX_LEN];
    int n, m, head;
    int saved = errno;
    double now;

    if (level < log_level)
        return;
    if (level < NL_LOG_DEBUG || level > NL_LOG_ERROR)
        level = NL_LOG_ERROR;
    n = head = line_prefix(line, sizeof(line));
    n += snprintf(line + n, sizeof(line) - n, "[%s] ", level_names[level]);
    if (listener != NULL) {
        n += snprintf(line + n, sizeof(line) - n, "listener %s: ", listener);
        /* snprintf() returns what it would have written: a name longer
         * than the line must not push n past its end. */
        if (n > (int)sizeof(line) - 1)
            n = (int)sizeof(line) - 1;
    }
    m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2) {
        n = (int)sizeof(line) - 2;
        memcpy(line + n - 3, "...", 3);
    }
    line[n] = '\0';
    now = repeat_now();
    pthread_mutex_lock(&repeat_lock);
    repeat_flush(now, 0);
    if (repeat_admit(level, line + head, now)) {
        line[n++] = '\n';
        line[n] = '\0';
        emit(level, line, line + head, n);
    }
    pthread_mutex_unlock(&repeat_lock);
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

int
nl_log_due(uint64_t *mark_ms)
{
    struct timespec ts;
    uint64_t now, last = __atomic_load_n(mark_ms, __ATOMIC_RELAXED);

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    /* The first to move the mark wins. */
    return (last == 0 || now - last >= 1000) &&
           __atomic_compare_exchange_n(mark_ms, &last, now, 0,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}
