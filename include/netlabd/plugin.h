/*
 * netlabd/plugin.h - the netlabd handler plugin ABI.
 *
 * This is the only header a handler author includes.  A handler is a shared
 * object that exports one symbol, `netlabd_handler`, a const struct
 * netlabd_handler filled in with NETLABD_HANDLER_HEADER and the callbacks it
 * needs.  netlabd loads it with dlopen() in the process that serves a
 * listener, after that process has dropped privileges.
 *
 *   #include <netlabd/plugin.h>
 *
 *   static int
 *   on_data(struct netlabd_session *s, const void *buf, size_t len)
 *   {
 *       return netlabd_write(s, buf, len);
 *   }
 *
 *   const struct netlabd_handler netlabd_handler = {
 *       NETLABD_HANDLER_HEADER,
 *       .name = "echo",
 *       .version = "1.0",
 *       .data = on_data,
 *   };
 *
 * Build it with `cc -shared -fPIC $(pkg-config --cflags netlabd-plugin)`.
 *
 * Sessions.  On a stream transport (tcp, unix) a session is one connection:
 * open() is called when it is accepted, data() for each line or chunk of
 * bytes, close() once when it ends, whoever ends it.  On a datagram transport
 * (udp, unix-dgram) each datagram is a session of its own: data() is called
 * once with the whole datagram, every netlabd_write() sends one reply
 * datagram to its sender, and open() and close() are not called.
 *
 * Framing.  With NETLABD_FRAMING_LINE data() receives one line at a time,
 * without its "\n" or "\r\n"; a last line that the peer ends without a
 * newline is delivered when the peer stops sending.  A line longer than the
 * listener's max_line closes the session (netlabd logs it).  With
 * NETLABD_FRAMING_RAW data() receives bytes as they arrive, in chunks of any
 * size: a handler must not assume that one write by the peer is one call.
 * A datagram is one message whatever the framing; a line handler sees it
 * without one trailing newline.
 *
 * Return values.  open() and data() return 0 to go on or -1 to end the
 * session at once (pending output is dropped, the listener's error counter
 * is increased).  To end a session politely, call netlabd_close(), which
 * closes it once its output has been sent.
 *
 * Threads.  init() and fini() are called once per listener in a serving
 * process, with no session open and no other callback running.  Under the
 * `threads` model (and `libev` with workers > 1), callbacks for different
 * sessions run at the same time on different threads; callbacks for one
 * session never overlap and see the same session pointer.  So per-session
 * state (netlabd_set_data) needs no lock, while state shared between
 * sessions (the listener state returned by init, globals, static buffers,
 * non-reentrant libc calls such as ctime() or strtok()) must be read-only
 * after init() or guarded by the handler.
 *
 * Versioning.  NETLABD_ABI_VERSION changes whenever this header changes in a
 * way that breaks built plugins; netlabd refuses a plugin built for another
 * version, and one whose magic number is wrong.  Within one ABI version
 * both tables only grow:
 *
 *   - struct netlabd_handler ends in reserved slots (NULL in an older
 *     plugin), so that callbacks can be added without changing its size.
 *   - struct netlabd_host, the functions netlabd offers, gets new functions
 *     appended at its end, never inserted or removed or reordered; its
 *     `size` says how many this netlabd has.  Every wrapper below checks
 *     that size (and that the function is there) before calling, so a
 *     handler built with a newer header still runs on an older netlabd:
 *     a wrapper for a function that netlabd lacks returns its error value
 *     (-1, NULL, or does nothing) instead of jumping through a missing
 *     pointer.  A handler that needs such a function checks for the error.
 */
#ifndef NETLABD_PLUGIN_H
#define NETLABD_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NETLABD_ABI_VERSION 1
#define NETLABD_MAGIC       0x4e4c4844u /* "NLHD" */

/* The name of the one symbol a plugin exports. */
#define NETLABD_HANDLER_SYMBOL "netlabd_handler"

enum netlabd_framing {
    NETLABD_FRAMING_RAW = 0, /* data() sees bytes as they arrive */
    NETLABD_FRAMING_LINE = 1 /* data() sees one line at a time */
};

enum netlabd_log_level {
    NETLABD_LOG_DEBUG = 0,
    NETLABD_LOG_INFO,
    NETLABD_LOG_NOTICE,
    NETLABD_LOG_WARNING,
    NETLABD_LOG_ERROR
};

/* A session: one connection, or one datagram.  Opaque to handlers. */
struct netlabd_session;

/* What init() is handed: the listener's options and a place for an error. */
struct netlabd_init;

/* The functions netlabd offers a handler.  Reached through the inline
 * wrappers below; a handler does not use this table directly. */
struct netlabd_host {
    uint32_t size; /* sizeof(struct netlabd_host) of the daemon */
    /* Members are only ever appended (see Versioning above). */
    int (*write)(struct netlabd_session *s, const void *buf, size_t len);
    void (*close)(struct netlabd_session *s);
    const char *(*peer)(struct netlabd_session *s);
    void (*set_data)(struct netlabd_session *s, void *data);
    void *(*get_data)(struct netlabd_session *s);
    void *(*listener_data)(struct netlabd_session *s);
    void (*vlog)(struct netlabd_session *s, int level, const char *fmt,
                 va_list ap);
    const char *(*option)(struct netlabd_init *ini, const char *key);
    void (*set_listener_data)(struct netlabd_init *ini, void *data);
    void (*init_error)(struct netlabd_init *ini, const char *fmt, va_list ap);
    const char *(*listener_name)(struct netlabd_init *ini);
    int (*peer_cred)(struct netlabd_session *s, pid_t *pid, uid_t *uid,
                     gid_t *gid);
};

/*
 * The first member of every session and init handle, so that the inline
 * wrappers can reach the host table without global state in the plugin.
 * Handlers never read or write it.
 */
struct netlabd_handle {
    const struct netlabd_host *host;
};


/* The table a plugin exports as `netlabd_handler`. */
struct netlabd_handler {
    uint32_t magic;       /* NETLABD_MAGIC */
    uint32_t abi_version; /* NETLABD_ABI_VERSION */
    uint32_t size;        /* sizeof(struct netlabd_handler) */
    uint32_t framing;     /* enum netlabd_framing */
    const char *name;     /* short name, for logs and --plugin-info */
    const char *version;  /* the plugin's own version */

    /*
     * Per listener, in the serving process and in the configuration check
     * (netlabd -t, start-up, reload).  Read options with netlabd_option(),
     * keep shared state with netlabd_set_listener_data().  Return 0, or -1
     * after netlabd_init_error() to refuse the options: the message is
     * reported with the config file and line.  Options the handler never
     * asked for are reported as unknown.  May be NULL.
     */
    int (*init)(struct netlabd_init *ini);
    /* Undoes init(); gets what init() stored.  May be NULL. */
    void (*fini)(void *listener_data);

    /* A stream session began.  May be NULL. */
    int (*open)(struct netlabd_session *s);
    /* A line, a chunk of bytes, or a datagram arrived.  May be NULL. */
    int (*data)(struct netlabd_session *s, const void *buf, size_t len);
    /* A stream session ended; free what set_data() holds.  May be NULL. */
    void (*close)(struct netlabd_session *s);

    void (*reserved[8])(void); /* must be NULL */
};

#define NETLABD_HANDLER_HEADER                                                 \
    .magic = NETLABD_MAGIC, .abi_version = NETLABD_ABI_VERSION,                \
    .size = sizeof(struct netlabd_handler)

/*
 * The table a handler defines.  Declared here so that the definition is
 * exported even when the handler is built with -fvisibility=hidden, and has
 * C linkage (not C++'s internal linkage of a const) in a C++ handler.
 */
extern const struct netlabd_handler netlabd_handler
    __attribute__((visibility("default")));

#define NETLABD_HOST(h)                                                        \
    (((const struct netlabd_handle *)(const void *)(h))->host)

/*
 * 1 when the host table reached through h has the function `fn`: its size
 * covers the member (the table may come from an older netlabd, which has
 * fewer) and the member is set (session functions are not, during init()).
 */
#define NETLABD_HOST_HAS(h, fn)                                                \
    (NETLABD_HOST(h)->size >= offsetof(struct netlabd_host, fn) +              \
                                  sizeof(NETLABD_HOST(h)->fn) &&               \
     NETLABD_HOST(h)->fn != NULL)

/*
 * Sends len bytes to the peer (stream: at once when the socket takes them,
 * the rest queued in order) or as one reply datagram (datagram): an answer
 * written in one call goes out in one system call.  Returns 0, or -1 when
 * the session is closing or its output queue is full (2 MiB beyond what
 * the socket took); the session is then ended by netlabd.
 */
static inline int
netlabd_write(struct netlabd_session *s, const void *buf, size_t len)
{
    if (!NETLABD_HOST_HAS(s, write))
        return -1;
    return NETLABD_HOST(s)->write(s, buf, len);
}

/* Ends the session once every queued byte has been sent; later data is
 * ignored.  On a datagram session it does nothing. */
static inline void
netlabd_close(struct netlabd_session *s)
{
    if (NETLABD_HOST_HAS(s, close))
        NETLABD_HOST(s)->close(s);
}

/* The peer as text: "192.0.2.7:5512", "[2001:db8::1]:5512", a socket path,
 * or "unix" for an unnamed unix socket.  Valid during the callback. */
static inline const char *
netlabd_peer(struct netlabd_session *s)
{
    if (!NETLABD_HOST_HAS(s, peer))
        return "unknown";
    return NETLABD_HOST(s)->peer(s);
}

/*
 * The credentials of the peer process of a unix stream session, as the
 * kernel noted them when it connected (SO_PEERCRED): 0, or -1 on any
 * other transport (and on a netlabd older than this function).  Any of
 * pid, uid, gid may be NULL.
 */
static inline int
netlabd_peer_cred(struct netlabd_session *s, pid_t *pid, uid_t *uid,
                  gid_t *gid)
{
    if (!NETLABD_HOST_HAS(s, peer_cred))
        return -1;
    return NETLABD_HOST(s)->peer_cred(s, pid, uid, gid);
}

/* Per-session pointer, NULL at open(). */
static inline void
netlabd_set_data(struct netlabd_session *s, void *data)
{
    if (NETLABD_HOST_HAS(s, set_data))
        NETLABD_HOST(s)->set_data(s, data);
}

static inline void *
netlabd_get_data(struct netlabd_session *s)
{
    if (!NETLABD_HOST_HAS(s, get_data))
        return NULL;
    return NETLABD_HOST(s)->get_data(s);
}

/* What init() stored with netlabd_set_listener_data(). */
static inline void *
netlabd_listener_data(struct netlabd_session *s)
{
    if (!NETLABD_HOST_HAS(s, listener_data))
        return NULL;
    return NETLABD_HOST(s)->listener_data(s);
}

/* Logs through netlabd's log, prefixed with the listener and the peer. */
static inline void netlabd_log(struct netlabd_session *s, int level,
                               const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void
netlabd_log(struct netlabd_session *s, int level, const char *fmt, ...)
{
    va_list ap;

    if (!NETLABD_HOST_HAS(s, vlog))
        return;
    va_start(ap, fmt);
    NETLABD_HOST(s)->vlog(s, level, fmt, ap);
    va_end(ap);
}

/* The option `key` of the listener's `options` group as text (numbers and
 * booleans are given in libconfig's notation), or NULL when it is absent. */
static inline const char *
netlabd_option(struct netlabd_init *ini, const char *key)
{
    if (!NETLABD_HOST_HAS(ini, option))
        return NULL;
    return NETLABD_HOST(ini)->option(ini, key);
}

static inline void
netlabd_set_listener_data(struct netlabd_init *ini, void *data)
{
    if (NETLABD_HOST_HAS(ini, set_listener_data))
        NETLABD_HOST(ini)->set_listener_data(ini, data);
}

static inline const char *
netlabd_listener_name(struct netlabd_init *ini)
{
    if (!NETLABD_HOST_HAS(ini, listener_name))
        return NULL;
    return NETLABD_HOST(ini)->listener_name(ini);
}

/* Says why init() refuses its options; init() then returns -1. */
static inline void netlabd_init_error(struct netlabd_init *ini, const char *fmt,
                                      ...)
    __attribute__((format(printf, 2, 3)));

static inline void
netlabd_init_error(struct netlabd_init *ini, const char *fmt, ...)
{
    va_list ap;

    if (!NETLABD_HOST_HAS(ini, init_error))
        return;
    va_start(ap, fmt);
    NETLABD_HOST(ini)->init_error(ini, fmt, ap);
    va_end(ap);
}

#ifdef __cplusplus
}
#endif

#endif /* NETLABD_PLUGIN_H */
