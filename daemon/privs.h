/*
 * privs.h - dropping privileges to the configured user and group.
 */
#ifndef NL_PRIVS_H
#define NL_PRIVS_H

/*
 * Switches to user (and group, or the user's primary group) with the
 * user's supplementary groups, and checks that root cannot be regained.
 * Returns 0 (also when already running as them), or -1 after logging.
 */
int nl_drop_privileges(const char *user, const char *group);

#endif /* NL_PRIVS_H */
