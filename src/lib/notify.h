/*
 * notify — telling everyone concerned, durably.
 *
 * A notice is written into the outbox directory as one file per message
 * (recipients, subject, body, RFC 5322 style headers), atomically and
 * fsynced, before anything is delivered: the outbox is the queue. The
 * transports that deliver from it (SMTP, webhooks) take a file and report
 * whether a server accepted it; the file leaves the queue only then.
 *
 * Recipients are named by role: "developer" (the enhancement's author),
 * "users" (the system's users), and the configured [role "NAME"] members
 * (qa, change-management, dba, operator, technical-support, …). A role
 * with no members is still written into X-Nightshift-Roles so that a
 * message with nobody to reach is visible, not lost.
 */
#ifndef NS_NOTIFY_H
#define NS_NOTIFY_H

#include "config.h"

struct ns_notice {
	const char *event;  /* "migrated", "rolled-back", ... */
	const char **roles; /* NULL-terminated */
	const char *author, *system;
	const char *enhancement, *environment; /* may be NULL */
	const char *subject;
	const char *body;
};

/* write the notice into the outbox; its path in *out_path when not NULL */
int ns_notify(const struct ns_config *c, const struct ns_notice *n,
	      char **out_path);

struct ns_transport {
	const char *scheme;
	/* 0 when a server accepted the message at path */
	int (*deliver)(const struct ns_transport *t, const char *path);
};

#endif
