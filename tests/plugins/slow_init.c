/*
 * slow_init.c - an echo handler whose init() takes `seconds` (option,
 * default 2) to return, so that tests can check that a slow handler check
 * during a reload does not stall the master.
 */
#include <stdlib.h>
#include <time.h>

#include <netlabd/plugin.h>

static int
slow_init(struct netlabd_init *ini)
{
    const char *s = netlabd_option(ini, "seconds");
    struct timespec ts = {.tv_sec = s != NULL ? atoi(s) : 2};

    while (nanosleep(&ts, &ts) == -1)
        ;
    return 0;
}

static int
slow_data(struct netlabd_session *s, const void *buf, size_t len)
{
    return netlabd_write(s, buf, len);
}

const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_RAW,
    .name = "slow_init",
    .version = "0",
    .init = slow_init,
    .data = slow_data,
};
