/*
 * json.h - writing the control socket's JSON documents into a buffer.
 */
#ifndef NL_JSON_H
#define NL_JSON_H

#include "buf.h"

/* Appends s as a JSON string: quoted, with ", \ and control characters
 * escaped; UTF-8 passes through, other bytes >= 0x80 become U+FFFD. */
void nl_json_string(struct nl_buf *b, const char *s);

/* Appends printf-formatted text. */
void nl_buf_printf(struct nl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* NL_JSON_H */
