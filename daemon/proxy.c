/*
 * proxy.c - the PROXY protocol header, versions 1 (a text line) and 2
 * (binary), as HAProxy's specification defines them.  Strict: a header is
 * accepted only in the form the specification gives, since what it
 * carries decides who the client is.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include "proxy.h"

static const unsigned char v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                         0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static enum nl_proxy_rc
bad(const char **why, const char *what)
{
    *why = what;
    return NL_PROXY_BAD;
}

/* A decimal port, 0 to 65535, without leading zeros or sign. */
static int
v1_port(const char *s, size_t n, uint16_t *port)
{
    unsigned long v = 0;

    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* One address of family af (as text, n bytes) and port into ss. */
static int
v1_addr(int af, const char *a, size_t an, const char *p, size_t pn,
        struct sockaddr_storage *ss, socklen_t *len)
{
    char text[INET6_ADDRSTRLEN];
    uint16_t port;

    if (an == 0 || an >= sizeof(text) || v1_port(p, pn, &port) == -1)
        return -1;
    memcpy(text, a, an);
    text[an] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (af == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;

        if (inet_pton(AF_INET, text, &in->sin_addr) != 1)
            return -1;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        *len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

        if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1)
            return -1;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *len = sizeof(*in6);
    }
    return 0;
}

/* "PROXY TCP4 SRC DST SPORT DPORT\r\n", or "PROXY UNKNOWN...\r\n". */
static enum nl_proxy_rc
parse_v1(const unsigned char *buf, size_t len, struct nl_proxy *out,
         size_t *used, const char **why)
{
    const char *s = (const char *)buf, *f[6];
    size_t n, flen[6], nf = 0;
    const unsigned char *cr;
    int af;

    cr = memchr(buf, '\r', len < NL_PROXY_V1_MAX ? len : NL_PROXY_V1_MAX);
    /* A line feed before any carriage return: never CRLF. */
    if (memchr(buf, '\n', cr != NULL ? (size_t)(cr - buf)
                                      : (len < NL_PROXY_V1_MAX ? len
                                                               : NL_PROXY_V1_MAX)))
        return bad(why, "v1 line not ended by CRLF");
    if (cr == NULL)
        return len < NL_PROXY_V1_MAX ? NL_PROXY_MORE
                                     : bad(why, "v1 line longer than 107 bytes");
    n = (size_t)(cr - buf);
    if (n + 1 >= len)
        return NL_PROXY_MORE;
    if (cr[1] != '\n')
        return bad(why, "v1 line not ended by CRLF");
    for (size_t k = 0; k < n; k++)
        if (buf[k] < 0x20 || buf[k] > 0x7e)
            return bad(why, "v1 line with a byte that is not text");
    *used = n + 2;
    out->version = 1;
    /* Fields separated by single spaces: "PROXY" and up to 5 more. */
    for (size_t start = 0; start <= n && nf < 7;) {
        const char *sp = memchr(s + start, ' ', n - start);
        size_t end = sp != NULL ? (size_t)(sp - s) : n;

        if (nf == 6)
            return bad(why, "v1 line with more than six fields");
        f[nf] = s + start;
        flen[nf++] = end - start;
        if (sp == NULL)
            break;
        start = end + 1;
    }
    if (nf < 2 || flen[0] != 5 || memcmp(f[0], "PROXY", 5) != 0)
        return bad(why, "v1 line not starting \"PROXY \"");
    if (flen[1] == 7 && memcmp(f[1], "UNKNOWN", 7) == 0) {
        out->local = 1; /* the rest of the line is ignored */
        return NL_PROXY_OK;
    }
    if (flen[1] == 4 && memcmp(f[1], "TCP4", 4) == 0)
        af = AF_INET;
    else if (flen[1] == 4 && memcmp(f[1], "TCP6", 4) == 0)
        af = AF_INET6;
    else
        return bad(why, "v1 protocol not TCP4, TCP6 or UNKNOWN");
    if (nf != 6)
        return bad(why, "v1 line without exactly two addresses and two ports");
    if (v1_addr(af, f[2], flen[2], f[4], flen[4], &out->src, &out->src_len) ||
        v1_addr(af, f[3], flen[3], f[5], flen[5], &out->dst, &out->dst_len))
        return bad(why, "v1 address or port malformed");
    out->local = 0;
    return NL_PROXY_OK;
}

static enum nl_proxy_rc
parse_v2(const unsigned char *buf, size_t len, struct nl_proxy *out,
         size_t *used, const char **why)
{
    size_t body, need;
    const unsigned char *a;

    if (len < 16)
        return NL_PROXY_MORE;
    if ((buf[12] & 0xf0) != 0x20)
        return bad(why, "v2 version not 2");
    if ((buf[12] & 0x0f) > 1)
        return bad(why, "v2 command neither LOCAL nor PROXY");
    body = (size_t)buf[14] << 8 | buf[15];
    if (16 + body > NL_PROXY_MAX)
        return bad(why, "v2 header longer than 1024 bytes");
    if (len < 16 + body)
        return NL_PROXY_MORE;
    *used = 16 + body;
    out->version = 2;
    out->local = 1;
    a = buf + 16;
    if ((buf[12] & 0x0f) == 0) /* LOCAL: a health check */
        return NL_PROXY_OK;
    switch (buf[13]) {
    case 0x00: /* UNSPEC */
        return NL_PROXY_OK;
    case 0x11: /* TCP over IPv4 */
    case 0x12: /* UDP over IPv4 */
        need = 12;
        break;
    case 0x21:
    case 0x22:
        need = 36;
        break;
    case 0x31:
    case 0x32:
        need = 216;
        break;
    default:
        return bad(why, "v2 address family or protocol unknown");
    }
    if (body < need)
        return bad(why, "v2 addresses longer than the header");
    memset(&out->src, 0, sizeof(out->src));
    memset(&out->dst, 0, sizeof(out->dst));
    if (need == 12) {
        struct sockaddr_in *s = (struct sockaddr_in *)&out->src;
        struct sockaddr_in *d = (struct sockaddr_in *)&out->dst;

        s->sin_family = d->sin_family = AF_INET;
        memcpy(&s->sin_addr, a, 4);
        memcpy(&d->sin_addr, a + 4, 4);
        memcpy(&s->sin_port, a + 8, 2);
        memcpy(&d->sin_port, a + 10, 2);
        out->src_len = out->dst_len = sizeof(*s);
    } else if (need == 36) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src;
        struct sockaddr_in6 *d = (struct sockaddr_in6 *)&out->dst;

        s->sin6_family = d->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, a, 16);
        memcpy(&d->sin6_addr, a + 16, 16);
        memcpy(&s->sin6_port, a + 32, 2);
        memcpy(&d->sin6_port, a + 34, 2);
        out->src_len = out->dst_len = sizeof(*s);
    } else {
        struct sockaddr_un *s = (struct sockaddr_un *)&out->src;
        struct sockaddr_un *d = (struct sockaddr_un *)&out->dst;

        s->sun_family = d->sun_family = AF_UNIX;
        memcpy(s->sun_path, a, 108);
        memcpy(d->sun_path, a + 108, 108);
        s->sun_path[sizeof(s->sun_path) - 1] = '\0';
        d->sun_path[sizeof(d->sun_path) - 1] = '\0';
        out->src_len = out->dst_len = sizeof(*s);
    }
    out->local = 0;
    return NL_PROXY_OK;
}

enum nl_proxy_rc
nl_proxy_parse(const unsigned char *buf, size_t len, struct nl_proxy *out,
               size_t *used, const char **why)
{
    size_t n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);

    memset(out, 0, sizeof(*out));
    *used = 0;
    *why = NULL;
    if (len == 0)
        return NL_PROXY_MORE;
    if (memcmp(buf, v2_sig, n) == 0)
        return n < sizeof(v2_sig) ? NL_PROXY_MORE
                                  : parse_v2(buf, len, out, used, why);
    n = len < 6 ? len : 6;
    if (memcmp(buf, "PROXY ", n) == 0)
        return n < 6 ? NL_PROXY_MORE : parse_v1(buf, len, out, used, why);
    return bad(why, "no PROXY protocol signature");
}
