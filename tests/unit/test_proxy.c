/*
 * test_proxy.c - the PROXY protocol header parser: v1 TCP4, TCP6 and
 * UNKNOWN; v2 PROXY over IPv4, IPv6 and unix, LOCAL and UNSPEC, with TLVs
 * skipped; the client's data left after the header; every prefix asking
 * for more; and each malformed form refused with its reason.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "proxy.h"

static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                      0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static enum nl_proxy_rc
parse(const void *buf, size_t len, struct nl_proxy *p, size_t *used,
      const char **why)
{
    return nl_proxy_parse(buf, len, p, used, why);
}

/* Every strict prefix of a whole header asks for more. */
static void
prefixes_want_more(const void *buf, size_t len)
{
    struct nl_proxy p;
    size_t used;
    const char *why;

    for (size_t n = 0; n < len; n++)
        if (parse(buf, n, &p, &used, &why) != NL_PROXY_MORE)
            fail_msg("prefix of %zu of %zu bytes: not \"more\" (%s)", n, len,
                     why != NULL ? why : "ok");
}

static void
refused(const void *buf, size_t len, const char *what)
{
    struct nl_proxy p;
    size_t used;
    const char *why = NULL;

    assert_int_equal(parse(buf, len, &p, &used, &why), NL_PROXY_BAD);
    assert_non_null(why);
    if (strstr(why, what) == NULL)
        fail_msg("refused as \"%s\", not \"%s\"", why, what);
}

static void
test_v1(void **state)
{
    const char *h = "PROXY TCP4 192.0.2.7 198.51.100.1 5512 7001\r\nhello";
    struct nl_proxy p;
    const struct sockaddr_in *src = (const struct sockaddr_in *)&p.src;
    const struct sockaddr_in *dst = (const struct sockaddr_in *)&p.dst;
    size_t used, hlen = strlen(h) - 5;
    const char *why;
    char text[64];

    assert_int_equal(parse(h, strlen(h), &p, &used, &why), NL_PROXY_OK);
    assert_int_equal(used, hlen); /* "hello" is the client's */
    assert_int_equal(p.version, 1);
    assert_false(p.local);
    assert_int_equal(src->sin_family, AF_INET);
    inet_ntop(AF_INET, &src->sin_addr, text, sizeof(text));
    assert_string_equal(text, "192.0.2.7");
    assert_int_equal(ntohs(src->sin_port), 5512);
    assert_int_equal(ntohs(dst->sin_port), 7001);
    prefixes_want_more(h, hlen);

    h = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
    assert_int_equal(parse(h, strlen(h), &p, &used, &why), NL_PROXY_OK);
    assert_int_equal(p.src.ss_family, AF_INET6);
    assert_int_equal(
        ntohs(((const struct sockaddr_in6 *)&p.src)->sin6_port), 65535);

    h = "PROXY UNKNOWN\r\n";
    assert_int_equal(parse(h, strlen(h), &p, &used, &why), NL_PROXY_OK);
    assert_true(p.local);
    h = "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
    assert_int_equal(parse(h, strlen(h), &p, &used, &why), NL_PROXY_OK);
    assert_true(p.local);
}

static void
test_v1_bad(void **state)
{
    static const struct {
        const char *h, *why;
    } bad[] = {
        {"PROXY TCP4 192.0.2.7 198.51.100.1 5512 7001\n", "CRLF"},
        {"PROXY TCP4 192.0.2.7 198.51.100.1 5512 7001\rx", "CRLF"},
        {"PROXY TCP5 192.0.2.7 198.51.100.1 5512 7001\r\n", "protocol"},
        {"PROXY tcp4 192.0.2.7 198.51.100.1 5512 7001\r\n", "protocol"},
        {"PROXY TCP4 192.0.2.7 198.51.100.1 5512\r\n", "exactly two"},
        {"PROXY TCP4 192.0.2.7 198.51.100.1 5512 7001 9\r\n", "more than six"},
        {"PROXY TCP4  198.51.100.1 5512 7001\r\n", "malformed"},
        {"PROXY TCP4 192.0.2.700 198.51.100.1 5512 7001\r\n", "malformed"},
        {"PROXY TCP4 2001:db8::1 198.51.100.1 5512 7001\r\n", "malformed"},
        {"PROXY TCP6 192.0.2.7 2001:db8::1 5512 7001\r\n", "malformed"},
        {"PROXY TCP4 192.0.2.7 198.51.100.1 65536 7001\r\n", "malformed"},
        {"PROXY TCP4 192.0.2.7 198.51.100.1 05512 7001\r\n", "malformed"},
        {"PROXY TCP4 192.0.2.7 198.51.100.1 -1 7001\r\n", "malformed"},
        {"PROXY TCP4 192.0.2.7 198.51.100.1 +1 7001\r\n", "malformed"},
        {"PROXY TCP4 192.0.2.7\t198.51.100.1 5512 7001\r\n", "not text"},
        {"proxy TCP4 192.0.2.7 198.51.100.1 5512 7001\r\n", "signature"},
        {"GET / HTTP/1.0\r\n\r\n", "signature"},
    };
    char longline[200];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused(bad[i].h, strlen(bad[i].h), bad[i].why);
    /* No CR within 107 bytes: never a header. */
    memset(longline, 'x', sizeof(longline));
    memcpy(longline, "PROXY TCP4 ", 11);
    refused(longline, sizeof(longline), "longer than 107");
}

/* A v2 header: command, family, then body. */
static size_t
v2(unsigned char *out, int cmd, int fam, const void *body, size_t n)
{
    memcpy(out, sig, 12);
    out[12] = (unsigned char)(0x20 | cmd);
    out[13] = (unsigned char)fam;
    out[14] = (unsigned char)(n >> 8);
    out[15] = (unsigned char)n;
    memcpy(out + 16, body, n);
    return 16 + n;
}

static void
test_v2(void **state)
{
    unsigned char h[NL_PROXY_MAX + 64], body[300];
    struct nl_proxy p;
    size_t len, used;
    const char *why;
    char text[64];

    /* IPv4, with a TLV after the addresses, and data after the header. */
    inet_pton(AF_INET, "192.0.2.7", body);
    inet_pton(AF_INET, "198.51.100.1", body + 4);
    memcpy(body + 8, "\x15\x88\x1b\x59", 4); /* ports 5512, 7001 */
    memcpy(body + 12, "\x04\x00\x01\x00", 4); /* a NOOP TLV */
    len = v2(h, 1, 0x11, body, 16);
    memcpy(h + len, "data", 4);
    assert_int_equal(parse(h, len + 4, &p, &used, &why), NL_PROXY_OK);
    assert_int_equal(used, len);
    assert_int_equal(p.version, 2);
    assert_false(p.local);
    inet_ntop(AF_INET, &((struct sockaddr_in *)&p.src)->sin_addr, text,
              sizeof(text));
    assert_string_equal(text, "192.0.2.7");
    assert_int_equal(ntohs(((struct sockaddr_in *)&p.src)->sin_port), 5512);
    assert_int_equal(ntohs(((struct sockaddr_in *)&p.dst)->sin_port), 7001);
    prefixes_want_more(h, len);

    /* IPv6. */
    memset(body, 0, sizeof(body));
    inet_pton(AF_INET6, "2001:db8::1", body);
    body[33] = 80;
    len = v2(h, 1, 0x21, body, 36);
    assert_int_equal(parse(h, len, &p, &used, &why), NL_PROXY_OK);
    assert_int_equal(p.src.ss_family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&p.src)->sin6_port), 80);

    /* Unix, paths not NUL-terminated within their 108 bytes. */
    memset(body, 'a', 216);
    len = v2(h, 1, 0x31, body, 216);
    assert_int_equal(parse(h, len, &p, &used, &why), NL_PROXY_OK);
    assert_int_equal(p.src.ss_family, AF_UNIX);
    assert_int_equal(strlen(((struct sockaddr_un *)&p.src)->sun_path), 107);

    /* LOCAL (a health check), whatever family it names, and UNSPEC. */
    len = v2(h, 0, 0x11, body, 12);
    assert_int_equal(parse(h, len, &p, &used, &why), NL_PROXY_OK);
    assert_true(p.local);
    len = v2(h, 1, 0x00, body, 0);
    assert_int_equal(parse(h, len, &p, &used, &why), NL_PROXY_OK);
    assert_true(p.local);
    assert_int_equal(used, 16);
}

static void
test_v2_bad(void **state)
{
    unsigned char h[NL_PROXY_MAX + 64], body[64] = {0};
    size_t len;

    len = v2(h, 1, 0x11, body, 12);
    h[12] = 0x11; /* version 1 in a v2 header */
    refused(h, len, "version");
    len = v2(h, 2, 0x11, body, 12);
    refused(h, len, "command");
    len = v2(h, 1, 0x41, body, 12);
    refused(h, len, "family");
    len = v2(h, 1, 0x11, body, 8);
    refused(h, len, "addresses longer");
    len = v2(h, 1, 0x21, body, 20);
    refused(h, len, "addresses longer");
    /* A length past the most netlabd reads, refused before it all comes. */
    len = v2(h, 1, 0x11, body, 12);
    h[14] = 0x04;
    h[15] = 0x00;
    refused(h, 16, "longer than 1024");
    /* A signature that goes wrong at its last byte. */
    memcpy(h, sig, 12);
    h[11] = 'x';
    refused(h, 12, "signature");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_v1_bad),
        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_v2_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
