/*
 * json.c - just enough JSON output for the control socket.  Documents are
 * built by the caller key by key; this module makes sure that any text the
 * operator controls (listener names, paths, error messages) comes out as a
 * valid JSON string.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "util.h"

void
nl_buf_printf(struct nl_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(nl_buf_space(b, (size_t)n + 1), (size_t)n + 1, fmt, ap);
    va_end(ap);
    nl_buf_commit(b, (size_t)n);
}

void
nl_json_string(struct nl_buf *b, const char *s)
{
    nl_buf_append(b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        switch (c) {
        case '"':
            nl_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            nl_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            nl_buf_append(b, "\\n", 2);
            break;
        case '\r':
            nl_buf_append(b, "\\r", 2);
            break;
        case '\t':
            nl_buf_append(b, "\\t", 2);
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                nl_buf_printf(b, "\\u%04x", c);
            else
                nl_buf_append(b, s, 1);
        }
    }
    nl_buf_append(b, "\"", 1);
}
