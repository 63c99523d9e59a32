#include "par.h"
#include "error.h"

#include <pthread.h>

struct half {
	size_t n, first;
	ns_par_fn fn;
	void *ctx;
};

static void run(const struct half *h)
{
	for (size_t i = h->first; i < h->n; i += 2)
		h->fn(h->ctx, i);
}

static void *worker(void *arg)
{
	run(arg);
	ns_error_clear(); /* the worker's messages die with it */
	return NULL;
}

void ns_par_each(size_t n, ns_par_fn fn, void *ctx)
{
	struct half even = { n, 0, fn, ctx }, odd = { n, 1, fn, ctx };
	pthread_t t;
	int threaded = n > 1 && pthread_create(&t, NULL, worker, &odd) == 0;

	run(&even);
	if (threaded)
		pthread_join(t, NULL);
	else
		run(&odd);
}
