/*
 * conf.c - turns netlabd.conf into a checked struct nl_conf.  It owns the
 * walk through the file, by the table of keys in conf_keys.c:
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

/* One listener being read. */
struct lparse {
    struct parse *p;
    struct nl_listener_conf *lc;
    size_t index;
    char *label;   /* "listeners.NAME", or "listeners[INDEX]" without a name */
    int transport; /* known before the members are read; -1 if unknown */
    unsigned char seen[NL_CONF_MAX_KEYS];
};

static const struct key *
find_key(const char *name, unsigned scope)
{
    for (size_t i = 0; i < nl_conf_nkeys; i++)
        if ((nl_conf_keys[i].flags & scope) && strcmp(nl_conf_keys[i].name, name) == 0)
            return &nl_conf_keys[i];
    return NULL;
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
        lp->seen[k - nl_conf_keys] = 1;
        if (!nl_conf_key_applies(k, lp->transport)) {
            nl_conf_error(p, m, lp->label, name, "only valid for %s",
                          (k->flags & KF_INET)   ? "tcp and udp"
                          : (k->flags & KF_UNIX) ? "unix and unix-dgram"
                                                 : "tcp and unix");
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

/*
 * max_workers, once workers is known: given, it must be at least workers,
 * and only a pool that grows (prefork, threads) has a use for it; left
 * out, it is the default or workers, whichever is more (a config with
 * workers = 300 must not start failing), and under libev it is workers.
 */
static void
check_pool(struct lparse *lp, const config_setting_t *g)
{
    const struct key *k = find_key("max_workers", KF_LISTENER);
    const config_setting_t *m = config_setting_get_member(g, "max_workers");
    struct nl_listener_conf *lc = lp->lc;

    if (!lp->seen[k - nl_conf_keys]) {
        if (!nl_model_grows(lc->model) || lc->max_workers < lc->workers)
            lc->max_workers = lc->workers;
    } else if (m == NULL || lc->max_workers == 0) {
        return; /* a bad value, already reported */
    } else if (!nl_model_grows(lc->model)) {
        nl_conf_error(lp->p, m, lp->label, k->name,
                      "only valid for the prefork and threads models (%s "
                      "workers serve many sessions each and do not grow)",
                      nl_model_name(lc->model));
    } else if (lc->max_workers < lc->workers) {
        nl_conf_error(lp->p, m, lp->label, k->name,
                      "%d is less than workers (%d)", lc->max_workers,
                      lc->workers);
    }
}

/* Reports missing keys and fills in defaults for the keys not given. */
static void
fill_listener(struct lparse *lp, const config_setting_t *g)
{
    struct nl_listener_conf *lc = lp->lc;

    for (size_t i = 0; i < nl_conf_nkeys; i++) {
        const struct key *k = &nl_conf_keys[i];

        if (!(k->flags & KF_LISTENER) || lp->seen[i])
            continue;
        if (k->flags & KF_REQUIRED) {
            /* Without a known transport, address/port and path cannot be
             * asked for: the transport's own error says enough. */
            if ((lp->transport >= 0 ||
                 !(k->flags & (KF_INET | KF_UNIX | KF_STREAM))) &&
                nl_conf_key_applies(k, lp->transport))
                nl_conf_error(lp->p, g, NULL, lp->label, "missing %s", k->name);
            continue;
        }
        /* model comes before workers in nl_conf_keys[], so lc->model is final. */
        if (k->flags & KF_BY_MODEL)
            *(int *)((char *)lc + k->off) = nl_model_default_workers(lc->model);
        else if (nl_conf_key_applies(k, lp->transport))
            nl_conf_set_default(k, lc);
    }
    if (lc->options == NULL)
        lc->options_line = lc->line;
    check_pool(lp, g);
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
    p->transport = lp.transport; /* for the rules (conf_value.c) */
    read_members(&lp, g);
    p->transport = -1;
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
parse_listeners(struct parse *p, const config_setting_t *s)
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
    unsigned char seen[NL_CONF_MAX_KEYS] = {0};
    int n = config_setting_length(root);

    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(root, (unsigned)i);
        const struct key *k = find_key(config_setting_name(m), KF_TOP);

        if (k == NULL) {
            nl_conf_error(p, m, NULL, config_setting_name(m), "unknown key");
            continue;
        }
        seen[k - nl_conf_keys] = 1;
        p->conf->top_lines[k - nl_conf_keys] = nl_conf_line_of(m);
        if (k->type == KT_LISTENERS)
            parse_listeners(p, m);
        else /* reported if bad */
            (void)nl_conf_set_value(p, k, m, NULL, p->conf);
    }
    for (size_t i = 0; i < nl_conf_nkeys; i++)
        if ((nl_conf_keys[i].flags & KF_TOP) && !seen[i])
            nl_conf_set_default(&nl_conf_keys[i], p->conf);
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
    p.transport = -1;
    p.conf = nl_xcalloc(1, sizeof(*p.conf));
    p.conf->file = nl_xstrdup(file);
    p.conf->top_lines = nl_xcalloc(nl_conf_nkeys, sizeof(*p.conf->top_lines));

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
    for (size_t i = 0; i < nl_conf_nkeys; i++) {
        const struct key *k = &nl_conf_keys[i];

        if ((k->flags & scope) &&
            (k->type == KT_STRING || k->type == KT_PATH ||
             k->type == KT_LOG_TARGET || k->type == KT_HANDLER ||
             k->type == KT_GROUP || k->type == KT_HOSTPORT))
            free(*(char **)((char *)base + k->off));
    }
}

static void
free_listener(struct nl_listener_conf *lc)
{
    free_strings(KF_LISTENER, lc);
    free(lc->handler_path);
    free(lc->handler_version);
    for (size_t i = 0; i < lc->noptions; i++) {
        free(lc->options[i].key);
        free(lc->options[i].value);
    }
    free(lc->options);
    nl_rules_free(&lc->allow);
    nl_rules_free(&lc->deny);
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
    for (size_t i = 0; i < nl_conf_nkeys; i++)
        if ((nl_conf_keys[i].flags & KF_TOP) && strcmp(nl_conf_keys[i].name, key) == 0)
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
