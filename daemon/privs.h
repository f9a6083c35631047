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
 * Tests only: names the default account instead of NL_DEFAULT_USER, so
 * that both outcomes (the account exists, it does not) can be tried on a
 * machine where it does or does not exist.
 */
#define NL_DEFAULT_USER_ENV "NETLABD_TEST_DEFAULT_USER"

/*
 * Decides, before anything is forked, who serving processes and handler
 * checks run as.  When conf sets no user and netlabd runs as root, the
 * default account, if it exists, becomes conf->user (user_default = 1),
 * with its primary group unless `group` is set.  Then checks that the
 * user and group exist and that netlabd can switch to them (only root can
 * become another user).  Returns -1 after adding "FILE:LINE: ..." lines to
 * errs; 1 when handlers will run as root for want of a user (the caller
 * warns); else 0.
 */
int nl_privs_resolve(struct nl_conf *conf, struct nl_errs *errs);

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
