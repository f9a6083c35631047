/*
 * metrics_http.h - the optional HTTP endpoint for Prometheus
 * (`metrics_listen`): GET /metrics answered on the master's loop, 404 for
 * any other path, every client bounded in size and time.
 */
#ifndef NL_METRICS_HTTP_H
#define NL_METRICS_HTTP_H

#include <stddef.h>

struct ev_loop;
struct nl_buf;
struct nl_metrics_http;

#define NL_HTTP_MAX_CLIENTS 16   /* served at once */
#define NL_HTTP_MAX_REQUEST 8192 /* bytes of request line and headers */
#define NL_HTTP_TIMEOUT     5.0  /* seconds to send the request, and to
                                    read the answer */
#define NL_HTTP_MAX_DRAIN   65536 /* bytes read and dropped after it */

/* Writes the metrics document into b. */
typedef void (*nl_metrics_http_fn)(void *arg, struct nl_buf *b);

/*
 * Binds host:port (a literal or a name; port 0 picks a free one) and
 * serves it on loop, asking fn(arg) for each GET /metrics.  Returns the
 * endpoint, or NULL with a reason in err.
 */
struct nl_metrics_http *nl_metrics_http_open(struct ev_loop *loop,
                                             const char *host, int port,
                                             nl_metrics_http_fn fn, void *arg,
                                             char *err, size_t errlen);

/* The address bound, as "127.0.0.1:9109". */
const char *nl_metrics_http_address(const struct nl_metrics_http *h);

/* Closes the socket and every client.  NULL is fine. */
void nl_metrics_http_close(struct nl_metrics_http *h);

/* In a child forked from the master: closes the descriptors only. */
void nl_metrics_http_close_in_child(struct nl_metrics_http *h);

#endif /* NL_METRICS_HTTP_H */
