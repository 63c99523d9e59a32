/*
 * strbuf — a growable string whose buffer is never NULL.
 *
 * Initialise with STRBUF_INIT (or strbuf_init), release with
 * strbuf_release; take the buffer over with strbuf_detach. A buffer filled
 * from untrusted input gets a cap (strbuf_set_cap): appends that would pass
 * it fail with -1 and leave the buffer as it was.
 */
#ifndef NS_STRBUF_H
#define NS_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
	size_t cap; /* 0: unlimited */
};

extern char strbuf_empty[];
#define STRBUF_INIT                                                            \
	{                                                                      \
		strbuf_empty, 0, 0, 0                                          \
	}

void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_reset(struct strbuf *sb);
void strbuf_set_cap(struct strbuf *sb, size_t cap);
int strbuf_add(struct strbuf *sb, const void *data, size_t len);
int strbuf_addstr(struct strbuf *sb, const char *s);
int strbuf_addch(struct strbuf *sb, int c);
int strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* read a whole file descriptor; -1 with errno on failure or past the cap */
int strbuf_read_fd(struct strbuf *sb, int fd);

#endif
