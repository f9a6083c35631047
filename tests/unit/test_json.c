/*
 * test_json.c - JSON strings and the byte buffer they are built in.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "json.h"

static void
assert_json(const char *in, const char *want)
{
    struct nl_buf b = {0};

    nl_json_string(&b, in);
    nl_buf_append(&b, "", 1);
    assert_string_equal(nl_buf_head(&b), want);
    nl_buf_free(&b);
}

static void
test_plain(void **state)
{
    assert_json("echo", "\"echo\"");
    assert_json("", "\"\"");
}

static void
test_escapes(void **state)
{
    assert_json("say \"hi\"", "\"say \\\"hi\\\"\"");
    assert_json("a\\b", "\"a\\\\b\"");
    assert_json("l1\nl2\r\t", "\"l1\\nl2\\r\\t\"");
    assert_json("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
}

static void
test_utf8_passes(void **state)
{
    assert_json("caf\xc3\xa9", "\"caf\xc3\xa9\"");
}

static void
test_invalid_utf8_replaced(void **state)
{
    /* Stray bytes, a truncated sequence, an overlong "/" and a surrogate. */
    assert_json("\xff\xfe x", "\"\\ufffd\\ufffd x\"");
    assert_json("a\xc3", "\"a\\ufffd\"");
    assert_json("\xc0\xaf", "\"\\ufffd\\ufffd\"");
    assert_json("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    assert_json("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");
}

static void
test_printf_grows(void **state)
{
    struct nl_buf b = {0};
    char big[10000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    nl_buf_printf(&b, "%d:", 42);
    nl_buf_printf(&b, "%s", big);
    assert_int_equal(b.len, 3 + sizeof(big) - 1);
    assert_memory_equal(nl_buf_head(&b), "42:xxx", 6);
    nl_buf_free(&b);
}

static void
test_buf_consume_and_reuse(void **state)
{
    struct nl_buf b = {0};

    nl_buf_append(&b, "abcdef", 6);
    nl_buf_consume(&b, 2);
    assert_int_equal(b.len, 4);
    assert_memory_equal(nl_buf_head(&b), "cdef", 4);
    nl_buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    /* A drained buffer starts again at the front instead of growing. */
    for (int i = 0; i < 1000; i++) {
        nl_buf_append(&b, "0123456789", 10);
        nl_buf_consume(&b, 10);
    }
    assert_true(b.cap <= 4096);
    nl_buf_free(&b);
    assert_null(b.data);
}

/* The writer places every comma and colon. */
static void
test_writer_nesting(void **state)
{
    struct nl_buf b = {0};
    struct nl_json j;

    nl_json_init(&j, &b);
    nl_json_open(&j, NULL, NL_JSON_OBJECT);
    nl_json_int(&j, "pid", -12);
    nl_json_str(&j, "name", "a\"b");
    nl_json_str(&j, "error", NULL);
    nl_json_open(&j, "inner", NL_JSON_OBJECT);
    nl_json_bool(&j, "ok", 1);
    nl_json_bool(&j, "no", 0);
    nl_json_close(&j);
    nl_json_open(&j, "list", NL_JSON_ARRAY);
    nl_json_uint(&j, NULL, 18446744073709551615ull);
    nl_json_open(&j, NULL, NL_JSON_OBJECT);
    nl_json_null(&j, "x");
    nl_json_close(&j);
    nl_json_open(&j, NULL, NL_JSON_OBJECT);
    nl_json_close(&j);
    nl_json_close(&j);
    nl_json_open(&j, "empty", NL_JSON_ARRAY);
    nl_json_close(&j);
    nl_json_close(&j);
    nl_buf_append(&b, "", 1);
    assert_string_equal(nl_buf_head(&b),
                        "{\"pid\": -12, \"name\": \"a\\\"b\", \"error\": null, "
                        "\"inner\": {\"ok\": true, \"no\": false}, "
                        "\"list\": [18446744073709551615, {\"x\": null}, {}], "
                        "\"empty\": []}");
    assert_int_equal(j.depth, 0);
    nl_buf_free(&b);
}

/* A key is a JSON string like any other. */
static void
test_writer_key_escaped(void **state)
{
    struct nl_buf b = {0};
    struct nl_json j;

    nl_json_init(&j, &b);
    nl_json_open(&j, NULL, NL_JSON_OBJECT);
    nl_json_uint(&j, "a\nb", 1);
    nl_json_close(&j);
    nl_buf_append(&b, "", 1);
    assert_string_equal(nl_buf_head(&b), "{\"a\\nb\": 1}");
    nl_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_utf8_passes),
        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_printf_grows),
        cmocka_unit_test(test_buf_consume_and_reuse),
        cmocka_unit_test(test_writer_nesting),
        cmocka_unit_test(test_writer_key_escaped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
