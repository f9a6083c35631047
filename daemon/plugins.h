/*
 * plugins.h - the handler loader: find a .so, check its table, run its
 * per-listener init with the listener's options.
 */
#ifndef NL_PLUGINS_H
#define NL_PLUGINS_H

#include <stddef.h>

struct netlabd_handler;
struct nl_conf;
struct nl_errs;
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
 * For every listener of conf: loads its handler and runs init() and fini(),
 * in a short-lived child process so that handler code never runs in the
 * master.  Adds "FILE:LINE: listener NAME: ..." to errs for each failure.
 * Returns 0 when every handler loaded and accepted its options, else -1.
 */
int nl_plugins_check(const struct nl_conf *conf, struct nl_errs *errs);

/*
 * The same check, for an event loop (a reload must not stop the master):
 * nl_check_start() forks the child, or returns NULL after adding the
 * error to errs; call nl_check_read() when nl_check_fd() is readable until
 * it returns 1, then nl_check_end() (timed_out = 1 to give up on a child
 * that takes longer than NL_CHECK_TIMEOUT), which waits for the child,
 * frees the check and returns 0 or -1 as nl_plugins_check() does.
 */
#define NL_CHECK_TIMEOUT 30
struct nl_check;
struct nl_check *nl_check_start(const struct nl_conf *conf,
                                struct nl_errs *errs);
int nl_check_fd(const struct nl_check *c);
int nl_check_read(struct nl_check *c);
int nl_check_end(struct nl_check *c, int timed_out);

/*
 * Prints the plugin's file, name, version, ABI version and framing to
 * stdout without calling any of its callbacks.  Returns 0, or -1 after
 * printing the load error to stderr.
 */
int nl_plugin_info(const char *path);

#endif /* NL_PLUGINS_H */
