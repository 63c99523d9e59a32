/*
 * lifecycle — the states of an enhancement and the moves between them.
 *
 * One table says which verb may move an enhancement from which state to
 * which; ns_lifecycle_move() checks it, sets the new state and writes the
 * audit event in the caller's registry transaction. A move the table does
 * not allow is refused with NS_EFAILED, naming the current state and the
 * verbs that are allowed from it.
 */
#ifndef NS_LIFECYCLE_H
#define NS_LIFECYCLE_H

#include "config.h"
#include "registry.h"

int ns_lifecycle_move(struct ns_registry *r, long long enh, const char *verb,
		      const char *actor, const char *env, const char *detail);
/* may `verb` be applied now? 0, or NS_EFAILED with the message set */
int ns_lifecycle_check(struct ns_registry *r, long long enh, const char *verb);

/*
 * submit: check the package at src (nothing is stored when it is refused),
 * keep its canonical payload in the store, register ENH-n r1 as submitted
 * and tell QA and change management.
 */
int ns_lifecycle_submit(long long *out, const struct ns_config *c,
			struct ns_registry *r, const char *src,
			const char *actor);
/*
 * schedule: write the trigger file of the enhancement's current revision
 * for env, due at `at` (NULL: now), record it and move the enhancement to
 * scheduled. The trigger's path in *out_path.
 */
int ns_lifecycle_schedule(char **out_path, const struct ns_config *c,
			  struct ns_registry *r, long long enh, const char *env,
			  const char *at, const char *actor);

#endif
