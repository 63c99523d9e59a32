/*
 * sqitch — enhancements from a Sqitch project: its plan, its scripts.
 *
 * ns_sqitch_plan_parse() reads sqitch.plan with Sqitch's grammar:
 *
 *   %syntax-version=1.0.0          pragmas (%project is required)
 *   %project=flipr
 *   %uri=https://example.com/flipr/
 *   # a comment, and blank lines
 *   [+|-]NAME [DEP ...] TIMESTAMP PLANNER <EMAIL> [# NOTE]
 *   @TAG TIMESTAMP PLANNER <EMAIL> [# NOTE]
 *
 * DEP is [PROJECT:]NAME[@TAG], or @TAG, with a leading ! for a conflict.
 * TIMESTAMP is YYYY-MM-DDTHH:MM:SSZ. A change planned again after a tag is
 * reworked: the older one's scripts are NAME@TAG.sql, TAG being the first
 * tag after it. Refused, with "NAME:LINE: what was expected" (NS_EINVALID):
 * malformed lines and names, a change planned twice without a tag between,
 * a tag given twice or before any change, a dependency on a change of the
 * project that is not planned before it, a plan without %project.
 *
 * ns_sqitch_submit() turns changes into enhancements, in plan order:
 * sql/deploy.sql, sql/revert.sql and sql/verify.sql from the project's
 * deploy/, revert/ and verify/ (the BEGIN/COMMIT, BEGIN/ROLLBACK with which
 * Sqitch scripts wrap themselves are blanked: nightshift's own transaction
 * holds the deploy, the verify and the commit point), title from the note,
 * dependencies as `requires` and conflicts as `conflicts` naming the ENH
 * ids the changes were submitted as. A change is known by its project,
 * name and planned timestamp, recorded as the revision's "source" event:
 * that is how a later call knows which changes are submitted already.
 */
#ifndef NS_SQITCH_H
#define NS_SQITCH_H

#include <stddef.h>

struct ns_config;
struct ns_registry;

struct ns_sqitch_dep {
	char *project; /* NULL: the plan's own */
	char *change;  /* NULL for a bare @TAG */
	char *tag;     /* NULL: the latest before the dependent */
	int conflict;
};

struct ns_sqitch_change {
	char *name;
	char *script; /* NAME, or NAME@TAG for a reworked older one */
	struct ns_sqitch_dep *deps;
	size_t deps_nr;
	char *planned_at, *planner, *email, *note;
	int revert; /* planned with '-' */
	int line;
};

struct ns_sqitch_tag {
	char *name;
	size_t after; /* index of the change it follows */
	int line;
};

struct ns_sqitch_plan {
	char *syntax_version, *project, *uri;
	struct ns_sqitch_change *changes;
	size_t nr;
	struct ns_sqitch_tag *tags;
	size_t tags_nr;
};

#define NS_SQITCH_PLAN_INIT                                                    \
	{                                                                      \
		0                                                              \
	}

/* *out (NS_SQITCH_PLAN_INIT) is the plan, or left empty when refused */
int ns_sqitch_plan_parse(struct ns_sqitch_plan *out, const char *name,
			 const char *buf, size_t len);
void ns_sqitch_plan_release(struct ns_sqitch_plan *p);
/* the change a dependency of change `from` means: NAME is the latest one
 * planned before `from`, NAME@TAG the one planned at TAG; -1 if none */
long ns_sqitch_plan_find(const struct ns_sqitch_plan *p, const char *name,
			 const char *tag, size_t from);

struct ns_sqitch_submit {
	const char *dir;    /* the project (sqitch.conf, sqitch.plan) */
	const char *change; /* NAME or NAME@TAG; NULL: all not submitted */
	const char *rfs, *system; /* for enhancement.ini, may be NULL */
	long long resubmit; /* with change: its new revision of this ENH */
	void (*submitted)(void *data, long long enh, const char *change);
	void *data;
};

/* the number of enhancements submitted in *out_nr; with resubmit, the
 * change must be the one that enhancement was submitted from, and *out_nr
 * is its new revision */
int ns_sqitch_submit(int *out_nr, const struct ns_config *c,
		     struct ns_registry *r, const struct ns_sqitch_submit *s,
		     const char *actor);

#endif
