/*
 * conf.h - netlabd.conf parsed into a validated, read-only description.
 *
 * nl_conf_load() reads the file with libconfig, checks every key against the
 * table in conf.c, resolves relative paths against the file's folder and
 * fills struct nl_conf.  Nothing in the result is changed afterwards: a
 * reload builds a new one.  Plugins are not loaded here (see plugins.h).
 */
#ifndef NL_CONF_H
#define NL_CONF_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "access.h"

struct nl_errs;

enum nl_transport_kind {
    NL_TRANSPORT_TCP,
    NL_TRANSPORT_UDP,
    NL_TRANSPORT_UNIX,
    NL_TRANSPORT_UNIX_DGRAM
};

enum nl_model_kind { NL_MODEL_PREFORK, NL_MODEL_THREADS, NL_MODEL_LIBEV };

/* How many of each there are: the kinds run from 0 to these minus 1. */
#define NL_TRANSPORT_KINDS 4
#define NL_MODEL_KINDS     3

/*
 * How a reload treats a change to a key, weakest first.  Each key in
 * conf.c's table has one, and what a reload compares is derived from the
 * table (nl_listener_change(), nl_conf_changed()), so that a new key
 * cannot be forgotten there.
 */
enum nl_change {
    NL_CHANGE_NONE,    /* the same; or a key not compared on its own */
    NL_CHANGE_LIVE,    /* applied at once, by the master alone */
    NL_CHANGE_RESPAWN, /* new serving processes; a listener keeps its socket */
    NL_CHANGE_ADDRESS, /* another socket: a listener's address */
    NL_CHANGE_RESTART  /* a global key that only the next start applies */
};

/* One key of a listener's `options` group, its scalar value as text. */
struct nl_option {
    char *key;
    char *value;
    int line;
};

struct nl_listener_conf {
    char *name;
    int line; /* where the listener's group starts */
    enum nl_transport_kind transport;
    char *address; /* tcp/udp: as written, NULL for unix */
    int port;      /* tcp/udp */
    int ipv6only;  /* tcp/udp: 1 when ipv6only = true */
    char *path;    /* unix/unix-dgram: resolved; NULL for tcp/udp */
    mode_t mode;   /* unix/unix-dgram socket file permissions */
    int mode_set;  /* 1 when `mode` was given */
    enum nl_model_kind model;
    int workers;
    int max_workers; /* prefork, threads: the pool's cap; libev: workers */
    char *handler;            /* as configured */
    char *handler_path;       /* resolved path of the .so */
    struct stat handler_stat; /* the .so when the config was read */
    struct nl_option *options;
    size_t noptions;
    int options_line; /* line of the options group, or of the listener */
    int max_connections;
    int idle_timeout; /* seconds, 0 = none */
    int max_line;     /* bytes */
    int backlog;
    /* Who may connect (access.h): refused when deny matches, or when
     * allow is not empty and does not. */
    struct nl_rules allow;
    struct nl_rules deny;
    int max_connections_per_source;     /* 0: no limit */
    int max_connection_rate_per_source; /* new sessions a second; 0: none */
    int access_log; /* 1: a log line per session when it ends */
    /* 1: a load balancer sends a PROXY header first (proxy.h), and the
     * client it names is the peer (session.c) */
    int proxy_protocol;
    /* The handler's version, as its table says; set by the handler check
     * (plugin_check.h), NULL before it. */
    char *handler_version;
};

struct nl_conf {
    char *file;       /* as given on the command line */
    char *log_target; /* "stderr", "syslog" or a resolved file path */
    int log_target_set;
    int log_level; /* enum nl_log_level */
    char *pidfile;
    char *control;
    mode_t control_mode;
    char *plugin_dir;
    char *user;       /* NULL when not set (see nl_privs_resolve()) */
    int user_default; /* 1 when user is the default account, not set */
    char *group;      /* NULL when not set */
    char *control_group;       /* group owner of the control socket */
    char *control_admin_group; /* may reload, stop, log-reopen too */
    char *metrics_listen;      /* "HOST:PORT" for GET /metrics, or NULL */
    int shutdown_timeout;
    struct nl_listener_conf *listeners;
    size_t nlisteners;
    int *top_lines; /* line of each top-level key given; see nl_conf_line() */
};

/* Defaults that DESIGN.md fixes. */
#define NL_DEFAULT_MAX_CONNECTIONS  1024
#define NL_DEFAULT_IDLE_TIMEOUT     300
#define NL_DEFAULT_MAX_LINE         8192
#define NL_MAX_LINE_MAX             16777216 /* the largest max_line */
#define NL_DEFAULT_BACKLOG          511
#define NL_DEFAULT_SHUTDOWN_TIMEOUT 10
#define NL_DEFAULT_CONTROL_MODE     0660
#define NL_DEFAULT_WORKERS_PREFORK  4
#define NL_DEFAULT_WORKERS_THREADS  8
#define NL_DEFAULT_WORKERS_LIBEV    1
/* Workers a prefork or threads pool may grow to (Apache's
 * MaxRequestWorkers), or `workers` when that is more. */
#define NL_DEFAULT_MAX_WORKERS      256
/* Seconds a worker past `workers` stays idle before it ends (prefork and
 * threads; netlabd.conf(5) says it). */
#define NL_POOL_IDLE_EXIT           10

/*
 * Reads and validates `file`.  Returns the configuration, or NULL after
 * adding one "FILE:LINE: message" line to errs for every error found (all
 * of them where libconfig's parser got that far).  FILE is `file` as given.
 */
struct nl_conf *nl_conf_load(const char *file, struct nl_errs *errs);

/*
 * The line of top-level key `key` (as "pidfile") in conf->file, or 0 when
 * the file does not set it (the default applies).
 */
int nl_conf_line(const struct nl_conf *conf, const char *key);

/*
 * Adds "FILE:LINE: message" to errs, or "FILE: message" when line is 0,
 * FILE being conf->file as given: for checks made after loading.
 */
void nl_conf_report(const struct nl_conf *conf, struct nl_errs *errs,
                    int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The folder of the default pidfile and control socket ($runstatedir/
 * netlabd): the one folder netlabd creates at start-up when it is missing,
 * as /run is emptied at boot.  Returns a new string.
 */
char *nl_conf_rundir(void);

/* Frees a configuration from nl_conf_load(); NULL is fine. */
void nl_conf_free(struct nl_conf *conf);

/*
 * What each transport and model is, from their tables (conf_kinds.c):
 * ask these rather than compare kinds.  A value outside the enum is
 * named "?" and is neither datagram nor unix.
 */
const char *nl_transport_name(enum nl_transport_kind t);
const char *nl_model_name(enum nl_model_kind m);

/* 1 for udp and unix-dgram. */
int nl_transport_is_dgram(enum nl_transport_kind t);

/* 1 for unix and unix-dgram: a socket file rather than an address. */
int nl_transport_is_unix(enum nl_transport_kind t);

/* The transport named `name`, or -1. */
int nl_transport_lookup(const char *name);

/* The transport of a unix (is_unix = 1) or inet socket of datagrams
 * (dgram = 1) or a stream, as enum nl_transport_kind. */
int nl_transport_find(int is_unix, int dgram);

/* `workers` when the listener does not set it. */
int nl_model_default_workers(enum nl_model_kind m);

/* How many serving processes a listener needs: its workers for prefork,
 * where each worker is a process; 1 for the models of one process. */
int nl_model_procs(const struct nl_listener_conf *lc);

/* 1 when the model's pool grows past `workers` up to max_workers under
 * load (prefork, threads); libev's event loops each serve many sessions. */
int nl_model_grows(enum nl_model_kind m);

/* 1 when each worker of the model is a serving process (prefork). */
int nl_model_worker_procs(enum nl_model_kind m);

/* The most serving processes a listener may run: max_workers for prefork
 * on a stream transport, workers for prefork on a datagram one, otherwise
 * 1. */
int nl_model_max_procs(const struct nl_listener_conf *lc);

/*
 * Writes the listener's address as status shows it: "127.0.0.1:7001",
 * "[::1]:7001" or the socket path.  Returns buf.
 */
char *nl_listener_address(const struct nl_listener_conf *lc, char *buf,
                          size_t len);

/* 1 when a and b name the same socket: transport and address and port
 * (and ipv6only), or path. */
int nl_listener_same_address(const struct nl_listener_conf *a,
                             const struct nl_listener_conf *b);

/*
 * 1 when a and b are the same listener spec: same name, address, model,
 * workers, handler (and its file unchanged on disk: device, inode, size,
 * mtime), options and limits.  A reload keeps such a listener as it is.
 */
int nl_listener_equal(const struct nl_listener_conf *a,
                      const struct nl_listener_conf *b);

/*
 * The strongest change between listener specs a and b, as enum nl_change:
 * NL_CHANGE_ADDRESS when they name different sockets, NL_CHANGE_RESPAWN
 * when the socket is the same but the spec is not (the handler's file
 * compared as nl_listener_equal() says, the options as a set),
 * NL_CHANGE_NONE when they are equal.  Keys that do not apply to a's
 * transport (a path for tcp, a port for unix) are not compared.
 */
int nl_listener_change(const struct nl_listener_conf *a,
                       const struct nl_listener_conf *b);

/*
 * 1 when a top-level key whose change a reload treats as `how` differs
 * between a (the running configuration) and b (the new one): with
 * NL_CHANGE_RESPAWN, every listener needs new serving processes; with
 * NL_CHANGE_RESTART, something changed that only the next start applies.
 * A log_target that b does not set keeps a's, so it is not a change.
 */
int nl_conf_changed(const struct nl_conf *a, const struct nl_conf *b,
                    enum nl_change how);

#endif /* NL_CONF_H */
