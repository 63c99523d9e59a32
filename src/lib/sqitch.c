/*
 * sqitch — enhancements from a Sqitch project (sqitch.h).
 */
#include "sqitch.h"

#include "config.h"
#include "error.h"
#include "fsx.h"
#include "iniparse.h"
#include "lifecycle.h"
#include "strbuf.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILE (16u << 20)

/* ---- the plan ---------------------------------------------------------- */

struct cursor {
	const char *p, *end;
	const char *name;
	int line;
};

__attribute__((format(printf, 2, 3))) static int bad(const struct cursor *c,
						     const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	ns_error_set("%s:%d: %s", c->name, c->line, sb.buf);
	strbuf_release(&sb);
	return NS_EINVALID;
}

static void skip_blank(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* a name: no blanks, none of :@#\[]!<>, no punctuation first or last */
static char *take_name(struct cursor *c)
{
	const char *s = c->p;

	while (c->p < c->end && !isspace((unsigned char)*c->p) &&
	       !strchr(":@#\\[]!<>", *c->p))
		c->p++;
	if (c->p == s || ispunct((unsigned char)*s) ||
	    ispunct((unsigned char)c->p[-1]) ||
	    memmem(s, (size_t)(c->p - s), "..", 2))
		return NULL;
	return xstrndup(s, (size_t)(c->p - s));
}

static int is_time(const char *s, size_t n)
{
	static const char form[] = "dddd-dd-ddTdd:dd:ddZ";

	if (n != sizeof(form) - 1)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (form[i] == 'd' ? !isdigit((unsigned char)s[i])
				   : s[i] != form[i])
			return 0;
	return 1;
}

/* TIMESTAMP PLANNER <EMAIL> [# NOTE] */
static int take_planned(struct cursor *c, char **at, char **planner,
			char **email, char **note)
{
	const char *s, *lt, *gt;

	skip_blank(c);
	s = c->p;
	while (c->p < c->end && !isspace((unsigned char)*c->p))
		c->p++;
	if (!is_time(s, (size_t)(c->p - s)))
		return bad(c, "%s",
			   "expected the planned time "
			   "YYYY-MM-DDTHH:MM:SSZ");
	*at = xstrndup(s, (size_t)(c->p - s));
	skip_blank(c);
	s = c->p;
	lt = memchr(s, '<', (size_t)(c->end - s));
	gt = lt ? memchr(lt, '>', (size_t)(c->end - lt)) : NULL;
	if (!lt || lt == s || !gt || gt == lt + 1)
		return bad(c, "%s", "expected the planner: NAME <EMAIL>");
	while (lt > s && isspace((unsigned char)lt[-1]))
		lt--;
	*planner = xstrndup(s, (size_t)(lt - s));
	lt = memchr(s, '<', (size_t)(c->end - s));
	*email = xstrndup(lt + 1, (size_t)(gt - lt - 1));
	c->p = gt + 1;
	skip_blank(c);
	if (c->p == c->end)
		return 0;
	if (*c->p != '#')
		return bad(c, "%s",
			   "expected '# NOTE' or the end of the line "
			   "after the planner's email");
	c->p++;
	skip_blank(c);
	*note = xstrndup(c->p, (size_t)(c->end - c->p));
	return 0;
}

static int take_dep(struct cursor *c, struct ns_sqitch_dep *d)
{
	char *a = NULL;

	if (*c->p == '!') {
		d->conflict = 1;
		c->p++;
	}
	if (*c->p != '@' && !(a = take_name(c)))
		return bad(c, "%s",
			   "expected a dependency [PROJECT:]NAME[@TAG]");
	if (a && c->p < c->end && *c->p == ':') {
		c->p++;
		d->project = a;
		a = NULL;
		if (*c->p != '@' && !(a = take_name(c)))
			return bad(c, "%s",
				   "expected a change name after "
				   "'PROJECT:'");
	}
	d->change = a;
	if (c->p < c->end && *c->p == '@') {
		c->p++;
		if (!(d->tag = take_name(c)))
			return bad(c, "%s", "expected a tag name after '@'");
	}
	if (!d->change && !d->tag)
		return bad(c, "%s",
			   "expected a dependency [PROJECT:]NAME[@TAG]");
	if (c->p < c->end && !isspace((unsigned char)*c->p) && *c->p != ']')
		return bad(c, "%s",
			   "expected a blank or ']' after a "
			   "dependency");
	return 0;
}

static int take_deps(struct cursor *c, struct ns_sqitch_change *ch)
{
	int ret;

	c->p++; /* '[' */
	for (;;) {
		while (c->p < c->end && isspace((unsigned char)*c->p))
			c->p++;
		if (c->p == c->end)
			return bad(c, "%s",
				   "expected ']' to close the "
				   "dependencies");
		if (*c->p == ']')
			break;
		ch->deps = xrealloc(ch->deps,
				    (ch->deps_nr + 1) * sizeof(*ch->deps));
		memset(&ch->deps[ch->deps_nr], 0, sizeof(*ch->deps));
		if ((ret = take_dep(c, &ch->deps[ch->deps_nr++])) < 0)
			return ret;
	}
	c->p++;
	return 0;
}

static int pragma(struct ns_sqitch_plan *p, struct cursor *c)
{
	const char *s, *eq;
	char *key, *val, **slot = NULL;

	c->p++;
	skip_blank(c);
	s = c->p;
	eq = memchr(s, '=', (size_t)(c->end - s));
	if (!eq)
		return bad(c, "%s", "expected a pragma %NAME=VALUE");
	key = xstrndup(s, (size_t)(eq - s));
	for (char *k = key + strlen(key); k > key && isspace(k[-1]);)
		*--k = '\0';
	s = eq + 1;
	while (s < c->end && isspace((unsigned char)*s))
		s++;
	val = xstrndup(s, (size_t)(c->end - s));
	for (char *v = val + strlen(val); v > val && isspace(v[-1]);)
		*--v = '\0';
	if (!strcmp(key, "syntax-version"))
		slot = &p->syntax_version;
	else if (!strcmp(key, "project"))
		slot = &p->project;
	else if (!strcmp(key, "uri"))
		slot = &p->uri;
	if (slot && (*slot || !*val || !*key)) {
		free(key);
		free(val);
		return bad(c, "%s",
			   *slot ? "pragma given twice"
				 : "expected a value after '='");
	}
	if (slot)
		*slot = val;
	else
		free(val); /* Sqitch keeps pragmas it does not know too */
	free(key);
	return 0;
}

/* the first tag after change i, or NULL */
static const struct ns_sqitch_tag *tag_after(const struct ns_sqitch_plan *p,
					     size_t i)
{
	for (size_t t = 0; t < p->tags_nr; t++)
		if (p->tags[t].after >= i)
			return &p->tags[t];
	return NULL;
}

long ns_sqitch_plan_find(const struct ns_sqitch_plan *p, const char *name,
			 const char *tag, size_t from)
{
	size_t limit = from;

	if (tag) {
		size_t t = 0;

		while (t < p->tags_nr && strcmp(p->tags[t].name, tag))
			t++;
		if (t == p->tags_nr || p->tags[t].after >= from)
			return -1;
		limit = p->tags[t].after + 1;
	}
	for (size_t i = limit; i-- > 0;)
		if (!strcmp(p->changes[i].name, name))
			return (long)i;
	return -1;
}

static int rework(struct ns_sqitch_plan *p, struct cursor *c)
{
	struct ns_sqitch_change *ch = &p->changes[p->nr - 1];
	long prev = ns_sqitch_plan_find(p, ch->name, NULL, p->nr - 1);
	const struct ns_sqitch_tag *t;

	if (prev < 0)
		return 0;
	t = tag_after(p, (size_t)prev);
	if (!t)
		return bad(c,
			   "change '%s' is planned already; a change is "
			   "reworked only after a tag",
			   ch->name);
	free(p->changes[prev].script);
	p->changes[prev].script = xprintf("%s@%s", ch->name, t->name);
	return 0;
}

static int has_tag(const struct ns_sqitch_plan *p, const char *name)
{
	for (size_t t = 0; t < p->tags_nr; t++)
		if (!strcmp(p->tags[t].name, name))
			return 1;
	return 0;
}

static int check_deps(const struct ns_sqitch_plan *p, struct cursor *c)
{
	const struct ns_sqitch_change *ch = &p->changes[p->nr - 1];

	for (size_t i = 0; i < ch->deps_nr; i++) {
		const struct ns_sqitch_dep *d = &ch->deps[i];

		if (d->conflict ||
		    (d->project && strcmp(d->project, p->project)))
			continue;
		if (!d->change && !has_tag(p, d->tag))
			return bad(c, "tag '@%s' is not planned before it",
				   d->tag);
		if (!d->change)
			continue;
		if (ns_sqitch_plan_find(p, d->change, d->tag, p->nr - 1) < 0)
			return bad(c,
				   "requires '%s', which is not planned "
				   "before it",
				   d->change);
	}
	return 0;
}

static int change(struct ns_sqitch_plan *p, struct cursor *c)
{
	struct ns_sqitch_change *ch;
	int ret;

	if (!p->project)
		return bad(c, "%s",
			   "expected the %project pragma before the "
			   "first change");
	p->changes = xrealloc(p->changes, (p->nr + 1) * sizeof(*p->changes));
	ch = &p->changes[p->nr++];
	memset(ch, 0, sizeof(*ch));
	ch->line = c->line;
	if (*c->p == '+' || *c->p == '-') {
		ch->revert = *c->p++ == '-';
		skip_blank(c);
	}
	if (!(ch->name = take_name(c)))
		return bad(c, "%s",
			   "expected a change name (no blanks, none "
			   "of :@#\\, no '..', no punctuation first or last)");
	ch->script = xstrdup(ch->name);
	if (c->p < c->end && !isspace((unsigned char)*c->p))
		return bad(c, "%s", "expected a blank after the change name");
	skip_blank(c);
	if (c->p < c->end && *c->p == '[' && (ret = take_deps(c, ch)) < 0)
		return ret;
	if ((ret = take_planned(c, &ch->planned_at, &ch->planner, &ch->email,
				&ch->note)) < 0)
		return ret;
	if ((ret = check_deps(p, c)) < 0)
		return ret;
	return rework(p, c);
}

static int tag(struct ns_sqitch_plan *p, struct cursor *c)
{
	struct ns_sqitch_tag *t;
	char *at = NULL, *planner = NULL, *email = NULL, *note = NULL;
	char *name;
	int ret;

	c->p++;
	if (!(name = take_name(c)))
		return bad(c, "%s", "expected a tag name after '@'");
	for (size_t i = 0; i < p->tags_nr; i++)
		if (!strcmp(p->tags[i].name, name)) {
			free(name);
			return bad(c, "tag '@%s' is planned already",
				   p->tags[i].name);
		}
	if (!p->nr) {
		ret = bad(c, "tag '@%s' before any change", name);
		free(name);
		return ret;
	}
	p->tags = xrealloc(p->tags, (p->tags_nr + 1) * sizeof(*p->tags));
	t = &p->tags[p->tags_nr++];
	t->name = name;
	t->after = p->nr - 1;
	t->line = c->line;
	ret = take_planned(c, &at, &planner, &email, &note);
	free(at);
	free(planner);
	free(email);
	free(note);
	return ret;
}

static int one_line(struct ns_sqitch_plan *p, struct cursor *c)
{
	skip_blank(c);
	if (c->p == c->end || *c->p == '#')
		return 0;
	if (memchr(c->p, '\0', (size_t)(c->end - c->p)))
		return bad(c, "%s", "a NUL byte");
	if (*c->p == '%')
		return pragma(p, c);
	if (*c->p == '@')
		return tag(p, c);
	return change(p, c);
}

int ns_sqitch_plan_parse(struct ns_sqitch_plan *out, const char *name,
			 const char *buf, size_t len)
{
	struct cursor c = { buf, buf, name, 0 };
	const char *end = buf + len;
	int ret = 0;

	while (!ret && c.p < end) {
		const char *nl = memchr(c.p, '\n', (size_t)(end - c.p));

		c.end = nl ? nl : end;
		if (c.end > c.p && c.end[-1] == '\r')
			c.end--;
		c.line++;
		ret = one_line(out, &c);
		c.p = nl ? nl + 1 : end;
	}
	if (!ret && !out->project) {
		c.line = c.line ? c.line : 1;
		ret = bad(&c, "%s", "expected the %project pragma");
	}
	if (ret)
		ns_sqitch_plan_release(out);
	return ret;
}

void ns_sqitch_plan_release(struct ns_sqitch_plan *p)
{
	for (size_t i = 0; i < p->nr; i++) {
		struct ns_sqitch_change *ch = &p->changes[i];

		for (size_t d = 0; d < ch->deps_nr; d++) {
			free(ch->deps[d].project);
			free(ch->deps[d].change);
			free(ch->deps[d].tag);
		}
		free(ch->deps);
		free(ch->name);
		free(ch->script);
		free(ch->planned_at);
		free(ch->planner);
		free(ch->email);
		free(ch->note);
	}
	for (size_t t = 0; t < p->tags_nr; t++)
		free(p->tags[t].name);
	free(p->changes);
	free(p->tags);
	free(p->syntax_version);
	free(p->project);
	free(p->uri);
	memset(p, 0, sizeof(*p));
}

/* ---- the project: sqitch.conf, scripts --------------------------------- */

struct project {
	const char *dir;
	char *top, *plan_file, *ext;
	struct ns_sqitch_plan plan;
	char *plan_name; /* as messages call it */
};

static int read_file(char **out, size_t *len, const char *path, int missing_ok)
{
	struct strbuf sb = STRBUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT && missing_ok)
		return 1;
	strbuf_set_cap(&sb, MAX_FILE);
	if (fd < 0 || strbuf_read_fd(&sb, fd) < 0) {
		ns_error_set("%s: cannot read: %s", path,
			     errno ? strerror(errno) : "too large");
		if (fd >= 0)
			close(fd);
		strbuf_release(&sb);
		return NS_EINVALID;
	}
	close(fd);
	*out = strbuf_detach(&sb, len);
	return 0;
}

static char *unquote(const char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
		return xstrndup(v + 1, n - 2);
	return xstrdup(v);
}

static int on_conf(void *data, const char *section, const char *key,
		   const char *value, int line)
{
	struct project *pr = data;
	char **slot = NULL;

	(void)line;
	if (!key || strcmp(section, "core"))
		return 0;
	if (!strcmp(key, "top_dir"))
		slot = &pr->top;
	else if (!strcmp(key, "plan_file"))
		slot = &pr->plan_file;
	else if (!strcmp(key, "extension"))
		slot = &pr->ext;
	if (slot) {
		free(*slot);
		*slot = unquote(value);
	}
	return 0;
}

/* a relative path of sqitch.conf is relative to the project */
static char *in_project(const struct project *pr, const char *path)
{
	return path[0] == '/' ? xstrdup(path) : xprintf("%s/%s", pr->dir, path);
}

static int project_load(struct project *pr, const char *dir)
{
	char *conf = xprintf("%s/sqitch.conf", dir), *buf = NULL, *t;
	size_t len = 0;
	int ret;

	pr->dir = dir;
	ret = read_file(&buf, &len, conf, 1);
	if (ret == 0)
		ret = ns_ini_parse(conf, buf, len, on_conf, pr);
	free(buf);
	buf = NULL;
	if (ret == 1)
		ret = 0;
	t = pr->top ? in_project(pr, pr->top) : xstrdup(dir);
	free(pr->top);
	pr->top = t;
	if (!pr->ext)
		pr->ext = xstrdup("sql");
	pr->plan_name = pr->plan_file ? in_project(pr, pr->plan_file)
				      : xprintf("%s/sqitch.plan", pr->top);
	if (!ret)
		ret = read_file(&buf, &len, pr->plan_name, 0);
	if (!ret)
		ret = ns_sqitch_plan_parse(&pr->plan, pr->plan_name, buf, len);
	free(buf);
	free(conf);
	return ret;
}

static void project_release(struct project *pr)
{
	free(pr->top);
	free(pr->plan_file);
	free(pr->ext);
	free(pr->plan_name);
	ns_sqitch_plan_release(&pr->plan);
}

static int sql_line(const char *s, const char *e, const char *const *words)
{
	char w[32];
	size_t n = 0;

	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if (e == s || e[-1] != ';')
		return 0;
	for (e--; e > s && isspace((unsigned char)e[-1]);)
		e--;
	while (s < e && n < sizeof(w) - 1)
		w[n++] = (char)toupper((unsigned char)*s++);
	w[n] = '\0';
	for (; *words; words++)
		if (!strcmp(w, *words))
			return 1;
	return 0;
}

static int significant(const char *s, const char *e)
{
	while (s < e && isspace((unsigned char)*s))
		s++;
	return s < e && !(e - s >= 2 && s[0] == '-' && s[1] == '-');
}

/*
 * Blank the first significant line when it is BEGIN; and then the last
 * when it is COMMIT; / ROLLBACK; — lines stay where they were, so that a
 * failure's "SCRIPT:LINE" still points into the developer's file.
 */
static void unwrap(char *buf, size_t len)
{
	static const char *const begin[] = { "BEGIN", "BEGIN TRANSACTION",
					     NULL };
	static const char *const end[] = { "COMMIT",
					   "ROLLBACK",
					   "END",
					   "COMMIT TRANSACTION",
					   "ROLLBACK TRANSACTION",
					   NULL };
	char *p = buf, *stop = buf + len, *first = NULL, *fe = NULL;
	char *last = NULL, *le = NULL;

	while (p < stop) {
		char *nl = memchr(p, '\n', (size_t)(stop - p));
		char *e = nl ? nl : stop;

		if (significant(p, e)) {
			if (!first) {
				first = p;
				fe = e;
			}
			last = p;
			le = e;
		}
		p = nl ? nl + 1 : stop;
	}
	if (!first || first == last || !sql_line(first, fe, begin) ||
	    !sql_line(last, le, end))
		return;
	memset(first, ' ', (size_t)(fe - first));
	memset(last, ' ', (size_t)(le - last));
}

static int copy_script(const struct project *pr,
		       const struct ns_sqitch_change *ch, const char *kind,
		       const char *dir, int required)
{
	char *src = xprintf("%s/%s/%s.%s", pr->top, kind, ch->script, pr->ext);
	char *dst = xprintf("%s/sql/%s.sql", dir, kind), *buf = NULL;
	size_t len = 0;
	int ret = read_file(&buf, &len, src, !required);

	if (ret == NS_EINVALID && required && errno == ENOENT)
		ns_error_set("%s: missing: the %s script of change '%s' "
			     "(%s:%d)",
			     src, kind, ch->name, pr->plan_name, ch->line);
	if (ret == 0) {
		unwrap(buf, len);
		ret = ns_fsx_write_file(dst, buf, len);
	}
	free(buf);
	free(src);
	free(dst);
	return ret == 1 ? 0 : ret;
}

/* ---- submission -------------------------------------------------------- */

/* what the registry knows: enhancement ids of the changes submitted */
struct known {
	long long *enh; /* per change of the plan, 0: not submitted */
};

static char *origin_of(const struct project *pr, size_t i)
{
	const struct ns_sqitch_change *ch = &pr->plan.changes[i];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "sqitch",
			      pr->plan.project, "change", ch->name, "planned",
			      ch->planned_at, "script", ch->script);
	char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);

	json_decref(o);
	return s;
}

/* the last enhancement submitted from PROJECT's change NAME (planned at
 * PLANNED, or any when NULL); 0 when there is none */
static int lookup(long long *out, struct ns_registry *r, const char *project,
		  const char *name, const char *planned)
{
	json_t *rows = NULL, *row;
	size_t i;
	int ret = ns_registry_query(r, &rows,
				    "SELECT enhancement, detail FROM events "
				    "WHERE event = 'source' ORDER BY id",
				    "");

	*out = 0;
	json_array_foreach(rows, i, row)
	{
		json_t *o = json_loads(ns_row_str(row, "detail"), 0, NULL);
		const char *pj =
			json_string_value(json_object_get(o, "sqitch"));
		const char *ch =
			json_string_value(json_object_get(o, "change"));
		const char *at =
			json_string_value(json_object_get(o, "planned"));

		if (pj && ch && at && !strcmp(pj, project) &&
		    !strcmp(ch, name) && (!planned || !strcmp(at, planned)))
			*out = json_integer_value(
				json_object_get(row, "enhancement"));
		json_decref(o);
	}
	json_decref(rows);
	return ret;
}

static int dep_enh(long long *out, const struct project *pr,
		   struct ns_registry *r, const long long *enh, size_t i,
		   const struct ns_sqitch_dep *d)
{
	long j;

	if (!d->change)
		return *out = 0, 0; /* @TAG: the changes before it come first */
	if (d->project && strcmp(d->project, pr->plan.project))
		return lookup(out, r, d->project, d->change, NULL);
	j = ns_sqitch_plan_find(&pr->plan, d->change, d->tag, i);
	*out = j < 0 ? 0 : enh[j];
	return 0;
}

static int write_ini(const struct project *pr, struct ns_registry *r,
		     const long long *enh, size_t i,
		     const struct ns_sqitch_submit *s, const char *dir)
{
	const struct ns_sqitch_change *ch = &pr->plan.changes[i];
	struct strbuf ini = STRBUF_INIT, req = STRBUF_INIT, con = STRBUF_INIT;
	char *path = xprintf("%s/enhancement.ini", dir);
	int ret = 0;

	for (size_t k = 0; !ret && k < ch->deps_nr; k++) {
		const struct ns_sqitch_dep *d = &ch->deps[k];
		long long id = 0;

		if ((ret = dep_enh(&id, pr, r, enh, i, d)) < 0)
			break;
		if (id)
			strbuf_addf(d->conflict ? &con : &req, " ENH-%lld", id);
		else if (!d->conflict && d->change) {
			ns_error_set("%s:%d: change '%s' requires %s%s%s, "
				     "which is not submitted (submit it "
				     "first)",
				     pr->plan_name, ch->line, ch->name,
				     d->project ? d->project : "",
				     d->project ? ":" : "", d->change);
			ret = NS_EINVALID;
		}
	}
	strbuf_addf(&ini, "[enhancement]\ntitle = %s\n",
		    ch->note && *ch->note ? ch->note : ch->name);
	if (s->rfs)
		strbuf_addf(&ini, "rfs = %s\n", s->rfs);
	if (s->system)
		strbuf_addf(&ini, "system = %s\n", s->system);
	if (req.len)
		strbuf_addf(&ini, "requires =%s\n", req.buf);
	if (con.len)
		strbuf_addf(&ini, "conflicts =%s\n", con.buf);
	if (!ret)
		ret = ns_fsx_write_file(path, ini.buf, ini.len);
	strbuf_release(&ini);
	strbuf_release(&req);
	strbuf_release(&con);
	free(path);
	return ret;
}

static int build(const struct project *pr, struct ns_registry *r,
		 const long long *enh, size_t i,
		 const struct ns_sqitch_submit *s, const char *dir)
{
	const struct ns_sqitch_change *ch = &pr->plan.changes[i];
	char *sql = xprintf("%s/sql", dir);
	int ret = ns_fsx_mkdir_p(sql, 0755);

	free(sql);
	if (!ret && ch->revert) {
		ns_error_set("%s:%d: '-%s': a change planned for revert is "
			     "not an enhancement (back it out with nightshift "
			     "rollback)",
			     pr->plan_name, ch->line, ch->name);
		ret = NS_EINVALID;
	}
	if (!ret)
		ret = write_ini(pr, r, enh, i, s, dir);
	if (!ret)
		ret = copy_script(pr, ch, "deploy", dir, 1);
	if (!ret)
		ret = copy_script(pr, ch, "revert", dir, 0);
	if (!ret)
		ret = copy_script(pr, ch, "verify", dir, 0);
	return ret;
}

static int submit_one(long long *out, const struct project *pr,
		      const struct ns_config *c, struct ns_registry *r,
		      const long long *enh, size_t i,
		      const struct ns_sqitch_submit *s, const char *actor)
{
	char *tmp = xprintf("%s/.sqitch-XXXXXX", c->store), *origin = NULL;
	int ret = ns_fsx_mkdir_p(c->store, 0755), rev = 0;

	if (!ret && !mkdtemp(tmp)) {
		ns_error_set("cannot make a scratch directory '%s': %s", tmp,
			     strerror(errno));
		free(tmp);
		return NS_ERROR;
	}
	if (!ret)
		ret = build(pr, r, enh, i, s, tmp);
	if (!ret) {
		char *label = xprintf("%s:%d: change '%s'", pr->plan_name,
				      pr->plan.changes[i].line,
				      pr->plan.changes[i].script);

		origin = origin_of(pr, i);
		if (s->resubmit)
			ret = ns_lifecycle_resubmit_from(
				&rev, c, r, s->resubmit, tmp, actor, origin);
		else
			ret = ns_lifecycle_submit_from(out, c, r, tmp, actor,
						       origin);
		if (!ret && s->resubmit)
			*out = rev;
		if (ret < 0)
			ns_error_replace(tmp, label);
		free(label);
	}
	if (ns_fsx_remove_tree(tmp) < 0 && !ret)
		ret = NS_ERROR;
	free(origin);
	free(tmp);
	return ret;
}

/* --change NAME or NAME@TAG: its index, or -1 with the message set */
static long pick(const struct project *pr, const char *change)
{
	const char *at = strchr(change, '@');
	char *name =
		at ? xstrndup(change, (size_t)(at - change)) : xstrdup(change);
	long i = ns_sqitch_plan_find(&pr->plan, name, at ? at + 1 : NULL,
				     pr->plan.nr);

	if (i < 0)
		ns_error_set("%s: no change '%s' is planned", pr->plan_name,
			     change);
	free(name);
	return i;
}

/* a corrected revision of the enhancement change `only` was submitted as */
static int resubmit_one(int *out_rev, const struct project *pr,
			const struct ns_config *c, struct ns_registry *r,
			long long *enh, long only,
			const struct ns_sqitch_submit *s, const char *actor)
{
	long long rev = 0;
	int ret;

	if (only < 0 || enh[only] != s->resubmit) {
		ns_error_set("%s: change '%s' was %s ENH-%lld", pr->plan_name,
			     s->change ? s->change : "",
			     only >= 0 && enh[only] ? "submitted as another "
						      "enhancement than"
						    : "never submitted as",
			     s->resubmit);
		return NS_EINVALID;
	}
	ret = submit_one(&rev, pr, c, r, enh, (size_t)only, s, actor);
	if (!ret)
		*out_rev = (int)rev;
	return ret;
}

int ns_sqitch_submit(int *out_nr, const struct ns_config *c,
		     struct ns_registry *r, const struct ns_sqitch_submit *s,
		     const char *actor)
{
	struct project pr = { 0 };
	long long *enh = NULL;
	long only = -1;
	int ret = project_load(&pr, s->dir);

	*out_nr = 0;
	if (!ret)
		enh = xcalloc(pr.plan.nr + 1, sizeof(*enh));
	for (size_t i = 0; !ret && i < pr.plan.nr; i++)
		ret = lookup(&enh[i], r, pr.plan.project,
			     pr.plan.changes[i].name,
			     pr.plan.changes[i].planned_at);
	if (!ret && s->change && (only = pick(&pr, s->change)) < 0)
		ret = NS_EINVALID;
	if (!ret && s->resubmit)
		ret = resubmit_one(out_nr, &pr, c, r, enh, only, s, actor);
	if (!ret && !s->resubmit && only >= 0 && enh[only]) {
		ns_error_set("%s: change '%s' is submitted already, as "
			     "ENH-%lld",
			     pr.plan_name, s->change, enh[only]);
		ret = NS_EINVALID;
	}
	for (size_t i = 0; !ret && !s->resubmit && i < pr.plan.nr; i++) {
		if (enh[i] || (only >= 0 && (size_t)only != i))
			continue;
		ret = submit_one(&enh[i], &pr, c, r, enh, i, s, actor);
		if (!ret) {
			++*out_nr;
			if (s->submitted)
				s->submitted(s->data, enh[i],
					     pr.plan.changes[i].script);
		}
	}
	free(enh);
	project_release(&pr);
	return ret;
}
