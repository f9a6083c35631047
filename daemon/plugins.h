/*
 * plugins.h - the handler loader: find a .so, check its table, run its
 * per-listener init with the listener's options.  The check of every
 * listener's handler in a child is plugin_check.h's.
 */
#ifndef NL_PLUGINS_H
#define NL_PLUGINS_H

#include <stddef.h>

/* The check's callers include this header for it. */
#include "plugin_check.h"

/* Longest message one refusal produces; the check's child sends no longer
 * lines. */
#define NL_PLUGIN_MSG_MAX 1024

struct netlabd_handler;
struct nl_listener_conf;
struct nl_plugin;

/*
 * Loads the handler at `path` (RTLD_NOW | RTLD_LOCAL) and checks its
 * `netlabd_handler` table: symbol present, magic, ABI version, table size,
 * name set.  Returns the plugin, or NULL with one message in err naming the
 * file, what was found and what was expected; the handle is closed then.
 */
struct nl_plugin *nl_plugin_load(const char *path, char *err, size_t errlen);

/*
 * Like nl_plugin_load(), but loads a private copy of the file (a memfd), so
 * that a handler rebuilt or copied over on disk never changes the code of a
 * process already running it.  Serving processes load handlers this way.
 * fd, when not -1, is path already opened (before dropping privileges);
 * it is closed.
 */
struct nl_plugin *nl_plugin_load_copy(const char *path, int fd, char *err,
                                      size_t errlen);

/* dlclose()s the plugin; NULL is fine. */
void nl_plugin_unload(struct nl_plugin *p);

const struct netlabd_handler *nl_plugin_handler(const struct nl_plugin *p);

/*
 * Calls the handler's init() with the listener's options and returns what
 * it stored with netlabd_set_listener_data() in *state.  Returns 0, or -1
 * with a message in err when init() refused (its own words) or an option
 * was never asked for ("unknown option `x'"); *line is then the config
 * line the error belongs to.
 */
int nl_plugin_init(struct nl_plugin *p, const struct nl_listener_conf *lc,
                   void **state, char *err, size_t errlen, int *line);

/* Calls fini(state) when the handler has one. */
void nl_plugin_fini(struct nl_plugin *p, void *state);

/*
 * Prints the plugin's file, name, version, ABI version and framing to
 * stdout without calling any of its callbacks.  Returns 0, or -1 after
 * printing the load error to stderr.
 */
int nl_plugin_info(const char *path);

#endif /* NL_PLUGINS_H */
