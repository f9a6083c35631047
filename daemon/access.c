/*
 * access.c - allow and deny rules: reading them from their text and
 * matching a session's source against them.  Matching touches no lock and
 * no name service: names were looked up when the rules were read.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "access.h"
#include "util.h"

/* "N" as an id: digits only, below UINT32_MAX ((uid_t)-1 is no one). */
static int
parse_id(const char *s, uint32_t *id)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v >= UINT32_MAX)
        return -1;
    *id = (uint32_t)v;
    return 0;
}

/* The uids of the members of group gr (its member list; those whose
 * primary group it is are matched by the peer's gid).  Unknown member
 * names are left out. */
static void
group_members(const struct group *gr, struct nl_rule *r)
{
    size_t n = 0;

    while (gr->gr_mem != NULL && gr->gr_mem[n] != NULL)
        n++;
    r->members = n > 0 ? nl_xcalloc(n, sizeof(*r->members)) : NULL;
    r->nmembers = 0;
    for (size_t i = 0; i < n; i++) {
        struct passwd *pw = getpwnam(gr->gr_mem[i]);

        if (pw != NULL)
            r->members[r->nmembers++] = (uint32_t)pw->pw_uid;
    }
}

static int
parse_cred(const char *text, struct nl_rule *r, char *err, size_t errlen)
{
    const char *colon = strchr(text, ':');
    const char *v = colon != NULL ? colon + 1 : "";
    size_t klen = colon != NULL ? (size_t)(colon - text) : 0;

    if (klen == 4 && strncmp(text, "user", 4) == 0) {
        struct passwd *pw = *v != '\0' ? getpwnam(v) : NULL;

        if (pw == NULL) {
            snprintf(err, errlen, "unknown user \"%s\"", v);
            return -1;
        }
        r->kind = NL_RULE_UID;
        r->id = (uint32_t)pw->pw_uid;
        return 0;
    }
    if (klen == 5 && strncmp(text, "group", 5) == 0) {
        struct group *gr = *v != '\0' ? getgrnam(v) : NULL;

        if (gr == NULL) {
            snprintf(err, errlen, "unknown group \"%s\"", v);
            return -1;
        }
        r->kind = NL_RULE_GID;
        r->id = (uint32_t)gr->gr_gid;
        group_members(gr, r);
        return 0;
    }
    if (klen == 3 && (strncmp(text, "uid", 3) == 0 ||
                      strncmp(text, "gid", 3) == 0)) {
        if (parse_id(v, &r->id) == -1) {
            snprintf(err, errlen, "\"%s\": %.3s must be a number", text, text);
            return -1;
        }
        r->kind = text[0] == 'u' ? NL_RULE_UID : NL_RULE_GID;
        if (r->kind == NL_RULE_GID) {
            struct group *gr = getgrgid((gid_t)r->id);

            if (gr != NULL)
                group_members(gr, r);
        }
        return 0;
    }
    snprintf(err, errlen,
             "\"%s\" is not user:NAME, group:NAME, uid:N or gid:N", text);
    return -1;
}

/* Zeroes the bits of addr past prefix. */
static void
mask(uint8_t *addr, int prefix, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        int keep = prefix - i * 8;

        if (keep <= 0)
            addr[i] = 0;
        else if (keep < 8)
            addr[i] &= (uint8_t)(0xff << (8 - keep));
    }
}

static int
parse_net(const char *text, struct nl_rule *r, char *err, size_t errlen)
{
    char buf[INET6_ADDRSTRLEN + 8];
    char *slash;
    int max;

    if (strlen(text) >= sizeof(buf)) {
        snprintf(err, errlen, "\"%.60s...\" is not an address or CIDR", text);
        return -1;
    }
    strcpy(buf, text);
    if ((slash = strchr(buf, '/')) != NULL)
        *slash = '\0';
    memset(r->addr, 0, sizeof(r->addr));
    if (inet_pton(AF_INET, buf, r->addr) == 1) {
        r->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, r->addr) == 1) {
        r->family = AF_INET6;
        max = 128;
    } else {
        snprintf(err, errlen, "\"%s\" is not an address or CIDR", text);
        return -1;
    }
    r->prefix = max;
    if (slash != NULL) {
        uint32_t p;

        if (parse_id(slash + 1, &p) == -1 || p > (uint32_t)max) {
            snprintf(err, errlen, "\"%s\": the prefix length must be 0 to %d",
                     text, max);
            return -1;
        }
        r->prefix = (int)p;
    }
    /* "192.0.2.7/24" means its network, as the kernel's routes do. */
    mask(r->addr, r->prefix, max / 8);
    r->kind = NL_RULE_NET;
    return 0;
}

/* 1 when text reads as a credential rule ("user:x", "uid:0"...). */
static int
looks_like_cred(const char *text)
{
    return strncmp(text, "user:", 5) == 0 || strncmp(text, "group:", 6) == 0 ||
           strncmp(text, "uid:", 4) == 0 || strncmp(text, "gid:", 4) == 0;
}

int
nl_rule_parse(const char *text, int for_unix, struct nl_rule *r, char *err,
              size_t errlen)
{
    memset(r, 0, sizeof(*r));
    if (for_unix) {
        struct nl_rule tmp;
        char e[8];

        if (!looks_like_cred(text) && parse_net(text, &tmp, e, sizeof(e)) == 0) {
            snprintf(err, errlen,
                     "\"%s\" is an address: a unix listener's rules are "
                     "user:NAME, group:NAME, uid:N or gid:N",
                     text);
            return -1;
        }
        return parse_cred(text, r, err, errlen);
    }
    if (looks_like_cred(text)) {
        snprintf(err, errlen,
                 "\"%s\" is a credential rule, for unix listeners only: "
                 "a tcp or udp listener's rules are addresses or CIDRs",
                 text);
        return -1;
    }
    return parse_net(text, r, err, errlen);
}

void
nl_rule_free(struct nl_rule *r)
{
    free(r->members);
    r->members = NULL;
    r->nmembers = 0;
}

void
nl_rules_free(struct nl_rules *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        nl_rule_free(&rs->v[i]);
    free(rs->v);
    rs->v = NULL;
    rs->n = 0;
}

void
nl_rules_copy(struct nl_rules *dst, const struct nl_rules *src)
{
    dst->n = src->n;
    dst->v = src->n > 0 ? nl_xcalloc(src->n, sizeof(*dst->v)) : NULL;
    for (size_t i = 0; i < src->n; i++) {
        dst->v[i] = src->v[i];
        if (src->v[i].nmembers > 0) {
            size_t sz = src->v[i].nmembers * sizeof(*src->v[i].members);

            dst->v[i].members = nl_xmalloc(sz);
            memcpy(dst->v[i].members, src->v[i].members, sz);
        } else {
            dst->v[i].members = NULL;
        }
    }
}

static int
rule_equal(const struct nl_rule *a, const struct nl_rule *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->kind == NL_RULE_NET)
        return a->family == b->family && a->prefix == b->prefix &&
               memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
    return a->id == b->id && a->nmembers == b->nmembers &&
           (a->nmembers == 0 ||
            memcmp(a->members, b->members,
                   a->nmembers * sizeof(*a->members)) == 0);
}

int
nl_rules_equal(const struct nl_rules *a, const struct nl_rules *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (!rule_equal(&a->v[i], &b->v[i]))
            return 0;
    return 1;
}

/* 1 when the first `prefix` bits of a and b are equal. */
static int
prefix_equal(const uint8_t *a, const uint8_t *b, int prefix)
{
    int whole = prefix / 8, rest = prefix % 8;

    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int
nl_rule_match(const struct nl_rule *r, const struct nl_source *src)
{
    switch (r->kind) {
    case NL_RULE_NET:
        return src->family == r->family &&
               prefix_equal(src->addr, r->addr, r->prefix);
    case NL_RULE_UID:
        return src->has_cred && src->uid == r->id;
    case NL_RULE_GID:
        if (!src->has_cred)
            return 0;
        if (src->gid == r->id)
            return 1;
        for (size_t i = 0; i < r->nmembers; i++)
            if (r->members[i] == src->uid)
                return 1;
        return 0;
    }
    return 0;
}

static int
any_match(const struct nl_rules *rs, const struct nl_source *src)
{
    for (size_t i = 0; i < rs->n; i++)
        if (nl_rule_match(&rs->v[i], src))
            return 1;
    return 0;
}

int
nl_access_allowed(const struct nl_rules *allow, const struct nl_rules *deny,
                  const struct nl_source *src)
{
    if (any_match(deny, src))
        return 0;
    return allow->n == 0 || any_match(allow, src);
}

void
nl_source_from_addr(struct nl_source *src, const struct sockaddr *sa,
                    socklen_t len)
{
    memset(src, 0, sizeof(*src));
    src->family = AF_UNIX;
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        src->family = AF_INET;
        memcpy(src->addr, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6 &&
               len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            src->family = AF_INET;
            memcpy(src->addr, &in6->sin6_addr.s6_addr[12], 4);
        } else {
            src->family = AF_INET6;
            memcpy(src->addr, &in6->sin6_addr, 16);
        }
    }
}

int
nl_source_peercred(struct nl_source *src, int fd)
{
    struct ucred uc;
    socklen_t len = sizeof(uc);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1)
        return -1;
    src->has_cred = 1;
    src->pid = uc.pid;
    src->uid = (uint32_t)uc.uid;
    src->gid = (uint32_t)uc.gid;
    return 0;
}

int
nl_source_passcred(int fd)
{
    int on = 1;

    return setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
}

ssize_t
nl_source_recv(int fd, void *buf, size_t n, struct sockaddr_storage *peer,
               socklen_t *peer_len, struct nl_source *src)
{
    static int passing; /* this process has set SO_PASSCRED */
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, n};
    struct msghdr mh = {.msg_name = peer, .msg_namelen = sizeof(*peer),
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = ctl.buf,
                        .msg_controllen = sizeof(ctl.buf)};
    ssize_t got;

    if (!__atomic_load_n(&passing, __ATOMIC_RELAXED)) {
        (void)nl_source_passcred(fd);
        __atomic_store_n(&passing, 1, __ATOMIC_RELAXED);
    }
    nl_source_from_addr(src, NULL, 0);
    got = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
    if (got == -1)
        return -1;
    *peer_len = mh.msg_namelen;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL;
         cm = CMSG_NXTHDR(&mh, cm)) {
        struct ucred uc;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_CREDENTIALS ||
            cm->cmsg_len < CMSG_LEN(sizeof(uc)))
            continue;
        memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
        /* A datagram sent before the socket asked for credentials has
         * none: pid 0, and the uid of no one (shown as 65534). */
        if (uc.pid == 0)
            continue;
        src->has_cred = 1;
        src->pid = uc.pid;
        src->uid = (uint32_t)uc.uid;
        src->gid = (uint32_t)uc.gid;
    }
    return got;
}

char *
nl_source_text(const struct nl_source *src, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    if (src->family == AF_INET || src->family == AF_INET6) {
        if (inet_ntop(src->family, src->addr, buf, (socklen_t)len) == NULL)
            snprintf(buf, len, "?");
    } else if (src->has_cred) {
        snprintf(buf, len, "uid %u", (unsigned)src->uid);
    } else {
        snprintf(buf, len, "a unix peer");
    }
    return buf;
}
