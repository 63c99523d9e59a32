#include "par.h"
#include "error.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdlib.h>

struct ns_par_feed {
	pthread_mutex_t lock;
	pthread_cond_t more;
	pthread_t worker;
	int started, threaded, closing, asleep;
	size_t *items, given, taken, n;
	ns_par_fn fn;
	void *ctx;
};

/* the next item given and not yet taken, or 0 when there is none */
static int take(struct ns_par_feed *f, size_t *i)
{
	if (f->taken == f->given)
		return 0;
	*i = f->items[f->taken++];
	return 1;
}

static void *feed_worker(void *arg)
{
	struct ns_par_feed *f = arg;
	size_t i;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		if (take(f, &i)) {
			pthread_mutex_unlock(&f->lock);
			f->fn(f->ctx, i);
			pthread_mutex_lock(&f->lock);
		} else if (f->closing) {
			break;
		} else {
			f->asleep = 1;
			pthread_cond_wait(&f->more, &f->lock);
			f->asleep = 0;
		}
	}
	pthread_mutex_unlock(&f->lock);
	ns_error_clear(); /* the worker's messages die with it */
	return NULL;
}

struct ns_par_feed *ns_par_feed_start(size_t n, ns_par_fn fn, void *ctx)
{
	struct ns_par_feed *f = xcalloc(1, sizeof(*f));

	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->more, NULL);
	f->items = xcalloc(n ? n : 1, sizeof(*f->items));
	f->n = n;
	f->fn = fn;
	f->ctx = ctx;
	return f;
}

void ns_par_feed_give(struct ns_par_feed *f, size_t i)
{
	/* the worker starts with the first item: a loop that gives none
	 * (a change without a base, say) costs no thread */
	if (!f->started) {
		f->started = 1;
		f->threaded =
			pthread_create(&f->worker, NULL, feed_worker, f) == 0;
	}
	pthread_mutex_lock(&f->lock);
	if (f->given == f->n)
		abort(); /* more than n: a caller's mistake, never input */
	f->items[f->given++] = i;
	/* a wake-up only when the worker sleeps: it costs a system call */
	if (f->asleep)
		pthread_cond_signal(&f->more);
	pthread_mutex_unlock(&f->lock);
}

void ns_par_feed_finish(struct ns_par_feed *f)
{
	size_t i;

	pthread_mutex_lock(&f->lock);
	f->closing = 1;
	pthread_cond_signal(&f->more);
	while (take(f, &i)) {
		pthread_mutex_unlock(&f->lock);
		f->fn(f->ctx, i);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	if (f->threaded)
		pthread_join(f->worker, NULL);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->more);
	free(f->items);
	free(f);
}
