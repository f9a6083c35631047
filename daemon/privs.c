/*
 * privs.c - who runs handler code, and giving up root.  Serving processes,
 * and the child that checks handlers, switch to `user`/`group` before any
 * handler code is loaded; the master keeps root to bind new addresses,
 * reopen the log and reload.  Without `user`, a netlabd started as root
 * uses the `netlabd` account when the system has one, so that handler code
 * does not run as root just because a line was left out.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "errs.h"
#include "log.h"
#include "privs.h"
#include "util.h"

/* The test suite's stand-in for the default account, or NULL. */
static const char *
stand_in(void)
{
    const char *name = getenv(NL_DEFAULT_USER_ENV);

    return name != NULL && *name != '\0' ? name : NULL;
}

const char *
nl_privs_default_user(void)
{
    return stand_in() != NULL ? stand_in() : NL_DEFAULT_USER;
}

/*
 * 1 when getpwnam() returned NULL with an errno that getpwnam(3) lists
 * for "the name was not found" (0, ENOENT, ESRCH, EBADF, EPERM); any
 * other errno means the user database could not be asked (sssd or LDAP
 * down, no memory), and a missing account must not be concluded from it.
 */
static int
not_found(int e)
{
    return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

/* "FILE:LINE: key: message", or "FILE: key: message" when the key took
 * its default. */
#define key_error(conf, errs, key, ...)                                        \
    key_error_at(conf, errs, key, nl_xasprintf(__VA_ARGS__))

static void
key_error_at(const struct nl_conf *conf, struct nl_errs *errs, const char *key,
             char *msg)
{
    nl_conf_report(conf, errs, nl_conf_line(conf, key), "%s: %s", key, msg);
    free(msg);
}

/* As root with `user` not set: the default account, when it exists,
 * becomes conf->user.  -1 after adding an error to errs. */
static int
default_user(struct nl_conf *conf, struct nl_errs *errs)
{
    const struct passwd *pw;

    errno = 0;
    if ((pw = getpwnam(nl_privs_default_user())) != NULL) {
        /* The test suite's stand-in may name any account but root:
         * running handlers as root must stay something said. */
        if (pw->pw_uid == 0 && stand_in() != NULL) {
            nl_conf_report(conf, errs, 0,
                           "%s=%s names uid 0; refused (it is for "
                           "netlabd's tests only)",
                           NL_DEFAULT_USER_ENV, nl_privs_default_user());
            return -1;
        }
        conf->user = nl_xstrdup(pw->pw_name);
        conf->user_default = 1;
    } else if (!not_found(errno)) {
        /* Not knowing is not "no such account": as root by mistake
         * would be the outcome. */
        key_error(conf, errs, "user",
                  "not set, and the %s account cannot be looked up: %s",
                  nl_privs_default_user(), strerror(errno));
        return -1;
    }
    return 0;
}

int
nl_privs_resolve(struct nl_conf *conf, struct nl_errs *errs)
{
    const struct passwd *pw;
    const struct group *gr = NULL;
    size_t nerrs = errs->n;
    int root = geteuid() == 0;
    uid_t uid;
    gid_t gid;

    if (conf->user == NULL && root && default_user(conf, errs) == -1)
        return -1;
    if (conf->user == NULL) {
        if (conf->group != NULL)
            key_error(conf, errs, "group",
                      "set without user, and no default user applies (the "
                      "%s account is used when it exists and netlabd starts "
                      "as root)",
                      nl_privs_default_user());
        return errs->n > nerrs ? -1 : root;
    }

    errno = 0;
    if ((pw = getpwnam(conf->user)) == NULL) {
        key_error(conf, errs, "user", "%s: %s", conf->user,
                  errno ? strerror(errno) : "no such user");
        return -1;
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    if (conf->group != NULL) {
        errno = 0;
        if ((gr = getgrnam(conf->group)) == NULL) {
            key_error(conf, errs, "group", "%s: %s", conf->group,
                      errno ? strerror(errno) : "no such group");
            return -1;
        }
        gid = gr->gr_gid;
    }
    /* Only root switches users; anyone may "switch" to themselves. */
    if (!root && (uid != geteuid() || gid != getegid()))
        key_error(conf, errs, uid != geteuid() ? "user" : "group",
                  "netlabd runs as uid %ld, not root, so it cannot switch to "
                  "%s%s%s",
                  (long)geteuid(), conf->user, gr != NULL ? ":" : "",
                  gr != NULL ? conf->group : "");
    return errs->n > nerrs ? -1 : 0;
}

void
nl_privs_log_override(const struct nl_conf *conf)
{
    const char *name = stand_in();

    if (name != NULL && geteuid() == 0 &&
        (conf->user == NULL || conf->user_default))
        nl_notice(NULL,
                  "the default account is %s, not " NL_DEFAULT_USER
                  ", because %s is set (for netlabd's tests only)",
                  name, NL_DEFAULT_USER_ENV);
}

int
nl_privs_switch(const char *user, const char *group, char *err, size_t errlen)
{
    struct passwd *pw;
    struct group *gr;
    gid_t gid;

    errno = 0;
    if ((pw = getpwnam(user)) == NULL) {
        snprintf(err, errlen, "user %s: %s", user,
                 errno ? strerror(errno) : "no such user");
        return -1;
    }
    gid = pw->pw_gid;
    if (group != NULL) {
        errno = 0;
        if ((gr = getgrnam(group)) == NULL) {
            snprintf(err, errlen, "group %s: %s", group,
                     errno ? strerror(errno) : "no such group");
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid && getgid() == gid)
        return 0; /* already there: nothing to drop */
    if (initgroups(pw->pw_name, gid) == -1 || setgid(gid) == -1 ||
        setuid(pw->pw_uid) == -1) {
        snprintf(err, errlen, "cannot switch to user %s: %s", user,
                 strerror(errno));
        return -1;
    }
    /* Refuse to go on if root could be regained. */
    if (pw->pw_uid != 0 && (setuid(0) != -1 || geteuid() == 0)) {
        snprintf(err, errlen, "still able to become root after switching to %s",
                 user);
        return -1;
    }
    return 0;
}

int
nl_drop_privileges(const char *user, const char *group)
{
    char err[512];

    if (nl_privs_switch(user, group, err, sizeof(err)) == -1) {
        nl_errx(NULL, "%s", err);
        return -1;
    }
    return 0;
}
