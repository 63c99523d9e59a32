/*
 * text — names and scripts are UTF-8 text.
 *
 * What a package names and says (paths, enhancement.ini, the SQL scripts)
 * goes into TRIGGER.json, plan.json, the registry, logs and mail, and is
 * shown on a terminal: it must be UTF-8 (JSON holds nothing else) and free
 * of control characters (an escape sequence in a file name must not reach
 * an operator's terminal). A message that quotes such bytes shows them as
 * \xNN (ns_printable).
 */
#ifndef NS_TEXT_H
#define NS_TEXT_H

#include <stddef.h>

/* a control character: C0 (below U+0020), DEL, and C1 (U+0080..U+009F,
 * except in a text file) */
enum ns_text_kind {
	NS_TEXT_NAME,	 /* a name: no control character at all */
	NS_TEXT_FILE,	 /* a text file: tab, CR and LF allowed */
	NS_TEXT_MESSAGE, /* a message: tab and LF (a CR could overwrite
			  * what a terminal showed before it) */
};

/* what is wrong with len bytes at s ("NUL byte", "control character",
 * "not valid UTF-8"), *at set to the offset of the first bad byte; NULL
 * when they are text of that kind */
const char *ns_text_problem(const char *s, size_t len, enum ns_text_kind kind,
			    size_t *at);
/* 0, or NS_EINVALID with the message "NAME:LINE: PROBLEM" for a file */
int ns_text_check(const char *name, const char *buf, size_t len);
/* s for a message: control characters and bytes that are not UTF-8
 * written \xNN; the caller frees it */
char *ns_printable(const char *s);
/* the same, keeping what text of that kind may hold (NS_TEXT_MESSAGE:
 * tab and line feed) */
char *ns_printable_as(const char *s, enum ns_text_kind kind);

#endif
