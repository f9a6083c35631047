/*
 * json_parse.c - a strict, bounded JSON reader for netlabctl.
 *
 * It reads what the daemon's control socket sends, but is written for
 * hostile input all the same: anything outside RFC 8259 (trailing commas,
 * leading zeros, raw control characters, invalid UTF-8, lone surrogates,
 * text after the value) is an error, never a crash.  Recursion is bounded
 * by NL_JP_MAX_DEPTH and memory by NL_JP_MAX_SIZE times a small factor,
 * since every value needs at least one byte of input.
 *
 * It does not keep the order of duplicate keys meaningful, preserve number
 * spelling, or stream: answers are small and read whole.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_parse.h"

struct nl_jp_value {
    enum nl_jp_type type;
    union {
        int boolean;
        struct {
            uint64_t mag; /* |value|, valid when is_int */
            int neg;
            int is_int; /* no fraction or exponent, and mag did not overflow */
            double d;
        } num;
        struct {
            char *s;
            size_t len;
        } str;
        struct {
            struct nl_jp_value **items;
            char **keys; /* objects only */
            size_t n, cap;
        } coll;
    } u;
};

struct parser {
    const char *start, *p, *end;
    int depth;
    char *err;
    size_t errlen;
    int failed;
};

static void fail(struct parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct parser *ps, const char *fmt, ...)
{
    va_list ap;
    int n;

    /* The innermost failure is the useful one; callers unwinding past it
     * must not overwrite it. */
    if (ps->failed)
        return;
    ps->failed = 1;
    if (ps->err == NULL || ps->errlen == 0)
        return;
    n = snprintf(ps->err, ps->errlen,
                 "at byte %zu: ", (size_t)(ps->p - ps->start));
    if (n < 0 || (size_t)n >= ps->errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void
fail_unexpected(struct parser *ps, const char *wanted)
{
    unsigned char c;

    if (ps->p >= ps->end) {
        fail(ps, "unexpected end of input, expected %s", wanted);
        return;
    }
    c = (unsigned char)*ps->p;
    if (c > 0x20 && c < 0x7f)
        fail(ps, "unexpected '%c', expected %s", c, wanted);
    else
        fail(ps, "unexpected byte 0x%02x, expected %s", c, wanted);
}

static void
skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
                               *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static struct nl_jp_value *
new_value(struct parser *ps, enum nl_jp_type type)
{
    struct nl_jp_value *v = calloc(1, sizeof(*v));

    if (v == NULL)
        fail(ps, "out of memory");
    else
        v->type = type;
    return v;
}

void
nl_jp_free(struct nl_jp_value *v)
{
    if (v == NULL)
        return;
    if (v->type == NL_JP_STRING) {
        free(v->u.str.s);
    } else if (v->type == NL_JP_ARRAY || v->type == NL_JP_OBJECT) {
        for (size_t i = 0; i < v->u.coll.n; i++) {
            nl_jp_free(v->u.coll.items[i]);
            if (v->u.coll.keys != NULL)
                free(v->u.coll.keys[i]);
        }
        free(v->u.coll.items);
        free(v->u.coll.keys);
    }
    free(v);
}

static int
hex4(const char *s, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char c = s[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t
put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Reads a \uXXXX escape at ps->p (just past the "u"), joining a surrogate
 * pair into one code point.  A lone surrogate cannot become UTF-8, so it is
 * refused rather than replaced: the daemon never sends one.
 */
static int
read_u_escape(struct parser *ps, const char *close, unsigned *cp)
{
    unsigned lo;

    if (close - ps->p < 4 || hex4(ps->p, cp) == -1) {
        fail(ps, "\\u needs four hex digits");
        return -1;
    }
    ps->p += 4;
    if (*cp >= 0xdc00 && *cp <= 0xdfff) {
        fail(ps, "low surrogate \\u%04x without a high one", *cp);
        return -1;
    }
    if (*cp < 0xd800 || *cp > 0xdbff)
        return 0;
    if (close - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
        hex4(ps->p + 2, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff) {
        fail(ps, "high surrogate \\u%04x without a low one", *cp);
        return -1;
    }
    ps->p += 6;
    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
    return 0;
}

/* The length of the valid UTF-8 sequence at s (before end), or 0. */
static size_t
utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;

    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    else
        return 0;
    /* The second byte's range rules out overlong forms, surrogates and
     * code points past U+10FFFF. */
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if ((size_t)(end - s) < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

static int
read_escape(struct parser *ps, const char *close, char *o, size_t *olen)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit;
    unsigned cp;

    ps->p++; /* the backslash */
    if (*ps->p == 'u') {
        ps->p++;
        if (read_u_escape(ps, close, &cp) == -1)
            return -1;
        *olen = put_utf8(o, cp);
        return 0;
    }
    if (*ps->p == '\0' || (hit = strchr(from, *ps->p)) == NULL) {
        fail_unexpected(ps, "an escape (\" \\ / b f n r t u)");
        return -1;
    }
    o[0] = to[hit - from];
    *olen = 1;
    ps->p++;
    return 0;
}

/*
 * Reads the string whose opening quote is at ps->p into a fresh buffer.
 * A first pass finds the closing quote, which bounds the output: no escape
 * decodes to more bytes than it takes.
 */
static char *
read_string(struct parser *ps, size_t *lenp)
{
    const char *close = ++ps->p;
    char *s, *o;

    /* A backslash skips the byte after it, whatever that is; read_escape
     * judges it later. */
    while (close < ps->end && *close != '"' &&
           !(*close == '\\' && ps->end - close < 2))
        close += *close == '\\' ? 2 : 1;
    if (close >= ps->end || *close != '"') {
        fail(ps, "unterminated string");
        return NULL;
    }
    if ((s = malloc((size_t)(close - ps->p) + 1)) == NULL) {
        fail(ps, "out of memory");
        return NULL;
    }
    o = s;
    while (ps->p < close) {
        unsigned char c = (unsigned char)*ps->p;
        size_t n;

        if (c < 0x20) {
            fail(ps, "control character 0x%02x in a string", c);
            goto fail;
        } else if (c == '\\') {
            if (read_escape(ps, close, o, &n) == -1)
                goto fail;
            o += n;
        } else if (c < 0x80) {
            *o++ = (char)c;
            ps->p++;
        } else {
            n = utf8_len((const unsigned char *)ps->p,
                         (const unsigned char *)close);
            if (n == 0) {
                fail(ps, "invalid UTF-8 in a string");
                goto fail;
            }
            memcpy(o, ps->p, n);
            o += n;
            ps->p += n;
        }
    }
    *o = '\0';
    *lenp = (size_t)(o - s);
    ps->p = close + 1;
    return s;
fail:
    free(s);
    return NULL;
}

static const char *
skip_digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

/*
 * Checks the number's grammar by hand, then lets strtod round it: strtod
 * alone would accept "0x1p3", "inf" or " 1".  netlabctl never calls
 * setlocale, so the decimal point is ".".
 */
static struct nl_jp_value *
read_number(struct parser *ps)
{
    const char *p = ps->p, *digits, *q;
    struct nl_jp_value *v;
    char small[64], *copy = small;
    size_t len;
    int is_int = 1;

    if (p < ps->end && *p == '-')
        p++;
    digits = p;
    if (p >= ps->end || *p < '0' || *p > '9') {
        ps->p = p;
        fail_unexpected(ps, "a digit");
        return NULL;
    }
    p = *p == '0' ? p + 1 : skip_digits(p, ps->end);
    q = p;
    if (p < ps->end && *p == '.') {
        is_int = 0;
        if ((q = skip_digits(p + 1, ps->end)) == p + 1) {
            ps->p = q;
            fail_unexpected(ps, "a digit after '.'");
            return NULL;
        }
    }
    p = q;
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        is_int = 0;
        if (++p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if ((q = skip_digits(p, ps->end)) == p) {
            ps->p = q;
            fail_unexpected(ps, "a digit in the exponent");
            return NULL;
        }
        p = q;
    }
    if ((v = new_value(ps, NL_JP_NUMBER)) == NULL)
        return NULL;
    v->u.num.neg = *ps->p == '-';
    v->u.num.is_int = is_int;
    for (q = digits; is_int && q < p; q++) {
        unsigned d = (unsigned)(*q - '0');

        if (v->u.num.mag > (UINT64_MAX - d) / 10)
            v->u.num.is_int = is_int = 0;
        else
            v->u.num.mag = v->u.num.mag * 10 + d;
    }
    len = (size_t)(p - ps->p);
    if (len >= sizeof(small) && (copy = malloc(len + 1)) == NULL) {
        free(v);
        fail(ps, "out of memory");
        return NULL;
    }
    memcpy(copy, ps->p, len);
    copy[len] = '\0';
    v->u.num.d = strtod(copy, NULL);
    if (copy != small)
        free(copy);
    ps->p = p;
    return v;
}

static struct nl_jp_value *read_value(struct parser *ps);

static int
append(struct parser *ps, struct nl_jp_value *coll, char *key,
       struct nl_jp_value *item)
{
    if (coll->u.coll.n == coll->u.coll.cap) {
        size_t cap = coll->u.coll.cap ? coll->u.coll.cap * 2 : 4;
        struct nl_jp_value **items;
        char **keys;

        items = realloc(coll->u.coll.items, cap * sizeof(*items));
        if (items == NULL)
            goto nomem;
        coll->u.coll.items = items;
        if (coll->type == NL_JP_OBJECT) {
            keys = realloc(coll->u.coll.keys, cap * sizeof(*keys));
            if (keys == NULL)
                goto nomem;
            coll->u.coll.keys = keys;
        }
        coll->u.coll.cap = cap;
    }
    coll->u.coll.items[coll->u.coll.n] = item;
    if (coll->type == NL_JP_OBJECT)
        coll->u.coll.keys[coll->u.coll.n] = key;
    coll->u.coll.n++;
    return 0;
nomem:
    fail(ps, "out of memory");
    return -1;
}

/* Reads one member of an object, "key": value, and appends it. */
static int
read_member(struct parser *ps, struct nl_jp_value *obj)
{
    struct nl_jp_value *item;
    char *key;
    size_t klen;

    if (ps->p >= ps->end || *ps->p != '"') {
        fail_unexpected(ps, "a string key");
        return -1;
    }
    if ((key = read_string(ps, &klen)) == NULL)
        return -1;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') {
        fail_unexpected(ps, "':'");
        goto fail;
    }
    ps->p++;
    if ((item = read_value(ps)) == NULL)
        goto fail;
    if (append(ps, obj, key, item) == -1) {
        nl_jp_free(item);
        goto fail;
    }
    return 0;
fail:
    free(key);
    return -1;
}

/* Reads an array or object whose opening bracket is at ps->p. */
static struct nl_jp_value *
read_collection(struct parser *ps, enum nl_jp_type type)
{
    char close = type == NL_JP_ARRAY ? ']' : '}';
    const char *wanted = type == NL_JP_ARRAY ? "',' or ']'" : "',' or '}'";
    struct nl_jp_value *v, *item;

    if (++ps->depth > NL_JP_MAX_DEPTH) {
        fail(ps, "nested deeper than %d levels", NL_JP_MAX_DEPTH);
        return NULL;
    }
    if ((v = new_value(ps, type)) == NULL)
        return NULL;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close)
        goto done;
    for (;;) {
        if (type == NL_JP_OBJECT) {
            skip_ws(ps);
            if (read_member(ps, v) == -1)
                goto fail;
        } else {
            if ((item = read_value(ps)) == NULL)
                goto fail;
            if (append(ps, v, NULL, item) == -1) {
                nl_jp_free(item);
                goto fail;
            }
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close)
            break;
        fail_unexpected(ps, wanted);
        goto fail;
    }
done:
    ps->p++;
    ps->depth--;
    return v;
fail:
    nl_jp_free(v);
    return NULL;
}

static struct nl_jp_value *
read_literal(struct parser *ps)
{
    static const struct {
        const char *word;
        enum nl_jp_type type;
        int boolean;
    } words[] = {{"true", NL_JP_BOOL, 1},
                 {"false", NL_JP_BOOL, 0},
                 {"null", NL_JP_NULL, 0}};
    struct nl_jp_value *v;

    for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++) {
        size_t n = strlen(words[i].word);

        if ((size_t)(ps->end - ps->p) < n ||
            memcmp(ps->p, words[i].word, n) != 0)
            continue;
        if ((v = new_value(ps, words[i].type)) == NULL)
            return NULL;
        v->u.boolean = words[i].boolean;
        ps->p += n;
        return v;
    }
    fail_unexpected(ps, "a value");
    return NULL;
}

static struct nl_jp_value *
read_value(struct parser *ps)
{
    struct nl_jp_value *v;
    char *s;
    size_t len;

    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail_unexpected(ps, "a value");
        return NULL;
    }
    switch (*ps->p) {
    case '{':
        return read_collection(ps, NL_JP_OBJECT);
    case '[':
        return read_collection(ps, NL_JP_ARRAY);
    case '"':
        if ((s = read_string(ps, &len)) == NULL)
            return NULL;
        if ((v = new_value(ps, NL_JP_STRING)) == NULL) {
            free(s);
            return NULL;
        }
        v->u.str.s = s;
        v->u.str.len = len;
        return v;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return read_number(ps);
    default:
        return read_literal(ps);
    }
}

struct nl_jp_value *
nl_jp_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct parser ps = {.err = err, .errlen = errlen};
    struct nl_jp_value *v;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (text == NULL) {
        /* Nothing to read; "" gives the pointer arithmetic a real base. */
        text = "";
        len = 0;
    }
    ps.start = ps.p = text;
    ps.end = text + len;
    if (len > NL_JP_MAX_SIZE) {
        fail(&ps, "document larger than %d bytes", NL_JP_MAX_SIZE);
        return NULL;
    }
    if ((v = read_value(&ps)) == NULL)
        return NULL;
    skip_ws(&ps);
    if (ps.p < ps.end) {
        fail_unexpected(&ps, "the end of the document");
        nl_jp_free(v);
        return NULL;
    }
    return v;
}

enum nl_jp_type
nl_jp_type(const struct nl_jp_value *v)
{
    return v == NULL ? NL_JP_NULL : v->type;
}

const struct nl_jp_value *
nl_jp_get(const struct nl_jp_value *obj, const char *key)
{
    if (obj == NULL || obj->type != NL_JP_OBJECT || key == NULL)
        return NULL;
    for (size_t i = 0; i < obj->u.coll.n; i++)
        if (strcmp(obj->u.coll.keys[i], key) == 0)
            return obj->u.coll.items[i];
    return NULL;
}

size_t
nl_jp_len(const struct nl_jp_value *v)
{
    if (v == NULL || (v->type != NL_JP_ARRAY && v->type != NL_JP_OBJECT))
        return 0;
    return v->u.coll.n;
}

const struct nl_jp_value *
nl_jp_index(const struct nl_jp_value *v, size_t i, const char **key)
{
    if (i >= nl_jp_len(v))
        return NULL;
    if (key != NULL)
        *key = v->type == NL_JP_OBJECT ? v->u.coll.keys[i] : NULL;
    return v->u.coll.items[i];
}

const char *
nl_jp_string(const struct nl_jp_value *v, size_t *len)
{
    if (v == NULL || v->type != NL_JP_STRING)
        return NULL;
    if (len != NULL)
        *len = v->u.str.len;
    return v->u.str.s;
}

int
nl_jp_bool(const struct nl_jp_value *v, int *out)
{
    if (v == NULL || v->type != NL_JP_BOOL)
        return -1;
    *out = v->u.boolean;
    return 0;
}

int
nl_jp_uint(const struct nl_jp_value *v, uint64_t *out)
{
    if (v == NULL || v->type != NL_JP_NUMBER || !v->u.num.is_int ||
        (v->u.num.neg && v->u.num.mag != 0))
        return -1;
    *out = v->u.num.mag;
    return 0;
}

int
nl_jp_int(const struct nl_jp_value *v, int64_t *out)
{
    uint64_t mag;

    if (v == NULL || v->type != NL_JP_NUMBER || !v->u.num.is_int)
        return -1;
    mag = v->u.num.mag;
    if (!v->u.num.neg) {
        if (mag > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX + 1)
            return -1;
        /* Negating in unsigned arithmetic reaches INT64_MIN without
         * overflowing a signed value. */
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    }
    return 0;
}

int
nl_jp_double(const struct nl_jp_value *v, double *out)
{
    if (v == NULL || v->type != NL_JP_NUMBER)
        return -1;
    *out = v->u.num.d;
    return 0;
}
