#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the clock as the environment set it; read again when the variables
 * change (the unit tests setenv), else kept: the clock runs on from the
 * moment the program first read it */
static struct {
	int read;
	char now[64], rate_s[32];
	int fake, frozen;
	time_t base;	    /* the virtual moment at start_ms */
	long long start_ms; /* monotonic */
	long long rate;
} clk;

static void clock_read(void)
{
	const char *s = getenv("NIGHTSHIFT_NOW");
	const char *rate = getenv("NIGHTSHIFT_CLOCK_RATE");
	char buf[64];
	size_t n;

	clk.read = 1;
	snprintf(clk.now, sizeof(clk.now), "%s", s ? s : "");
	snprintf(clk.rate_s, sizeof(clk.rate_s), "%s", rate ? rate : "");
	clk.fake = clk.frozen = 0;
	clk.rate = 1;
	clk.start_ms = ns_mono_ms();
	if (!s || !*s || (n = strlen(s)) >= sizeof(buf))
		return;
	memcpy(buf, s, n + 1);
	if (buf[n - 1] == '!') {
		buf[n - 1] = '\0';
		clk.frozen = 1;
	}
	if (ns_time_parse(&clk.base, buf) < 0) {
		clk.frozen = 0;
		return;
	}
	clk.fake = 1;
	if (rate && *rate) {
		char *end;
		long long r = strtoll(rate, &end, 10);
		if (!*end && r >= 1 && r <= 1000000)
			clk.rate = r;
	}
}

static int changed(const char *var, const char *seen)
{
	const char *v = getenv(var);

	return strcmp(v ? v : "", seen) != 0;
}

static void clock_check(void)
{
	if (!clk.read || changed("NIGHTSHIFT_NOW", clk.now) ||
	    changed("NIGHTSHIFT_CLOCK_RATE", clk.rate_s))
		clock_read();
}

void ns_clock_reset(void)
{
	clk.read = 0;
}

time_t ns_now(void)
{
	clock_check();
	if (!clk.fake)
		return time(NULL);
	if (clk.frozen)
		return clk.base;
	return clk.base +
	       (time_t)((ns_mono_ms() - clk.start_ms) * clk.rate / 1000);
}

long long ns_clock_real_ms(time_t t)
{
	long long virt_ms, now_ms;

	clock_check();
	if (clk.fake && clk.frozen)
		return t <= clk.base ? 0 : -1;
	if (!clk.fake) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		return (long long)t * 1000 > now_ms
			       ? (long long)t * 1000 - now_ms
			       : 0;
	}
	virt_ms = (ns_mono_ms() - clk.start_ms) * clk.rate;
	now_ms = (long long)clk.base * 1000 + virt_ms;
	if ((long long)t * 1000 <= now_ms)
		return 0;
	/* round up: waking early only means sleeping again */
	return ((long long)t * 1000 - now_ms + clk.rate - 1) / clk.rate;
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
