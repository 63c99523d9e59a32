/*
 * window — when an environment may be changed: its maintenance windows, in
 * its time zone, less its blackouts, as its section of nightshift.conf says.
 *
 *   window = Mon-Fri 23:00-05:00, Sat-Sun 00:00-24:00
 *   window = daily 01:00-03:00
 *   timezone = Europe/Berlin
 *   blackout = 2026-12-24..2026-12-26, 2027-01-01
 *   blackout = 2026-12-31 18:00..2027-01-01 06:00
 *
 * A window is a comma-separated list of items "DAYS HH:MM-HH:MM", DAYS
 * being "daily" or "*" (every day), one day (Mon .. Sun, any case) or a
 * range of days that may wrap the week (Fri-Mon). Times run 00:00 to
 * 24:00, 24:00 only as an end. An end at or before the start means the
 * occurrence crosses midnight and ends the next day; an equal start and
 * end is a whole day. An occurrence belongs to the day it starts on:
 * "Mon-Fri 23:00-05:00" holds Saturday 02:00 (it started on Friday) and
 * not Monday 02:00. An environment may have several window lines; it is
 * open when any of them is.
 *
 * A blackout is a comma-separated list of dates YYYY-MM-DD (the whole
 * day), inclusive ranges of dates A..B, and timed ranges
 * "YYYY-MM-DD HH:MM..YYYY-MM-DD HH:MM" (from the first moment to the
 * second, the second excluded). A range that ends before it starts, or a
 * date that does not exist, is refused. Several blackout lines add up.
 *
 * Every clock time is a wall-clock time in the environment's time zone
 * (an IANA name from the system's tz database; without one, the machine's
 * local zone), whatever the process's TZ. On the day daylight saving
 * starts, a clock time that does not exist (02:30 in Europe/Berlin on the
 * last Sunday of March) means the moment the clocks jump (03:00 summer
 * time), so an occurrence may be shorter or vanish; on the day it ends, a
 * clock time that happens twice (02:30 in Europe/Berlin, 01:30 in
 * America/New_York) means its first occurrence (still summer time), so an
 * occurrence across the change is an hour longer.
 *
 * The parsers refuse bad input with NS_EINVALID and a message that starts
 * with the caller's `what` ("nightshift.conf:12: [environment \"x\"]
 * window") and names the offending item and what was expected.
 *
 * The calendar sets TZ for the time of a computation and puts it back: it
 * is not for use from several threads at once.
 */
#ifndef NS_WINDOW_H
#define NS_WINDOW_H

#include <time.h>

struct ns_env; /* config.h */

/*
 * An environment's calendar: when it may be changed — its windows (in its
 * time zone) less its blackouts. An environment without a window is always
 * open. Built once from the loaded configuration.
 */
struct ns_calendar;
/* NS_EINVALID with a message naming "nightshift.conf:LINE: ..." */
int ns_calendar_new(struct ns_calendar **out, const struct ns_env *e);
void ns_calendar_free(struct ns_calendar *c);
/* whether e may be changed at t; when it may and close is not NULL, *close
 * is when that stops (the window's end or a blackout's start, whichever is
 * first; (time_t)-1 when it never closes: no window configured, or a
 * window that does not close within 366 days) */
int ns_calendar_open(const struct ns_calendar *c, time_t t, time_t *close);
/* the first moment at or after t when e may be changed, and (if close is not
 * NULL) when that opening closes; (time_t)-1 when none within 366 days */
time_t ns_calendar_next(const struct ns_calendar *c, time_t t, time_t *close);
/* whether a blackout of the calendar covers t (windows aside) */
int ns_calendar_blackout(const struct ns_calendar *c, time_t t);

/* t on the calendar's wall clock: "Tue 2026-12-01 23:00 CET", or with
 * iso set "2026-12-01T23:00:00+01:00" */
#define NS_LOCAL_LEN 64
void ns_calendar_local(char out[NS_LOCAL_LEN], const struct ns_calendar *c,
		       time_t t, int iso);
/* the calendar's zone, NULL for the machine's local zone */
const char *ns_calendar_zone(const struct ns_calendar *c);

/* the checks the configuration loader makes on one line, so that a bad
 * one is refused when the file is read */
int ns_window_check(const char *spec, const char *what);
int ns_blackout_check(const char *spec, const char *what);
/* an IANA zone name the system's tz database holds ("Europe/Berlin") */
int ns_zone_check(const char *zone, const char *what);

#endif
