/*
 * commands.c - the control socket's commands and the status document.
 *
 * The commands are a table (name, help, handler): `help` lists it, and a
 * line that names none gets the same "try help" answer.  Every answer is
 * one JSON document written with struct nl_json (json.c), which places the
 * commas; DESIGN.md fixes their shape, and clients (netlabctl, scripts)
 * rely on it byte for byte.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "commands.h"
#include "conf.h"
#include "control.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "master_int.h"
#include "metrics.h"
#include "metrics_http.h"
#include "reload.h"
#include "stats.h"
#include "supervisor.h"
#include "transport.h"

int
nl_commands_log_reopen(void)
{
    if (nl_log_reopen() == -1) {
        nl_log_errno(NULL, "reopening the log");
        return -1;
    }
    nl_info(NULL, "log reopened");
    return 0;
}

static void
counters_json(struct nl_json *j, const struct nl_counters *c)
{
    nl_json_uint(j, "connections_active", c->active);
    nl_json_uint(j, "connections_total", c->total);
    nl_json_uint(j, "connections_refused", c->refused);
    nl_json_uint(j, "connections_denied", c->denied);
    nl_json_uint(j, "connections_limited", c->limited);
    nl_json_uint(j, "bytes_in", c->bytes_in);
    nl_json_uint(j, "bytes_out", c->bytes_out);
    nl_json_uint(j, "errors", c->errors);
    nl_json_uint(j, "connections_waited", c->waited);
    nl_json_uint(j, "longest_wait_ms", c->longest_wait_ms);
    nl_json_uint(j, "proxy_header_errors", c->proxy_invalid + c->proxy_timeout);
}

static void
listener_json(struct nl_json *j, const struct nl_sup *s, const struct lst *l)
{
    struct nl_counters c;

    nl_lst_counters(s, l, &c);
    nl_json_open(j, NULL, NL_JSON_OBJECT);
    nl_json_str(j, "name", l->lc->name);
    nl_json_str(j, "transport", nl_transport_name(l->lc->transport));
    nl_json_str(j, "address", l->sk.address);
    nl_json_str(j, "model", nl_model_name(l->lc->model));
    nl_json_int(j, "workers", l->lc->workers);
    nl_json_int(j, "max_workers", l->lc->max_workers);
    nl_json_int(j, "workers_running", nl_lst_workers_running(l));
    nl_json_uint(j, "connections_waiting", nl_lst_waiting(l));
    nl_json_str(j, "handler", l->lc->handler);
    nl_json_str(j, "handler_version", l->lc->handler_version);
    counters_json(j, &c);
    nl_json_uint(j, "connections_peak",
                 l->gate != NULL
                     ? __atomic_load_n(&l->gate->peak_active, __ATOMIC_RELAXED)
                     : 0);
    nl_json_uint(j, "processes_started", l->procs_started);
    nl_json_uint(j, "processes_crashed", l->procs_crashed);
    if (l->last_signal != 0) {
        char sig[32];

        snprintf(sig, sizeof(sig), "SIG%s",
                 sigabbrev_np(l->last_signal) != NULL
                     ? sigabbrev_np(l->last_signal)
                     : "?");
        nl_json_str(j, "last_exit_signal", sig);
    } else {
        nl_json_null(j, "last_exit_signal");
    }
    nl_json_bool(j, "serving", nl_lst_serving(l));
    nl_json_close(j);
}

static void
drain_json(struct nl_json *j, const struct drain *d)
{
    nl_json_open(j, NULL, NL_JSON_OBJECT);
    nl_json_str(j, "listener", d->name);
    nl_json_int(j, "pid", (long)d->pid);
    nl_json_uint(j, "generation", d->generation);
    nl_json_uint(j, "connections_active",
                 __atomic_load_n(&d->slot->active, __ATOMIC_RELAXED));
    nl_json_close(j);
}

/* "last_reload": null before the first, else its outcome and time. */
static void
last_reload_json(struct nl_json *j, const struct nl_master *m)
{
    char when[32];
    struct tm tm;

    if (!m->rl.done) {
        nl_json_null(j, "last_reload");
        return;
    }
    gmtime_r(&m->rl.time, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    nl_json_open(j, "last_reload", NL_JSON_OBJECT);
    nl_reload_outcome(m, j);
    nl_json_str(j, "time", when);
    nl_json_close(j);
}

void
nl_commands_status(struct nl_master *m, struct nl_buf *b)
{
    struct nl_json j;

    nl_json_init(&j, b);
    nl_json_open(&j, NULL, NL_JSON_OBJECT);
    nl_json_int(&j, "pid", (long)getpid());
    nl_json_str(&j, "version", PACKAGE_VERSION);
    nl_json_int(&j, "uptime_s", (long)(time(NULL) - m->start_time));
    nl_json_str(&j, "config", m->conf->file);
    nl_json_uint(&j, "generation", m->sup.generation);
    if (m->http != NULL)
        nl_json_str(&j, "metrics_listen", nl_metrics_http_address(m->http));
    last_reload_json(&j, m);
    nl_json_open(&j, "listeners", NL_JSON_ARRAY);
    for (size_t i = 0; i < m->sup.nlst; i++)
        listener_json(&j, &m->sup, m->sup.lst[i]);
    nl_json_close(&j);
    nl_json_open(&j, "draining", NL_JSON_ARRAY);
    for (const struct drain *d = m->sup.drains; d != NULL; d = d->next)
        drain_json(&j, d);
    nl_json_close(&j);
    nl_json_close(&j);
}

typedef enum nl_cmd_outcome (*command_fn)(struct nl_commands *cmds,
                                          struct nl_control_client *c,
                                          struct nl_json *j);

static enum nl_cmd_outcome
cmd_status(struct nl_commands *cmds, struct nl_control_client *c,
           struct nl_json *j)
{
    nl_commands_status(cmds->m, j->b);
    return NL_CMD_REPLY;
}

static enum nl_cmd_outcome
cmd_reload(struct nl_commands *cmds, struct nl_control_client *c,
           struct nl_json *j)
{
    /* Each waits for its answer with a place of the control socket's:
     * past a few, more would fill them all and shut `status` and `stop`
     * out, so the newcomer is told to come back. */
    if (nl_reload_queued_clients(cmds->m) >= NL_MAX_QUEUED_RELOADS) {
        char msg[160];

        snprintf(msg, sizeof(msg),
                 "%d reloads asked for on the control socket are waiting "
                 "already; try again once they are done",
                 NL_MAX_QUEUED_RELOADS);
        nl_json_open(j, NULL, NL_JSON_OBJECT);
        nl_json_bool(j, "ok", 0);
        nl_json_str(j, "error", msg);
        nl_json_close(j);
        return NL_CMD_REPLY;
    }
    /* Answered when the reload is done (reload.c). */
    nl_reload_request(cmds->m, "reload requested on the control socket", c);
    return NL_CMD_LATER;
}

/* Text, not JSON: the Prometheus exposition format (metrics.c).  The
 * control socket adds the last newline. */
static enum nl_cmd_outcome
cmd_metrics(struct nl_commands *cmds, struct nl_control_client *c,
            struct nl_json *j)
{
    nl_metrics_write(cmds->m, j->b);
    if (j->b->len > 0)
        j->b->len--; /* the final "\n" */
    return NL_CMD_REPLY;
}

static enum nl_cmd_outcome
cmd_stop(struct nl_commands *cmds, struct nl_control_client *c,
         struct nl_json *j)
{
    nl_json_open(j, NULL, NL_JSON_OBJECT);
    nl_json_bool(j, "ok", 1);
    nl_json_close(j);
    return NL_CMD_REPLY_THEN_STOP;
}

static enum nl_cmd_outcome
cmd_log_reopen(struct nl_commands *cmds, struct nl_control_client *c,
               struct nl_json *j)
{
    int ok = nl_commands_log_reopen() == 0;
    int err = errno; /* before writing the answer can change it */

    nl_json_open(j, NULL, NL_JSON_OBJECT);
    nl_json_bool(j, "ok", ok);
    if (!ok)
        nl_json_str(j, "error", strerror(err));
    nl_json_close(j);
    return NL_CMD_REPLY;
}

static enum nl_cmd_outcome cmd_help(struct nl_commands *cmds,
                                    struct nl_control_client *c,
                                    struct nl_json *j);

/* Who may steer netlabd (reload, stop, log-reopen). */
enum who { ANYONE, ADMIN };

static const struct command {
    const char *name;
    const char *help;
    command_fn run;
    enum who who;
} commands[] = {
    {"status", "listeners, counters and reloads", cmd_status, ANYONE},
    {"metrics", "the counters in the Prometheus text format", cmd_metrics,
     ANYONE},
    {"reload", "read the config again and apply it", cmd_reload, ADMIN},
    {"stop", "stop gracefully", cmd_stop, ADMIN},
    {"log-reopen", "reopen the log file", cmd_log_reopen, ADMIN},
    {"help", "this list", cmd_help, ANYONE},
};

/* 1 when process pid (uid, gid) is in group gr: by its primary group, the
 * supplementary groups it runs with now (/proc), or the group's list. */
static int
in_group(const struct group *gr, pid_t pid, uid_t uid, gid_t gid)
{
    char path[64], line[4096];
    struct passwd *pw;
    int found = 0;
    FILE *f;

    if (gid == gr->gr_gid)
        return 1;
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    if (pid > 0 && (f = fopen(path, "re")) != NULL) {
        while (!found && fgets(line, sizeof(line), f) != NULL) {
            char *p = line + 7, *end;

            if (strncmp(line, "Groups:", 7) != 0)
                continue;
            for (;;) {
                unsigned long g = strtoul(p, &end, 10);

                if (end == p)
                    break;
                if (g == (unsigned long)gr->gr_gid)
                    found = 1;
                p = end;
            }
            break;
        }
        fclose(f);
        if (found)
            return 1;
    }
    if ((pw = getpwuid(uid)) == NULL)
        return 0;
    for (char **m = gr->gr_mem; m != NULL && *m != NULL; m++)
        if (strcmp(*m, pw->pw_name) == 0)
            return 1;
    return 0;
}

/* NULL when the client may run an ADMIN command; else why not, in why. */
static const char *
refusal(struct nl_commands *cmds, struct nl_control_client *c, char *why,
        size_t len)
{
    const char *admin = cmds->m->conf->control_admin_group;
    struct group *gr;
    pid_t pid;
    uid_t uid;
    gid_t gid;

    if (nl_control_peer(c, &pid, &uid, &gid) == -1) {
        snprintf(why, len, "permission denied: the peer's credentials "
                           "cannot be read");
        return why;
    }
    if (uid == 0 || uid == geteuid())
        return NULL;
    if (admin != NULL && (gr = getgrnam(admin)) != NULL &&
        in_group(gr, pid, uid, gid))
        return NULL;
    if (admin != NULL)
        snprintf(why, len,
                 "permission denied: only root, uid %u (netlabd's own user) "
                 "and members of %s may do this; you are uid %u",
                 (unsigned)geteuid(), admin, (unsigned)uid);
    else
        snprintf(why, len,
                 "permission denied: only root and uid %u (netlabd's own "
                 "user) may do this (control_admin_group is not set); you "
                 "are uid %u",
                 (unsigned)geteuid(), (unsigned)uid);
    return why;
}

static enum nl_cmd_outcome
cmd_help(struct nl_commands *cmds, struct nl_control_client *c,
         struct nl_json *j)
{
    nl_json_open(j, NULL, NL_JSON_OBJECT);
    nl_json_open(j, "commands", NL_JSON_OBJECT);
    for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
        nl_json_str(j, commands[i].name, commands[i].help);
    nl_json_close(j);
    nl_json_close(j);
    return NL_CMD_REPLY;
}

enum nl_cmd_outcome
nl_commands_answer(struct nl_commands *cmds, struct nl_control_client *c,
                   const char *line, struct nl_buf *b)
{
    struct nl_json j;

    nl_json_init(&j, b);
    for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++) {
        char why[256];

        if (strcmp(line, commands[i].name) != 0)
            continue;
        if (commands[i].who == ADMIN && c != NULL &&
            refusal(cmds, c, why, sizeof(why)) != NULL) {
            nl_notice(NULL, "control socket: %s refused: %s", line, why);
            nl_json_open(&j, NULL, NL_JSON_OBJECT);
            nl_json_str(&j, "error", why);
            nl_json_str(&j, "command", line);
            nl_json_close(&j);
            return NL_CMD_REPLY;
        }
        return commands[i].run(cmds, c, &j);
    }
    nl_json_open(&j, NULL, NL_JSON_OBJECT);
    nl_json_str(&j, "error",
                line[0] ? "unknown command; try help"
                        : "empty command; try help");
    nl_json_str(&j, "command", line);
    nl_json_close(&j);
    return NL_CMD_REPLY;
}

void
nl_commands_run(void *arg, struct nl_control_client *c, const char *line)
{
    struct nl_commands *cmds = arg;
    struct nl_buf b = {0};
    enum nl_cmd_outcome o = nl_commands_answer(cmds, c, line, &b);

    if (o != NL_CMD_LATER) {
        nl_buf_append(&b, "", 1);
        nl_control_reply(c, nl_buf_head(&b));
    }
    nl_buf_free(&b);
    if (o == NL_CMD_REPLY_THEN_STOP)
        cmds->stop(cmds->m, "stop requested on the control socket");
}
