#include "manifest.h"
#include "error.h"
#include "iniparse.h"
#include "text.h"
#include "xalloc.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum key_kind { SCALAR, LIST, DELETE, BASE, TXMODE };

/* One row per known key: the table is the whole grammar of the file, so a
 * key is either here or refused. off/nr_off locate the field in the struct. */
static const struct key {
	const char *section, *name;
	enum key_kind kind;
	size_t off, nr_off;
} keys[] = {
	{ "enhancement", "title", SCALAR, offsetof(struct ns_manifest, title),
	  0 },
	{ "enhancement", "rfs", SCALAR, offsetof(struct ns_manifest, rfs), 0 },
	{ "enhancement", "system", SCALAR, offsetof(struct ns_manifest, system),
	  0 },
	{ "enhancement", "author", SCALAR, offsetof(struct ns_manifest, author),
	  0 },
	{ "enhancement", "requires", LIST,
	  offsetof(struct ns_manifest, requires),
	  offsetof(struct ns_manifest, requires_nr) },
	{ "enhancement", "conflicts", LIST,
	  offsetof(struct ns_manifest, conflicts),
	  offsetof(struct ns_manifest, conflicts_nr) },
	{ "enhancement", "transaction", TXMODE, 0, 0 },
	{ "schedule", "not-before", SCALAR,
	  offsetof(struct ns_manifest, not_before), 0 },
	{ "schedule", "model", SCALAR,
	  offsetof(struct ns_manifest, sched_model), 0 },
	{ "schedule", "production", SCALAR,
	  offsetof(struct ns_manifest, sched_production), 0 },
	{ "distribution", "sites", LIST, offsetof(struct ns_manifest, sites),
	  offsetof(struct ns_manifest, sites_nr) },
	{ "instructions", "operator", SCALAR,
	  offsetof(struct ns_manifest, instr_operator), 0 },
	{ "instructions", "special", SCALAR,
	  offsetof(struct ns_manifest, instr_special), 0 },
	{ "files", "delete", DELETE, 0, 0 },
	{ "files", "base", BASE, 0, 0 },
	{ "verify", "command", SCALAR,
	  offsetof(struct ns_manifest, verify_command), 0 },
};

#define KEYS_NR (sizeof(keys) / sizeof(keys[0]))

struct parse_state {
	struct ns_manifest *m;
	const char *name;
	size_t max_path;
	unsigned char seen[KEYS_NR];
	int *delete_lines, *base_lines; /* parallel to m->deletes, m->bases */
	size_t delete_alloc, base_alloc;
};

static int known_section(const char *section)
{
	for (size_t i = 0; i < KEYS_NR; i++)
		if (!strcmp(keys[i].section, section))
			return 1;
	return 0;
}

static const struct key *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < KEYS_NR; i++)
		if (!strcmp(keys[i].section, section) &&
		    !strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

static void list_add(char ***list, size_t *nr, const char *value)
{
	const char *p = value, *sep = ", \t\r\n\f\v";
	size_t n;

	while (*p) {
		p += strspn(p, sep);
		n = strcspn(p, sep);
		if (!n)
			break;
		*list = xrealloc(*list, (*nr + 1) * sizeof(**list));
		(*list)[(*nr)++] = xstrndup(p, n);
		p += n;
	}
}

static int add_delete(struct parse_state *st, const char *value, int line)
{
	struct ns_manifest *m = st->m;
	char *what = xprintf("%s:%d: [files] delete", st->name, line);
	int r = ns_path_check(what, value, st->max_path);

	free(what);
	if (r)
		return r;
	ALLOC_GROW(st->delete_lines, m->deletes_nr, st->delete_alloc);
	m->deletes = xrealloc(m->deletes, st->delete_alloc * sizeof(char *));
	m->deletes[m->deletes_nr] = xstrdup(value);
	st->delete_lines[m->deletes_nr++] = line;
	return 0;
}

/* "PATH SHA256": the hash is the last word, so a path may hold spaces */
static int add_base(struct parse_state *st, const char *value, int line)
{
	struct ns_manifest *m = st->m;
	const char *sp = strrchr(value, ' '), *tab = strrchr(value, '\t');
	char *what, *path;
	size_t plen;
	int r;

	if (!sp || (tab && tab > sp))
		sp = tab;
	if (!sp || !ns_sha256_valid(sp + 1)) {
		ns_error_set("%s:%d: [files] base: expected PATH SHA256",
			     st->name, line);
		return NS_EINVALID;
	}
	plen = (size_t)(sp - value);
	while (plen && (value[plen - 1] == ' ' || value[plen - 1] == '\t'))
		plen--;
	path = xstrndup(value, plen);
	what = xprintf("%s:%d: [files] base", st->name, line);
	r = ns_path_check(what, path, st->max_path);
	free(what);
	if (r) {
		free(path);
		return r;
	}
	ALLOC_GROW(st->base_lines, m->bases_nr, st->base_alloc);
	m->bases = xrealloc(m->bases, st->base_alloc * sizeof(*m->bases));
	m->bases[m->bases_nr].path = path;
	memcpy(m->bases[m->bases_nr].sha256, sp + 1, NS_HEX_LEN + 1);
	st->base_lines[m->bases_nr++] = line;
	return 0;
}

static int set_transaction(struct parse_state *st, const char *value, int line)
{
	if (!strcmp(value, "single")) {
		st->m->transaction = NS_TX_SINGLE;
		return 0;
	}
	if (!strcmp(value, "none")) {
		st->m->transaction = NS_TX_NONE;
		return 0;
	}
	ns_error_set("%s:%d: [enhancement] transaction: expected single or "
		     "none, not '%s'",
		     st->name, line, value);
	return NS_EINVALID;
}

static int store_key(struct parse_state *st, const struct key *k,
		     const char *value)
{
	char *base = (char *)st->m;

	if (k->kind == SCALAR) {
		/* an empty value says nothing: readers test for NULL only */
		if (*value)
			*(char **)(base + k->off) = xstrdup(value);
		return 0;
	}
	list_add((char ***)(base + k->off), (size_t *)(base + k->nr_off),
		 value);
	return 0;
}

static int on_key(void *data, const char *section, const char *name,
		  const char *value, int line)
{
	struct parse_state *st = data;
	const struct key *k;

	if (!name) { /* a section header */
		if (known_section(section))
			return 0;
		ns_error_set("%s:%d: unknown section [%s]", st->name, line,
			     section);
		return NS_EINVALID;
	}
	if (!*section) {
		ns_error_set("%s:%d: unknown key '%s' outside any section",
			     st->name, line, name);
		return NS_EINVALID;
	}
	if (!known_section(section)) {
		ns_error_set("%s:%d: unknown section [%s]", st->name, line,
			     section);
		return NS_EINVALID;
	}
	k = find_key(section, name);
	if (!k) {
		ns_error_set("%s:%d: unknown key '%s' in [%s]", st->name, line,
			     name, section);
		return NS_EINVALID;
	}
	if (k->kind == DELETE)
		return add_delete(st, value, line);
	if (k->kind == BASE)
		return add_base(st, value, line);
	/* the file is text, but a value is shown on its own (status, log,
	 * mail): a carriage return or a C1 control in it would reach a
	 * terminal; a tab may stay */
	if (ns_text_problem(value, strlen(value), NS_TEXT_MESSAGE, NULL)) {
		ns_error_set("%s:%d: [%s] %s: control character in the value",
			     st->name, line, section, name);
		return NS_EINVALID;
	}
	if (st->seen[k - keys]++) {
		ns_error_set("%s:%d: duplicate key '%s' in [%s]", st->name,
			     line, name, section);
		return NS_EINVALID;
	}
	if (k->kind == TXMODE)
		return set_transaction(st, value, line);
	return store_key(st, k, value);
}

/* the name inside a "[...]" header line, or NULL for any other line */
static char *header_name(const char *p, const char *eol)
{
	const char *close;

	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	if (p == eol || *p != '[')
		return NULL;
	close = memchr(p, ']', (size_t)(eol - p));
	if (!close)
		return NULL; /* inih reports the syntax error */
	return xstrndup(p + 1, (size_t)(close - p - 1));
}

/* far above any real key = value, and a bound on what inih must hold */
#define LINE_MAX_BYTES 4096

/*
 * inih calls the handler for keys only, so a section that holds no key
 * would pass unnoticed: look at every "[...]" header ourselves. A line
 * too long for inih's buffer would be split, its tail read as a line of
 * its own: refuse it here, by its number.
 */
static int check_lines(const char *name, const char *buf, size_t len)
{
	const char *p, *eol, *end = buf + len;
	char *sec;
	int line = 1, error = 0;

	for (p = buf; !error && p < end; p = eol + 1, line++) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if (eol - p > LINE_MAX_BYTES) {
			ns_error_set("%s:%d: line longer than %d bytes", name,
				     line, LINE_MAX_BYTES);
			return NS_EINVALID;
		}
		sec = header_name(p, eol);
		if (sec && !known_section(sec)) {
			ns_error_set("%s:%d: unknown section [%s]", name, line,
				     sec);
			error = NS_EINVALID;
		}
		free(sec);
	}
	return error;
}

struct path_line {
	const char *path;
	int line;
};

static int cmp_path_line(const void *a, const void *b)
{
	const struct path_line *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

/* sorting keeps a hostile file of 50,000 deletes from costing n² */
static int check_unique(const char *name, const char *what,
			struct path_line *pl, size_t nr)
{
	qsort(pl, nr, sizeof(*pl), cmp_path_line);
	for (size_t i = 1; i < nr; i++) {
		if (strcmp(pl[i - 1].path, pl[i].path))
			continue;
		ns_error_set("%s:%d: [files] %s: duplicate path '%s' (first "
			     "at line %d)",
			     name, pl[i].line, what, pl[i].path,
			     pl[i - 1].line);
		return NS_EINVALID;
	}
	return 0;
}

static int check_lists(struct parse_state *st)
{
	struct ns_manifest *m = st->m;
	size_t n = m->deletes_nr > m->bases_nr ? m->deletes_nr : m->bases_nr;
	struct path_line *pl = xcalloc(n, sizeof(*pl));
	int r;

	for (size_t i = 0; i < m->deletes_nr; i++) {
		pl[i].path = m->deletes[i];
		pl[i].line = st->delete_lines[i];
	}
	r = check_unique(st->name, "delete", pl, m->deletes_nr);
	for (size_t i = 0; !r && i < m->bases_nr; i++) {
		pl[i].path = m->bases[i].path;
		pl[i].line = st->base_lines[i];
	}
	if (!r)
		r = check_unique(st->name, "base", pl, m->bases_nr);
	free(pl);
	return r;
}

static int cmp_base(const void *a, const void *b)
{
	return strcmp(((const struct ns_base *)a)->path,
		      ((const struct ns_base *)b)->path);
}

int ns_manifest_parse(struct ns_manifest *out, const char *name,
		      const char *buf, size_t len, size_t max_path)
{
	struct parse_state st = { .m = out,
				  .name = name,
				  .max_path = max_path };
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = ns_text_check(name, buf, len)) ||
	    (error = check_lines(name, buf, len)) ||
	    (error = ns_ini_parse(name, buf, len, on_key, &st)) ||
	    (error = check_lists(&st)))
		goto done;
	if (!out->title) {
		ns_error_set("%s: missing 'title' in [enhancement]", name);
		error = NS_EINVALID;
		goto done;
	}
	/* looked up once per file of a run: n log n, not n² */
	if (out->bases_nr)
		qsort(out->bases, out->bases_nr, sizeof(*out->bases), cmp_base);
done:
	free(st.delete_lines);
	free(st.base_lines);
	if (error)
		ns_manifest_release(out);
	return error;
}

static void free_list(char **list, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(list[i]);
	free(list);
}

void ns_manifest_release(struct ns_manifest *m)
{
	free(m->title);
	free(m->rfs);
	free(m->system);
	free(m->author);
	free_list(m->requires, m->requires_nr);
	free_list(m->conflicts, m->conflicts_nr);
	free(m->not_before);
	free(m->sched_model);
	free(m->sched_production);
	free_list(m->sites, m->sites_nr);
	free(m->instr_operator);
	free(m->instr_special);
	free_list(m->deletes, m->deletes_nr);
	for (size_t i = 0; i < m->bases_nr; i++)
		free(m->bases[i].path);
	free(m->bases);
	free(m->verify_command);
	memset(m, 0, sizeof(*m));
}

const char *ns_manifest_base(const struct ns_manifest *m, const char *path)
{
	struct ns_base key = { (char *)path, "" };
	const struct ns_base *b = m->bases_nr
					  ? bsearch(&key, m->bases, m->bases_nr,
						    sizeof(*m->bases), cmp_base)
					  : NULL;

	return b ? b->sha256 : NULL;
}

static const char *component_problem(const char *c, size_t n)
{
	if (n == 2 && c[0] == '.' && c[1] == '.')
		return "'..' component";
	if (n == 0 || (n == 1 && c[0] == '.'))
		return "empty or '.' component";
	if (n > 255)
		return "name too long";
	return NULL;
}

int ns_path_check(const char *what, const char *path, size_t max_path)
{
	const char *p = path, *reason = NULL;
	char *printable;
	size_t n;

	if (!*path)
		reason = "empty path";
	else if (*path == '/')
		reason = "absolute path";
	else
		reason =
			ns_text_problem(path, strlen(path), NS_TEXT_NAME, NULL);
	for (; !reason; p += n + 1) {
		n = strcspn(p, "/");
		reason = component_problem(p, n);
		if (!p[n])
			break;
	}
	if (!reason && strlen(path) > max_path)
		reason = "path too long";
	if (!reason)
		return 0;
	/* what names the path: its odd bytes are shown, not sent to the
	 * terminal or the mail */
	printable = ns_printable(what);
	ns_error_set("%s: %s", printable, reason);
	free(printable);
	return NS_EINVALID;
}
