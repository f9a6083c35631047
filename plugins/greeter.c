/*
 * greeter.c - greets each connection with a message and closes it; a
 * datagram is answered with the message.  The `message` option sets the
 * text (default "Thank you for connecting\n"), sent as given: add the
 * newline yourself if you want one.
 *
 * netlabd_close() rather than returning -1 from open(): -1 would drop the
 * message unsent and count the session as an error, netlabd_close() sends
 * what was written first.
 */
#include <stdlib.h>
#include <string.h>

#include <netlabd/plugin.h>

#define DEFAULT_MESSAGE "Thank you for connecting\n"

struct greeter {
    char *message;
    size_t len;
};

static int
greeter_init(struct netlabd_init *ini)
{
    const char *message = netlabd_option(ini, "message");
    struct greeter *g;

    if (message == NULL)
        message = DEFAULT_MESSAGE;
    if ((g = malloc(sizeof(*g))) == NULL ||
        (g->message = strdup(message)) == NULL) {
        free(g);
        netlabd_init_error(ini, "out of memory");
        return -1;
    }
    g->len = strlen(g->message);
    netlabd_set_listener_data(ini, g);
    return 0;
}

static void
greeter_fini(void *data)
{
    struct greeter *g = data;

    if (g != NULL)
        free(g->message);
    free(g);
}

static int
greeter_open(struct netlabd_session *s)
{
    const struct greeter *g = netlabd_listener_data(s);

    if (netlabd_write(s, g->message, g->len) == -1)
        return -1;
    netlabd_close(s);
    return 0;
}

/* Only datagrams get here: a stream session is closed at open(). */
static int
greeter_data(struct netlabd_session *s, const void *buf, size_t len)
{
    const struct greeter *g = netlabd_listener_data(s);

    (void)buf; /* what the client sent does not matter */
    (void)len;
    return netlabd_write(s, g->message, g->len);
}

const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_RAW,
    .name = "greeter",
    .version = "1.0",
    .init = greeter_init,
    .fini = greeter_fini,
    .open = greeter_open,
    .data = greeter_data,
};
