/*
 * notify — telling everyone concerned, durably.
 *
 * A notice is written into the outbox directory as one file per message
 * (recipients, subject, body, RFC 5322 style headers), atomically and
 * fsynced, before anything is delivered: the outbox is the queue. The
 * transports that deliver from it (SMTP, webhooks) take a message and
 * report whether a server accepted it; the file leaves the queue only then.
 *
 * Recipients are named by role: "developer" (the enhancement's author),
 * "users" (the system's users), and the configured [role "NAME"] members
 * (qa, change-management, dba, operator, technical-support, …). A role
 * with no members is still written into X-Nightshift-Roles so that a
 * message with nobody to reach is visible, not lost.
 *
 * Delivery (ns_notify_deliver) keeps, next to each OUTBOX/NAME.msg, a
 * sidecar OUTBOX/NAME.state with one line per transport — accepted or
 * pending, the attempts so far, the next attempt's time, the last error —
 * rewritten atomically after every attempt. A message is done when every
 * configured transport has accepted it: it is then moved into
 * OUTBOX/sent/, then its sidecar removed (a sidecar left without its
 * message by a crash between the two is swept by the next delivery). A failed
 * attempt waits ns_notify_backoff(attempts) before the next; a message is never
 * dropped. One delivery runs at a time (a flock on OUTBOX/.deliver.lock). A
 * crash between a server's acceptance and the sidecar's rewrite sends that
 * message once more: delivery is at least once, never at most once.
 *
 * Addresses: a recipient with an '@' is an address; a login name becomes
 * LOGIN@DOMAIN with [notify] domain, and is left out of the mail (said in
 * the error when nobody is left) without one.
 */
#ifndef NS_NOTIFY_H
#define NS_NOTIFY_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "strbuf.h"

struct ns_notice {
	const char *event;  /* "migrated", "rolled-back", ... */
	const char **roles; /* NULL-terminated */
	const char *author, *system;
	const char *enhancement, *environment; /* may be NULL */
	const char *subject;
	const char *body;
	int revision; /* 0 when none */
};

/* write the notice into the outbox; its path in *out_path when not NULL */
int ns_notify(const struct ns_config *c, const struct ns_notice *n,
	      char **out_path);
/* how many notices this process has written (the CLI then delivers) */
unsigned ns_notify_written(void);

/* ---- a message of the outbox ------------------------------------------- */

struct ns_message {
	char *name; /* "20261201T193416-01234-000-migrated" (no .msg) */
	char *to, *subject, *date, *event, *roles;
	char *enhancement, *environment, *revision; /* NULL when absent */
	char *body;
	time_t time;
};

#define NS_MESSAGE_INIT                                                        \
	{                                                                      \
		0                                                              \
	}

/* parse an outbox file's text; what names it in messages (NS_EINVALID) */
int ns_message_parse(struct ns_message *out, const char *name, const char *text,
		     size_t len, const char *what);
void ns_message_release(struct ns_message *m);

/* the addresses of m's recipients (see above); a NULL-terminated list */
char **ns_message_addresses(const struct ns_message *m, const char *domain);
void ns_addresses_free(char **l);

/* the mail as sent: From, To, Subject, Date, Message-ID, MIME headers,
 * the X-Nightshift-* headers, the body; CRLF line ends */
void ns_message_mail(struct strbuf *out, const struct ns_message *m,
		     const char *from, char **to);
/* the webhook's JSON event (compact, keys sorted) */
char *ns_message_json(const struct ns_message *m);

/* ---- transports -------------------------------------------------------- */

struct ns_send {
	const struct ns_config *cfg;
	const char *from;
	long timeout; /* seconds for one attempt */
};

struct ns_transport {
	const char *name; /* "smtp", "webhook" */
	/* 0 when a server accepted m; NS_EFAILED when it refused this
	 * message; NS_ERROR when it could not be reached (the delivery then
	 * leaves the transport alone until its next run) */
	int (*deliver)(const struct ns_send *s, const struct ns_message *m);
};

extern const struct ns_transport ns_transport_smtp, ns_transport_webhook;

/* ---- delivery ---------------------------------------------------------- */

#define NS_TRANSPORTS_MAX 2

struct ns_tstate {
	char name[16];
	int accepted;
	int attempts;
	time_t next; /* the earliest next attempt; 0 now */
	char *error; /* the last failure, or NULL */
};

struct ns_dstate {
	struct ns_tstate t[NS_TRANSPORTS_MAX];
	size_t nr;
};

/* the state of transport name in s, added (pending) when absent */
struct ns_tstate *ns_dstate_get(struct ns_dstate *s, const char *name);
void ns_dstate_format(struct strbuf *out, const struct ns_dstate *s);
int ns_dstate_parse(struct ns_dstate *out, const char *text, const char *what);
void ns_dstate_release(struct ns_dstate *s);

/* seconds to wait after the attempts-th failure: 1 min doubling to 6 h */
long ns_notify_backoff(int attempts);

/* a flag of ns_notify_deliver: the best effort after a command — 5 s
 * timeouts, no new attempt after 10 s, the rest left for `notify deliver` */
#define NS_DELIVER_QUICK 1

struct ns_deliver_report {
	int configured; /* transports configured */
	int sent;	/* messages every transport accepted (moved out) */
	int accepted;	/* single acceptances this run */
	int failed;	/* failed attempts this run */
	int waiting;	/* messages left in the outbox */
	json_t *events; /* [{message, transport, result, error, next}] */
};

#define NS_DELIVER_REPORT_INIT                                                 \
	{                                                                      \
		0, 0, 0, 0, 0, NULL                                            \
	}

/* deliver every message whose attempt is due at now; NS_ELOCKED when
 * another delivery runs. Failed attempts are not errors: they are counted
 * in the report and kept in the sidecars. */
int ns_notify_deliver(const struct ns_config *c, time_t now, unsigned flags,
		      struct ns_deliver_report *out);
/* frees the events and zeroes the counts, for the next run */
void ns_deliver_report_release(struct ns_deliver_report *r);

/* what waits in the outbox and why: [{message, subject, event, to,
 * transports: [{transport, state, attempts, next, error}]}] */
int ns_notify_list(json_t **out, const struct ns_config *c);

#endif
