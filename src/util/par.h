/*
 * par — a loop's reading and hashing on the second core, fed as it goes.
 *
 * ns_par_feed_start(n, fn, ctx) prepares one worker thread; the caller
 * goes on with its own steps and hands over each item to be worked on
 * with ns_par_feed_give(f, i) (each i < n at most once, in any order; the
 * first starts the thread), and the worker calls fn(ctx, i) for it beside
 * the caller. ns_par_feed_finish(f)
 * has the caller take its share of what is left, waits for the worker and
 * frees f: every item given has then been done, once. When no thread can
 * be started, the caller does them all in ns_par_feed_finish().
 *
 * For reading and hashing only: every step that changes anything stays on
 * the calling thread, in its order, so the kill points of the test build
 * stay where they are. fn reports through ctx (slot i); ns_error_set() on
 * the worker is the worker's own and is dropped.
 */
#ifndef NS_PAR_H
#define NS_PAR_H

#include <stddef.h>

typedef void (*ns_par_fn)(void *ctx, size_t i);

struct ns_par_feed;

struct ns_par_feed *ns_par_feed_start(size_t n, ns_par_fn fn, void *ctx);
void ns_par_feed_give(struct ns_par_feed *f, size_t i);
void ns_par_feed_finish(struct ns_par_feed *f);

#endif
