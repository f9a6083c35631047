/*
 * test_commands.c - the control commands (commands.c): `help` derived from
 * the table, the answer to an unknown or empty line, `stop`, and the
 * status document's exact shape (DESIGN.md), on a master built by hand.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "commands.h"
#include "conf.h"
#include "master_int.h"
#include "stats.h"
#include "supervisor.h"
#include "util.h"

static struct nl_master m;
static struct nl_conf conf;
static struct nl_listener_conf lc;
static struct lst *lst[1];
static int stops;

static void
fake_stop(struct nl_master *mm, const char *why)
{
    assert_ptr_equal(mm, &m);
    stops++;
}

static struct nl_counters workers[2], gate;

static int
setup(void **state)
{
    const struct nl_sup_events none = {0};

    memset(&m, 0, sizeof(m));
    conf.file = "/etc/netlabd/netlabd.conf";
    conf.shutdown_timeout = 1;
    lc.name = "web";
    lc.transport = NL_TRANSPORT_TCP;
    lc.model = NL_MODEL_PREFORK;
    lc.workers = 2;
    lc.max_workers = 5;
    lc.handler = "echo";
    lc.handler_version = "1.0";
    m.conf = &conf;
    nl_sup_init(&m.sup, &conf, &none);
    lst[0] = nl_lst_new(&m.sup, &lc);
    strcpy(lst[0]->sk.address, "127.0.0.1:7000");
    lst[0]->kept.total = 7;
    lst[0]->kept.bytes_in = 70;
    lst[0]->kept.active = 3; /* ended processes have none open */
    lst[0]->procs[0].ready = lst[0]->procs[1].ready = 1;
    /* Two prefork workers, each counting itself running; the three
     * places left for extras are empty. */
    memset(workers, 0, sizeof(workers));
    workers[0].workers_running = workers[1].workers_running = 1;
    lst[0]->procs[0].slot = &workers[0];
    lst[0]->procs[1].slot = &workers[1];
    memset(&gate, 0, sizeof(gate));
    gate.peak_active = 4;
    lst[0]->gate = &gate;
    m.sup.lst = lst;
    m.sup.nlst = 1;
    m.cmds.m = &m;
    m.cmds.stop = fake_stop;
    stops = 0;
    return 0;
}

static int
teardown(void **state)
{
    lst[0]->gate = NULL; /* not from the shared pool */
    nl_lst_free(lst[0]);
    return 0;
}

/* The answer to line, as a C string; outcome in *o. */
static char *
answer(const char *line, enum nl_cmd_outcome *o)
{
    struct nl_buf b = {0};
    char *s;

    *o = nl_commands_answer(&m.cmds, NULL, line, &b);
    nl_buf_append(&b, "", 1);
    s = nl_xstrdup(nl_buf_head(&b));
    nl_buf_free(&b);
    return s;
}

static void
expect(const char *line, const char *want, enum nl_cmd_outcome want_o)
{
    enum nl_cmd_outcome o;
    char *got = answer(line, &o);

    assert_string_equal(got, want);
    assert_int_equal(o, want_o);
    free(got);
}

static void
test_help(void **state)
{
    expect("help",
           "{\"commands\": {\"status\": \"listeners, counters and reloads\", "
           "\"metrics\": \"the counters in the Prometheus text format\", "
           "\"reload\": \"read the config again and apply it\", "
           "\"stop\": \"stop gracefully\", "
           "\"log-reopen\": \"reopen the log file\", "
           "\"help\": \"this list\"}}",
           NL_CMD_REPLY);
}

static void
test_unknown(void **state)
{
    expect("bogus",
           "{\"error\": \"unknown command; try help\", \"command\": \"bogus\"}",
           NL_CMD_REPLY);
    expect("", "{\"error\": \"empty command; try help\", \"command\": \"\"}",
           NL_CMD_REPLY);
    /* A near miss is no command either. */
    expect("statu",
           "{\"error\": \"unknown command; try help\", "
           "\"command\": \"statu\"}",
           NL_CMD_REPLY);
    expect("say \"x\"",
           "{\"error\": \"unknown command; try help\", "
           "\"command\": \"say \\\"x\\\"\"}",
           NL_CMD_REPLY);
}

static void
test_stop(void **state)
{
    expect("stop", "{\"ok\": true}", NL_CMD_REPLY_THEN_STOP);
    assert_int_equal(stops, 0); /* nl_commands_run() stops, after it */
}

#define LISTENER                                                               \
    "{\"name\": \"web\", \"transport\": \"tcp\", \"address\": "                \
    "\"127.0.0.1:7000\", \"model\": \"prefork\", \"workers\": 2, "             \
    "\"max_workers\": 5, \"workers_running\": 2, "                           \
    "\"connections_waiting\": 0, "                                             \
    "\"handler\": \"echo\", \"handler_version\": \"1.0\", "                   \
    "\"connections_active\": 0, "                                              \
    "\"connections_total\": 7, \"connections_refused\": 0, "               \
    "\"connections_denied\": 0, \"connections_limited\": 0, \"bytes_in\": "  \
    "70, \"bytes_out\": 0, \"errors\": 0, \"connections_waited\": 0, "         \
    "\"longest_wait_ms\": 0, \"proxy_header_errors\": 0, "                  \
    "\"connections_peak\": 4, "                                             \
    "\"processes_started\": 0, "                      \
    "\"processes_crashed\": 0, \"last_exit_signal\": null, "                 \
    "\"serving\": true}"

/* The status document, uptime_s 100 (or 101 if a second ticked). */
static void
expect_status(const char *last_reload, const char *draining)
{
    char want[2][4096];
    enum nl_cmd_outcome o;
    char *got;

    m.start_time = time(NULL) - 100;
    got = answer("status", &o);
    for (int i = 0; i < 2; i++)
        snprintf(want[i], sizeof(want[i]),
                 "{\"pid\": %ld, \"version\": \"%s\", \"uptime_s\": %d, "
                 "\"config\": \"/etc/netlabd/netlabd.conf\", \"generation\": "
                 "%u, \"last_reload\": %s, \"listeners\": [" LISTENER
                 "], \"draining\": [%s]}",
                 (long)getpid(), PACKAGE_VERSION, 100 + i, m.sup.generation,
                 last_reload, draining);
    if (strcmp(got, want[0]) != 0)
        assert_string_equal(got, want[1]);
    assert_int_equal(o, NL_CMD_REPLY);
    free(got);
}

static void
test_status(void **state)
{
    struct nl_counters slot = {.active = 4};
    struct drain d = {
        .pid = 42, .name = "web", .slot = &slot, .generation = 1, .id = 99};

    expect_status("null", "");
    m.sup.generation = 3;
    m.rl.done = 1;
    m.rl.ok = 1;
    m.rl.time = 0;
    expect_status("{\"ok\": true, \"error\": null, "
                  "\"time\": \"1970-01-01T00:00:00Z\"}",
                  "");
    m.rl.ok = 0;
    m.rl.error = "netlabd.conf:3: \"x\"";
    m.sup.drains = &d;
    expect_status("{\"ok\": false, \"error\": \"netlabd.conf:3: \\\"x\\\"\", "
                  "\"time\": \"1970-01-01T00:00:00Z\"}",
                  "{\"listener\": \"web\", \"pid\": 42, \"generation\": 1, "
                  "\"connections_active\": 4}");
    m.sup.drains = NULL;
    m.rl.error = NULL;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_help, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
