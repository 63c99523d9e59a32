#include "sqlobj.h"
#include "strbuf.h"
#include "xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- tokens -------------------------------------------------------- */

enum tok_kind {
	TOK_WORD,   /* a keyword or an unquoted identifier */
	TOK_QUOTED, /* "ident", `ident` or [ident]: p and len inside */
	TOK_STRING, /* a literal: only there to part the tokens around it */
	TOK_PUNCT,  /* one character */
};

struct tok {
	enum tok_kind kind;
	const char *p;
	size_t len;
	char close; /* TOK_QUOTED: the closing quote, doubled to escape it */
};

struct toks {
	struct tok *v;
	size_t nr, alloc;
};

static void push(struct toks *t, enum tok_kind kind, const char *p, size_t len,
		 char close)
{
	ALLOC_GROW(t->v, t->nr, t->alloc);
	t->v[t->nr].kind = kind;
	t->v[t->nr].p = p;
	t->v[t->nr].len = len;
	t->v[t->nr].close = close;
	t->nr++;
}

static int word_start(unsigned char c)
{
	return isalnum(c) || c == '_' || c >= 0x80;
}

/* PostgreSQL allows $ inside an identifier, never first */
static int word_char(unsigned char c)
{
	return word_start(c) || c == '$';
}

/* past the literal whose opening quote is at p; E'' strings take
 * backslash escapes as well as '' */
static const char *skip_string(const char *p, int backslash)
{
	for (p++; *p; p++) {
		if (backslash && *p == '\\' && p[1])
			p++;
		else if (*p == '\'' && p[1] == '\'')
			p++;
		else if (*p == '\'')
			return p + 1;
	}
	return p;
}

/* past the comment opening at p; they nest */
static const char *skip_block_comment(const char *p)
{
	int depth = 0;

	while (*p) {
		if (p[0] == '/' && p[1] == '*') {
			depth++;
			p += 2;
		} else if (p[0] == '*' && p[1] == '/') {
			p += 2;
			if (!--depth)
				break;
		} else {
			p++;
		}
	}
	return p;
}

/* the length of the $tag$ that opens a dollar quote at p, or 0 */
static size_t dollar_tag(const char *p)
{
	const char *q = p + 1;

	if (*q != '$') {
		if (!word_start(*q) || isdigit((unsigned char)*q))
			return 0; /* $1 is a parameter */
		while (word_char(*q) && *q != '$')
			q++;
		if (*q != '$')
			return 0;
	}
	return q - p + 1;
}

static const char *skip_dollar(const char *p, size_t tag)
{
	const char *q;

	for (q = p + tag; *q; q++)
		if (*q == '$' && !strncmp(q, p, tag))
			return q + tag;
	return q;
}

/* a quoted identifier opening at p; returns the end */
static const char *lex_quoted(struct toks *t, const char *p, char close)
{
	const char *q;

	for (q = p + 1; *q; q++) {
		if (*q == close && q[1] == close) {
			q++;
		} else if (*q == close) {
			push(t, TOK_QUOTED, p + 1, q - p - 1, close);
			return q + 1;
		}
	}
	push(t, TOK_QUOTED, p + 1, q - p - 1, close);
	return q;
}

/* [ident] quotes only a plain name: a bracket that holds a literal or a
 * line break is PostgreSQL's subscript or ARRAY[...] */
static int bracket_quotes(const char *p)
{
	size_t n = strcspn(p + 1, "]'[\n");

	return p[1 + n] == ']';
}

static void lex(struct toks *t, const char *s)
{
	const char *p = s;

	while (*p) {
		unsigned char c = *p;
		const char *start = p;
		size_t tag;

		if (isspace(c)) {
			p++;
		} else if (c == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
		} else if (c == '/' && p[1] == '*') {
			p = skip_block_comment(p);
		} else if (c == '\'') {
			p = skip_string(p, 0);
			push(t, TOK_STRING, start, p - start, 0);
		} else if (c == '$' && (tag = dollar_tag(p))) {
			p = skip_dollar(p, tag);
			push(t, TOK_STRING, start, p - start, 0);
		} else if (c == '"' || c == '`') {
			p = lex_quoted(t, p, c);
		} else if (c == '[' && bracket_quotes(p)) {
			p = lex_quoted(t, p, ']');
		} else if (word_start(c)) {
			while (word_char(*p))
				p++;
			if (*p == '\'' && p - start == 1 &&
			    (c == 'E' || c == 'e')) {
				p = skip_string(p, 1);
				push(t, TOK_STRING, start, p - start, 0);
			} else {
				push(t, TOK_WORD, start, p - start, 0);
			}
		} else {
			push(t, TOK_PUNCT, p++, 1, 0);
		}
	}
}

/* ---- reading the statements ---------------------------------------- */

struct parse {
	const struct tok *v;
	size_t nr;
	char **names;
	size_t names_nr, names_alloc;
};

static int is_word(const struct parse *ps, size_t i, const char *kw)
{
	return i < ps->nr && ps->v[i].kind == TOK_WORD &&
	       ps->v[i].len == strlen(kw) &&
	       !strncasecmp(ps->v[i].p, kw, ps->v[i].len);
}

static int is_punct(const struct parse *ps, size_t i, char c)
{
	return i < ps->nr && ps->v[i].kind == TOK_PUNCT && ps->v[i].p[0] == c;
}

static int accept(const struct parse *ps, size_t *i, const char *kw)
{
	if (!is_word(ps, *i, kw))
		return 0;
	(*i)++;
	return 1;
}

/* one of the NULL-terminated words */
static int accept_any(const struct parse *ps, size_t *i, const char *const *kws)
{
	for (; *kws; kws++)
		if (accept(ps, i, *kws))
			return 1;
	return 0;
}

/* IF EXISTS or IF NOT EXISTS */
static void skip_if_exists(const struct parse *ps, size_t *i)
{
	size_t j = *i;

	if (!accept(ps, &j, "IF"))
		return;
	accept(ps, &j, "NOT");
	if (accept(ps, &j, "EXISTS"))
		*i = j;
}

/* past the parenthesised group at i (f(int, text) in DROP FUNCTION) */
static size_t skip_parens(const struct parse *ps, size_t i)
{
	int depth = 0;

	for (; i < ps->nr; i++) {
		if (is_punct(ps, i, '('))
			depth++;
		else if (is_punct(ps, i, ')') && !--depth)
			return i + 1;
	}
	return i;
}

static int add_part(struct strbuf *sb, const struct tok *t)
{
	if (t->kind == TOK_WORD && !isdigit((unsigned char)t->p[0])) {
		for (size_t k = 0; k < t->len; k++) {
			char c = t->p[k];

			/* ASCII only: a name must not change with the
			 * locale */
			strbuf_addch(sb,
				     c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		}
		return 1;
	}
	if (t->kind == TOK_QUOTED && t->len) {
		for (size_t k = 0; k < t->len; k++) {
			strbuf_addch(sb, t->p[k]);
			if (t->p[k] == t->close && k + 1 < t->len)
				k++;
		}
		return 1;
	}
	return 0;
}

/* words that follow where a name may be left out, and so are no name */
static const char *const not_names[] = { "AS",	   "DEFAULT", "FROM",
					 "ON",	   "SELECT",  "SET",
					 "VALUES", "WHERE",   NULL };

/* the (schema-qualified) name at *i, advancing past it; NULL if none */
static char *name_at(const struct parse *ps, size_t *i)
{
	struct strbuf sb = STRBUF_INIT;
	size_t j = *i;

	for (const char *const *w = not_names; *w; w++)
		if (is_word(ps, j, *w))
			return NULL;
	for (;;) {
		if (j >= ps->nr || !add_part(&sb, &ps->v[j])) {
			strbuf_release(&sb);
			return NULL;
		}
		if (!is_punct(ps, ++j, '.'))
			break;
		strbuf_addch(&sb, '.');
		j++;
	}
	*i = j;
	return strbuf_detach(&sb, NULL);
}

/* takes name over; NULL is no name */
static void add(struct parse *ps, char *name)
{
	if (!name)
		return;
	ALLOC_GROW(ps->names, ps->names_nr, ps->names_alloc);
	ps->names[ps->names_nr++] = name;
}

enum kind {
	K_TABLE,
	K_VIEW,
	K_INDEX,
	K_TRIGGER,
	K_FUNCTION,
	K_PROCEDURE,
	K_SEQUENCE,
	K_TYPE,
	K_SCHEMA,
	K_NONE,
};

static enum kind kind_at(const struct parse *ps, size_t *i)
{
	static const char *const kinds[] = {
		"TABLE",     "VIEW",	 "INDEX", "TRIGGER", "FUNCTION",
		"PROCEDURE", "SEQUENCE", "TYPE",  "SCHEMA"
	};

	if (is_word(ps, *i, "MATERIALIZED") && is_word(ps, *i + 1, "VIEW")) {
		*i += 2;
		return K_VIEW;
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++)
		if (accept(ps, i, kinds[k]))
			return k;
	return K_NONE;
}

/* the table after ON in CREATE INDEX or TRIGGER: a trigger names its
 * events first (AFTER UPDATE OF a, b ON t), so look ahead to where the
 * column list, the body or the end of the statement begins */
static void add_on_table(struct parse *ps, size_t i)
{
	static const char *const stop[] = { "BEGIN", "EXECUTE", "FOR", "WHEN",
					    NULL };

	for (; i < ps->nr; i++) {
		size_t j = i;

		if (is_punct(ps, i, ';') || is_punct(ps, i, '(') ||
		    accept_any(ps, &j, stop))
			return;
		if (accept(ps, &j, "ON")) {
			accept(ps, &j, "ONLY");
			add(ps, name_at(ps, &j));
			return;
		}
	}
}

static void on_create(struct parse *ps, size_t i)
{
	static const char *const mods[] = {
		"TEMP",	  "TEMPORARY", "UNIQUE",     "UNLOGGED",  "VIRTUAL",
		"GLOBAL", "LOCAL",     "CONSTRAINT", "RECURSIVE", NULL
	};
	enum kind k;

	for (;;) {
		if (is_word(ps, i, "OR") && is_word(ps, i + 1, "REPLACE"))
			i += 2;
		else if (!accept_any(ps, &i, mods))
			break;
	}
	k = kind_at(ps, &i);
	if (k == K_NONE)
		return;
	if (k == K_INDEX)
		accept(ps, &i, "CONCURRENTLY");
	skip_if_exists(ps, &i);
	if (k == K_SCHEMA)
		accept(ps, &i, "AUTHORIZATION"); /* named after its owner */
	add(ps, name_at(ps, &i));
	if (k == K_INDEX || k == K_TRIGGER)
		add_on_table(ps, i);
}

static void on_alter(struct parse *ps, size_t i)
{
	char *old, *new;
	const char *dot;

	if (kind_at(ps, &i) == K_NONE)
		return;
	skip_if_exists(ps, &i);
	accept(ps, &i, "ONLY");
	old = name_at(ps, &i);
	if (!old)
		return;
	add(ps, old);
	if (is_punct(ps, i, '*'))
		i++;
	if (!accept(ps, &i, "RENAME") || !accept(ps, &i, "TO"))
		return;
	new = name_at(ps, &i);
	/* the new name stays in the old one's schema */
	if (new && !strchr(new, '.') && (dot = strrchr(old, '.'))) {
		char *q = xprintf("%.*s.%s", (int)(dot - old), old, new);

		free(new);
		new = q;
	}
	add(ps, new);
}

static void on_drop(struct parse *ps, size_t i)
{
	enum kind k = kind_at(ps, &i);

	if (k == K_NONE)
		return;
	if (k == K_INDEX)
		accept(ps, &i, "CONCURRENTLY");
	skip_if_exists(ps, &i);
	for (;;) {
		char *name = name_at(ps, &i);

		if (!name)
			return;
		add(ps, name);
		if (is_punct(ps, i, '('))
			i = skip_parens(ps, i);
		if (!is_punct(ps, i, ','))
			break;
		i++;
	}
	/* DROP TRIGGER t ON tbl (PostgreSQL) changes tbl too */
	if (k == K_TRIGGER && accept(ps, &i, "ON"))
		add(ps, name_at(ps, &i));
}

static const char *const conflict[] = { "REPLACE", "IGNORE",   "ABORT",
					"FAIL",	   "ROLLBACK", NULL };

static void on_insert(struct parse *ps, size_t i)
{
	if (accept(ps, &i, "OR") && !accept_any(ps, &i, conflict))
		return;
	if (accept(ps, &i, "INTO"))
		add(ps, name_at(ps, &i));
}

static void on_replace(struct parse *ps, size_t i)
{
	if (accept(ps, &i, "INTO"))
		add(ps, name_at(ps, &i));
}

static void on_update(struct parse *ps, size_t i)
{
	if (accept(ps, &i, "OR") && !accept_any(ps, &i, conflict))
		return;
	accept(ps, &i, "ONLY");
	add(ps, name_at(ps, &i));
}

static void on_delete(struct parse *ps, size_t i)
{
	if (!accept(ps, &i, "FROM"))
		return;
	accept(ps, &i, "ONLY");
	add(ps, name_at(ps, &i));
}

static void on_truncate(struct parse *ps, size_t i)
{
	accept(ps, &i, "TABLE");
	for (;;) {
		char *name;

		accept(ps, &i, "ONLY");
		name = name_at(ps, &i);
		if (!name)
			return;
		add(ps, name);
		if (is_punct(ps, i, '*'))
			i++;
		if (!is_punct(ps, i, ','))
			return;
		i++;
	}
}

/*
 * Whether a statement may start at i. UPDATE and TRUNCATE are also
 * trigger events and privileges (AFTER UPDATE ON t, ON UPDATE CASCADE,
 * GRANT UPDATE ON t, FOR UPDATE), so they count only here: first, after
 * ";", inside or after parentheses (WITH x AS (...) UPDATE t), or opening
 * a trigger's body.
 */
static int statement_start(const struct parse *ps, size_t i)
{
	return !i || is_punct(ps, i - 1, ';') || is_punct(ps, i - 1, '(') ||
	       is_punct(ps, i - 1, ')') || is_word(ps, i - 1, "BEGIN") ||
	       is_word(ps, i - 1, "ATOMIC");
}

static const struct {
	const char *kw;
	void (*fn)(struct parse *ps, size_t i);
	int at_start;
} statements[] = {
	{ "CREATE", on_create, 0 },   { "ALTER", on_alter, 0 },
	{ "DROP", on_drop, 0 },	      { "INSERT", on_insert, 0 },
	{ "REPLACE", on_replace, 0 }, { "UPDATE", on_update, 1 },
	{ "DELETE", on_delete, 0 },   { "TRUNCATE", on_truncate, 1 },
};

static void read_statements(struct parse *ps)
{
	for (size_t i = 0; i < ps->nr; i++) {
		/* x.update is a column, not a keyword */
		if (ps->v[i].kind != TOK_WORD ||
		    (i && is_punct(ps, i - 1, '.')))
			continue;
		for (size_t k = 0; k < sizeof(statements) / sizeof(*statements);
		     k++) {
			if (!is_word(ps, i, statements[k].kw))
				continue;
			if (!statements[k].at_start || statement_start(ps, i))
				statements[k].fn(ps, i + 1);
			break;
		}
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ns_sql_objects(char ***out, size_t *nr, const char *sql)
{
	struct toks t = { NULL, 0, 0 };
	struct parse ps = { NULL, 0, NULL, 0, 0 };
	size_t n = 0;

	lex(&t, sql);
	ps.v = t.v;
	ps.nr = t.nr;
	read_statements(&ps);
	free(t.v);

	if (ps.names_nr)
		qsort(ps.names, ps.names_nr, sizeof(*ps.names), cmp_str);
	for (size_t i = 0; i < ps.names_nr; i++) {
		if (n && !strcmp(ps.names[n - 1], ps.names[i]))
			free(ps.names[i]);
		else
			ps.names[n++] = ps.names[i];
	}
	ps.names = xrealloc(ps.names, (n + 1) * sizeof(*ps.names));
	ps.names[n] = NULL;
	*out = ps.names;
	if (nr)
		*nr = n;
	return 0;
}

void ns_sql_objects_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* ---- statements that cannot share the migration's transaction ------ */

static int line_at(const char *sql, const char *at)
{
	int line = 1;

	for (; sql < at; sql++)
		line += *sql == '\n';
	return line;
}

/* the statement at i when it is one of them: its name, else NULL */
static const char *no_tx_kind(const struct parse *ps, size_t i)
{
	size_t j = i + 1;

	if (is_word(ps, i, "VACUUM"))
		return "VACUUM";
	if (is_word(ps, i, "BEGIN") || is_word(ps, i, "COMMIT") ||
	    is_word(ps, i, "ROLLBACK") || is_word(ps, i, "ABORT") ||
	    (is_word(ps, i, "START") && is_word(ps, j, "TRANSACTION")))
		return "transaction control (BEGIN, COMMIT, ROLLBACK)";
	if (is_word(ps, i, "ALTER") && is_word(ps, j, "SYSTEM"))
		return "ALTER SYSTEM";
	if (is_word(ps, i, "CREATE") || is_word(ps, i, "DROP")) {
		int create = is_word(ps, i, "CREATE");
		if (is_word(ps, j, "DATABASE"))
			return create ? "CREATE DATABASE" : "DROP DATABASE";
		if (is_word(ps, j, "TABLESPACE"))
			return create ? "CREATE TABLESPACE" : "DROP TABLESPACE";
		if (create)
			accept(ps, &j, "UNIQUE");
		if (accept(ps, &j, "INDEX") && is_word(ps, j, "CONCURRENTLY"))
			return create ? "CREATE INDEX CONCURRENTLY"
				      : "DROP INDEX CONCURRENTLY";
	}
	if (is_word(ps, i, "REINDEX")) {
		for (; j < ps->nr && !is_punct(ps, j, ';'); j++)
			if (is_word(ps, j, "CONCURRENTLY"))
				return "REINDEX CONCURRENTLY";
			else if (is_word(ps, j, "DATABASE") ||
				 is_word(ps, j, "SYSTEM"))
				return "REINDEX DATABASE/SYSTEM";
	}
	return NULL;
}

int ns_sql_no_transaction(char ***out, size_t *nr, const char *sql)
{
	struct toks t = { NULL, 0, 0 };
	struct parse ps = { NULL, 0, NULL, 0, 0 };
	const char *kind;

	lex(&t, sql);
	ps.v = t.v;
	ps.nr = t.nr;
	for (size_t i = 0; i < ps.nr; i++)
		if ((!i || is_punct(&ps, i - 1, ';')) &&
		    (kind = no_tx_kind(&ps, i)))
			add(&ps,
			    xprintf("%d: %s", line_at(sql, ps.v[i].p), kind));
	free(t.v);
	ps.names = xrealloc(ps.names, (ps.names_nr + 1) * sizeof(*ps.names));
	ps.names[ps.names_nr] = NULL;
	*out = ps.names;
	if (nr)
		*nr = ps.names_nr;
	return 0;
}

int ns_sql_line(const char *start, const char *at)
{
	int line = 1;

	for (const char *p = start; p < at; p++)
		line += *p == '\n';
	return line;
}

const char *ns_sql_skip_blank(const char *p)
{
	for (;;) {
		p += strspn(p, " \t\r\n");
		if (p[0] == '-' && p[1] == '-')
			p += strcspn(p, "\n");
		else if (p[0] == '/' && p[1] == '*' && strstr(p + 2, "*/"))
			p = strstr(p + 2, "*/") + 2;
		else
			return p;
	}
}
