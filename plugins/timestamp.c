/*
 * timestamp.c - answers each line with the local time in brackets, a space
 * and the line: "[Tue Nov 24 10:00:00 2026] hello\n".  The default layout
 * is ctime()'s, without its newline; the `format` option, a strftime()
 * format, replaces what stands inside the brackets.
 *
 * Sessions may run on several threads at once, so the time is converted
 * with localtime_r() into a buffer of the call's own, never with ctime()
 * or localtime(), whose results live in static storage.  The format is
 * copied in init() and only read afterwards.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netlabd/plugin.h>

/* ctime()'s layout: the day of the month is padded with a space. */
#define DEFAULT_FORMAT "%a %b %e %H:%M:%S %Y"

/* Room for the time text; a format that needs more is refused. */
#define STAMP_MAX 256

struct timestamp {
    char *format;
};

/* Formats now into buf; returns its length, 0 when it does not fit. */
static size_t
stamp(const char *format, char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;

    if (localtime_r(&now, &tm) == NULL)
        return 0;
    return strftime(buf, size, format, &tm);
}

static int
timestamp_init(struct netlabd_init *ini)
{
    const char *format = netlabd_option(ini, "format");
    struct timestamp *ts;
    char probe[STAMP_MAX];

    if (format == NULL)
        format = DEFAULT_FORMAT;
    /* localtime_r() need not read TZ itself; do it once, before any
     * session thread runs. */
    tzset();
    /* strftime() returns 0 both for an empty result and for one that does
     * not fit; only an empty format may legitimately give 0. */
    if (format[0] != '\0' && stamp(format, probe, sizeof(probe)) == 0) {
        netlabd_init_error(ini,
                           "format `%s' gives no text or more than %d bytes",
                           format, STAMP_MAX - 1);
        return -1;
    }
    if ((ts = malloc(sizeof(*ts))) == NULL ||
        (ts->format = strdup(format)) == NULL) {
        free(ts);
        netlabd_init_error(ini, "out of memory");
        return -1;
    }
    netlabd_set_listener_data(ini, ts);
    return 0;
}

static void
timestamp_fini(void *data)
{
    struct timestamp *ts = data;

    if (ts != NULL)
        free(ts->format);
    free(ts);
}

static int
timestamp_data(struct netlabd_session *s, const void *line, size_t len)
{
    const struct timestamp *ts = netlabd_listener_data(s);
    char small[4096], *out = small;
    size_t n, size;
    int rc;

    /* One write per line: on a datagram transport a write is a reply. */
    size = 1 + STAMP_MAX + 2 + len + 1;
    if (size > sizeof(small) && (out = malloc(size)) == NULL)
        return -1;
    out[0] = '[';
    n = 1 + stamp(ts->format, out + 1, STAMP_MAX);
    memcpy(out + n, "] ", 2);
    n += 2;
    memcpy(out + n, line, len);
    n += len;
    out[n++] = '\n';
    rc = netlabd_write(s, out, n);
    if (out != small)
        free(out);
    return rc;
}

const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_LINE,
    .name = "timestamp",
    .version = "1.0",
    .init = timestamp_init,
    .fini = timestamp_fini,
    .data = timestamp_data,
};
