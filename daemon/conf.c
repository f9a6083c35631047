/*
 * conf.c - turns netlabd.conf into a checked struct nl_conf.  It owns the
 * list of keys (the table below: name, type, where it may appear, range,
 * default and a line of documentation) and the walk through the file:
 * every top-level key and every listener read in order, missing keys
 * reported, defaults filled in, handler paths derived.  Every mistake
 * becomes one line "FILE:LINE: key: what is wrong" in the caller's
 * nl_errs; checking goes on after an error so that one run reports them
 * all.  The checks on one value are in conf_value.c, those between
 * listeners in conf_listener.c, the @include pre-check in conf_include.c.
 *
 * It does not open sockets, resolve host names, look users up or load
 * handlers: those checks need the system and belong to transport*.c,
 * serve.c and plugins.c.  Nor does it judge whether a model is available;
 * it only knows the names, from the tables of conf_kinds.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "conf.h"
#include "conf_include.h"
#include "conf_int.h"
#include "errs.h"
#include "log.h"
#include "paths.h"
#include "util.h"

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
 * or backlog is also applied to the socket a listener keeps (reload.c).
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
};
/* clang-format on */

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

const struct key *const nl_conf_keys = keys;
const size_t nl_conf_nkeys = NKEYS;

/* One listener being read. */
struct lparse {
    struct parse *p;
    struct nl_listener_conf *lc;
    size_t index;
    char *label;   /* "listeners.NAME", or "listeners[INDEX]" without a name */
    int transport; /* known before the members are read; -1 if unknown */
    unsigned char seen[NKEYS];
};

static const struct key *
find_key(const char *name, unsigned scope)
{
    for (size_t i = 0; i < NKEYS; i++)
        if ((keys[i].flags & scope) && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

int
nl_conf_key_applies(const struct key *k, int t)
{
    if (t < 0)
        return 1;
    if (k->flags & KF_INET)
        return !nl_transport_is_unix((enum nl_transport_kind)t);
    if (k->flags & KF_UNIX)
        return nl_transport_is_unix((enum nl_transport_kind)t);
    return 1;
}

/*
 * The name and transport, looked at quietly before the members are read in
 * order: the name labels every message, and the transport says which keys
 * apply.  Bad values are reported when their turn comes.
 */
static void
peek(struct lparse *lp, const config_setting_t *g)
{
    const config_setting_t *m;
    const char *v;

    lp->transport = -1;
    m = config_setting_get_member(g, "transport");
    if (m != NULL && config_setting_type(m) == CONFIG_TYPE_STRING)
        lp->transport = nl_transport_lookup(config_setting_get_string(m));
    m = config_setting_get_member(g, "name");
    if (m != NULL && config_setting_type(m) == CONFIG_TYPE_STRING &&
        (v = config_setting_get_string(m))[0] != '\0')
        lp->label = nl_xasprintf("listeners.%s", v);
    else
        lp->label = nl_xasprintf("listeners[%zu]", lp->index);
}

static void
read_members(struct lparse *lp, const config_setting_t *g)
{
    struct parse *p = lp->p;
    int n = config_setting_length(g);

    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(m);
        const struct key *k = find_key(name, KF_LISTENER);

        if (k == NULL) {
            nl_conf_error(p, m, lp->label, name, "unknown key");
            continue;
        }
        lp->seen[k - keys] = 1;
        if (!nl_conf_key_applies(k, lp->transport)) {
            nl_conf_error(p, m, lp->label, name, "only valid for %s",
                          (k->flags & KF_INET) ? "tcp and udp"
                                               : "unix and unix-dgram");
            continue;
        }
        if (nl_conf_set_value(p, k, m, lp->label, lp->lc) == -1)
            continue;
        if (strcmp(name, "name") == 0) {
            p->src[lp->index].name = m;
            nl_conf_check_name(p, lp->index, lp->label);
        } else if (strcmp(name, "port") == 0 || strcmp(name, "path") == 0)
            p->src[lp->index].addr = m;
    }
}

/* Reports missing keys and fills in defaults for the keys not given. */
static void
fill_listener(struct lparse *lp, const config_setting_t *g)
{
    struct nl_listener_conf *lc = lp->lc;

    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];

        if (!(k->flags & KF_LISTENER) || lp->seen[i])
            continue;
        if (k->flags & KF_REQUIRED) {
            /* Without a known transport, address/port and path cannot be
             * asked for: the transport's own error says enough. */
            if ((lp->transport >= 0 || !(k->flags & (KF_INET | KF_UNIX))) &&
                nl_conf_key_applies(k, lp->transport))
                nl_conf_error(lp->p, g, NULL, lp->label, "missing %s", k->name);
            continue;
        }
        /* model comes before workers in keys[], so lc->model is final. */
        if (k->flags & KF_BY_MODEL)
            *(int *)((char *)lc + k->off) = nl_model_default_workers(lc->model);
        else if (nl_conf_key_applies(k, lp->transport))
            nl_conf_set_default(k, lc);
    }
    if (lc->options == NULL)
        lc->options_line = lc->line;
}

static void
parse_listener(struct parse *p, const config_setting_t *g, size_t i)
{
    struct lparse lp;

    memset(&lp, 0, sizeof(lp));
    lp.p = p;
    lp.lc = &p->conf->listeners[i];
    lp.index = i;
    lp.lc->line = nl_conf_line_of(g);
    if (!config_setting_is_group(g)) {
        char label[32];

        snprintf(label, sizeof(label), "listeners[%zu]", i);
        nl_conf_error(p, g, NULL, label,
                      "expected a group { name = ...; }, got %s",
                      nl_conf_type_name(g));
        return;
    }
    peek(&lp, g);
    read_members(&lp, g);
    fill_listener(&lp, g);
    /* An address takes part in the duplicate check only when it is whole:
     * a known transport (peek() found it valid, so it was set), a valid
     * port or path (src.addr, set when it was stored), and for tcp and udp
     * an address besides the port.  A unix listener whose path is missing,
     * empty or not a string has none, and must not be compared. */
    if (lp.transport < 0 || p->src[i].addr == NULL ||
        (nl_transport_is_unix(lp.lc->transport) ? lp.lc->path == NULL
                                                : lp.lc->address == NULL))
        p->src[i].addr = NULL;
    else
        nl_conf_check_address(p, i, lp.label);
    free(lp.label);
}

void
nl_conf_parse_listeners(struct parse *p, const config_setting_t *s)
{
    size_t n;

    if (!config_setting_is_list(s) && !config_setting_is_array(s)) {
        nl_conf_error(p, s, NULL, "listeners",
                      "expected a list of groups ( { ... }, { ... } ), got %s",
                      nl_conf_type_name(s));
        return;
    }
    n = (size_t)config_setting_length(s);
    p->conf->listeners = nl_xcalloc(n, sizeof(*p->conf->listeners));
    p->conf->nlisteners = n;
    p->src = nl_xcalloc(n, sizeof(*p->src));
    for (size_t i = 0; i < n; i++)
        parse_listener(p, config_setting_get_elem(s, (unsigned)i), i);
}

static void
parse_top(struct parse *p, const config_setting_t *root)
{
    unsigned char seen[NKEYS] = {0};
    int n = config_setting_length(root);

    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(root, (unsigned)i);
        const struct key *k = find_key(config_setting_name(m), KF_TOP);

        if (k == NULL) {
            nl_conf_error(p, m, NULL, config_setting_name(m), "unknown key");
            continue;
        }
        seen[k - keys] = 1;
        p->conf->top_lines[k - keys] = nl_conf_line_of(m);
        (void)nl_conf_set_value(p, k, m, NULL, p->conf); /* reported if bad */
    }
    for (size_t i = 0; i < NKEYS; i++)
        if ((keys[i].flags & KF_TOP) && !seen[i])
            nl_conf_set_default(&keys[i], p->conf);
    /* A group without a user is judged by privs.c, which knows whether a
     * default account applies. */
}

/* Derives handler_path once plugin_dir is known, wherever it was set. */
static void
resolve_handlers(struct parse *p)
{
    struct nl_conf *conf = p->conf;

    for (size_t i = 0; i < conf->nlisteners; i++) {
        struct nl_listener_conf *lc = &conf->listeners[i];

        if (lc->handler == NULL)
            continue;
        if (strchr(lc->handler, '/') != NULL)
            lc->handler_path = nl_path_resolve(p->file, lc->handler);
        else
            lc->handler_path =
                nl_xasprintf("%s/%s.so", conf->plugin_dir, lc->handler);
        /* What the file was when read: a rebuilt handler is a change. */
        if (stat(lc->handler_path, &lc->handler_stat) == -1)
            memset(&lc->handler_stat, 0, sizeof(lc->handler_stat));
    }
}

/*
 * Opens the file, or reports why not.  It must be a regular file: a
 * folder opens fine with fopen() and only fails on read, in libconfig's
 * scanner, which then calls exit(); a FIFO would hold the open, and a
 * reload with it, until a writer came.
 */
static FILE *
open_conf(const char *file, struct nl_errs *errs)
{
    const char *why;
    FILE *fp;
    int fd;

    if ((fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) == -1) {
        nl_errs_add(errs, "%s: %s", file, strerror(errno));
        return NULL;
    }
    if ((why = nl_conf_file_refusal(fd)) != NULL) {
        nl_errs_add(errs, "%s: %s", file, why);
        close(fd);
        return NULL;
    }
    if ((fp = fdopen(fd, "r")) == NULL)
        nl_oom();
    return fp;
}

static void
syntax_error(struct parse *p, const config_t *cf)
{
    const char *ef = config_error_file(cf);
    char *file =
        ef != NULL ? nl_conf_message_path(p->file, ef) : nl_xstrdup(p->file);

    nl_errs_add(p->errs, "%s:%d: %s", file, config_error_line(cf),
                config_error_text(cf));
    free(file);
    p->nerrs++;
}

struct nl_conf *
nl_conf_load(const char *file, struct nl_errs *errs)
{
    struct parse p;
    config_t cf;
    int included_ok;
    char *dir;
    FILE *fp;

    if ((fp = open_conf(file, errs)) == NULL)
        return NULL;
    memset(&p, 0, sizeof(p));
    p.file = file;
    p.errs = errs;
    p.conf = nl_xcalloc(1, sizeof(*p.conf));
    p.conf->file = nl_xstrdup(file);
    p.conf->top_lines = nl_xcalloc(NKEYS, sizeof(*p.conf->top_lines));

    config_init(&cf);
    /*
     * Without an include folder libconfig opens @include paths relative to
     * the working directory, which changes when netlabd daemonizes; with
     * one, like every other relative path here, they follow the config.
     * XXX: libconfig 1.5 then prefixes absolute @include paths too, so
     * those cannot be used.
     */
    dir = nl_path_dir(file);
    config_set_include_dir(&cf, dir);
    /* libconfig would end the process on an @include it cannot read, so
     * the included files are checked first (conf_include.c). */
    included_ok = nl_conf_check_includes(file, fp, dir, errs) == 0;
    rewind(fp);
    /* config_read() rather than config_read_file(): it leaves the file of
     * the top-level settings NULL, which nl_conf_file_of() turns into `file`.
     */
    if (!included_ok) {
        p.nerrs++;
    } else if (config_read(&cf, fp) == CONFIG_FALSE) {
        syntax_error(&p, &cf);
    } else {
        parse_top(&p, config_root_setting(&cf));
        resolve_handlers(&p);
    }
    config_destroy(&cf);
    fclose(fp);
    free(dir);
    free(p.src);
    if (p.nerrs > 0) {
        nl_conf_free(p.conf);
        return NULL;
    }
    return p.conf;
}

/* Frees the strings the keys of `scope` hold in the struct at base. */
static void
free_strings(unsigned scope, void *base)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];

        if ((k->flags & scope) &&
            (k->type == KT_STRING || k->type == KT_PATH ||
             k->type == KT_LOG_TARGET || k->type == KT_HANDLER))
            free(*(char **)((char *)base + k->off));
    }
}

static void
free_listener(struct nl_listener_conf *lc)
{
    free_strings(KF_LISTENER, lc);
    free(lc->handler_path);
    for (size_t i = 0; i < lc->noptions; i++) {
        free(lc->options[i].key);
        free(lc->options[i].value);
    }
    free(lc->options);
}

void
nl_conf_free(struct nl_conf *conf)
{
    if (conf == NULL)
        return;
    for (size_t i = 0; i < conf->nlisteners; i++)
        free_listener(&conf->listeners[i]);
    free(conf->listeners);
    free_strings(KF_TOP, conf);
    free(conf->file);
    free(conf->top_lines);
    free(conf);
}

int
nl_conf_line(const struct nl_conf *conf, const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if ((keys[i].flags & KF_TOP) && strcmp(keys[i].name, key) == 0)
            return conf->top_lines != NULL ? conf->top_lines[i] : 0;
    return 0;
}

void
nl_conf_report(const struct nl_conf *conf, struct nl_errs *errs, int line,
               const char *fmt, ...)
{
    char *msg;
    va_list ap;

    va_start(ap, fmt);
    msg = nl_xvasprintf(fmt, ap);
    va_end(ap);
    if (line > 0)
        nl_errs_add(errs, "%s:%d: %s", conf->file, line, msg);
    else
        nl_errs_add(errs, "%s: %s", conf->file, msg);
    free(msg);
}

char *
nl_conf_rundir(void)
{
    const char *pidfile = NL_DEFAULT_PIDFILE;
    const char *slash = strrchr(pidfile, '/');

    if (slash == NULL || slash == pidfile)
        return nl_xstrdup("/");
    return nl_xasprintf("%.*s", (int)(slash - pidfile), pidfile);
}
