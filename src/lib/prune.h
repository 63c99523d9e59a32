/*
 * prune — retention of archives and trigger files (`archive prune`).
 *
 * A run's archive (ARCHIVE/SYSTEM/KIND/TOKEN/SITE: the files it replaced
 * or deleted, its plan, its logs) is what a rollback restores and what a
 * recovery reads; nothing else needs it. ns_prune_env() removes, in one
 * environment, each archive that no rollback or recovery can need and
 * whose runs all finished longer ago than [policy] archive-keep:
 *
 *  - the archive of an enhancement's latest migration is kept for as long
 *    as the lifecycle lets it be backed out of the environment (migrated
 *    or accepted in a model, WP in production): the question `rollback`
 *    asks;
 *  - a run still unfinished (no finish time) keeps its archive;
 *  - nothing outside the environment's archive directory is touched,
 *    whatever the registry says; an archive already gone is passed over.
 *
 * The trigger files of the environment's spool go the same way: a trigger
 * is read by its run only, so its file is kept while a trigger of that
 * name waits or runs, and pruned once its last run (or its making, when it
 * never ran) is older than archive-keep.
 *
 * The caller holds the environment's lock and has refused an environment
 * that is blocked or has a journal (an unfinished run). Each removal is
 * audited as "archive-pruned".
 */
#ifndef NS_PRUNE_H
#define NS_PRUNE_H

#include "runner.h"

/* 0; NS_EFAILED when an archive could not be judged or removed (the
 * others are still pruned); NS_ERROR when the registry fails. What it
 * does is told through r; r->dry_run: told, nothing changed */
int ns_prune_env(struct ns_runner *r, const struct ns_env *e);

#endif
