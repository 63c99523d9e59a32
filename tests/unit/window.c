/* window: the calendar of an environment — windows across midnight,
 * several and overlapping windows, both daylight saving changes in two
 * zones, a leap day, blackouts (dates, ranges, timed) cutting windows, and
 * the refusals of bad lines */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "error.h"
#include "testutil.h"
#include "window.h"

#define WHAT "nightshift.conf:12: window"

/* ---- fixtures ------------------------------------------------------ */

/* the process runs in a zone that none of the calendars uses, so that a
 * calendar that leaned on TZ would be caught */
static int setup(void **state)
{
	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	return 0;
}

static int teardown(void **state)
{
	/* the calendar put TZ back */
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	ns_error_clear();
	return 0;
}

/* "YYYY-MM-DD HH:MM" with an optional UTC offset " +HH" or " -HH" (UTC
 * without), so that every expected moment is spelled without the code
 * under test */
static time_t at(const char *s)
{
	struct tm tm;
	char *end;
	int off = 0;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d %H:%M", &tm);
	if (!end)
		fail_msg("bad time '%s' in the test", s);
	if (*end) {
		if (sscanf(end, " %d", &off) != 1)
			fail_msg("bad offset in '%s'", s);
	}
	return timegm(&tm) - off * 3600;
}

/* windows and blackouts: lines separated by '|' */
static struct ns_calendar *calendar(const char *zone, const char *windows,
				    const char *blackouts)
{
	struct ns_env e;
	struct ns_env_line wl[8], bl[8];
	struct ns_calendar *c = NULL;
	char *wcopy = windows ? strdup(windows) : NULL;
	char *bcopy = blackouts ? strdup(blackouts) : NULL;
	char *save = NULL;

	memset(&e, 0, sizeof(e));
	e.name = "billing/production";
	e.file = "nightshift.conf";
	e.timezone = (char *)zone;
	e.timezone_line = 3;
	e.windows = wl;
	e.blackouts = bl;
	for (char *p = wcopy ? strtok_r(wcopy, "|", &save) : NULL; p;
	     p = strtok_r(NULL, "|", &save)) {
		wl[e.windows_nr].value = p;
		wl[e.windows_nr].line = 10 + (int)e.windows_nr;
		e.windows_nr++;
	}
	for (char *p = bcopy ? strtok_r(bcopy, "|", &save) : NULL; p;
	     p = strtok_r(NULL, "|", &save)) {
		bl[e.blackouts_nr].value = p;
		bl[e.blackouts_nr].line = 20 + (int)e.blackouts_nr;
		e.blackouts_nr++;
	}
	if (ns_calendar_new(&c, &e) != 0)
		fail_msg("refused: %s", ns_error_last());
	free(wcopy);
	free(bcopy);
	return c;
}

static void assert_open(const struct ns_calendar *c, const char *t,
			const char *want_close)
{
	time_t close = 0;

	if (!ns_calendar_open(c, at(t), &close))
		fail_msg("closed at %s", t);
	if (close != (want_close ? at(want_close) : (time_t)-1))
		fail_msg("open at %s until %lld, not %s", t, (long long)close,
			 want_close ? want_close : "never");
}

static void assert_shut(const struct ns_calendar *c, const char *t)
{
	time_t close = 12345;

	if (ns_calendar_open(c, at(t), &close))
		fail_msg("open at %s", t);
	assert_int_equal(close, 12345);
}

static void assert_next(const struct ns_calendar *c, const char *from,
			const char *want, const char *want_close)
{
	time_t close = 0, next = ns_calendar_next(c, at(from), &close);

	if (next != at(want))
		fail_msg("next after %s: %lld, not %s (%lld)", from,
			 (long long)next, want, (long long)at(want));
	if (close != (want_close ? at(want_close) : (time_t)-1))
		fail_msg("next after %s closes at %lld, not %s", from,
			 (long long)close, want_close ? want_close : "never");
}

/* ---- grammar ------------------------------------------------------- */

static void test_window_refused(void **state)
{
	static const struct {
		const char *spec, *msg;
	} cases[] = {
		{ "Mon-Fry 23:00-05:00",
		  WHAT ": 'Mon-Fry 23:00-05:00': unknown day 'Fry'" },
		{ "Mon-Fri 23:00-05:00, Sat 25:00-26:00",
		  WHAT ": 'Sat 25:00-26:00': bad time range '25:00-26:00' "
		       "(want HH:MM-HH:MM)" },
		{ "Monday 01:00-02:00", "'Monday 01:00-02:00': unknown day "
					"'Monday'" },
		{ "Mon-Fri", WHAT ": 'Mon-Fri': no time range (want DAYS "
				  "HH:MM-HH:MM)" },
		{ "Mon 24:00-05:00",
		  "'Mon 24:00-05:00': 24:00 is only an end" },
		{ "Mon 23:00-05:60", "'Mon 23:00-05:60': bad time range" },
		{ "Mon 23:00-24:01", "'Mon 23:00-24:01': bad time range" },
		{ "Mon 23:00 05:00", "'Mon 23:00 05:00': bad time range" },
		{ "Mon 23:00-05:00x", "'Mon 23:00-05:00x': bad time range" },
		{ "Mon-Fri 23-05", "'Mon-Fri 23-05': bad time range" },
		{ "Sat,Sun 00:00-24:00", "'Sat': no time range" },
		{ "Mon 01:00-02:00,", "'Mon 01:00-02:00,': empty item" },
		{ "", WHAT ": no window given" },
		{ "  ", WHAT ": no window given" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		assert_int_equal(ns_window_check(cases[i].spec, WHAT),
				 NS_EINVALID);
		tu_assert_error_has(cases[i].msg);
	}
	assert_int_equal(
		ns_window_check("fri-MON 1:00-02:00, * 3:00-4:00", WHAT), 0);
}

static void test_blackout_refused(void **state)
{
	static const struct {
		const char *spec, *msg;
	} cases[] = {
		{ "2026-02-30", "nightshift.conf:14: blackout: '2026-02-30': "
				"expected a date YYYY-MM-DD, a range of dates "
				"YYYY-MM-DD..YYYY-MM-DD or a timed range "
				"YYYY-MM-DD HH:MM..YYYY-MM-DD HH:MM" },
		{ "2026-02-29", "'2026-02-29': expected a date" },
		{ "2027-02-29..2027-03-01",
		  "'2027-02-29..2027-03-01': expected" },
		{ "2026-13-01", "'2026-13-01': expected a date" },
		{ "2026-00-10", "'2026-00-10': expected a date" },
		{ "2026-1-01", "'2026-1-01': expected a date" },
		{ "2026-12-24, tomorrow", "'tomorrow': expected a date" },
		{ "2026-12-24..", "'2026-12-24..': expected a date" },
		{ "2026-12-24...2026-12-25", "'2026-12-24...2026-12-25'" },
		{ "2026-12-31 18:00", "'2026-12-31 18:00': expected" },
		{ "2026-12-31 18:00..2027-01-01 6", "expected a date" },
		{ "2026-12-31 18:60..2027-01-01 06:00", "expected a date" },
		{ "2026-12-31T18:00..2027-01-01 06:00", "expected a date" },
		{ "2026-12-26..2026-12-24",
		  "'2026-12-26..2026-12-24': the range ends before it starts" },
		{ "2026-12-31 18:00..2026-12-31 18:00",
		  "the range ends before it starts" },
		{ "2026-12-24,,2026-12-25", "empty item" },
		{ "", "nightshift.conf:14: blackout: no blackout given" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		assert_int_equal(ns_blackout_check(cases[i].spec,
						   "nightshift.conf:14: "
						   "blackout"),
				 NS_EINVALID);
		tu_assert_error_has(cases[i].msg);
	}
}

static void test_zone_refused(void **state)
{
	static const char *const bad[] = { "Europe/Berlinn",   "Mars/Olympus",
					   "../../etc/passwd", "/etc/localtime",
					   "Europe",	       "",
					   "Europe/Berlin ",   "CET-1CEST" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(ns_zone_check(bad[i], "nightshift.conf:3: "
						       "timezone"),
				 NS_EINVALID);
		tu_assert_error_has("nightshift.conf:3: timezone: unknown time "
				    "zone");
	}
	assert_int_equal(ns_zone_check("Europe/Berlin", "x"), 0);
	assert_int_equal(ns_zone_check("America/New_York", "x"), 0);
	assert_int_equal(ns_zone_check("UTC", "x"), 0);
}

/* the calendar names the line of the configuration that is wrong */
static void test_calendar_refused(void **state)
{
	struct ns_env e;
	struct ns_env_line wl[] = { { "daily 01:00-02:00", 7 },
				    { "Mon 01:00-2:00x", 9 } };
	struct ns_env_line bl[] = { { "2026-12-24..2026-12-23", 11 } };
	struct ns_calendar *c = NULL;

	memset(&e, 0, sizeof(e));
	e.name = "billing/production";
	e.file = "nightshift.conf";
	e.windows = wl;
	e.windows_nr = 2;
	assert_int_equal(ns_calendar_new(&c, &e), NS_EINVALID);
	assert_null(c);
	tu_assert_error_has("nightshift.conf:9: [environment "
			    "\"billing/production\"] window: 'Mon "
			    "01:00-2:00x': bad time range");
	e.windows_nr = 1;
	e.blackouts = bl;
	e.blackouts_nr = 1;
	assert_int_equal(ns_calendar_new(&c, &e), NS_EINVALID);
	tu_assert_error_has("nightshift.conf:11: [environment "
			    "\"billing/production\"] blackout: "
			    "'2026-12-24..2026-12-23': the range ends");
	e.blackouts_nr = 0;
	e.timezone = "Europe/Paaris";
	e.timezone_line = 4;
	assert_int_equal(ns_calendar_new(&c, &e), NS_EINVALID);
	tu_assert_error_has("nightshift.conf:4: [environment "
			    "\"billing/production\"] timezone: unknown time "
			    "zone 'Europe/Paaris'");
}

/* ---- windows ------------------------------------------------------- */

static void test_across_midnight(void **state)
{
	struct ns_calendar *c = calendar("UTC", "Mon-Fri 23:00-05:00", NULL);

	assert_open(c, "2026-03-06 23:30", "2026-03-07 05:00"); /* Fri */
	assert_open(c, "2026-03-07 02:00", "2026-03-07 05:00"); /* Sat */
	assert_open(c, "2026-03-06 23:00", "2026-03-07 05:00");
	assert_open(c, "2026-03-10 02:00", "2026-03-10 05:00"); /* Tue */
	assert_shut(c, "2026-03-07 05:00");
	assert_shut(c, "2026-03-07 23:30"); /* Sat evening */
	assert_shut(c, "2026-03-09 02:00"); /* Mon: Sunday has none */
	assert_shut(c, "2026-03-06 22:59");
	assert_int_equal(ns_calendar_open(c, at("2026-03-07 04:59"), NULL), 1);
	/* outside: later that day; inside: now */
	assert_next(c, "2026-03-06 12:00", "2026-03-06 23:00",
		    "2026-03-07 05:00");
	assert_next(c, "2026-03-07 02:00", "2026-03-07 02:00",
		    "2026-03-07 05:00");
	/* over the weekend */
	assert_next(c, "2026-03-07 05:00", "2026-03-09 23:00",
		    "2026-03-10 05:00");
	assert_int_equal(ns_calendar_next(c, at("2026-03-07 05:00"), NULL),
			 at("2026-03-09 23:00"));
	ns_calendar_free(c);
}

/* comma lists and several lines make one calendar; overlapping and
 * touching occurrences are one opening */
static void test_several_windows(void **state)
{
	struct ns_calendar *c =
		calendar("UTC",
			 "daily 22:00-02:00|Fri 23:00-04:00 , Sat 01:00-03:00|"
			 "Sat 04:00-05:00",
			 NULL);

	assert_open(c, "2026-03-06 22:30", "2026-03-07 05:00");
	assert_open(c, "2026-03-07 03:30", "2026-03-07 05:00");
	assert_shut(c, "2026-03-07 05:00");
	assert_open(c, "2026-03-08 01:00", "2026-03-08 02:00"); /* Sun */
	assert_next(c, "2026-03-08 02:00", "2026-03-08 22:00",
		    "2026-03-09 02:00");
	ns_calendar_free(c);

	/* a range of days that wraps the week, a week ahead */
	c = calendar("UTC", "Fri-Mon 22:00-23:00|sun 01:00-02:00", NULL);
	assert_open(c, "2026-03-08 22:30", "2026-03-08 23:00"); /* Sun */
	assert_open(c, "2026-03-09 22:30", "2026-03-09 23:00"); /* Mon */
	assert_shut(c, "2026-03-10 22:30");
	assert_next(c, "2026-03-09 23:00", "2026-03-13 22:00",
		    "2026-03-13 23:00");
	assert_next(c, "2026-03-08 01:30", "2026-03-08 01:30",
		    "2026-03-08 02:00");
	assert_next(c, "2026-03-08 02:00", "2026-03-08 22:00",
		    "2026-03-08 23:00");
	ns_calendar_free(c);
}

static void test_whole_days(void **state)
{
	struct ns_calendar *c = calendar("UTC", "Sat-Sun 00:00-24:00", NULL);

	assert_open(c, "2026-03-07 00:00", "2026-03-09 00:00");
	assert_open(c, "2026-03-08 23:59", "2026-03-09 00:00");
	assert_shut(c, "2026-03-09 00:00");
	ns_calendar_free(c);

	/* an equal start and end is a whole day */
	c = calendar("UTC", "Wed 12:00-12:00", NULL);
	assert_open(c, "2026-03-12 11:59", "2026-03-12 12:00");
	assert_shut(c, "2026-03-11 11:59");
	ns_calendar_free(c);

	/* open all the time: it never closes */
	c = calendar("UTC", "daily 00:00-24:00", NULL);
	assert_open(c, "2026-03-12 11:59", NULL);
	ns_calendar_free(c);
}

/* no window: always open, less the blackouts */
static void test_no_window(void **state)
{
	struct ns_calendar *c = calendar(NULL, NULL, NULL);

	assert_open(c, "2026-03-12 11:59", NULL);
	assert_next(c, "2026-03-12 11:59", "2026-03-12 11:59", NULL);
	ns_calendar_free(c);

	c = calendar("UTC", NULL, "2026-12-24..2026-12-26");
	assert_open(c, "2026-12-20 10:00", "2026-12-24 00:00");
	assert_shut(c, "2026-12-25 10:00");
	assert_true(ns_calendar_blackout(c, at("2026-12-25 10:00")));
	assert_false(ns_calendar_blackout(c, at("2026-12-27 00:00")));
	assert_next(c, "2026-12-25 10:00", "2026-12-27 00:00", NULL);
	ns_calendar_free(c);

	/* blacked out beyond the horizon: no opening */
	c = calendar("UTC", NULL, "2026-01-01..2028-01-01");
	assert_int_equal(ns_calendar_next(c, at("2026-03-01 00:00"), NULL),
			 (time_t)-1);
	ns_calendar_free(c);
}

/* ---- daylight saving ----------------------------------------------- */

/* 2026-03-29: 02:00 CET (+01) becomes 03:00 CEST (+02); 2026-10-25: 03:00
 * CEST becomes 02:00 CET */
static void test_dst_berlin(void **state)
{
	struct ns_calendar *c =
		calendar("Europe/Berlin", "daily 01:30-03:30", NULL);

	/* spring: an hour long */
	assert_next(c, "2026-03-28 12:00 +01", "2026-03-29 01:30 +01",
		    "2026-03-29 03:30 +02");
	assert_open(c, "2026-03-29 03:10 +02", "2026-03-29 03:30 +02");
	/* the day after: two hours again */
	assert_next(c, "2026-03-29 04:00 +02", "2026-03-30 01:30 +02",
		    "2026-03-30 03:30 +02");
	/* autumn: three hours, through 02:00-03:00 twice */
	assert_next(c, "2026-10-24 12:00 +02", "2026-10-25 01:30 +02",
		    "2026-10-25 03:30 +01");
	assert_open(c, "2026-10-25 02:30 +01", "2026-10-25 03:30 +01");
	ns_calendar_free(c);

	c = calendar("Europe/Berlin", "daily 23:00-05:00", NULL);
	assert_next(c, "2026-03-28 12:00 +01", "2026-03-28 23:00 +01",
		    "2026-03-29 05:00 +02"); /* 5 h */
	assert_next(c, "2026-10-24 12:00 +02", "2026-10-24 23:00 +02",
		    "2026-10-25 05:00 +01"); /* 7 h */
	assert_next(c, "2026-10-25 12:00 +01", "2026-10-25 23:00 +01",
		    "2026-10-26 05:00 +01");
	ns_calendar_free(c);

	/* 02:30 does not exist on 2026-03-29: the window opens when the
	 * clocks jump; on 2026-10-25 it happens twice: the first one */
	c = calendar("Europe/Berlin", "Sun 02:30-04:00", NULL);
	assert_next(c, "2026-03-28 12:00 +01", "2026-03-29 03:00 +02",
		    "2026-03-29 04:00 +02");
	assert_next(c, "2026-10-24 12:00 +02", "2026-10-25 02:30 +02",
		    "2026-10-25 04:00 +01");
	ns_calendar_free(c);

	/* a window inside the gap vanishes that day */
	c = calendar("Europe/Berlin", "daily 02:10-02:50", NULL);
	assert_next(c, "2026-03-28 12:00 +01", "2026-03-30 02:10 +02",
		    "2026-03-30 02:50 +02");
	ns_calendar_free(c);
}

/* 2026-03-08: 02:00 EST (-05) becomes 03:00 EDT (-04); 2026-11-01: 02:00
 * EDT becomes 01:00 EST, so 01:30 happens twice */
static void test_dst_new_york(void **state)
{
	struct ns_calendar *c =
		calendar("America/New_York", "daily 01:30-03:30", NULL);

	assert_next(c, "2026-03-07 12:00 -05", "2026-03-08 01:30 -05",
		    "2026-03-08 03:30 -04");
	assert_next(c, "2026-10-31 12:00 -04", "2026-11-01 01:30 -04",
		    "2026-11-01 03:30 -05");
	assert_open(c, "2026-11-01 01:45 -05", "2026-11-01 03:30 -05");
	ns_calendar_free(c);

	c = calendar("America/New_York", "daily 23:00-05:00", NULL);
	assert_next(c, "2026-03-07 12:00 -05", "2026-03-07 23:00 -05",
		    "2026-03-08 05:00 -04");
	assert_next(c, "2026-10-31 12:00 -04", "2026-10-31 23:00 -04",
		    "2026-11-01 05:00 -05");
	ns_calendar_free(c);

	/* the same moment, the zone's own weekday: Monday 00:30 in Berlin
	 * is Sunday in New York */
	c = calendar("America/New_York", "Sun 18:00-20:00", NULL);
	assert_open(c, "2026-03-16 00:30 +01", "2026-03-15 20:00 -04");
	ns_calendar_free(c);
}

/* ---- leap day and blackouts ---------------------------------------- */

static void test_leap_day(void **state)
{
	struct ns_calendar *c = calendar("UTC", "Tue 23:00-05:00", NULL);

	/* 2028-02-29 is a Tuesday; its occurrence ends on 1 March */
	assert_next(c, "2028-02-28 12:00", "2028-02-29 23:00",
		    "2028-03-01 05:00");
	ns_calendar_free(c);

	c = calendar("Europe/Berlin", "daily 01:00-03:00",
		     "2028-02-28..2028-03-01");
	assert_next(c, "2028-02-27 12:00 +01", "2028-03-02 01:00 +01",
		    "2028-03-02 03:00 +01");
	assert_true(ns_calendar_blackout(c, at("2028-02-29 12:00 +01")));
	assert_shut(c, "2028-02-29 02:00 +01");
	ns_calendar_free(c);

	c = calendar("UTC", "daily 01:00-03:00", "2028-02-29");
	assert_open(c, "2028-02-28 02:00", "2028-02-28 03:00");
	assert_shut(c, "2028-02-29 02:00");
	assert_open(c, "2028-03-01 02:00", "2028-03-01 03:00");
	ns_calendar_free(c);
}

/* a blackout cuts a window at its start and the window reopens at its end
 * if the window still holds */
static void test_blackout_cuts_window(void **state)
{
	struct ns_calendar *c = calendar("Europe/Berlin", "daily 22:00-06:00",
					 "2026-12-30 23:00..2026-12-31 01:00|"
					 "2026-12-31 18:00..2027-01-01 02:00");

	assert_open(c, "2026-12-30 22:30 +01", "2026-12-30 23:00 +01");
	assert_shut(c, "2026-12-30 23:30 +01");
	assert_next(c, "2026-12-30 23:30 +01", "2026-12-31 01:00 +01",
		    "2026-12-31 06:00 +01");
	/* new year's eve: the window opens only at 02:00 */
	assert_shut(c, "2026-12-31 22:00 +01");
	assert_next(c, "2026-12-31 07:00 +01", "2027-01-01 02:00 +01",
		    "2027-01-01 06:00 +01");
	ns_calendar_free(c);

	/* whole dates are days of the zone: 23:30 UTC is already the 24th
	 * in Berlin */
	c = calendar("Europe/Berlin", NULL, "2026-12-24");
	assert_true(ns_calendar_blackout(c, at("2026-12-23 23:30")));
	assert_open(c, "2026-12-23 22:30", "2026-12-23 23:00");
	ns_calendar_free(c);
	c = calendar("UTC", NULL, "2026-12-24 .. 2026-12-24, 2027-01-01");
	assert_false(ns_calendar_blackout(c, at("2026-12-23 23:30")));
	assert_true(ns_calendar_blackout(c, at("2026-12-24 23:59")));
	assert_false(ns_calendar_blackout(c, at("2026-12-25 00:00")));
	assert_true(ns_calendar_blackout(c, at("2027-01-01 00:00")));
	ns_calendar_free(c);
}

/* queries far apart and back again give the same answers */
static void test_queries_move(void **state)
{
	struct ns_calendar *c = calendar("Europe/Berlin", "Mon-Fri 23:00-05:00",
					 "2027-12-24..2027-12-26");

	for (int round = 0; round < 2; round++) {
		assert_next(c, "2026-03-06 12:00 +01", "2026-03-06 23:00 +01",
			    "2026-03-07 05:00 +01");
		assert_next(c, "2027-12-23 12:00 +01", "2027-12-23 23:00 +01",
			    "2027-12-24 00:00 +01");
		assert_next(c, "2027-12-24 00:00 +01", "2027-12-27 23:00 +01",
			    "2027-12-28 05:00 +01");
		assert_next(c, "2026-03-06 23:30 +01", "2026-03-06 23:30 +01",
			    "2026-03-07 05:00 +01");
	}
	ns_calendar_free(c);

	/* an opening months ahead, and one that lasts for months */
	c = calendar("UTC", "daily 01:00-02:00", "2026-01-01..2026-03-31");
	assert_next(c, "2026-01-05 12:00", "2026-04-01 01:00",
		    "2026-04-01 02:00");
	assert_shut(c, "2026-02-01 01:30");
	ns_calendar_free(c);
	c = calendar("UTC", "daily 00:00-24:00", "2026-06-01..2026-06-01");
	assert_open(c, "2026-01-05 12:00", "2026-06-01 00:00");
	assert_next(c, "2026-06-01 12:00", "2026-06-02 00:00", NULL);
	ns_calendar_free(c);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_window_refused),	 T(test_blackout_refused),
		T(test_zone_refused),	 T(test_calendar_refused),
		T(test_across_midnight), T(test_several_windows),
		T(test_whole_days),	 T(test_no_window),
		T(test_dst_berlin),	 T(test_dst_new_york),
		T(test_leap_day),	 T(test_blackout_cuts_window),
		T(test_queries_move),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
