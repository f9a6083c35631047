/*
 * fuzz_proxy.c - libFuzzer target for the PROXY protocol header parser
 * (daemon/proxy.c), which reads bytes a load balancer -- or anyone who
 * can connect to a proxy_protocol listener -- sends first.
 *
 * Each input is parsed whole and then fed again in every prefix, as a
 * connection would receive it a piece at a time.  What must hold: the
 * parser never reads past len (ASan), a whole header uses no more than
 * len and NL_PROXY_MAX bytes, a prefix of a valid header is "more" (never
 * "bad"), the same header comes out of every prefix long enough to hold
 * it, and a bad answer says why.
 */
#include "config.h"

#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nl_proxy whole, part;
    size_t used, used2;
    const char *why;
    enum nl_proxy_rc rc = nl_proxy_parse(data, size, &whole, &used, &why);

    if (rc == NL_PROXY_BAD && why == NULL)
        abort();
    if (rc != NL_PROXY_OK)
        return 0;
    if (used == 0 || used > size || used > NL_PROXY_MAX)
        abort();
    if (whole.version != 1 && whole.version != 2)
        abort();
    for (size_t n = 0; n < used; n++) {
        /* Each prefix on its own copy, so that ASan sees any read past it. */
        uint8_t *copy = malloc(n > 0 ? n : 1);
        enum nl_proxy_rc r;

        memcpy(copy, data, n);
        r = nl_proxy_parse(copy, n, &part, &used2, &why);
        free(copy);
        if (r != NL_PROXY_MORE)
            abort();
    }
    if (nl_proxy_parse(data, used, &part, &used2, &why) != NL_PROXY_OK ||
        used2 != used || part.local != whole.local ||
        part.src_len != whole.src_len ||
        memcmp(&part.src, &whole.src, sizeof(part.src)) != 0)
        abort();
    return 0;
}
