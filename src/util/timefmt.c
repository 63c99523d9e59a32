#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

time_t ns_now(void)
{
	const char *s = getenv("NIGHTSHIFT_NOW");
	time_t t;

	if (s && *s && ns_time_parse(&t, s) == 0)
		return t;
	return time(NULL);
}

void ns_time_iso(char out[NS_TIME_LEN], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, NS_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ns_time_parse(time_t *out, const char *s)
{
	struct tm tm = { 0 };
	int n = 0, y, mo, d, h = 0, mi = 0, sec = 0;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return -1;
	s += n;
	if (*s == 'T' || *s == ' ') {
		n = 0;
		if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) != 2)
			return -1;
		s += 1 + n;
		if (*s == ':') {
			n = 0;
			if (sscanf(s + 1, "%2d%n", &sec, &n) != 1)
				return -1;
			s += 1 + n;
		}
	}
	if (*s == 'Z')
		s++;
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm);
	return 0;
}

long long ns_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
