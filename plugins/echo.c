/*
 * echo.c - the echo handler (RFC 862): every byte received is sent back
 * unchanged.  Raw framing, so it never waits for a newline and works for
 * binary data; on a datagram transport each datagram is answered with one
 * datagram holding the same bytes, an empty one included.
 *
 * It is the smallest useful handler: one callback, no state, no options.
 */
#include <netlabd/plugin.h>

static int
echo_data(struct netlabd_session *s, const void *buf, size_t len)
{
    return netlabd_write(s, buf, len);
}

const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_RAW,
    .name = "echo",
    .version = "1.0",
    .data = echo_data,
};
