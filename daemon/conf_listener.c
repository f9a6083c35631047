/*
 * conf_listener.c - listeners compared with each other: the checks
 * between the listeners of one file (no two with one name, no two binding
 * one socket), the address as status shows it, and the comparisons a
 * reload makes between a running listener and its new spec (the same
 * socket?  the same spec?).
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
