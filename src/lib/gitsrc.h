/*
 * gitsrc — an enhancement built from a git commit range, and the tag that
 * marks where it went.
 *
 * ns_gitsrc_build() writes, into an empty directory, the enhancement that
 * the range FROM..TO of a repository describes: every file added or
 * modified under PREFIX (PREFIX/ stripped) becomes files/PATH with its
 * executable bit; every deleted one a `[files] delete`; every modified or
 * deleted one a `[files] base` with its SHA-256 in FROM's tree, so that the
 * drift check proves the target still holds what the developer started
 * from. enhancement.ini and sql/ come from the directory `.nightshift/` at
 * the root of TO's tree, which is never part of the payload. A symbolic
 * link or a submodule anywhere in the range is refused (NS_EINVALID, the
 * path named) as in a hostile package. The directory is then only a
 * package like any other: the caller gives it to the ordinary submission,
 * which checks it whole.
 *
 * The origin is a JSON object {"git": GITDIR, "from": SHA, "to": SHA,
 * "path": PREFIX}, kept by the registry as the revision's "source" event.
 *
 * ns_gitsrc_tag() makes the annotated tag NAME on the commit TO of the
 * origin's repository. It never moves an existing tag.
 */
#ifndef NS_GITSRC_H
#define NS_GITSRC_H

#include "runner.h"

int ns_gitsrc_build(char **out_origin, const char *repo, const char *from,
		    const char *to, const char *prefix, const char *dir);

/*
 * build the range into a scratch directory of the store and hand it to
 * ns_lifecycle_submit_from (enh 0: a new enhancement, its id in *out_enh)
 * or ns_lifecycle_resubmit_from (enh: its new revision in *out_rev).
 * Messages about the built package name it "REPO@TO".
 */
struct ns_config;
struct ns_registry;
int ns_gitsrc_submit(long long *out_enh, int *out_rev,
		     const struct ns_config *c, struct ns_registry *r,
		     long long enh, const char *repo, const char *from,
		     const char *to, const char *prefix, const char *actor);

int ns_gitsrc_tag(const char *origin, const char *name, const char *message,
		  const char *tagger);

/*
 * After a migrated run of enh rev in env: when that revision came from git,
 * tag its TO commit "nightshift/ENH-n-rK/ENV". A failure does not undo
 * anything: it is said through r->warn and recorded as a "tag-failed"
 * audit event; success through r->say and a "tagged" event.
 */
void ns_gitsrc_after_migration(struct ns_runner *r, long long enh, int rev,
			       const char *env, long long run);

#endif
