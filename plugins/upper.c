/*
 * upper.c - sends back what it receives with the ASCII letters a-z turned
 * into A-Z; every other byte, UTF-8 included, passes unchanged.  toupper()
 * is not used because it depends on the locale.
 *
 * A datagram must be answered with one write, so the whole chunk is
 * converted before it is sent.  The copy lives on the stack or is
 * allocated per call: a static buffer would be shared between sessions
 * that run at the same time under the threads model.
 */
#include <stdlib.h>

#include <netlabd/plugin.h>

/* Converts len bytes of in into out, which has room for them, and sends
 * them. */
static int
send_upper(struct netlabd_session *s, char *out, const unsigned char *in,
           size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = in[i];

        out[i] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    return netlabd_write(s, out, len);
}

static int
upper_data(struct netlabd_session *s, const void *buf, size_t len)
{
    char small[4096], *big;
    int rc;

    if (len <= sizeof(small))
        return send_upper(s, small, buf, len);
    if ((big = malloc(len)) == NULL)
        return -1;
    rc = send_upper(s, big, buf, len);
    free(big);
    return rc;
}

const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_RAW,
    .name = "upper",
    .version = "1.0",
    .data = upper_data,
};
