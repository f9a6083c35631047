/*
 * buf.c - byte buffers.  Unread bytes are moved to the front before the
 * buffer grows, so a buffer that is drained as fast as it fills never grows
 * past its high-water mark.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

char *
nl_buf_space(struct nl_buf *b, size_t n)
{
    if (b->len == 0)
        b->off = 0;
    if (b->off + b->len + n > b->cap && b->off > 0) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;

        while (cap < b->len + n)
            cap *= 2;
        b->data = nl_xreallocarray(b->data, cap, 1);
        b->cap = cap;
    }
    return b->data + b->off + b->len;
}

void
nl_buf_commit(struct nl_buf *b, size_t n)
{
    b->len += n;
}

void
nl_buf_append(struct nl_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(nl_buf_space(b, n), p, n);
    b->len += n;
}

void
nl_buf_consume(struct nl_buf *b, size_t n)
{
    if (n >= b->len) {
        b->off = 0;
        b->len = 0;
    } else {
        b->off += n;
        b->len -= n;
    }
}

void
nl_buf_free(struct nl_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}
