/* window: maintenance windows (across midnight, the end of an occurrence,
 * the next start, whole days, a daylight saving day) and blackout dates */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "testutil.h"
#include "window.h"

#define WHAT "nightshift.conf:12: window"

/* ---- fixtures ------------------------------------------------------ */

/* every test starts and ends in UTC; the one that needs another zone
 * sets it itself */
static void use_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static int setup(void **state)
{
	use_tz("UTC");
	return 0;
}

static int teardown(void **state)
{
	use_tz("UTC");
	ns_error_clear();
	return 0;
}

/* "YYYY-MM-DD HH:MM" in the local time zone; 2026-03-06 is a Friday */
static time_t lt(const char *s)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d %H:%M", &tm);
	if (!end || *end)
		fail_msg("bad time '%s' in the test", s);
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static struct ns_window *window(const char *spec)
{
	struct ns_window *w = NULL;

	if (ns_window_parse(&w, spec, WHAT) != 0)
		fail_msg("'%s' refused: %s", spec, ns_error_last());
	assert_non_null(w);
	return w;
}

static struct ns_blackout *blackout(const char *spec)
{
	struct ns_blackout *b = NULL;

	if (ns_blackout_parse(&b, spec, "blackout") != 0)
		fail_msg("'%s' refused: %s", spec, ns_error_last());
	assert_non_null(b);
	return b;
}

/* t is inside w, in an occurrence that ends at want_end */
static void assert_in(const struct ns_window *w, const char *t,
		      const char *want_end)
{
	time_t end = 0;

	if (!ns_window_contains(w, lt(t), &end))
		fail_msg("%s is not in the window", t);
	if (end != lt(want_end))
		fail_msg("the occurrence holding %s ends at %lld, not %s", t,
			 (long long)end, want_end);
}

static void assert_out(const struct ns_window *w, const char *t)
{
	time_t end = 12345;

	if (ns_window_contains(w, lt(t), &end))
		fail_msg("%s is in the window", t);
	assert_int_equal(end, 12345);
}

static void assert_next(const struct ns_window *w, const char *from,
			const char *want)
{
	time_t next = ns_window_next(w, lt(from));

	if (next != lt(want))
		fail_msg("next after %s: %lld, not %s", from, (long long)next,
			 want);
}

/* ---- windows ------------------------------------------------------- */

static void test_parse_errors(void **state)
{
	static const struct {
		const char *spec, *msg;
	} cases[] = {
		{ "Mon-Fry 23:00-05:00",
		  WHAT ": 'Mon-Fry 23:00-05:00': unknown day 'Fry'" },
		{ "Mon-Fri 23:00-05:00, Sat 25:00-26:00",
		  WHAT ": 'Sat 25:00-26:00': bad time range '25:00-26:00'" },
		{ "Monday 01:00-02:00", "'Monday 01:00-02:00': unknown day "
					"'Monday'" },
		{ "Mon-Fri", WHAT ": 'Mon-Fri': no time range" },
		{ "Mon 24:00-05:00",
		  "'Mon 24:00-05:00': 24:00 is only an end" },
		{ "Mon 23:00-05:60", "'Mon 23:00-05:60': bad time range" },
		{ "Mon 23:00-24:01", "'Mon 23:00-24:01': bad time range" },
		{ "Mon 23:00 05:00", "'Mon 23:00 05:00': bad time range" },
		{ "Mon 23:00-05:00x", "'Mon 23:00-05:00x': bad time range" },
		{ "Mon-Fri 23-05", "'Mon-Fri 23-05': bad time range" },
		/* a list of days is no part of the grammar */
		{ "Sat,Sun 00:00-24:00", "'Sat': no time range" },
		{ "Mon 01:00-02:00,", "'Mon 01:00-02:00,': empty item" },
		{ "", WHAT ": no window given" },
		{ "  ", WHAT ": no window given" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct ns_window *w = NULL;

		assert_int_equal(ns_window_parse(&w, cases[i].spec, WHAT),
				 NS_EINVALID);
		assert_null(w);
		tu_assert_error_has(cases[i].msg);
	}
}

static void test_across_midnight(void **state)
{
	struct ns_window *w = window("Mon-Fri 23:00-05:00");

	assert_in(w, "2026-03-06 23:30", "2026-03-07 05:00"); /* Fri */
	assert_in(w, "2026-03-07 02:00", "2026-03-07 05:00"); /* Sat */
	assert_in(w, "2026-03-06 23:00", "2026-03-07 05:00");
	assert_in(w, "2026-03-10 02:00", "2026-03-10 05:00"); /* Tue */
	assert_out(w, "2026-03-07 05:00");
	assert_out(w, "2026-03-07 23:30"); /* Sat evening */
	assert_out(w, "2026-03-09 02:00"); /* Mon: Sunday has none */
	assert_out(w, "2026-03-06 22:59");
	assert_in(w, "2026-03-09 23:00", "2026-03-10 05:00");
	/* end is optional */
	assert_int_equal(ns_window_contains(w, lt("2026-03-07 04:59"), NULL),
			 1);
	ns_window_free(w);
}

static void test_end_latest_of_overlapping(void **state)
{
	struct ns_window *w =
		window("daily 22:00-02:00, Fri 23:00-04:00 , Sat 01:00-03:00");

	assert_in(w, "2026-03-06 22:30", "2026-03-07 02:00");
	assert_in(w, "2026-03-06 23:30", "2026-03-07 04:00");
	assert_in(w, "2026-03-07 01:30", "2026-03-07 04:00");
	assert_in(w, "2026-03-07 02:30", "2026-03-07 04:00");
	assert_in(w, "2026-03-07 03:30", "2026-03-07 04:00");
	assert_out(w, "2026-03-07 04:00");
	assert_in(w, "2026-03-08 01:00", "2026-03-08 02:00"); /* Sat→Sun */
	ns_window_free(w);
}

static void test_next(void **state)
{
	struct ns_window *w = window("Mon-Fri 23:00-05:00");

	/* outside: later that day */
	assert_next(w, "2026-03-06 12:00", "2026-03-06 23:00");
	/* at a start: that start */
	assert_next(w, "2026-03-06 23:00", "2026-03-06 23:00");
	/* inside: the occurrence after it, over the weekend */
	assert_next(w, "2026-03-06 23:30", "2026-03-09 23:00");
	assert_next(w, "2026-03-07 02:00", "2026-03-09 23:00");
	assert_next(w, "2026-03-08 23:30", "2026-03-09 23:00");
	ns_window_free(w);

	/* wrapping the week: a week less half an hour ahead */
	w = window("sun 01:00-02:00");
	assert_next(w, "2026-03-08 01:30", "2026-03-15 01:00");
	assert_next(w, "2026-03-08 00:59", "2026-03-08 01:00");
	ns_window_free(w);

	/* a range of days that wraps the week */
	w = window("Fri-Mon 22:00-23:00");
	assert_in(w, "2026-03-08 22:30", "2026-03-08 23:00"); /* Sun */
	assert_in(w, "2026-03-09 22:30", "2026-03-09 23:00"); /* Mon */
	assert_out(w, "2026-03-10 22:30");		      /* Tue */
	assert_out(w, "2026-03-12 22:30");		      /* Thu */
	assert_next(w, "2026-03-09 22:30", "2026-03-13 22:00");
	ns_window_free(w);
}

static void test_daily(void **state)
{
	static const char *const specs[] = { "daily 01:00-03:00",
					     "DAILY 1:00-03:00",
					     "* 01:00-03:00" };

	for (size_t i = 0; i < sizeof(specs) / sizeof(*specs); i++) {
		struct ns_window *w = window(specs[i]);

		for (int d = 2; d <= 8; d++) { /* Mon 2 .. Sun 8 March */
			char in[32], out[32], next[32];

			snprintf(in, sizeof(in), "2026-03-%02d 02:00", d);
			snprintf(out, sizeof(out), "2026-03-%02d 03:00", d);
			snprintf(next, sizeof(next), "2026-03-%02d 01:00",
				 d + 1);
			assert_in(w, in, out);
			assert_out(w, out);
			assert_next(w, out, next);
		}
		assert_out(w, "2026-03-02 00:59");
		ns_window_free(w);
	}
}

static void test_whole_days(void **state)
{
	struct ns_window *w = window("Sat-Sun 00:00-24:00");

	assert_in(w, "2026-03-07 00:00", "2026-03-08 00:00");
	assert_in(w, "2026-03-08 23:59", "2026-03-09 00:00");
	assert_out(w, "2026-03-09 00:00");
	assert_out(w, "2026-03-06 23:59");
	assert_next(w, "2026-03-07 12:00", "2026-03-08 00:00");
	ns_window_free(w);

	/* an equal start and end is a whole day too */
	w = window("Wed 00:00-00:00");
	assert_in(w, "2026-03-11 00:00", "2026-03-12 00:00");
	assert_out(w, "2026-03-12 00:00");
	ns_window_free(w);

	w = window("Wed 12:00-12:00");
	assert_in(w, "2026-03-12 11:59", "2026-03-12 12:00");
	assert_out(w, "2026-03-11 11:59");
	ns_window_free(w);

	/* 24:00 ends a window that starts late */
	w = window("Mon-Fri 22:00-24:00, Sat-Sun 00:00-24:00");
	assert_in(w, "2026-03-06 23:59", "2026-03-07 00:00");
	assert_in(w, "2026-03-07 00:00", "2026-03-08 00:00");
	assert_out(w, "2026-03-09 12:00");
	ns_window_free(w);
}

/* 2026-03-29 in Berlin: 02:00 CET becomes 03:00 CEST */
static void test_dst_berlin(void **state)
{
	struct ns_window *w;

	use_tz("Europe/Berlin");
	w = window("daily 01:00-04:00");
	assert_in(w, "2026-03-29 03:30", "2026-03-29 04:00");
	assert_in(w, "2026-03-29 01:30", "2026-03-29 04:00");
	assert_out(w, "2026-03-29 04:00");
	assert_out(w, "2026-03-29 00:59");
	/* the wall clock rules: the occurrence is an hour short that day */
	assert_int_equal(lt("2026-03-29 04:00") - lt("2026-03-29 01:00"),
			 2 * 3600);
	assert_next(w, "2026-03-28 05:00", "2026-03-29 01:00");
	assert_next(w, "2026-03-29 03:00", "2026-03-30 01:00");
	ns_window_free(w);
}

/* ---- blackouts ----------------------------------------------------- */

static void test_blackout_ranges(void **state)
{
	struct ns_blackout *b = blackout("2026-12-24..2026-12-26, 2027-01-01");

	assert_false(ns_blackout_contains(b, lt("2026-12-23 23:59")));
	assert_true(ns_blackout_contains(b, lt("2026-12-24 00:00")));
	assert_true(ns_blackout_contains(b, lt("2026-12-25 12:00")));
	assert_true(ns_blackout_contains(b, lt("2026-12-26 23:59")));
	assert_false(ns_blackout_contains(b, lt("2026-12-27 00:00")));
	assert_false(ns_blackout_contains(b, lt("2026-12-31 23:59")));
	assert_true(ns_blackout_contains(b, lt("2027-01-01 00:00")));
	assert_true(ns_blackout_contains(b, lt("2027-01-01 23:59")));
	assert_false(ns_blackout_contains(b, lt("2027-01-02 00:00")));
	ns_blackout_free(b);

	/* a one-day range, blanks around "..", a leap day */
	b = blackout("2026-03-01 .. 2026-03-01,2028-02-29");
	assert_true(ns_blackout_contains(b, lt("2026-03-01 08:00")));
	assert_false(ns_blackout_contains(b, lt("2026-02-28 08:00")));
	assert_true(ns_blackout_contains(b, lt("2028-02-29 08:00")));
	assert_false(ns_blackout_contains(b, lt("2028-03-01 08:00")));
	ns_blackout_free(b);
}

/* the date is the local one */
static void test_blackout_local_date(void **state)
{
	struct ns_blackout *b = blackout("2026-12-24");
	time_t t = lt("2026-12-23 23:30"); /* UTC */

	assert_false(ns_blackout_contains(b, t));
	use_tz("Europe/Berlin"); /* 2026-12-24 00:30 */
	assert_true(ns_blackout_contains(b, t));
	ns_blackout_free(b);
}

static void test_blackout_refused(void **state)
{
	static const struct {
		const char *spec, *msg;
	} cases[] = {
		{ "2026-02-30", "nightshift.conf:14: blackout: '2026-02-30': "
				"not a date YYYY-MM-DD or a range" },
		{ "2026-02-29", "'2026-02-29': not a date" },
		{ "2026-13-01", "'2026-13-01': not a date" },
		{ "2026-00-10", "'2026-00-10': not a date" },
		{ "2026-1-01", "'2026-1-01': not a date" },
		{ "2026-12-24, tomorrow", "'tomorrow': not a date" },
		{ "2026-12-24..", "'2026-12-24..': not a date" },
		{ "2026-12-24...2026-12-25", "'2026-12-24...2026-12-25'" },
		{ "2026-12-26..2026-12-24",
		  "'2026-12-26..2026-12-24': the range ends before it starts" },
		{ "2026-12-24,,2026-12-25", "empty item" },
		{ "", "nightshift.conf:14: blackout: no blackout dates given" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct ns_blackout *b = NULL;

		assert_int_equal(ns_blackout_parse(&b, cases[i].spec,
						   "nightshift.conf:14: "
						   "blackout"),
				 NS_EINVALID);
		assert_null(b);
		tu_assert_error_has(cases[i].msg);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parse_errors),
		T(test_across_midnight),
		T(test_end_latest_of_overlapping),
		T(test_next),
		T(test_daily),
		T(test_whole_days),
		T(test_dst_berlin),
		T(test_blackout_ranges),
		T(test_blackout_local_date),
		T(test_blackout_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
