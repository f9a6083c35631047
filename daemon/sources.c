/*
 * sources.c - the per-source table (sources.h): one mapping shared by
 * the master and a listener's serving processes, guarded by a robust
 * process-shared mutex (a process that dies holding it leaves the table
 * usable: the next one to lock it carries on).  It is only touched when a
 * session starts or ends, never per message.
 *
 * The rate limit is the generic cell rate algorithm: each source keeps
 * one time, `tat`, when its allowance will be whole again; a session
 * adds 1/rate of a second to it, and is refused when that would put it
 * more than a second ahead of now (so `rate` sessions may come at once,
 * and then `rate` a second).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "sources.h"

#define PROBES      32
#define MIN_ENTRIES 1024u
#define MAX_ENTRIES (1u << 21) /* 64 MiB of address space at most */

struct entry {
    uint8_t used;   /* has held a source (probing goes past it) */
    uint8_t family; /* AF_INET, AF_INET6, or AF_UNIX for a uid */
    uint16_t pad;
    uint32_t open;  /* sessions open now */
    uint8_t key[16];
    uint64_t tat_us; /* the rate's theoretical arrival time; 0: none */
};

struct cell {
    uint32_t entry; /* index + 1 of the entry it counts in; 0: free */
    int32_t pid;    /* the process serving the session */
    uint32_t next;  /* free cells: index + 1 of the next one, 0: none */
};

struct nl_sources {
    pthread_mutex_t lock;
    uint64_t seed; /* of the hash: sources cannot be chosen to collide */
    size_t size;   /* bytes mapped */
    uint32_t nentries; /* a power of two */
    uint32_t ncells;
    uint32_t free_head; /* index + 1 of the first free cell; 0: none */
    uint32_t refs;      /* the master's references */
    struct entry ent[];  /* then ncells struct cell */
};

static struct cell *
cells(struct nl_sources *t)
{
    return (struct cell *)(void *)(t->ent + t->nentries);
}

struct nl_sources *
nl_sources_new(uint32_t max_sessions)
{
    pthread_mutexattr_t ma;
    struct nl_sources *t;
    uint32_t n = MIN_ENTRIES;
    size_t size;
    void *p;

    if (max_sessions == 0)
        max_sessions = 1;
    while (n < MAX_ENTRIES && n / 4 < max_sessions)
        n *= 2;
    size = sizeof(*t) + (size_t)n * sizeof(struct entry) +
           (size_t)max_sessions * sizeof(struct cell);
    p = mmap(NULL, size, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    t = p;
    t->size = size;
    t->nentries = n;
    t->ncells = max_sessions;
    t->refs = 1;
    if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) !=
        (ssize_t)sizeof(t->seed))
        t->seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15u ^ (uint64_t)size;
    for (uint32_t i = 0; i < max_sessions; i++)
        cells(t)[i].next = i + 1 < max_sessions ? i + 2 : 0;
    t->free_head = 1;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    if (pthread_mutex_init(&t->lock, &ma) != 0) {
        pthread_mutexattr_destroy(&ma);
        munmap(p, size);
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutexattr_destroy(&ma);
    return t;
}

uint32_t
nl_sources_capacity(const struct nl_sources *t)
{
    return t->ncells;
}

void
nl_sources_ref(struct nl_sources *t)
{
    t->refs++;
}

void
nl_sources_unref(struct nl_sources *t)
{
    if (t == NULL || --t->refs > 0)
        return;
    /* The serving processes keep their own mappings until they exit. */
    munmap(t, t->size);
}

static void
lock(struct nl_sources *t)
{
    /* A process died holding it: what it was changing is at worst one
     * count off, which is better than a listener that admits no one. */
    if (pthread_mutex_lock(&t->lock) == EOWNERDEAD)
        pthread_mutex_consistent(&t->lock);
}

static void
unlock(struct nl_sources *t)
{
    pthread_mutex_unlock(&t->lock);
}

/* The key of a source: its address, or its uid; 0 when it has neither. */
static int
key_of(const struct nl_source *src, uint8_t *family, uint8_t key[16])
{
    memset(key, 0, 16);
    if (src->family == AF_INET || src->family == AF_INET6) {
        *family = (uint8_t)src->family;
        memcpy(key, src->addr, src->family == AF_INET ? 4 : 16);
        return 1;
    }
    if (src->has_cred) {
        *family = AF_UNIX;
        memcpy(key, &src->uid, sizeof(src->uid));
        return 1;
    }
    return 0;
}

static uint32_t
hash(const struct nl_sources *t, uint8_t family, const uint8_t key[16])
{
    uint64_t w[2], h = t->seed ^ family;

    memcpy(w, key, 16);
    for (int i = 0; i < 2; i++) {
        h ^= w[i];
        h *= 0x9e3779b97f4a7c15u;
        h ^= h >> 29;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static int
same(const struct entry *e, uint8_t family, const uint8_t key[16])
{
    return e->used && e->family == family && memcmp(e->key, key, 16) == 0;
}

/* The entry of the source, taking a place for it when it has none; NULL
 * when all places it may take hold open sessions. */
static struct entry *
find(struct nl_sources *t, uint8_t family, const uint8_t key[16],
     uint64_t now_us)
{
    uint32_t mask = t->nentries - 1, i = hash(t, family, key) & mask;
    struct entry *free = NULL, *oldest = NULL;

    for (int probe = 0; probe < PROBES; probe++, i = (i + 1) & mask) {
        struct entry *e = &t->ent[i];

        if (same(e, family, key))
            return e;
        if (!e->used) { /* the end of the chain: the source is not in it */
            if (free == NULL)
                free = e;
            break;
        }
        if (e->open == 0 && free == NULL && e->tat_us <= now_us)
            free = e;
        if (e->open == 0 && (oldest == NULL || e->tat_us < oldest->tat_us))
            oldest = e;
    }
    if (free == NULL)
        free = oldest; /* forget the rate of the one that connected last
                          longest ago */
    if (free == NULL)
        return NULL;
    free->used = 1;
    free->family = family;
    memcpy(free->key, key, 16);
    free->open = 0;
    free->tat_us = 0;
    return free;
}

/* The rate: 1 when one more session now would go past it (and then
 * nothing is changed), else 0 and the session is counted in it. */
static int
too_fast(struct entry *e, int rate, uint64_t now_us)
{
    uint64_t step = 1000000u / (uint64_t)rate;
    uint64_t tat = e->tat_us > now_us ? e->tat_us : now_us;

    if (tat - now_us + step > 1000000u)
        return 1;
    e->tat_us = tat + step;
    return 0;
}

enum nl_src_verdict
nl_sources_enter(struct nl_sources *t, const struct nl_source *src,
                 int max_open, int rate, int count_open, uint64_t now_us,
                 uint32_t *ticket)
{
    uint8_t family, key[16];
    enum nl_src_verdict v = NL_SRC_OK;
    struct entry *e;

    *ticket = 0;
    if (!key_of(src, &family, key))
        return NL_SRC_UNTRACKED;
    lock(t);
    if ((e = find(t, family, key, now_us)) == NULL) {
        v = NL_SRC_UNTRACKED;
    } else if (count_open && max_open > 0 && e->open >= (uint32_t)max_open) {
        v = NL_SRC_TOO_MANY;
    } else if (rate > 0 && too_fast(e, rate, now_us)) {
        v = NL_SRC_TOO_FAST;
    } else if (count_open) {
        if (t->free_head == 0) {
            v = NL_SRC_UNTRACKED; /* more open than the table was made for */
        } else {
            struct cell *c = &cells(t)[t->free_head - 1];

            *ticket = t->free_head;
            t->free_head = c->next;
            c->entry = (uint32_t)(e - t->ent) + 1;
            c->pid = (int32_t)getpid();
            c->next = 0;
            e->open++;
        }
    }
    unlock(t);
    return v;
}

/* Frees cell index + 1 == ticket, the lock held. */
static void
leave_locked(struct nl_sources *t, uint32_t ticket)
{
    struct cell *c = &cells(t)[ticket - 1];

    if (c->entry == 0)
        return; /* already given back */
    if (t->ent[c->entry - 1].open > 0)
        t->ent[c->entry - 1].open--;
    c->entry = 0;
    c->pid = 0;
    c->next = t->free_head;
    t->free_head = ticket;
}

void
nl_sources_leave(struct nl_sources *t, uint32_t ticket)
{
    if (t == NULL || ticket == 0 || ticket > t->ncells)
        return;
    lock(t);
    leave_locked(t, ticket);
    unlock(t);
}

uint32_t
nl_sources_give_back(struct nl_sources *t, pid_t pid)
{
    uint32_t n = 0;

    if (t == NULL)
        return 0;
    lock(t);
    for (uint32_t i = 0; i < t->ncells; i++) {
        if (cells(t)[i].entry != 0 && cells(t)[i].pid == (int32_t)pid) {
            leave_locked(t, i + 1);
            n++;
        }
    }
    unlock(t);
    return n;
}

uint32_t
nl_sources_open(struct nl_sources *t, const struct nl_source *src)
{
    uint8_t family, key[16];
    uint32_t mask = t->nentries - 1, i, n = 0;

    if (!key_of(src, &family, key))
        return 0;
    lock(t);
    i = hash(t, family, key) & mask;
    for (int probe = 0; probe < PROBES; probe++, i = (i + 1) & mask) {
        if (same(&t->ent[i], family, key)) {
            n = t->ent[i].open;
            break;
        }
        if (!t->ent[i].used)
            break;
    }
    unlock(t);
    return n;
}
