/* par: items fed to the second core as the caller goes, each done once */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "par.h"

struct tally {
	int *done;	      /* times item i was done */
	pthread_t *by;	      /* the thread that did it */
	pthread_mutex_t lock; /* done/by are written from both threads */
};

static void work(void *ctx, size_t i)
{
	struct tally *t = ctx;
	volatile unsigned spin = 0; /* some work per item */

	for (unsigned k = 0; k < 20000; k++)
		spin += k;
	pthread_mutex_lock(&t->lock);
	t->done[i]++;
	t->by[i] = pthread_self();
	pthread_mutex_unlock(&t->lock);
}

static void tally_init(struct tally *t, size_t n)
{
	t->done = calloc(n, sizeof(*t->done));
	t->by = calloc(n, sizeof(*t->by));
	pthread_mutex_init(&t->lock, NULL);
}

static void tally_free(struct tally *t)
{
	free(t->done);
	free(t->by);
	pthread_mutex_destroy(&t->lock);
}

static size_t by_worker(struct tally *t, size_t n)
{
	size_t k = 0;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < n; i++)
		k += t->done[i] && !pthread_equal(t->by[i], pthread_self());
	pthread_mutex_unlock(&t->lock);
	return k;
}

/* every item given is done exactly once, those not given never; given in
 * a scrambled order, with the caller busy between the gifts, the worker
 * does some of them (it works beside the caller, not after it) */
static void test_each_given_once(void **state)
{
	const size_t n = 500;
	struct tally t;
	struct ns_par_feed *f;

	(void)state;
	tally_init(&t, n);
	f = ns_par_feed_start(n, work, &t);
	for (size_t k = 0; k < n; k++) {
		size_t i = (k * 7919) % n; /* a permutation: 7919 is prime */

		if (i % 5 == 4)
			continue; /* never given */
		ns_par_feed_give(f, i);
		for (volatile unsigned s = 0; s < 20000; s++)
			;
	}
	/* the caller still busy: the worker takes items meanwhile (waited
	 * for up to 10 s, however loaded the machine) */
	for (int ms = 0; ms < 10000 && !by_worker(&t, n); ms++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	ns_par_feed_finish(f);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(t.done[i], i % 5 == 4 ? 0 : 1);
	assert_true(by_worker(&t, n) > 0);
	tally_free(&t);
}

/* nothing given, or everything given at once before finishing (a backlog
 * the caller and the worker share): finish returns with each done once */
static void test_none_and_backlog(void **state)
{
	const size_t n = 2000;
	struct tally t;
	struct ns_par_feed *f;

	(void)state;
	tally_init(&t, n);
	ns_par_feed_finish(ns_par_feed_start(0, work, &t));
	ns_par_feed_finish(ns_par_feed_start(n, work, &t));
	f = ns_par_feed_start(n, work, &t);
	for (size_t i = 0; i < n; i++)
		ns_par_feed_give(f, i);
	ns_par_feed_finish(f);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(t.done[i], 1);
	tally_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_given_once),
		cmocka_unit_test(test_none_and_backlog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
