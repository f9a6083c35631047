/*
 * buf.h - a byte buffer with a read offset, for session input and output.
 * It grows on demand; callers bound it by checking nl_buf_len() against
 * their own limits before appending.
 */
#ifndef NL_BUF_H
#define NL_BUF_H

#include <stddef.h>

struct nl_buf {
    char *data;
    size_t off; /* first unread byte */
    size_t len; /* bytes after off */
    size_t cap;
};

/* Appends n bytes.  Out of memory aborts. */
void nl_buf_append(struct nl_buf *b, const void *p, size_t n);

/* Drops n bytes from the front. */
void nl_buf_consume(struct nl_buf *b, size_t n);

/* Makes room for at least n more bytes at the end and returns where they
 * go; the caller then calls nl_buf_commit() with what it wrote. */
char *nl_buf_space(struct nl_buf *b, size_t n);
void nl_buf_commit(struct nl_buf *b, size_t n);

static inline char *
nl_buf_head(const struct nl_buf *b)
{
    return b->data + b->off;
}

/* Releases the memory; the buffer can be used again. */
void nl_buf_free(struct nl_buf *b);

#endif /* NL_BUF_H */
