/*
 * sqlobj — the database objects a deploy SQL script touches, found by
 * reading the script, not by running it.
 *
 * The objects are the names after:
 *   CREATE [OR REPLACE] [TEMP|TEMPORARY] [UNIQUE] KIND [IF NOT EXISTS] NAME
 *     (for INDEX and TRIGGER also the table after ON)
 *   ALTER KIND [IF EXISTS] [ONLY] NAME   (ALTER ... x RENAME TO y: x and y)
 *   DROP KIND [IF EXISTS] NAME[, NAME...]
 *   INSERT [OR {REPLACE|IGNORE|ABORT|FAIL|ROLLBACK}] INTO NAME
 *   REPLACE INTO NAME
 *   UPDATE [OR ...] [ONLY] NAME
 *   DELETE FROM [ONLY] NAME
 *   TRUNCATE [TABLE] [ONLY] NAME[, NAME...]
 * KIND being TABLE, VIEW, MATERIALIZED VIEW, INDEX, TRIGGER, FUNCTION,
 * PROCEDURE, SEQUENCE, TYPE or SCHEMA. Keywords are whole words in any
 * case; UPDATE and TRUNCATE count only where a statement starts (after
 * ";", "(", ")" as in WITH x AS (...) UPDATE, or a trigger's BEGIN), so
 * that ON UPDATE CASCADE, FOR UPDATE and AFTER UPDATE ON name nothing.
 *
 * Names are folded to lower case unless double-quoted; the quotes ("",
 * `` and []) are removed, and a schema-qualified name is kept as
 * "schema.name" (the new name of a RENAME TO takes the old one's schema).
 * Comments (-- to the end of the line, nested slash-star) and string
 * literals ('it''s', E'\'', $$...$$, $tag$...$tag$) are skipped whole, so
 * a keyword inside them is not seen.
 *
 * The result is sorted (strcmp) and free of duplicates; *out is a
 * NULL-terminated array of strings, the caller's, freed with
 * ns_sql_objects_free(). ns_sql_objects() returns 0: SQL it does not
 * understand only yields fewer names.
 */
#ifndef NS_SQLOBJ_H
#define NS_SQLOBJ_H

#include <stddef.h>

int ns_sql_objects(char ***out, size_t *nr, const char *sql);
void ns_sql_objects_free(char **v);

/* the script's line (1-based) that at, a place in start, is on */
int ns_sql_line(const char *start, const char *at);
/* where a statement really begins: past white space and comments */
const char *ns_sql_skip_blank(const char *p);

/*
 * The statements that cannot run inside the one transaction whose COMMIT
 * is a migration's commit point, in script order, each as "LINE: WHAT":
 * CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX ...
 * CONCURRENTLY, REINDEX DATABASE/SYSTEM, VACUUM, CREATE/DROP DATABASE,
 * CREATE/DROP TABLESPACE, ALTER SYSTEM, and transaction control (BEGIN,
 * START TRANSACTION, COMMIT, ROLLBACK, ABORT), which would end the
 * migration's transaction early. Only where a statement starts (first,
 * or after ";"). ALTER TYPE ... ADD VALUE is not among them: PostgreSQL
 * runs it in a transaction since version 12. Freed with
 * ns_sql_objects_free().
 */
int ns_sql_no_transaction(char ***out, size_t *nr, const char *sql);

#endif
