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

/*
 * A JSON document written member by member: the writer places the commas
 * and colons, and closes each object or array with its own bracket, so
 * that no caller writes one by hand.  Output style: ", " between members,
 * ": " after a key, no other space.  key is the member's name inside an
 * object, NULL inside an array or for the document itself.  Nesting
 * deeper than NL_JSON_DEPTH is a caller's bug (assert).
 */
#define NL_JSON_DEPTH 8

enum nl_json_kind { NL_JSON_OBJECT, NL_JSON_ARRAY };

struct nl_json {
    struct nl_buf *b;
    int depth;
    struct {
        unsigned char empty; /* no member yet */
        unsigned char kind;  /* enum nl_json_kind */
    } level[NL_JSON_DEPTH + 1];
};

/* Starts writing a document into b. */
void nl_json_init(struct nl_json *j, struct nl_buf *b);
/* Opens an object or an array; nl_json_close() closes the innermost. */
void nl_json_open(struct nl_json *j, const char *key, enum nl_json_kind kind);
void nl_json_close(struct nl_json *j);
/* A string member (nl_json_string()), or null when s is NULL. */
void nl_json_str(struct nl_json *j, const char *key, const char *s);
void nl_json_uint(struct nl_json *j, const char *key, unsigned long long v);
void nl_json_int(struct nl_json *j, const char *key, long long v);
void nl_json_bool(struct nl_json *j, const char *key, int v);
void nl_json_null(struct nl_json *j, const char *key);

#endif /* NL_JSON_H */
