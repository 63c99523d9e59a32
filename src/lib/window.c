#include "window.h"
#include "error.h"
#include "xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DAY_MIN	 1440
#define ALL_DAYS 0x7fu

struct item {
	unsigned days;	/* bit n: tm_wday n (0 is Sunday) */
	int start, end; /* minutes after midnight; end may be 1440 */
};

struct ns_window {
	struct item *v;
	size_t nr;
};

/* days since 1970-01-01, both ends inclusive */
struct range {
	long from, to;
};

struct ns_blackout {
	struct range *v;
	size_t nr;
};

/* ---- shared -------------------------------------------------------- */

/* the n bytes at p without the blanks around them */
static char *trimmed(const char *p, size_t n)
{
	while (n && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	return xstrndup(p, n);
}

static int blank(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return !*s;
}

/*
 * Calls parse_item on each comma-separated item of spec, trimmed. An empty
 * spec or item is refused here, so that parse_item sees some text.
 */
static int each_item(const char *spec, const char *what, const char *noun,
		     int (*parse_item)(void *, const char *, const char *),
		     void *data)
{
	const char *p = spec;

	if (blank(spec)) {
		ns_error_set("%s: no %s given", what, noun);
		return NS_EINVALID;
	}
	for (;;) {
		size_t n = strcspn(p, ",");
		char *item = trimmed(p, n);
		int r = 0;

		if (!*item) {
			ns_error_set("%s: '%s': empty item", what, spec);
			r = NS_EINVALID;
		} else {
			r = parse_item(data, item, what);
		}
		free(item);
		if (r < 0)
			return r;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

/* ---- windows: parsing ---------------------------------------------- */

static const char *const day_names[] = { "Sun", "Mon", "Tue", "Wed",
					 "Thu", "Fri", "Sat" };

static int day_of(const char *s, size_t n)
{
	if (n != 3)
		return -1;
	for (int d = 0; d < 7; d++)
		if (!strncasecmp(s, day_names[d], 3))
			return d;
	return -1;
}

/* "daily", "*", "Mon" or "Fri-Mon" → a mask of tm_wday bits */
static int parse_days(unsigned *out, const char *s, const char *item,
		      const char *what)
{
	size_t n = strcspn(s, "-");
	int from, to;

	if (!strcasecmp(s, "daily") || !strcmp(s, "*")) {
		*out = ALL_DAYS;
		return 0;
	}
	from = day_of(s, n);
	to = s[n] ? day_of(s + n + 1, strlen(s + n + 1)) : from;
	if (from < 0 || to < 0) {
		const char *bad = from < 0 ? s : s + n + 1;
		int len = from < 0 ? (int)n : (int)strlen(bad);

		ns_error_set("%s: '%s': unknown day '%.*s'", what, item, len,
			     bad);
		return NS_EINVALID;
	}
	*out = 0;
	for (int d = from;; d = (d + 1) % 7) {
		*out |= 1u << d;
		if (d == to)
			break;
	}
	return 0;
}

/* H:MM or HH:MM, 00:00 to 24:00; advances *s past it */
static int parse_hm(int *out, const char **s)
{
	const char *p = *s;
	int h = 0, m;

	if (!isdigit((unsigned char)p[0]))
		return -1;
	h = *p++ - '0';
	if (isdigit((unsigned char)*p))
		h = h * 10 + (*p++ - '0');
	if (*p++ != ':' || !isdigit((unsigned char)p[0]) ||
	    !isdigit((unsigned char)p[1]))
		return -1;
	m = (p[0] - '0') * 10 + (p[1] - '0');
	if (m > 59 || h > 24 || (h == 24 && m))
		return -1;
	*out = h * 60 + m;
	*s = p + 2;
	return 0;
}

static int parse_times(struct item *it, const char *s, const char *item,
		       const char *what)
{
	const char *p = s;

	if (parse_hm(&it->start, &p) < 0 || *p++ != '-' ||
	    parse_hm(&it->end, &p) < 0 || *p) {
		ns_error_set("%s: '%s': bad time range '%s' (want HH:MM-HH:MM)",
			     what, item, s);
		return NS_EINVALID;
	}
	if (it->start == DAY_MIN) {
		ns_error_set("%s: '%s': 24:00 is only an end", what, item);
		return NS_EINVALID;
	}
	return 0;
}

static int parse_window_item(void *data, const char *item, const char *what)
{
	struct ns_window *w = data;
	struct item it;
	size_t n = strcspn(item, " \t");
	char *days;
	int r;

	if (!item[n]) {
		ns_error_set("%s: '%s': no time range (want DAYS HH:MM-HH:MM)",
			     what, item);
		return NS_EINVALID;
	}
	days = xstrndup(item, n);
	r = parse_days(&it.days, days, item, what);
	free(days);
	if (r < 0)
		return r;
	r = parse_times(&it, item + n + strspn(item + n, " \t"), item, what);
	if (r < 0)
		return r;
	w->v = xrealloc(w->v, (w->nr + 1) * sizeof(*w->v));
	w->v[w->nr++] = it;
	return 0;
}

int ns_window_parse(struct ns_window **out, const char *spec, const char *what)
{
	struct ns_window *w = xcalloc(1, sizeof(*w));
	int error;

	error = each_item(spec, what, "window", parse_window_item, w);
	if (error < 0) {
		ns_window_free(w);
		return error;
	}
	*out = w;
	return 0;
}

void ns_window_free(struct ns_window *w)
{
	if (!w)
		return;
	free(w->v);
	free(w);
}

/* ---- windows: occurrences ------------------------------------------ */

/* the local day `offset` days from t's, at noon, with tm_wday set */
static int local_day(struct tm *out, time_t t, int offset)
{
	if (!localtime_r(&t, out))
		return -1;
	out->tm_mday += offset;
	out->tm_hour = 12;
	out->tm_min = out->tm_sec = 0;
	out->tm_isdst = -1;
	return mktime(out) == (time_t)-1 ? -1 : 0;
}

/* the local time `min` minutes after the midnight that starts day + plus
 * days; the minutes may be 1440, which mktime carries to the next day */
static time_t at_minute(const struct tm *day, int plus, int min)
{
	struct tm tm = *day;

	tm.tm_mday += plus;
	tm.tm_hour = min / 60;
	tm.tm_min = min % 60;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/* the occurrence of it that starts on day, if it has one */
static int occurrence(const struct item *it, const struct tm *day,
		      time_t *start, time_t *end)
{
	if (!(it->days & 1u << day->tm_wday))
		return 0;
	*start = at_minute(day, 0, it->start);
	*end = at_minute(day, it->end <= it->start, it->end);
	return *start != (time_t)-1 && *end != (time_t)-1;
}

int ns_window_contains(const struct ns_window *w, time_t t, time_t *end)
{
	time_t latest = 0;
	int found = 0;

	/* an occurrence lasts at most a day, so it started today or
	 * yesterday */
	for (int d = -1; d <= 0; d++) {
		struct tm day;

		if (local_day(&day, t, d) < 0)
			continue;
		for (size_t i = 0; i < w->nr; i++) {
			time_t s, e;

			if (!occurrence(&w->v[i], &day, &s, &e) || t < s ||
			    t >= e)
				continue;
			if (!found || e > latest)
				latest = e;
			found = 1;
		}
	}
	if (found && end)
		*end = latest;
	return found;
}

time_t ns_window_next(const struct ns_window *w, time_t t)
{
	const time_t horizon = 8 * 86400;
	time_t first = (time_t)-1;
	int found = 0;

	for (int d = 0; d <= 8; d++) {
		struct tm day;

		if (local_day(&day, t, d) < 0)
			continue;
		for (size_t i = 0; i < w->nr; i++) {
			time_t s, e;

			if (!occurrence(&w->v[i], &day, &s, &e) || s < t ||
			    s - t > horizon)
				continue;
			if (!found || s < first)
				first = s;
			found = 1;
		}
	}
	return first;
}

/* ---- blackouts ----------------------------------------------------- */

/* days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil) */
static long days_from_civil(long y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int month_days(long y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return days[m - 1] + (m == 2 && leap);
}

static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* exactly YYYY-MM-DD, a date that exists */
static int parse_date(long *out, const char *s, size_t n)
{
	int y, m, d;

	if (n != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	y = digits(s, 4);
	m = digits(s + 5, 2);
	d = digits(s + 8, 2);
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return -1;
	*out = days_from_civil(y, m, d);
	return 0;
}

static int parse_blackout_item(void *data, const char *item, const char *what)
{
	struct ns_blackout *b = data;
	const char *dots = strstr(item, "..");
	struct range r;

	if (!dots) {
		if (parse_date(&r.from, item, strlen(item)) < 0)
			goto bad_date;
		r.to = r.from;
	} else {
		const char *to = dots + 2 + strspn(dots + 2, " \t");
		size_t n = dots - item;

		while (n && isspace((unsigned char)item[n - 1]))
			n--;
		if (parse_date(&r.from, item, n) < 0 ||
		    parse_date(&r.to, to, strlen(to)) < 0)
			goto bad_date;
		if (r.to < r.from) {
			ns_error_set(
				"%s: '%s': the range ends before it starts",
				what, item);
			return NS_EINVALID;
		}
	}
	b->v = xrealloc(b->v, (b->nr + 1) * sizeof(*b->v));
	b->v[b->nr++] = r;
	return 0;
bad_date:
	ns_error_set("%s: '%s': not a date YYYY-MM-DD or a range of dates "
		     "A..B",
		     what, item);
	return NS_EINVALID;
}

int ns_blackout_parse(struct ns_blackout **out, const char *spec,
		      const char *what)
{
	struct ns_blackout *b = xcalloc(1, sizeof(*b));
	int error;

	error = each_item(spec, what, "blackout dates", parse_blackout_item, b);
	if (error < 0) {
		ns_blackout_free(b);
		return error;
	}
	*out = b;
	return 0;
}

void ns_blackout_free(struct ns_blackout *b)
{
	if (!b)
		return;
	free(b->v);
	free(b);
}

int ns_blackout_contains(const struct ns_blackout *b, time_t t)
{
	struct tm tm;
	long day;

	if (!localtime_r(&t, &tm))
		return 0;
	day = days_from_civil(tm.tm_year + 1900L, tm.tm_mon + 1, tm.tm_mday);
	for (size_t i = 0; i < b->nr; i++)
		if (day >= b->v[i].from && day <= b->v[i].to)
			return 1;
	return 0;
}
