/*
 * test_json_parse.c - netlabctl's JSON reader: documents like the daemon's
 * answers, every escape, Unicode, integers at the edges of 64 bits, the
 * nesting limit, and garbage, which must give an error and never a crash.
 *
 * Every input is copied into a buffer of exactly its length, so that a
 * read past the end shows up under AddressSanitizer.
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

#include "json_parse.h"

static struct nl_jp_value *
parse_n(const char *text, size_t len, char *err, size_t errlen)
{
    char *copy = malloc(len > 0 ? len : 1);
    struct nl_jp_value *v;

    assert_non_null(copy);
    memcpy(copy, text, len);
    v = nl_jp_parse(copy, len, err, errlen);
    free(copy);
    return v;
}

static struct nl_jp_value *
parse_ok(const char *text)
{
    char err[256];
    struct nl_jp_value *v = parse_n(text, strlen(text), err, sizeof(err));

    if (v == NULL)
        fail_msg("%s: %s", text, err);
    return v;
}

/* Expects text to fail with an error that contains want. */
static void
assert_bad_n(const char *text, size_t len, const char *want)
{
    char err[256] = "unchanged";
    struct nl_jp_value *v = parse_n(text, len, err, sizeof(err));

    if (v != NULL) {
        nl_jp_free(v);
        fail_msg("parsed, but should not have: %.*s", (int)len, text);
    }
    assert_non_null(strstr(err, "at byte "));
    if (want != NULL && strstr(err, want) == NULL)
        fail_msg("%.*s: error \"%s\" lacks \"%s\"", (int)len, text, err, want);
}

static void
assert_bad(const char *text, const char *want)
{
    assert_bad_n(text, strlen(text), want);
}

static void
assert_string_value(const char *json, const char *want, size_t wantlen)
{
    struct nl_jp_value *v = parse_ok(json);
    size_t len = 0;
    const char *s = nl_jp_string(v, &len);

    assert_non_null(s);
    assert_int_equal(len, wantlen);
    assert_memory_equal(s, want, wantlen);
    assert_int_equal(s[len], '\0');
    nl_jp_free(v);
}

static void
test_scalars(void **state)
{
    struct nl_jp_value *v;
    int b = -1;
    uint64_t u;

    v = parse_ok(" null ");
    assert_int_equal(nl_jp_type(v), NL_JP_NULL);
    assert_int_equal(nl_jp_bool(v, &b), -1);
    nl_jp_free(v);

    v = parse_ok("true");
    assert_int_equal(nl_jp_bool(v, &b), 0);
    assert_int_equal(b, 1);
    nl_jp_free(v);

    v = parse_ok("\t\r\nfalse\n");
    assert_int_equal(nl_jp_bool(v, &b), 0);
    assert_int_equal(b, 0);
    nl_jp_free(v);

    v = parse_ok("42");
    assert_int_equal(nl_jp_type(v), NL_JP_NUMBER);
    assert_int_equal(nl_jp_uint(v, &u), 0);
    assert_int_equal(u, 42);
    assert_null(nl_jp_string(v, NULL));
    nl_jp_free(v);

    assert_string_value("\"echo\"", "echo", 4);
    assert_string_value("\"\"", "", 0);
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
    struct nl_jp_value *doc = parse_ok(status_doc);
    const struct nl_jp_value *ls, *l;
    const char *key = "unchanged";
    uint64_t u;
    int b;

    assert_int_equal(nl_jp_type(doc), NL_JP_OBJECT);
    assert_int_equal(nl_jp_len(doc), 7);
    assert_int_equal(nl_jp_uint(nl_jp_get(doc, "pid"), &u), 0);
    assert_int_equal(u, 123);
    assert_string_equal(nl_jp_string(nl_jp_get(doc, "version"), NULL), "0.1.0");
    assert_int_equal(nl_jp_type(nl_jp_get(doc, "last_reload")), NL_JP_NULL);
    assert_non_null(nl_jp_get(doc, "last_reload"));
    assert_null(nl_jp_get(doc, "draining"));
    assert_non_null(nl_jp_index(doc, 6, &key));
    assert_string_equal(key, "listeners");

    ls = nl_jp_get(doc, "listeners");
    assert_int_equal(nl_jp_type(ls), NL_JP_ARRAY);
    assert_int_equal(nl_jp_len(ls), 2);
    l = nl_jp_index(ls, 0, &key);
    assert_null(key);
    assert_string_equal(nl_jp_string(nl_jp_get(l, "address"), NULL),
                        "127.0.0.1:7001");
    assert_int_equal(nl_jp_uint(nl_jp_get(l, "connections_total"), &u), 0);
    assert_int_equal(u, 3);
    assert_int_equal(nl_jp_bool(nl_jp_get(l, "serving"), &b), 0);
    assert_int_equal(b, 1);
    assert_null(nl_jp_get(nl_jp_index(ls, 1, NULL), "bytes_in"));
    assert_null(nl_jp_index(ls, 2, NULL));
    nl_jp_free(doc);
}

static void
test_accessors_tolerate_wrong_types(void **state)
{
    struct nl_jp_value *v = parse_ok("[\"a\", {}]");
    int64_t i;
    uint64_t u;
    double d;
    int b;

    /* An answer of an unexpected shape must be walkable without checks. */
    assert_null(nl_jp_get(v, "a"));
    assert_null(nl_jp_get(NULL, "a"));
    assert_null(nl_jp_get(nl_jp_get(NULL, "a"), "b"));
    assert_int_equal(nl_jp_len(NULL), 0);
    assert_int_equal(nl_jp_len(nl_jp_index(v, 0, NULL)), 0);
    assert_int_equal(nl_jp_len(nl_jp_index(v, 1, NULL)), 0);
    assert_null(nl_jp_index(NULL, 0, NULL));
    assert_null(nl_jp_index(nl_jp_index(v, 0, NULL), 0, NULL));
    assert_int_equal(nl_jp_type(NULL), NL_JP_NULL);
    assert_null(nl_jp_string(NULL, NULL));
    assert_null(nl_jp_string(v, NULL));
    assert_int_equal(nl_jp_uint(nl_jp_index(v, 0, NULL), &u), -1);
    assert_int_equal(nl_jp_int(NULL, &i), -1);
    assert_int_equal(nl_jp_double(v, &d), -1);
    assert_int_equal(nl_jp_bool(v, &b), -1);
    nl_jp_free(v);
    nl_jp_free(NULL);
}

static void
test_containers(void **state)
{
    struct nl_jp_value *v;
    const struct nl_jp_value *x;
    uint64_t u;

    v = parse_ok("[]");
    assert_int_equal(nl_jp_type(v), NL_JP_ARRAY);
    assert_int_equal(nl_jp_len(v), 0);
    nl_jp_free(v);

    v = parse_ok(" { } ");
    assert_int_equal(nl_jp_type(v), NL_JP_OBJECT);
    assert_int_equal(nl_jp_len(v), 0);
    nl_jp_free(v);

    v = parse_ok("[[1, [2, [3]]], {\"a\": {\"b\": [true, null]}}]");
    x = nl_jp_index(nl_jp_index(nl_jp_index(v, 0, NULL), 1, NULL), 1, NULL);
    assert_int_equal(nl_jp_uint(nl_jp_index(x, 0, NULL), &u), 0);
    assert_int_equal(u, 3);
    x = nl_jp_get(nl_jp_get(nl_jp_index(v, 1, NULL), "a"), "b");
    assert_int_equal(nl_jp_len(x), 2);
    assert_int_equal(nl_jp_type(nl_jp_index(x, 1, NULL)), NL_JP_NULL);
    nl_jp_free(v);

    /* Many elements make the arrays grow several times. */
    {
        char buf[4 * 1000 + 3];
        size_t n = 0;

        buf[n++] = '[';
        for (int i = 0; i < 1000; i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d",
                                  i ? "," : "", i % 10);
        buf[n++] = ']';
        buf[n] = '\0';
        v = parse_ok(buf);
        assert_int_equal(nl_jp_len(v), 1000);
        assert_int_equal(nl_jp_uint(nl_jp_index(v, 999, NULL), &u), 0);
        assert_int_equal(u, 9);
        nl_jp_free(v);
    }
}

static void
test_duplicate_keys_first_wins(void **state)
{
    struct nl_jp_value *v = parse_ok("{\"a\": 1, \"a\": 2, \"b\": 3}");
    uint64_t u;

    assert_int_equal(nl_jp_len(v), 3);
    assert_int_equal(nl_jp_uint(nl_jp_get(v, "a"), &u), 0);
    assert_int_equal(u, 1);
    nl_jp_free(v);
}

static void
test_escapes(void **state)
{
    assert_string_value("\"say \\\"hi\\\"\"", "say \"hi\"", 8);
    assert_string_value("\"a\\\\b\\/c\"", "a\\b/c", 5);
    assert_string_value("\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5);
    assert_string_value("\"end\\\\\"", "end\\", 4);

    /* Keys are decoded as well. */
    {
        struct nl_jp_value *v = parse_ok("{\"a\\nb\": 1}");

        assert_non_null(nl_jp_get(v, "a\nb"));
        nl_jp_free(v);
    }
}

static void
test_unicode(void **state)
{
    assert_string_value("\"caf\\u00e9\"", "caf\xc3\xa9", 5);
    assert_string_value("\"\\u20AC\"", "\xe2\x82\xac", 3);
    assert_string_value("\"\\u0041\\u007f\"", "A\x7f", 2);
    assert_string_value("\"\\u07ff\\u0800\\uffff\"",
                        "\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 8);
    /* A surrogate pair is one code point, four bytes of UTF-8. */
    assert_string_value("\"\\ud83d\\ude00!\"", "\xf0\x9f\x98\x80!", 5);
    assert_string_value("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4);
    /* An escaped NUL is kept; the length says where the string ends. */
    assert_string_value("\"a\\u0000b\"", "a\0b", 3);
    /* UTF-8 as such passes unchanged. */
    assert_string_value("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
                        "caf\xc3\xa9 \xf0\x9f\x98\x80", 10);
}

static void
test_bad_strings(void **state)
{
    assert_bad("\"abc", "unterminated string");
    assert_bad("\"abc\\", "unterminated string");
    assert_bad("\"abc\\\"", "unterminated string");
    assert_bad("\"\\x\"", "escape");
    assert_bad("\"\\U0041\"", "escape");
    assert_bad("\"\\u12\"", "four hex digits");
    assert_bad("\"\\u12g4\"", "four hex digits");
    assert_bad("\"\\ud83d\"", "high surrogate");
    assert_bad("\"\\ud83dx\"", "high surrogate");
    assert_bad("\"\\ud83d\\u0041\"", "high surrogate");
    assert_bad("\"\\ud83d\\ud83d\"", "high surrogate");
    assert_bad("\"\\ude00\"", "low surrogate");
    assert_bad("\"tab\there\"", "control character 0x09");
    assert_bad("\"new\nline\"", "control character");
    assert_bad_n("\"nul\0\"", 6, "control character 0x00");
    /* Stray bytes, overlong forms, UTF-16 surrogates, past U+10FFFF and
     * cut sequences are not UTF-8. */
    assert_bad("\"\xff\"", "invalid UTF-8");
    assert_bad("\"\x80\"", "invalid UTF-8");
    assert_bad("\"\xc0\xaf\"", "invalid UTF-8");
    assert_bad("\"\xe0\x80\xaf\"", "invalid UTF-8");
    assert_bad("\"\xed\xa0\x80\"", "invalid UTF-8");
    assert_bad("\"\xf4\x90\x80\x80\"", "invalid UTF-8");
    assert_bad("\"\xe2\x82\"", "invalid UTF-8");
    assert_bad("\"\xe2\x82", NULL);
    assert_bad("{\"k\xff\": 1}", "invalid UTF-8");
}

static void
test_big_integers(void **state)
{
    struct nl_jp_value *v;
    uint64_t u;
    int64_t i;
    double d;

    v = parse_ok("18446744073709551615");
    assert_int_equal(nl_jp_uint(v, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(nl_jp_int(v, &i), -1);
    nl_jp_free(v);

    /* One past 2^64 - 1 is still a number, only not an integer we hold. */
    v = parse_ok("18446744073709551616");
    assert_int_equal(nl_jp_uint(v, &u), -1);
    assert_int_equal(nl_jp_double(v, &d), 0);
    assert_true(d > 1.8e19 && d < 1.9e19);
    nl_jp_free(v);

    v = parse_ok("123456789012345678901234567890");
    assert_int_equal(nl_jp_uint(v, &u), -1);
    nl_jp_free(v);

    v = parse_ok("9223372036854775807");
    assert_int_equal(nl_jp_int(v, &i), 0);
    assert_true(i == INT64_MAX);
    nl_jp_free(v);

    v = parse_ok("9223372036854775808");
    assert_int_equal(nl_jp_int(v, &i), -1);
    assert_int_equal(nl_jp_uint(v, &u), 0);
    assert_true(u == (uint64_t)INT64_MAX + 1);
    nl_jp_free(v);

    v = parse_ok("-9223372036854775808");
    assert_int_equal(nl_jp_int(v, &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(nl_jp_uint(v, &u), -1);
    nl_jp_free(v);

    v = parse_ok("-9223372036854775809");
    assert_int_equal(nl_jp_int(v, &i), -1);
    nl_jp_free(v);

    v = parse_ok("-0");
    assert_int_equal(nl_jp_uint(v, &u), 0);
    assert_true(u == 0);
    assert_int_equal(nl_jp_int(v, &i), 0);
    assert_true(i == 0);
    nl_jp_free(v);

    v = parse_ok("-17");
    assert_int_equal(nl_jp_uint(v, &u), -1);
    assert_int_equal(nl_jp_int(v, &i), 0);
    assert_true(i == -17);
    nl_jp_free(v);
}

static void
assert_double(const char *json, double want)
{
    struct nl_jp_value *v = parse_ok(json);
    uint64_t u;
    double d;

    assert_int_equal(nl_jp_double(v, &d), 0);
    assert_true(d == want);
    /* A fraction or an exponent makes it no integer, even "1.0". */
    assert_int_equal(nl_jp_uint(v, &u), -1);
    nl_jp_free(v);
}

static void
test_decimals(void **state)
{
    assert_double("1.5", 1.5);
    assert_double("-0.25", -0.25);
    assert_double("1.0", 1.0);
    assert_double("1e3", 1000.0);
    assert_double("2.5E-1", 0.25);
    assert_double("1e+2", 100.0);
    assert_double("0.0000000000000000000000000000000000000000001e43", 1.0);
}

static void
test_bad_numbers(void **state)
{
    assert_bad("01", "expected the end");
    assert_bad("-01", "expected the end");
    assert_bad("-", "a digit");
    assert_bad("-a", "a digit");
    assert_bad("1.", "a digit after '.'");
    assert_bad("1.e3", "a digit after '.'");
    assert_bad(".5", "expected a value");
    assert_bad("+1", "expected a value");
    assert_bad("1e", "exponent");
    assert_bad("1e+", "exponent");
    assert_bad("0x10", "expected the end");
    assert_bad("Infinity", "expected a value");
    assert_bad("NaN", "expected a value");
    assert_bad("[1 2]", "',' or ']'");
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
    struct nl_jp_value *v;
    char *s;

    s = nested(NL_JP_MAX_DEPTH, "[", "1", "]");
    v = parse_ok(s);
    nl_jp_free(v);
    free(s);

    s = nested(NL_JP_MAX_DEPTH + 1, "[", "1", "]");
    assert_bad(s, "nested deeper than 64 levels");
    free(s);

    s = nested(NL_JP_MAX_DEPTH, "{\"a\":", "{}", "}");
    assert_bad(s, "nested deeper");
    free(s);

    s = nested(NL_JP_MAX_DEPTH - 1, "{\"a\":", "{}", "}");
    v = parse_ok(s);
    nl_jp_free(v);
    free(s);

    /* Far past the limit, unclosed: no deep recursion, just an error. */
    s = nested(200000, "[", "", "");
    assert_bad(s, "nested deeper");
    free(s);
}

static void
test_truncated(void **state)
{
    size_t len = strlen(status_doc);
    char err[256];

    /* Every cut of a document short of its closing brace is an error
     * (the cut inside "\n" at the end is complete, hence len - 1). */
    for (size_t n = 0; n < len - 1; n++) {
        struct nl_jp_value *v = parse_n(status_doc, n, err, sizeof(err));

        if (v != NULL)
            fail_msg("prefix of %zu bytes parsed", n);
    }
    assert_bad("", "unexpected end of input");
    assert_bad("   ", "unexpected end of input");
    assert_bad("[", "end of input");
    assert_bad("{\"a\"", "end of input");
    assert_bad("{\"a\":", "end of input");
    assert_bad("tru", "expected a value");
    assert_bad("nul", "expected a value");
}

static void
test_garbage(void **state)
{
    assert_bad("[1,]", "expected a value");
    assert_bad("{\"a\": 1,}", "expected a string key");
    assert_bad("{\"a\" 1}", "':'");
    assert_bad("{1: 2}", "string key");
    assert_bad("{'a': 1}", "unexpected '''");
    assert_bad("{} {}", "expected the end of the document");
    assert_bad("]", "unexpected ']'");
    assert_bad("}", NULL);
    assert_bad("[}", NULL);
    assert_bad("{]", NULL);
    assert_bad("truex", "expected the end");
    assert_bad("nulll", "expected the end");
    assert_bad("\x01", "unexpected byte 0x01");
    assert_bad_n("\0", 1, "unexpected byte 0x00");
    assert_bad_n("[1]\0", 4, "expected the end");
    assert_bad("\xef\xbb\xbf{}", "unexpected byte 0xef");
    assert_bad("<html>", "unexpected '<'");
    assert_bad("HTTP/1.1 400 Bad Request", NULL);
}

static void
test_error_position(void **state)
{
    char err[256];

    assert_null(parse_n("[1, x]", 6, err, sizeof(err)));
    assert_string_equal(err, "at byte 4: unexpected 'x', expected a value");
    /* A short buffer is cut, never overrun; NULL asks for no message. */
    assert_null(parse_n("[1, x]", 6, err, 12));
    assert_string_equal(err, "at byte 4: ");
    assert_null(parse_n("[1, x]", 6, NULL, 0));
    /* A good parse leaves an empty message. */
    strcpy(err, "old");
    nl_jp_free(parse_n("1", 1, err, sizeof(err)));
    assert_string_equal(err, "");
}

static void
test_too_large(void **state)
{
    size_t len = (size_t)NL_JP_MAX_SIZE + 1;
    char *s = malloc(len), err[256];

    assert_non_null(s);
    memset(s, ' ', len);
    s[0] = '1';
    assert_null(nl_jp_parse(s, len, err, sizeof(err)));
    assert_non_null(strstr(err, "larger than"));
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

    /* Whatever comes of it, a parse ends, and frees what it made. */
    for (int round = 0; round < 20000; round++) {
        size_t n = next_rand(&seed) % 64;

        for (size_t i = 0; i < n; i++)
            buf[i] = alphabet[next_rand(&seed) % (sizeof(alphabet) - 1)];
        nl_jp_free(parse_n(buf, n, err, sizeof(err)));
    }
    /* Flipped bytes in a real answer. */
    for (int round = 0; round < 20000; round++) {
        memcpy(buf, status_doc, len);
        for (int k = 0; k < 3; k++)
            buf[next_rand(&seed) % len] = (char)next_rand(&seed);
        nl_jp_free(parse_n(buf, len, err, sizeof(err)));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_status_document),
        cmocka_unit_test(test_accessors_tolerate_wrong_types),
        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_duplicate_keys_first_wins),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_unicode),
        cmocka_unit_test(test_bad_strings),
        cmocka_unit_test(test_big_integers),
        cmocka_unit_test(test_decimals),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_error_position),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_random_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
