/*
 * json_parse.h - reading a JSON document (RFC 8259) into a tree, for
 * netlabctl.  The tree is read-only once built; every accessor accepts
 * NULL and a value of the wrong type, and says so by its return value, so
 * a caller can walk an answer of unknown shape without checking each step.
 */
#ifndef NL_JSON_PARSE_H
#define NL_JSON_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define NL_JP_MAX_DEPTH 64         /* arrays and objects nested deeper fail */
#define NL_JP_MAX_SIZE  (16 << 20) /* longer input fails */

enum nl_jp_type {
    NL_JP_NULL,
    NL_JP_BOOL,
    NL_JP_NUMBER,
    NL_JP_STRING,
    NL_JP_ARRAY,
    NL_JP_OBJECT,
};

struct nl_jp_value;

/* Parses len bytes of text, which must hold exactly one JSON value with
 * optional white space around it.  Returns the tree, or NULL with a
 * message ("at byte N: ...") in err on a syntax error, invalid UTF-8,
 * input over NL_JP_MAX_SIZE, nesting over NL_JP_MAX_DEPTH or no memory. */
struct nl_jp_value *nl_jp_parse(const char *text, size_t len, char *err,
                                size_t errlen);

/* Frees a tree from nl_jp_parse; NULL is ignored. */
void nl_jp_free(struct nl_jp_value *v);

/* The type of v; NL_JP_NULL for a NULL pointer too. */
enum nl_jp_type nl_jp_type(const struct nl_jp_value *v);

/* The member key of object obj, or NULL if obj is not an object or has no
 * such member.  With duplicate keys, the first one wins. */
const struct nl_jp_value *nl_jp_get(const struct nl_jp_value *obj,
                                    const char *key);

/* The number of elements of an array or members of an object; 0 for any
 * other value. */
size_t nl_jp_len(const struct nl_jp_value *v);

/* Element i of an array, or member i of an object (its key, if key is not
 * NULL, in *key); NULL if out of range or v is neither. */
const struct nl_jp_value *nl_jp_index(const struct nl_jp_value *v, size_t i,
                                      const char **key);

/* The NUL-terminated contents of a string (its length in *len if len is
 * not NULL; a "\u0000" escape makes it longer than strlen says), or NULL
 * if v is not a string. */
const char *nl_jp_string(const struct nl_jp_value *v, size_t *len);

/* Stores a boolean's value (0 or 1) in *out; -1 if v is not a boolean. */
int nl_jp_bool(const struct nl_jp_value *v, int *out);

/* Stores an integer in 0..UINT64_MAX, written without fraction or
 * exponent, in *out; -1 if v is anything else. */
int nl_jp_uint(const struct nl_jp_value *v, uint64_t *out);

/* Stores an integer in INT64_MIN..INT64_MAX, written without fraction or
 * exponent, in *out; -1 if v is anything else. */
int nl_jp_int(const struct nl_jp_value *v, int64_t *out);

/* Stores any number as a double (rounded; +-HUGE_VAL past its range) in
 * *out; -1 if v is not a number. */
int nl_jp_double(const struct nl_jp_value *v, double *out);

#endif /* NL_JSON_PARSE_H */
