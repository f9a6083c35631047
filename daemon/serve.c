/*
 * serve.c - a serving process: the only kind of process that runs handler
 * code.  The master forks it with the listener's socket already bound; it
 * gives up root before it loads the handler, so a handler never runs with
 * more rights than `user` has, and it asks the kernel for SIGTERM should the
 * master die, so no serving process outlives its master.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "model.h"
#include "plugins.h"
#include "privs.h"
#include "serve.h"
#include "session.h"
#include "stats.h"

static void
reset_signals(void)
{
    static const int sigs[] = {SIGHUP,  SIGINT,  SIGTERM,
                               SIGUSR1, SIGCHLD, SIGPIPE};
    struct sigaction sa;
    sigset_t none;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
        sigaction(sigs[i], &sa, NULL);
    /* Sessions write with MSG_NOSIGNAL, but a handler may not.  SIGHUP
     * and SIGUSR1 are the master's business (reload, log reopen): a
     * `killall -USR1 netlabd` from logrotate must not end sessions.  So is
     * SIGINT: Ctrl-C on `netlabd -f` reaches the whole process group, and
     * serving processes that ended on it by themselves would look to the
     * master like failures to restart; the master stops them (SIGTERM). */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* SIGTERM stays blocked until the model is ready for it (a stop that
     * comes early is then taken when it is), the rest not. */
    sigemptyset(&none);
    sigaddset(&none, SIGTERM);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Loads lc's handler from hfd and runs its init(), or exits saying why. */
static struct nl_plugin *
load_handler(const struct nl_listener_conf *lc, int hfd, void **state)
{
    struct nl_plugin *plugin;
    char err[1024];
    int line;

    if ((plugin = nl_plugin_load_copy(lc->handler_path, hfd, err,
                                      sizeof(err))) == NULL) {
        nl_errx(lc->name, "%s", err);
        _exit(NL_SERVE_EXIT_HANDLER);
    }
    if (nl_plugin_init(plugin, lc, state, err, sizeof(err), &line) == -1) {
        nl_errx(lc->name, "%s", err);
        _exit(NL_SERVE_EXIT_HANDLER);
    }
    return plugin;
}

void
nl_serve(const struct nl_conf *conf, const struct nl_listener_conf *lc, int fd,
         struct nl_counters *ctr, struct nl_counters *gate,
         struct nl_sources *sources, int ready_fd)
{
    const struct nl_model_ops *model = nl_model_get(lc->model);
    struct nl_session_env env;
    struct nl_plugin *plugin;
    char err[1024];
    void *state = NULL;
    int rc;

    pid_t master = getppid();
    /* Opened as root: the user need not be able to read its folder. */
    int hfd = open(lc->handler_path, O_RDONLY | O_CLOEXEC);

    reset_signals();
    /* nl_privs_resolve() checked at start-up (or reload) that this can
     * work; what fails here is the system, said in one line. */
    if (conf->user != NULL &&
        nl_privs_switch(conf->user, conf->group, err, sizeof(err)) == -1) {
        nl_errx(lc->name, "%s; the handler is not loaded", err);
        _exit(NL_SERVE_EXIT_PRIVS);
    }
    /* After the drop: changing uid clears the parent-death signal.
     * XXX: PR_SET_PDEATHSIG is Linux only, as is the rest of netlabd. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)
        _exit(0); /* the master is already gone */

    plugin = load_handler(lc, hfd, &state);
    if (model == NULL) {
        nl_errx(lc->name, "model %s is not available",
                nl_model_name(lc->model));
        _exit(NL_SERVE_EXIT_MODEL);
    }
    env.lc = lc;
    env.handler = nl_plugin_handler(plugin);
    env.listener_data = state;
    env.ctr = ctr;
    /* The gate's `active`; prefork finds the rest of the gate from it. */
    env.gate = &gate->active;
    env.busy_logged_ms = &gate->busy_logged_ms;
    env.refusals = gate;
    env.sources = sources;
    env.notify_fd = ready_fd;

    /* Serving: errors from now on are the log's alone. */
    nl_log_startup_end();
    if (ready_fd != -1) {
        /* The master learns we are serving; nothing to do if it is gone. */
        (void)!write(ready_fd, "R", 1);
    }
    nl_debug(lc->name, "serving with model %s, handler %s", model->name,
             env.handler->name);
    rc = model->run(&env, fd, conf->shutdown_timeout);
    nl_plugin_fini(plugin, state);
    nl_plugin_unload(plugin);
    /* exit() rather than _exit(): a sanitizer build checks for leaks. */
    exit(rc == 0 ? 0 : NL_SERVE_EXIT_MODEL);
}
