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
	int line;
	ns_ini_handler handler;
	void *data;
	int code;
};

/* inih asks for one line at a time: counting here gives the handler's line */
static char *reader(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	const char *nl;
	size_t n;

	if (st->pos >= st->end)
		return NULL;
	nl = memchr(st->pos, '\n', (size_t)(st->end - st->pos));
	n = nl ? (size_t)(nl - st->pos) + 1 : (size_t)(st->end - st->pos);
	if (n > (size_t)num - 1)
		n = (size_t)num - 1;
	memcpy(str, st->pos, n);
	str[n] = '\0';
	st->pos += n;
	st->line++;
	return str;
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
	struct parse_state st = { name, buf, buf + len, 0, fn, data, 0 };
	int r;

	ini_allow_multiline = false;
	ini_stop_on_first_error = true;
	ini_use_stack = false;
	/* Debian's inih caps a line at ini_initial_alloc unless it may grow */
	ini_allow_realloc = true;
	ini_initial_alloc = 256;
	ini_max_line = 65536;
	r = ini_parse_stream(reader, &st, handler, &st);
	if (r == 0)
		return 0;
	if (st.code)
		return st.code;
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
