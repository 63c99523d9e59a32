/*
 * timefmt — the clock nightshift sees, and how times are written.
 *
 * ns_now() is the wall clock, or the moment NIGHTSHIFT_NOW names
 * (YYYY-MM-DDTHH:MM:SS, UTC when no zone is given) so that tests can move
 * time. Times are stored and printed as ISO 8601 UTC ("...Z").
 */
#ifndef NS_TIMEFMT_H
#define NS_TIMEFMT_H

#include <time.h>

#define NS_TIME_LEN 21

time_t ns_now(void);
void ns_time_iso(char out[NS_TIME_LEN], time_t t);
/* parse YYYY-MM-DD[THH:MM[:SS]][Z]; -1 when malformed */
int ns_time_parse(time_t *out, const char *s);
/* monotonic milliseconds, for measuring durations */
long long ns_mono_ms(void);

#endif
