#include "text.h"
#include "error.h"
#include "strbuf.h"

#include <string.h>

/* the length of the UTF-8 sequence at s (avail bytes), or 0 when it is
 * not one (an overlong form, a surrogate, beyond U+10FFFF, cut off) */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned c = s[0], min, n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (unsigned i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

static int control(unsigned char c, enum ns_text_kind kind)
{
	if (c == 0x7f)
		return 1;
	if (c >= 0x20)
		return 0;
	if (kind == NS_TEXT_NAME)
		return 1;
	return !c || !strchr(kind == NS_TEXT_FILE ? "\t\r\n" : "\t\n", c);
}

/* U+0080..U+009F (n bytes at u) are control characters too: a terminal
 * may take U+009B for an escape. A text file may hold them. */
static int c1(const unsigned char *u, size_t n, enum ns_text_kind kind)
{
	return kind != NS_TEXT_FILE && n == 2 && u[0] == 0xc2 && u[1] < 0xa0;
}

const char *ns_text_problem(const char *s, size_t len, enum ns_text_kind kind,
			    size_t *at)
{
	const unsigned char *u = (const unsigned char *)s;
	const char *why = NULL;
	size_t i, n = 1;

	for (i = 0; i < len && !why; i += n) {
		n = 1;
		if (!u[i])
			why = "NUL byte";
		else if (control(u[i], kind))
			why = "control character";
		else if (!(n = utf8_len(u + i, len - i)))
			why = "not valid UTF-8";
		else if (c1(u + i, n, kind))
			why = "control character";
	}
	if (at)
		*at = why ? i - n : len;
	return why;
}

int ns_text_check(const char *name, const char *buf, size_t len)
{
	size_t at;
	const char *why = ns_text_problem(buf, len, NS_TEXT_FILE, &at);
	int line = 1;

	if (!why)
		return 0;
	for (size_t i = 0; i < at; i++)
		line += buf[i] == '\n';
	ns_error_set("%s:%d: %s", name, line, why);
	return NS_EINVALID;
}

char *ns_printable(const char *s)
{
	return ns_printable_as(s, NS_TEXT_NAME);
}

char *ns_printable_as(const char *s, enum ns_text_kind kind)
{
	const unsigned char *u = (const unsigned char *)s;
	struct strbuf sb = STRBUF_INIT;
	size_t len = strlen(s), n;

	for (size_t i = 0; i < len; i += n) {
		n = control(u[i], kind) ? 0 : utf8_len(u + i, len - i);
		if (n && c1(u + i, n, kind)) {
			strbuf_addf(&sb, "\\x%02x\\x%02x", u[i], u[i + 1]);
		} else if (n) {
			strbuf_add(&sb, u + i, n);
		} else {
			strbuf_addf(&sb, "\\x%02x", u[i]);
			n = 1;
		}
	}
	return strbuf_detach(&sb, NULL);
}
