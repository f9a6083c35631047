/*
 * crash.c - an echo handler that crashes on demand, to test that a
 * crashing handler takes down only its serving process and that netlabd
 * reports it.  It dies of SIGSEGV when the data it receives contains
 * "CRASH", or in init() when the option crash_in_init is "true".
 *
 * The default action is restored and the signal unblocked before it is
 * raised: a sanitizer's SIGSEGV handler would otherwise turn the death into
 * an ordinary exit, and a worker thread that blocks signals would not die
 * at all; the tests want the real thing.
 */
#define _GNU_SOURCE 1 /* memmem */

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <netlabd/plugin.h>

#define TRIGGER "CRASH"

static void
crash(void)
{
    sigset_t set;

    signal(SIGSEGV, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, SIGSEGV);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(SIGSEGV);
    abort(); /* not reached */
}

static int
crash_init(struct netlabd_init *ini)
{
    const char *when = netlabd_option(ini, "crash_in_init");

    if (when != NULL && strcmp(when, "true") == 0)
        crash();
    return 0;
}

static int
crash_data(struct netlabd_session *s, const void *buf, size_t len)
{
    if (memmem(buf, len, TRIGGER, sizeof(TRIGGER) - 1) != NULL)
        crash();
    return netlabd_write(s, buf, len);
}

const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_RAW,
    .name = "crash",
    .version = "0",
    .init = crash_init,
    .data = crash_data,
};
