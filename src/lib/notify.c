#include "notify.h"
#include "error.h"
#include "fsx.h"
#include "strbuf.h"
#include "timefmt.h"
#include "xalloc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned written;

unsigned ns_notify_written(void)
{
	return written;
}

static void add_list(struct strbuf *to, char *const *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strstr(to->buf, l[i]))
			continue;
		strbuf_addf(to, "%s%s", to->len ? ", " : "", l[i]);
	}
}

static void recipients(struct strbuf *to, const struct ns_config *c,
		       const struct ns_notice *n)
{
	for (const char **r = n->roles; r && *r; r++) {
		if (!strcmp(*r, "developer") && n->author) {
			char *a = xstrdup(n->author);
			add_list(to, &a, 1);
			free(a);
		} else if (!strcmp(*r, "users")) {
			const struct ns_system *s =
				n->system ? ns_config_system(c, n->system)
					  : NULL;
			if (s)
				add_list(to, s->users, s->users_nr);
		} else {
			const struct ns_role *role = ns_config_role(c, *r);
			if (role)
				add_list(to, role->members, role->members_nr);
		}
	}
}

/* what every reader of a notice needs, when the event's body (the
 * runner's says it all) did not say it already */
static void footer(struct strbuf *msg, const struct ns_notice *n)
{
	if (strstr(n->body, "\nOutcome:") || !strncmp(n->body, "Outcome:", 8))
		return;
	while (msg->len && msg->buf[msg->len - 1] == '\n')
		msg->buf[--msg->len] = '\0';
	strbuf_addstr(msg, "\n\n-- \n");
	if (n->enhancement && n->revision > 0)
		strbuf_addf(msg, "Enhancement: %s r%d\n", n->enhancement,
			    n->revision);
	else if (n->enhancement)
		strbuf_addf(msg, "Enhancement: %s\n", n->enhancement);
	if (n->environment)
		strbuf_addf(msg, "Environment: %s\n", n->environment);
	strbuf_addf(msg, "Outcome: %s\n", n->event);
	strbuf_addf(msg, "The audit trail: nightshift log%s%s\n",
		    n->enhancement ? " " : "",
		    n->enhancement ? n->enhancement : "");
}

int ns_notify(const struct ns_config *c, const struct ns_notice *n,
	      char **out_path)
{
	static unsigned seq;
	struct strbuf msg = STRBUF_INIT, to = STRBUF_INIT;
	char at[NS_TIME_LEN], stamp[32];
	char *path;
	time_t now = ns_now();
	struct tm tm;
	int ret;

	recipients(&to, c, n);
	ns_time_iso(at, now);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	strbuf_addf(&msg, "To: %s\n", to.len ? to.buf : "(nobody configured)");
	strbuf_addf(&msg, "Subject: [nightshift] %s\n", n->subject);
	strbuf_addf(&msg, "Date: %s\n", at);
	strbuf_addf(&msg, "X-Nightshift-Event: %s\n", n->event);
	strbuf_addstr(&msg, "X-Nightshift-Roles: ");
	for (const char **r = n->roles; r && *r; r++)
		strbuf_addf(&msg, "%s%s", r == n->roles ? "" : ", ", *r);
	strbuf_addch(&msg, '\n');
	if (n->enhancement)
		strbuf_addf(&msg, "X-Nightshift-Enhancement: %s\n",
			    n->enhancement);
	if (n->environment)
		strbuf_addf(&msg, "X-Nightshift-Environment: %s\n",
			    n->environment);
	if (n->revision > 0)
		strbuf_addf(&msg, "X-Nightshift-Revision: r%d\n", n->revision);
	strbuf_addf(&msg, "\n%s\n", n->body);
	footer(&msg, n);
	ret = ns_fsx_mkdir_p(c->outbox, 0755);
	path = xprintf("%s/%s-%05ld-%03u-%s.msg", c->outbox, stamp,
		       (long)getpid(), seq++, n->event);
	if (!ret)
		ret = ns_fsx_write_file(path, msg.buf, msg.len);
	if (!ret)
		written++;
	if (!ret && out_path)
		*out_path = path;
	else
		free(path);
	strbuf_release(&msg);
	strbuf_release(&to);
	return ret;
}

/* ---- a message of the outbox ------------------------------------------- */

void ns_message_release(struct ns_message *m)
{
	free(m->name);
	free(m->to);
	free(m->subject);
	free(m->date);
	free(m->event);
	free(m->roles);
	free(m->enhancement);
	free(m->environment);
	free(m->revision);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

static char **header_slot(struct ns_message *m, const char *h, size_t n)
{
	static const struct {
		const char *name;
		size_t off;
	} known[] = {
		{ "To", offsetof(struct ns_message, to) },
		{ "Subject", offsetof(struct ns_message, subject) },
		{ "Date", offsetof(struct ns_message, date) },
		{ "X-Nightshift-Event", offsetof(struct ns_message, event) },
		{ "X-Nightshift-Roles", offsetof(struct ns_message, roles) },
		{ "X-Nightshift-Enhancement",
		  offsetof(struct ns_message, enhancement) },
		{ "X-Nightshift-Environment",
		  offsetof(struct ns_message, environment) },
		{ "X-Nightshift-Revision",
		  offsetof(struct ns_message, revision) },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
		if (strlen(known[i].name) == n &&
		    !strncasecmp(known[i].name, h, n))
			return (char **)((char *)m + known[i].off);
	return NULL;
}

int ns_message_parse(struct ns_message *out, const char *name, const char *text,
		     size_t len, const char *what)
{
	struct ns_message m = NS_MESSAGE_INIT;
	const char *p = text, *end = text + len;
	int ret = NS_EINVALID;

	if (memchr(text, '\0', len)) {
		ns_error_set("%s: NUL byte in the message", what);
		goto done;
	}
	while (p < end && *p != '\n') {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *colon;
		char **slot;

		if (!eol) {
			ns_error_set("%s: the headers do not end", what);
			goto done;
		}
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p || colon + 1 >= eol ||
		    colon[1] != ' ') {
			ns_error_set("%s: malformed header line '%.*s'", what,
				     (int)(eol - p), p);
			goto done;
		}
		slot = header_slot(&m, p, (size_t)(colon - p));
		if (slot && *slot) {
			ns_error_set("%s: header %.*s given twice", what,
				     (int)(colon - p), p);
			goto done;
		}
		if (slot)
			*slot = xstrndup(colon + 2, (size_t)(eol - colon - 2));
		p = eol + 1;
	}
	if (p >= end) {
		ns_error_set("%s: no body (no empty line after the headers)",
			     what);
		goto done;
	}
	m.body = xstrndup(p + 1, (size_t)(end - p - 1));
	if (!m.to || !m.subject || !m.date || !m.event) {
		ns_error_set("%s: no %s header", what,
			     !m.to	  ? "To"
			     : !m.subject ? "Subject"
			     : !m.date	  ? "Date"
					  : "X-Nightshift-Event");
		goto done;
	}
	if (ns_time_parse(&m.time, m.date) < 0) {
		ns_error_set("%s: Date: expected an ISO 8601 time, not '%s'",
			     what, m.date);
		goto done;
	}
	m.name = xstrdup(name);
	*out = m;
	memset(&m, 0, sizeof(m));
	ret = 0;
done:
	ns_message_release(&m);
	return ret;
}

void ns_addresses_free(char **l)
{
	for (char **p = l; p && *p; p++)
		free(*p);
	free(l);
}

char **ns_message_addresses(const struct ns_message *m, const char *domain)
{
	char **l = xcalloc(1, sizeof(*l));
	size_t nr = 0;
	const char *p = m->to;

	while (*p) {
		size_t n = strcspn(p, ",");
		const char *b = p, *e = p + n;
		char *a;

		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		p += n + (p[n] == ',');
		if (b == e || *b == '(') /* "(nobody configured)" */
			continue;
		if (memchr(b, '@', (size_t)(e - b)))
			a = xstrndup(b, (size_t)(e - b));
		else if (domain)
			a = xprintf("%.*s@%s", (int)(e - b), b, domain);
		else
			continue;
		l = xrealloc(l, (nr + 2) * sizeof(*l));
		l[nr++] = a;
		l[nr] = NULL;
	}
	return l;
}

static void rfc5322_date(struct strbuf *out, time_t t)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed",
					    "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
					      "May", "Jun", "Jul", "Aug",
					      "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	strbuf_addf(out, "%s, %02d %s %04d %02d:%02d:%02d +0000",
		    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* a header value as RFC 2047 base64 when it is not plain ASCII */
static void header_text(struct strbuf *out, const char *v)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)v;
	size_t n = strlen(v), i;

	for (i = 0; i < n && s[i] >= 0x20 && s[i] < 0x7f; i++)
		;
	if (i == n) {
		strbuf_addstr(out, v);
		return;
	}
	strbuf_addstr(out, "=?UTF-8?B?");
	for (i = 0; i < n; i += 3) {
		unsigned x = (unsigned)s[i] << 16;
		if (i + 1 < n)
			x |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			x |= s[i + 2];
		strbuf_addch(out, b64[(x >> 18) & 63]);
		strbuf_addch(out, b64[(x >> 12) & 63]);
		strbuf_addch(out, i + 1 < n ? b64[(x >> 6) & 63] : '=');
		strbuf_addch(out, i + 2 < n ? b64[x & 63] : '=');
	}
	strbuf_addstr(out, "?=");
}

void ns_message_mail(struct strbuf *out, const struct ns_message *m,
		     const char *from, char **to)
{
	const char *host = strchr(from, '@');

	strbuf_addf(out, "From: nightshift <%s>\r\n", from);
	strbuf_addstr(out, "To: ");
	for (char **a = to; a && *a; a++)
		strbuf_addf(out, "%s%s", a == to ? "" : ",\r\n ", *a);
	if (!to || !*to)
		strbuf_addstr(out, "undisclosed-recipients:;");
	strbuf_addstr(out, "\r\nSubject: ");
	header_text(out, m->subject);
	strbuf_addstr(out, "\r\nDate: ");
	rfc5322_date(out, m->time);
	strbuf_addf(out, "\r\nMessage-ID: <%s@%s>\r\n", m->name,
		    host ? host + 1 : "nightshift");
	strbuf_addstr(out, "MIME-Version: 1.0\r\n"
			   "Content-Type: text/plain; charset=utf-8\r\n"
			   "Content-Transfer-Encoding: 8bit\r\n"
			   "Auto-Submitted: auto-generated\r\n");
	strbuf_addf(out, "X-Nightshift-Event: %s\r\n", m->event);
	if (m->enhancement)
		strbuf_addf(out, "X-Nightshift-Enhancement: %s\r\n",
			    m->enhancement);
	if (m->revision)
		strbuf_addf(out, "X-Nightshift-Revision: %s\r\n", m->revision);
	if (m->environment)
		strbuf_addf(out, "X-Nightshift-Environment: %s\r\n",
			    m->environment);
	strbuf_addstr(out, "\r\n");
	for (const char *p = m->body; *p; p++) {
		if (*p == '\n' && (p == m->body || p[-1] != '\r'))
			strbuf_addch(out, '\r');
		strbuf_addch(out, *p);
	}
	if (out->len < 2 || strcmp(out->buf + out->len - 2, "\r\n"))
		strbuf_addstr(out, "\r\n");
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *split_json(const char *v, int only_names)
{
	json_t *a = json_array();
	const char *p = v ? v : "";

	while (*p) {
		size_t n = strcspn(p, ",");
		const char *b = p, *e = p + n;
		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		p += n + (p[n] == ',');
		if (b < e && !(only_names && *b == '('))
			json_array_append_new(a,
					      json_stringn(b, (size_t)(e - b)));
	}
	return a;
}

char *ns_message_json(const struct ns_message *m)
{
	json_t *o;
	char at[NS_TIME_LEN];
	char *s;

	ns_time_iso(at, m->time);
	o = json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:o, "
		      "s:o}",
		      "event", m->event, "enhancement",
		      str_or_null(m->enhancement), "revision",
		      m->revision ? json_integer(atoll(m->revision +
						       (*m->revision == 'r')))
				  : json_null(),
		      "environment", str_or_null(m->environment), "outcome",
		      m->event, "subject", m->subject, "body", m->body, "time",
		      at, "id", m->name, "recipients", split_json(m->to, 1),
		      "roles", split_json(m->roles, 0));
	if (!o)
		abort();
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!s)
		abort();
	return s;
}

/* ---- the delivery state of a message ----------------------------------- */

long ns_notify_backoff(int attempts)
{
	long s = 60;

	for (int i = 1; i < attempts && s < 6 * 3600; i++)
		s *= 2;
	return s < 6 * 3600 ? s : 6 * 3600;
}

/* the transport's state in s, or NULL */
static struct ns_tstate *dstate_find(struct ns_dstate *s, const char *name)
{
	for (size_t i = 0; i < s->nr; i++)
		if (!strcmp(s->t[i].name, name))
			return &s->t[i];
	return NULL;
}

struct ns_tstate *ns_dstate_get(struct ns_dstate *s, const char *name)
{
	struct ns_tstate *t = dstate_find(s, name);

	if (t)
		return t;
	if (s->nr == NS_TRANSPORTS_MAX)
		abort(); /* our own transports only */
	t = &s->t[s->nr++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	return t;
}

void ns_dstate_release(struct ns_dstate *s)
{
	for (size_t i = 0; i < s->nr; i++)
		free(s->t[i].error);
	memset(s, 0, sizeof(*s));
}

/* one line a transport: NAME accepted|pending ATTEMPTS NEXT|- [ERROR] */
void ns_dstate_format(struct strbuf *out, const struct ns_dstate *s)
{
	for (size_t i = 0; i < s->nr; i++) {
		const struct ns_tstate *t = &s->t[i];
		char next[NS_TIME_LEN] = "-";

		if (t->next)
			ns_time_iso(next, t->next);
		strbuf_addf(out, "%s %s %d %s", t->name,
			    t->accepted ? "accepted" : "pending", t->attempts,
			    next);
		if (t->error) {
			strbuf_addch(out, ' ');
			for (const char *p = t->error; *p; p++)
				strbuf_addch(out, *p == '\n' || *p == '\r'
							  ? ' '
							  : *p);
		}
		strbuf_addch(out, '\n');
	}
}

/* a line's fields: NAME STATE ATTEMPTS NEXT, one space between, and the
 * rest (the error) after one more; 0 when there are not four */
static int dstate_fields(char *line, char *f[4], char **rest)
{
	char *q = line;

	*rest = NULL;
	for (int k = 0; k < 4; k++) {
		f[k] = q;
		q = strchr(q, ' ');
		if (!q)
			return k == 3 && *f[3];
		*q++ = '\0';
		if (!*f[k])
			return 0;
	}
	*rest = *q ? q : NULL;
	return 1;
}

int ns_dstate_parse(struct ns_dstate *out, const char *text, const char *what)
{
	struct ns_dstate s = { 0 };
	const char *p = text;
	int lineno = 0;

	while (*p) {
		const char *start = p;
		size_t n = strcspn(p, "\n");
		char *line = xstrndup(p, n), *f[4], *rest, *e;
		struct ns_tstate *t;
		time_t next = 0;
		long attempts = -1;

		lineno++;
		p += n + (p[n] == '\n');
		if (dstate_fields(line, f, &rest)) {
			errno = 0;
			attempts = strtol(f[2], &e, 10);
			if (*e || errno || !isdigit((unsigned char)*f[2]) ||
			    attempts > INT_MAX)
				attempts = -1;
		}
		/* a transport of ours, once; a state; a count; a time */
		if (attempts < 0 || strlen(f[0]) >= sizeof(t->name) ||
		    dstate_find(&s, f[0]) || s.nr == NS_TRANSPORTS_MAX ||
		    (strcmp(f[1], "accepted") && strcmp(f[1], "pending")) ||
		    (strcmp(f[3], "-") && ns_time_parse(&next, f[3]) < 0)) {
			ns_error_set("%s:%d: malformed delivery state '%.*s'",
				     what, lineno, (int)n, start);
			free(line);
			ns_dstate_release(&s);
			return NS_EINVALID;
		}
		t = ns_dstate_get(&s, f[0]);
		t->accepted = !strcmp(f[1], "accepted");
		t->attempts = (int)attempts;
		t->next = next;
		if (rest)
			t->error = xstrdup(rest);
		free(line);
	}
	*out = s;
	return 0;
}

/* ---- delivery ---------------------------------------------------------- */

#define QUICK_BUDGET_MS 10000

static size_t configured(const struct ns_config *c,
			 const struct ns_transport **out)
{
	size_t n = 0;

	if (c->notify.smtp)
		out[n++] = &ns_transport_smtp;
	if (c->notify.webhook)
		out[n++] = &ns_transport_webhook;
	return n;
}

static int read_small(struct strbuf *sb, const char *path, int *absent)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r;

	*absent = fd < 0 && errno == ENOENT;
	if (fd < 0 && *absent)
		return 0;
	if (fd < 0) {
		ns_error_set("cannot open '%s': %s", path, strerror(errno));
		return NS_ERROR;
	}
	strbuf_set_cap(sb, 1 << 20);
	r = strbuf_read_fd(sb, fd);
	close(fd);
	if (r < 0) {
		ns_error_set("cannot read '%s': %s", path,
			     errno ? strerror(errno) : "over 1 MiB");
		return NS_ERROR;
	}
	return 0;
}

/* the messages of the outbox, oldest first (the names begin with the time) */
static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int outbox_names(char ***out, size_t *nr, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **l = NULL;
	size_t n = 0, alloc = 0;

	*out = NULL;
	*nr = 0;
	if (!d && errno == ENOENT)
		return 0;
	if (!d) {
		ns_error_set("cannot read the outbox '%s': %s", dir,
			     strerror(errno));
		return NS_ERROR;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 4 ||
		    strcmp(de->d_name + len - 4, ".msg"))
			continue;
		ALLOC_GROW(l, n, alloc);
		l[n++] = xstrndup(de->d_name, len - 4);
	}
	closedir(d);
	if (n)
		qsort(l, n, sizeof(*l), cmp_names);
	*out = l;
	*nr = n;
	return 0;
}

static void free_names(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

/* a sidecar whose message went into sent/ just before a crash */
static void sweep_orphans(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char *msg;
		if (len <= 6 || strcmp(de->d_name + len - 6, ".state"))
			continue;
		msg = xprintf("%s/%.*s.msg", dir, (int)(len - 6), de->d_name);
		if (access(msg, F_OK) < 0 && errno == ENOENT)
			unlinkat(dirfd(d), de->d_name, 0);
		free(msg);
	}
	closedir(d);
}

static int load(struct ns_message *m, struct ns_dstate *s, const char *dir,
		const char *name)
{
	struct strbuf text = STRBUF_INIT, st = STRBUF_INIT;
	char *path = xprintf("%s/%s.msg", dir, name);
	char *spath = xprintf("%s/%s.state", dir, name);
	int absent, ret;

	if ((ret = read_small(&text, path, &absent)) < 0)
		goto done;
	if (absent) {
		ns_error_set("'%s' went away", path);
		ret = NS_ERROR;
		goto done;
	}
	if ((ret = ns_message_parse(m, name, text.buf, text.len, path)) < 0)
		goto done;
	if ((ret = read_small(&st, spath, &absent)) < 0)
		goto done;
	ret = ns_dstate_parse(s, st.buf, spath);
done:
	if (ret < 0)
		ns_message_release(m);
	strbuf_release(&text);
	strbuf_release(&st);
	free(path);
	free(spath);
	return ret;
}

static int save(const struct ns_dstate *s, const char *dir, const char *name)
{
	struct strbuf text = STRBUF_INIT;
	char *path = xprintf("%s/%s.state", dir, name);
	int ret;

	ns_dstate_format(&text, s);
	ret = ns_fsx_write_file(path, text.buf, text.len);
	strbuf_release(&text);
	free(path);
	return ret;
}

/* every transport accepted it: into sent/, then the sidecar goes */
static int finish(const char *dir, const char *name)
{
	char *sent = xprintf("%s/sent", dir);
	char *from = xprintf("%s/%s.msg", dir, name);
	char *to = xprintf("%s/%s.msg", sent, name);
	char *state = xprintf("%s/%s.state", dir, name);
	int ret = ns_fsx_mkdir_p(sent, 0755), fd;

	if (!ret && rename(from, to) < 0) {
		ns_error_set("cannot move '%s' into '%s': %s", from, sent,
			     strerror(errno));
		ret = NS_ERROR;
	}
	if (!ret &&
	    (fd = open(sent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		ret = ns_fsx_fsync_dir(fd, sent);
		close(fd);
	}
	if (!ret && unlink(state) < 0 && errno != ENOENT) {
		ns_error_set("cannot remove '%s': %s", state, strerror(errno));
		ret = NS_ERROR;
	}
	if (!ret && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		ret = ns_fsx_fsync_dir(fd, dir);
		close(fd);
	}
	free(sent);
	free(from);
	free(to);
	free(state);
	return ret;
}

static void event(struct ns_deliver_report *r, const char *msg,
		  const char *transport, const char *result,
		  const struct ns_tstate *t)
{
	char next[NS_TIME_LEN];

	if (!r->events)
		r->events = json_array();
	if (t && t->next && !t->accepted)
		ns_time_iso(next, t->next);
	json_array_append_new(
		r->events,
		json_pack("{s:s, s:o, s:s, s:o, s:o}", "message", msg,
			  "transport", str_or_null(transport), "result", result,
			  "error",
			  str_or_null(t && !t->accepted ? t->error : NULL),
			  "next",
			  str_or_null(t && t->next && !t->accepted ? next
								   : NULL)));
}

static char *default_from(const struct ns_config *c)
{
	char host[256] = "localhost";

	if (c->notify.from)
		return xstrdup(c->notify.from);
	if (c->notify.domain)
		return xprintf("nightshift@%s", c->notify.domain);
	if (gethostname(host, sizeof(host) - 1) < 0 || !*host)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	return xprintf("nightshift@%s", host);
}

/* try the due transports of one message; 1 when it is done */
static int deliver_one(struct ns_deliver_report *r, const struct ns_send *s,
		       const struct ns_transport **tr, size_t ntr, int *down,
		       const char *dir, const char *name, time_t now)
{
	struct ns_message m = NS_MESSAGE_INIT;
	struct ns_dstate st = { 0 };
	size_t done = 0;
	int ret;

	if ((ret = load(&m, &st, dir, name)) < 0) {
		/* a message we cannot read stays for a person to look at */
		struct ns_tstate t = { "", 0, 0, 0, (char *)ns_error_last() };
		event(r, name, NULL, "unreadable", &t);
		r->failed++;
		return 0;
	}
	for (size_t i = 0; i < ntr; i++) {
		struct ns_tstate *t = ns_dstate_get(&st, tr[i]->name);
		int d;

		if (t->accepted) {
			done++;
			continue;
		}
		if (down[i] || t->next > now)
			continue;
		d = tr[i]->deliver(s, &m);
		t->attempts++;
		free(t->error);
		t->error = NULL;
		if (d == 0) {
			t->accepted = 1;
			t->next = 0;
			done++;
			r->accepted++;
			event(r, name, t->name, "accepted", t);
		} else {
			t->error = xstrdup(ns_error_last());
			t->next = now + ns_notify_backoff(t->attempts);
			down[i] = d != NS_EFAILED;
			r->failed++;
			event(r, name, t->name, "failed", t);
		}
		/* durable before the next transport: one acceptance is never
		 * forgotten because another failed */
		if (save(&st, dir, name) < 0) {
			struct ns_tstate e = { "", 0, 0, 0,
					       (char *)ns_error_last() };
			event(r, name, NULL, "unrecorded", &e);
			r->failed++;
			done = 0;
			break;
		}
	}
	ret = done == ntr;
	if (ret && finish(dir, name) < 0) {
		struct ns_tstate t = { "", 0, 0, 0, (char *)ns_error_last() };
		event(r, name, NULL, "unmoved", &t);
		ret = 0;
	} else if (ret) {
		event(r, name, NULL, "sent", NULL);
	}
	ns_dstate_release(&st);
	ns_message_release(&m);
	return ret;
}

int ns_notify_deliver(const struct ns_config *c, time_t now, unsigned flags,
		      struct ns_deliver_report *out)
{
	const struct ns_transport *tr[NS_TRANSPORTS_MAX];
	size_t ntr = configured(c, tr), nr = 0;
	int down[NS_TRANSPORTS_MAX] = { 0 };
	char **names = NULL, *lock = NULL, *from = NULL;
	int fd = -1, ret = 0;
	long long start;
	struct ns_send s = { c, NULL, flags & NS_DELIVER_QUICK ? 5 : 30 };

	out->configured = (int)ntr;
	if (!ntr)
		return 0;
	if ((ret = ns_fsx_mkdir_p(c->outbox, 0755)) < 0)
		return ret;
	lock = xprintf("%s/.deliver.lock", c->outbox);
	if ((ret = ns_fsx_lock(&fd, lock, "the outbox")) < 0) {
		if (ret == NS_ELOCKED)
			ns_error_set("the outbox '%s' is being delivered by "
				     "another nightshift (lock '%s')",
				     c->outbox, lock);
		goto done;
	}
	if ((ret = ns_fsx_sweep_tmp(c->outbox)) < 0 ||
	    (ret = outbox_names(&names, &nr, c->outbox)) < 0)
		goto done;
	sweep_orphans(c->outbox);
	from = default_from(c);
	s.from = from;
	start = ns_mono_ms();
	for (size_t i = 0; i < nr; i++) {
		/* after a command, a long queue is left to `notify deliver` */
		if ((flags & NS_DELIVER_QUICK) &&
		    ns_mono_ms() - start > QUICK_BUDGET_MS) {
			out->waiting += (int)(nr - i);
			break;
		}
		if (deliver_one(out, &s, tr, ntr, down, c->outbox, names[i],
				now))
			out->sent++;
		else
			out->waiting++;
	}
done:
	if (fd >= 0)
		close(fd);
	free_names(names, nr);
	free(lock);
	free(from);
	return ret;
}

void ns_deliver_report_release(struct ns_deliver_report *r)
{
	json_decref(r->events);
	memset(r, 0, sizeof(*r));
}

int ns_notify_list(json_t **out, const struct ns_config *c)
{
	const struct ns_transport *tr[NS_TRANSPORTS_MAX];
	size_t ntr = configured(c, tr), nr = 0;
	char **names = NULL;
	json_t *list = json_array();
	int ret;

	if ((ret = outbox_names(&names, &nr, c->outbox)) < 0)
		goto done;
	for (size_t i = 0; i < nr; i++) {
		struct ns_message m = NS_MESSAGE_INIT;
		struct ns_dstate st = { 0 };
		json_t *o, *ts = json_array();

		if (load(&m, &st, c->outbox, names[i]) < 0) {
			json_array_append_new(
				list,
				json_pack("{s:s, s:s, s:o}", "message",
					  names[i], "error", ns_error_last(),
					  "transports", ts));
			continue;
		}
		for (size_t k = 0; k < ntr; k++) {
			struct ns_tstate *t = ns_dstate_get(&st, tr[k]->name);
			char next[NS_TIME_LEN];
			if (t->next)
				ns_time_iso(next, t->next);
			json_array_append_new(
				ts,
				json_pack("{s:s, s:s, s:i, s:o, s:o}",
					  "transport", t->name, "state",
					  t->accepted ? "accepted" : "pending",
					  "attempts", t->attempts, "next",
					  str_or_null(t->next && !t->accepted
							      ? next
							      : NULL),
					  "error",
					  str_or_null(t->accepted ? NULL
								  : t->error)));
		}
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "message",
			      names[i], "subject", m.subject, "event", m.event,
			      "to", m.to, "date", m.date, "transports", ts);
		json_array_append_new(list, o);
		ns_dstate_release(&st);
		ns_message_release(&m);
	}
	*out = list;
	list = NULL;
done:
	json_decref(list);
	free_names(names, nr);
	return ret;
}
