/*
 * The daemon's next event: when an environment must run, and until when
 * the daemon may sleep — an opening, a trigger falling due inside one, the
 * once-per-opening rule, across midnight and daylight saving time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "config.h"
#include "daemon.h"
#include "timefmt.h"
#include "window.h"

static struct ns_calendar *calendar(const char *window, const char *blackout,
				    const char *zone)
{
	static struct ns_env_line wl, bl;
	struct ns_calendar *c = NULL;
	struct ns_env e;

	memset(&e, 0, sizeof(e));
	e.name = "demo/model";
	e.file = "nightshift.conf";
	e.timezone = (char *)zone;
	wl = (struct ns_env_line){ (char *)window, 10 };
	bl = (struct ns_env_line){ (char *)blackout, 11 };
	e.windows = &wl;
	e.windows_nr = window != NULL;
	e.blackouts = &bl;
	e.blackouts_nr = blackout != NULL;
	assert_int_equal(ns_calendar_new(&c, &e), 0);
	return c;
}

static time_t at(const char *iso)
{
	time_t t;

	assert_int_equal(ns_time_parse(&t, iso), 0);
	return t;
}

static void assert_time(time_t got, const char *want)
{
	char iso[NS_TIME_LEN];

	ns_time_iso(iso, got);
	assert_string_equal(iso, want);
}

static const struct ns_daemon_env fresh = { NS_DAEMON_NONE, 0, (time_t)-1,
					    (time_t)-1 };

/* closed: it sleeps until the opening; open and not yet run: now */
static void test_opening(void **state)
{
	struct ns_calendar *c = calendar("Mon-Fri 23:00-05:00", NULL, "UTC");
	struct ns_daemon_env s = fresh;
	time_t close;

	/* Tuesday 2026-12-01, noon */
	assert_false(ns_daemon_env_due(c, &s, at("2026-12-01T12:00:00")));
	assert_time(ns_daemon_env_next(c, &s, at("2026-12-01T12:00:00")),
		    "2026-12-01T23:00:00Z");
	assert_true(ns_daemon_env_due(c, &s, at("2026-12-01T23:00:00")));
	assert_time(ns_daemon_env_next(c, &s, at("2026-12-01T23:00:00")),
		    "2026-12-01T23:00:00Z");
	/* run once: the opening is handled, the next is tomorrow */
	assert_true(ns_calendar_open(c, at("2026-12-01T23:00:00"), &close));
	s.handled = close;
	s.acted = at("2026-12-01T23:00:00");
	assert_false(ns_daemon_env_due(c, &s, at("2026-12-02T02:00:00")));
	assert_time(ns_daemon_env_next(c, &s, at("2026-12-02T02:00:00")),
		    "2026-12-02T23:00:00Z");
	/* Friday's opening crosses midnight; the next is Monday's */
	assert_true(ns_calendar_open(c, at("2026-12-04T23:00:00"), &close));
	s.handled = close;
	assert_time(ns_daemon_env_next(c, &s, at("2026-12-05T01:00:00")),
		    "2026-12-07T23:00:00Z");
	ns_calendar_free(c);
}

/* a trigger that falls due inside an open window wakes it; one due before
 * the last run does not (it ran or was re-queued), nor one after the close */
static void test_due_in_window(void **state)
{
	struct ns_calendar *c = calendar("daily 23:00-01:00", NULL, "UTC");
	struct ns_daemon_env s = fresh;
	time_t now = at("2026-12-01T23:10:00"), close;

	assert_true(ns_calendar_open(c, now, &close));
	s.handled = close;
	s.acted = now;
	s.due = at("2026-12-01T23:30:00");
	assert_false(ns_daemon_env_due(c, &s, now));
	assert_time(ns_daemon_env_next(c, &s, now), "2026-12-01T23:30:00Z");
	assert_true(ns_daemon_env_due(c, &s, at("2026-12-01T23:30:00")));
	s.due = at("2026-12-01T23:05:00"); /* before acted: not again */
	assert_false(ns_daemon_env_due(c, &s, now));
	assert_time(ns_daemon_env_next(c, &s, now), "2026-12-02T23:00:00Z");
	s.acted = 0; /* the spool changed: look again */
	assert_true(ns_daemon_env_due(c, &s, now));
	s.acted = now;
	s.due = at("2026-12-02T02:00:00"); /* after the close */
	assert_time(ns_daemon_env_next(c, &s, now), "2026-12-02T23:00:00Z");
	ns_calendar_free(c);
}

/* no window: open at once, then only a due trigger wakes it */
static void test_always_open(void **state)
{
	struct ns_calendar *c = calendar(NULL, NULL, NULL);
	struct ns_daemon_env s = fresh;
	time_t now = at("2026-12-01T12:00:00");

	assert_true(ns_daemon_env_due(c, &s, now));
	s.handled = (time_t)-1;
	s.acted = now;
	assert_false(ns_daemon_env_due(c, &s, now));
	assert_int_equal(ns_daemon_env_next(c, &s, now), (time_t)-1);
	s.due = at("2026-12-03T08:00:00");
	assert_time(ns_daemon_env_next(c, &s, now), "2026-12-03T08:00:00Z");
	ns_calendar_free(c);
}

/* the clocks change: the opening is at 23:00 local on both sides, and a
 * blackout skips the nights it covers */
static void test_dst_and_blackout(void **state)
{
	struct ns_calendar *c = calendar(
		"daily 23:00-01:00", "2026-03-29..2026-03-30", "Europe/Berlin");
	struct ns_daemon_env s = fresh;

	/* Saturday 28 March 23:00 CET = 22:00Z */
	assert_time(ns_daemon_env_next(c, &s, at("2026-03-28T12:00:00")),
		    "2026-03-28T22:00:00Z");
	/* the blackout takes Sunday and Monday (local dates, summer time
	 * since Sunday 03:00): what is left is the end of Monday's opening,
	 * from Tuesday 00:00 CEST = Monday 22:00Z */
	assert_time(ns_daemon_env_next(c, &s, at("2026-03-29T00:00:00")),
		    "2026-03-30T22:00:00Z");
	/* and after that, Tuesday 23:00 CEST = 21:00Z */
	assert_time(ns_daemon_env_next(c, &s, at("2026-03-30T23:00:00")),
		    "2026-03-31T21:00:00Z");
	ns_calendar_free(c);
}

/* a trigger whose blackout change management overrode wakes the daemon
 * inside the blackout, once; outside a blackout it is an ordinary one */
static void test_override_in_blackout(void **state)
{
	struct ns_calendar *c =
		calendar("daily 22:00-04:00", "2026-12-24..2026-12-26", "UTC");
	struct ns_daemon_env s = fresh;
	time_t t;

	(void)state;
	s.due = s.override_due = at("2026-12-24T23:30:00Z");
	t = at("2026-12-24T20:00:00Z");
	assert_false(ns_daemon_env_due(c, &s, t));
	assert_time(ns_daemon_env_next(c, &s, t), "2026-12-24T23:30:00Z");
	t = at("2026-12-24T23:30:00Z");
	assert_true(ns_daemon_env_due(c, &s, t));
	s.acted = t; /* it ran */
	t = at("2026-12-24T23:31:00Z");
	assert_false(ns_daemon_env_due(c, &s, t));
	assert_true(ns_daemon_env_next(c, &s, t) ==
		    ns_calendar_next(c, t, NULL));
	/* missed (the daemon was down) while the blackout holds: at once */
	s.acted = 0;
	t = at("2026-12-25T10:00:00Z");
	assert_true(ns_daemon_env_due(c, &s, t));
	assert_time(ns_daemon_env_next(c, &s, t), "2026-12-25T10:00:00Z");
	/* after the blackout the calendar alone decides */
	t = at("2026-12-27T12:00:00Z");
	assert_false(ns_daemon_env_due(c, &s, t));
	assert_time(ns_daemon_env_next(c, &s, t), "2026-12-27T22:00:00Z");
	ns_calendar_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opening),
		cmocka_unit_test(test_due_in_window),
		cmocka_unit_test(test_always_open),
		cmocka_unit_test(test_dst_and_blackout),
		cmocka_unit_test(test_override_in_blackout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
