/*
 * prune — archive retention (`archive prune`).
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
 * The caller holds the environment's lock and has refused an environment
 * that is blocked or has a journal (an unfinished run). Each removal is
 * audited as "archive-pruned". With dry_run, the same lines are said and
 * nothing is changed.
 */
#ifndef NS_PRUNE_H
#define NS_PRUNE_H

#include "config.h"
#include "registry.h"

struct ns_prune_ctx {
	const struct ns_config *cfg;
	struct ns_registry *reg;
	const char *actor;
	int dry_run;
	/* one line for the operator; bad: it is about something not done */
	void (*tell)(void *data, int bad, const char *line);
	void *data;
};

/* 0; NS_EFAILED when an archive could not be judged or removed (the
 * others are still pruned); NS_ERROR when the registry fails */
int ns_prune_env(const struct ns_prune_ctx *x, const struct ns_env *e);

#endif
