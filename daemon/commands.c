/*
 * commands.c - the control socket's commands and the status document.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "control.h"
#include "json.h"
#include "commands.h"
#include "log.h"
#include "master_int.h"
#include "reload.h"
#include "supervisor.h"
#include "stats.h"
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
counters_json(struct nl_buf *b, const struct nl_counters *c)
{
    nl_buf_printf(
        b,
        "\"connections_active\": %llu, "
        "\"connections_total\": %llu, "
        "\"connections_refused\": %llu, \"bytes_in\": %llu, "
        "\"bytes_out\": %llu, \"errors\": %llu, "
        "\"connections_waited\": %llu, \"longest_wait_ms\": %llu",
        (unsigned long long)c->active, (unsigned long long)c->total,
        (unsigned long long)c->refused, (unsigned long long)c->bytes_in,
        (unsigned long long)c->bytes_out, (unsigned long long)c->errors,
        (unsigned long long)c->waited, (unsigned long long)c->longest_wait_ms);
}

static void
listener_json(struct nl_master *m, const struct lst *l, struct nl_buf *b)
{
    struct nl_counters c;

    nl_lst_counters(&m->sup, l, &c);
    nl_buf_printf(b, "{\"name\": ");
    nl_json_string(b, l->lc->name);
    nl_buf_printf(b, ", \"transport\": ");
    nl_json_string(b, nl_transport_name(l->lc->transport));
    nl_buf_printf(b, ", \"address\": ");
    nl_json_string(b, l->sk.address);
    nl_buf_printf(b, ", \"model\": ");
    nl_json_string(b, nl_model_name(l->lc->model));
    nl_buf_printf(b, ", \"workers\": %d, \"handler\": ", l->lc->workers);
    nl_json_string(b, l->lc->handler);
    nl_buf_printf(b, ", ");
    counters_json(b, &c);
    nl_buf_printf(b, ", \"serving\": %s}", nl_lst_ready(l) ? "true" : "false");
}

void
nl_commands_status(struct nl_master *m, struct nl_buf *b)
{
    char when[32];
    struct tm tm;

    nl_buf_printf(b, "{\"pid\": %ld, \"version\": ", (long)getpid());
    nl_json_string(b, PACKAGE_VERSION);
    nl_buf_printf(b, ", \"uptime_s\": %ld, \"config\": ",
                  (long)(time(NULL) - m->start_time));
    nl_json_string(b, m->conf->file);
    nl_buf_printf(b, ", \"generation\": %u, \"last_reload\": ", m->sup.generation);
    if (!m->reloaded) {
        nl_buf_printf(b, "null");
    } else {
        gmtime_r(&m->reload_time, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        nl_buf_printf(
            b, "{\"ok\": %s, \"error\": ", m->reload_ok ? "true" : "false");
        if (m->reload_error != NULL)
            nl_json_string(b, m->reload_error);
        else
            nl_buf_printf(b, "null");
        nl_buf_printf(b, ", \"time\": \"%s\"}", when);
    }
    nl_buf_printf(b, ", \"listeners\": [");
    for (size_t i = 0; i < m->sup.nlst; i++) {
        nl_buf_printf(b, "%s", i ? ", " : "");
        listener_json(m, m->sup.lst[i], b);
    }
    nl_buf_printf(b, "], \"draining\": [");
    for (const struct drain *d = m->sup.drains; d != NULL; d = d->next) {
        nl_buf_printf(b, "%s{\"listener\": ", d == m->sup.drains ? "" : ", ");
        nl_json_string(b, d->name);
        nl_buf_printf(b,
                      ", \"pid\": %ld, \"generation\": %u, "
                      "\"connections_active\": %llu}",
                      (long)d->pid, d->generation,
                      (unsigned long long)__atomic_load_n(&d->slot->active,
                                                          __ATOMIC_RELAXED));
    }
    nl_buf_printf(b, "]}");
}

void
nl_commands_run(void *arg, struct nl_control_client *c, const char *line)
{
    struct nl_commands *cmds = arg;
    struct nl_master *m = cmds->m;
    struct nl_buf b = {0};
    int stop = 0;

    if (strcmp(line, "status") == 0) {
        nl_commands_status(m, &b);
    } else if (strcmp(line, "stop") == 0) {
        nl_buf_printf(&b, "{\"ok\": true}");
        stop = 1;
    } else if (strcmp(line, "reload") == 0) {
        /* Each waits for its answer with a place of the control socket's:
         * past a few, more would fill them all and shut `status` and
         * `stop` out, so the newcomer is told to come back. */
        if (nl_reload_queued_clients(m) >= NL_MAX_QUEUED_RELOADS) {
            nl_buf_printf(&b,
                          "{\"ok\": false, \"error\": \"%d reloads asked "
                          "for on the control socket are waiting already; "
                          "try again once they are done\"}",
                          NL_MAX_QUEUED_RELOADS);
        } else {
            /* Answered when the reload is done (answer_reload()). */
            nl_reload_request(m, "reload requested on the control socket", c);
            return;
        }
    } else if (strcmp(line, "log-reopen") == 0) {
        if (nl_commands_log_reopen() == 0) {
            nl_buf_printf(&b, "{\"ok\": true}");
        } else {
            nl_buf_printf(&b, "{\"ok\": false, \"error\": ");
            nl_json_string(&b, strerror(errno));
            nl_buf_printf(&b, "}");
        }
    } else if (strcmp(line, "help") == 0) {
        nl_buf_printf(&b, "{\"commands\": {"
                          "\"status\": \"listeners, counters and reloads\", "
                          "\"reload\": \"read the config again and apply it\", "
                          "\"stop\": \"stop gracefully\", "
                          "\"log-reopen\": \"reopen the log file\", "
                          "\"help\": \"this list\"}}");
    } else {
        nl_buf_printf(&b, "{\"error\": ");
        nl_json_string(&b, line[0] ? "unknown command; try help"
                                   : "empty command; try help");
        nl_buf_printf(&b, ", \"command\": ");
        nl_json_string(&b, line);
        nl_buf_printf(&b, "}");
    }
    nl_buf_append(&b, "", 1);
    nl_control_reply(c, nl_buf_head(&b));
    nl_buf_free(&b);
    if (stop)
        cmds->stop(m, "stop requested on the control socket");
}
