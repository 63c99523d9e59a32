#include "iniparse.h"
#include "error.h"
#include "xalloc.h"

#include <ini.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct parse_state {
	const char *name;
	const char *pos, *end;
	const char *rest, *rest_end; /* a key on its section's line */
	int line;
	ns_ini_handler handler;
	void *data;
	int code;
};

/* inih tells nothing of a section until its first key (Debian builds it
 * without INI_CALL_HANDLER_ON_NEW_SECTION): the reader tells the handler
 * itself, key NULL, so that a bad or empty section is named at its line */
static int section_event(struct parse_state *st, const char *line, size_t n)
{
	const char *p = line, *end = line + n, *close;
	char *name;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p != '[' ||
	    !(close = memchr(p, ']', (size_t)(end - p))))
		return 0;
	name = xstrndup(p + 1, (size_t)(close - p - 1));
	st->code = st->handler(st->data, name, NULL, NULL, st->line);
	free(name);
	return st->code;
}

static char *give(char *str, int num, const char *from, size_t n)
{
	if (n > (size_t)num - 1)
		n = (size_t)num - 1;
	memcpy(str, from, n);
	str[n] = '\0';
	return str;
}

/* "[role "qa"]   members = bob": git reads the key; inih would drop it,
 * so the key is handed over as a line of its own (same line number) */
static size_t split_section(struct parse_state *st, const char *line, size_t n)
{
	const char *p = line, *end = line + n, *close, *rest;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p != '[' ||
	    !(close = memchr(p, ']', (size_t)(end - p))))
		return n;
	rest = close + 1;
	while (rest < end && strchr(" \t\r\n", *rest))
		rest++;
	if (rest == end || *rest == ';' || *rest == '#')
		return n;
	st->rest = rest;
	st->rest_end = end;
	return (size_t)(close + 1 - line);
}

/* inih asks for one line at a time: counting here gives the handler's line */
static char *reader(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	const char *nl, *line;
	size_t n;

	if (st->rest) {
		line = st->rest;
		n = (size_t)(st->rest_end - st->rest);
		st->rest = NULL;
		return give(str, num, line, n);
	}
	if (st->pos >= st->end)
		return NULL;
	nl = memchr(st->pos, '\n', (size_t)(st->end - st->pos));
	n = nl ? (size_t)(nl - st->pos) + 1 : (size_t)(st->end - st->pos);
	line = st->pos;
	st->pos += n;
	st->line++;
	if (section_event(st, line, n) < 0)
		return NULL; /* stops inih; ns_ini_parse returns st->code */
	return give(str, num, line, split_section(st, line, n));
}

static int handler(void *user, const char *section, const char *key,
		   const char *value)
{
	struct parse_state *st = user;

	st->code = st->handler(st->data, section, key, value, st->line);
	return st->code == 0;
}

int ns_ini_parse(const char *name, const char *buf, size_t len,
		 ns_ini_handler fn, void *data)
{
	struct parse_state st = { name, buf, buf + len, NULL, NULL,
				  0,	fn,  data,	0 };
	int r;

	ini_allow_multiline = false;
	ini_stop_on_first_error = true;
	ini_use_stack = false;
	/* Debian's inih reads a line into ini_initial_alloc bytes; growing
	 * would ask this line-counting reader for a line's tail, so the one
	 * buffer is made large instead */
	ini_allow_realloc = false;
	ini_initial_alloc = 65536;
	ini_max_line = 65536;
	r = ini_parse_stream(reader, &st, handler, &st);
	if (st.code)
		return st.code;
	if (r == 0)
		return 0;
	if (r < 0) {
		ns_error_set("%s: cannot parse (out of memory)", name);
		return NS_ERROR;
	}
	ns_error_set("%s:%d: syntax error (expected '[section]' or "
		     "'key = value')",
		     name, r);
	return NS_EINVALID;
}

int ns_ini_section_split(char **kind, char **name, const char *section)
{
	const char *sp = strchr(section, ' ');
	const char *q, *e;

	*kind = NULL;
	*name = NULL;
	if (!sp) {
		if (!*section || strchr(section, '"'))
			return -1;
		*kind = xstrdup(section);
		return 0;
	}
	q = sp;
	while (*q == ' ')
		q++;
	e = section + strlen(section);
	if (*q != '"' || e - q < 3 || e[-1] != '"' ||
	    memchr(q + 1, '"', (size_t)(e - q - 2)))
		return -1;
	*kind = xstrndup(section, (size_t)(sp - section));
	*name = xstrndup(q + 1, (size_t)(e - q - 2));
	return 0;
}
