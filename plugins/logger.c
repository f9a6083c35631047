/*
 * logger.c - logs who connects and every line they send, and sends
 * nothing back.  Lines are framed by netlabd; on a datagram transport each
 * datagram is one line.
 *
 * A unix stream peer is logged with its uid and pid (netlabd_peer_cred()).
 *
 * netlabd prefixes each message with the listener and the peer, so the
 * line is logged as it came, except that bytes which could forge or garble
 * a log line (control characters, non-ASCII) are written as \xNN, and a
 * backslash as \\.  The text is cut at LOG_MAX bytes: a log is no place
 * for a megabyte line.
 */
#include <stdio.h>

#include <netlabd/plugin.h>

#define LOG_MAX 512

static int
logger_open(struct netlabd_session *s)
{
    pid_t pid;
    uid_t uid;

    if (netlabd_peer_cred(s, &pid, &uid, NULL) == 0)
        netlabd_log(s, NETLABD_LOG_INFO, "connection from %s (uid %lu, pid %ld)",
                    netlabd_peer(s), (unsigned long)uid, (long)pid);
    else
        netlabd_log(s, NETLABD_LOG_INFO, "connection from %s", netlabd_peer(s));
    return 0;
}

/* Writes the printable form of in[0..len) into out; cuts it with "..."
 * when it does not fit. */
static void
sanitise(char *out, size_t size, const unsigned char *in, size_t len)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (o + 4 + 3 + 1 > size) {
            snprintf(out + o, size - o, "...");
            return;
        }
        if (in[i] == '\\')
            o += (size_t)snprintf(out + o, size - o, "\\\\");
        else if (in[i] >= 0x20 && in[i] < 0x7f)
            out[o++] = (char)in[i];
        else
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", in[i]);
    }
    out[o] = '\0';
}

static int
logger_data(struct netlabd_session *s, const void *line, size_t len)
{
    char text[LOG_MAX];

    sanitise(text, sizeof(text), line, len);
    netlabd_log(s, NETLABD_LOG_INFO, "%s", text);
    return 0;
}

const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_LINE,
    .name = "logger",
    .version = "1.0",
    .open = logger_open,
    .data = logger_data,
};
