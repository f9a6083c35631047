/*
 * metrics.h - the control socket's `metrics` answer: the daemon's and
 * every listener's counters in the Prometheus text exposition format.
 */
#ifndef NL_METRICS_H
#define NL_METRICS_H

struct nl_buf;
struct nl_master;

/* Appends the metrics document to b: lines each ending in "\n". */
void nl_metrics_write(struct nl_master *m, struct nl_buf *b);

#endif /* NL_METRICS_H */
