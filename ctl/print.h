/*
 * print.h - netlabctl's printing of the daemon's answers for a person.
 */
#ifndef NL_PRINT_H
#define NL_PRINT_H

#include <stdio.h>

struct json_object;

#define NL_PRINT_CELL 1024 /* bytes of one table cell; longer text is cut */

/*
 * Prints text (a daemon's error: a reload's are one "FILE:LINE: ..." per
 * line) one line at a time, each after `first` (the first line) or `more`
 * (the others), sanitized.
 */
void nl_print_lines(FILE *out, const char *first, const char *more,
                 const char *text);

/* Prints the answer doc (raw as it came) to command cmd on stdout: a
 * table for status, a line for the others, raw for commands it does not
 * know. */
void nl_print_answer(const char *cmd, const struct json_object *doc,
                 const char *raw);

#endif /* NL_PRINT_H */
