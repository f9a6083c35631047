/*
 * errs.c - collects error lines so that a config check reports all of its
 * errors, and lets the caller decide where they go (stderr for -t, the log
 * and the control socket for a reload).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "util.h"

void
nl_errs_add(struct nl_errs *e, const char *fmt, ...)
{
    va_list ap;
    char *line;

    va_start(ap, fmt);
    if (vasprintf(&line, fmt, ap) == -1)
        nl_oom();
    va_end(ap);
    e->msg = nl_xreallocarray(e->msg, e->n + 1, sizeof(*e->msg));
    e->msg[e->n++] = line;
}

char *
nl_errs_join(const struct nl_errs *e)
{
    size_t len = 1;
    char *s;

    for (size_t i = 0; i < e->n; i++)
        len += strlen(e->msg[i]) + 1;
    s = nl_xcalloc(1, len);
    for (size_t i = 0; i < e->n; i++) {
        if (i > 0)
            strcat(s, "\n");
        strcat(s, e->msg[i]);
    }
    return s;
}

void
nl_errs_clear(struct nl_errs *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->msg[i]);
    free(e->msg);
    e->msg = NULL;
    e->n = 0;
}
