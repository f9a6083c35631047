/*
 * test_admit.c - admission: max_connections across a shared gate (full,
 * freed, refusals counted), the order of leaving, the master's give-back
 * of a dead process's sessions, the fair share of event loops, and the
 * allow/deny rules and per-source limits held at admission (stream
 * connections and datagrams), each refusal counted in its own counter.
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
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "access.h"
#include "admit.h"
#include "conf.h"
#include "session.h"
#include "sources.h"
#include "stats.h"
#include "transport.h"

static struct nl_listener_conf lc;
static struct nl_counters ctr, gate;
static struct nl_session_env env;
static struct sockaddr_in peer = {.sin_family = AF_INET};
static struct nl_conn conn;

static int
setup(void **state)
{
    memset(&lc, 0, sizeof(lc));
    memset(&ctr, 0, sizeof(ctr));
    memset(&gate, 0, sizeof(gate));
    lc.name = "t";
    lc.max_connections = 2;
    env.lc = &lc;
    env.ctr = &ctr;
    env.gate = &gate.active;
    env.notify_fd = -1;
    env.sources = NULL;
    env.refusals = NULL;
    memset(&conn, 0, sizeof(conn));
    conn.fd = -1;
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return 0;
}

static int
teardown(void **state)
{
    nl_rules_free(&lc.allow);
    nl_rules_free(&lc.deny);
    if (env.sources != NULL)
        nl_sources_unref(env.sources);
    env.sources = NULL;
    return 0;
}

static int
admit(void)
{
    memset(&conn, 0, sizeof(conn));
    conn.fd = -1;
    return nl_admit(&env, &conn, (struct sockaddr *)&peer, sizeof(peer));
}

/* An admission from address a (IPv4) that keeps its ticket in *c. */
static int
admit_from(const char *a, struct nl_conn *c)
{
    struct sockaddr_in in = {.sin_family = AF_INET};

    assert_int_equal(inet_pton(AF_INET, a, &in.sin_addr), 1);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    return nl_admit(&env, c, (struct sockaddr *)&in, sizeof(in));
}

static void
set_rules(struct nl_rules *rs, const char *const *texts, size_t n)
{
    char err[256];

    rs->v = calloc(n, sizeof(*rs->v));
    rs->n = n;
    for (size_t i = 0; i < n; i++)
        if (nl_rule_parse(texts[i], 0, &rs->v[i], err, sizeof(err)) != 0)
            fail_msg("%s: %s", texts[i], err);
}

static void
test_gate_full(void **state)
{
    assert_int_equal(admit(), 0);
    assert_int_equal(admit(), 0);
    /* The third is refused, counted, and leaves the gate as it was. */
    assert_int_equal(admit(), -1);
    assert_int_equal(gate.active, 2);
    assert_int_equal(ctr.active, 2);
    assert_int_equal(ctr.total, 2);
    assert_int_equal(ctr.refused, 1);
    /* One leaves: the next is served. */
    nl_admit_leave(&env, &conn);
    assert_int_equal(gate.active, 1);
    assert_int_equal(ctr.active, 1);
    assert_int_equal(admit(), 0);
    assert_int_equal(ctr.total, 3);
    assert_int_equal(ctr.refused, 1);
}

/* Another process's sessions count against the same gate. */
static void
test_gate_shared(void **state)
{
    gate.active = 2;
    assert_int_equal(admit(), -1);
    assert_int_equal(ctr.refused, 1);
    assert_int_equal(ctr.active, 0);
    gate.active = 1;
    assert_int_equal(admit(), 0);
    assert_int_equal(gate.active, 2);
}

/* No address at all (an unbound unix client) is admitted as any. */
static void
test_no_peer(void **state)
{
    assert_int_equal(nl_admit(&env, &conn, NULL, 0), 0);
    assert_int_equal(gate.active, 1);
}

/* A process that died with two sessions open: the master gives back
 * exactly what its slot still counted, and other processes' stay. */
static void
test_give_back(void **state)
{
    struct nl_counters slot = {0};

    env.ctr = &slot;
    assert_int_equal(admit(), 0);
    assert_int_equal(admit(), 0);
    env.ctr = &ctr;
    gate.active += 3; /* others' */
    nl_admit_give_back(&gate, &slot);
    assert_int_equal(gate.active, 3);
    /* Nothing open: nothing given back. */
    slot.active = 0;
    nl_admit_give_back(&gate, &slot);
    assert_int_equal(gate.active, 3);
}

static void
test_over_share(void **state)
{
    /* One loop takes everything. */
    gate.active = 100;
    assert_false(nl_admit_over_share(&env, 100, 1));
    /* Two loops, 10 open: up to an even share and one more each. */
    gate.active = 10;
    assert_false(nl_admit_over_share(&env, 5, 2));
    assert_false(nl_admit_over_share(&env, 6, 2));
    assert_true(nl_admit_over_share(&env, 7, 2));
    /* Four loops, nothing open yet: a loop may take one. */
    gate.active = 0;
    assert_false(nl_admit_over_share(&env, 1, 4));
    assert_true(nl_admit_over_share(&env, 2, 4));
}

/* Deny wins, allow leaves out the rest; a refusal by rules is counted
 * as denied and takes no place in the gate. */
static void
test_rules(void **state)
{
    const char *allow[] = {"127.0.0.0/8"}, *deny[] = {"127.0.0.3"};
    struct nl_conn c;

    set_rules(&lc.allow, allow, 1);
    set_rules(&lc.deny, deny, 1);
    lc.max_connections = 10;
    assert_int_equal(admit_from("127.0.0.2", &c), 0);
    assert_int_equal(admit_from("127.0.0.3", &c), -1);
    assert_int_equal(admit_from("192.0.2.1", &c), -1);
    assert_int_equal(ctr.denied, 2);
    assert_int_equal(ctr.refused, 0);
    assert_int_equal(ctr.limited, 0);
    assert_int_equal(gate.active, 1);
    assert_int_equal(ctr.total, 1);
}

/* max_connections_per_source: the third from one address is refused
 * (limited, its gate place given back); another address is not; a
 * session that ends frees its place. */
static void
test_per_source(void **state)
{
    struct nl_conn a1, a2, a3, b1;

    lc.max_connections = 10;
    lc.max_connections_per_source = 2;
    env.sources = nl_sources_new(10);
    assert_non_null(env.sources);
    assert_int_equal(admit_from("127.0.0.2", &a1), 0);
    assert_int_equal(admit_from("127.0.0.2", &a2), 0);
    assert_int_not_equal(a1.ticket, 0);
    assert_int_equal(admit_from("127.0.0.2", &a3), -1);
    assert_int_equal(ctr.limited, 1);
    assert_int_equal(gate.active, 2);
    assert_int_equal(admit_from("127.0.0.3", &b1), 0);
    nl_admit_leave(&env, &a1);
    assert_int_equal(admit_from("127.0.0.2", &a3), 0);
    assert_int_equal(ctr.limited, 1);
    assert_int_equal(ctr.refused, 0);
    nl_admit_leave(&env, &a2);
    nl_admit_leave(&env, &a3);
    nl_admit_leave(&env, &b1);
    assert_int_equal(gate.active, 0);
}

/* The gate refuses before the source is counted: a refused connection
 * takes no per-source place. */
static void
test_gate_before_source(void **state)
{
    struct nl_conn a1, a2;
    struct nl_source src;

    lc.max_connections = 1;
    lc.max_connections_per_source = 5;
    env.sources = nl_sources_new(1);
    assert_int_equal(admit_from("127.0.0.2", &a1), 0);
    assert_int_equal(admit_from("127.0.0.2", &a2), -1);
    assert_int_equal(ctr.refused, 1);
    assert_int_equal(ctr.limited, 0);
    nl_source_from_addr(&src, (struct sockaddr *)&(struct sockaddr_in){
                                  .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(0x7f000002)},
                        sizeof(struct sockaddr_in));
    assert_int_equal(nl_sources_open(env.sources, &src), 1);
}

/* Datagrams: rules and the rate apply, counted the same way. */
static void
test_datagrams(void **state)
{
    const char *deny[] = {"127.0.0.3"};
    struct sockaddr_in a = {.sin_family = AF_INET}, b = a;

    inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
    inet_pton(AF_INET, "127.0.0.3", &b.sin_addr);
    /* Nothing configured: every datagram goes through. */
    assert_int_equal(
        nl_admit_datagram(&env, (struct sockaddr *)&b, sizeof(b), NULL), 0);
    set_rules(&lc.deny, deny, 1);
    lc.max_connection_rate_per_source = 2;
    env.sources = nl_sources_new(4);
    assert_int_equal(
        nl_admit_datagram(&env, (struct sockaddr *)&b, sizeof(b), NULL), -1);
    assert_int_equal(ctr.denied, 1);
    /* Two a second: a burst of two, then the third is dropped. */
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            nl_admit_datagram(&env, (struct sockaddr *)&a, sizeof(a), NULL), 0);
    assert_int_equal(
        nl_admit_datagram(&env, (struct sockaddr *)&a, sizeof(a), NULL), -1);
    assert_int_equal(ctr.limited, 1);
    /* No session is held open by a datagram. */
    assert_int_equal(gate.active, 0);
}

/* Refusals are logged at most once a second per listener: the count of
 * those not logged is kept in the gate until the next line. */
static void
test_refusal_log(void **state)
{
    const char *deny[] = {"127.0.0.3"};
    struct nl_conn c;

    set_rules(&lc.deny, deny, 1);
    env.refusals = &gate;
    for (int i = 0; i < 5; i++)
        assert_int_equal(admit_from("127.0.0.3", &c), -1);
    assert_int_equal(ctr.denied, 5);
    /* The first was logged (and took the count); four wait for the next
     * line, a second later. */
    assert_int_not_equal(gate.refusals_logged_ms, 0);
    assert_int_equal(gate.refusals_unlogged, 4);
}

/* The client a PROXY header names, admitted apart from the connection. */
static int
admit_client(const char *a, struct nl_conn *c)
{
    struct sockaddr_in in = {.sin_family = AF_INET};

    assert_int_equal(inet_pton(AF_INET, a, &in.sin_addr), 1);
    return nl_admit_client(&env, c, (struct sockaddr *)&in, sizeof(in), 1);
}

/* proxy_protocol: a connection takes its place under max_connections at
 * accept, whoever the balancer is; the rules and per-source limits judge
 * the client named in the header, which alone counts in total. */
static void
test_proxy_client(void **state)
{
    const char *deny[] = {"203.0.113.66"};
    struct nl_conn c1, c2, c3;

    set_rules(&lc.deny, deny, 1);
    lc.proxy_protocol = 1;
    lc.max_connections_per_source = 1;
    env.sources = nl_sources_new(10);
    assert_int_equal(admit_from("203.0.113.66", &c1), 0);
    assert_int_equal(admit_from("203.0.113.66", &c2), 0);
    assert_int_equal(admit_from("203.0.113.66", &c3), -1);
    assert_int_equal(ctr.refused, 1);
    assert_int_equal(ctr.denied, 0);
    assert_int_equal(gate.active, 2);
    assert_int_equal(ctr.active, 2);
    assert_int_equal(ctr.total, 0);

    assert_int_equal(admit_client("203.0.113.66", &c1), -1);
    assert_int_equal(ctr.denied, 1);
    nl_admit_leave(&env, &c1);
    assert_int_equal(gate.active, 1);
    assert_int_equal(admit_client("198.51.100.5", &c2), 0);
    assert_int_equal(ctr.total, 1);
    assert_int_equal(admit_from("203.0.113.66", &c3), 0);
    assert_int_equal(admit_client("198.51.100.5", &c3), -1);
    assert_int_equal(ctr.limited, 1);
    nl_admit_leave(&env, &c3);
    nl_admit_leave(&env, &c2);
    assert_int_equal(gate.active, 0);
    assert_int_equal(ctr.active, 0);
    assert_int_equal(ctr.total, 1);
}

/* A unix listener behind a balancer: the socket's credentials are the
 * balancer's, so a client a header named is not judged by them; a LOCAL
 * check (not named) is. */
static void
test_proxy_unix_named(void **state)
{
    char err[256];
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    struct nl_conn c;
    int sp[2];

    lc.transport = NL_TRANSPORT_UNIX;
    lc.proxy_protocol = 1;
    lc.max_connections = 10;
    lc.allow.v = calloc(1, sizeof(*lc.allow.v));
    lc.allow.n = 1;
    snprintf(err, sizeof(err), "uid:%u", (unsigned)getuid());
    assert_int_equal(nl_rule_parse(err, 1, &lc.allow.v[0], err, sizeof(err)),
                     0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    memset(&c, 0, sizeof(c));
    c.fd = sp[0];
    assert_int_equal(nl_admit_client(&env, &c, (struct sockaddr *)&un,
                                     sizeof(sa_family_t), 0),
                     0);
    assert_int_equal(nl_admit_client(&env, &c, (struct sockaddr *)&un,
                                     sizeof(sa_family_t), 1),
                     -1);
    assert_int_equal(ctr.denied, 1);
    close(sp[0]);
    close(sp[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_gate_full, setup),
        cmocka_unit_test_setup(test_gate_shared, setup),
        cmocka_unit_test_setup(test_no_peer, setup),
        cmocka_unit_test_setup(test_give_back, setup),
        cmocka_unit_test_setup(test_over_share, setup),
        cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_before_source, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_datagrams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_unix_named, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
