/*
 * util.h - allocation that cannot fail quietly, and small string helpers.
 */
#ifndef NL_UTIL_H
#define NL_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

/* Writes "out of memory" to stderr and aborts. */
void nl_oom(void) __attribute__((noreturn));

void *nl_xmalloc(size_t n);
void *nl_xcalloc(size_t n, size_t size);
void *nl_xreallocarray(void *p, size_t n, size_t size);
char *nl_xstrdup(const char *s);
char *nl_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *nl_xvasprintf(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

/* 1 when a and b are the same string, or both NULL; 0 otherwise. */
int nl_str_equal(const char *a, const char *b);

/* Splits "HOST:PORT" or "[IPV6]:PORT" (port 0 to 65535) into host (at
 * most hostlen bytes with its NUL) and *port.  Returns 0, or -1 when s is
 * not of that form. */
int nl_hostport_split(const char *s, char *host, size_t hostlen, int *port);

/*
 * Resolves `path` against the folder of `file`: an absolute path is kept, a
 * relative one is joined to dirname(file), made absolute with the current
 * directory when `file` is relative.  Returns a new string.
 */
char *nl_path_resolve(const char *file, const char *path);

/*
 * The folder of `path`: what comes before its last slash, "/" for a file
 * at the root, "." when there is no slash.  Returns a new string.
 */
char *nl_path_dir(const char *path);

/* Sets O_NONBLOCK (on = 1) or clears it; returns 0 or -1. */
int nl_set_nonblock(int fd, int on);

/* Sets FD_CLOEXEC; returns 0 or -1. */
int nl_set_cloexec(int fd);

/*
 * fork() for the master: stdio flushed first (or the child's copy of
 * pending output would be written twice), and every signal blocked in the
 * child, which must set its own handlers before it unblocks any: until
 * then the master's would run, and write to the master's signal pipe.
 * Returns as fork().
 */
pid_t nl_fork(void);

/* Monotonic time in seconds. */
double nl_now(void);

#endif /* NL_UTIL_H */
