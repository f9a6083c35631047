/*
 * bad_abi.c - a handler built for an ABI netlabd does not speak: the right
 * magic, but abi_version 999.  netlabd must refuse it and say which
 * version it found and which it expected.
 */
#include <netlabd/plugin.h>

const struct netlabd_handler netlabd_handler = {
    .magic = NETLABD_MAGIC,
    .abi_version = 999,
    .size = sizeof(struct netlabd_handler),
    .name = "bad_abi",
    .version = "0",
};
