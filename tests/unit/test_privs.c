/*
 * test_privs.c - who serving processes run as (nl_privs_resolve(): the
 * default account, checks that name the config line) and dropping
 * privileges.  The account lookups and id calls
 * are wrapped (-Wl,--wrap, see tests/unit/local.mk): unscripted, each wrapper calls the
 * real function, so unknown names and a real switch to "nobody" (as root,
 * in a child) go through the system; scripted, they reach the failures a
 * healthy system never gives: a failing initgroups/setgid/setuid and root
 * that can still be regained.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "errs.h"
#include "log.h"
#include "privs.h"

struct passwd *__real_getpwnam(const char *name);
struct group *__real_getgrnam(const char *name);
uid_t __real_getuid(void);
uid_t __real_geteuid(void);
gid_t __real_getgid(void);
int __real_initgroups(const char *user, gid_t group);
int __real_setgid(gid_t gid);
int __real_setuid(uid_t uid);

struct passwd *__wrap_getpwnam(const char *name);
struct group *__wrap_getgrnam(const char *name);
uid_t __wrap_getuid(void);
uid_t __wrap_geteuid(void);
gid_t __wrap_getgid(void);
int __wrap_initgroups(const char *user, gid_t group);
int __wrap_setgid(gid_t gid);
int __wrap_setuid(uid_t uid);

static int scripted; /* 0: the wrappers call the real functions */

/* Scripted: the name is checked, then errno and the result are set. */
struct passwd *
__wrap_getpwnam(const char *name)
{
    if (!scripted)
        return __real_getpwnam(name);
    check_expected(name);
    errno = mock_type(int);
    return mock_ptr_type(struct passwd *);
}

struct group *
__wrap_getgrnam(const char *name)
{
    if (!scripted)
        return __real_getgrnam(name);
    check_expected(name);
    errno = mock_type(int);
    return mock_ptr_type(struct group *);
}

/* The id getters cannot fail. */
uid_t
__wrap_getuid(void)
{
    return scripted ? mock_type(uid_t) : __real_getuid();
}

uid_t
__wrap_geteuid(void)
{
    return scripted ? mock_type(uid_t) : __real_geteuid();
}

gid_t
__wrap_getgid(void)
{
    return scripted ? mock_type(gid_t) : __real_getgid();
}

/* The setters return 0, or -1 with errno set (scripted: errno, result). */
int
__wrap_initgroups(const char *user, gid_t group)
{
    if (!scripted)
        return __real_initgroups(user, group);
    check_expected(user);
    check_expected(group);
    errno = mock_type(int);
    return mock_type(int);
}

int
__wrap_setgid(gid_t gid)
{
    if (!scripted)
        return __real_setgid(gid);
    check_expected(gid);
    errno = mock_type(int);
    return mock_type(int);
}

int
__wrap_setuid(uid_t uid)
{
    if (!scripted)
        return __real_setuid(uid);
    check_expected(uid);
    errno = mock_type(int);
    return mock_type(int);
}

static char dir[64], logpath[128];

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/nl-privs-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(logpath, sizeof(logpath), "%s/log", dir);
    assert_int_equal(nl_log_open(logpath, NL_LOG_DEBUG), 0);
    scripted = 0;
    return 0;
}

static int
setup_scripted(void **state)
{
    setup(state);
    scripted = 1;
    return 0;
}

static int
teardown(void **state)
{
    scripted = 0;
    nl_log_open("stderr", NL_LOG_INFO);
    unlink(logpath);
    rmdir(dir);
    return 0;
}

static const char *
logged(void)
{
    static char buf[4096];
    FILE *f = fopen(logpath, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void
assert_logged(const char *text)
{
    const char *log = logged();

    if (strstr(log, text) == NULL)
        fail_msg("\"%s\" not in the log:\n%s", text, log);
}

/* ---- through the real system ---- */

static void
test_unknown_user(void **state)
{
    assert_int_equal(nl_drop_privileges("nl-no-such-user-4711", NULL), -1);
    assert_logged("user nl-no-such-user-4711: ");
}

static void
test_unknown_group(void **state)
{
    struct passwd *pw = getpwuid(getuid());

    if (pw == NULL)
        skip();
    assert_int_equal(nl_drop_privileges(pw->pw_name, "nl-no-such-group-4711"),
                     -1);
    assert_logged("group nl-no-such-group-4711: ");
}

static void
test_already_there(void **state)
{
    struct passwd *pw = getpwuid(getuid());
    struct group *gr = getgrgid(getgid());
    uid_t uid = getuid();
    gid_t gid = getgid();
    char user[64], group[64];

    if (pw == NULL || gr == NULL)
        skip();
    snprintf(user, sizeof(user), "%s", pw->pw_name);
    snprintf(group, sizeof(group), "%s", gr->gr_name);
    assert_int_equal(nl_drop_privileges(user, group), 0);
    assert_int_equal(getuid(), uid);
    assert_int_equal(geteuid(), uid);
    assert_int_equal(getgid(), gid);
    assert_string_equal(logged(), "");
}

static int
cmp_gid(const void *a, const void *b)
{
    gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

    return (x > y) - (x < y);
}

/*
 * In a child: switches to user (and group), then checks every id and that
 * root cannot come back.  Exits 0, or the number of the failed check.
 */
static void
switch_in_child(const char *user, const char *group, gid_t want_gid)
{
    struct passwd *pw = getpwnam(user);
    gid_t groups[256], want[256];
    int n, nwant = 256;
    uid_t uid;

    if (pw == NULL)
        _exit(10);
    uid = pw->pw_uid;
    if (getgrouplist(user, want_gid, want, &nwant) == -1)
        _exit(11);
    if (nl_drop_privileges(user, group) != 0)
        _exit(12);
    if (getuid() != uid || geteuid() != uid)
        _exit(13);
    if (getgid() != want_gid || getegid() != want_gid)
        _exit(14);
    /* Exactly the user's groups: none of root's kept. */
    n = getgroups(256, groups);
    if (n != nwant)
        _exit(15);
    qsort(groups, (size_t)n, sizeof(gid_t), cmp_gid);
    qsort(want, (size_t)nwant, sizeof(gid_t), cmp_gid);
    if (memcmp(groups, want, (size_t)n * sizeof(gid_t)) != 0)
        _exit(16);
    for (int i = 0; i < n; i++)
        if (groups[i] == 0)
            _exit(17);
    if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1)
        _exit(18);
    /* Now unprivileged: asking again is "already there"... */
    if (nl_drop_privileges(user, group) != 0)
        _exit(19);
    /* ... and root is out of reach. */
    if (nl_drop_privileges("root", NULL) != -1)
        _exit(20);
    _exit(0);
}

static void
run_switch(const char *user, const char *group, gid_t want_gid)
{
    int status;
    pid_t pid;

    pid = fork();
    assert_true(pid != -1);
    if (pid == 0)
        switch_in_child(user, group, want_gid);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    /* Non-zero: the number of the check that failed in switch_in_child. */
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_switch_as_root(void **state)
{
    static const char *others[] = {"daemon", "bin", "users", "sys"};
    struct passwd *pw;
    struct group *gr;
    gid_t gid;

    if (getuid() != 0) {
        print_message("not root: real switch to nobody not tested\n");
        skip();
    }
    if ((pw = getpwnam("nobody")) == NULL) {
        print_message("no user nobody: real switch not tested\n");
        skip();
    }
    gid = pw->pw_gid;
    run_switch("nobody", NULL, gid);
    assert_logged("cannot switch to user root");
    /* With a group other than the user's own. */
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        if ((gr = getgrnam(others[i])) != NULL && gr->gr_gid != gid &&
            gr->gr_gid != 0) {
            run_switch("nobody", others[i], gr->gr_gid);
            break;
        }
    }
    /* The parent was not touched. */
    assert_int_equal(getuid(), 0);
    assert_int_equal(geteuid(), 0);
}

/* ---- scripted ---- */

static struct passwd web = {.pw_name = "web", .pw_uid = 1000, .pw_gid = 1000};
static struct group staff = {.gr_name = "staff", .gr_gid = 50};

static void
will_find_user(void)
{
    expect_string(__wrap_getpwnam, name, "web");
    will_return(__wrap_getpwnam, 0);
    will_return(__wrap_getpwnam, &web);
}

static void
will_find_group(void)
{
    expect_string(__wrap_getgrnam, name, "staff");
    will_return(__wrap_getgrnam, 0);
    will_return(__wrap_getgrnam, &staff);
}

static void
will_initgroups(gid_t gid, int err)
{
    expect_string(__wrap_initgroups, user, "web");
    expect_value(__wrap_initgroups, group, gid);
    will_return(__wrap_initgroups, err);
    will_return(__wrap_initgroups, err ? -1 : 0);
}

static void
will_setgid(gid_t gid, int err)
{
    expect_value(__wrap_setgid, gid, gid);
    will_return(__wrap_setgid, err);
    will_return(__wrap_setgid, err ? -1 : 0);
}

static void
will_setuid(uid_t uid, int err)
{
    expect_value(__wrap_setuid, uid, uid);
    will_return(__wrap_setuid, err);
    will_return(__wrap_setuid, err ? -1 : 0);
}

static void
test_lookup_errors(void **state)
{
    /* A failing lookup is told apart from a missing name. */
    expect_string(__wrap_getpwnam, name, "web");
    will_return(__wrap_getpwnam, EIO);
    will_return(__wrap_getpwnam, NULL);
    assert_int_equal(nl_drop_privileges("web", NULL), -1);
    assert_logged("user web: Input/output error");

    expect_string(__wrap_getpwnam, name, "web");
    will_return(__wrap_getpwnam, 0);
    will_return(__wrap_getpwnam, NULL);
    assert_int_equal(nl_drop_privileges("web", NULL), -1);
    assert_logged("user web: no such user");

    will_find_user();
    expect_string(__wrap_getgrnam, name, "staff");
    will_return(__wrap_getgrnam, EIO);
    will_return(__wrap_getgrnam, NULL);
    assert_int_equal(nl_drop_privileges("web", "staff"), -1);
    assert_logged("group staff: Input/output error");

    will_find_user();
    expect_string(__wrap_getgrnam, name, "staff");
    will_return(__wrap_getgrnam, 0);
    will_return(__wrap_getgrnam, NULL);
    assert_int_equal(nl_drop_privileges("web", "staff"), -1);
    assert_logged("group staff: no such group");
}

static void
test_switch_order(void **state)
{
    /* Groups first, then the group id, then the user id, then the check. */
    will_find_user();
    will_return(__wrap_getuid, 0);
    will_initgroups(1000, 0);
    will_setgid(1000, 0);
    will_setuid(1000, 0);
    will_setuid(0, EPERM);
    will_return(__wrap_geteuid, 1000);
    assert_int_equal(nl_drop_privileges("web", NULL), 0);

    /* The group given replaces the user's primary group. */
    will_find_user();
    will_find_group();
    will_return(__wrap_getuid, 0);
    will_initgroups(50, 0);
    will_setgid(50, 0);
    will_setuid(1000, 0);
    will_setuid(0, EPERM);
    will_return(__wrap_geteuid, 1000);
    assert_int_equal(nl_drop_privileges("web", "staff"), 0);
    assert_string_equal(logged(), "");
}

static void
test_already_there_scripted(void **state)
{
    /* Same uid, euid and gid: nothing is called. */
    will_find_user();
    will_return(__wrap_getuid, 1000);
    will_return(__wrap_geteuid, 1000);
    will_return(__wrap_getgid, 1000);
    assert_int_equal(nl_drop_privileges("web", NULL), 0);

    /* Same user, another group: switched. */
    will_find_user();
    will_find_group();
    will_return(__wrap_getuid, 1000);
    will_return(__wrap_geteuid, 1000);
    will_return(__wrap_getgid, 1000);
    will_initgroups(50, 0);
    will_setgid(50, 0);
    will_setuid(1000, 0);
    will_setuid(0, EPERM);
    will_return(__wrap_geteuid, 1000);
    assert_int_equal(nl_drop_privileges("web", "staff"), 0);
}

static void
test_switch_failures(void **state)
{
    will_find_user();
    will_return(__wrap_getuid, 0);
    will_initgroups(1000, EPERM);
    assert_int_equal(nl_drop_privileges("web", NULL), -1);
    assert_logged("cannot switch to user web: Operation not permitted");

    will_find_user();
    will_return(__wrap_getuid, 0);
    will_initgroups(1000, 0);
    will_setgid(1000, EINVAL);
    assert_int_equal(nl_drop_privileges("web", NULL), -1);
    assert_logged("cannot switch to user web: Invalid argument");

    will_find_user();
    will_return(__wrap_getuid, 0);
    will_initgroups(1000, 0);
    will_setgid(1000, 0);
    will_setuid(1000, EAGAIN);
    assert_int_equal(nl_drop_privileges("web", NULL), -1);
    assert_logged("cannot switch to user web: Resource temporarily");
}

static void
test_root_regained(void **state)
{
    will_find_user();
    will_return(__wrap_getuid, 0);
    will_initgroups(1000, 0);
    will_setgid(1000, 0);
    will_setuid(1000, 0);
    will_setuid(0, 0); /* root came back */
    assert_int_equal(nl_drop_privileges("web", NULL), -1);
    assert_logged("still able to become root after switching to web");

    /* setuid(0) refused, but the effective id is still root. */
    assert_int_equal(truncate(logpath, 0), 0);
    will_find_user();
    will_return(__wrap_getuid, 0);
    will_initgroups(1000, 0);
    will_setgid(1000, 0);
    will_setuid(1000, 0);
    will_setuid(0, EPERM);
    will_return(__wrap_geteuid, 0);
    assert_int_equal(nl_drop_privileges("web", NULL), -1);
    assert_logged("still able to become root after switching to web");
}

/* ---- who serving processes run as ---- */

/* A config file holding text, loaded; NULL-free: the test fails else. */
static struct nl_conf *
load(const char *text)
{
    char path[160];
    struct nl_errs errs = {0};
    struct nl_conf *c;
    FILE *f;

    snprintf(path, sizeof(path), "%s/t.conf", dir);
    assert_non_null(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
    c = nl_conf_load(path, &errs);
    assert_int_equal(errs.n, 0);
    assert_non_null(c);
    unlink(path);
    return c;
}

/* errs holds exactly one line, which ends with want after "t.conf". */
static void
assert_one_error(struct nl_errs *errs, const char *want)
{
    const char *at;

    assert_int_equal(errs->n, 1);
    at = strstr(errs->msg[0], "/t.conf");
    if (at == NULL || strcmp(at + strlen("/t.conf"), want) != 0)
        fail_msg("error %s, expected .../t.conf%s", errs->msg[0], want);
    nl_errs_clear(errs);
}

/* The default account is found (named "web", as the fake says). */
static void
will_find_default(void)
{
    expect_string(__wrap_getpwnam, name, NL_DEFAULT_USER);
    will_return(__wrap_getpwnam, 0);
    will_return(__wrap_getpwnam, &web);
}

static void
test_default_account(void **state)
{
    struct nl_errs errs = {0};
    struct nl_conf *c = load("log_level = \"info\";\n");

    /* Root, no user set, the account exists: it is used. */
    unsetenv(NL_DEFAULT_USER_ENV);
    will_return_always(__wrap_geteuid, 0);
    will_find_default();
    will_find_user();
    assert_int_equal(nl_privs_resolve(c, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_string_equal(c->user, "web");
    assert_int_equal(c->user_default, 1);
    nl_conf_free(c);

    /* The account does not exist: root it is, and the caller warns. */
    c = load("");
    expect_string(__wrap_getpwnam, name, NL_DEFAULT_USER);
    will_return(__wrap_getpwnam, 0);
    will_return(__wrap_getpwnam, NULL);
    assert_int_equal(nl_privs_resolve(c, &errs), 1);
    assert_int_equal(errs.n, 0);
    assert_null(c->user);
    assert_int_equal(c->user_default, 0);
    nl_conf_free(c);

    /* The test hook names another account. */
    setenv(NL_DEFAULT_USER_ENV, "nl-elsewhere", 1);
    c = load("");
    expect_string(__wrap_getpwnam, name, "nl-elsewhere");
    will_return(__wrap_getpwnam, 0);
    will_return(__wrap_getpwnam, NULL);
    assert_int_equal(nl_privs_resolve(c, &errs), 1);
    unsetenv(NL_DEFAULT_USER_ENV);
    nl_conf_free(c);

    /* A group with the default account: taken, its line unquestioned. */
    c = load("group = \"staff\";\n");
    will_find_default();
    will_find_user();
    will_find_group();
    assert_int_equal(nl_privs_resolve(c, &errs), 0);
    assert_string_equal(c->group, "staff");
    nl_conf_free(c);

    /* A group, and no account to go with it: an error at its line. */
    c = load("\ngroup = \"staff\";\n");
    expect_string(__wrap_getpwnam, name, NL_DEFAULT_USER);
    will_return(__wrap_getpwnam, 0);
    will_return(__wrap_getpwnam, NULL);
    assert_int_equal(nl_privs_resolve(c, &errs), -1);
    assert_one_error(&errs, ":2: group: set without user, and no default "
                            "user applies (the " NL_DEFAULT_USER
                            " account is used when it exists and netlabd "
                            "starts as root)");
    nl_conf_free(c);
}

/*
 * The default account cannot be looked up (sssd or LDAP down): that is
 * no answer, not "no such account", so nothing runs as root on it.  The
 * errnos getpwnam(3) gives for a name that is not there still mean root
 * and the caller's warning.
 */
static void
test_default_lookup_error(void **state)
{
    static const int missing[] = {0, ENOENT, ESRCH, EBADF, EPERM};
    struct nl_errs errs = {0};
    struct nl_conf *c = load("log_level = \"info\";\n");

    unsetenv(NL_DEFAULT_USER_ENV);
    will_return_always(__wrap_geteuid, 0);
    expect_string(__wrap_getpwnam, name, NL_DEFAULT_USER);
    will_return(__wrap_getpwnam, EIO);
    will_return(__wrap_getpwnam, NULL);
    assert_int_equal(nl_privs_resolve(c, &errs), -1);
    assert_one_error(&errs, ": user: not set, and the " NL_DEFAULT_USER
                            " account cannot be looked up: Input/output "
                            "error");
    assert_null(c->user);
    expect_string(__wrap_getpwnam, name, NL_DEFAULT_USER);
    will_return(__wrap_getpwnam, ETIMEDOUT);
    will_return(__wrap_getpwnam, NULL);
    assert_int_equal(nl_privs_resolve(c, &errs), -1);
    assert_int_equal(errs.n, 1);
    nl_errs_clear(&errs);

    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        expect_string(__wrap_getpwnam, name, NL_DEFAULT_USER);
        will_return(__wrap_getpwnam, missing[i]);
        will_return(__wrap_getpwnam, NULL);
        assert_int_equal(nl_privs_resolve(c, &errs), 1);
        assert_int_equal(errs.n, 0);
        assert_null(c->user);
    }
    nl_conf_free(c);
}

/* The test suite's stand-in for the default account: never uid 0, and a
 * start that uses it says so. */
static void
test_default_override(void **state)
{
    static struct passwd toor = {.pw_name = "toor", .pw_uid = 0, .pw_gid = 0};
    struct nl_errs errs = {0};
    struct nl_conf *c = load("");

    will_return_always(__wrap_geteuid, 0);
    setenv(NL_DEFAULT_USER_ENV, "toor", 1);
    expect_string(__wrap_getpwnam, name, "toor");
    will_return(__wrap_getpwnam, 0);
    will_return(__wrap_getpwnam, &toor);
    assert_int_equal(nl_privs_resolve(c, &errs), -1);
    assert_one_error(&errs, ": " NL_DEFAULT_USER_ENV "=toor names uid 0; "
                            "refused (it is for netlabd's tests only)");
    assert_null(c->user);

    /* Another account: taken, and logged at notice level. */
    setenv(NL_DEFAULT_USER_ENV, "web", 1);
    will_find_user();
    will_find_user();
    assert_int_equal(nl_privs_resolve(c, &errs), 0);
    assert_string_equal(c->user, "web");
    assert_string_equal(logged(), "");
    nl_privs_log_override(c);
    assert_logged("[notice] the default account is web, not " NL_DEFAULT_USER
                  ", because " NL_DEFAULT_USER_ENV " is set (for netlabd's "
                  "tests only)\n");
    /* Not set: nothing to say. */
    assert_int_equal(truncate(logpath, 0), 0);
    unsetenv(NL_DEFAULT_USER_ENV);
    nl_privs_log_override(c);
    assert_string_equal(logged(), "");
    nl_conf_free(c);

    /* A config that sets user never consulted it: nothing to say. */
    setenv(NL_DEFAULT_USER_ENV, "web", 1);
    c = load("user = \"web\";\n");
    will_find_user();
    assert_int_equal(nl_privs_resolve(c, &errs), 0);
    nl_privs_log_override(c);
    assert_string_equal(logged(), "");
    unsetenv(NL_DEFAULT_USER_ENV);
    nl_conf_free(c);
}

static void
test_default_not_root(void **state)
{
    struct nl_errs errs = {0};
    struct nl_conf *c = load("");

    /* Not root: nobody to switch to, nothing looked up, no warning. */
    will_return_always(__wrap_geteuid, 1000);
    assert_int_equal(nl_privs_resolve(c, &errs), 0);
    assert_null(c->user);
    nl_conf_free(c);
}

static void
test_resolve_errors(void **state)
{
    struct nl_errs errs = {0};
    struct nl_conf *c = load("log_level = \"info\";\nuser = \"web\";\n"
                             "group = \"staff\";\n");

    /* Unknown user, unknown group: at their lines, one line each. */
    will_return_always(__wrap_geteuid, 0);
    expect_string(__wrap_getpwnam, name, "web");
    will_return(__wrap_getpwnam, 0);
    will_return(__wrap_getpwnam, NULL);
    assert_int_equal(nl_privs_resolve(c, &errs), -1);
    assert_one_error(&errs, ":2: user: web: no such user");
    will_find_user();
    expect_string(__wrap_getgrnam, name, "staff");
    will_return(__wrap_getgrnam, 0);
    will_return(__wrap_getgrnam, NULL);
    assert_int_equal(nl_privs_resolve(c, &errs), -1);
    assert_one_error(&errs, ":3: group: staff: no such group");
    /* As root both are fine. */
    will_find_user();
    will_find_group();
    assert_int_equal(nl_privs_resolve(c, &errs), 0);
    assert_int_equal(c->user_default, 0);
    nl_conf_free(c);
}

static void
test_resolve_not_root(void **state)
{
    struct nl_errs errs = {0};
    struct nl_conf *c = load("user = \"web\";\n");

    /* Another user, and only root can switch: said at the user's line. */
    will_return_always(__wrap_geteuid, 4242);
    will_find_user();
    assert_int_equal(nl_privs_resolve(c, &errs), -1);
    assert_one_error(&errs, ":1: user: netlabd runs as uid 4242, not root, "
                            "so it cannot switch to web");
    nl_conf_free(c);
}

/* nl_privs_switch() says why in err and logs nothing. */
static void
test_switch_err(void **state)
{
    char err[256];

    assert_int_equal(
        nl_privs_switch("nl-no-such-user-4711", NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "user nl-no-such-user-4711: no such user");
    assert_string_equal(logged(), "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_switch_err, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_account, setup_scripted,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_default_not_root, setup_scripted,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_default_lookup_error,
                                        setup_scripted, teardown),
        cmocka_unit_test_setup_teardown(test_default_override, setup_scripted,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_resolve_errors, setup_scripted,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_resolve_not_root, setup_scripted,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_already_there, setup, teardown),
        cmocka_unit_test_setup_teardown(test_switch_as_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_errors, setup_scripted,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_switch_order, setup_scripted,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_already_there_scripted,
                                        setup_scripted, teardown),
        cmocka_unit_test_setup_teardown(test_switch_failures, setup_scripted,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_root_regained, setup_scripted,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
