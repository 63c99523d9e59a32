/* lazylib: a library loaded at first use, and the messages when it cannot */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "error.h"
#include "lazylib.h"

/* what a module declares, for a function of libm the tests call */
#include <math.h>
#define M_API(X) X(ldexp)
M_API(NS_LAZY_SLOT)

NS_LAZY_LOADER(m_load, M_API, "libm.so.6", "the test")

static void test_loads_and_calls(void **state)
{
	(void)state;
	assert_int_equal(m_load(), 0);
	assert_non_null(lazy_ldexp);
	assert_true(lazy_ldexp(1.0, 3) == 8.0);
	/* a second call finds it loaded */
	assert_int_equal(m_load(), 0);
}

static void test_missing_library(void **state)
{
	static struct ns_lazylib lib = { "libnosuch-nightshift.so.9",
					 "PostgreSQL sites", 0 };
	static const char *const names[] = { "PQconnectdb" };
	void *slot = NULL;
	void **const slots[] = { &slot };

	(void)state;
	assert_int_equal(ns_lazylib_load(&lib, names, slots, 1), NS_ERROR);
	assert_non_null(strstr(ns_error_last(), "PostgreSQL sites need "
						"libnosuch-nightshift.so.9"));
	/* tried once: the second call says so without trying again */
	assert_int_equal(ns_lazylib_load(&lib, names, slots, 1), NS_ERROR);
	assert_non_null(strstr(ns_error_last(), "tried before"));
	assert_null(slot);
}

static void test_missing_function(void **state)
{
	static struct ns_lazylib lib = { "libm.so.6", "the test", 0 };
	static const char *const names[] = { "ldexp", "no_such_function_ns" };
	void *a = NULL, *b = NULL;
	void **const slots[] = { &a, &b };

	(void)state;
	assert_int_equal(ns_lazylib_load(&lib, names, slots, 2), NS_ERROR);
	assert_non_null(strstr(ns_error_last(), "no_such_function_ns"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loads_and_calls),
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_missing_function),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
