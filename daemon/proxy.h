/*
 * proxy.h - the PROXY protocol header (versions 1 and 2, as HAProxy's
 * proxy-protocol.txt defines them) that a load balancer sends before a
 * connection's first byte, carrying the client's own address.
 *
 * The parser is given what has arrived so far and says whether it is a
 * whole header, may become one with more bytes, or never will; it keeps
 * no state, reads no byte past the header, and never reads more than
 * NL_PROXY_MAX bytes.
 */
#ifndef NL_PROXY_H
#define NL_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

/* The longest header read: a v2 header with its TLVs (the addresses need
 * at most 232 bytes; larger TLVs are refused). */
#define NL_PROXY_MAX 1024

/* The longest v1 line, "\r\n" included. */
#define NL_PROXY_V1_MAX 107

enum nl_proxy_rc {
    NL_PROXY_BAD = -1, /* not a valid header, whatever follows */
    NL_PROXY_MORE = 0, /* a valid beginning: more bytes are needed */
    NL_PROXY_OK = 1    /* a whole header */
};

struct nl_proxy {
    int version; /* 1 or 2 */
    /* 1: LOCAL (a health check) or UNKNOWN/UNSPEC: the connection's own
     * addresses stand; src and dst are not set. */
    int local;
    struct sockaddr_storage src, dst;
    socklen_t src_len, dst_len;
};

/*
 * Parses the header at the start of buf (len bytes received so far).
 * NL_PROXY_OK: *out is filled and *used is the header's length (what
 * follows is the client's data).  NL_PROXY_BAD: *why says what is wrong.
 */
enum nl_proxy_rc nl_proxy_parse(const unsigned char *buf, size_t len,
                                struct nl_proxy *out, size_t *used,
                                const char **why);

#endif /* NL_PROXY_H */
