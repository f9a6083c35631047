/*
 * sd_env.c - an echo handler whose init() refuses to start while it can
 * see one of systemd's variables (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*):
 * they are the master's alone, and netlabd removes them before any
 * handler runs, the start-up check of the handlers included.
 */
#include <stdlib.h>

#include <netlabd/plugin.h>

static int
sd_env_init(struct netlabd_init *ini)
{
    static const char *const names[] = {
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
        "LISTEN_PID",    "LISTEN_FDS",    "LISTEN_FDNAMES",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (getenv(names[i]) != NULL) {
            netlabd_init_error(ini, "sees %s=%s", names[i], getenv(names[i]));
            return -1;
        }
    return 0;
}

static int
sd_env_data(struct netlabd_session *s, const void *buf, size_t len)
{
    return netlabd_write(s, buf, len);
}

const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_RAW,
    .name = "sd_env",
    .version = "0",
    .init = sd_env_init,
    .data = sd_env_data,
};
