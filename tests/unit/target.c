/* target: what of a database URL may be kept on disk — a PostgreSQL URI
 * without its password, wherever the URI holds one; anything else as it
 * is. (The drivers themselves run against real databases in the
 * end-to-end and fault tests.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "target.h"

static void expect_public(const char *url, const char *want)
{
	char *got = ns_target_url_public(url);

	assert_string_equal(got, want);
	free(got);
}

static void test_userinfo_password(void **state)
{
	(void)state;
	expect_public("postgresql://billing:s3cret@db1:5432/billing",
		      "postgresql://billing@db1:5432/billing");
	expect_public("postgres://u:p@h/db", "postgres://u@h/db");
	/* a colon after the host is a port, not a password */
	expect_public("postgresql://u@h:5432/db", "postgresql://u@h:5432/db");
	expect_public("postgresql://h:5432/db", "postgresql://h:5432/db");
}

static void test_password_parameter(void **state)
{
	(void)state;
	expect_public("postgresql://h/db?password=x", "postgresql://h/db");
	expect_public("postgresql://h/db?password=x&sslmode=require",
		      "postgresql://h/db?sslmode=require");
	expect_public("postgresql://h/db?sslmode=require&password=x",
		      "postgresql://h/db?sslmode=require");
	expect_public("postgresql://h/db?a=1&password=x&b=2",
		      "postgresql://h/db?a=1&b=2");
	expect_public("postgresql://u:p@h/db?password=q&a=1",
		      "postgresql://u@h/db?a=1");
	/* only a parameter of that name: not one that ends in it */
	expect_public("postgresql://h/db?application_name=no_password=1",
		      "postgresql://h/db?application_name=no_password=");
}

static void expect_conninfo(const char *url, const char *want)
{
	char *got = ns_target_pg_conninfo(url);

	assert_string_equal(got, want);
	free(got);
}

#define BOUNDS                                                                 \
	"keepalives_idle=30&keepalives_interval=10&keepalives_count=3"         \
	"&tcp_user_timeout=60000"

/* the connection's bounds, each unless the URI sets it itself */
static void test_connect_bounds(void **state)
{
	(void)state;
	expect_conninfo("postgresql://u@h/db",
			"postgresql://u@h/db?connect_timeout=30&" BOUNDS);
	expect_conninfo("postgresql://u@h/db?sslmode=require",
			"postgresql://u@h/db?sslmode=require"
			"&connect_timeout=30&" BOUNDS);
	expect_conninfo("postgresql://u@h/db?",
			"postgresql://u@h/db?connect_timeout=30&" BOUNDS);
	expect_conninfo("postgresql://h/db?connect_timeout=5",
			"postgresql://h/db?connect_timeout=5&" BOUNDS);
	expect_conninfo("postgresql://h/db?a=1&connect_timeout=5",
			"postgresql://h/db?a=1&connect_timeout=5&" BOUNDS);
	expect_conninfo("postgresql://h/db?keepalives_idle=300&"
			"tcp_user_timeout=0",
			"postgresql://h/db?keepalives_idle=300&"
			"tcp_user_timeout=0&connect_timeout=30&"
			"keepalives_interval=10&keepalives_count=3");
	/* only a parameter of that name: not one that ends in it, nor one
	 * that begins with it */
	expect_conninfo(
		"postgresql://h/db?application_name=my_connect_timeout=1",
		"postgresql://h/db?application_name=my_connect_timeout=1"
		"&connect_timeout=30&" BOUNDS);
	expect_conninfo(
		"postgresql://h/db?keepalives=1",
		"postgresql://h/db?keepalives=1&connect_timeout=30&" BOUNDS);
}

static void test_other_urls(void **state)
{
	(void)state;
	expect_public("sqlite:/srv/app/db.sqlite", "sqlite:/srv/app/db.sqlite");
	expect_public("postgresql://h/db", "postgresql://h/db");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_userinfo_password),
		cmocka_unit_test(test_password_parameter),
		cmocka_unit_test(test_other_urls),
		cmocka_unit_test(test_connect_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
