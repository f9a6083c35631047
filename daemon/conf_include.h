/*
 * conf_include.h - checks the files a config pulls in with @include before
 * libconfig reads them.
 */
#ifndef NL_CONF_INCLUDE_H
#define NL_CONF_INCLUDE_H

#include <stdio.h>

struct nl_errs;

/* @include files nested deeper than this are refused (libconfig 1.5's own
 * limit), and so is a file that pulls in more than NL_CONF_INCLUDE_MAX in
 * all, which would otherwise take as long as the fan-out makes it. */
#define NL_CONF_INCLUDE_DEPTH 10
#define NL_CONF_INCLUDE_MAX   256

/*
 * Finds every @include that libconfig will follow when it reads fp (the
 * open config `file`, read from its current position to its end), and in
 * turn in each included file, opening them as libconfig does: dir + "/" +
 * the path as written.  Each must be a regular file, within the bounds
 * above.  A file that cannot be opened is left for libconfig to report.
 * Returns 0, or -1 after adding one "FILE:LINE: @include "PATH": reason"
 * line to errs, FILE being the file that holds the @include.
 */
int nl_conf_check_includes(const char *file, FILE *fp, const char *dir,
                           struct nl_errs *errs);

/*
 * The name to give in messages to path, a file libconfig read while
 * reading the config `top`: top itself, or an included file as written
 * after @include, which libconfig opened in top's folder (even when it
 * starts with a slash).  Returns a string to free.
 */
char *nl_conf_message_path(const char *top, const char *path);

/*
 * Why the open file fd cannot be a config or an included file, or NULL
 * when it can: it must be a regular file that reading cannot hold up
 * (not a folder, a FIFO, a device, nor a file of /proc or /sys).
 */
const char *nl_conf_file_refusal(int fd);

#endif /* NL_CONF_INCLUDE_H */
