/*
 * json.c - just enough JSON output for the control socket.  Documents are
 * built by the caller member by member (struct nl_json, which places the
 * commas); this module makes sure that any text the operator controls
 * (listener names, paths, error messages) comes out as a valid JSON
 * string.
 */
#include "config.h"

#include <assert.h>
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

/* The length of the well-formed UTF-8 sequence at s, or 0. */
static size_t
utf8_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n;
    unsigned cp;

    if (u[0] >= 0xc2 && u[0] <= 0xdf)
        n = 2, cp = u[0] & 0x1f;
    else if (u[0] >= 0xe0 && u[0] <= 0xef)
        n = 3, cp = u[0] & 0x0f;
    else if (u[0] >= 0xf0 && u[0] <= 0xf4)
        n = 4, cp = u[0] & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return 0; /* also stops at the terminating NUL */
        cp = cp << 6 | (u[i] & 0x3f);
    }
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
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
            if (c < 0x20 || c == 0x7f) {
                nl_buf_printf(b, "\\u%04x", c);
            } else if (c < 0x80) {
                nl_buf_append(b, s, 1);
            } else {
                size_t n = utf8_len(s);

                /* Not UTF-8 (a client's garbage): U+FFFD, so that the
                 * document stays valid JSON. */
                if (n == 0)
                    nl_buf_append(b, "\\ufffd", 6);
                else
                    nl_buf_append(b, s, n);
                if (n > 1)
                    s += n - 1;
            }
        }
    }
    nl_buf_append(b, "\"", 1);
}

void
nl_json_init(struct nl_json *j, struct nl_buf *b)
{
    j->b = b;
    j->depth = 0;
    j->level[0].empty = 1;
}

/* Starts a member: the comma before it, and its key inside an object. */
static void
member(struct nl_json *j, const char *key)
{
    if (!j->level[j->depth].empty)
        nl_buf_append(j->b, ", ", 2);
    j->level[j->depth].empty = 0;
    if (key != NULL) {
        nl_json_string(j->b, key);
        nl_buf_append(j->b, ": ", 2);
    }
}

void
nl_json_open(struct nl_json *j, const char *key, enum nl_json_kind kind)
{
    member(j, key);
    assert(j->depth < NL_JSON_DEPTH);
    nl_buf_append(j->b, kind == NL_JSON_ARRAY ? "[" : "{", 1);
    j->depth++;
    j->level[j->depth].empty = 1;
    j->level[j->depth].kind = (unsigned char)kind;
}

void
nl_json_close(struct nl_json *j)
{
    assert(j->depth > 0);
    nl_buf_append(j->b, j->level[j->depth].kind == NL_JSON_ARRAY ? "]" : "}",
                  1);
    j->depth--;
}

void
nl_json_str(struct nl_json *j, const char *key, const char *s)
{
    member(j, key);
    if (s == NULL)
        nl_buf_append(j->b, "null", 4);
    else
        nl_json_string(j->b, s);
}

void
nl_json_uint(struct nl_json *j, const char *key, unsigned long long v)
{
    member(j, key);
    nl_buf_printf(j->b, "%llu", v);
}

void
nl_json_int(struct nl_json *j, const char *key, long long v)
{
    member(j, key);
    nl_buf_printf(j->b, "%lld", v);
}

void
nl_json_bool(struct nl_json *j, const char *key, int v)
{
    member(j, key);
    if (v)
        nl_buf_append(j->b, "true", 4);
    else
        nl_buf_append(j->b, "false", 5);
}

void
nl_json_null(struct nl_json *j, const char *key)
{
    member(j, key);
    nl_buf_append(j->b, "null", 4);
}
