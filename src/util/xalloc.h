/*
 * xalloc — allocation that never returns NULL.
 *
 * nightshift cannot do anything sensible once memory is exhausted in the
 * middle of a migration step, and every step is journaled, so the process
 * dies loudly and `recover` finishes or undoes the work.
 */
#ifndef NS_XALLOC_H
#define NS_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh heap string */
char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ALLOC_GROW(arr, nr, alloc)                                             \
	do {                                                                   \
		if ((nr) >= (alloc)) {                                         \
			(alloc) = (alloc) ? (alloc)*2 : 16;                    \
			(arr) = xrealloc((arr), (alloc) * sizeof(*(arr)));     \
		}                                                              \
	} while (0)

#endif
