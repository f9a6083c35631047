/*
 * privs.h - who serving processes run as, and dropping privileges to them.
 */
#ifndef NL_PRIVS_H
#define NL_PRIVS_H

#include <stddef.h>

struct nl_conf;
struct nl_errs;

/* The account serving processes run as when `user` is not set and netlabd
 * starts as root (the Debian package creates it). */
#define NL_DEFAULT_USER "netlabd"

/*
 * netlabd's own test suite only, not an operator's setting (`user` is
 * that): names the default account instead of NL_DEFAULT_USER, so that
 * both outcomes (the account exists, it does not) can be tried on a
 * machine where it does or does not exist.  It cannot make handlers run
 * as root unsaid: a name with uid 0 is refused, a missing one gets the
 * usual warning, and a start that uses it says so in the log
 * (nl_privs_log_override()).
 */
#define NL_DEFAULT_USER_ENV "NETLABD_TESTSUITE_DEFAULT_USER"

/*
 * Decides, before anything is forked, who serving processes and handler
 * checks run as.  When conf sets no user and netlabd runs as root, the
 * default account, if it exists, becomes conf->user (user_default = 1),
 * with its primary group unless `group` is set.  Then checks that the
 * user and group exist and that netlabd can switch to them (only root can
 * become another user).  A lookup of the default account that fails
 * (errno other than getpwnam(3)'s "not found" ones) is an error, not a
 * missing account; so is NL_DEFAULT_USER_ENV naming uid 0.  Returns -1
 * after adding "FILE[:LINE]: ..." lines to errs; 1 when handlers will run
 * as root for want of a user (the caller warns); else 0.
 */
int nl_privs_resolve(struct nl_conf *conf, struct nl_errs *errs);

/* The account looked for when `user` is not set: NL_DEFAULT_USER, or the
 * test suite's stand-in. */
const char *nl_privs_default_user(void);

/* Logs a notice when NL_DEFAULT_USER_ENV replaced the default account
 * for conf (resolved: running as root, `user` not set). */
void nl_privs_log_override(const struct nl_conf *conf);

/*
 * Switches to user (and group, or the user's primary group) with the
 * user's supplementary groups, and checks that root cannot be regained.
 * Returns 0 (also when already running as them), or -1 with one line in
 * err saying why.
 */
int nl_privs_switch(const char *user, const char *group, char *err,
                    size_t errlen);

/* nl_privs_switch() that logs the reason instead.  0 or -1. */
int nl_drop_privileges(const char *user, const char *group);

#endif /* NL_PRIVS_H */
