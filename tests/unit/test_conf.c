/*
 * test_conf.c - unit tests of conf.c.  Good files must come back with every
 * default filled in, relative paths resolved against the file's folder and
 * options captured as text; each bad file must give exactly its expected
 * "FILE:LINE: message" lines, with FILE spelled as it was passed in.
 *
 * The fixtures are in tests/unit/conf/.  automake's test driver exports
 * srcdir (the top of the source tree, which differs from the build tree in
 * a VPATH build); run by hand, the test expects to be started from the top
 * of the source tree.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "access.h"
#include "conf.h"
#include "conf_include.h"
#include "errs.h"
#include "log.h"
#include "paths.h"
#include "util.h"

#define MAX_LINES 24

static const char *
srcdir(void)
{
    const char *d = getenv("srcdir");

    return d != NULL && d[0] != '\0' ? d : ".";
}

/* The folder of the fixtures, as the tests spell it. */
static char *
conf_dir(void)
{
    return nl_xasprintf("%s/tests/unit/conf", srcdir());
}

static char *
fixture(const char *name)
{
    return nl_xasprintf("%s/tests/unit/conf/%s", srcdir(), name);
}

/* A fixture loaded by setup(); *state names the file before setup runs. */
struct loaded {
    char *dir;
    char *path;
    struct nl_conf *conf;
};

static int
setup(void **state)
{
    struct loaded *l = nl_xcalloc(1, sizeof(*l));
    struct nl_errs errs = {0};

    l->dir = conf_dir();
    l->path = fixture(*state);
    l->conf = nl_conf_load(l->path, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("unexpected: %s\n", errs.msg[i]);
    nl_errs_clear(&errs);
    *state = l;
    return l->conf != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    struct loaded *l = *state;

    nl_conf_free(l->conf);
    free(l->path);
    free(l->dir);
    free(l);
    return 0;
}

/* Asserts that `got` is dir + "/" + rel. */
static void
assert_in_dir(const char *dir, const char *rel, const char *got)
{
    char cwd[4096], *want = NULL; /* fail_msg() does not return */

    /* Resolved paths are absolute: a relative srcdir gets the cwd. */
    if (dir[0] == '/')
        want = nl_xasprintf("%s/%s", dir, rel);
    else if (getcwd(cwd, sizeof(cwd)) != NULL)
        want = nl_xasprintf("%s/%s/%s", cwd, dir, rel);
    else
        fail_msg("getcwd failed");
    assert_non_null(got);
    assert_string_equal(got, want);
    free(want);
}

static const struct nl_option *
option(const struct nl_listener_conf *lc, const char *key)
{
    for (size_t i = 0; i < lc->noptions; i++)
        if (strcmp(lc->options[i].key, key) == 0)
            return &lc->options[i];
    fail_msg("option %s not found", key);
    return NULL;
}

static void
assert_option(const struct nl_listener_conf *lc, const char *key,
              const char *value, int line)
{
    const struct nl_option *o = option(lc, key);

    assert_string_equal(o->value, value);
    assert_int_equal(o->line, line);
}

static void
assert_limits_default(const struct nl_listener_conf *lc)
{
    assert_int_equal(lc->max_connections, NL_DEFAULT_MAX_CONNECTIONS);
    assert_int_equal(lc->idle_timeout, NL_DEFAULT_IDLE_TIMEOUT);
    assert_int_equal(lc->max_line, NL_DEFAULT_MAX_LINE);
    assert_int_equal(lc->backlog, NL_DEFAULT_BACKLOG);
}

static void
test_top_defaults(void **state)
{
    struct loaded *l = *state;
    const struct nl_conf *c = l->conf;

    assert_string_equal(c->file, l->path);
    assert_string_equal(c->log_target, "stderr");
    assert_int_equal(c->log_target_set, 0);
    assert_int_equal(c->log_level, NL_LOG_INFO);
    assert_string_equal(c->pidfile, NL_DEFAULT_PIDFILE);
    assert_string_equal(c->control, NL_DEFAULT_CONTROL);
    assert_int_equal(c->control_mode, NL_DEFAULT_CONTROL_MODE);
    assert_string_equal(c->plugin_dir, PKGLIBDIR);
    assert_null(c->user);
    assert_null(c->group);
    assert_int_equal(c->shutdown_timeout, NL_DEFAULT_SHUTDOWN_TIMEOUT);
}

static void
test_nothing(void **state)
{
    struct loaded *l = *state;

    test_top_defaults(state);
    assert_int_equal(l->conf->nlisteners, 0);
}

static void
test_listener_defaults(void **state)
{
    struct loaded *l = *state;
    const struct nl_conf *c = l->conf;
    const struct nl_listener_conf *lc;

    test_top_defaults(state);
    assert_int_equal(c->nlisteners, 4);

    lc = &c->listeners[0];
    assert_string_equal(lc->name, "echo");
    assert_int_equal(lc->line, 3);
    assert_int_equal(lc->transport, NL_TRANSPORT_TCP);
    assert_string_equal(lc->address, "127.0.0.1");
    assert_int_equal(lc->port, 7001);
    assert_int_equal(lc->ipv6only, 0);
    assert_null(lc->path);
    assert_int_equal(lc->mode_set, 0);
    assert_int_equal(lc->model, NL_MODEL_LIBEV);
    assert_int_equal(lc->workers, NL_DEFAULT_WORKERS_LIBEV);
    assert_string_equal(lc->handler, "echo");
    assert_string_equal(lc->handler_path, PKGLIBDIR "/echo.so");
    assert_null(lc->options);
    assert_int_equal(lc->noptions, 0);
    assert_int_equal(lc->options_line, 3);
    assert_limits_default(lc);

    lc = &c->listeners[1];
    assert_int_equal(lc->model, NL_MODEL_PREFORK);
    assert_int_equal(lc->workers, NL_DEFAULT_WORKERS_PREFORK);
    assert_limits_default(lc);

    lc = &c->listeners[2];
    assert_int_equal(lc->transport, NL_TRANSPORT_UDP);
    assert_int_equal(lc->model, NL_MODEL_THREADS);
    assert_int_equal(lc->workers, NL_DEFAULT_WORKERS_THREADS);

    lc = &c->listeners[3];
    assert_int_equal(lc->transport, NL_TRANSPORT_UNIX);
    assert_null(lc->address);
    assert_string_equal(lc->path, "/tmp/netlabd-test.sock");
    assert_int_equal(lc->mode_set, 0);
    assert_string_equal(lc->handler, "/opt/netlabd/greeter.so");
    assert_string_equal(lc->handler_path, "/opt/netlabd/greeter.so");
    assert_limits_default(lc);
}

static void
test_full_top(void **state)
{
    struct loaded *l = *state;
    const struct nl_conf *c = l->conf;

    assert_in_dir(l->dir, "log/netlabd.log", c->log_target);
    assert_int_equal(c->log_target_set, 1);
    assert_int_equal(c->log_level, NL_LOG_DEBUG);
    assert_in_dir(l->dir, "run/netlabd.pid", c->pidfile);
    assert_in_dir(l->dir, "run/control.sock", c->control);
    assert_int_equal(c->control_mode, 0600);
    assert_in_dir(l->dir, "plugins", c->plugin_dir);
    assert_string_equal(c->user, "nobody");
    assert_string_equal(c->group, "nogroup");
    assert_int_equal(c->shutdown_timeout, 0);
    assert_int_equal(c->nlisteners, 4);
}

static void
test_full_inet(void **state)
{
    struct loaded *l = *state;
    const struct nl_listener_conf *lc = &l->conf->listeners[0];

    assert_string_equal(lc->name, "web");
    assert_int_equal(lc->line, 13);
    assert_string_equal(lc->address, "0.0.0.0");
    assert_int_equal(lc->port, 0);
    assert_int_equal(lc->ipv6only, 0);
    assert_int_equal(lc->workers, 2);
    /* A bare name is found in plugin_dir, itself relative here. */
    assert_string_equal(lc->handler, "echo");
    assert_in_dir(l->dir, "plugins/echo.so", lc->handler_path);
    assert_int_equal(lc->max_connections, 1000000);
    assert_int_equal(lc->idle_timeout, 0);
    assert_int_equal(lc->max_line, 16777216);
    assert_int_equal(lc->backlog, 65535);

    lc = &l->conf->listeners[1];
    assert_int_equal(lc->ipv6only, 1);
    assert_string_equal(lc->handler, "./lib/upper.so");
    assert_in_dir(l->dir, "./lib/upper.so", lc->handler_path);
    assert_limits_default(lc);
}

/* Access rules and per-source limits, read as written; a listener
 * without them has none. */
static void
test_access(void **state)
{
    struct loaded *l = *state;
    const struct nl_listener_conf *lc = l->conf->listeners;
    struct nl_source s;
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(0x7f000002)};

    assert_int_equal(l->conf->nlisteners, 3);
    assert_string_equal(l->conf->control_group, "root");
    assert_string_equal(l->conf->control_admin_group, "root");
    assert_int_equal(lc[0].allow.n, 3);
    assert_int_equal(lc[0].deny.n, 1);
    assert_int_equal(lc[0].max_connections_per_source, 16);
    assert_int_equal(lc[0].max_connection_rate_per_source, 50);
    nl_source_from_addr(&s, (struct sockaddr *)&in, sizeof(in));
    assert_true(nl_access_allowed(&lc[0].allow, &lc[0].deny, &s));
    in.sin_addr.s_addr = htonl(0x7f000003);
    nl_source_from_addr(&s, (struct sockaddr *)&in, sizeof(in));
    assert_false(nl_access_allowed(&lc[0].allow, &lc[0].deny, &s));
    assert_int_equal(lc[1].allow.n, 4);
    assert_int_equal(lc[1].allow.v[0].kind, NL_RULE_UID);
    assert_int_equal(lc[1].allow.v[1].kind, NL_RULE_GID);
    assert_int_equal(lc[2].allow.n, 0);
    assert_int_equal(lc[2].deny.n, 0);
    assert_int_equal(lc[2].max_connection_rate_per_source, 0);
}

/* max_workers: given, or the default, or workers when more; workers under
 * libev. */
static void
test_pools(void **state)
{
    struct loaded *l = *state;
    const struct nl_listener_conf *lc = l->conf->listeners;

    assert_int_equal(l->conf->nlisteners, 4);
    assert_int_equal(lc[0].workers, NL_DEFAULT_WORKERS_PREFORK);
    assert_int_equal(lc[0].max_workers, NL_DEFAULT_MAX_WORKERS);
    assert_int_equal(lc[1].workers, 300);
    assert_int_equal(lc[1].max_workers, 300);
    assert_int_equal(lc[2].max_workers, 2);
    assert_int_equal(lc[3].model, NL_MODEL_LIBEV);
    assert_int_equal(lc[3].max_workers, 2);
}

static void
test_full_unix(void **state)
{
    struct loaded *l = *state;
    const struct nl_listener_conf *lc = &l->conf->listeners[2];

    assert_string_equal(lc->name, "greeter");
    assert_int_equal(lc->transport, NL_TRANSPORT_UNIX);
    assert_null(lc->address);
    assert_in_dir(l->dir, "run/greeter.sock", lc->path);
    assert_int_equal(lc->mode, 0640);
    assert_int_equal(lc->mode_set, 1);
    assert_int_equal(lc->model, NL_MODEL_PREFORK);
    assert_int_equal(lc->workers, 1024);
    assert_string_equal(lc->handler_path, "/usr/lib/netlabd/greeter.so");

    lc = &l->conf->listeners[3];
    assert_int_equal(lc->transport, NL_TRANSPORT_UNIX_DGRAM);
    assert_string_equal(lc->path, "/run/netlabd/log.sock");
    assert_int_equal(lc->model, NL_MODEL_THREADS);
    assert_int_equal(lc->workers, NL_DEFAULT_WORKERS_THREADS);
    assert_in_dir(l->dir, "plugins/logger.so", lc->handler_path);
    assert_int_equal(lc->idle_timeout, 86400);
    assert_int_equal(lc->max_line, 1);
    assert_int_equal(lc->max_connections, 1);
    assert_int_equal(lc->backlog, 1);
    assert_int_equal(lc->noptions, 0);
    assert_int_equal(lc->options_line, 47);
}

static void
test_full_options(void **state)
{
    struct loaded *l = *state;
    const struct nl_listener_conf *lc = &l->conf->listeners[2];

    assert_int_equal(lc->noptions, 7);
    assert_int_equal(lc->options_line, 37);
    /* Kept in the order of the file. */
    assert_string_equal(lc->options[0].key, "message");
    assert_string_equal(lc->options[6].key, "hex");
    assert_option(lc, "message", "hello\n", 38);
    assert_option(lc, "count", "3", 39);
    assert_option(lc, "big", "5000000000", 40);
    assert_option(lc, "ratio", "0.5", 41);
    assert_option(lc, "loud", "true", 42);
    assert_option(lc, "quiet", "false", 43);
    assert_option(lc, "hex", "31", 44);
}

static void
test_empty_listeners(void **state)
{
    struct loaded *l = *state;

    assert_string_equal(l->conf->log_target, "syslog");
    assert_int_equal(l->conf->log_target_set, 1);
    assert_int_equal(l->conf->nlisteners, 0);
}

static void
test_include(void **state)
{
    struct loaded *l = *state;
    const struct nl_listener_conf *lc;

    assert_int_equal(l->conf->log_level, NL_LOG_WARNING);
    assert_int_equal(l->conf->nlisteners, 1);
    lc = &l->conf->listeners[0];
    assert_string_equal(lc->name, "inc");
    assert_string_equal(lc->address, "localhost");
    assert_int_equal(lc->line, 3); /* of the included file */
}

/* The installed example must load as it is: the one make made from
 * etc/netlabd.conf.in in the build tree (make check runs in its top). */
static void
test_example(void **state)
{
    const char *b = getenv("NETLABD_BUILDDIR");
    char *path = nl_xasprintf("%s/etc/netlabd.conf",
                              b != NULL && b[0] != '\0' ? b : ".");
    struct nl_errs errs = {0};
    struct nl_conf *c = nl_conf_load(path, &errs);

    (void)state;
    for (size_t i = 0; i < errs.n; i++)
        print_error("unexpected: %s\n", errs.msg[i]);
    assert_int_equal(errs.n, 0);
    assert_non_null(c);
    assert_true(c->nlisteners > 0);
    nl_conf_free(c);
    nl_errs_clear(&errs);
    free(path);
}

/*
 * Each bad file and its error lines, in the order they are reported.  The
 * lines name files relative to tests/unit/conf; the test puts the folder
 * in front, as the file was passed with it.
 */
struct bad {
    const char *file;
    const char *lines[MAX_LINES];
};

static const struct bad bad_files[] = {
    {"bad-access.conf",
     {"bad-access.conf:5: listeners.a.allow: \"127.0.0.0/33\": the prefix "
      "length must be 0 to 32",
      "bad-access.conf:5: listeners.a.allow: \"::1/129\": the prefix length "
      "must be 0 to 128",
      "bad-access.conf:5: listeners.a.allow: \"localhost\" is not an address "
      "or CIDR",
      "bad-access.conf:6: listeners.a.deny: \"user:root\" is a credential "
      "rule, for unix listeners only: a tcp or udp listener's rules are "
      "addresses or CIDRs",
      "bad-access.conf:7: listeners.a.max_connections_per_source: -1 out of "
      "range (0-1000000)",
      "bad-access.conf:8: listeners.a.max_connection_rate_per_source: "
      "1000001 out of range (0-1000000)",
      "bad-access.conf:11: listeners.u.allow: \"127.0.0.1\" is an address: a "
      "unix listener's rules are user:NAME, group:NAME, uid:N or gid:N",
      "bad-access.conf:11: listeners.u.allow: unknown user "
      "\"no-such-user-netlabd\"",
      "bad-access.conf:12: listeners.u.allow: unknown group "
      "\"no-such-group-netlabd\"",
      "bad-access.conf:12: listeners.u.allow: \"uid:x\": uid must be a "
      "number",
      "bad-access.conf:12: listeners.u.allow: \"alice\" is not user:NAME, "
      "group:NAME, uid:N or gid:N",
      "bad-access.conf:13: listeners.u.deny: expected a list of strings [ "
      "\"...\", ... ], got a string",
      "bad-access.conf:16: listeners.d.max_connections_per_source: only "
      "valid for tcp and unix",
      "bad-access.conf:17: listeners.d.allow: expected a string, got an "
      "integer",
      "bad-access.conf:19: control_group: unknown group "
      "\"no-such-group-netlabd\"",
      "bad-access.conf:20: control_admin_group: must not be empty",
      "bad-access.conf:21: metrics_listen: \"::1:9109\" is not HOST:PORT "
      "(an IPv6 address in brackets, as [::1]:9109; a port from 0 to "
      "65535)"}},
    {"bad-syntax.conf", {"bad-syntax.conf:6: syntax error"}},
    {"bad-unknown-key.conf",
     {"bad-unknown-key.conf:2: colour: unknown key",
      "bad-unknown-key.conf:6: listeners.web.timeout: unknown key"}},
    {"bad-type.conf",
     {"bad-type.conf:2: shutdown_timeout: expected an integer, got a string",
      "bad-type.conf:3: log_level: expected a string, got an integer",
      "bad-type.conf:4: user: expected a string, got a boolean",
      "bad-type.conf:6: listeners[0].name: expected a string, got an integer",
      "bad-type.conf:6: listeners[0].port: expected an integer, got a string",
      "bad-type.conf:9: listeners.v6.ipv6only: expected true or false, got "
      "an integer",
      "bad-type.conf:9: listeners.v6.workers: expected an integer, got a "
      "float",
      "bad-type.conf:9: listeners.v6.options: expected a group { key = "
      "value; ... }, got a string"}},
    {"bad-duplicate-name.conf",
     {"bad-duplicate-name.conf:8: listeners.web: duplicate listener name "
      "(first defined at line 3)"}},
    {"bad-duplicate-address.conf",
     {"bad-duplicate-address.conf:16: listeners.f: tcp 127.0.0.1:7001 is "
      "already used by listener a (line 4)",
      "bad-duplicate-address.conf:21: listeners.h: unix-dgram "
      "/run/netlabd/g.sock is already used by listener g (line 18)",
      "bad-duplicate-address.conf:24: listeners.j: udp [::1]:7001 is "
      "already used by listener i (line 22)"}},
    {"bad-port.conf",
     {"bad-port.conf:4: listeners.web.port: 70000 out of range (0-65535)",
      "bad-port.conf:6: listeners.neg.port: -1 out of range (0-65535)"}},
    {"bad-range.conf",
     {"bad-range.conf:2: shutdown_timeout: 3601 out of range (0-3600)",
      "bad-range.conf:6: listeners.lo.workers: 0 out of range (1-1024)",
      "bad-range.conf:7: listeners.lo.max_connections: 0 out of range "
      "(1-1000000)",
      "bad-range.conf:8: listeners.lo.idle_timeout: -1 out of range "
      "(0-86400)",
      "bad-range.conf:9: listeners.lo.max_line: 0 out of range (1-16777216)",
      "bad-range.conf:10: listeners.lo.backlog: 0 out of range (1-65535)",
      "bad-range.conf:13: listeners.hi.workers: 1025 out of range (1-1024)",
      "bad-range.conf:14: listeners.hi.max_connections: 1000001 out of "
      "range (1-1000000)",
      "bad-range.conf:15: listeners.hi.idle_timeout: 86401 out of range "
      "(0-86400)",
      "bad-range.conf:16: listeners.hi.max_line: 16777217 out of range "
      "(1-16777216)",
      "bad-range.conf:17: listeners.hi.backlog: 65536 out of range "
      "(1-65535)"}},
    {"bad-missing-path.conf",
     {"bad-missing-path.conf:3: listeners.sock: missing path"}},
    {"bad-unix-no-path.conf",
     {"bad-unix-no-path.conf:8: listeners.none: missing path",
      "bad-unix-no-path.conf:9: listeners.int.path: expected a string, got "
      "an integer",
      "bad-unix-no-path.conf:10: listeners.empty.path: must not be empty",
      "bad-unix-no-path.conf:11: listeners.bool.path: expected a string, got "
      "a boolean",
      "bad-unix-no-path.conf:12: listeners.list.path: expected a string, got "
      "a list",
      "bad-unix-no-path.conf:14: listeners.long.path: /run/netlabd/"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock is longer than 107 "
      "bytes, the limit of a unix socket path",
      "bad-unix-no-path.conf:16: listeners.ok: duplicate listener name "
      "(first defined at line 6)",
      "bad-unix-no-path.conf:16: listeners.ok: missing path",
      "bad-unix-no-path.conf:17: listeners[8]: missing name",
      "bad-unix-no-path.conf:17: listeners[8]: missing path",
      "bad-unix-no-path.conf:18: listeners.ok2: unix /run/netlabd/ok.sock "
      "is already used by listener ok (line 6)"}},
    {"bad-inet-no-address.conf",
     {"bad-inet-no-address.conf:7: listeners.noaddr: missing address",
      "bad-inet-no-address.conf:8: listeners.noport: missing port",
      "bad-inet-no-address.conf:10: listeners.intaddr.address: expected a "
      "string, got an integer",
      "bad-inet-no-address.conf:12: listeners.emptyaddr.address: must not be "
      "empty",
      "bad-inet-no-address.conf:15: listeners.strport.port: expected an "
      "integer, got a string",
      "bad-inet-no-address.conf:17: listeners.floatport.port: expected an "
      "integer, got a float",
      "bad-inet-no-address.conf:18: listeners.neither: missing address",
      "bad-inet-no-address.conf:18: listeners.neither: missing port",
      "bad-inet-no-address.conf:19: listeners.ok: duplicate listener name "
      "(first defined at line 5)",
      "bad-inet-no-address.conf:19: listeners.ok: missing address",
      "bad-inet-no-address.conf:19: listeners.ok: missing port",
      "bad-inet-no-address.conf:20: listeners[9].name: expected a string, "
      "got an integer",
      "bad-inet-no-address.conf:20: listeners[9]: missing address"}},
    {"bad-transport-type.conf",
     {"bad-transport-type.conf:6: listeners.b.transport: expected a string, "
      "got an integer",
      "bad-transport-type.conf:8: listeners.c.transport: must not be empty",
      "bad-transport-type.conf:10: listeners.d: missing transport",
      "bad-transport-type.conf:13: listeners.f.transport: \"carrier-pigeon\" "
      "is not one of tcp, udp, unix, unix-dgram"}},
    {"bad-missing-handler.conf",
     {"bad-missing-handler.conf:3: listeners.web: missing handler",
      "bad-missing-handler.conf:4: listeners.dgram: missing handler"}},
    {"bad-missing-keys.conf",
     {"bad-missing-keys.conf:3: listeners[0]: missing name",
      "bad-missing-keys.conf:3: listeners[0]: missing address",
      "bad-missing-keys.conf:3: listeners[0]: missing port",
      "bad-missing-keys.conf:3: listeners[0]: missing handler",
      "bad-missing-keys.conf:4: listeners[1]: missing name",
      "bad-missing-keys.conf:4: listeners[1]: missing transport",
      "bad-missing-keys.conf:4: listeners[1]: missing handler"}},
    {"bad-max-workers.conf",
     {"bad-max-workers.conf:5: listeners.less.max_workers: 2 is less than "
      "workers (4)",
      "bad-max-workers.conf:7: listeners.ev.max_workers: only valid for the "
      "prefork and threads models (libev workers serve many sessions each "
      "and do not grow)",
      "bad-max-workers.conf:9: listeners.zero.max_workers: 0 out of range "
      "(1-1024)",
      "bad-max-workers.conf:11: listeners.big.max_workers: 1025 out of range "
      "(1-1024)"}},
    {"bad-model.conf",
     {"bad-model.conf:4: listeners.web.model: \"fork\" is not one of "
      "prefork, threads, libev"}},
    {"bad-transport.conf",
     {"bad-transport.conf:3: listeners.web.transport: \"sctp\" is not one "
      "of tcp, udp, unix, unix-dgram"}},
    {"bad-transport-keys.conf",
     {"bad-transport-keys.conf:4: listeners.sock.address: only valid for "
      "tcp and udp",
      "bad-transport-keys.conf:4: listeners.sock.port: only valid for tcp "
      "and udp",
      "bad-transport-keys.conf:4: listeners.sock.ipv6only: only valid for "
      "tcp and udp",
      "bad-transport-keys.conf:6: listeners.web.path: only valid for unix "
      "and unix-dgram",
      "bad-transport-keys.conf:6: listeners.web.mode: only valid for unix "
      "and unix-dgram"}},
    {"bad-mode.conf",
     {"bad-mode.conf:2: control_mode: \"rw-rw----\" is not an octal mode "
      "(0000-0777)",
      "bad-mode.conf:5: listeners.a.mode: \"0999\" is not an octal mode "
      "(0000-0777)",
      "bad-mode.conf:7: listeners.b.mode: expected a quoted octal string "
      "such as \"0660\", got the integer 660",
      "bad-mode.conf:9: listeners.c.mode: \"01777\" is not an octal mode "
      "(0000-0777)"}},
    {"bad-log-level.conf",
     {"bad-log-level.conf:2: log_level: \"verbose\" is not one of debug, "
      "info, notice, warning, error"}},
    {"bad-option.conf",
     {"bad-option.conf:7: listeners.g.options.list: expected a string, "
      "number or boolean, got an array",
      "bad-option.conf:8: listeners.g.options.nested: expected a string, "
      "number or boolean, got a group",
      "bad-option.conf:9: listeners.g.options.more: expected a string, "
      "number or boolean, got a list"}},
    {"bad-listeners.conf",
     {"bad-listeners.conf:2: listeners: expected a list of groups ( { ... "
      "}, { ... } ), got a group"}},
    {"bad-listener-type.conf",
     {"bad-listener-type.conf:3: listeners[0]: expected a group { name = "
      "...; }, got a string"}},
    {"bad-empty.conf",
     {"bad-empty.conf:2: pidfile: must not be empty",
      "bad-empty.conf:4: listeners[0].name: must not be empty",
      "bad-empty.conf:4: listeners[0].address: must not be empty",
      "bad-empty.conf:4: listeners[0].handler: must not be empty"}},
    {"bad-long-path.conf",
     {"bad-long-path.conf:4: listeners.sock.path: /run/netlabd/"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock is longer than 107 bytes, the "
      "limit of a unix socket path"}},
    {"bad-include.conf", {"bad-include.inc:3: colour: unknown key"}},
    {"bad-include-slash.conf", {"/bad-include.inc:3: colour: unknown key"}},
    {"bad-include-missing.conf",
     {"bad-include-missing.conf:2: cannot open include file"}},
    {"bad-include-folder.conf",
     {"bad-include-folder.conf:4: @include \".\": Is a directory"}},
    {"bad-include-nested.conf",
     {"bad-include-nested.inc:3: @include \"../conf\": Is a directory"}},
    {"bad-include-deep.conf",
     {"bad-include-deep.conf:2: @include \"bad-include-deep.conf\": nested "
      "more than 10 deep"}},
    {"bad-many.conf",
     {"bad-many.conf:2: log_level: \"loud\" is not one of debug, info, "
      "notice, warning, error",
      "bad-many.conf:3: colour: unknown key",
      "bad-many.conf:5: listeners.web.port: 70000 out of range (0-65535)",
      "bad-many.conf:7: listeners.web: duplicate listener name (first "
      "defined at line 5)",
      "bad-many.conf:8: listeners.web.model: \"forking\" is not one of "
      "prefork, threads, libev",
      "bad-many.conf:9: listeners.sock: missing path",
      "bad-many.conf:11: listeners.x.options.a: expected a string, number "
      "or boolean, got an array",
      "bad-many.conf:12: listeners.y: udp 127.0.0.1:80 is already used by "
      "listener x (line 10)",
      "bad-many.conf:15: shutdown_timeout: -5 out of range (0-3600)"}},
};

/* Loads `path` and compares its errors with want[], whose lines each get
 * `prefix` in front. */
static void
expect_errors(const char *path, const char *prefix, const char *const *want)
{
    struct nl_errs errs = {0};
    struct nl_conf *c = nl_conf_load(path, &errs);
    char *line[MAX_LINES];
    size_t n = 0, same = 0, got = errs.n;
    int loaded = c != NULL;

    for (; n < MAX_LINES && want[n] != NULL; n++)
        line[n] = nl_xasprintf("%s%s", prefix, want[n]);
    for (size_t i = 0; i < n && i < errs.n; i++)
        same += strcmp(errs.msg[i], line[i]) == 0;
    /* The whole list, so that a changed fixture is easy to follow. */
    if (loaded || got != n || same != n)
        for (size_t i = 0; i < errs.n; i++)
            print_error("%s: got %s\n", path, errs.msg[i]);
    nl_conf_free(c);
    for (size_t i = 0; i < n && i < errs.n; i++)
        if (strcmp(errs.msg[i], line[i]) != 0)
            print_error("want %s\n", line[i]);
    for (size_t i = 0; i < n; i++)
        free(line[i]);
    nl_errs_clear(&errs);
    assert_false(loaded);
    assert_int_equal(got, n);
    assert_int_equal(same, n);
}

static void
test_bad_files(void **state)
{
    char *dir = conf_dir(), *prefix = nl_xasprintf("%s/", dir);

    (void)state;
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        char *path = fixture(bad_files[i].file);

        expect_errors(path, prefix, bad_files[i].lines);
        free(path);
    }
    free(prefix);
    free(dir);
}

/* FILE in the messages is the path as given, not a normalised one. */
static void
test_path_as_given(void **state)
{
    static const char *const port[] = {
        "bad-port.conf:4: listeners.web.port: 70000 out of range (0-65535)",
        "bad-port.conf:6: listeners.neg.port: -1 out of range (0-65535)", NULL};
    char *dir = conf_dir(), *path, *prefix;

    (void)state;
    path = nl_xasprintf("%s/../conf/bad-port.conf", dir);
    prefix = nl_xasprintf("%s/../conf/", dir);
    expect_errors(path, prefix, port);
    free(prefix);
    free(path);
    free(dir);
}

/* Moves into the fixtures' folder; teardown_chdir() moves back, even when
 * an assertion failed half-way. */
static int
setup_chdir(void **state)
{
    char *dir = conf_dir();

    *state = getcwd(NULL, 0);
    if (*state == NULL || chdir(dir) == -1) {
        free(dir);
        return -1;
    }
    free(dir);
    return 0;
}

static int
teardown_chdir(void **state)
{
    int rc = chdir(*state);

    free(*state);
    return rc;
}

/* A bare file name (no folder) is relative to the working directory, and
 * so are the paths resolved against it; messages name files as given. */
static void
test_bare_file_name(void **state)
{
    static const char *const port[] = {
        "bad-port.conf:4: listeners.web.port: 70000 out of range (0-65535)",
        "bad-port.conf:6: listeners.neg.port: -1 out of range (0-65535)", NULL};
    static const char *const inc[] = {"bad-include.inc:3: colour: unknown key",
                                      NULL};
    struct nl_errs errs = {0};
    struct nl_conf *c;
    char cwd[4096], *want;

    (void)state;
    expect_errors("bad-port.conf", "", port);
    expect_errors("bad-include.conf", "", inc);
    c = nl_conf_load("good-full.conf", &errs);
    assert_non_null(c);
    /* Made absolute, so that they survive the daemon's chdir("/"). */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    want = nl_xasprintf("%s/run/netlabd.pid", cwd);
    assert_string_equal(c->pidfile, want);
    free(want);
    want = nl_xasprintf("%s/plugins/echo.so", cwd);
    assert_string_equal(c->listeners[0].handler_path, want);
    free(want);
    nl_conf_free(c);
    c = nl_conf_load("good-include.conf", &errs);
    assert_non_null(c);
    nl_conf_free(c);
    assert_int_equal(errs.n, 0);
}

/* The lines of top-level keys, for checks made after loading; the
 * default runtime folder is the default pidfile's. */
static void
test_key_lines(void **state)
{
    struct nl_errs errs = {0};
    struct nl_conf *c;
    char *path, *rundir;

    (void)state;
    path = fixture("group-only.conf");
    c = nl_conf_load(path, &errs);
    assert_non_null(c);
    assert_int_equal(errs.n, 0);
    assert_null(c->user);
    assert_string_equal(c->group, "netlabd");
    assert_int_equal(nl_conf_line(c, "group"), 3);
    assert_int_equal(nl_conf_line(c, "user"), 0);
    assert_int_equal(nl_conf_line(c, "pidfile"), 0);
    assert_int_equal(nl_conf_line(c, "no_such_key"), 0);
    rundir = nl_conf_rundir();
    assert_true(strlen(rundir) > 1);
    assert_int_equal(strncmp(c->pidfile, rundir, strlen(rundir)), 0);
    assert_int_equal(c->pidfile[strlen(rundir)], '/');
    assert_int_equal(strncmp(c->control, rundir, strlen(rundir)), 0);
    free(rundir);
    nl_conf_free(c);
    free(path);
}

static void
test_cannot_open(void **state)
{
    struct nl_errs errs = {0};
    char *dir = conf_dir(), *want;

    (void)state;
    assert_null(nl_conf_load("/nonexistent/netlabd.conf", &errs));
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.msg[0],
                        "/nonexistent/netlabd.conf: No such file or directory");
    nl_errs_clear(&errs);

    assert_null(nl_conf_load(dir, &errs));
    assert_int_equal(errs.n, 1);
    want = nl_xasprintf("%s: Is a directory", dir);
    assert_string_equal(errs.msg[0], want);
    free(want);
    nl_errs_clear(&errs);
    free(dir);
}

/* Writes `text` to dir/name; returns the path. */
static char *
write_file(const char *dir, const char *name, const char *text)
{
    char *path = nl_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Loads dir/name, which must fail with the single error want (dir/ in
 * front).  alarm() bounds it: a FIFO that blocked the open, or a device
 * that never ended, would hang here rather than fail. */
static void
expect_one_error(const char *dir, const char *name, const char *want)
{
    struct nl_errs errs = {0};
    char *path = nl_xasprintf("%s/%s", dir, name);
    char *line = nl_xasprintf("%s/%s", dir, want);
    struct nl_conf *c;

    alarm(10);
    c = nl_conf_load(path, &errs);
    alarm(0);
    for (size_t i = 0; i < errs.n; i++)
        if (errs.n != 1 || strcmp(errs.msg[0], line) != 0)
            print_error("%s: got %s\nwant %s\n", name, errs.msg[i], line);
    nl_conf_free(c);
    assert_null(c);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.msg[0], line);
    nl_errs_clear(&errs);
    free(line);
    free(path);
}

/*
 * Files libconfig must never be handed, made here because a distribution
 * tarball cannot hold them: a FIFO (its open would wait for a writer), a
 * device, a file of /proc, a FIFO as the config itself, and a file that
 * pulls in more than NL_CONF_INCLUDE_MAX files in all.  None may hang or
 * end the process.
 */
static void
test_include_special(void **state)
{
    char tmpl[] = "/tmp/test_conf.XXXXXX", *dir, *fifo, *text;
    char *files[8];
    size_t n = 0;

    (void)state;
    assert_non_null(dir = mkdtemp(tmpl));
    fifo = nl_xasprintf("%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);

    files[n++] = write_file(dir, "fifo.conf", "# A FIFO.\n@include \"fifo\"\n");
    expect_one_error(dir, "fifo.conf",
                     "fifo.conf:2: @include \"fifo\": not a regular file");
    /* libconfig puts the config's folder in front of every path. */
    text = nl_xasprintf("@include \"%s/dev/null\"\n", "../../../../../../..");
    files[n++] = write_file(dir, "dev.conf", text);
    free(text);
    expect_one_error(dir, "dev.conf",
                     "dev.conf:1: @include \"../../../../../../../dev/null\": "
                     "not a regular file");
    expect_one_error(dir, "fifo", "fifo: not a regular file");
    /* A file of /proc is regular to stat(), but some block on read
     * (/proc/kmsg); none is a config. */
    text = nl_xasprintf("@include \"%s/proc/self/status\"\n",
                        "../../../../../../..");
    files[n++] = write_file(dir, "proc.conf", text);
    free(text);
    expect_one_error(dir, "proc.conf",
                     "proc.conf:1: @include \"../../../../../../../proc/self/"
                     "status\": a file of /proc or /sys, not a regular file");

    files[n++] = write_file(dir, "empty.inc", "");
    text = nl_xstrdup("");
    for (int i = 0; i <= NL_CONF_INCLUDE_MAX; i++) {
        char *more = nl_xasprintf("%s@include \"empty.inc\"\n", text);

        free(text);
        text = more;
    }
    files[n++] = write_file(dir, "many.conf", text);
    free(text);
    text = nl_xasprintf("many.conf:%d: @include \"empty.inc\": more than %d "
                        "files included in all",
                        NL_CONF_INCLUDE_MAX + 1, NL_CONF_INCLUDE_MAX);
    expect_one_error(dir, "many.conf", text);
    free(text);

    for (size_t i = 0; i < n; i++) {
        unlink(files[i]);
        free(files[i]);
    }
    unlink(fifo);
    free(fifo);
    rmdir(dir);
}

/* Errors are appended: lines already in the list stay. */
static void
test_errors_appended(void **state)
{
    struct nl_errs errs = {0};
    char *path = fixture("bad-log-level.conf");

    (void)state;
    nl_errs_add(&errs, "earlier");
    assert_null(nl_conf_load(path, &errs));
    assert_int_equal(errs.n, 2);
    assert_string_equal(errs.msg[0], "earlier");
    nl_errs_clear(&errs);
    free(path);
}

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(nl_transport_name(NL_TRANSPORT_TCP), "tcp");
    assert_string_equal(nl_transport_name(NL_TRANSPORT_UDP), "udp");
    assert_string_equal(nl_transport_name(NL_TRANSPORT_UNIX), "unix");
    assert_string_equal(nl_transport_name(NL_TRANSPORT_UNIX_DGRAM),
                        "unix-dgram");
    assert_string_equal(nl_model_name(NL_MODEL_PREFORK), "prefork");
    assert_string_equal(nl_model_name(NL_MODEL_THREADS), "threads");
    assert_string_equal(nl_model_name(NL_MODEL_LIBEV), "libev");
    assert_false(nl_transport_is_dgram(NL_TRANSPORT_TCP));
    assert_true(nl_transport_is_dgram(NL_TRANSPORT_UDP));
    assert_false(nl_transport_is_dgram(NL_TRANSPORT_UNIX));
    assert_true(nl_transport_is_dgram(NL_TRANSPORT_UNIX_DGRAM));
    assert_false(nl_transport_is_unix(NL_TRANSPORT_TCP));
    assert_false(nl_transport_is_unix(NL_TRANSPORT_UDP));
    assert_true(nl_transport_is_unix(NL_TRANSPORT_UNIX));
    assert_true(nl_transport_is_unix(NL_TRANSPORT_UNIX_DGRAM));
    /* A value no transport or model has. */
    assert_string_equal(nl_transport_name(NL_TRANSPORT_KINDS), "?");
    assert_string_equal(nl_model_name(NL_MODEL_KINDS), "?");
    assert_false(nl_transport_is_dgram(NL_TRANSPORT_KINDS));
    assert_false(nl_transport_is_unix((enum nl_transport_kind)-1));
}

/* From a socket's family and type to its transport (socket activation). */
static void
test_transport_find(void **state)
{
    (void)state;
    assert_int_equal(nl_transport_find(0, 0), NL_TRANSPORT_TCP);
    assert_int_equal(nl_transport_find(0, 1), NL_TRANSPORT_UDP);
    assert_int_equal(nl_transport_find(1, 0), NL_TRANSPORT_UNIX);
    assert_int_equal(nl_transport_find(1, 1), NL_TRANSPORT_UNIX_DGRAM);
    for (int t = 0; t < NL_TRANSPORT_KINDS; t++)
        assert_int_equal(nl_transport_find(nl_transport_is_unix(t),
                                           nl_transport_is_dgram(t)),
                         t);
    /* And from a name, as the config spells it. */
    for (int t = 0; t < NL_TRANSPORT_KINDS; t++)
        assert_int_equal(nl_transport_lookup(nl_transport_name(t)), t);
    assert_int_equal(nl_transport_lookup("sctp"), -1);
    assert_int_equal(nl_transport_lookup("TCP"), -1);
}

/* Each model's default workers, and the processes a listener needs. */
static void
test_models(void **state)
{
    struct nl_listener_conf lc = {.workers = 6};

    (void)state;
    assert_int_equal(nl_model_default_workers(NL_MODEL_PREFORK),
                     NL_DEFAULT_WORKERS_PREFORK);
    assert_int_equal(nl_model_default_workers(NL_MODEL_THREADS),
                     NL_DEFAULT_WORKERS_THREADS);
    assert_int_equal(nl_model_default_workers(NL_MODEL_LIBEV),
                     NL_DEFAULT_WORKERS_LIBEV);
    lc.max_workers = 9;
    lc.model = NL_MODEL_PREFORK; /* one process per worker */
    assert_int_equal(nl_model_procs(&lc), 6);
    assert_int_equal(nl_model_max_procs(&lc), 9);
    lc.transport = NL_TRANSPORT_UDP; /* datagrams: no growth */
    assert_int_equal(nl_model_max_procs(&lc), 6);
    lc.transport = NL_TRANSPORT_TCP;
    assert_true(nl_model_grows(lc.model));
    assert_true(nl_model_worker_procs(lc.model));
    lc.model = NL_MODEL_THREADS;
    assert_int_equal(nl_model_procs(&lc), 1);
    assert_int_equal(nl_model_max_procs(&lc), 1);
    assert_true(nl_model_grows(lc.model));
    assert_false(nl_model_worker_procs(lc.model));
    lc.model = NL_MODEL_LIBEV;
    assert_int_equal(nl_model_procs(&lc), 1);
    assert_int_equal(nl_model_max_procs(&lc), 1);
    assert_false(nl_model_grows(lc.model));
    assert_false(nl_model_worker_procs(lc.model));
    assert_false(nl_model_grows((enum nl_model_kind)99));
}

static void
test_listener_address(void **state)
{
    struct nl_listener_conf lc;
    char buf[64], small[8];

    (void)state;
    memset(&lc, 0, sizeof(lc));
    lc.transport = NL_TRANSPORT_TCP;
    lc.address = "127.0.0.1";
    lc.port = 7001;
    assert_string_equal(nl_listener_address(&lc, buf, sizeof(buf)),
                        "127.0.0.1:7001");
    assert_string_equal(nl_listener_address(&lc, small, sizeof(small)),
                        "127.0.0");
    lc.transport = NL_TRANSPORT_UDP;
    lc.address = "::1";
    assert_string_equal(nl_listener_address(&lc, buf, sizeof(buf)),
                        "[::1]:7001");
    lc.address = "localhost";
    assert_string_equal(nl_listener_address(&lc, buf, sizeof(buf)),
                        "localhost:7001");
    lc.transport = NL_TRANSPORT_UNIX_DGRAM;
    lc.address = NULL;
    lc.path = "/run/netlabd/log.sock";
    assert_string_equal(nl_listener_address(&lc, buf, sizeof(buf)),
                        "/run/netlabd/log.sock");
}

static void
test_free_null(void **state)
{
    (void)state;
    nl_conf_free(NULL);
}

#define LOADED(test, file)                                                     \
    cmocka_unit_test_prestate_setup_teardown(test, setup, teardown,            \
                                             (void *)(file))

int
main(void)
{
    const struct CMUnitTest tests[] = {
        LOADED(test_nothing, "good-nothing.conf"),
        LOADED(test_listener_defaults, "good-defaults.conf"),
        LOADED(test_pools, "good-pools.conf"),
        LOADED(test_access, "good-access.conf"),
        LOADED(test_full_top, "good-full.conf"),
        LOADED(test_full_inet, "good-full.conf"),
        LOADED(test_full_unix, "good-full.conf"),
        LOADED(test_full_options, "good-full.conf"),
        LOADED(test_empty_listeners, "good-empty.conf"),
        LOADED(test_include, "good-include.conf"),
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_path_as_given),
        cmocka_unit_test_setup_teardown(test_bare_file_name, setup_chdir,
                                        teardown_chdir),
        cmocka_unit_test(test_key_lines),
        cmocka_unit_test(test_cannot_open),
        cmocka_unit_test(test_include_special),
        cmocka_unit_test(test_errors_appended),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_transport_find),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_listener_address),
        cmocka_unit_test(test_free_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
