/*
 * activation.h - listening sockets systemd passes in (socket activation:
 * LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES).  The master adopts them at
 * start-up; listeners take theirs when they open (transport.c) and give
 * it back when they close, so that a reload finds it again.
 */
#ifndef NL_ACTIVATION_H
#define NL_ACTIVATION_H

#include <stddef.h>
#include <sys/types.h>

struct nl_conf;
struct nl_listener_conf;
struct nl_socket;

/* More than this many passed descriptors is taken for a malformed value. */
#define NL_ACTIVATION_MAX_FDS 4096

/*
 * First thing in main(), before anything forks: reads LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES, keeps their values for
 * nl_activation_start() and removes them from the environment.
 */
void nl_activation_read(void);

/*
 * Start-up, before anything binds, with what nl_activation_read() found:
 * when LISTEN_PID is this process, checks every passed socket against
 * conf's listeners.  A socket that contradicts the listener its name (or
 * failing a name, its address) gives it is an error; one that no listener
 * wants is closed with a warning (naming a listener at its port, whose
 * bind it would likely make fail).  LISTEN_PID of another process gets a
 * warning, its descriptors are left alone.  Returns 0, or -1 after logging
 * each error (FILE:LINE where a listener is concerned).
 */
int nl_activation_start(const struct nl_conf *conf);

/*
 * Tells the pool which names are listener names in conf, the configuration
 * about to take sockets: a socket carrying such a name goes to that
 * listener only; the others are matched by transport and address.
 */
void nl_activation_names(const struct nl_conf *conf);

/*
 * For opening lc's socket: 1 when lc took a passed socket (sk filled, and
 * logged), 0 when none is lc's, -1 when the socket passed under lc's name
 * contradicts lc (the reason in err).
 */
int nl_activation_take(const struct nl_listener_conf *lc, struct nl_socket *sk,
                       char *err, size_t errlen);

/* Gives an adopted socket back to the pool: neither closed nor unlinked. */
void nl_activation_give_back(const struct nl_listener_conf *lc,
                             struct nl_socket *sk);

/* Closes an adopted socket for good (at stop), and drops it from the pool. */
void nl_activation_release(struct nl_socket *sk);

/* In a forked child: closes the passed sockets no listener uses. */
void nl_activation_close_unused(void);

/*
 * Reads the values of LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES (each may
 * be NULL) as process self.  Returns how many sockets were passed to self
 * (0 when none, or when they are another process's) and, when names is
 * not NULL, that many names in a new array (NULL for a socket without a
 * name; free with nl_activation_free_names()); -1 with a reason in err
 * when a value is malformed.
 */
int nl_activation_parse(const char *pid, const char *fds, const char *fdnames,
                        pid_t self, char ***names, char *err, size_t errlen);
void nl_activation_free_names(char **names, int n);

#endif /* NL_ACTIVATION_H */
