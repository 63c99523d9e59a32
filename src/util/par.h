/*
 * par — one loop on both cores.
 *
 * ns_par_each(n, fn, ctx) calls fn(ctx, i) for every i < n: the calling
 * thread takes the even i, one worker thread the odd ones (or the caller
 * all of them when no thread can be started), and returns when all are
 * done. For reading and hashing only: every step that changes anything
 * stays on the calling thread, in its order, so the kill points of the
 * test build stay where they are. fn reports through ctx (slot i);
 * ns_error_set() on the worker is the worker's own and is dropped.
 */
#ifndef NS_PAR_H
#define NS_PAR_H

#include <stddef.h>

typedef void (*ns_par_fn)(void *ctx, size_t i);

void ns_par_each(size_t n, ns_par_fn fn, void *ctx);

#endif
