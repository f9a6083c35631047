/*
 * conf_int.h - what the files of the configuration reader share: the
 * description of a key (conf.c's keys[] table), the state of one parse,
 * and the helpers that read a value (conf_value.c) and check listeners
 * against each other (conf_listener.c).  Not for other modules, which see
 * conf.h only.
 */
#ifndef NL_CONF_INT_H
#define NL_CONF_INT_H

#include <stddef.h>

#include <libconfig.h>

#include "conf.h"

struct nl_errs;

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
    KT_LISTENERS,  /* a list of listener groups */
    KT_RULES,      /* a list of access rules (struct nl_rules, access.h) */
    KT_GROUP,      /* the name of a group that exists (char *) */
    KT_HOSTPORT    /* "HOST:PORT" or "[IPV6]:PORT" (char *) */
};

#define KF_TOP      0x01 /* a top-level key */
#define KF_LISTENER 0x02 /* a key of a listener group */
#define KF_REQUIRED 0x04 /* no default: must be given where it applies */
#define KF_INET     0x08 /* applies to tcp and udp only */
#define KF_UNIX     0x10 /* applies to unix and unix-dgram only */
#define KF_SOCKET   0x20 /* a unix socket path: sun_path limits its length */
#define KF_BY_MODEL 0x40 /* the default depends on the listener's model */
#define KF_KEEP     0x80 /* left unset, a reload keeps the running value */
#define KF_STREAM   0x100 /* applies to tcp and unix only */

struct key {
    const char *name; /* as in the file, and the field it fills */
    enum key_type type;
    unsigned flags;
    size_t off;     /* of the field in nl_conf or nl_listener_conf */
    size_t set_off; /* of a flag set to 1 when given; 0 for none */
    long long min, max;
    long long def;    /* default of a number, mode, level, bool or model */
    const char *sdef; /* default of a string; NULL leaves the field NULL */
    enum nl_change change; /* what a reload does when it changes */
    const char *doc;
};

/* conf_keys.c's table of every key, nl_conf_nkeys of them (at most
 * NL_CONF_MAX_KEYS: conf.c marks the keys it has seen in arrays of it). */
#define NL_CONF_MAX_KEYS 64
extern const struct key *const nl_conf_keys;
extern const size_t nl_conf_nkeys;

/* 1 when key k may appear in a listener of transport t (-1: unknown). */
int nl_conf_key_applies(const struct key *k, int t);

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
    int transport;    /* of the listener being read, -1 when unknown */
};

/* The line of setting s in the file it came from. */
int nl_conf_line_of(const config_setting_t *s);

/* The file setting s came from, as messages name it.  A new string. */
char *nl_conf_file_of(const struct parse *p, const config_setting_t *s);

/* Adds "FILE:LINE: PREFIX.NAME: message" for s and counts the error. */
void nl_conf_error(struct parse *p, const config_setting_t *s,
                   const char *prefix, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* What s holds, for messages: "an integer", "a group", ... */
const char *nl_conf_type_name(const config_setting_t *s);

/* Checks s as a value of key k and stores it in the struct at base
 * (conf_value.c).  Returns 0, or -1 after reporting what is wrong. */
int nl_conf_set_value(struct parse *p, const struct key *k,
                      const config_setting_t *s, const char *prefix,
                      void *base);

/* Stores the default of key k in the struct at base. */
void nl_conf_set_default(const struct key *k, void *base);

/* Report listener i's name, or its address, when a listener before it has
 * it already (conf_listener.c). */
void nl_conf_check_name(struct parse *p, size_t i, const char *label);
void nl_conf_check_address(struct parse *p, size_t i, const char *label);

#endif /* NL_CONF_INT_H */
