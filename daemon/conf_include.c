/*
 * conf_include.c - the files a config pulls in with @include, checked
 * before libconfig reads them.
 *
 * libconfig 1.5 opens an @include path with fopen() and hands it to its
 * flex scanner, which calls exit(2) ("input in flex scanner failed") when
 * read() fails, as it does on a folder; a FIFO blocks the open until a
 * writer comes, and a device may never end.  In netlabd -t that ends or
 * hangs the check; on SIGHUP it ends or hangs the master, and every
 * listener with it.  libconfig 1.5 has no hook to vet a path before it
 * opens one (config_set_include_func() came in 1.7), so this module finds
 * the @include lines the way libconfig's scanner does and checks each
 * file first: it must be a regular file, nested no deeper than libconfig
 * allows, and few enough in all.
 *
 * The scan follows the scanner's rules (libconfig 1.5, lib/scanner.l)
 * exactly where they decide what is an @include: "^[ \t]*@include[ \t]+\""
 * at the start of a line, outside comments (#, // and slash-star) and strings
 * (which may span lines), the path read up to the closing quote with \\
 * and \" as its only escapes.  As in flex, a comment or string left open
 * at the end of an included file goes on in the file that included it.
 * Everything else in a file means nothing here; the syntax is libconfig's
 * to judge, after this check.
 *
 * What is left: a file replaced by a folder between this check and
 * libconfig's open still ends the process.  Only someone who can write
 * the config's folder can do that, and they can write the config too.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "conf_include.h"
#include "errs.h"
#include "util.h"

/* Where the scanner is: flex's start conditions, less INCLUDE, which
 * include_path() reads through in one go. */
enum lex_state {
    LX_CODE,
    LX_COMMENT, /* in a comment */
    LX_STRING   /* in a string */
};

struct scan {
    const char *top; /* the config as given, for message paths */
    const char *dir; /* libconfig's include folder */
    struct nl_errs *errs;
    enum lex_state state; /* carried from one file to the next, as in flex */
    int nfiles;           /* included so far */
};

static int scan_file(struct scan *s, FILE *fp, const char *name, int depth);

/* The next character, left unread. */
static int
peek(FILE *fp)
{
    int c = getc(fp);

    if (c != EOF)
        ungetc(c, fp);
    return c;
}

/*
 * At the start of a line outside comments and strings: reads
 * [ \t]*@include[ \t]+" and returns 1 if that is what is there.  Otherwise
 * returns 0, having read only blanks and the letters of "@include", which
 * mean nothing to the rest of the scan; the first other character is left
 * unread.
 */
static int
include_open(FILE *fp)
{
    static const char word[] = "@include";
    int c;

    while ((c = getc(fp)) == ' ' || c == '\t')
        ;
    for (size_t i = 0; word[i] != '\0'; i++, c = getc(fp))
        if (c != word[i])
            goto no;
    if (c != ' ' && c != '\t')
        goto no;
    while ((c = getc(fp)) == ' ' || c == '\t')
        ;
    if (c == '"')
        return 1;
no:
    if (c != EOF)
        ungetc(c, fp);
    return 0;
}

/*
 * The path of an @include, read up to its closing quote, as libconfig
 * builds it: \\ and \" are the only escapes, any other backslash is
 * dropped, and a run of plain characters is cut at a NUL byte (libconfig
 * appends each run as a C string).  Returns a new string, or NULL when the
 * file ends first (libconfig then opens nothing).
 */
static char *
include_path(FILE *fp, int *line)
{
    char *path = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&path, &len);
    int c, cut = 0;

    if (out == NULL)
        nl_oom();
    while ((c = getc(fp)) != EOF && c != '"') {
        if (c == '\n')
            (*line)++;
        if (c == '\\') {
            int n = peek(fp);

            if (n == '\\' || n == '"')
                putc(getc(fp), out);
            cut = 0;
        } else if (c == '\0') {
            cut = 1;
        } else if (!cut) {
            putc(c, out);
        }
    }
    if (fclose(out) != 0 || path == NULL)
        nl_oom();
    if (c == EOF) {
        free(path);
        return NULL;
    }
    return path;
}

const char *
nl_conf_file_refusal(int fd)
{
    struct statfs fs;
    struct stat st;

    if (fstat(fd, &st) == -1)
        return strerror(errno);
    if (S_ISDIR(st.st_mode))
        return strerror(EISDIR);
    if (!S_ISREG(st.st_mode))
        return "not a regular file"; /* a FIFO or a device may never end */
    /* Regular files to stat(), but some (/proc/kmsg) block on read. */
    if (fstatfs(fd, &fs) == 0 &&
        (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC))
        return "a file of /proc or /sys, not a regular file";
    return NULL;
}

char *
nl_conf_message_path(const char *top, const char *path)
{
    const char *slash = strrchr(top, '/');

    if (strcmp(path, top) == 0 || slash == NULL)
        return nl_xstrdup(path);
    return nl_xasprintf("%.*s/%s", (int)(slash - top), top, path);
}

static void __attribute__((format(printf, 5, 6)))
refuse(struct scan *s, const char *name, int line, const char *path,
       const char *fmt, ...)
{
    char *why;
    va_list ap;

    va_start(ap, fmt);
    why = nl_xvasprintf(fmt, ap);
    va_end(ap);
    nl_errs_add(s->errs, "%s:%d: @include \"%s\": %s", name, line, path, why);
    free(why);
}

/*
 * Checks the file that `path`, included from `name` at `line`, names, and
 * scans it in turn.  Returns 0, or -1 once it has been refused.
 */
static int
check_include(struct scan *s, const char *name, int line, const char *path,
              int depth)
{
    const char *why = NULL;
    char *full, *inner;
    FILE *fp;
    int fd, rc;

    if (depth >= NL_CONF_INCLUDE_DEPTH) {
        refuse(s, name, line, path, "nested more than %d deep",
               NL_CONF_INCLUDE_DEPTH);
        return -1;
    }
    if (++s->nfiles > NL_CONF_INCLUDE_MAX) {
        refuse(s, name, line, path, "more than %d files included in all",
               NL_CONF_INCLUDE_MAX);
        return -1;
    }
    /* As libconfig 1.5 builds it, even for an absolute path. */
    full = nl_xasprintf("%s/%s", s->dir, path);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    fd = open(full, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    free(full);
    if (fd == -1)
        return 0; /* libconfig cannot open it either, and says so */
    if ((why = nl_conf_file_refusal(fd)) != NULL) {
        refuse(s, name, line, path, "%s", why);
        close(fd);
        return -1;
    }
    if ((fp = fdopen(fd, "r")) == NULL)
        nl_oom();
    inner = nl_conf_message_path(s->top, path);
    rc = scan_file(s, fp, inner, depth + 1);
    free(inner);
    fclose(fp);
    return rc;
}

/* Scans one file, `name` in messages, for @include lines.  Returns 0, or
 * -1 once an included file has been refused. */
static int
scan_file(struct scan *s, FILE *fp, const char *name, int depth)
{
    int line = 1, bol = 1, c;

    for (;;) {
        if (s->state == LX_CODE && bol && include_open(fp)) {
            int at = line;
            char *path = include_path(fp, &line);
            int rc = 0;

            if (path != NULL)
                rc = check_include(s, name, at, path, depth);
            free(path);
            if (rc == -1)
                return -1;
            bol = 0;
            continue;
        }
        if ((c = getc(fp)) == EOF)
            return 0;
        bol = c == '\n';
        line += bol;
        switch (s->state) {
        case LX_CODE:
            if (c == '"') {
                s->state = LX_STRING;
            } else if (c == '#' || (c == '/' && peek(fp) == '/')) {
                while ((c = peek(fp)) != EOF && c != '\n')
                    (void)getc(fp);
            } else if (c == '/' && peek(fp) == '*') {
                (void)getc(fp);
                s->state = LX_COMMENT;
            }
            break;
        case LX_COMMENT:
            if (c == '*' && peek(fp) == '/') {
                (void)getc(fp);
                s->state = LX_CODE;
            }
            break;
        case LX_STRING:
            if (c == '"')
                s->state = LX_CODE;
            else if (c == '\\' && (peek(fp) == '\\' || peek(fp) == '"'))
                (void)getc(fp);
            break;
        }
    }
}

int
nl_conf_check_includes(const char *file, FILE *fp, const char *dir,
                       struct nl_errs *errs)
{
    struct scan s = {.top = file, .dir = dir, .errs = errs};

    return scan_file(&s, fp, file, 0);
}
