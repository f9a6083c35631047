/*
 * master.h - the master process: binds every listener, starts and watches
 * the serving processes, owns the signals and the control socket.  It never
 * runs handler code.
 */
#ifndef NL_MASTER_H
#define NL_MASTER_H

struct nl_conf;
struct nl_master;

/*
 * Takes conf (the master frees it), locks the pidfile (refusing to start
 * over a live netlabd) and binds every listener.  Returns the master, or
 * NULL after logging why ("FILE:LINE: listener NAME: ..." for a bind).
 */
struct nl_master *nl_master_new(struct nl_conf *conf, const char *pidfile);

/*
 * Writes the pidfile, opens the control socket, starts the serving
 * processes and runs until stopped.  When every serving process is up it
 * writes one byte to ready_fd (if not -1) and tells systemd READY=1.
 * Returns the exit status; everything is cleaned up and freed.
 */
int nl_master_run(struct nl_master *m, int ready_fd);

#endif /* NL_MASTER_H */
