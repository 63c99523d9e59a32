/*
 * manifest — enhancement.ini: what an enhancement says about itself.
 *
 * ns_manifest_parse() reads the buffer of an enhancement.ini and refuses
 * anything it does not know: unknown sections or keys, keys given twice
 * (but the repeatable [files] delete and base), malformed values, NUL
 * bytes. Every message names "NAME:LINE" and the key. Target paths named
 * in [files] are checked with ns_path_check().
 *
 *   [enhancement]  title (required), rfs, system, author, requires,
 *                  conflicts                 (lists: commas or spaces),
 *                  transaction               single (default) | none
 *   [schedule]     not-before, model, production
 *   [distribution] sites                     (list)
 *   [instructions] operator, special
 *   [files]        delete = PATH             (repeatable)
 *                  base = PATH SHA256        (repeatable)
 *   [verify]       command
 */
#ifndef NS_MANIFEST_H
#define NS_MANIFEST_H

#include <stddef.h>

#include "hash.h"

struct ns_base {
	char *path;
	char sha256[NS_HEX_LEN + 1];
};

/*
 * transaction = single: the deploy SQL, the verify SQL and the
 * nightshift_changes row commit together (the commit point). none: the
 * deploy statements run one by one, each committed on its own (for SQL
 * that cannot run in a transaction: CREATE INDEX CONCURRENTLY, VACUUM…);
 * only verify SQL and row share the commit point, and the archive holds a
 * pg_dump of the touched tables from which a rollback restores them.
 */
enum ns_txmode { NS_TX_SINGLE, NS_TX_NONE };

struct ns_manifest {
	char *title, *rfs, *system, *author;
	char **requires;
	size_t requires_nr;
	char **conflicts;
	size_t conflicts_nr;
	char *not_before, *sched_model, *sched_production;
	char **sites;
	size_t sites_nr;
	char *instr_operator, *instr_special;
	char **deletes;
	size_t deletes_nr;
	struct ns_base *bases; /* in path order */
	size_t bases_nr;
	char *verify_command;
	enum ns_txmode transaction;
};

#define NS_MANIFEST_INIT                                                       \
	{                                                                      \
		0                                                              \
	}

/* name is how messages call the file, e.g. "pkg/enhancement.ini" */
int ns_manifest_parse(struct ns_manifest *out, const char *name,
		      const char *buf, size_t len, size_t max_path);
void ns_manifest_release(struct ns_manifest *m);
/* the base hash declared for path, or NULL */
const char *ns_manifest_base(const struct ns_manifest *m, const char *path);

/*
 * A relative path below a target root: not empty, not absolute, no empty,
 * "." or ".." component, UTF-8 without control characters (no newline,
 * tab or escape), components of at most 255 bytes, the whole at most
 * max_path bytes. On refusal sets the message
 * "WHAT: REASON" and returns NS_EINVALID.
 */
int ns_path_check(const char *what, const char *path, size_t max_path);

#endif
