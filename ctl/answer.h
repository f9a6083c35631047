/*
 * answer.h - the daemon's answer as a JSON tree, for netlabctl.  json-c
 * parses it (strictly, with a depth limit and UTF-8 validation); the
 * accessors here accept NULL and a value of the wrong type and say so by
 * their return value, so that a caller can walk an answer of unknown shape
 * without checking each step (json-c's own getters coerce, or assert).
 */
#ifndef NL_ANSWER_H
#define NL_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#define NL_ANSWER_MAX_DEPTH 64         /* arrays, objects nested deeper fail */
#define NL_ANSWER_MAX_SIZE  (16 << 20) /* longer answers are not read */

struct json_object;

/*
 * Parses len bytes of text, which must hold exactly one JSON value with
 * optional white space around it.  Returns the tree (free it with
 * json_object_put()), or NULL with a message ("at byte N: ...") in err on
 * a syntax error, invalid UTF-8, nesting over NL_ANSWER_MAX_DEPTH, input
 * over NL_ANSWER_MAX_SIZE or no memory.  What json-c's strict mode
 * accepts beyond JSON is refused too (NaN, Infinity, single quotes, raw
 * control characters in strings).  Of an object's duplicated member, the
 * last one counts (json-c's rule; the daemon writes each member once).
 */
struct json_object *nl_answer_parse(const char *text, size_t len, char *err,
                                    size_t errlen);

/* 1 if v is an object (or an array), else 0; a JSON null is NULL. */
int nl_answer_is_object(const struct json_object *v);
int nl_answer_is_array(const struct json_object *v);

/* The member key of object obj, or NULL if obj is not an object or has no
 * such member.  A member whose value is null is NULL too. */
struct json_object *nl_answer_get(const struct json_object *obj,
                                  const char *key);

/* The number of elements of an array or members of an object; 0 for any
 * other value. */
size_t nl_answer_len(const struct json_object *v);

/* Element i of an array; NULL if out of range or v is no array. */
struct json_object *nl_answer_index(const struct json_object *v, size_t i);

/* Member i of object obj, in the answer's order: its key in *key, its
 * value (NULL for a JSON null) in *value.  Returns 0, or -1 if obj is not
 * an object or has no member i. */
int nl_answer_member(const struct json_object *obj, size_t i,
                     const char **key, struct json_object **value);

/* The contents of a string, or NULL if v is not a string. */
const char *nl_answer_string(const struct json_object *v);

/* Stores a boolean's value (0 or 1) in *out; -1 if v is not a boolean. */
int nl_answer_bool(const struct json_object *v, int *out);

/* Stores an integer in 0..UINT64_MAX, written without fraction or
 * exponent, exactly in *out; -1 if v is anything else. */
int nl_answer_uint(const struct json_object *v, uint64_t *out);

/* Stores a negative integer in *out; -1 if v is anything else (a
 * non-negative integer is read with nl_answer_uint()). */
int nl_answer_negative(const struct json_object *v, int64_t *out);

/* Stores a number with a fraction or an exponent in *out; -1 if v is
 * anything else. */
int nl_answer_double(const struct json_object *v, double *out);

#endif /* NL_ANSWER_H */
