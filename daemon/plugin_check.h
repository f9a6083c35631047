/*
 * plugin_check.h - checking every listener's handler (load, init(),
 * fini()) in a short-lived child before the configuration is used.
 */
#ifndef NL_PLUGIN_CHECK_H
#define NL_PLUGIN_CHECK_H

struct nl_conf;
struct nl_errs;

/*
 * For every listener of conf: loads its handler and runs init() and fini(),
 * in a short-lived child process so that handler code never runs in the
 * master.  Adds "FILE:LINE: listener NAME: ..." to errs for each failure.
 * Returns 0 when every handler loaded and accepted its options, else -1.
 * Each listener's handler_version is set to the version its table gives.
 */
int nl_plugins_check(struct nl_conf *conf, struct nl_errs *errs);

/*
 * The same check, for an event loop (a reload must not stop the master):
 * nl_check_start() forks the child, or returns NULL after adding the
 * error to errs; call nl_check_read() when nl_check_fd() is readable until
 * it returns 1, then nl_check_end() (timed_out = 1 to give up on a child
 * that takes longer than NL_CHECK_TIMEOUT), which waits for the child,
 * frees the check and returns 0 or -1 as nl_plugins_check() does.
 */
#define NL_CHECK_TIMEOUT 30
struct nl_check;
struct nl_check *nl_check_start(struct nl_conf *conf, struct nl_errs *errs);
int nl_check_fd(const struct nl_check *c);
int nl_check_read(struct nl_check *c);
int nl_check_end(struct nl_check *c, int timed_out);

#endif /* NL_PLUGIN_CHECK_H */
