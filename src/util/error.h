/*
 * error — the one place a failure's message is kept.
 *
 * The function that sees a failure calls ns_error_set() once with a message
 * that names the file and field at fault, and returns -1 or one of the
 * NS_E* codes; callers pass the code up untouched. Only src/cli turns the
 * code into an exit status and prints ns_error_last().
 */
#ifndef NS_ERROR_H
#define NS_ERROR_H

enum ns_code {
	NS_OK = 0,
	NS_ERROR = -1,	  /* internal or I/O error: exit 5 */
	NS_EINVALID = -3, /* invalid input refused: exit 3 */
	NS_ELOCKED = -4,  /* environment locked or blocked: exit 4 */
	NS_EFAILED = -5,  /* ran, outcome negative: exit 1 */
	NS_EUSAGE = -6,	  /* usage: exit 2 */
	NS_EDRIFT = -7,	  /* target drifted from the base: exit 1 */
};

void ns_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* prefix the current message with "CONTEXT: " (used once, by a caller that
 * knows which file or site the callee was working on) */
void ns_error_prefix(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* every "from" in the current message becomes "to" (a scratch directory
 * becomes the name the user knows) */
void ns_error_replace(const char *from, const char *to);
const char *ns_error_last(void);
void ns_error_clear(void);
/* the exit status a command returns for an ns_code */
int ns_exit_code(int code);

#endif
