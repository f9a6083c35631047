/*
 * test_access.c - access rules: reading each form and refusing the bad
 * ones (with what is wrong), CIDR edges, v4-mapped peers, deny winning
 * over allow, credential rules (a group's members too), and the source of
 * a real unix socket's peer.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "access.h"

static char err[256];

static struct nl_rule
rule(const char *text, int for_unix)
{
    struct nl_rule r;

    if (nl_rule_parse(text, for_unix, &r, err, sizeof(err)) != 0)
        fail_msg("%s: %s", text, err);
    return r;
}

static void
refused(const char *text, int for_unix, const char *what)
{
    struct nl_rule r;

    err[0] = '\0';
    assert_int_equal(nl_rule_parse(text, for_unix, &r, err, sizeof(err)), -1);
    if (strstr(err, what) == NULL)
        fail_msg("%s: \"%s\" does not say \"%s\"", text, err, what);
}

static struct nl_source
v4(const char *a)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct nl_source src;

    assert_int_equal(inet_pton(AF_INET, a, &in.sin_addr), 1);
    nl_source_from_addr(&src, (struct sockaddr *)&in, sizeof(in));
    return src;
}

static struct nl_source
v6(const char *a)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    struct nl_source src;

    assert_int_equal(inet_pton(AF_INET6, a, &in6.sin6_addr), 1);
    nl_source_from_addr(&src, (struct sockaddr *)&in6, sizeof(in6));
    return src;
}

static int
matches(const char *text, struct nl_source src)
{
    struct nl_rule r = rule(text, 0);
    int m = nl_rule_match(&r, &src);

    nl_rule_free(&r);
    return m;
}

static void
test_cidr_edges(void **state)
{
    assert_true(matches("192.0.2.0/24", v4("192.0.2.0")));
    assert_true(matches("192.0.2.0/24", v4("192.0.2.255")));
    assert_false(matches("192.0.2.0/24", v4("192.0.3.0")));
    assert_false(matches("192.0.2.0/24", v4("192.0.1.255")));
    /* A prefix that does not end on a byte. */
    assert_true(matches("10.0.0.0/9", v4("10.127.255.255")));
    assert_false(matches("10.0.0.0/9", v4("10.128.0.0")));
    /* Host bits are the network's: "192.0.2.7/24" is 192.0.2.0/24. */
    assert_true(matches("192.0.2.7/24", v4("192.0.2.200")));
    assert_true(matches("0.0.0.0/0", v4("203.0.113.9")));
    assert_true(matches("127.0.0.2", v4("127.0.0.2")));
    assert_false(matches("127.0.0.2", v4("127.0.0.3")));
    assert_true(matches("127.0.0.2/32", v4("127.0.0.2")));
    assert_true(matches("2001:db8::/32", v6("2001:db8:ffff::1")));
    assert_false(matches("2001:db8::/32", v6("2001:db9::1")));
    assert_true(matches("::1", v6("::1")));
    assert_true(matches("::/0", v6("fe80::1")));
    /* Families never match each other... */
    assert_false(matches("0.0.0.0/0", v6("::1")));
    assert_false(matches("::/0", v4("127.0.0.1")));
}

static void
test_v4_mapped(void **state)
{
    /* ...but a v4-mapped peer of a dual-stack socket is its IPv4 self. */
    struct nl_source src = v6("::ffff:127.0.0.2");
    char buf[64];

    assert_int_equal(src.family, AF_INET);
    assert_true(matches("127.0.0.0/8", src));
    assert_false(matches("::ffff:0:0/96", src));
    assert_string_equal(nl_source_text(&src, buf, sizeof(buf)), "127.0.0.2");
}

static void
test_bad_rules(void **state)
{
    refused("192.0.2.0/33", 0, "prefix length must be 0 to 32");
    refused("2001:db8::/129", 0, "0 to 128");
    refused("192.0.2.0/", 0, "prefix length");
    refused("192.0.2.0/-1", 0, "prefix length");
    refused("192.0.2.0/2x", 0, "prefix length");
    refused("192.0.2", 0, "not an address or CIDR");
    refused("localhost", 0, "not an address or CIDR");
    refused("", 0, "not an address or CIDR");
    /* Rules of the other kind of transport. */
    refused("user:root", 0, "for unix listeners only");
    refused("uid:0", 0, "for unix listeners only");
    refused("127.0.0.1", 1, "is an address");
    refused("::1", 1, "is an address");
    refused("10.0.0.0/8", 1, "is an address");
    /* Credentials that are not there, or not numbers. */
    refused("user:no-such-user-netlabd", 1, "unknown user");
    refused("group:no-such-group-netlabd", 1, "unknown group");
    refused("user:", 1, "unknown user");
    refused("uid:x", 1, "must be a number");
    refused("gid:-1", 1, "must be a number");
    refused("uid:4294967295", 1, "must be a number");
    refused("alice", 1, "not user:NAME");
}

static void
test_credentials(void **state)
{
    struct nl_source root = {.family = AF_UNIX, .has_cred = 1, .uid = 0,
                             .gid = 0};
    struct nl_source other = {.family = AF_UNIX, .has_cred = 1, .uid = 4242,
                              .gid = 4242};
    struct nl_source none = {.family = AF_UNIX};
    struct nl_rule r = rule("user:root", 1);

    assert_true(nl_rule_match(&r, &root));
    assert_false(nl_rule_match(&r, &other));
    assert_false(nl_rule_match(&r, &none)); /* no credentials: no match */
    nl_rule_free(&r);
    r = rule("uid:4242", 1);
    assert_true(nl_rule_match(&r, &other));
    nl_rule_free(&r);
    r = rule("group:root", 1); /* root's primary group */
    assert_true(nl_rule_match(&r, &root));
    assert_false(nl_rule_match(&r, &other));
    nl_rule_free(&r);
    r = rule("gid:4242", 1);
    assert_true(nl_rule_match(&r, &other));
    assert_false(nl_rule_match(&r, &root));
    nl_rule_free(&r);
}

static void
test_group_members(void **state)
{
    /* A member listed in the group, whose own gid is another. */
    uint32_t members[] = {4242};
    struct nl_rule r = {.kind = NL_RULE_GID, .id = 99,
                        .members = members, .nmembers = 1};
    struct nl_source member = {.family = AF_UNIX, .has_cred = 1, .uid = 4242,
                               .gid = 4242};
    struct nl_source stranger = {.family = AF_UNIX, .has_cred = 1,
                                 .uid = 4343, .gid = 4343};

    assert_true(nl_rule_match(&r, &member));
    assert_false(nl_rule_match(&r, &stranger));
}

static struct nl_rules
rules(const char *const *texts, size_t n, int for_unix)
{
    struct nl_rules rs = {.v = calloc(n, sizeof(struct nl_rule)), .n = n};

    for (size_t i = 0; i < n; i++)
        rs.v[i] = rule(texts[i], for_unix);
    return rs;
}

static void
test_allow_deny(void **state)
{
    const char *a[] = {"127.0.0.0/8", "::1"};
    const char *d[] = {"127.0.0.3"};
    struct nl_rules allow = rules(a, 2, 0), deny = rules(d, 1, 0);
    struct nl_rules none = {0}, copy;
    struct nl_source s2 = v4("127.0.0.2"), s3 = v4("127.0.0.3");
    struct nl_source out = v4("192.0.2.1"), lo6 = v6("::1");

    assert_true(nl_access_allowed(&allow, &deny, &s2));
    assert_false(nl_access_allowed(&allow, &deny, &s3)); /* deny wins */
    assert_false(nl_access_allowed(&allow, &deny, &out)); /* not allowed */
    assert_true(nl_access_allowed(&allow, &deny, &lo6));
    /* No allow: everything not denied. */
    assert_true(nl_access_allowed(&none, &deny, &out));
    assert_false(nl_access_allowed(&none, &deny, &s3));
    assert_true(nl_access_allowed(&none, &none, &out));
    /* Equal lists, as a reload compares them. */
    nl_rules_copy(&copy, &allow);
    assert_true(nl_rules_equal(&copy, &allow));
    assert_false(nl_rules_equal(&copy, &deny));
    assert_false(nl_rules_equal(&none, &deny));
    nl_rules_free(&copy);
    nl_rules_free(&allow);
    nl_rules_free(&deny);
}

static void
test_peercred(void **state)
{
    int sv[2];
    struct nl_source src;
    char buf[64], want[64];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    nl_source_from_addr(&src, NULL, 0);
    assert_int_equal(src.family, AF_UNIX);
    assert_int_equal(nl_source_peercred(&src, sv[0]), 0);
    assert_true(src.has_cred);
    assert_int_equal(src.uid, getuid());
    assert_int_equal(src.gid, getgid());
    assert_int_equal(src.pid, getpid());
    snprintf(want, sizeof(want), "uid %u", (unsigned)getuid());
    assert_string_equal(nl_source_text(&src, buf, sizeof(buf)), want);
    close(sv[0]);
    close(sv[1]);
    /* Not a socket: an error, and no credentials. */
    nl_source_from_addr(&src, NULL, 0);
    assert_int_equal(nl_source_peercred(&src, STDIN_FILENO + 100), -1);
    assert_false(src.has_cred);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_edges),
        cmocka_unit_test(test_v4_mapped),
        cmocka_unit_test(test_bad_rules),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_group_members),
        cmocka_unit_test(test_allow_deny),
        cmocka_unit_test(test_peercred),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
