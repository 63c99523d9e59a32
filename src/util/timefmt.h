/*
 * timefmt — the clock nightshift sees, and how times are written.
 *
 * ns_now() is the wall clock, unless NIGHTSHIFT_NOW names a moment
 * (YYYY-MM-DDTHH:MM:SS, UTC when no zone is given) so that tests and demos
 * can move time:
 *
 *   NIGHTSHIFT_NOW=2026-12-01T23:00:00    the program starts at that moment
 *                                         and time runs on from there (the
 *                                         moment + the monotonic time since
 *                                         the program first read the clock)
 *   NIGHTSHIFT_NOW=2026-12-01T23:00:00!   a frozen clock: always that moment
 *                                         (byte-identical timestamps)
 *   NIGHTSHIFT_CLOCK_RATE=N               with NIGHTSHIFT_NOW, N virtual
 *                                         seconds pass per real second
 *                                         (1..1000000; default 1)
 *
 * Whoever sleeps until a moment of this clock asks ns_clock_real_ms() how
 * long that is in real time: the daemon's sleep is the same code under a
 * real, a fast or a frozen clock (frozen: it never wakes for time).
 *
 * Times are stored and printed as ISO 8601 UTC ("...Z").
 */
#ifndef NS_TIMEFMT_H
#define NS_TIMEFMT_H

#include <time.h>

#define NS_TIME_LEN 21

time_t ns_now(void);
/* the real milliseconds until the clock shows t (0 when it is past; -1
 * when it never will: a frozen clock) */
long long ns_clock_real_ms(time_t t);
/* forget what the clock read from the environment (after setenv) */
void ns_clock_reset(void);
void ns_time_iso(char out[NS_TIME_LEN], time_t t);
/* parse YYYY-MM-DD[THH:MM[:SS]][Z]; -1 when malformed */
int ns_time_parse(time_t *out, const char *s);
/* monotonic milliseconds, for measuring durations */
long long ns_mono_ms(void);

#endif
