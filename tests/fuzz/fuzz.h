/*
 * fuzz.h - the entry points libFuzzer calls in each target under
 * tests/fuzz (declared here for -Wmissing-prototypes).
 */
#ifndef NL_FUZZ_H
#define NL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* NL_FUZZ_H */
