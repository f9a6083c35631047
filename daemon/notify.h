/*
 * notify.h - the master's notify protocol: what it tells whoever waits for
 * it (the parent of a daemonized start, systemd) as it starts, serves,
 * reloads and stops.  sdnotify.c carries the messages to systemd.
 */
#ifndef NL_NOTIFY_H
#define NL_NOTIFY_H

#include <stddef.h>

struct nl_master;

/* Start-up is over: ok, every listener serves ("R" on the daemonize pipe,
 * READY=1, and the log says so), or it failed ("F"). */
void nl_notify_ready(struct nl_master *m, int ok);

/* RELOADING=1, with the file's name in STATUS=. */
void nl_notify_reloading(struct nl_master *m);

/* A reload is over, refused or not: READY=1 again (STATUS= then names a
 * refusal's error), unless start-up is not over or netlabd stops. */
void nl_notify_reloaded(struct nl_master *m);

/* STOPPING=1. */
void nl_notify_stopping(void);

/* The line systemctl status shows (STATUS=); arg is the master. */
void nl_notify_status(void *arg, char *buf, size_t len);

#endif /* NL_NOTIFY_H */
