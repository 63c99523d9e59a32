/*
 * config — nightshift.conf: systems, environments, sites, roles, limits.
 *
 * Loaded whole and checked before any command acts: an unknown section or
 * key, a duplicate, an environment name that is not SYSTEM/model or
 * SYSTEM/production, a site without a root — each refused with
 * "FILE:LINE: ..." and NS_EINVALID. Relative paths in the file are taken
 * relative to the directory that holds it, and stored absolute.
 */
#ifndef NS_CONFIG_H
#define NS_CONFIG_H

#include <stddef.h>

#include "package.h"

struct ns_site {
	char *name;  /* "billing/model" or "billing/production/central" */
	char *label; /* "main" or "central": unique within the environment */
	char *root;
	char *database;	  /* "sqlite:/abs/path", "postgresql://..." or NULL */
	int line;	  /* where the configuration first names it */
	int archive_dump; /* the environment's archive-dump */
	/* the environment's lock-timeout: how long the deploy side waits for
	 * a lock in the database (ms, -1: no limit, 0: the default), and
	 * whether the configuration says so (else the default, unless a
	 * PostgreSQL URI's own lock_timeout says otherwise) */
	long long lock_timeout_ms;
	int lock_timeout_set;
	/* the environment's verify-timeout: how long a verify command may
	 * run (ms, -1: no limit) */
	long long verify_timeout_ms;
};

/* one line of a key an environment may give several times */
struct ns_env_line {
	char *value;
	int line;
};

struct ns_env {
	char *name;	       /* "billing/model" */
	char *system;	       /* "billing" */
	char *kind;	       /* "model" or "production" */
	char *root, *database; /* the single site, when said here */
	char *verify;
	/* window and blackout: all their lines, joined with ", " */
	char *window, *blackout, *warranty;
	struct ns_env_line *windows, *blackouts; /* each line, for window.h */
	size_t windows_nr, blackouts_nr;
	char *timezone; /* an IANA name; NULL: the machine's local zone */
	int timezone_line;
	char *file;	      /* the configuration file, for messages */
	long long warranty_s; /* the warranty in seconds (default 30 days) */
	int archive_dump; /* pg_dump of the touched tables into each archive */
	long long lock_timeout_ms; /* lock-timeout (see ns_site) */
	int lock_timeout_set;
	long long verify_timeout_ms; /* verify-timeout (see ns_site) */
	struct ns_site *sites;
	size_t sites_nr;
	int line;
};

/* lock-timeout when an environment does not say */
#define NS_LOCK_TIMEOUT_DEFAULT_MS 60000LL
/* verify-timeout when an environment does not say: ten minutes */
#define NS_VERIFY_TIMEOUT_DEFAULT_MS 600000LL

struct ns_role {
	char *name;
	char **members;
	size_t members_nr;
};

struct ns_system {
	char *name;
	char **users;
	size_t users_nr;
};

/* [notify]: where notices go besides the outbox (see notify.h) */
struct ns_notify_conf {
	char *smtp;	 /* smtp://HOST[:PORT] or smtps://… or NULL */
	char *webhook;	 /* http(s)://… or NULL */
	char *from;	 /* the From address (default nightshift@HOST) */
	char *domain;	 /* login names become LOGIN@DOMAIN */
	char *smtp_user; /* SMTP AUTH user, or NULL */
	char *smtp_password, *smtp_password_file;
	int smtp_starttls; /* insist on STARTTLS on smtp:// */
	char *webhook_secret, *webhook_secret_file;
	int line_smtp, line_webhook; /* where they are said, for messages */
};

struct ns_config {
	char *path, *dir;
	char *registry, *spool, *archive, *outbox, *store, *journal, *locks;
	int impersonation;
	/* [security] trigger-signing-key, trigger-verify-key: PEM files */
	char *signing_key, *verify_key;
	struct ns_notify_conf notify;
	/* [policy] */
	int require_rfs;	  /* submit needs a registered RFS (default) */
	int require_instructions; /* analysis: instructions always needed */
	int acceptances;	  /* acceptance sign-offs a model run needs */
	/* `archive prune` keeps a run's archive this long after the run
	 * (default 90 days); -1: forever */
	long long archive_keep_s;
	struct ns_limits limits;
	struct ns_system *systems;
	size_t systems_nr;
	struct ns_env *envs;
	size_t envs_nr;
	struct ns_role *roles;
	size_t roles_nr;
};

#define NS_CONFIG_INIT                                                         \
	{                                                                      \
		0                                                              \
	}

int ns_config_load(struct ns_config *out, const char *path);
void ns_config_release(struct ns_config *c);
/* "billing/model", or "model" when the configuration has one system;
 * NULL with the message set when there is no such environment */
const struct ns_env *ns_config_env(const struct ns_config *c, const char *name);
const struct ns_system *ns_config_system(const struct ns_config *c,
					 const char *name);
/* the site of e called name ("billing/production/central" or "central") */
const struct ns_site *ns_env_site(const struct ns_env *e, const char *name);
/* does a [distribution] sites list of nr names take s? (all when empty) */
int ns_site_wanted(const struct ns_site *s, char **names, size_t nr);
/* the members of a role; empty when the role is not configured */
const struct ns_role *ns_config_role(const struct ns_config *c,
				     const char *name);

struct ns_key;
/* the key that signs the triggers nightshift writes ([security]
 * trigger-signing-key); *out NULL when none is set */
int ns_config_signing_key(const struct ns_config *c, struct ns_key **out);
/* the key every trigger a window runs must be signed by: [security]
 * trigger-verify-key, else the public half of trigger-signing-key; *out
 * NULL when neither is set. *what: the setting, for messages. */
int ns_config_verify_key(const struct ns_config *c, struct ns_key **out,
			 const char **what);

/* the roles a [role "NAME"] section may name */
#define NS_ROLES                                                               \
	"developer, qa, change-management, acceptance, dba, operator, "        \
	"technical-support"
int ns_role_known(const char *name);
/* "30d", "12h", "90m", "45s" → seconds; -1 when malformed */
int ns_config_duration(long long *out, const char *v);

/* the text `init` writes for a new nightshift.conf */
extern const char ns_config_template[];

#endif
