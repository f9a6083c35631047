/*
 * log.h - the one path netlabd's diagnostics take: stderr, syslog or a file,
 * with a level threshold.  Each line carries a time (not for syslog, which
 * adds its own), the level and, where there is one, the listener's name.
 * A line repeated word for word is written at most NL_LOG_BURST times a
 * second; the repeats beyond are counted and told in one line at the end
 * of that second: "... (N more like this)".
 */
#ifndef NL_LOG_H
#define NL_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Same values as enum netlabd_log_level in <netlabd/plugin.h>. */
enum nl_log_level {
    NL_LOG_DEBUG = 0,
    NL_LOG_INFO,
    NL_LOG_NOTICE,
    NL_LOG_WARNING,
    NL_LOG_ERROR
};

/*
 * Sends the log to `target`: "stderr", "syslog", or a file path (opened for
 * appending, created 0640).  Returns 0, or -1 with errno set when the file
 * cannot be opened; the previous target is then kept.
 */
int nl_log_open(const char *target, int level);

/*
 * Until nl_log_startup_end(), warnings and errors are also written to fd
 * (a copy of the stderr netlabd started with) as "netlabd: message", so
 * that start-up errors reach the terminal whatever the log target; not
 * while the log itself writes to that file (fstat() tells), which would
 * print them twice.  The log takes fd and closes it at the end.
 */
void nl_log_startup(int fd);

/* Ready (or failed and said why): stops that copy and closes its fd. */
void nl_log_startup_end(void);

/* How often the same line may be written in one second. */
#define NL_LOG_BURST 10

/* Changes the level threshold. */
void nl_log_set_level(int level);

/* Reopens the log file (SIGUSR1, after logrotate moved it).  0 or -1. */
int nl_log_reopen(void);

/* Tells the repeats held back so far at once (nl_log_close() does too). */
void nl_log_flush(void);

/* Tells the repeats held back in windows that are over, so that a quiet
 * process does not hold "N more like this" until its next line; the
 * master calls it once a second. */
void nl_log_tick(void);

void nl_log_close(void);

/* For the tests: the clock, in seconds, that repeats are timed with;
 * NULL is CLOCK_MONOTONIC. */
void nl_log_set_clock(double (*now)(void));

/*
 * Master: makes the pipe serving processes log into (non-blocking, close on
 * exec).  Returns 0, or -1 when the target is syslog, which they reach
 * themselves.
 */
int nl_log_pipe(int fds[2]);

/* Serving process: sends log lines to the pipe's write end from now on. */
void nl_log_to_pipe(int fd);

/* Master: copies the complete lines waiting in the pipe to the target. */
void nl_log_pump(int fd);

/* "debug" ... "error" -> level; -1 for anything else. */
int nl_log_level_parse(const char *name);
const char *nl_log_level_name(int level);

/*
 * 1 at most once a second for the mark *mark_ms (nl_now() in ms of the
 * last 1; it may be shared memory, so that processes together keep to
 * it): the caller logs then, and the others keep quiet.
 */
int nl_log_due(uint64_t *mark_ms);

void nl_vlog(int level, const char *listener, const char *fmt, va_list ap);
void nl_log(int level, const char *listener, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like nl_log() at NL_LOG_ERROR, with ": strerror(errno)" appended. */
void nl_log_errno(const char *listener, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define nl_debug(l, ...)  nl_log(NL_LOG_DEBUG, (l), __VA_ARGS__)
#define nl_info(l, ...)   nl_log(NL_LOG_INFO, (l), __VA_ARGS__)
#define nl_notice(l, ...) nl_log(NL_LOG_NOTICE, (l), __VA_ARGS__)
#define nl_warnx(l, ...)  nl_log(NL_LOG_WARNING, (l), __VA_ARGS__)
#define nl_errx(l, ...)   nl_log(NL_LOG_ERROR, (l), __VA_ARGS__)

#endif /* NL_LOG_H */
