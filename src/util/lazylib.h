/*
 * lazylib — a shared library loaded when it is first needed.
 *
 * libpq, libcurl and libgit2 bring some fifty libraries with them
 * (Kerberos, LDAP, GnuTLS, SSH, ...). Linked into the program, the dynamic
 * loader maps and relocates all of them before every command, also for
 * the many that never reach a PostgreSQL site, a mail server or a git
 * repository: about 20 ms a command. The modules that use them
 * (target-pg.c, transport.c, gitsrc.c) load them instead with dlopen(3) at
 * their entry points, by the soname the build found (NS_SONAME_*), and call
 * them through pointers of the functions' own types:
 *
 *	#define PG_API(X) X(PQconnectdb) X(PQfinish)
 *	PG_API(NS_LAZY_SLOT)
 *	NS_LAZY_LOADER(pq_load, PG_API, NS_SONAME_PQ, "PostgreSQL sites")
 *	#define PQconnectdb lazy_PQconnectdb   (one per function, after)
 *
 * A library that cannot be loaded is an error naming it and what needs it;
 * it is tried once per process.
 */
#ifndef NS_LAZYLIB_H
#define NS_LAZYLIB_H

#include <stddef.h>

struct ns_lazylib {
	const char *soname;	/* "libpq.so.5" */
	const char *needed_for; /* "PostgreSQL sites", in the message */
	int state;		/* 0 not tried, 1 loaded, -1 failed */
};

#define NS_LAZY_SLOT(f) static __typeof__(f) *lazy_##f;
#define NS_LAZY_NAME(f) #f,
#define NS_LAZY_ADDR(f) (void **)&lazy_##f,
#define NS_LAZY_NR(a)	(sizeof(a) / sizeof((a)[0]))

/* static int NAME(void): API's functions into their slots, from SONAME,
 * once; the message names what needs them (NEEDED_FOR) */
#define NS_LAZY_LOADER(name, api, soname, needed_for)                          \
	static int name(void)                                                  \
	{                                                                      \
		static struct ns_lazylib lib = { soname, needed_for, 0 };      \
		static const char *const names[] = { api(NS_LAZY_NAME) };      \
		void **const slots[] = { api(NS_LAZY_ADDR) };                  \
                                                                               \
		return ns_lazylib_load(&lib, names, slots, NS_LAZY_NR(names)); \
	}

/* 0 once every name is in its slot; NS_ERROR with a message otherwise */
int ns_lazylib_load(struct ns_lazylib *l, const char *const *names,
		    void **const *slots, size_t nr);

#endif
