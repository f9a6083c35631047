/*
 * fuzz.h - the entry points libFuzzer calls in each target under
 * tests/fuzz (declared here for -Wmissing-prototypes).
 */
#ifndef NL_FUZZ_H
#define NL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* $TMPDIR when it is short enough for socket paths below it, or /tmp, for
 * a target's private folder.  (libFuzzer may end without running
 * atexit(): tools/fuzz.sh points TMPDIR at a folder it removes.) */
static inline const char *
nl_fuzz_tmp_dir(void)
{
    const char *t = getenv("TMPDIR");

    return t != NULL && t[0] == '/' && strlen(t) <= 24 ? t : "/tmp";
}

#endif /* NL_FUZZ_H */
