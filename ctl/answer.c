/*
 * answer.c - netlabctl's reading of the daemon's answer, on json-c.
 *
 * json-c does the parsing; this file sets it up the way a control client
 * wants (strict syntax, UTF-8 validation, a depth limit, exactly one
 * document) and wraps its getters, which coerce a value of another type
 * (json_object_get_string() serialises an object) or assert (an array's
 * length), in ones that refuse instead: an answer from a newer or a broken
 * daemon may have any shape.  JSON null is json-c's NULL pointer, so a
 * missing member and a null one read the same, which is what netlabctl
 * wants of both.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "answer.h"

/* json-c's depth counts the slot of the top-level value as well. */
#define TOKENER_DEPTH (NL_ANSWER_MAX_DEPTH + 1)

static void
parse_error(char *err, size_t errlen, size_t at, const char *what)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "at byte %zu: %s", at, what);
}

/* 1 if the n letters at p are a word JSON has: true, false, null. */
static int
json_word(const char *p, size_t n)
{
    return (n == 4 && (memcmp(p, "true", 4) == 0 ||
                       memcmp(p, "null", 4) == 0)) ||
           (n == 5 && memcmp(p, "false", 5) == 0);
}

/*
 * What json-c's strict mode still lets through and JSON does not: a raw
 * control character inside a string, a single-quoted string, and bare
 * words (NaN, Infinity) where only true, false and null may stand.  The
 * daemon never sends them; a broken peer that does is refused, as the
 * parser of our own refused it.  Returns 0, or -1 with the offset in *at.
 */
static int
beyond_json(const char *text, size_t len, size_t *at, const char **what)
{
    int in_string = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        size_t n = 0;

        *at = i;
        if (in_string) {
            if (c == '\\')
                i++; /* whatever it escapes, the tokenizer checks */
            else if (c == '"')
                in_string = 0;
            else if (c < 0x20)
                return *what = "control character in a string", -1;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '\'') {
            return *what = "single-quoted string", -1;
        } else if (isalpha(c) && !((c == 'e' || c == 'E') && i > 0 &&
                                   isdigit((unsigned char)text[i - 1]))) {
            while (i + n < len && isalpha((unsigned char)text[i + n]))
                n++;
            if (!json_word(text + i, n))
                return *what = "not a JSON value", -1;
            i += n - 1;
        }
    }
    return 0;
}

struct json_object *
nl_answer_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct json_tokener *tok;
    struct json_object *doc;
    enum json_tokener_error e;
    const char *what;
    size_t end;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (len > NL_ANSWER_MAX_SIZE) {
        parse_error(err, errlen, 0, "the answer is too large");
        return NULL;
    }
    if (beyond_json(text, len, &end, &what) == -1) {
        parse_error(err, errlen, end, what);
        return NULL;
    }
    if ((tok = json_tokener_new_ex(TOKENER_DEPTH)) == NULL) {
        parse_error(err, errlen, 0, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                    JSON_TOKENER_VALIDATE_UTF8);
    doc = json_tokener_parse_ex(tok, text, (int)len);
    e = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (e == json_tokener_continue) {
        /* A number has no end of its own: say that the input ended. */
        doc = json_tokener_parse_ex(tok, "", 1);
        e = json_tokener_get_error(tok);
        end = len;
    }
    if (e != json_tokener_success)
        parse_error(err, errlen, end, json_tokener_error_desc(e));
    else if (end < len)
        parse_error(err, errlen, end, "expected the end of the document");
    json_tokener_free(tok);
    if (e != json_tokener_success || end < len) {
        json_object_put(doc);
        return NULL;
    }
    return doc;
}

int
nl_answer_is_object(const struct json_object *v)
{
    return json_object_is_type(v, json_type_object);
}

int
nl_answer_is_array(const struct json_object *v)
{
    return json_object_is_type(v, json_type_array);
}

struct json_object *
nl_answer_get(const struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;

    if (!nl_answer_is_object(obj) ||
        !json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

size_t
nl_answer_len(const struct json_object *v)
{
    if (nl_answer_is_array(v))
        return json_object_array_length(v);
    if (nl_answer_is_object(v))
        return (size_t)json_object_object_length(v);
    return 0;
}

struct json_object *
nl_answer_index(const struct json_object *v, size_t i)
{
    if (i >= nl_answer_len(v) || !nl_answer_is_array(v))
        return NULL;
    return json_object_array_get_idx(v, i);
}

int
nl_answer_member(const struct json_object *obj, size_t i, const char **key,
                 struct json_object **value)
{
    struct lh_entry *e;

    if (!nl_answer_is_object(obj))
        return -1;
    for (e = json_object_get_object(obj)->head; e != NULL && i > 0; i--)
        e = e->next;
    if (e == NULL)
        return -1;
    *key = (const char *)lh_entry_k(e);
    *value = (struct json_object *)lh_entry_v(e);
    return 0;
}

const char *
nl_answer_string(const struct json_object *v)
{
    if (!json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string((struct json_object *)v);
}

int
nl_answer_bool(const struct json_object *v, int *out)
{
    if (!json_object_is_type(v, json_type_boolean))
        return -1;
    *out = json_object_get_boolean(v) ? 1 : 0;
    return 0;
}

/* json-c holds an integer as an int64 or, past INT64_MAX, a uint64; each
 * getter clamps the other's range, so the sign decides which to ask. */
int
nl_answer_uint(const struct json_object *v, uint64_t *out)
{
    if (!json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 0)
        return -1;
    *out = json_object_get_uint64(v);
    return 0;
}

int
nl_answer_negative(const struct json_object *v, int64_t *out)
{
    if (!json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) >= 0)
        return -1;
    *out = json_object_get_int64(v);
    return 0;
}

int
nl_answer_double(const struct json_object *v, double *out)
{
    if (!json_object_is_type(v, json_type_double))
        return -1;
    *out = json_object_get_double(v);
    return 0;
}
