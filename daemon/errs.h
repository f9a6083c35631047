/*
 * errs.h - a list of error lines, for reporting every error of a run at once.
 */
#ifndef NL_ERRS_H
#define NL_ERRS_H

#include <stddef.h>

struct nl_errs {
    char **msg;
    size_t n;
};

/* Appends one formatted line.  Out of memory aborts: errors are small. */
void nl_errs_add(struct nl_errs *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Every line, joined with "\n", in a new string. */
char *nl_errs_join(const struct nl_errs *e);

/* Frees every line; the list can be used again. */
void nl_errs_clear(struct nl_errs *e);

#endif /* NL_ERRS_H */
