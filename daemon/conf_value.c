/*
 * conf_value.c - reading the value of one setting: checking it against
 * its key's type (a string, a path, an octal mode, an integer in range, a
 * boolean, one of a list of names, a group of options) and storing it, or
 * the key's default, in the field the key names.  Also the helpers that
 * make every message "FILE:LINE: key: what is wrong", naming the file an
 * @include brought the setting from.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <libconfig.h>

#include "conf.h"
#include "conf_include.h"
#include "conf_int.h"
#include "errs.h"
#include "log.h"
#include "util.h"

int
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
char *
nl_conf_file_of(const struct parse *p, const config_setting_t *s)
{
    const char *f = s != NULL ? config_setting_source_file(s) : NULL;

    return f != NULL ? nl_conf_message_path(p->file, f) : nl_xstrdup(p->file);
}

/*
 * Adds "FILE:LINE: PREFIX.NAME: message" for setting s (PREFIX and its dot
 * are left out when prefix is NULL).
 */
void __attribute__((format(printf, 5, 6)))
nl_conf_error(struct parse *p, const config_setting_t *s, const char *prefix,
              const char *name, const char *fmt, ...)
{
    char *file = nl_conf_file_of(p, s), *msg;
    va_list ap;

    va_start(ap, fmt);
    msg = nl_xvasprintf(fmt, ap);
    va_end(ap);
    nl_errs_add(p->errs, "%s:%d: %s%s%s: %s", file, nl_conf_line_of(s),
                prefix != NULL ? prefix : "", prefix != NULL ? "." : "", name,
                msg);
    free(msg);
    free(file);
    p->nerrs++;
}

const char *
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

/* A list of access rules, each checked against the listener's transport
 * (read before its members: parse.transport). */
static int
set_rules(struct parse *p, const struct key *k, const config_setting_t *s,
          const char *prefix, struct nl_rules *rs)
{
    int n, bad = 0;
    char err[256];

    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        nl_conf_error(p, s, prefix, k->name,
                      "expected a list of strings [ \"...\", ... ], got %s",
                      nl_conf_type_name(s));
        return -1;
    }
    if (p->transport < 0)
        return -1; /* the transport's own error says enough */
    n = config_setting_length(s);
    nl_rules_free(rs);
    rs->v = n > 0 ? nl_xcalloc((size_t)n, sizeof(*rs->v)) : NULL;
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);

        if (config_setting_type(m) != CONFIG_TYPE_STRING) {
            nl_conf_error(p, m, prefix, k->name,
                          "expected a string, got %s", nl_conf_type_name(m));
            bad = 1;
            continue;
        }
        if (nl_rule_parse(config_setting_get_string(m),
                          nl_transport_is_unix(
                              (enum nl_transport_kind)p->transport),
                          &rs->v[rs->n], err, sizeof(err)) == -1) {
            nl_conf_error(p, m, prefix, k->name, "%s", err);
            bad = 1;
            continue;
        }
        rs->n++;
    }
    return bad ? -1 : 0;
}

/* A group name that the system knows. */
static int
set_group(struct parse *p, const struct key *k, const config_setting_t *s,
          const char *prefix, char **field)
{
    const char *v;

    if ((v = want_string(p, s, prefix)) == NULL)
        return -1;
    if (getgrnam(v) == NULL) {
        nl_conf_error(p, s, prefix, k->name, "unknown group \"%s\"", v);
        return -1;
    }
    free(*field);
    *field = nl_xstrdup(v);
    return 0;
}

/* "HOST:PORT": an address netlabd binds. */
static int
set_hostport(struct parse *p, const struct key *k, const config_setting_t *s,
             const char *prefix, char **field)
{
    char host[256];
    const char *v;
    int port;

    if ((v = want_string(p, s, prefix)) == NULL)
        return -1;
    if (nl_hostport_split(v, host, sizeof(host), &port) == -1) {
        nl_conf_error(p, s, prefix, k->name,
                      "\"%s\" is not HOST:PORT (an IPv6 address in "
                      "brackets, as [::1]:9109; a port from 0 to 65535)",
                      v);
        return -1;
    }
    free(*field);
    *field = nl_xstrdup(v);
    return 0;
}

/* Checks the value of key k in setting s and stores it in the struct at
 * base.  Returns 0, or -1 after reporting what is wrong. */
int
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
    case KT_LISTENERS: /* a list, not a value: conf.c's walk reads it */
        rc = 0;
        break;
    case KT_RULES:
        rc = set_rules(p, k, s, prefix, (struct nl_rules *)field);
        break;
    case KT_GROUP:
        rc = set_group(p, k, s, prefix, (char **)field);
        break;
    case KT_HOSTPORT:
        rc = set_hostport(p, k, s, prefix, (char **)field);
        break;
    }
    if (rc == 0 && k->set_off != 0)
        *(int *)((char *)base + k->set_off) = 1;
    return rc;
}

/* Stores the default of key k in the struct at base. */
void
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
    case KT_RULES:
    case KT_GROUP:
    case KT_HOSTPORT:
        break; /* required, or empty by default */
    }
}
