/*
 * test_conf_keys.c - the key table (conf.c's keys[]) against what is
 * derived from it and what describes it:
 *
 *  - every listener key, changed in turn, is seen by nl_listener_change()
 *    with the class the table gives it, and by nl_listener_equal() and
 *    nl_listener_same_address() to match; every global key likewise by
 *    nl_conf_changed().  The loop walks the table itself, so a key added
 *    there is tested here without a line more, and a key of a type this
 *    test cannot change fails until mutate() learns it;
 *  - every key appears in etc/netlabd.conf.in (as `key =`, maybe
 *    commented out) and in man/netlabd.conf.5.in (as a .TP entry), and
 *    the man page's RELOAD section names the same keys for each class.
 *
 * How these were seen to fail: with key_differs() in conf_listener.c
 * returning 0 for KT_INT, test_listener_keys failed at "port" and
 * test_global_keys at "shutdown_timeout"; with "backlog" renamed in the
 * example config, and ".BR ipv6only" taken out of the man page's RELOAD
 * section, test_documented failed naming each; with control_mode's class
 * set to NL_CHANGE_RESPAWN, test_global_keys passed (the table was
 * followed) but test_documented failed, as the man page says that it
 * takes effect at the next start.
 *
 * srcdir, as automake's test driver exports it, is the top of the source
 * tree; run by hand, start the test from there.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "conf_int.h"
#include "util.h"

static struct nl_option opts_a[2], opts_b[2];

/* A listener of transport t with every key set to something. */
static void
make_listener(struct nl_listener_conf *lc, struct nl_option *opts,
              enum nl_transport_kind t)
{
    memset(lc, 0, sizeof(*lc));
    lc->name = "web";
    lc->line = 10;
    lc->transport = t;
    if (nl_transport_is_unix(t)) {
        lc->path = "/run/netlabd/web.sock";
        lc->mode = 0660;
        lc->mode_set = 1;
    } else {
        lc->address = "::";
        lc->port = 7001;
        lc->ipv6only = 1;
    }
    lc->model = NL_MODEL_PREFORK;
    lc->workers = 4;
    lc->handler = "echo";
    lc->handler_path = "/usr/lib/netlabd/echo.so";
    lc->handler_stat.st_ino = 123456;
    lc->handler_stat.st_size = 16384;
    opts[0] = (struct nl_option){.key = "greeting", .value = "hello"};
    opts[1] = (struct nl_option){.key = "upper", .value = "true"};
    lc->options = opts;
    lc->noptions = 2;
    lc->max_connections = 1024;
    lc->idle_timeout = 300;
    lc->max_line = 8192;
    lc->backlog = 511;
}

static void
make_conf(struct nl_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->file = "/etc/netlabd.conf";
    c->log_target = "/var/log/netlabd.log";
    c->log_target_set = 1;
    c->log_level = 1;
    c->pidfile = "/run/netlabd/netlabd.pid";
    c->control = "/run/netlabd/control.sock";
    c->control_mode = 0660;
    c->plugin_dir = "/usr/lib/netlabd";
    c->user = "netlabd";
    c->group = "netlabd";
    c->shutdown_timeout = 10;
}

/* Gives key k another value in the struct at base (an nl_conf or an
 * nl_listener_conf).  Returns 0, or -1 when it does not know how. */
static int
mutate(const struct key *k, void *base)
{
    char *field = (char *)base + k->off;
    struct nl_listener_conf *lc = base;

    switch (k->type) {
    case KT_STRING:
    case KT_PATH:
    case KT_LOG_TARGET:
    case KT_GROUP:
    case KT_HOSTPORT:
        *(const char **)field = "/changed";
        return 0;
    case KT_RULES: { /* one rule more */
        static struct nl_rule r = {.kind = NL_RULE_UID, .id = 7};

        ((struct nl_rules *)field)->v = &r;
        ((struct nl_rules *)field)->n = 1;
        return 0;
    }
    case KT_MODE:
        *(mode_t *)field ^= 0007;
        return 0;
    case KT_LOG_LEVEL:
    case KT_INT:
        (*(int *)field)++;
        return 0;
    case KT_BOOL:
        *(int *)field = !*(int *)field;
        return 0;
    case KT_TRANSPORT: /* the other one of the same family */
        *(enum nl_transport_kind *)field = nl_transport_find(
            nl_transport_is_unix(*(enum nl_transport_kind *)field),
            !nl_transport_is_dgram(*(enum nl_transport_kind *)field));
        return 0;
    case KT_MODEL:
        *(enum nl_model_kind *)field =
            (*(enum nl_model_kind *)field + 1) % NL_MODEL_KINDS;
        return 0;
    case KT_HANDLER: /* what counts is the file, not the name */
        lc->handler_path = "/usr/lib/netlabd/upper.so";
        return 0;
    case KT_OPTIONS:
        lc->options[1].value = "false";
        return 0;
    case KT_LISTENERS:
        break;
    }
    return -1;
}

static void
check_listener(const struct key *k, const struct nl_listener_conf *a,
               const struct nl_listener_conf *b, int want)
{
    int got = nl_listener_change(a, b);

    if (got != want || nl_listener_change(b, a) != want)
        fail_msg("%s (transport %s): nl_listener_change() gives %d, the "
                 "table says %d",
                 k->name, nl_transport_name(a->transport), got, want);
    assert_int_equal(nl_listener_equal(a, b), want == NL_CHANGE_NONE);
    assert_int_equal(nl_listener_same_address(a, b), want != NL_CHANGE_ADDRESS);
}

/* Every listener key, on a listener of every transport. */
static void
test_listener_keys(void **state)
{
    struct nl_listener_conf a, b;
    size_t tested = 0;

    (void)state;
    for (size_t i = 0; i < nl_conf_nkeys; i++) {
        const struct key *k = &nl_conf_keys[i];

        if (!(k->flags & KF_LISTENER))
            continue;
        /* A listener key that a reload ignores keeps the old spec. */
        if (k->change == NL_CHANGE_NONE || k->change == NL_CHANGE_RESTART)
            fail_msg("listener key %s: no reload class", k->name);
        for (int t = 0; t < NL_TRANSPORT_KINDS; t++) {
            int applies = nl_conf_key_applies(k, t);

            make_listener(&a, opts_a, t);
            make_listener(&b, opts_b, t);
            if (mutate(k, &b) == -1)
                fail_msg("key %s: test_conf_keys cannot change its type",
                         k->name);
            /* Keys of another transport mean nothing: a unix listener's
             * port is not compared. */
            check_listener(k, &a, &b, applies ? (int)k->change : 0);
            if (k->set_off != 0 && applies) { /* given against unset */
                make_listener(&b, opts_b, t);
                *(int *)((char *)&b + k->set_off) = 0;
                check_listener(k, &a, &b, (int)k->change);
            }
            tested += applies;
        }
    }
    assert_true(tested >= 16); /* the loop ran over the table */
}

/* What is not a key is not compared: where things were written, and the
 * handler's name as written. */
static void
test_not_keys(void **state)
{
    struct nl_listener_conf a, b;

    (void)state;
    make_listener(&a, opts_a, NL_TRANSPORT_TCP);
    make_listener(&b, opts_b, NL_TRANSPORT_TCP);
    b.line = 99;
    b.options_line = 98;
    b.options[0].line = 97;
    b.handler = "./echo.so";
    assert_int_equal(nl_listener_change(&a, &b), NL_CHANGE_NONE);
    /* The file itself, rebuilt in place. */
    b.handler_stat.st_size++;
    assert_int_equal(nl_listener_change(&a, &b), NL_CHANGE_RESPAWN);
}

static void
check_global(const struct key *k, const struct nl_conf *a,
             const struct nl_conf *b, int want)
{
    for (int c = NL_CHANGE_LIVE; c <= NL_CHANGE_RESTART; c++)
        if (nl_conf_changed(a, b, c) != (c == want))
            fail_msg("%s: nl_conf_changed(%d) gives %d, the table says "
                     "class %d",
                     k->name, c, nl_conf_changed(a, b, c), want);
}

static void
test_global_keys(void **state)
{
    struct nl_conf a, b;
    size_t tested = 0;

    (void)state;
    make_conf(&a);
    make_conf(&b);
    check_global(&nl_conf_keys[0], &a, &b, NL_CHANGE_NONE);
    for (size_t i = 0; i < nl_conf_nkeys; i++) {
        const struct key *k = &nl_conf_keys[i];

        if (!(k->flags & KF_TOP) || k->type == KT_LISTENERS)
            continue;
        make_conf(&b);
        if (mutate(k, &b) == -1)
            fail_msg("key %s: test_conf_keys cannot change its type", k->name);
        check_global(k, &a, &b, (int)k->change);
        if (k->set_off != 0) {
            /* Unset in the new file: the running value stays (KF_KEEP),
             * or unset is a change of its own. */
            *(int *)((char *)&b + k->set_off) = 0;
            check_global(k, &a, &b, (k->flags & KF_KEEP) ? 0 : (int)k->change);
        }
        tested++;
    }
    assert_true(tested >= 9);
}

/* The file below srcdir as one string, or a failed test. */
static char *
slurp(const char *rel)
{
    const char *dir = getenv("srcdir");
    char *path = nl_xasprintf("%s/%s", dir != NULL && *dir ? dir : ".", rel);
    FILE *f = fopen(path, "r");
    char *text = nl_xcalloc(1, 1 << 17);
    size_t n;

    if (f == NULL)
        fail_msg("cannot open %s", path);
    n = fread(text, 1, (1 << 17) - 1, f);
    assert_true(n > 0 && n < (1 << 17) - 1);
    fclose(f);
    free(path);
    return text;
}

/* 1 when a line of text starts (after blanks, and maybe a #) with
 * `KEY =`. */
static int
in_example(const char *text, const char *key)
{
    size_t len = strlen(key);

    for (const char *l = text; l != NULL && *l; l = strchr(l, '\n')) {
        l += *l == '\n';
        l += strspn(l, " \t");
        l += *l == '#';
        if (strncmp(l, key, len) == 0 && strspn(l + len, " \t") > 0 &&
            l[len + strspn(l + len, " \t")] == '=')
            return 1;
    }
    return 0;
}

/* 1 when the man page has the entry ".TP\n.B KEY\n". */
static int
in_man(const char *text, const char *key)
{
    char *entry = nl_xasprintf(".TP\n.B %s\n", key);
    int found = strstr(text, entry) != NULL;

    free(entry);
    return found;
}

/* The words between `from` and `to` in text, from .B/.BR lines and plain
 * ones alike, each followed by a space: " transport address port ". */
static char *
words_between(const char *text, const char *from, const char *to)
{
    const char *a = strstr(text, from), *b;
    char *out, *o;

    if (a == NULL || (b = strstr(a, to)) == NULL)
        fail_msg("man page: no \"%s\" ... \"%s\"", from, to);
    o = out = nl_xcalloc(1, (size_t)(b - a) * 2 + 2);
    *o++ = ' ';
    for (const char *p = a + strlen(from); p < b; p++) {
        if (*p == '.' && (p[-1] == '\n')) /* a macro: .B, .BR */
            p += strcspn(p, " \n");
        else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                 *p == '_')
            *o++ = *p;
        else if (o[-1] != ' ')
            *o++ = ' ';
    }
    if (o[-1] != ' ')
        *o = ' ';
    return out;
}

/* Every key of class `how` in scope, and no other key, is in words. */
static void
check_class(const char *words, unsigned scope, enum nl_change how,
            const char *where)
{
    for (size_t i = 0; i < nl_conf_nkeys; i++) {
        const struct key *k = &nl_conf_keys[i];
        char *w = nl_xasprintf(" %s ", k->name);
        int named = strstr(words, w) != NULL;

        free(w);
        if (!(k->flags & scope))
            continue;
        if (named != (k->change == how))
            fail_msg("man page, RELOAD: %s %s in %s, but the table says "
                     "class %d",
                     k->name, named ? "is" : "is not", where, k->change);
    }
}

static void
test_documented(void **state)
{
    char *example = slurp("etc/netlabd.conf.in");
    char *man = slurp("man/netlabd.conf.5.in");
    char *reload = strstr(man, "\n.SH RELOAD\n"), *w;

    (void)state;
    for (size_t i = 0; i < nl_conf_nkeys; i++) {
        if (!in_example(example, nl_conf_keys[i].name))
            fail_msg("etc/netlabd.conf.in does not show %s",
                     nl_conf_keys[i].name);
        if (!in_man(man, nl_conf_keys[i].name))
            fail_msg("man/netlabd.conf.5.in has no entry for %s",
                     nl_conf_keys[i].name);
    }
    assert_non_null(reload);
    w = words_between(reload, "with the same\naddress (", ")");
    check_class(w, KF_LISTENER, NL_CHANGE_ADDRESS, "the address");
    free(w);
    w = words_between(reload, "A change to", "gives every listener new");
    check_class(w, KF_TOP, NL_CHANGE_RESPAWN, "\"new serving processes\"");
    free(w);
    w = words_between(reload, "gives every listener new serving processes.",
                      "take effect at the next");
    check_class(w, KF_TOP, NL_CHANGE_RESTART, "\"at the next start\"");
    free(w);
    free(example);
    free(man);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listener_keys),
        cmocka_unit_test(test_not_keys),
        cmocka_unit_test(test_global_keys),
        cmocka_unit_test(test_documented),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
