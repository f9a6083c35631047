/*
 * session.h - one client session as every model sees it: admission,
 * framing, bounded buffers, counters and the host side of the plugin API.
 * A model owns the waiting (libev watchers, a blocking thread, a prefork
 * worker): it asks nl_session_events() what to wait for, and when the
 * descriptor is ready calls nl_session_read() and nl_session_flush(),
 * which read and write through the session's transport (transport.h).
 * Keeping this here is what makes a handler give the same answers under
 * every model and over every transport.
 */
#ifndef NL_SESSION_H
#define NL_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <netlabd/plugin.h>

#include "buf.h"
#include "transport.h"

struct nl_counters;
struct nl_listener_conf;
struct nl_sources;

/* Bytes read at once, and the output levels at which reading pauses and
 * at which a session is ended for producing more than its client takes. */
#define NL_SESSION_READ_CHUNK 16384
#define NL_SESSION_OUT_HIGH   65536
#define NL_SESSION_OUT_MAX    (2 * 1024 * 1024)

/* What a serving process shares between all sessions of one listener. */
struct nl_session_env {
    const struct nl_listener_conf *lc;
    const struct netlabd_handler *handler;
    void *listener_data; /* what the handler's init() stored */
    struct nl_counters *ctr;
    /* Stream sessions open on the listener, across all its serving
     * processes and threads (shared memory): what max_connections caps. */
    uint64_t *gate;
    /* The gate's busy_logged_ms (stats.h), or NULL: one process alone. */
    uint64_t *busy_logged_ms;
    /* The gate again, where refusals by rules and limits are counted for
     * the log (admit.c), or NULL: one process alone. */
    struct nl_counters *refusals;
    /* The listener's per-source table (sources.h), or NULL. */
    struct nl_sources *sources;
    /* Where the serving process tells the master it has stopped taking
     * new connections (after a stop or a reload), or -1. */
    int notify_fd;
};

/*
 * A session.  Models and tests hold one (by value, so that no allocation
 * is needed per datagram), but only session.c reads or writes its fields:
 * a model asks through the functions below.
 */
struct nl_session {
    struct netlabd_handle h; /* first: the plugin's wrappers read it */
    const struct nl_session_env *env;
    struct nl_conn conn; /* the connection, through its transport */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    char peer_text[128];
    void *data;
    struct nl_buf in;     /* a partial line */
    struct nl_buf out;    /* bytes not yet written */
    unsigned dgram : 1;   /* a datagram session: each write one reply */
    unsigned lines : 1;   /* the handler's framing is by line */
    unsigned closing : 1; /* the handler asked to close after flushing */
    unsigned eof : 1;     /* the peer will send nothing more */
    unsigned failed : 1;  /* to be closed at once */
    unsigned opened : 1;  /* open() was called, so close() is due */
    unsigned held : 1;    /* s->in holds whole lines not yet delivered */
    unsigned batch : 1;   /* more lines of this read follow: queue writes */
    unsigned blocked : 1; /* the last write would have blocked */
    unsigned proxy : 1;   /* the PROXY header is awaited: not yet open */
    unsigned unserved : 1; /* closed without being served: no access line */
    unsigned health : 1;  /* a PROXY header without a client: a check */
    unsigned named : 1;   /* the peer is the client a PROXY header named */
    unsigned char end;    /* enum nl_end: why it ends, once known */
    uint64_t nin, nout;   /* bytes in and out: the access log's */
    double started;       /* nl_now() when the session was taken */
    double header_by;     /* nl_now() by which the PROXY header is due */
};

/* Why a session ended, as the access log says it. */
enum nl_end {
    NL_END_UNKNOWN,
    NL_END_CLIENT,  /* "client_closed": the peer ended its side */
    NL_END_HANDLER, /* "handler_closed": netlabd_close() */
    NL_END_IDLE,    /* "idle_timeout" */
    NL_END_LINE,    /* "line_too_long" */
    NL_END_ERROR,   /* "error": the handler refused, a read or write failed */
    NL_END_STOP     /* "daemon_stopping": shutdown_timeout passed */
};

/* A model ends s for why (NL_END_IDLE, NL_END_STOP) before
 * nl_session_end(); a reason noted earlier stands. */
void nl_session_ending(struct nl_session *s, enum nl_end why);

enum nl_io {
    NL_IO_OK = 0, /* progress */
    NL_IO_AGAIN,  /* would block */
    NL_IO_EOF,    /* the peer closed its side */
    NL_IO_ERROR   /* errno says why; the session is failed */
};

enum nl_accept {
    NL_ACCEPT_OK,    /* *c is a new, admitted connection */
    NL_ACCEPT_SKIP,  /* none taken (refused, aborted): try again */
    NL_ACCEPT_AGAIN, /* nothing waiting */
    NL_ACCEPT_FULL   /* out of descriptors or memory (logged): pause */
};

/*
 * Accepts one connection on the listening socket lfd through the
 * listener's transport (non-blocking, close-on-exec, set up for serving)
 * and admits it (admit.h).  Every model accepts through here.
 */
enum nl_accept nl_session_accept(const struct nl_session_env *env, int lfd,
                                 struct nl_conn *c,
                                 struct sockaddr_storage *peer,
                                 socklen_t *peer_len);

/*
 * Tells the master that this serving process takes no new connection or
 * datagram any more.  Each model calls it once, when a stop has closed
 * its listening socket; the master answers a reload only after that, so
 * that a connection made after the answer meets the new configuration.
 */
void nl_session_stopped_accepting(const struct nl_session_env *env);

/* Prepares s for the stream connection c from peer; the session owns c
 * from now on. */
void nl_session_init(struct nl_session *s, const struct nl_session_env *env,
                     const struct nl_conn *c, const struct sockaddr *peer,
                     socklen_t peer_len);

/*
 * Prepares s for a session over two plain descriptors that need not be
 * sockets, for netlabd-plugin-run: input is read from in_fd, output is
 * written to out_fd with write(), and the peer is called `peer`.  A stream
 * session is then served as one from nl_session_init() is (open, read,
 * flush, end); nl_session_end() closes neither descriptor.  With dgram = 1
 * it is a datagram session: feed it nl_session_message(), and every
 * netlabd_write() is written to out_fd at once, as one reply.
 */
void nl_session_init_plain(struct nl_session *s,
                           const struct nl_session_env *env, int in_fd,
                           int out_fd, int dgram, const char *peer);

/* Calls the handler's open().  Returns 0, or -1 when the session failed.
 * With proxy_protocol the open waits for the PROXY header: the session's
 * reads take it first (within NL_PROXY_TIMEOUT), then set the peer to the
 * client it names, admit that client (nl_admit_client()) and open. */
int nl_session_open(struct nl_session *s);

/* Seconds a connection has to send its PROXY header, or idle_timeout
 * when that is shorter. */
#define NL_PROXY_TIMEOUT 5

/*
 * Seconds left for the PROXY header to arrive: 0 when its time is up
 * (the model then calls nl_session_header_late() and ends the session),
 * -1 when no header is awaited.
 */
double nl_session_header_left(const struct nl_session *s);

/* The PROXY header did not come in time: counted, logged (at most once a
 * second per listener), and the session failed, to be ended. */
void nl_session_header_late(struct nl_session *s);

/*
 * Hands n bytes read from the peer to the handler through the listener's
 * framing.  Returns 0, or -1 when the session failed (the handler said so,
 * a line exceeded max_line, or output overflowed); the reason is logged.
 */
int nl_session_input(struct nl_session *s, const char *buf, size_t n);

/*
 * Delivers lines held back while output was high, once it is below
 * NL_SESSION_OUT_HIGH again; models call it after writing.  0 or -1.
 */
int nl_session_resume(struct nl_session *s);

/* The peer closed its side: delivers a last unterminated line.  0 or -1. */
int nl_session_eof(struct nl_session *s);

/* Reads once from the descriptor and feeds the bytes to the handler. */
enum nl_io nl_session_read(struct nl_session *s);

/* Writes queued output; NL_IO_OK when all is written (or none was
 * queued), NL_IO_AGAIN when some is left (non-blocking descriptor),
 * NL_IO_ERROR on failure or when the session has failed.  The output
 * buffer's memory is given back once it is empty. */
enum nl_io nl_session_flush(struct nl_session *s);

/*
 * All a wake-up of a non-blocking model does, in one call: reads when
 * `ready` (NL_EV_* bits) says so and the session wants to, writes what is
 * queued, delivers lines held back while output was high (one batch, so
 * that a client with a long backlog does not starve the others) and
 * writes their answers.  Returns what to wait for next, as
 * nl_session_events(), or -1 when the session is over (nl_session_done()).
 */
int nl_session_step(struct nl_session *s, int ready);

/* 1 while the model should read: not closing, not at EOF, no lines held
 * back, output below NL_SESSION_OUT_HIGH. */
int nl_session_want_read(const struct nl_session *s);

/*
 * What the model waits for now, NL_EV_READ and/or NL_EV_WRITE, as the
 * transport maps what the session wants (reading, writing its output) to
 * events on the descriptor.  Every model waits on exactly this.
 */
int nl_session_events(const struct nl_session *s);

/* 1 when the descriptor being ready for `ready` (NL_EV_* bits) is the
 * moment for the model to call nl_session_read(). */
int nl_session_read_ready(const struct nl_session *s, int ready);

/* The descriptor a model waits on for s. */
int nl_session_fd(const struct nl_session *s);

/* The session's connection (for the transport's view of it). */
const struct nl_conn *nl_session_conn(const struct nl_session *s);

/* The peer as log lines name it: "1.2.3.4:5", a path, "unix". */
const char *nl_session_peer(struct nl_session *s);

/* 1 when the session is over: failed, or closing/EOF with output sent. */
int nl_session_done(const struct nl_session *s);

/* Calls the handler's close() if open() ran, ends and releases the
 * connection through its transport, frees buffers. */
void nl_session_end(struct nl_session *s);

/*
 * Serves one datagram of n bytes from peer on the datagram socket fd (of
 * the listener's transport): the handler's data(), with every write sent
 * back to peer at once.
 */
void nl_session_datagram(const struct nl_session_env *env, int fd,
                         const struct sockaddr *peer, socklen_t peer_len,
                         const char *buf, size_t n);

/*
 * Serves one datagram of n bytes on a fresh datagram session s (one
 * session per datagram): the handler's data(), counted as one session; a
 * line handler sees it without one trailing newline.
 * nl_session_datagram() is this on a session of a datagram socket.
 */
void nl_session_message(struct nl_session *s, const char *buf, size_t n);

/* The largest datagram served; a unix datagram can be larger than UDP's
 * 64 KiB, up to the socket's receive buffer. */
#define NL_DGRAM_MAX (256 * 1024)

/*
 * Receives one datagram on fd into buf (NL_DGRAM_MAX bytes) and serves it;
 * one larger than NL_DGRAM_MAX is dropped with a log line and counted as
 * an error, never answered cut short.  Returns 1 when a datagram was taken,
 * 0 when none was waiting.
 */
int nl_session_recv_datagram(const struct nl_session_env *env, int fd,
                             char *buf);

#endif /* NL_SESSION_H */
