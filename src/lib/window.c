#include "window.h"
#include "config.h"
#include "error.h"
#include "xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DAY_MIN	 1440
#define DAY_S	 86400L
#define ALL_DAYS 0x7fu
/* how far ahead the calendar looks; how many days a computed stretch of
 * it covers, short first and the whole horizon when the answer is not in
 * the short one; and how long a stretch serves the queries that follow
 * before it is computed again */
#define HORIZON_S  (366 * DAY_S)
#define SHORT_DAYS 40L
#define LONG_DAYS  400L
#define REUSE_S	   (30 * DAY_S)

struct item {
	unsigned days;	/* bit n: tm_wday n (0 is Sunday) */
	int start, end; /* minutes after midnight; end may be 1440 */
};

struct items {
	struct item *v;
	size_t nr;
};

/* minutes since 1970-01-01 00:00 on the zone's wall clock; from
 * included, to excluded */
struct range {
	long long from, to;
};

struct ranges {
	struct range *v;
	size_t nr;
};

/* [s, e) in real time */
struct span {
	time_t s, e;
};

struct spans {
	struct span *v;
	size_t nr, alloc;
};

/* the open stretches between from and to, computed when a query first
 * needs them (the calendar is const to its users, its cache is not) */
struct cache {
	time_t from, to;
	long days;
	struct spans open;
	struct spans dark; /* the blackouts */
	int valid;
};

struct ns_calendar {
	char *zone; /* NULL: the process's local zone */
	struct items windows;
	struct ranges blackouts;
	struct cache *cache;
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
	struct items *w = data;
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

int ns_window_check(const char *spec, const char *what)
{
	struct items w = { 0 };
	int error = each_item(spec, what, "window", parse_window_item, &w);

	free(w.v);
	return error;
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

/* the wall-clock minutes of "YYYY-MM-DD" or "YYYY-MM-DD HH:MM" (n bytes
 * at s); a date alone is its midnight, or with end set the midnight that
 * ends it */
static int parse_moment(long long *out, const char *s, size_t n, int end)
{
	long day;
	int min = 0;
	const char *p, *stop = s + n;

	if (n < 10 || parse_date(&day, s, 10) < 0)
		return -1;
	p = s + 10;
	if (p == stop) {
		*out = (day + (end ? 1 : 0)) * (long long)DAY_MIN;
		return 0;
	}
	if (!isspace((unsigned char)*p))
		return -1;
	while (p < stop && isspace((unsigned char)*p))
		p++;
	{
		char *hm = xstrndup(p, (size_t)(stop - p));
		const char *q = hm;
		int r = parse_hm(&min, &q) < 0 || *q ? -1 : 0;

		free(hm);
		if (r < 0)
			return -1;
	}
	*out = day * (long long)DAY_MIN + min;
	return 0;
}

static int parse_blackout_item(void *data, const char *item, const char *what)
{
	struct ranges *b = data;
	const char *dots = strstr(item, "..");
	struct range r;

	if (!dots) {
		if (strlen(item) != 10 ||
		    parse_moment(&r.from, item, 10, 0) < 0)
			goto bad;
		r.to = r.from + DAY_MIN;
	} else {
		const char *to = dots + 2 + strspn(dots + 2, " \t");
		size_t n = (size_t)(dots - item);

		while (n && isspace((unsigned char)item[n - 1]))
			n--;
		if (parse_moment(&r.from, item, n, 0) < 0 ||
		    parse_moment(&r.to, to, strlen(to), 1) < 0)
			goto bad;
		if (r.to <= r.from) {
			ns_error_set(
				"%s: '%s': the range ends before it starts",
				what, item);
			return NS_EINVALID;
		}
	}
	b->v = xrealloc(b->v, (b->nr + 1) * sizeof(*b->v));
	b->v[b->nr++] = r;
	return 0;
bad:
	ns_error_set("%s: '%s': expected a date YYYY-MM-DD, a range of dates "
		     "YYYY-MM-DD..YYYY-MM-DD or a timed range "
		     "YYYY-MM-DD HH:MM..YYYY-MM-DD HH:MM",
		     what, item);
	return NS_EINVALID;
}

int ns_blackout_check(const char *spec, const char *what)
{
	struct ranges b = { 0 };
	int error = each_item(spec, what, "blackout", parse_blackout_item, &b);

	free(b.v);
	return error;
}

/* ---- time zones ---------------------------------------------------- */

static const char *zone_dir(void)
{
	const char *dir = getenv("TZDIR");

	return dir && *dir ? dir : "/usr/share/zoneinfo";
}

int ns_zone_check(const char *zone, const char *what)
{
	char magic[4];
	char *path;
	FILE *f;
	size_t n = 0;

	if (zone[0] && zone[0] != '/' &&
	    strspn(zone, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789/_+-") == strlen(zone)) {
		path = xprintf("%s/%s", zone_dir(), zone);
		f = fopen(path, "rb");
		free(path);
		if (f) {
			n = fread(magic, 1, sizeof(magic), f);
			fclose(f);
		}
		if (n == sizeof(magic) && !memcmp(magic, "TZif", 4))
			return 0;
	}
	ns_error_set("%s: unknown time zone '%s' (expected a name from the tz "
		     "database such as Europe/Berlin or America/New_York)",
		     what, zone);
	return NS_EINVALID;
}

/* TZ set to a zone for the time of a computation, then put back */
struct zone_scope {
	char *saved;
	int set;
};

static void zone_enter(struct zone_scope *z, const char *zone)
{
	const char *old = getenv("TZ");

	z->saved = old ? xstrdup(old) : NULL;
	z->set = zone != NULL;
	if (zone) {
		char *v = xprintf(":%s", zone);

		setenv("TZ", v, 1);
		free(v);
	}
	tzset();
}

static void zone_leave(struct zone_scope *z)
{
	if (z->set) {
		if (z->saved)
			setenv("TZ", z->saved, 1);
		else
			unsetenv("TZ");
		tzset();
	}
	free(z->saved);
}

static long gmtoff(time_t t)
{
	struct tm tm;

	return localtime_r(&t, &tm) ? tm.tm_gmtoff : 0;
}

/*
 * The moment the zone's clocks show the wall-clock minute lmin. A time
 * that does not exist (the clocks jumped over it) is the moment of the
 * jump; a time that happens twice is its first occurrence. Zones change
 * their offset at most once a day, so the offsets a day before and a day
 * after are the only candidates.
 */
static time_t from_local(long long lmin)
{
	time_t ls = (time_t)(lmin * 60);
	long oa = gmtoff(ls - DAY_S), ob = gmtoff(ls + DAY_S);
	time_t a = ls - oa, b = ls - ob, lo, hi;
	int va = gmtoff(a) == oa, vb = gmtoff(b) == ob;

	if (va && vb)
		return a < b ? a : b;
	if (va || vb)
		return va ? a : b;
	/* a gap: the first moment after the offset changed */
	lo = a < b ? a : b;
	hi = a < b ? b : a;
	oa = gmtoff(lo);
	while (hi - lo > 1) {
		time_t mid = lo + (hi - lo) / 2;

		if (gmtoff(mid) == oa)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* the zone's calendar day of t, in days since 1970-01-01 */
static long local_day(time_t t)
{
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return (long)(t / DAY_S);
	return days_from_civil(tm.tm_year + 1900L, tm.tm_mon + 1, tm.tm_mday);
}

/* ---- the calendar -------------------------------------------------- */

static void spans_add(struct spans *v, time_t s, time_t e)
{
	if (e <= s)
		return;
	ALLOC_GROW(v->v, v->nr, v->alloc);
	v->v[v->nr].s = s;
	v->v[v->nr++].e = e;
}

static int by_start(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->s < y->s ? -1 : x->s > y->s;
}

/* sorted, and the spans that overlap or touch made one */
static void spans_merge(struct spans *v)
{
	size_t n = 0;

	if (!v->nr)
		return;
	qsort(v->v, v->nr, sizeof(*v->v), by_start);
	for (size_t i = 1; i < v->nr; i++) {
		if (v->v[i].s <= v->v[n].e) {
			if (v->v[i].e > v->v[n].e)
				v->v[n].e = v->v[i].e;
		} else {
			v->v[++n] = v->v[i];
		}
	}
	v->nr = n + 1;
}

/* the occurrences of the windows that start on local days [d0, d1) */
static void add_windows(struct spans *out, const struct items *w, long d0,
			long d1)
{
	for (long d = d0; d < d1; d++) {
		/* 1970-01-01 was a Thursday */
		int wday = (int)(((d % 7) + 7 + 4) % 7);
		long long midnight = (long long)d * DAY_MIN;

		for (size_t i = 0; i < w->nr; i++) {
			const struct item *it = &w->v[i];
			int next = it->end <= it->start;

			if (!(it->days & 1u << wday))
				continue;
			spans_add(out, from_local(midnight + it->start),
				  from_local(midnight + it->end +
					     (next ? DAY_MIN : 0)));
		}
	}
}

/* open = windows less blackouts, both merged */
static void subtract(struct spans *out, const struct spans *w,
		     const struct spans *dark)
{
	for (size_t i = 0; i < w->nr; i++) {
		time_t s = w->v[i].s, e = w->v[i].e;

		for (size_t j = 0; j < dark->nr && s < e; j++) {
			if (dark->v[j].e <= s)
				continue;
			if (dark->v[j].s >= e)
				break;
			spans_add(out, s, dark->v[j].s);
			s = dark->v[j].e;
		}
		spans_add(out, s, e);
	}
}

static void cache_build(const struct ns_calendar *c, time_t t, long days)
{
	struct cache *k = c->cache;
	struct spans w = { 0 };
	struct zone_scope z;
	long d0;

	zone_enter(&z, c->zone);
	d0 = local_day(t);
	k->from = from_local((long long)d0 * DAY_MIN);
	k->to = from_local((long long)(d0 + days) * DAY_MIN);
	k->days = days;
	if (c->windows.nr)
		/* an occurrence lasts a day at most: yesterday's may hold t */
		add_windows(&w, &c->windows, d0 - 1, d0 + days);
	else
		spans_add(&w, from_local((long long)(d0 - 1) * DAY_MIN), k->to);
	spans_merge(&w);
	k->dark.nr = 0;
	for (size_t i = 0; i < c->blackouts.nr; i++)
		spans_add(&k->dark, from_local(c->blackouts.v[i].from),
			  from_local(c->blackouts.v[i].to));
	spans_merge(&k->dark);
	zone_leave(&z);
	k->open.nr = 0;
	subtract(&k->open, &w, &k->dark);
	free(w.v);
	k->valid = 1;
}

static const struct cache *cache_for(const struct ns_calendar *c, time_t t,
				     long days)
{
	const struct cache *k = c->cache;

	if (!k->valid || t < k->from || t - k->from > REUSE_S || k->days < days)
		cache_build(c, t, days);
	return k;
}

/* the first span of v that ends after t, or NULL */
static const struct span *first_after(const struct spans *v, time_t t)
{
	size_t lo = 0, hi = v->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->v[mid].e <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->nr ? &v->v[lo] : NULL;
}

static time_t close_of(const struct cache *k, const struct span *sp)
{
	/* a span cut by the end of the computed stretch does not close
	 * within the horizon */
	return sp->e >= k->to ? (time_t)-1 : sp->e;
}

/* the first open span that ends after t, from a stretch long enough to
 * tell: a span cut by the end of a short stretch may go on */
static const struct span *open_after(const struct ns_calendar *c, time_t t,
				     const struct cache **out)
{
	const struct cache *k = cache_for(c, t, SHORT_DAYS);
	const struct span *sp = first_after(&k->open, t);

	if (!sp || sp->e >= k->to) {
		k = cache_for(c, t, LONG_DAYS);
		sp = first_after(&k->open, t);
	}
	*out = k;
	return sp;
}

int ns_calendar_open(const struct ns_calendar *c, time_t t, time_t *close)
{
	const struct cache *k;
	const struct span *sp = open_after(c, t, &k);

	if (!sp || sp->s > t)
		return 0;
	if (close)
		*close = close_of(k, sp);
	return 1;
}

time_t ns_calendar_next(const struct ns_calendar *c, time_t t, time_t *close)
{
	const struct cache *k;
	const struct span *sp = open_after(c, t, &k);
	time_t start;

	if (!sp)
		return (time_t)-1;
	start = sp->s > t ? sp->s : t;
	if (start - t > HORIZON_S)
		return (time_t)-1;
	if (close)
		*close = close_of(k, sp);
	return start;
}

int ns_calendar_blackout(const struct ns_calendar *c, time_t t)
{
	/* the blackouts are all there, whatever the stretch */
	const struct cache *k = cache_for(c, t, SHORT_DAYS);
	const struct span *sp = first_after(&k->dark, t);

	return sp && sp->s <= t;
}

static char *what_of(const struct ns_env *e, int line, const char *key)
{
	return xprintf("%s:%d: [environment \"%s\"] %s",
		       e->file ? e->file : "nightshift.conf", line, e->name,
		       key);
}

int ns_calendar_new(struct ns_calendar **out, const struct ns_env *e)
{
	struct ns_calendar *c = xcalloc(1, sizeof(*c));
	char *what = NULL;
	int error = 0;

	c->cache = xcalloc(1, sizeof(*c->cache));
	if (e->timezone) {
		what = what_of(e, e->timezone_line, "timezone");
		if ((error = ns_zone_check(e->timezone, what)) < 0)
			goto done;
		c->zone = xstrdup(e->timezone);
	}
	for (size_t i = 0; i < e->windows_nr && !error; i++) {
		free(what);
		what = what_of(e, e->windows[i].line, "window");
		error = each_item(e->windows[i].value, what, "window",
				  parse_window_item, &c->windows);
	}
	for (size_t i = 0; i < e->blackouts_nr && !error; i++) {
		free(what);
		what = what_of(e, e->blackouts[i].line, "blackout");
		error = each_item(e->blackouts[i].value, what, "blackout",
				  parse_blackout_item, &c->blackouts);
	}
done:
	free(what);
	if (error < 0) {
		ns_calendar_free(c);
		return error;
	}
	*out = c;
	return 0;
}

void ns_calendar_free(struct ns_calendar *c)
{
	if (!c)
		return;
	free(c->zone);
	free(c->windows.v);
	free(c->blackouts.v);
	if (c->cache) {
		free(c->cache->open.v);
		free(c->cache->dark.v);
		free(c->cache);
	}
	free(c);
}

void ns_calendar_local(char out[NS_LOCAL_LEN], const struct ns_calendar *c,
		       time_t t, int iso)
{
	struct zone_scope z;
	struct tm tm;
	size_t n = 0;

	zone_enter(&z, c->zone);
	if (localtime_r(&t, &tm))
		n = strftime(out, NS_LOCAL_LEN,
			     iso ? "%Y-%m-%dT%H:%M:%S%z"
				 : "%a %Y-%m-%d %H:%M %Z",
			     &tm);
	zone_leave(&z);
	out[n] = '\0';
	if (iso && n > 2) {
		/* +0100 → +01:00 */
		memmove(out + n - 1, out + n - 2, 3);
		out[n - 2] = ':';
	}
}

const char *ns_calendar_zone(const struct ns_calendar *c)
{
	return c->zone;
}
