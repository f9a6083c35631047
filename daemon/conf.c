/*
 * conf.c - turns netlabd.conf into a checked struct nl_conf.  It owns the
 * list of keys (the table below: name, type, where it may appear, range,
 * default and a line of documentation), the checks on every value, the
 * defaults, the resolution of relative paths against the config file's
 * folder, and the checks that need more than one listener (duplicate names,
 * two listeners on one address).  Every mistake becomes one line
 * "FILE:LINE: key: what is wrong" in the caller's nl_errs; checking goes on
 * after an error so that one run reports them all.
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
#include <sys/un.h>
#include <unistd.h>

#include <libconfig.h>

#include "conf.h"
#include "conf_include.h"
#include "errs.h"
#include "log.h"
#include "paths.h"
#include "util.h"

#define NL_DEFAULT_LOG_TARGET "stderr"

/* What a key's value must be, and how it is stored. */
enum key_type {
    KT_STRING,     /* non-empty string, kept as written (char *) */
    KT_PATH,       /* non-empty string, resolved (char *) */
    KT_LOG_TARGET, /* "stderr", "syslog", or a path resolved (char *) */
    KT_LOG_LEVEL,  /* a level name (int, enum nl_log_level) */
    KT_MODE,       /* an octal string "0000" to "0777" (mode_t) */
    KT_INT,        /* an integer within [min, max] (int) */
    KT_BOOL,       /* true or false (int) */
    KT_TRANSPORT,  /* a transport name (enum nl_transport_kind) */
    KT_MODEL,      /* a model name (enum nl_model_kind) */
    KT_HANDLER,    /* bare name or path; handler_path is derived later */
    KT_OPTIONS,    /* a group of scalars handed to the handler */
    KT_LISTENERS   /* a list of listener groups */
};

#define KF_TOP      0x01 /* a top-level key */
#define KF_LISTENER 0x02 /* a key of a listener group */
#define KF_REQUIRED 0x04 /* no default: must be given where it applies */
#define KF_INET     0x08 /* applies to tcp and udp only */
#define KF_UNIX     0x10 /* applies to unix and unix-dgram only */
#define KF_SOCKET   0x20 /* a unix socket path: sun_path limits its length */
#define KF_BY_MODEL 0x40 /* the default depends on the listener's model */

struct key {
    const char *name; /* as in the file, and the field it fills */
    enum key_type type;
    unsigned flags;
    size_t off;     /* of the field in nl_conf or nl_listener_conf */
    size_t set_off; /* of a flag set to 1 when given; 0 for none */
    long long min, max;
    long long def;    /* default of a number, mode, level, bool or model */
    const char *sdef; /* default of a string; NULL leaves the field NULL */
    const char *doc;
};

#define TOP(field) offsetof(struct nl_conf, field)
#define LST(field) offsetof(struct nl_listener_conf, field)

/*
 * Every key netlabd knows.  etc/netlabd.conf and netlabd.conf(5) describe
 * the same keys with the same defaults and ranges: change them together.
 * A set_off of 0 means "no flag", which works because offset 0 holds the
 * file name in nl_conf and the name in nl_listener_conf, never a flag.
 * clang-format would put every field on a line of its own; two or three
 * lines per key read better.
 */
/* clang-format off */
static const struct key keys[] = {
    {.name = "log_target", .type = KT_LOG_TARGET, .flags = KF_TOP,
     .off = TOP(log_target), .set_off = TOP(log_target_set),
     .sdef = NL_DEFAULT_LOG_TARGET,
     .doc = "\"stderr\", \"syslog\" or a file; unset lets netlabd choose"},
    {.name = "log_level", .type = KT_LOG_LEVEL, .flags = KF_TOP,
     .off = TOP(log_level), .def = NL_LOG_INFO,
     .doc = "least severe level logged: debug, info, notice, warning, error"},
    {.name = "pidfile", .type = KT_PATH, .flags = KF_TOP,
     .off = TOP(pidfile), .sdef = NL_DEFAULT_PIDFILE,
     .doc = "file holding the master's process id"},
    {.name = "control", .type = KT_PATH, .flags = KF_TOP | KF_SOCKET,
     .off = TOP(control), .sdef = NL_DEFAULT_CONTROL,
     .doc = "path of the control socket"},
    {.name = "control_mode", .type = KT_MODE, .flags = KF_TOP,
     .off = TOP(control_mode), .max = 0777, .def = NL_DEFAULT_CONTROL_MODE,
     .doc = "permissions of the control socket, an octal string"},
    {.name = "plugin_dir", .type = KT_PATH, .flags = KF_TOP,
     .off = TOP(plugin_dir), .sdef = PKGLIBDIR,
     .doc = "folder where a bare handler name NAME is found as NAME.so"},
    {.name = "user", .type = KT_STRING, .flags = KF_TOP, .off = TOP(user),
     .doc = "user the serving processes run as; unset keeps the user"},
    {.name = "group", .type = KT_STRING, .flags = KF_TOP, .off = TOP(group),
     .doc = "group the serving processes run as; default: the user's"},
    {.name = "shutdown_timeout", .type = KT_INT, .flags = KF_TOP,
     .off = TOP(shutdown_timeout), .min = 0, .max = 3600,
     .def = NL_DEFAULT_SHUTDOWN_TIMEOUT,
     .doc = "seconds open sessions may take to finish on stop or reload"},
    {.name = "listeners", .type = KT_LISTENERS, .flags = KF_TOP,
     .doc = "a list of listener groups; may be empty"},

    {.name = "name", .type = KT_STRING, .flags = KF_LISTENER | KF_REQUIRED,
     .off = LST(name), .doc = "unique name, used in logs and status"},
    {.name = "transport", .type = KT_TRANSPORT,
     .flags = KF_LISTENER | KF_REQUIRED, .off = LST(transport),
     .doc = "tcp, udp, unix or unix-dgram"},
    {.name = "address", .type = KT_STRING,
     .flags = KF_LISTENER | KF_REQUIRED | KF_INET, .off = LST(address),
     .doc = "IPv4 or IPv6 literal or host name to bind"},
    {.name = "port", .type = KT_INT,
     .flags = KF_LISTENER | KF_REQUIRED | KF_INET, .off = LST(port),
     .min = 0, .max = 65535, .doc = "port to bind; 0 picks a free one"},
    {.name = "ipv6only", .type = KT_BOOL, .flags = KF_LISTENER | KF_INET,
     .off = LST(ipv6only), .def = 0,
     .doc = "true: an IPv6 address does not accept IPv4 too"},
    {.name = "path", .type = KT_PATH,
     .flags = KF_LISTENER | KF_REQUIRED | KF_UNIX | KF_SOCKET,
     .off = LST(path), .doc = "path of the socket file"},
    {.name = "mode", .type = KT_MODE, .flags = KF_LISTENER | KF_UNIX,
     .off = LST(mode), .set_off = LST(mode_set), .max = 0777,
     .doc = "permissions of the socket file; unset follows the umask"},
    {.name = "model", .type = KT_MODEL, .flags = KF_LISTENER,
     .off = LST(model), .def = NL_MODEL_LIBEV,
     .doc = "prefork, threads or libev"},
    {.name = "workers", .type = KT_INT, .flags = KF_LISTENER | KF_BY_MODEL,
     .off = LST(workers), .min = 1, .max = 1024,
     .doc = "processes (prefork), threads (threads) or event loops (libev)"},
    {.name = "handler", .type = KT_HANDLER,
     .flags = KF_LISTENER | KF_REQUIRED, .off = LST(handler),
     .doc = "bare name looked up in plugin_dir, or a path to a .so"},
    {.name = "options", .type = KT_OPTIONS, .flags = KF_LISTENER,
     .doc = "a group of scalars handed to the handler's init()"},
    {.name = "max_connections", .type = KT_INT, .flags = KF_LISTENER,
     .off = LST(max_connections), .min = 1, .max = 1000000,
     .def = NL_DEFAULT_MAX_CONNECTIONS,
     .doc = "open sessions past which a new connection is closed at once"},
    {.name = "idle_timeout", .type = KT_INT, .flags = KF_LISTENER,
     .off = LST(idle_timeout), .min = 0, .max = 86400,
     .def = NL_DEFAULT_IDLE_TIMEOUT,
     .doc = "seconds without traffic before a session is closed; 0: never"},
    {.name = "max_line", .type = KT_INT, .flags = KF_LISTENER,
     .off = LST(max_line), .min = 1, .max = NL_MAX_LINE_MAX,
     .def = NL_DEFAULT_MAX_LINE,
     .doc = "longest line, in bytes, a line handler accepts"},
    {.name = "backlog", .type = KT_INT, .flags = KF_LISTENER,
     .off = LST(backlog), .min = 1, .max = 65535, .def = NL_DEFAULT_BACKLOG,
     .doc = "queue of connections not yet accepted (listen(2))"},
};
/* clang-format on */

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Where the settings behind a listener are, for the cross-listener checks.
 * The pointers belong to libconfig and live as long as the parse. */
struct lsrc {
    const config_setting_t *name; /* NULL unless the name is valid */
    const config_setting_t *addr; /* port or path; NULL unless valid */
};

struct parse {
    const char *file; /* as given */
    struct nl_errs *errs;
    int nerrs;
    struct nl_conf *conf;
    struct lsrc *src; /* one per listener */
};

/* One listener being read. */
struct lparse {
    struct parse *p;
    struct nl_listener_conf *lc;
    size_t index;
    char *label;   /* "listeners.NAME", or "listeners[INDEX]" without a name */
    int transport; /* known before the members are read; -1 if unknown */
    unsigned char seen[NKEYS];
};

static int
nl_conf_line_of(const config_setting_t *s)
{
    return (int)config_setting_source_line(s);
}

/*
 * The file a setting came from, for messages.  libconfig names a file
 * pulled in by @include as written; nl_conf_load() has libconfig open it
 * relative to the config's folder, so the same resolution gives a path
 * the user can open.  Returns a new string.
 */
static char *
nl_conf_file_of(const struct parse *p, const config_setting_t *s)
{
    const char *f = s != NULL ? config_setting_source_file(s) : NULL;

    return f != NULL ? nl_conf_message_path(p->file, f) : nl_xstrdup(p->file);
}

/*
 * Adds "FILE:LINE: PREFIX.NAME: message" for setting s (PREFIX and its dot
 * are left out when prefix is NULL).
 */
static void __attribute__((format(printf, 5, 6)))
nl_conf_error(struct parse *p, const config_setting_t *s, const char *prefix,
              const char *name, const char *fmt, ...)
{
    char *file = nl_conf_file_of(p, s), *msg;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) == -1)
        nl_oom();
    va_end(ap);
    nl_errs_add(p->errs, "%s:%d: %s%s%s: %s", file, nl_conf_line_of(s),
                prefix != NULL ? prefix : "", prefix != NULL ? "." : "", name,
                msg);
    free(msg);
    free(file);
    p->nerrs++;
}

static const char *
nl_conf_type_name(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "nothing";
    }
}

static const struct key *
find_key(const char *name, unsigned scope)
{
    for (size_t i = 0; i < NKEYS; i++)
        if ((keys[i].flags & scope) && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/* The names of the levels, transports and models: name(0) .. name(n - 1). */
typedef const char *(*name_fn)(int i);

static const char *
transport_name(int i)
{
    return nl_transport_name((enum nl_transport_kind)i);
}

static const char *
model_name(int i)
{
    return nl_model_name((enum nl_model_kind)i);
}

/* The i for which name(i) is `s`, or -1. */
static int
lookup(name_fn name, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name(i), s) == 0)
            return i;
    return -1;
}

/* Writes "a, b, c" into buf. */
static const char *
join(char *buf, size_t len, name_fn name, int n)
{
    size_t off = 0;

    buf[0] = '\0';
    for (int i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i > 0 ? ", " : "",
                                name(i));
    return buf;
}

/* The value of s as a non-empty string, or NULL after reporting why not. */
static const char *
want_string(struct parse *p, const config_setting_t *s, const char *prefix)
{
    const char *v;

    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        nl_conf_error(p, s, prefix, config_setting_name(s),
                      "expected a string, got %s", nl_conf_type_name(s));
        return NULL;
    }
    v = config_setting_get_string(s);
    if (v[0] == '\0') {
        nl_conf_error(p, s, prefix, config_setting_name(s),
                      "must not be empty");
        return NULL;
    }
    return v;
}

/* Reads "0660"-style permissions.  Returns 0, or -1 if v is not octal or
 * is above 0777. */
static int
parse_mode(const char *v, mode_t *mode)
{
    unsigned long m;
    char *end;

    /* strtoul() would accept spaces and a sign; a mode has neither. */
    if (v[0] < '0' || v[0] > '7')
        return -1;
    errno = 0;
    m = strtoul(v, &end, 8);
    if (*end != '\0' || errno != 0 || m > 0777)
        return -1;
    *mode = (mode_t)m;
    return 0;
}

static int
set_mode(struct parse *p, const config_setting_t *s, const char *prefix,
         mode_t *field)
{
    const char *v;

    /* libconfig reads an unquoted 0660 as the decimal 660, which would give
     * nonsense permissions; so a mode must be quoted. */
    if (config_setting_type(s) == CONFIG_TYPE_INT) {
        nl_conf_error(
            p, s, prefix, config_setting_name(s),
            "expected a quoted octal string such as \"0660\", got the "
            "integer %d",
            config_setting_get_int(s));
        return -1;
    }
    if ((v = want_string(p, s, prefix)) == NULL)
        return -1;
    if (parse_mode(v, field) == -1) {
        nl_conf_error(p, s, prefix, config_setting_name(s),
                      "\"%s\" is not an octal mode (0000-0777)", v);
        return -1;
    }
    return 0;
}

/*
 * XXX: libconfig 1.5 keeps only the low 32 bits of an integer written
 * without the L suffix, so 4294967376 reads as 80 and cannot be told
 * apart from it here.  Values with the suffix arrive whole as INT64.
 */
static int
set_int(struct parse *p, const struct key *k, const config_setting_t *s,
        const char *prefix, int *field)
{
    long long v;

    if (config_setting_type(s) != CONFIG_TYPE_INT &&
        config_setting_type(s) != CONFIG_TYPE_INT64) {
        nl_conf_error(p, s, prefix, k->name, "expected an integer, got %s",
                      nl_conf_type_name(s));
        return -1;
    }
    v = config_setting_get_int64(s);
    if (v < k->min || v > k->max) {
        nl_conf_error(p, s, prefix, k->name, "%lld out of range (%lld-%lld)", v,
                      k->min, k->max);
        return -1;
    }
    *field = (int)v;
    return 0;
}

/* Finds the string value of s among name(0) .. name(n - 1) and stores
 * its index. */
static int
set_name(struct parse *p, const config_setting_t *s, const char *prefix,
         name_fn name, int n, int *index)
{
    const char *v;
    char list[128];
    int i;

    if ((v = want_string(p, s, prefix)) == NULL)
        return -1;
    if ((i = lookup(name, n, v)) == -1) {
        nl_conf_error(p, s, prefix, config_setting_name(s),
                      "\"%s\" is not one of %s", v,
                      join(list, sizeof(list), name, n));
        return -1;
    }
    *index = i;
    return 0;
}

/* Strings and paths: everything kept as char *. */
static int
set_string(struct parse *p, const struct key *k, const config_setting_t *s,
           const char *prefix, char **field)
{
    const char *v;
    char *nv;

    if ((v = want_string(p, s, prefix)) == NULL)
        return -1;
    if (k->type == KT_PATH ||
        (k->type == KT_LOG_TARGET && strcmp(v, "stderr") != 0 &&
         strcmp(v, "syslog") != 0))
        nv = nl_path_resolve(p->file, v);
    else
        nv = nl_xstrdup(v);
    if ((k->flags & KF_SOCKET) &&
        strlen(nv) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
        nl_conf_error(p, s, prefix, k->name,
                      "%s is longer than %zu bytes, the limit of a unix socket "
                      "path",
                      nv, sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
        free(nv);
        return -1;
    }
    free(*field);
    *field = nv;
    return 0;
}

static char *
option_text(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        return nl_xasprintf("%d", config_setting_get_int(s));
    case CONFIG_TYPE_INT64:
        return nl_xasprintf("%lld", config_setting_get_int64(s));
    case CONFIG_TYPE_FLOAT:
        return nl_xasprintf("%g", config_setting_get_float(s));
    case CONFIG_TYPE_BOOL:
        return nl_xstrdup(config_setting_get_bool(s) ? "true" : "false");
    default:
        return nl_xstrdup(config_setting_get_string(s));
    }
}

/* The handler sees only text, so each option must be a scalar. */
static int
set_options(struct parse *p, const config_setting_t *s, const char *prefix,
            struct nl_listener_conf *lc)
{
    char *oprefix;
    int n;

    if (!config_setting_is_group(s)) {
        nl_conf_error(p, s, prefix, "options",
                      "expected a group { key = value; ... }, got %s",
                      nl_conf_type_name(s));
        return -1;
    }
    lc->options_line = nl_conf_line_of(s);
    n = config_setting_length(s);
    lc->options = nl_xcalloc((size_t)n, sizeof(*lc->options));
    oprefix = nl_xasprintf("%s.options", prefix);
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
        struct nl_option *o;

        if (!config_setting_is_scalar(m)) {
            nl_conf_error(p, m, oprefix, config_setting_name(m),
                          "expected a string, number or boolean, got %s",
                          nl_conf_type_name(m));
            continue;
        }
        o = &lc->options[lc->noptions++];
        o->key = nl_xstrdup(config_setting_name(m));
        o->value = option_text(m);
        o->line = nl_conf_line_of(m);
    }
    free(oprefix);
    return 0;
}

static void nl_conf_parse_listeners(struct parse *p, const config_setting_t *s);

/* Checks the value of key k in setting s and stores it in the struct at
 * base.  Returns 0, or -1 after reporting what is wrong. */
static int
nl_conf_set_value(struct parse *p, const struct key *k,
                  const config_setting_t *s, const char *prefix, void *base)
{
    char *field = (char *)base + k->off;
    int rc = -1, i;

    switch (k->type) {
    case KT_STRING:
    case KT_PATH:
    case KT_LOG_TARGET:
    case KT_HANDLER:
        rc = set_string(p, k, s, prefix, (char **)field);
        break;
    case KT_LOG_LEVEL:
        rc = set_name(p, s, prefix, nl_log_level_name, NL_LOG_ERROR + 1, &i);
        if (rc == 0)
            *(int *)field = i;
        break;
    case KT_MODE:
        rc = set_mode(p, s, prefix, (mode_t *)field);
        break;
    case KT_INT:
        rc = set_int(p, k, s, prefix, (int *)field);
        break;
    case KT_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
            nl_conf_error(p, s, prefix, k->name,
                          "expected true or false, got %s",
                          nl_conf_type_name(s));
            break;
        }
        *(int *)field = config_setting_get_bool(s);
        rc = 0;
        break;
    case KT_TRANSPORT:
        rc = set_name(p, s, prefix, transport_name, NL_TRANSPORT_KINDS, &i);
        if (rc == 0)
            *(enum nl_transport_kind *)field = (enum nl_transport_kind)i;
        break;
    case KT_MODEL:
        if ((rc = set_name(p, s, prefix, model_name, NL_MODEL_KINDS, &i)) == 0)
            *(enum nl_model_kind *)field = (enum nl_model_kind)i;
        break;
    case KT_OPTIONS:
        rc = set_options(p, s, prefix, base);
        break;
    case KT_LISTENERS:
        nl_conf_parse_listeners(p, s);
        rc = 0;
        break;
    }
    if (rc == 0 && k->set_off != 0)
        *(int *)((char *)base + k->set_off) = 1;
    return rc;
}

/* Stores the default of key k in the struct at base. */
static void
nl_conf_set_default(const struct key *k, void *base)
{
    char *field = (char *)base + k->off;

    switch (k->type) {
    case KT_STRING:
    case KT_PATH:
    case KT_LOG_TARGET:
    case KT_HANDLER:
        if (k->sdef != NULL)
            *(char **)field = nl_xstrdup(k->sdef);
        break;
    case KT_LOG_LEVEL:
    case KT_INT:
    case KT_BOOL:
        *(int *)field = (int)k->def;
        break;
    case KT_MODE:
        *(mode_t *)field = (mode_t)k->def;
        break;
    case KT_MODEL:
        *(enum nl_model_kind *)field = (enum nl_model_kind)k->def;
        break;
    case KT_TRANSPORT:
    case KT_OPTIONS:
    case KT_LISTENERS:
        break; /* required, or empty by default */
    }
}

/* 1 when key k may appear in a listener of transport t (-1: unknown). */
static int
applies(const struct key *k, int t)
{
    if (t < 0)
        return 1;
    if (k->flags & KF_INET)
        return !nl_transport_is_unix((enum nl_transport_kind)t);
    if (k->flags & KF_UNIX)
        return nl_transport_is_unix((enum nl_transport_kind)t);
    return 1;
}

/* Where `first` is, as seen from `second`: "line 5" in the same file,
 * else "FILE:5". */
static char *
where(struct parse *p, const config_setting_t *first,
      const config_setting_t *second)
{
    char *f1 = nl_conf_file_of(p, first), *f2 = nl_conf_file_of(p, second), *w;

    if (strcmp(f1, f2) == 0)
        w = nl_xasprintf("line %d", nl_conf_line_of(first));
    else
        w = nl_xasprintf("%s:%d", f1, nl_conf_line_of(first));
    free(f1);
    free(f2);
    return w;
}

/* 1 when two listeners would bind the same socket.  Port 0 never clashes:
 * each such listener gets its own free port.  A path or address left NULL
 * by a bad value clashes with nothing (parse_listener() leaves such a
 * listener out anyway: a reload must not die of a typo). */
static int
same_address(const struct nl_listener_conf *a, const struct nl_listener_conf *b)
{
    if (nl_transport_is_unix(a->transport) &&
        nl_transport_is_unix(b->transport))
        return a->path != NULL && nl_str_equal(a->path, b->path);
    /* XXX: "0.0.0.0" against "127.0.0.1", or a name against its address,
     * is not caught here; bind() reports it when the socket opens. */
    return a->transport == b->transport && a->port != 0 && a->port == b->port &&
           a->address != NULL && nl_str_equal(a->address, b->address);
}

/* Reports the name of listener i if one before it has it already. */
static void
nl_conf_check_name(struct parse *p, size_t i, const char *label)
{
    const struct lsrc *s = &p->src[i];

    for (size_t j = 0; j < i; j++) {
        const struct lsrc *os = &p->src[j];
        char *w;

        if (os->name == NULL ||
            strcmp(p->conf->listeners[i].name, p->conf->listeners[j].name))
            continue;
        w = where(p, os->name, s->name);
        nl_conf_error(p, s->name, NULL, label,
                      "duplicate listener name (first defined at %s)", w);
        free(w);
        return;
    }
}

/* Reports the address of listener i if one before it binds it already. */
static void
nl_conf_check_address(struct parse *p, size_t i, const char *label)
{
    const struct nl_listener_conf *lc = &p->conf->listeners[i];
    const struct lsrc *s = &p->src[i];
    char buf[256];

    for (size_t j = 0; j < i; j++) {
        const struct nl_listener_conf *o = &p->conf->listeners[j];
        const struct lsrc *os = &p->src[j];
        char *w;

        if (os->addr == NULL || !same_address(lc, o))
            continue;
        w = where(p, os->addr, s->addr);
        nl_conf_error(p, s->addr, NULL, label,
                      "%s %s is already used by listener %s (%s)",
                      nl_transport_name(lc->transport),
                      nl_listener_address(lc, buf, sizeof(buf)),
                      o->name != NULL ? o->name : "without a name", w);
        free(w);
        return;
    }
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
        if (!applies(k, lp->transport)) {
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
                applies(k, lp->transport))
                nl_conf_error(lp->p, g, NULL, lp->label, "missing %s", k->name);
            continue;
        }
        /* model comes before workers in keys[], so lc->model is final. */
        if (k->flags & KF_BY_MODEL)
            *(int *)((char *)lc + k->off) = nl_model_default_workers(lc->model);
        else if (applies(k, lp->transport))
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

static void
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

/* The folder @include paths are relative to: the config's own. */
static char *
include_dir(const char *file)
{
    const char *slash = strrchr(file, '/');

    if (slash == NULL)
        return nl_xstrdup(".");
    if (slash == file)
        return nl_xstrdup("/");
    return nl_xasprintf("%.*s", (int)(slash - file), file);
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
    dir = include_dir(file);
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

static void
free_listener(struct nl_listener_conf *lc)
{
    free(lc->name);
    free(lc->address);
    free(lc->path);
    free(lc->handler);
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
    free(conf->file);
    free(conf->log_target);
    free(conf->pidfile);
    free(conf->control);
    free(conf->plugin_dir);
    free(conf->user);
    free(conf->group);
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
    if (vasprintf(&msg, fmt, ap) == -1)
        nl_oom();
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

char *
nl_listener_address(const struct nl_listener_conf *lc, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    if (nl_transport_is_unix(lc->transport))
        snprintf(buf, len, "%s", lc->path != NULL ? lc->path : "");
    else if (lc->address != NULL && strchr(lc->address, ':') != NULL)
        snprintf(buf, len, "[%s]:%d", lc->address, lc->port);
    else
        snprintf(buf, len, "%s:%d", lc->address != NULL ? lc->address : "",
                 lc->port);
    return buf;
}

int
nl_listener_same_address(const struct nl_listener_conf *a,
                         const struct nl_listener_conf *b)
{
    if (a->transport != b->transport)
        return 0;
    if (nl_transport_is_unix(a->transport))
        return nl_str_equal(a->path, b->path);
    return nl_str_equal(a->address, b->address) && a->port == b->port &&
           a->ipv6only == b->ipv6only;
}

int
nl_listener_equal(const struct nl_listener_conf *a,
                  const struct nl_listener_conf *b)
{
    const struct stat *sa = &a->handler_stat, *sb = &b->handler_stat;

    if (!nl_listener_same_address(a, b) || !nl_str_equal(a->name, b->name) ||
        a->mode != b->mode || a->mode_set != b->mode_set ||
        a->model != b->model || a->workers != b->workers ||
        !nl_str_equal(a->handler_path, b->handler_path) ||
        a->max_connections != b->max_connections ||
        a->idle_timeout != b->idle_timeout || a->max_line != b->max_line ||
        a->backlog != b->backlog || a->noptions != b->noptions)
        return 0;
    if (sa->st_dev != sb->st_dev || sa->st_ino != sb->st_ino ||
        sa->st_size != sb->st_size ||
        sa->st_mtim.tv_sec != sb->st_mtim.tv_sec ||
        sa->st_mtim.tv_nsec != sb->st_mtim.tv_nsec)
        return 0;
    /* Options are a set: their order in the file does not matter.  Keys
     * are unique, and the counts are equal, so one direction suffices. */
    for (size_t i = 0; i < a->noptions; i++) {
        size_t j = 0;

        while (j < b->noptions &&
               !nl_str_equal(a->options[i].key, b->options[j].key))
            j++;
        if (j == b->noptions ||
            !nl_str_equal(a->options[i].value, b->options[j].value))
            return 0;
    }
    return 1;
}
