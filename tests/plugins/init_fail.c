/*
 * init_fail.c - a handler whose init() always refuses its options, with
 * the `reason` option (or a fixed text) as its message, so that tests can
 * check the message reaches the user with the config file and line.
 */
#include <netlabd/plugin.h>

static int
init_fail_init(struct netlabd_init *ini)
{
    const char *reason = netlabd_option(ini, "reason");

    netlabd_init_error(ini, "refused: %s",
                       reason != NULL ? reason : "always refuses");
    return -1;
}

const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_RAW,
    .name = "init_fail",
    .version = "0",
    .init = init_fail_init,
};
