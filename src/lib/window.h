/*
 * window — when an environment may be migrated: maintenance windows and
 * blackout dates, as an environment section of nightshift.conf says them.
 *
 *   window = Mon-Fri 23:00-05:00, Sat-Sun 00:00-24:00
 *   window = daily 01:00-03:00
 *   blackout = 2026-12-24..2026-12-26, 2027-01-01
 *
 * A window is a comma-separated list of items "DAYS HH:MM-HH:MM", DAYS
 * being "daily" or "*" (every day), one day (Mon .. Sun, any case) or a
 * range of days that may wrap the week (Fri-Mon). Times run 00:00 to
 * 24:00, 24:00 only as an end. An end at or before the start means the
 * occurrence crosses midnight and ends the next day; an equal start and
 * end is a whole day. An occurrence belongs to the day it starts on:
 * "Mon-Fri 23:00-05:00" holds Saturday 02:00 (it started on Friday) and
 * not Monday 02:00.
 *
 * A blackout is a comma-separated list of dates YYYY-MM-DD and inclusive
 * ranges A..B; a range that ends before it starts, or a date that does not
 * exist, is refused.
 *
 * All times are local (localtime_r and mktime, so TZ applies), and the
 * clock times are wall-clock times: on a day that changes to or from
 * daylight saving time an occurrence is an hour longer or shorter.
 *
 * The parsers refuse bad input with NS_EINVALID and a message that starts
 * with the caller's `what` ("nightshift.conf:12: window") and names the
 * offending item.
 */
#ifndef NS_WINDOW_H
#define NS_WINDOW_H

#include <time.h>

struct ns_window;

int ns_window_parse(struct ns_window **out, const char *spec, const char *what);
void ns_window_free(struct ns_window *w);
/* whether t is inside an occurrence of the window; if so and end is not
 * NULL, *end is when that occurrence ends (the latest, when several
 * overlap) */
int ns_window_contains(const struct ns_window *w, time_t t, time_t *end);
/* the start of the first occurrence that begins at or after t, within the
 * next 8 days; (time_t)-1 when there is none */
time_t ns_window_next(const struct ns_window *w, time_t t);

struct ns_blackout;

int ns_blackout_parse(struct ns_blackout **out, const char *spec,
		      const char *what);
void ns_blackout_free(struct ns_blackout *b);
/* whether the local calendar date of t is a blackout date */
int ns_blackout_contains(const struct ns_blackout *b, time_t t);

#endif
