/*
 * fail_data.c - a line handler that echoes each line but ends the session
 * with -1 on a line "fail", or at once in open() when the option
 * fail_open is "true": how netlabd-plugin-run reports a session that the
 * handler ended in an error.
 */
#include <string.h>

#include <netlabd/plugin.h>

static int fail_open;

static int
fail_data_init(struct netlabd_init *ini)
{
    const char *v = netlabd_option(ini, "fail_open");

    fail_open = v != NULL && strcmp(v, "true") == 0;
    return 0;
}

static int
fail_data_open(struct netlabd_session *s)
{
    (void)s;
    return fail_open ? -1 : 0;
}

static int
fail_data_data(struct netlabd_session *s, const void *buf, size_t len)
{
    if (len == 4 && memcmp(buf, "fail", 4) == 0)
        return -1;
    if (netlabd_write(s, buf, len) == -1)
        return -1;
    return netlabd_write(s, "\n", 1);
}

const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_LINE,
    .name = "fail_data",
    .version = "0",
    .init = fail_data_init,
    .open = fail_data_open,
    .data = fail_data_data,
};
