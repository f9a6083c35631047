/*
 * sdnotify.h - telling systemd (Type=notify) what the master is doing:
 * READY=1, RELOADING=1, STOPPING=1, STATUS= and the watchdog, over the
 * datagram socket named by NOTIFY_SOCKET.  Only the master calls these;
 * in any other process they do nothing.
 */
#ifndef NL_SDNOTIFY_H
#define NL_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

struct ev_loop;

/* Longest datagram sent; a longer STATUS= is cut short. */
#define NL_SD_MSG_MAX 2048

/* Writes the text systemctl status shows into buf (one line is best). */
typedef void (*nl_sd_status_fn)(void *arg, char *buf, size_t len);

/*
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, removes them from
 * the environment (no child needs them; call it first thing, before any
 * fork) and, until nl_sd_start(), takes this process for the one that
 * notifies.  Returns 0, notifying or not (no NOTIFY_SOCKET), or -1 with a
 * reason in err when a value is malformed: notification (or the watchdog)
 * is then off.
 */
int nl_sd_init(char *err, size_t errlen);

/* 1 after nl_sd_init() found a usable NOTIFY_SOCKET. */
int nl_sd_enabled(void);

/* The watchdog interval systemd asked for, in microseconds; 0 for none. */
uint64_t nl_sd_watchdog_usec(void);

/*
 * Makes this process (the master) the one that notifies, and starts the
 * watchdog (WATCHDOG=1 every WATCHDOG_USEC/2) and the STATUS= refresh (at
 * most once a second, when fn's text changed) on loop.  A state change
 * that finds systemd's queue full is tried again on loop for a while.
 */
void nl_sd_start(struct ev_loop *loop, nl_sd_status_fn fn, void *arg);

/* Stops both timers; call before the loop goes. */
void nl_sd_stop(void);

/* READY=1 and MAINPID=, with the current STATUS=. */
void nl_sd_ready(void);

/* RELOADING=1 with MONOTONIC_USEC= (now), and STATUS=what. */
void nl_sd_reloading(const char *what);

/* STOPPING=1, with the current STATUS=. */
void nl_sd_stopping(void);

/*
 * Sends msg as one datagram, without waiting.  Returns 1 when sent, 0 when
 * there is nobody to tell (notification off, or not the process that
 * notifies), -1 when sending failed (logged once until a send works
 * again), with errno EAGAIN when the receiver's queue is full.
 */
int nl_sd_send(const char *msg);

/*
 * The pieces, for the tests.  nl_sd_parse_socket() turns NOTIFY_SOCKET (a
 * path, or @name for the abstract namespace) into an address: 0, or -1
 * with a reason in err.  nl_sd_parse_watchdog() reads WATCHDOG_USEC and
 * WATCHDOG_PID (either may be NULL) as process self: *usec is 0 when there
 * is no watchdog for self; -1 with a reason in err when malformed.
 * nl_sd_format() writes head, then "\nSTATUS=" and status (when not NULL)
 * on one line, cut to fit len; returns the length written.
 */
int nl_sd_parse_socket(const char *s, struct sockaddr_un *sun, socklen_t *len,
                       char *err, size_t errlen);
int nl_sd_parse_watchdog(const char *usec, const char *pid, pid_t self,
                         uint64_t *out, char *err, size_t errlen);
size_t nl_sd_format(char *buf, size_t len, const char *head,
                    const char *status);

#endif /* NL_SDNOTIFY_H */
