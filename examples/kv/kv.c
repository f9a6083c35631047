/*
 * kv.c - an example netlabd handler: a small key-value store per session.
 *
 * Every connection gets a store of its own, empty at first, and sends
 * commands, one a line; every command gets a one-line answer:
 *
 *   set KEY VALUE   keeps VALUE (the rest of the line) under KEY   -> OK
 *   get KEY         -> the value, or NOT FOUND
 *   del KEY         forgets KEY                           -> OK, or NOT FOUND
 *   quit            -> BYE, and the session ends
 *
 * One option, in the listener's `options` group (or `-o` for
 * netlabd-plugin-run):
 *
 *   max_keys        how many keys one session may hold, 1 to 1000
 *                   (default 16); any other value is refused, and netlabd
 *                   then refuses the configuration with the file and line.
 *
 * It is written to be copied: it shows reading and checking an option in
 * init(), the listener's state (made in init(), read-only afterwards,
 * freed in fini()), a session's state (made in open(), freed in close()),
 * line framing, answering, ending a session politely, and what a datagram
 * is to a handler.  It includes nothing of netlabd's but <netlabd/plugin.h>.
 *
 * Build it:  make                 (the Makefile next to this file)
 * Try it:    printf 'set a 1\nget a\n' | netlabd-plugin-run ./kv.so
 * Serve it:  handler = "/path/to/kv.so"; options = { max_keys = 100; };
 */
#define _POSIX_C_SOURCE 200809L /* strdup() also under -std=c99 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlabd/plugin.h>

/* The default of max_keys; `make CPPFLAGS=-DKV_DEFAULT_MAX_KEYS=4` builds
 * one with another default. */
#ifndef KV_DEFAULT_MAX_KEYS
#define KV_DEFAULT_MAX_KEYS 16
#endif
#define KV_MAX_KEYS_LIMIT 1000

/*
 * The listener's state: what init() made of the options.  netlabd may run
 * callbacks of different sessions at the same time on different threads
 * (the `threads` model), so this is only read after init(): no lock needed.
 */
struct kv_conf {
    long max_keys;
};

/* A session's state: only this session's callbacks see it, and they never
 * run at the same time, so it needs no lock either. */
struct kv_item {
    char *key;
    char *value;
};

struct kv_store {
    size_t n;               /* items in use */
    struct kv_item items[]; /* max_keys of them */
};

/*
 * Called once per listener before any session: when netlabd checks the
 * configuration (netlabd -t, start-up, reload) and in each serving process.
 * Options arrive as text; a missing one is NULL.  Returning -1 after
 * netlabd_init_error() refuses the configuration; netlabd reports the
 * message with the config file and line.  An option the handler never
 * asks for is reported as unknown, so a typo does not pass unnoticed.
 */
static int
kv_init(struct netlabd_init *ini)
{
    const char *text = netlabd_option(ini, "max_keys");
    long max_keys = KV_DEFAULT_MAX_KEYS;
    struct kv_conf *conf;

    if (text != NULL) {
        char *end;

        errno = 0;
        max_keys = strtol(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0' || max_keys < 1 ||
            max_keys > KV_MAX_KEYS_LIMIT) {
            netlabd_init_error(ini, "max_keys: expected 1 to %d, got `%s'",
                               KV_MAX_KEYS_LIMIT, text);
            return -1;
        }
    }
    if ((conf = malloc(sizeof(*conf))) == NULL) {
        netlabd_init_error(ini, "out of memory");
        return -1;
    }
    conf->max_keys = max_keys;
    netlabd_set_listener_data(ini, conf);
    return 0;
}

/* Undoes init(); gets what init() stored. */
static void
kv_fini(void *listener_data)
{
    free(listener_data);
}

/* A stream session (a tcp or unix connection) begins: make its store. */
static int
kv_open(struct netlabd_session *s)
{
    const struct kv_conf *conf = netlabd_listener_data(s);
    struct kv_store *store;

    store = calloc(1, sizeof(*store) +
                          (size_t)conf->max_keys * sizeof(struct kv_item));
    if (store == NULL)
        return -1; /* ends the session at once, counted as an error */
    netlabd_set_data(s, store);
    return 0;
}

/* The session ended, whoever ended it: free its store. */
static void
kv_close(struct netlabd_session *s)
{
    struct kv_store *store = netlabd_get_data(s);

    if (store == NULL)
        return;
    for (size_t i = 0; i < store->n; i++) {
        free(store->items[i].key);
        free(store->items[i].value);
    }
    free(store);
}

/* netlabd_write() sends bytes to the client (what the socket does not
 * take at once is queued, in order); -1 means the session is
 * over, and returning that -1 from data() lets netlabd end it. */
static int
reply(struct netlabd_session *s, const char *text)
{
    return netlabd_write(s, text, strlen(text));
}

static struct kv_item *
find(struct kv_store *store, const char *key)
{
    for (size_t i = 0; i < store->n; i++)
        if (strcmp(store->items[i].key, key) == 0)
            return &store->items[i];
    return NULL;
}

static int
cmd_set(struct netlabd_session *s, struct kv_store *store, const char *key,
        const char *value)
{
    const struct kv_conf *conf = netlabd_listener_data(s);
    struct kv_item *it = find(store, key);
    char *copy = strdup(value);

    if (copy == NULL)
        return -1;
    if (it == NULL) {
        if (store->n == (size_t)conf->max_keys) {
            free(copy);
            return reply(s, "ERR full\n");
        }
        it = &store->items[store->n];
        if ((it->key = strdup(key)) == NULL) {
            free(copy);
            return -1;
        }
        store->n++;
    } else {
        free(it->value);
    }
    it->value = copy;
    return reply(s, "OK\n");
}

static int
cmd_get(struct netlabd_session *s, struct kv_store *store, const char *key)
{
    const struct kv_item *it = find(store, key);

    if (it == NULL)
        return reply(s, "NOT FOUND\n");
    if (reply(s, it->value) == -1)
        return -1;
    return reply(s, "\n");
}

static int
cmd_del(struct netlabd_session *s, struct kv_store *store, const char *key)
{
    struct kv_item *it = find(store, key);

    if (it == NULL)
        return reply(s, "NOT FOUND\n");
    free(it->key);
    free(it->value);
    *it = store->items[--store->n]; /* the last one fills the hole */
    return reply(s, "OK\n");
}

/* Cuts the first word off *p (spaces separate words); "" at the end. */
static char *
word(char **p)
{
    char *w = *p + strspn(*p, " ");
    char *end = w + strcspn(w, " ");

    *p = end;
    if (*end != '\0') {
        *end = '\0';
        *p = end + 1;
    }
    return w;
}

/*
 * With NETLABD_FRAMING_LINE, data() gets one line at a time, without its
 * "\n" or "\r\n"; a line longer than the listener's max_line ends the
 * session before it gets here.  The bytes are not NUL-terminated and may
 * hold anything, so work on a terminated copy.
 */
static int
kv_data(struct netlabd_session *s, const void *buf, size_t len)
{
    struct kv_store *store = netlabd_get_data(s);
    char *line, *p, *cmd, *key;
    int rc;

    /* On udp and unix-dgram listeners each datagram is a session of its
     * own, and open() and close() are not called: there is no store. */
    if (store == NULL)
        return reply(s, "ERR kv keeps a store per connection: "
                        "use a stream transport\n");
    if ((line = malloc(len + 1)) == NULL)
        return -1;
    memcpy(line, buf, len);
    line[len] = '\0';
    p = line;
    cmd = word(&p);
    key = word(&p);
    if (strcmp(cmd, "quit") == 0 && *key == '\0') {
        rc = reply(s, "BYE\n");
        /* Ends the session once BYE has been sent. */
        netlabd_close(s);
    } else if (strcmp(cmd, "set") == 0 && *key != '\0') {
        rc = cmd_set(s, store, key, p);
    } else if (strcmp(cmd, "get") == 0 && *key != '\0' && *p == '\0') {
        rc = cmd_get(s, store, key);
    } else if (strcmp(cmd, "del") == 0 && *key != '\0' && *p == '\0') {
        rc = cmd_del(s, store, key);
    } else {
        rc = reply(s, "ERR expected set KEY VALUE, get KEY, del KEY or quit\n");
    }
    free(line);
    return rc;
}

/*
 * The one symbol netlabd looks for.  NETLABD_HANDLER_HEADER fills in the
 * magic number, the ABI version and the size of this table, so that
 * netlabd can refuse a handler built for another ABI with a clear message.
 */
const struct netlabd_handler netlabd_handler = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_LINE,
    .name = "kv",
    .version = "1.0",
    .init = kv_init,
    .fini = kv_fini,
    .open = kv_open,
    .data = kv_data,
    .close = kv_close,
};
