/*
 * tests/fuzz — libFuzzer targets for what a package, a trigger, a
 * configuration, a Sqitch plan, SQL, an outbox file, a journal or a
 * plan.json can hand nightshift: each must end in a message, never in a
 * crash, a leak or undefined behaviour. Built by `meson setup build-fuzz
 * -Dfuzz=true` with clang (see `make fuzz`); not part of `make check`.
 */
#ifndef NS_FUZZ_H
#define NS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* where the targets write: $TMPDIR, or /tmp */
const char *fuzz_tmp(void);
/* data as a file: the same path every call, rewritten; NULL on failure */
const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix);
/* data as a NUL-terminated string (the caller frees it) */
char *fuzz_str(const uint8_t *data, size_t size);

#endif
