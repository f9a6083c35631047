/*
 * notify.c - what the master tells whoever waits for it: the daemonize
 * pipe's one byte and systemd's READY=1 once every listener serves, and the
 * STATUS= line systemctl status shows.  sdnotify.c carries the messages.
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "master_int.h"
#include "sdnotify.h"
#include "stats.h"

void
notify_ready(struct nl_master *m, int ok)
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
        nl_notice(NULL, "ready: %zu listener(s) serving", m->nlst);
    }
}

/* The line systemctl status shows: STATUS= (sdnotify.c sends it). */
void
sd_status(void *arg, char *buf, size_t len)
{
    struct nl_master *m = arg;
    unsigned long long active = 0;
    size_t serving = 0;
    int n;

    FOR_EACH_PROC(m, pr)
    {
        if (pr->slot != NULL)
            active += __atomic_load_n(&pr->slot->active, __ATOMIC_RELAXED);
    }
    for (const struct drain *d = m->drains; d != NULL; d = d->next)
        active += __atomic_load_n(&d->slot->active, __ATOMIC_RELAXED);
    if (m->stopping) {
        snprintf(buf, len, "stopping; %llu active connection(s)", active);
        return;
    }
    for (size_t i = 0; i < m->nlst; i++)
        serving += lst_ready(m->lst[i]);
    n = snprintf(buf, len,
                 "generation %u; %zu/%zu listener(s) serving; %llu active "
                 "connection(s)",
                 m->generation, serving, m->nlst, active);
    if (m->reloaded && !m->reload_ok && m->reload_error != NULL && n > 0 &&
        (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, "; last reload refused: %s",
                 m->reload_error);
}
