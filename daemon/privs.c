/*
 * privs.c - giving up root.  Serving processes, and the child that checks
 * handlers, switch to `user`/`group` before any handler code is loaded;
 * the master keeps root to bind new addresses, reopen the log and reload.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privs.h"

int
nl_drop_privileges(const char *user, const char *group)
{
    struct passwd *pw;
    struct group *gr;
    gid_t gid;

    errno = 0;
    if ((pw = getpwnam(user)) == NULL) {
        nl_errx(NULL, "user %s: %s", user,
                errno ? strerror(errno) : "no such user");
        return -1;
    }
    gid = pw->pw_gid;
    if (group != NULL) {
        errno = 0;
        if ((gr = getgrnam(group)) == NULL) {
            nl_errx(NULL, "group %s: %s", group,
                    errno ? strerror(errno) : "no such group");
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid && getgid() == gid)
        return 0; /* already there: nothing to drop */
    if (initgroups(pw->pw_name, gid) == -1 || setgid(gid) == -1 ||
        setuid(pw->pw_uid) == -1) {
        nl_log_errno(NULL, "cannot switch to user %s", user);
        return -1;
    }
    /* Refuse to go on if root could be regained. */
    if (pw->pw_uid != 0 && (setuid(0) != -1 || geteuid() == 0)) {
        nl_errx(NULL, "still able to become root after switching to %s", user);
        return -1;
    }
    return 0;
}
