/*
 * preflight.h - what `netlabd -t` checks beyond the file, without binding
 * anything, and the one folder netlabd makes for itself at start-up.
 */
#ifndef NL_PREFLIGHT_H
#define NL_PREFLIGHT_H

#include <stddef.h>

struct nl_conf;
struct nl_errs;

/*
 * Checks that a start with conf could get as far as serving: the folders
 * of the pidfile (`pidfile`, when not NULL, overrides conf's: -p), the
 * control socket, each unix listener and a log file exist and the master
 * (this process) may create files in them; a tcp or udp address resolves
 * and is one of this host's; a port below the unprivileged range is
 * bindable (root or CAP_NET_BIND_SERVICE).  rundir (nl_conf_rundir(), the
 * one folder start-up creates) may be missing when its parent is there.
 * Adds "FILE:LINE: ..." errors to
 * errs and "FILE:LINE: warning: ..." lines to warns (a port or unix socket
 * in use now, which a running netlabd may hold).  Opens no socket that
 * outlives the call.  Returns 0, or -1 when it added errors.
 */
int nl_preflight(const struct nl_conf *conf, const char *pidfile,
                 const char *rundir, struct nl_errs *errs,
                 struct nl_errs *warns);

/*
 * At start-up: creates the default runtime folder rundir (nl_conf_rundir(),
 * mode 0755) when the pidfile, control socket or a unix listener lives in it
 * and it is missing (/run is emptied at boot).  Its parent must exist.
 * Returns 0, or -1 with one line in err.
 */
int nl_rundir_make(const struct nl_conf *conf, const char *pidfile,
                   const char *rundir, char *err, size_t errlen);

#endif /* NL_PREFLIGHT_H */
