/*
 * serve.h - the serving process of one listener: what runs in the child
 * the master forks for it.
 */
#ifndef NL_SERVE_H
#define NL_SERVE_H

#include <stdint.h>

struct nl_conf;
struct nl_counters;
struct nl_listener_conf;
struct nl_sources;

/*
 * Runs in a freshly forked child and never returns: drops privileges to
 * conf->user/group, loads and initialises the handler, writes one byte to
 * ready_fd (then closes it), serves fd with the listener's model until
 * stopped, and exits.  ctr is this process's counter slot, gate the
 * listener's gate: its `active` counts open sessions (see admit.h);
 * sources its per-source table, or NULL (sources.h).  Exit
 * status 0 after a graceful stop; otherwise NL_SERVE_EXIT_* and a log line
 * saying why.
 */
void nl_serve(const struct nl_conf *conf, const struct nl_listener_conf *lc,
              int fd, struct nl_counters *ctr, struct nl_counters *gate,
              struct nl_sources *sources, int ready_fd)
    __attribute__((noreturn));

#define NL_SERVE_EXIT_PRIVS   3 /* could not drop privileges */
#define NL_SERVE_EXIT_HANDLER 4 /* the handler did not load or init */
#define NL_SERVE_EXIT_MODEL   5 /* the model could not start */

#endif /* NL_SERVE_H */
