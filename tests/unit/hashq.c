/* hashq: chunks of several streams hashed on the worker thread, in order */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hashq.h"

#define EMPTY_SHA                                                              \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* streams of 0, 1, 65,536 and 300,001 bytes, each in chunks as large as
 * the queue lends, more streams than buffers: each digest is the one of
 * the whole stream hashed at once */
static void test_streams_match_whole(void **state)
{
	static const size_t sizes[] = { 0, 1, 65536, 300001, 7 };
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	struct ns_hashq *q = ns_hashq_new(n + 1);
	char want[NS_HEX_LEN + 1];

	(void)state;
	for (size_t s = 0; s < n; s++) {
		unsigned char *all = malloc(sizes[s] + 1);
		size_t off = 0, cap;

		for (size_t i = 0; i < sizes[s]; i++)
			all[i] = (unsigned char)(i * 31 + s);
		while (off < sizes[s]) {
			char *buf = ns_hashq_buffer(q, &cap);
			size_t k = sizes[s] - off < cap ? sizes[s] - off : cap;

			memcpy(buf, all + off, k);
			ns_hashq_submit(q, s, buf, k, 0);
			off += k;
		}
		ns_hashq_submit(q, s, ns_hashq_buffer(q, &cap), 0, 1);
		free(all);
	}
	ns_hashq_finish(q);
	for (size_t s = 0; s < n; s++) {
		unsigned char *all = malloc(sizes[s] + 1);

		for (size_t i = 0; i < sizes[s]; i++)
			all[i] = (unsigned char)(i * 31 + s);
		ns_sha256_buf(want, all, sizes[s]);
		assert_non_null(ns_hashq_digest(q, s));
		assert_string_equal(ns_hashq_digest(q, s), want);
		free(all);
	}
	assert_string_equal(ns_hashq_digest(q, 0), EMPTY_SHA);
	/* a stream never ended has no digest */
	assert_null(ns_hashq_digest(q, n));
	ns_hashq_free(q);
}

/* many one-chunk files, as a migration stages them: more chunks than the
 * queue has buffers, handed over a few at a time; every digest right */
static void test_many_small_streams(void **state)
{
	enum { N = 300 };
	struct ns_hashq *q = ns_hashq_new(N);
	char want[NS_HEX_LEN + 1], text[32];
	size_t cap;

	(void)state;
	for (size_t s = 0; s < N; s++) {
		char *buf = ns_hashq_buffer(q, &cap);
		int n = snprintf(buf, cap, "file %zu", s);

		ns_hashq_submit(q, s, buf, (size_t)n, 0);
		ns_hashq_submit(q, s, ns_hashq_buffer(q, &cap), 0, 1);
	}
	ns_hashq_finish(q);
	for (size_t s = 0; s < N; s++) {
		int n = snprintf(text, sizeof(text), "file %zu", s);

		ns_sha256_buf(want, text, (size_t)n);
		assert_non_null(ns_hashq_digest(q, s));
		assert_string_equal(ns_hashq_digest(q, s), want);
	}
	ns_hashq_free(q);
}

/* freed with a stream half done (an error on the way): no leak, no hang */
static void test_free_midstream(void **state)
{
	struct ns_hashq *q = ns_hashq_new(2);
	size_t cap;
	char *buf = ns_hashq_buffer(q, &cap);

	(void)state;
	memset(buf, 'x', 100);
	ns_hashq_submit(q, 0, buf, 100, 0);
	ns_hashq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams_match_whole),
		cmocka_unit_test(test_many_small_streams),
		cmocka_unit_test(test_free_midstream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
