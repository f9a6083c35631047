/*
 * stats.c - the shared counter pool.  The pool is one anonymous shared
 * mapping made before the first fork, so every serving process sees the
 * same pages; which slot is in use is the master's private business.
 * Slots start on cache lines of their own: two serving processes counting
 * each in its slot never write the same line.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "stats.h"
#include "util.h"

/* Bytes from one slot to the next: whole cache lines. */
#define CACHE_LINE 64
#define SLOT_BYTES                                                             \
    ((sizeof(struct nl_counters) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE)

static char *pool; /* page-aligned, so every slot is line-aligned */
static unsigned *used; /* references to each slot */
static size_t pool_size;

static struct nl_counters *
slot_at(size_t i)
{
    return (struct nl_counters *)(void *)(pool + i * SLOT_BYTES);
}

static size_t
slot_index(const struct nl_counters *slot)
{
    return (size_t)((const char *)slot - pool) / SLOT_BYTES;
}

int
nl_stats_init(size_t nslots)
{
    void *p = mmap(NULL, nslots * SLOT_BYTES, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return -1;
    pool = p;
    used = nl_xcalloc(nslots, sizeof(*used));
    pool_size = nslots;
    return 0;
}

struct nl_counters *
nl_stats_alloc(void)
{
    for (size_t i = 0; i < pool_size; i++) {
        if (!used[i]) {
            used[i] = 1;
            memset(slot_at(i), 0, sizeof(struct nl_counters));
            return slot_at(i);
        }
    }
    return NULL;
}

void
nl_stats_ref(struct nl_counters *slot)
{
    used[slot_index(slot)]++;
}

void
nl_stats_release(struct nl_counters *slot, struct nl_counters *keep)
{
    if (slot == NULL)
        return;
    if (keep != NULL) {
        uint64_t active = keep->active;

        nl_stats_sum(keep, slot);
        keep->active = active;
    }
    used[slot_index(slot)]--;
}

const char *const nl_err_names[NL_ERR_N] = {
    [NL_ERR_HANDLER] = "handler_refused", [NL_ERR_LINE] = "line_too_long",
    [NL_ERR_IDLE] = "idle_timeout",       [NL_ERR_RESET] = "reset",
    [NL_ERR_WRITE] = "write_failed",      [NL_ERR_OVERFLOW] = "output_overflow",
    [NL_ERR_TOO_BIG] = "datagram_too_large",
};

/* From a millisecond to five minutes: a request, a chat, a stream. */
const uint64_t nl_duration_us[NL_HIST_BUCKETS - 1] = {
    1000, 10000, 100000, 500000, 1000000, 5000000, 30000000, 60000000,
    300000000};

/* From a microsecond (an echo) to a tenth of a second (a handler that
 * blocks, which under libev holds up every session of its loop). */
const uint64_t nl_handler_ns[NL_HIST_BUCKETS - 1] = {
    1000, 5000, 10000, 50000, 100000, 500000, 1000000, 10000000, 100000000};

#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

static void
hist_sum(struct nl_hist *sum, const struct nl_hist *src)
{
    for (int i = 0; i < NL_HIST_BUCKETS; i++)
        sum->n[i] += LOAD(src->n[i]);
    sum->sum += LOAD(src->sum);
}

void
nl_stats_sum(struct nl_counters *sum, const struct nl_counters *src)
{
    sum->active += __atomic_load_n(&src->active, __ATOMIC_RELAXED);
    sum->total += __atomic_load_n(&src->total, __ATOMIC_RELAXED);
    sum->refused += __atomic_load_n(&src->refused, __ATOMIC_RELAXED);
    sum->denied += __atomic_load_n(&src->denied, __ATOMIC_RELAXED);
    sum->limited += __atomic_load_n(&src->limited, __ATOMIC_RELAXED);
    sum->bytes_in += __atomic_load_n(&src->bytes_in, __ATOMIC_RELAXED);
    sum->bytes_out += __atomic_load_n(&src->bytes_out, __ATOMIC_RELAXED);
    sum->errors += __atomic_load_n(&src->errors, __ATOMIC_RELAXED);
    sum->waited += __atomic_load_n(&src->waited, __ATOMIC_RELAXED);
    sum->proxy_invalid +=
        __atomic_load_n(&src->proxy_invalid, __ATOMIC_RELAXED);
    sum->proxy_timeout +=
        __atomic_load_n(&src->proxy_timeout, __ATOMIC_RELAXED);
    for (int i = 0; i < NL_ERR_N; i++)
        sum->err[i] += LOAD(src->err[i]);
    sum->dgram_in += LOAD(src->dgram_in);
    sum->dgram_out += LOAD(src->dgram_out);
    sum->dgram_dropped += LOAD(src->dgram_dropped);
    sum->pool_full += LOAD(src->pool_full);
    hist_sum(&sum->duration, &src->duration);
    hist_sum(&sum->handler_time, &src->handler_time);
    nl_count_max(&sum->longest_wait_ms,
                 __atomic_load_n(&src->longest_wait_ms, __ATOMIC_RELAXED));
}

/* Adds a local count to the shared one, and zeroes it. */
#define FOLD(slot, local, field)                                               \
    do {                                                                       \
        if ((local)->field != 0) {                                             \
            nl_count_add(slot, field, (local)->field);                         \
            (local)->field = 0;                                                \
        }                                                                      \
    } while (0)

void
nl_stats_fold(struct nl_counters *slot, struct nl_counters *local)
{
    FOLD(slot, local, active);
    FOLD(slot, local, total);
    FOLD(slot, local, refused);
    FOLD(slot, local, denied);
    FOLD(slot, local, limited);
    FOLD(slot, local, bytes_in);
    FOLD(slot, local, bytes_out);
    FOLD(slot, local, errors);
    FOLD(slot, local, waited);
    FOLD(slot, local, proxy_invalid);
    FOLD(slot, local, proxy_timeout);
    for (int i = 0; i < NL_ERR_N; i++)
        FOLD(slot, local, err[i]);
    FOLD(slot, local, dgram_in);
    FOLD(slot, local, dgram_out);
    FOLD(slot, local, dgram_dropped);
    FOLD(slot, local, pool_full);
    for (int i = 0; i < NL_HIST_BUCKETS; i++) {
        FOLD(slot, local, duration.n[i]);
        FOLD(slot, local, handler_time.n[i]);
    }
    FOLD(slot, local, duration.sum);
    FOLD(slot, local, handler_time.sum);
    if (local->longest_wait_ms != 0) {
        nl_count_max(&slot->longest_wait_ms, local->longest_wait_ms);
        local->longest_wait_ms = 0;
    }
}

void
nl_count_max(uint64_t *field, uint64_t n)
{
    uint64_t old = __atomic_load_n(field, __ATOMIC_RELAXED);

    while (n > old &&
           !__atomic_compare_exchange_n(field, &old, n, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
}
