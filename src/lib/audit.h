/*
 * audit — the hash chain that makes the audit log tamper-evident.
 *
 * Every event in the registry carries prev_sha256, the sha256 of the event
 * before it (64 zeros for the first), and its own sha256: the SHA-256 of
 * the record below. Editing an event changes its hash; inserting or
 * deleting one breaks the link of the event after it, or leaves a gap in
 * the ids. The registry's triggers already refuse UPDATE and DELETE; the
 * chain is for someone who edits the file with another tool.
 *
 * The record of an event (all integers big-endian):
 *
 *	"nightshift-audit-v1" NUL               domain and format version
 *	value(prev_sha256)
 *	value(id) value(at) value(actor) value(enhancement) value(revision)
 *	value(environment) value(event) value(detail)
 *
 *	value = 'N'                             SQL NULL
 *	      | 'I' int64                       integer
 *	      | 'R' IEEE-754 binary64           real
 *	      | 'T' uint64 length, bytes        text, as stored
 *	      | 'B' uint64 length, bytes        blob
 *
 * Each value says where it ends, and there are always nine, so no two
 * different events have the same record: NULL is not "", and no field
 * value can pass for a field boundary. The value is the one the database
 * holds, with its type, so a number rewritten as text is an edit too.
 *
 * What a chain cannot show: a hash is no signature, so whoever can write
 * the file can append well-formed events after the last one, or cut the
 * newest ones off. Recording the head hash elsewhere (as `audit verify`
 * prints it) and comparing later catches both.
 */
#ifndef NS_AUDIT_H
#define NS_AUDIT_H

#include "hash.h"

struct ns_registry;

enum ns_audit_type {
	NS_AUDIT_NULL,
	NS_AUDIT_INT,
	NS_AUDIT_REAL,
	NS_AUDIT_TEXT,
	NS_AUDIT_BLOB,
};

/* a field's value; text and blob bytes are borrowed */
struct ns_audit_value {
	enum ns_audit_type type;
	long long i;
	double r;
	const char *s;
	size_t len;
};

enum ns_audit_field {
	NS_AUDIT_ID,
	NS_AUDIT_AT,
	NS_AUDIT_ACTOR,
	NS_AUDIT_ENHANCEMENT,
	NS_AUDIT_REVISION,
	NS_AUDIT_ENVIRONMENT,
	NS_AUDIT_EVENT,
	NS_AUDIT_DETAIL,
	NS_AUDIT_FIELDS
};

/* one event as stored: its fields in record order, and the two hashes */
struct ns_audit_event {
	struct ns_audit_value f[NS_AUDIT_FIELDS];
	struct ns_audit_value prev_sha256;
	struct ns_audit_value sha256;
};

/* what the first event chains from */
extern const char ns_audit_genesis[NS_HEX_LEN + 1];

/* text (NULL for SQL NULL) and integer values */
struct ns_audit_value ns_audit_text(const char *s);
struct ns_audit_value ns_audit_int(long long i);

/* the sha256 of ev's record, from its fields and its prev_sha256 (its own
 * sha256 is not read) */
void ns_audit_event_sha256(char out[NS_HEX_LEN + 1],
			   const struct ns_audit_event *ev);

enum ns_audit_fault {
	NS_AUDIT_INTACT,
	NS_AUDIT_EDITED,    /* content does not match its sha256 */
	NS_AUDIT_BROKEN,    /* prev_sha256 is not the previous event's */
	NS_AUDIT_GAP,	    /* ids skip: events were deleted */
	NS_AUDIT_MALFORMED, /* a hash column is missing or not a SHA-256 */
};

struct ns_audit_report {
	long long events; /* events that checked out */
	/* the last good event's sha256 (the genesis when there is none) */
	char head[NS_HEX_LEN + 1];
	enum ns_audit_fault fault;
	long long bad_id; /* the first bad event, when fault is set */
};

/* "intact", "edited", "chain-broken", "gap", "malformed" */
const char *ns_audit_fault_name(enum ns_audit_fault fault);

/*
 * Walks every event in id order and checks the chain. 0 with the report
 * when the chain is intact; NS_EFAILED when it is not, with the report
 * naming the first bad event and ns_error_last() saying what is wrong with
 * it; another code when the registry cannot be read.
 */
int ns_audit_verify(struct ns_audit_report *out, struct ns_registry *r);

#endif
