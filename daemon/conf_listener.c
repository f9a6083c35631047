/*
 * conf_listener.c - listeners compared with each other: the checks
 * between the listeners of one file (no two with one name, no two binding
 * one socket), the address as status shows it, and the comparisons a
 * reload makes between a running listener and its new spec (the same
 * socket?  the same spec?) and between the old and new global settings.
 * What those compare is read from the key table: each key's class
 * (enum nl_change) says how strong a change to it is, its type how to
 * compare it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libconfig.h>

#include "conf.h"
#include "conf_int.h"
#include "util.h"

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
void
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
void
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

/* 1 when the handlers are other files, or the file changed on disk
 * (rebuilt, copied over): the name as written does not matter. */
static int
handler_differs(const struct nl_listener_conf *a,
                const struct nl_listener_conf *b)
{
    const struct stat *sa = &a->handler_stat, *sb = &b->handler_stat;

    return !nl_str_equal(a->handler_path, b->handler_path) ||
           sa->st_dev != sb->st_dev || sa->st_ino != sb->st_ino ||
           sa->st_size != sb->st_size ||
           sa->st_mtim.tv_sec != sb->st_mtim.tv_sec ||
           sa->st_mtim.tv_nsec != sb->st_mtim.tv_nsec;
}

/* Options are a set: their order in the file does not matter.  Keys are
 * unique, and the counts are equal, so one direction suffices. */
static int
options_differ(const struct nl_listener_conf *a,
               const struct nl_listener_conf *b)
{
    if (a->noptions != b->noptions)
        return 1;
    for (size_t i = 0; i < a->noptions; i++) {
        size_t j = 0;

        while (j < b->noptions &&
               !nl_str_equal(a->options[i].key, b->options[j].key))
            j++;
        if (j == b->noptions ||
            !nl_str_equal(a->options[i].value, b->options[j].value))
            return 1;
    }
    return 0;
}

static int
flag_of(const struct key *k, const void *base)
{
    return *(const int *)((const char *)base + k->set_off);
}

/* 1 when key k has another value in the struct at b than in the one at a
 * (both nl_conf, or both nl_listener_conf). */
static int
key_differs(const struct key *k, const void *a, const void *b)
{
    const char *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;

    if (k->set_off != 0) {
        if (!flag_of(k, b) && (k->flags & KF_KEEP))
            return 0; /* b leaves it unset: a's value stays */
        if (flag_of(k, a) != flag_of(k, b) && !(k->flags & KF_KEEP))
            return 1; /* given against unset */
    }
    switch (k->type) {
    case KT_STRING:
    case KT_PATH:
    case KT_LOG_TARGET:
        return !nl_str_equal(*(char *const *)fa, *(char *const *)fb);
    case KT_MODE:
        return *(const mode_t *)fa != *(const mode_t *)fb;
    case KT_LOG_LEVEL:
    case KT_INT:
    case KT_BOOL:
        return *(const int *)fa != *(const int *)fb;
    case KT_TRANSPORT:
        return *(const enum nl_transport_kind *)fa !=
               *(const enum nl_transport_kind *)fb;
    case KT_MODEL:
        return *(const enum nl_model_kind *)fa !=
               *(const enum nl_model_kind *)fb;
    case KT_HANDLER:
        return handler_differs(a, b);
    case KT_OPTIONS:
        return options_differ(a, b);
    case KT_GROUP:
    case KT_HOSTPORT:
        return !nl_str_equal(*(char *const *)fa, *(char *const *)fb);
    case KT_RULES:
        return !nl_rules_equal((const struct nl_rules *)fa,
                               (const struct nl_rules *)fb);
    case KT_LISTENERS:
        break; /* compared listener by listener */
    }
    return 0;
}

/* 1 when a key in `scope` whose change a reload treats as `how` differs
 * between the structs at a and b.  transport: a's, for a listener's keys
 * (those of another transport are left out), or -1. */
static int
differs(unsigned scope, int transport, const void *a, const void *b,
        enum nl_change how)
{
    for (size_t i = 0; i < nl_conf_nkeys; i++) {
        const struct key *k = &nl_conf_keys[i];

        if ((k->flags & scope) && k->change == how &&
            nl_conf_key_applies(k, transport) && key_differs(k, a, b))
            return 1;
    }
    return 0;
}

int
nl_listener_change(const struct nl_listener_conf *a,
                   const struct nl_listener_conf *b)
{
    /* The strongest first: a listener's keys are never NL_CHANGE_RESTART. */
    for (int how = NL_CHANGE_ADDRESS; how > NL_CHANGE_NONE; how--)
        if (differs(KF_LISTENER, (int)a->transport, a, b, how))
            return how;
    return NL_CHANGE_NONE;
}

int
nl_listener_same_address(const struct nl_listener_conf *a,
                         const struct nl_listener_conf *b)
{
    return !differs(KF_LISTENER, (int)a->transport, a, b, NL_CHANGE_ADDRESS);
}

int
nl_listener_equal(const struct nl_listener_conf *a,
                  const struct nl_listener_conf *b)
{
    return nl_listener_change(a, b) == NL_CHANGE_NONE;
}

int
nl_conf_changed(const struct nl_conf *a, const struct nl_conf *b,
                enum nl_change how)
{
    return differs(KF_TOP, -1, a, b, how);
}
