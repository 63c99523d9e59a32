#include "error.h"
#include "strbuf.h"
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* each thread its own: a worker's failure does not overwrite the caller's
 * message (a worker calls ns_error_clear() before it ends) */
static _Thread_local struct strbuf last = STRBUF_INIT;

/* a message quotes what others wrote (a database's error, a value in a
 * row, a name in an archive, libarchive's text): it reaches a terminal,
 * the log, mail and JSON, so a control character (an escape sequence, a
 * carriage return) or a byte that is not UTF-8 is shown as \xNN */
static void keep_printable(void)
{
	char *shown;

	if (!ns_text_problem(last.buf, last.len, NS_TEXT_MESSAGE, NULL))
		return;
	shown = ns_printable_as(last.buf, NS_TEXT_MESSAGE);
	strbuf_reset(&last);
	strbuf_addstr(&last, shown);
	free(shown);
}

void ns_error_set(const char *fmt, ...)
{
	va_list ap;

	strbuf_reset(&last);
	va_start(ap, fmt);
	strbuf_vaddf(&last, fmt, ap);
	va_end(ap);
	keep_printable();
}

void ns_error_prefix(const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strbuf_addstr(&sb, ": ");
	strbuf_add(&sb, last.buf, last.len);
	strbuf_release(&last);
	last = sb;
	keep_printable();
}

void ns_error_replace(const char *from, const char *to)
{
	struct strbuf sb = STRBUF_INIT;
	const char *m = last.buf, *p;
	size_t n = strlen(from);

	if (!n)
		return;
	while ((p = strstr(m, from))) {
		strbuf_add(&sb, m, (size_t)(p - m));
		strbuf_addstr(&sb, to);
		m = p + n;
	}
	strbuf_addstr(&sb, m);
	strbuf_release(&last);
	last = sb;
	keep_printable();
}

const char *ns_error_last(void)
{
	return last.len ? last.buf : "unknown error";
}

void ns_error_clear(void)
{
	strbuf_release(&last);
}

int ns_exit_code(int code)
{
	switch (code) {
	case NS_OK:
		return 0;
	case NS_EFAILED:
	case NS_EDRIFT:
		return 1;
	case NS_EUSAGE:
		return 2;
	case NS_EINVALID:
		return 3;
	case NS_ELOCKED:
		return 4;
	default:
		return 5;
	}
}
