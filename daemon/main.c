/*
 * main.c - netlabd's start-up order: options, config, checks, log, bind,
 * daemonize, serve; teardown happens in reverse inside the master.
 *
 * Exit status: 0 after a clean stop or a good `-t`; 1 for a bad command
 * line or configuration (systemd's RestartPreventExitStatus=1 keeps a
 * broken config from being restarted in a loop); 2 when the configuration
 * is fine but start-up failed (a port in use, a missing directory), which
 * a restart may cure.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activation.h"
#include "conf.h"
#include "errs.h"
#include "log.h"
#include "master.h"
#include "paths.h"
#include "plugins.h"
#include "preflight.h"
#include "privs.h"
#include "sdnotify.h"
#include "serve.h"

#define EXIT_CONFIG  1
#define EXIT_STARTUP 2

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: netlabd [-c FILE] [-f] [-t] [-p PIDFILE] [-V] [-h] "
            "[--plugin-info FILE]\n"
            "  -c, --config FILE    config file (default %s/netlabd.conf)\n"
            "  -f, --foreground     stay in the foreground, log to stderr "
            "unless\n"
            "                       log_target says otherwise\n"
            "  -t, --test           check the config and its plugins, then "
            "exit\n"
            "  -p, --pidfile FILE   pidfile (overrides the config's "
            "pidfile)\n"
            "  -V, --version        print the version and exit\n"
            "  -h, --help           print this help and exit\n"
            "      --plugin-info FILE\n"
            "                       print a handler's name, version and ABI\n",
            SYSCONFDIR);
}

/*
 * Lets each serving process use as many descriptors as the hard limit
 * allows: the default soft limit (1024) is below the default
 * max_connections, and running out makes accept() fail for everyone.
 */
static void
raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
            nl_log_errno(NULL, "raising the descriptor limit");
    }
}

static void
print_errs(const struct nl_errs *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "%s\n", errs->msg[i]);
}

/* Said once, at start-up and by -t, when nobody is there to switch to. */
#define AS_ROOT_WARNING                                                        \
    "user is not set and there is no " NL_DEFAULT_USER " account: serving "    \
    "processes will run handler code as root"

/*
 * Everything -t checks, which a start checks too but for the folders and
 * ports (start-up meets those for real): the file, who handlers run as,
 * the handlers.  Returns 0, or -1 with the errors in errs; *as_root is 1
 * when handlers would run as root for want of a user.
 */
static int
check_conf(const char *file, const char *pidfile, int test,
           struct nl_conf **confp, int *as_root, struct nl_errs *errs,
           struct nl_errs *warns)
{
    struct nl_conf *conf;
    char *rundir;
    int who;

    *as_root = 0;
    if ((*confp = conf = nl_conf_load(file, errs)) == NULL)
        return -1;
    if ((who = nl_privs_resolve(conf, errs)) == 1)
        *as_root = 1;
    if (test) {
        rundir = nl_conf_rundir();
        (void)nl_preflight(conf, pidfile, rundir, errs, warns);
        free(rundir);
    }
    /* The check runs handlers as the user, which must be known. */
    if (who != -1)
        (void)nl_plugins_check(conf, errs);
    return errs->n > 0 ? -1 : 0;
}

/*
 * Forks; the parent waits until the daemon says it is serving (or failed)
 * and exits accordingly, so `netlabd && netlabctl status` works.  Returns
 * in the daemon with the descriptor to report readiness on.  The daemon's
 * stdio goes to /dev/null, but the log's start-up copy of stderr (see
 * nl_log_startup()) stays open until it is ready, so that its start-up
 * errors reach the terminal before the parent exits.
 */
static int
daemonize(void)
{
    int p[2], fd;
    pid_t pid;
    char c = 0;

    if (pipe(p) == -1) {
        perror("netlabd: pipe");
        exit(EXIT_STARTUP);
    }
    fflush(NULL);
    if ((pid = fork()) == -1) {
        perror("netlabd: fork");
        exit(EXIT_STARTUP);
    }
    if (pid > 0) {
        close(p[1]);
        if (read(p[0], &c, 1) != 1 || c != 'R')
            _exit(EXIT_STARTUP);
        _exit(0);
    }
    close(p[0]);
    setsid();
    if (chdir("/") == -1)
        perror("netlabd: chdir /");
    if ((fd = open("/dev/null", O_RDWR)) != -1) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    return p[1];
}

struct options {
    const char *file;    /* -c */
    const char *pidfile; /* -p, or NULL */
    int foreground;      /* -f */
    int test;            /* -t */
};

/* Reads the command line into o.  Returns -1 to go on, or the exit status
 * (after -V, -h, --plugin-info or a bad command line). */
static int
parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"test", no_argument, NULL, 't'},
        {"pidfile", required_argument, NULL, 'p'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {"plugin-info", required_argument, NULL, 'I'},
        {NULL, 0, NULL, 0}};
    int ch;

    while ((ch = getopt_long(argc, argv, "c:ftp:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->file = optarg;
            break;
        case 'f':
            o->foreground = 1;
            break;
        case 't':
            o->test = 1;
            break;
        case 'p':
            o->pidfile = optarg;
            break;
        case 'V':
            printf("netlabd %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        case 'I':
            return nl_plugin_info(optarg) == 0 ? 0 : EXIT_CONFIG;
        default:
            usage(stderr);
            return EXIT_CONFIG;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "netlabd: unexpected argument: %s\n", argv[optind]);
        usage(stderr);
        return EXIT_CONFIG;
    }
    return -1;
}

/* The configuration, checked: -1 to go on with *confp, or the exit status
 * (after -t, or a bad configuration). */
static int
load_conf(const struct options *o, struct nl_conf **confp, int *as_root)
{
    struct nl_errs errs = {0}, warns = {0};
    int rc;

    rc =
        check_conf(o->file, o->pidfile, o->test, confp, as_root, &errs, &warns);
    if (o->test && *as_root)
        fprintf(stderr, "%s: warning: %s\n", o->file, AS_ROOT_WARNING);
    print_errs(&warns);
    nl_errs_clear(&warns);
    if (rc == -1) {
        print_errs(&errs);
        nl_errs_clear(&errs);
        nl_conf_free(*confp);
        if (o->test)
            fprintf(stderr, "%s: configuration has errors\n", o->file);
        return EXIT_CONFIG;
    }
    if (o->test) {
        printf("%s: configuration OK\n", o->file);
        nl_conf_free(*confp);
        return 0;
    }
    return -1;
}

/* Opens the log, with its start-up copy on the terminal; -1 (said on
 * stderr) when it cannot. */
static int
open_log(const struct options *o, const struct nl_conf *conf)
{
    /* Without log_target: stderr in the foreground, syslog as a daemon. */
    const char *target = conf->log_target_set
                             ? conf->log_target
                             : (o->foreground ? "stderr" : "syslog");

    if (nl_log_open(target, conf->log_level) == -1) {
        fprintf(stderr, "netlabd: log_target %s: %s\n", target,
                strerror(errno));
        return -1;
    }
    /* Until ready, warnings and errors reach the terminal too, unless
     * the log is that terminal already. */
    if (!o->foreground || strcmp(target, "stderr") != 0)
        nl_log_startup(fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3));
    return 0;
}

/* Systemd's sockets and the run folder, then the master, which takes
 * conf: the master, or NULL with *status set. */
static struct nl_master *
make_master(const struct options *o, struct nl_conf *conf, int *status)
{
    char err[512], *rundir;
    struct nl_master *m;
    int rc;

    *status = EXIT_STARTUP;
    /* Sockets from systemd that contradict the config are a config error. */
    if (nl_activation_start(conf) == -1) {
        *status = EXIT_CONFIG;
        nl_log_startup_end();
        nl_conf_free(conf);
        return NULL;
    }
    rundir = nl_conf_rundir();
    rc = nl_rundir_make(conf, o->pidfile, rundir, err, sizeof(err));
    free(rundir);
    if (rc == -1) {
        nl_errx(NULL, "%s", err);
        nl_log_startup_end();
        nl_conf_free(conf);
        return NULL;
    }
    if ((m = nl_master_new(conf, o->pidfile)) == NULL)
        nl_log_startup_end();
    return m;
}

int
main(int argc, char **argv)
{
    struct options o = {.file = SYSCONFDIR "/netlabd.conf"};
    int ready_fd = -1, as_root, rc, sd_rc;
    char sd_err[512];
    struct nl_conf *conf;
    struct nl_master *m;

    /* systemd's variables are the master's alone: read and removed before
     * anything forks (the check of the handlers below does); notifying
     * and adopting sockets come later. */
    sd_rc = nl_sd_init(sd_err, sizeof(sd_err));
    nl_activation_read();
    if ((rc = parse_args(argc, argv, &o)) != -1 ||
        (rc = load_conf(&o, &conf, &as_root)) != -1)
        return rc;
    if (open_log(&o, conf) == -1) {
        nl_conf_free(conf);
        return EXIT_STARTUP;
    }
    nl_notice(NULL, "netlabd %s starting with %s", PACKAGE_VERSION, o.file);
    nl_privs_log_override(conf);
    if (as_root)
        nl_warnx(NULL, AS_ROOT_WARNING);
    if (sd_rc == -1)
        nl_warnx(NULL, "systemd notification: %s", sd_err);
    raise_fd_limit();
    if ((m = make_master(&o, conf, &rc)) == NULL)
        return rc;
    if (!o.foreground)
        ready_fd = daemonize();
    return nl_master_run(m, ready_fd);
}
