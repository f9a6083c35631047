/*
 * notify.c - the master's notify protocol: the daemonize pipe's one byte
 * and READY=1 once every listener serves, RELOADING=1 and READY=1 around a
 * reload, STOPPING=1, and the STATUS= line systemctl status shows.
 *
 * Its own file rather than part of sdnotify.c: sdnotify.c is the wire
 * (NOTIFY_SOCKET, datagrams, the watchdog, retries) and knows nothing of
 * listeners or reloads, which keeps it testable alone (test_sdnotify.c);
 * what the master says, and when, depends on the master's state, read
 * here.
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "master_int.h"
#include "notify.h"
#include "sdnotify.h"
#include "supervisor.h"

void
nl_notify_ready(struct nl_master *m, int ok)
{
    if (m->ready_fd != -1) {
        /* The waiting parent exits 0 on "R"; nothing to do if it is gone. */
        (void)!write(m->ready_fd, ok ? "R" : "F", 1);
        close(m->ready_fd);
        m->ready_fd = -1;
    }
    /* Start-up is over, and the reasons of a failure were said. */
    nl_log_startup_end();
    if (ok) {
        nl_sd_ready();
        nl_notice(NULL, "ready: %zu listener(s) serving", m->sup.nlst);
    }
}

void
nl_notify_reloading(struct nl_master *m)
{
    char what[512];

    if (!m->sup.started_up)
        return;
    snprintf(what, sizeof(what), "reloading %s", m->conf->file);
    nl_sd_reloading(what);
}

void
nl_notify_reloaded(struct nl_master *m)
{
    if (m->sup.started_up && !m->sup.stopping)
        nl_sd_ready();
}

void
nl_notify_stopping(void)
{
    nl_sd_stopping();
}

void
nl_notify_status(void *arg, char *buf, size_t len)
{
    struct nl_master *m = arg;
    unsigned long long active = nl_sup_active(&m->sup);
    int n;

    if (m->sup.stopping) {
        snprintf(buf, len, "stopping; %llu active connection(s)", active);
        return;
    }
    n = snprintf(buf, len,
                 "generation %u; %zu/%zu listener(s) serving; %llu active "
                 "connection(s)",
                 m->sup.generation, nl_sup_serving(&m->sup), m->sup.nlst,
                 active);
    if (m->rl.done && !m->rl.ok && m->rl.error != NULL && n > 0 &&
        (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, "; last reload refused: %s",
                 m->rl.error);
}
