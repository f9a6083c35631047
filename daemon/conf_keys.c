/*
 * conf_keys.c - every key netlabd.conf knows, in one table: its name, type,
 * where it may appear, range, default, how a reload treats a change of it
 * and a line of documentation.  conf.c walks a file by this table,
 * conf_value.c reads a value by its type, conf_listener.c compares
 * configurations by its reload class; test_conf_keys holds the table
 * against etc/netlabd.conf.in and netlabd.conf(5).  It calls no other
 * module of the configuration, so that all of them can read it.
 */
#include "config.h"

#include <stddef.h>

#include "conf.h"
#include "conf_int.h"
#include "log.h"
#include "paths.h"

#define NL_DEFAULT_LOG_TARGET "stderr"

#define TOP(field) offsetof(struct nl_conf, field)
#define LST(field) offsetof(struct nl_listener_conf, field)

/*
 * Every key netlabd knows.  etc/netlabd.conf and netlabd.conf(5) describe
 * the same keys with the same defaults and ranges, and what a reload does
 * with a change: change them together (test_conf_keys checks that each
 * key is in both).  A set_off of 0 means "no flag", which works because
 * offset 0 holds the file name in nl_conf and the name in
 * nl_listener_conf, never a flag.
 *
 * `change` is what a reload does when the key's value changes
 * (conf_listener.c compares by it).  plugin_dir is not compared on its
 * own: a reload sees it in each listener's handler file.  A changed mode
 * or backlog is also applied to the socket a listener keeps
 * (reload_apply.c).
 * clang-format would put every field on a line of its own; two or three
 * lines per key read better.
 */
/* clang-format off */
static const struct key keys[] = {
    {.name = "log_target", .type = KT_LOG_TARGET, .flags = KF_TOP | KF_KEEP,
     .off = TOP(log_target), .set_off = TOP(log_target_set),
     .sdef = NL_DEFAULT_LOG_TARGET, .change = NL_CHANGE_RESPAWN,
     .doc = "\"stderr\", \"syslog\" or a file; unset lets netlabd choose"},
    {.name = "log_level", .type = KT_LOG_LEVEL, .flags = KF_TOP,
     .off = TOP(log_level), .def = NL_LOG_INFO, .change = NL_CHANGE_RESPAWN,
     .doc = "least severe level logged: debug, info, notice, warning, error"},
    {.name = "pidfile", .type = KT_PATH, .flags = KF_TOP,
     .off = TOP(pidfile), .sdef = NL_DEFAULT_PIDFILE,
     .change = NL_CHANGE_RESTART,
     .doc = "file holding the master's process id"},
    {.name = "control", .type = KT_PATH, .flags = KF_TOP | KF_SOCKET,
     .off = TOP(control), .sdef = NL_DEFAULT_CONTROL,
     .change = NL_CHANGE_RESTART,
     .doc = "path of the control socket"},
    {.name = "control_mode", .type = KT_MODE, .flags = KF_TOP,
     .off = TOP(control_mode), .max = 0777, .def = NL_DEFAULT_CONTROL_MODE,
     .change = NL_CHANGE_RESTART,
     .doc = "permissions of the control socket, an octal string"},
    {.name = "plugin_dir", .type = KT_PATH, .flags = KF_TOP,
     .off = TOP(plugin_dir), .sdef = PKGLIBDIR, .change = NL_CHANGE_NONE,
     .doc = "folder where a bare handler name NAME is found as NAME.so"},
    {.name = "user", .type = KT_STRING, .flags = KF_TOP, .off = TOP(user),
     .change = NL_CHANGE_RESPAWN,
     .doc = "user the serving processes run as; unset keeps the user"},
    {.name = "group", .type = KT_STRING, .flags = KF_TOP, .off = TOP(group),
     .change = NL_CHANGE_RESPAWN,
     .doc = "group the serving processes run as; default: the user's"},
    {.name = "control_group", .type = KT_GROUP, .flags = KF_TOP,
     .off = TOP(control_group), .change = NL_CHANGE_RESTART,
     .doc = "group owner of the control socket; unset: the master's group"},
    {.name = "control_admin_group", .type = KT_GROUP, .flags = KF_TOP,
     .off = TOP(control_admin_group), .change = NL_CHANGE_LIVE,
     .doc = "its members may reload, stop and log-reopen, as root may"},
    {.name = "metrics_listen", .type = KT_HOSTPORT, .flags = KF_TOP,
     .off = TOP(metrics_listen), .change = NL_CHANGE_RESTART,
     .doc = "HOST:PORT where the master answers GET /metrics; unset: none"},
    {.name = "shutdown_timeout", .type = KT_INT, .flags = KF_TOP,
     .off = TOP(shutdown_timeout), .min = 0, .max = 3600,
     .def = NL_DEFAULT_SHUTDOWN_TIMEOUT, .change = NL_CHANGE_RESPAWN,
     .doc = "seconds open sessions may take to finish on stop or reload"},
    {.name = "listeners", .type = KT_LISTENERS, .flags = KF_TOP,
     .change = NL_CHANGE_NONE, /* listener by listener, by the keys below */
     .doc = "a list of listener groups; may be empty"},

    {.name = "name", .type = KT_STRING, .flags = KF_LISTENER | KF_REQUIRED,
     .off = LST(name), .change = NL_CHANGE_RESPAWN,
     .doc = "unique name, used in logs and status"},
    {.name = "transport", .type = KT_TRANSPORT,
     .flags = KF_LISTENER | KF_REQUIRED, .off = LST(transport),
     .change = NL_CHANGE_ADDRESS,
     .doc = "tcp, udp, unix or unix-dgram"},
    {.name = "address", .type = KT_STRING,
     .flags = KF_LISTENER | KF_REQUIRED | KF_INET, .off = LST(address),
     .change = NL_CHANGE_ADDRESS,
     .doc = "IPv4 or IPv6 literal or host name to bind"},
    {.name = "port", .type = KT_INT,
     .flags = KF_LISTENER | KF_REQUIRED | KF_INET, .off = LST(port),
     .min = 0, .max = 65535, .change = NL_CHANGE_ADDRESS,
     .doc = "port to bind; 0 picks a free one"},
    {.name = "ipv6only", .type = KT_BOOL, .flags = KF_LISTENER | KF_INET,
     .off = LST(ipv6only), .def = 0, .change = NL_CHANGE_ADDRESS,
     .doc = "true: an IPv6 address does not accept IPv4 too"},
    {.name = "path", .type = KT_PATH,
     .flags = KF_LISTENER | KF_REQUIRED | KF_UNIX | KF_SOCKET,
     .off = LST(path), .change = NL_CHANGE_ADDRESS,
     .doc = "path of the socket file"},
    {.name = "mode", .type = KT_MODE, .flags = KF_LISTENER | KF_UNIX,
     .off = LST(mode), .set_off = LST(mode_set), .max = 0777,
     .change = NL_CHANGE_RESPAWN,
     .doc = "permissions of the socket file; unset follows the umask"},
    {.name = "model", .type = KT_MODEL, .flags = KF_LISTENER,
     .off = LST(model), .def = NL_MODEL_LIBEV, .change = NL_CHANGE_RESPAWN,
     .doc = "prefork, threads or libev"},
    {.name = "workers", .type = KT_INT, .flags = KF_LISTENER | KF_BY_MODEL,
     .off = LST(workers), .min = 1, .max = 1024, .change = NL_CHANGE_RESPAWN,
     .doc = "processes (prefork), threads (threads) or event loops (libev)"},
    /* After workers: conf.c checks it against workers, and defaults it. */
    {.name = "max_workers", .type = KT_INT, .flags = KF_LISTENER,
     .off = LST(max_workers), .min = 1, .max = 1024,
     .def = NL_DEFAULT_MAX_WORKERS, .change = NL_CHANGE_RESPAWN,
     .doc = "prefork, threads: the most workers the pool grows to"},
    {.name = "handler", .type = KT_HANDLER,
     .flags = KF_LISTENER | KF_REQUIRED, .off = LST(handler),
     .change = NL_CHANGE_RESPAWN, /* compared as the file it names */
     .doc = "bare name looked up in plugin_dir, or a path to a .so"},
    {.name = "options", .type = KT_OPTIONS, .flags = KF_LISTENER,
     .change = NL_CHANGE_RESPAWN,
     .doc = "a group of scalars handed to the handler's init()"},
    {.name = "max_connections", .type = KT_INT, .flags = KF_LISTENER,
     .off = LST(max_connections), .min = 1, .max = 1000000,
     .def = NL_DEFAULT_MAX_CONNECTIONS, .change = NL_CHANGE_RESPAWN,
     .doc = "open sessions past which a new connection is closed at once"},
    {.name = "idle_timeout", .type = KT_INT, .flags = KF_LISTENER,
     .off = LST(idle_timeout), .min = 0, .max = 86400,
     .def = NL_DEFAULT_IDLE_TIMEOUT, .change = NL_CHANGE_RESPAWN,
     .doc = "seconds without traffic before a session is closed; 0: never"},
    {.name = "max_line", .type = KT_INT, .flags = KF_LISTENER,
     .off = LST(max_line), .min = 1, .max = NL_MAX_LINE_MAX,
     .def = NL_DEFAULT_MAX_LINE, .change = NL_CHANGE_RESPAWN,
     .doc = "longest line, in bytes, a line handler accepts"},
    {.name = "backlog", .type = KT_INT, .flags = KF_LISTENER,
     .off = LST(backlog), .min = 1, .max = 65535, .def = NL_DEFAULT_BACKLOG,
     .change = NL_CHANGE_RESPAWN,
     .doc = "queue of connections not yet accepted (listen(2))"},
    {.name = "allow", .type = KT_RULES, .flags = KF_LISTENER,
     .off = LST(allow), .change = NL_CHANGE_RESPAWN,
     .doc = "sources served: addresses, CIDRs (tcp, udp); user:, group:, "
            "uid:, gid: (unix)"},
    {.name = "deny", .type = KT_RULES, .flags = KF_LISTENER,
     .off = LST(deny), .change = NL_CHANGE_RESPAWN,
     .doc = "sources refused, whatever allow says; the same forms"},
    {.name = "max_connections_per_source", .type = KT_INT,
     .flags = KF_LISTENER | KF_STREAM,
     .off = LST(max_connections_per_source), .min = 0, .max = 1000000,
     .def = 0, .change = NL_CHANGE_RESPAWN,
     .doc = "open sessions one client address (unix: uid) may have; 0: any"},
    {.name = "max_connection_rate_per_source", .type = KT_INT,
     .flags = KF_LISTENER, .off = LST(max_connection_rate_per_source),
     .min = 0, .max = 1000000, .def = 0, .change = NL_CHANGE_RESPAWN,
     .doc = "new sessions (datagrams) a second from one source; 0: any"},
    {.name = "access_log", .type = KT_BOOL, .flags = KF_LISTENER,
     .off = LST(access_log), .def = 0, .change = NL_CHANGE_RESPAWN,
     .doc = "true: one log line per session when it ends"},
    {.name = "proxy_protocol", .type = KT_BOOL,
     .flags = KF_LISTENER | KF_STREAM, .off = LST(proxy_protocol), .def = 0,
     .change = NL_CHANGE_RESPAWN,
     .doc = "true: read a PROXY header (v1 or v2) before the session opens, "
            "and serve the client it names"},
};
/* clang-format on */

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

_Static_assert(NKEYS <= NL_CONF_MAX_KEYS, "raise NL_CONF_MAX_KEYS");

const struct key *const nl_conf_keys = keys;
const size_t nl_conf_nkeys = NKEYS;


int
nl_conf_key_applies(const struct key *k, int t)
{
    if (t < 0)
        return 1;
    if (k->flags & KF_INET)
        return !nl_transport_is_unix((enum nl_transport_kind)t);
    if (k->flags & KF_UNIX)
        return nl_transport_is_unix((enum nl_transport_kind)t);
    if (k->flags & KF_STREAM)
        return !nl_transport_is_dgram((enum nl_transport_kind)t);
    return 1;
}
