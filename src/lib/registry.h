/*
 * registry — nightshift's own store: enhancements, revisions, requests for
 * service, sign-offs, what each revision touches, triggers, runs,
 * environment blocks and the audit log. SQLite by default.
 *
 * The schema carries its version in PRAGMA user_version and is upgraded by
 * the program itself, one step per version, each in a transaction; a
 * registry newer than the program is refused rather than misread. The
 * events table is append-only: triggers in the schema refuse UPDATE and
 * DELETE, so the audit trail cannot be edited through nightshift; and it
 * is a hash chain (audit.h), so an edit made with another tool shows.
 *
 * Statements take their parameters through a small format string:
 * 's' text (NULL allowed), 'i' int, 'I' long long. Queries return rows as
 * a jansson array of objects keyed by column name, which is what `status
 * --json` prints and what the text output is made from.
 */
#ifndef NS_REGISTRY_H
#define NS_REGISTRY_H

#include <jansson.h>

struct ns_registry;

struct ns_audit_event;

#define NS_REGISTRY_SCHEMA 3

int ns_registry_open(struct ns_registry **out, const char *path, int create);
void ns_registry_free(struct ns_registry *r);

int ns_registry_begin(struct ns_registry *r);
int ns_registry_commit(struct ns_registry *r);
void ns_registry_rollback(struct ns_registry *r);

int ns_registry_exec(struct ns_registry *r, const char *sql, const char *fmt,
		     ...);
/* the rowid of the last INSERT */
long long ns_registry_last_id(struct ns_registry *r);
int ns_registry_query(struct ns_registry *r, json_t **out, const char *sql,
		      const char *fmt, ...);
/* the first row, or NULL (with 0 returned) when there is none */
int ns_registry_query_row(struct ns_registry *r, json_t **out, const char *sql,
			  const char *fmt, ...);

/*
 * Append to the audit log, chained to the last event (audit.h). Inside
 * the caller's transaction when one is open (ns_registry_begin takes the
 * write lock, so no other writer comes between the read of the last
 * event and the insert); otherwise in a transaction of its own. An
 * enhancement or revision of 0 is recorded as NULL.
 */
int ns_registry_event(struct ns_registry *r, const char *actor, long long enh,
		      int rev, const char *env, const char *event,
		      const char *detail);

/*
 * Calls fn with every event in id order, from one snapshot of the log
 * (a read transaction of its own when none is open). The event's text is
 * borrowed for the call only. A non-zero return from fn ends the walk and
 * is returned.
 */
int ns_registry_walk_events(struct ns_registry *r,
			    int (*fn)(void *data,
				      const struct ns_audit_event *ev),
			    void *data);

/* the text column k of a row (NULL when absent or not text) */
static inline const char *ns_row_str(json_t *row, const char *k)
{
	return json_string_value(json_object_get(row, k));
}

/* "ENH-12" or "12" → 12; 0 when malformed */
long long ns_enh_parse(const char *s);

#endif
