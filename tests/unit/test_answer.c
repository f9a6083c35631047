/*
 * test_answer.c - netlabctl's reading of the daemon's answer (ctl/answer.c
 * on json-c): documents like the daemon's answers, counters at the edges
 * of 64 bits read exactly, the nesting limit, and truncated, trailing or
 * garbage input, which must give an "at byte N:" error and never a crash;
 * the accessors must walk a tree of any shape without checks.
 *
 * Every input is copied into a buffer of exactly its length, so that the
 * parser is never handed a terminating NUL it could lean on.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "answer.h"

static struct json_object *
parse_n(const char *text, size_t len, char *err, size_t errlen)
{
    char *copy = malloc(len > 0 ? len : 1);
    struct json_object *v;

    assert_non_null(copy);
    memcpy(copy, text, len);
    v = nl_answer_parse(copy, len, err, errlen);
    free(copy);
    return v;
}

static struct json_object *
parse_ok(const char *text)
{
    char err[256];
    struct json_object *v = parse_n(text, strlen(text), err, sizeof(err));

    if (v == NULL)
        fail_msg("%s: %s", text, err);
    assert_string_equal(err, "");
    return v;
}

/* Expects text to fail with an error that starts "at byte N:". */
static void
assert_bad_n(const char *text, size_t len)
{
    char err[256] = "unchanged";
    struct json_object *v = parse_n(text, len, err, sizeof(err));
    size_t at;
    int n = 0;

    if (v != NULL) {
        json_object_put(v);
        fail_msg("parsed, but should not have: %.*s", (int)len, text);
    }
    if (sscanf(err, "at byte %zu: %n", &at, &n) != 1 || n == 0 ||
        err[n] == '\0')
        fail_msg("%.*s: error \"%s\" is not \"at byte N: ...\"", (int)len,
                 text, err);
    assert_true(at <= len);
}

static void
assert_bad(const char *text)
{
    assert_bad_n(text, strlen(text));
}

static const char status_doc[] =
    "{\"pid\": 123, \"version\": \"0.1.0\", \"uptime_s\": 5, "
    "\"config\": \"/etc/netlabd.conf\", \"generation\": 1, "
    "\"last_reload\": null, \"listeners\": [{\"name\": \"echo\", "
    "\"transport\": \"tcp\", \"address\": \"127.0.0.1:7001\", "
    "\"model\": \"libev\", \"workers\": 1, \"handler\": \"echo\", "
    "\"connections_active\": 0, \"connections_total\": 3, "
    "\"connections_refused\": 0, \"bytes_in\": 18, \"bytes_out\": 18, "
    "\"errors\": 0, \"serving\": true}, {\"name\": \"up\"}]}\n";

static void
test_status_document(void **state)
{
    struct json_object *doc = parse_ok(status_doc), *ls, *l, *v;
    const char *key;
    uint64_t u;
    int b;

    (void)state;
    assert_true(nl_answer_is_object(doc));
    assert_false(nl_answer_is_array(doc));
    assert_int_equal(nl_answer_len(doc), 7);
    assert_int_equal(nl_answer_uint(nl_answer_get(doc, "pid"), &u), 0);
    assert_int_equal(u, 123);
    assert_string_equal(nl_answer_string(nl_answer_get(doc, "version")),
                        "0.1.0");
    /* null and missing read the same. */
    assert_null(nl_answer_get(doc, "last_reload"));
    assert_null(nl_answer_get(doc, "draining"));
    /* Members come in the answer's order. */
    assert_int_equal(nl_answer_member(doc, 6, &key, &v), 0);
    assert_string_equal(key, "listeners");
    assert_int_equal(nl_answer_member(doc, 5, &key, &v), 0);
    assert_string_equal(key, "last_reload");
    assert_null(v);
    assert_int_equal(nl_answer_member(doc, 7, &key, &v), -1);

    ls = nl_answer_get(doc, "listeners");
    assert_true(nl_answer_is_array(ls));
    assert_int_equal(nl_answer_len(ls), 2);
    l = nl_answer_index(ls, 0);
    assert_string_equal(nl_answer_string(nl_answer_get(l, "address")),
                        "127.0.0.1:7001");
    assert_int_equal(nl_answer_uint(nl_answer_get(l, "connections_total"), &u),
                     0);
    assert_int_equal(u, 3);
    assert_int_equal(nl_answer_bool(nl_answer_get(l, "serving"), &b), 0);
    assert_int_equal(b, 1);
    assert_null(nl_answer_get(nl_answer_index(ls, 1), "bytes_in"));
    assert_null(nl_answer_index(ls, 2));
    json_object_put(doc);
}

static void
test_accessors_tolerate_wrong_types(void **state)
{
    struct json_object *v = parse_ok("[\"a\", {}, 1.5, true, -3]"), *m;
    const char *key;
    uint64_t u;
    int64_t i;
    double d;
    int b;

    (void)state;
    /* An answer of an unexpected shape must be walkable without checks. */
    assert_null(nl_answer_get(v, "a"));
    assert_null(nl_answer_get(NULL, "a"));
    assert_null(nl_answer_get(nl_answer_get(NULL, "a"), "b"));
    assert_int_equal(nl_answer_len(NULL), 0);
    assert_int_equal(nl_answer_len(nl_answer_index(v, 0)), 0);
    assert_int_equal(nl_answer_len(nl_answer_index(v, 1)), 0);
    assert_null(nl_answer_index(NULL, 0));
    assert_null(nl_answer_index(nl_answer_index(v, 0), 0));
    assert_null(nl_answer_index(nl_answer_index(v, 1), 0));
    assert_int_equal(nl_answer_member(v, 0, &key, &m), -1);
    assert_int_equal(nl_answer_member(NULL, 0, &key, &m), -1);
    assert_false(nl_answer_is_object(NULL));
    assert_false(nl_answer_is_array(NULL));
    assert_null(nl_answer_string(NULL));
    /* json-c would serialise these; a string is only a string. */
    assert_null(nl_answer_string(v));
    assert_null(nl_answer_string(nl_answer_index(v, 1)));
    assert_null(nl_answer_string(nl_answer_index(v, 2)));
    assert_int_equal(nl_answer_uint(nl_answer_index(v, 0), &u), -1);
    assert_int_equal(nl_answer_uint(nl_answer_index(v, 2), &u), -1);
    assert_int_equal(nl_answer_uint(nl_answer_index(v, 3), &u), -1);
    assert_int_equal(nl_answer_uint(NULL, &u), -1);
    assert_int_equal(nl_answer_negative(NULL, &i), -1);
    assert_int_equal(nl_answer_negative(nl_answer_index(v, 4), &i), 0);
    assert_true(i == -3);
    assert_int_equal(nl_answer_double(v, &d), -1);
    assert_int_equal(nl_answer_double(nl_answer_index(v, 2), &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(nl_answer_bool(v, &b), -1);
    assert_int_equal(nl_answer_bool(nl_answer_index(v, 4), &b), -1);
    assert_int_equal(nl_answer_bool(nl_answer_index(v, 3), &b), 0);
    assert_int_equal(b, 1);
    json_object_put(v);
}

/* Counters are uint64 in the daemon: the top half must not be clamped to
 * INT64_MAX, and a negative number is no counter. */
static void
test_big_integers(void **state)
{
    struct json_object *v;
    uint64_t u;
    int64_t i;
    double d;

    (void)state;
    v = parse_ok("18446744073709551615");
    assert_int_equal(nl_answer_uint(v, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(nl_answer_negative(v, &i), -1);
    json_object_put(v);

    v = parse_ok("9223372036854775808");
    assert_int_equal(nl_answer_uint(v, &u), 0);
    assert_true(u == (uint64_t)INT64_MAX + 1);
    json_object_put(v);

    v = parse_ok("9223372036854775807");
    assert_int_equal(nl_answer_uint(v, &u), 0);
    assert_true(u == INT64_MAX);
    json_object_put(v);

    v = parse_ok("-9223372036854775808");
    assert_int_equal(nl_answer_negative(v, &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(nl_answer_uint(v, &u), -1);
    json_object_put(v);

    v = parse_ok("-0");
    assert_int_equal(nl_answer_uint(v, &u), 0);
    assert_true(u == 0);
    json_object_put(v);

    v = parse_ok("-17");
    assert_int_equal(nl_answer_uint(v, &u), -1);
    assert_int_equal(nl_answer_negative(v, &i), 0);
    assert_true(i == -17);
    json_object_put(v);

    /* A fraction or an exponent makes it no integer, even "1.0". */
    v = parse_ok("1.0");
    assert_int_equal(nl_answer_uint(v, &u), -1);
    assert_int_equal(nl_answer_double(v, &d), 0);
    assert_true(d == 1.0);
    json_object_put(v);
    v = parse_ok("1e3");
    assert_int_equal(nl_answer_uint(v, &u), -1);
    assert_int_equal(nl_answer_double(v, &d), 0);
    assert_true(d == 1000.0);
    json_object_put(v);
}

static char *
nested(int depth, const char *open, const char *inner, const char *close)
{
    size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
    char *s = malloc((size_t)depth * (lo + lc) + li + 1), *p = s;

    assert_non_null(s);
    for (int i = 0; i < depth; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, inner, li);
    p += li;
    for (int i = 0; i < depth; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

static void
test_nesting_limit(void **state)
{
    char *s;

    (void)state;
    s = nested(NL_ANSWER_MAX_DEPTH, "[", "1", "]");
    json_object_put(parse_ok(s));
    free(s);

    s = nested(NL_ANSWER_MAX_DEPTH + 1, "[", "1", "]");
    assert_bad(s);
    free(s);

    s = nested(NL_ANSWER_MAX_DEPTH, "{\"a\":", "{\"b\": 1}", "}");
    assert_bad(s);
    free(s);

    s = nested(NL_ANSWER_MAX_DEPTH - 1, "{\"a\":", "{\"b\": 1}", "}");
    json_object_put(parse_ok(s));
    free(s);

    /* Far past the limit, unclosed: no deep recursion, just an error. */
    s = nested(200000, "[", "", "");
    assert_bad(s);
    free(s);
}

static void
test_truncated(void **state)
{
    size_t len = strlen(status_doc);
    char err[256];

    (void)state;
    /* Every cut of a document short of its closing brace is an error
     * (the cut before "\n" at the end is complete, hence len - 1). */
    for (size_t n = 0; n < len - 1; n++) {
        struct json_object *v = parse_n(status_doc, n, err, sizeof(err));

        if (v != NULL)
            fail_msg("prefix of %zu bytes parsed", n);
        assert_non_null(strstr(err, "at byte "));
    }
    assert_bad("");
    assert_bad("   ");
    assert_bad("[");
    assert_bad("{\"a\"");
    assert_bad("{\"a\":");
    assert_bad("tru");
    assert_bad("nul");
    assert_bad("\"abc");
}

static void
test_garbage(void **state)
{
    (void)state;
    assert_bad("[1,]");
    assert_bad("{\"a\": 1,}");
    assert_bad("{\"a\" 1}");
    assert_bad("{1: 2}");
    assert_bad("]");
    assert_bad("}");
    assert_bad("[}");
    assert_bad("{]");
    assert_bad("01");
    assert_bad("-");
    assert_bad("+1");
    assert_bad(".5");
    assert_bad("0x10");
    assert_bad("[1 2]");
    assert_bad("truex");
    assert_bad("nulll");
    assert_bad("\x01");
    assert_bad("<html>");
    assert_bad("HTTP/1.1 400 Bad Request");
    assert_bad("/* comment */ {}");
    /* One document, then nothing but white space. */
    assert_bad("{} {}");
    assert_bad("{}x");
    assert_bad_n("\0", 1);
    assert_bad_n("{}\0", 3);
    assert_bad_n("[1\0]", 4);
    /* Not UTF-8. */
    assert_bad("\xef\xbb\xbf{}");
    assert_bad("\"\xff\"");
    assert_bad("\"\x80\"");
    assert_bad("{\"k\xff\": 1}");
    assert_bad("\"\xe2\x82");
    json_object_put(parse_ok(" {}\n"));
    json_object_put(parse_ok("\"caf\xc3\xa9 \xf0\x9f\x98\x80\""));
}

static void
test_error_message(void **state)
{
    char err[256];

    (void)state;
    assert_null(parse_n("[1, x]", 6, err, sizeof(err)));
    assert_string_equal(err, "at byte 4: not a JSON value");
    assert_null(parse_n("{} {}", 5, err, sizeof(err)));
    assert_string_equal(err, "at byte 3: unexpected character");
    assert_null(parse_n("{}\0", 3, err, sizeof(err)));
    assert_string_equal(err, "at byte 2: expected the end of the document");
    /* A short buffer is cut, never overrun; NULL asks for no message. */
    assert_null(parse_n("[1, x]", 6, err, 12));
    assert_string_equal(err, "at byte 4: ");
    assert_null(parse_n("[1, x]", 6, NULL, 0));
    /* A good parse leaves an empty message. */
    strcpy(err, "old");
    json_object_put(parse_n("1", 1, err, sizeof(err)));
    assert_string_equal(err, "");
}

static void
test_too_large(void **state)
{
    size_t len = (size_t)NL_ANSWER_MAX_SIZE + 1;
    char *s = malloc(len), err[256];

    (void)state;
    assert_non_null(s);
    memset(s, ' ', len);
    s[0] = '1';
    assert_null(nl_answer_parse(s, len, err, sizeof(err)));
    assert_string_equal(err, "at byte 0: the answer is too large");
    free(s);
}

/* A small fixed generator: the same "random" input on every run. */
static uint32_t
next_rand(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 16;
}

static void
test_random_garbage(void **state)
{
    static const char alphabet[] = "{}[]\",:\\u0123456789abcdefnulltrue"
                                   "-+.eE \t\n\x80\xc3\xa9\xff";
    size_t len = strlen(status_doc);
    char buf[512], err[256];
    uint32_t seed = 1;

    (void)state;
    /* Whatever comes of it, a parse ends, and frees what it made. */
    for (int round = 0; round < 20000; round++) {
        size_t n = next_rand(&seed) % 64;

        for (size_t i = 0; i < n; i++)
            buf[i] = alphabet[next_rand(&seed) % (sizeof(alphabet) - 1)];
        json_object_put(parse_n(buf, n, err, sizeof(err)));
    }
    /* Flipped bytes in a real answer. */
    for (int round = 0; round < 20000; round++) {
        memcpy(buf, status_doc, len);
        for (int k = 0; k < 3; k++)
            buf[next_rand(&seed) % len] = (char)next_rand(&seed);
        json_object_put(parse_n(buf, len, err, sizeof(err)));
    }
}

/* What json-c's strict mode accepts beyond JSON is refused, with where. */
static void
test_beyond_json(void **state)
{
    static const struct {
        const char *text, *err;
    } bad[] = {
        {"{\"a\": NaN}", "at byte 6: not a JSON value"},
        {"[Infinity]", "at byte 1: not a JSON value"},
        {"[-Infinity]", "at byte 2: not a JSON value"},
        {"{'a': 1}", "at byte 1: single-quoted string"},
        {"{\"a\": \"x\ty\"}", "at byte 8: control character in a string"},
        {"[truth]", "at byte 1: not a JSON value"},
    };
    struct json_object *v;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = parse_n(bad[i].text, strlen(bad[i].text), err, sizeof(err));
        if (v != NULL)
            fail_msg("accepted %s", bad[i].text);
        assert_string_equal(err, bad[i].err);
    }
    /* Exponents, escapes and the three words are JSON. */
    v = parse_ok("[1e5, 2E-3, 4.5e+1, true, false, null, \"\\\"'NaN\\t\"]");
    assert_int_equal(nl_answer_len(v), 7);
    json_object_put(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_document),
        cmocka_unit_test(test_accessors_tolerate_wrong_types),
        cmocka_unit_test(test_big_integers),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_beyond_json),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_random_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
