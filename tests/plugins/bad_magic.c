/*
 * bad_magic.c - exports a `netlabd_handler` that is not a handler table:
 * its magic number is wrong, so nothing else in it may be trusted.
 */
#include <netlabd/plugin.h>

const struct netlabd_handler netlabd_handler = {
    .magic = 0xdeadbeefu,
    .abi_version = NETLABD_ABI_VERSION,
    .size = sizeof(struct netlabd_handler),
    .name = "bad_magic",
    .version = "0",
};
