/*
 * access.h - who may reach a listener: the `allow` and `deny` rules of a
 * listener, read from their text in netlabd.conf, and the source of a
 * session they are held against -- a client address (tcp, udp) or the
 * credentials of the peer process (unix, unix-dgram).
 *
 * A source that matches a `deny` rule is refused; otherwise, when there
 * are `allow` rules, one that matches none of them is refused.  The rules
 * are read once, with the configuration: user and group names are looked
 * up then (a group's members too), never while serving.
 */
#ifndef NL_ACCESS_H
#define NL_ACCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

enum nl_rule_kind {
    NL_RULE_NET, /* an address or CIDR (family, addr, prefix) */
    NL_RULE_UID, /* user:NAME or uid:N */
    NL_RULE_GID  /* group:NAME or gid:N (and the group's members) */
};

struct nl_rule {
    enum nl_rule_kind kind;
    int family;        /* NL_RULE_NET: AF_INET or AF_INET6 */
    uint8_t addr[16];  /* NL_RULE_NET: network order, host bits zero */
    int prefix;        /* NL_RULE_NET: bits that must match */
    uint32_t id;       /* NL_RULE_UID: the uid; NL_RULE_GID: the gid */
    uint32_t *members; /* NL_RULE_GID by name: uids of the group's members */
    size_t nmembers;
};

/* A list of rules, as one `allow` or `deny` key gives them. */
struct nl_rules {
    struct nl_rule *v;
    size_t n;
};

/*
 * Where a session comes from.  For tcp and udp: family AF_INET (an IPv4
 * peer, a v4-mapped IPv6 peer included) or AF_INET6 and the address.  For
 * unix: family AF_UNIX and, when has_cred, the peer's pid, uid and gid
 * (SO_PEERCRED, SCM_CREDENTIALS); without them no credential rule matches.
 */
struct nl_source {
    int family;
    uint8_t addr[16];
    int has_cred;
    pid_t pid;
    uint32_t uid;
    uint32_t gid;
};

/*
 * Reads one rule from its text: "192.0.2.0/24", "2001:db8::/32",
 * "127.0.0.1", "::1" when for_unix is 0; "user:NAME", "group:NAME",
 * "uid:N", "gid:N" when it is 1.  Returns 0, or -1 with what is wrong in
 * err (the rule of the other kind of transport included).  A rule read
 * is freed with nl_rule_free().
 */
int nl_rule_parse(const char *text, int for_unix, struct nl_rule *r,
                  char *err, size_t errlen);

void nl_rule_free(struct nl_rule *r);
void nl_rules_free(struct nl_rules *rs);

/* Copies rs into a new list (the members of groups too). */
void nl_rules_copy(struct nl_rules *dst, const struct nl_rules *src);

/* 1 when the two lists say the same, rule by rule in order. */
int nl_rules_equal(const struct nl_rules *a, const struct nl_rules *b);

/* 1 when rule r matches src. */
int nl_rule_match(const struct nl_rule *r, const struct nl_source *src);

/* 1 when src may be served under allow and deny (either may be empty). */
int nl_access_allowed(const struct nl_rules *allow, const struct nl_rules *deny,
                      const struct nl_source *src);

/*
 * The source of a peer address (AF_INET, AF_INET6: a v4-mapped address
 * becomes AF_INET; AF_UNIX and anything else: AF_UNIX, no credentials).
 */
void nl_source_from_addr(struct nl_source *src, const struct sockaddr *sa,
                         socklen_t len);

/* Fills src from the credentials of the peer of connected unix socket fd
 * (SO_PEERCRED).  Returns 0, or -1 with errno set (has_cred stays 0). */
int nl_source_peercred(struct nl_source *src, int fd);

/*
 * Receives one datagram from unix datagram socket fd, never blocking, as
 * recvfrom() with MSG_TRUNC would (its whole length), and its sender's
 * credentials into src (SCM_CREDENTIALS; the socket needs SO_PASSCRED,
 * which this sets when it is missing).  A datagram without them leaves
 * has_cred 0.
 */
ssize_t nl_source_recv(int fd, void *buf, size_t n,
                       struct sockaddr_storage *peer, socklen_t *peer_len,
                       struct nl_source *src);

/* Asks the kernel to pass the senders' credentials with each datagram
 * received on unix socket fd.  Returns 0 or -1 with errno set. */
int nl_source_passcred(int fd);

/* The source as text for logs: "192.0.2.7", "2001:db8::1", "uid 1000",
 * "a unix peer".  Returns buf. */
char *nl_source_text(const struct nl_source *src, char *buf, size_t len);

#endif /* NL_ACCESS_H */
