#include "config.h"
#include "error.h"
#include "iniparse.h"
#include "sign.h"
#include "strbuf.h"
#include "text.h"
#include "window.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ns_role_known(const char *name)
{
	static const char *const known[] = {
		"developer", "qa",	 "change-management", "acceptance",
		"dba",	     "operator", "technical-support"
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
		if (!strcmp(known[i], name))
			return 1;
	return 0;
}

const char ns_config_template[] =
	"; nightshift.conf — see nightshift.conf(5) and nightshift(1)\n"
	"[registry]\n"
	"    path = nightshift.db\n"
	"[paths]\n"
	"    spool = spool\n"
	"    archive = archive\n"
	"    store = store\n"
	"    journal = journal\n"
	"[security]\n"
	"    impersonation = false\n"
	";    trigger-signing-key = sign.pem  ; sign every trigger (Ed25519 "
	"PEM, mode 0600)\n"
	";    trigger-verify-key = verify.pub ; run only triggers it signed\n"
	"[notify]\n"
	"    outbox = outbox\n"
	";[system \"billing\"]\n"
	";    users = users@example.com\n"
	";[environment \"billing/model\"]\n"
	";    root = /srv/billing-model\n"
	";    database = sqlite:/srv/billing-model/app.db\n"
	";    verify = bin/smoke-test\n"
	";    warranty = 30d\n"
	";    lock-timeout = 60s          ; a deploy waits no longer for a "
	"table\n"
	";    verify-timeout = 10m        ; a verify command that runs longer "
	"is stopped\n"
	";[policy]\n"
	";    require-rfs = true          ; submit names a registered RFS\n"
	";    acceptances = 1             ; acceptance sign-offs a model run "
	"needs\n"
	";    require-instructions = false\n"
	";    archive-keep = 90d          ; `archive prune` removes what no "
	"rollback needs, once older\n"
	"; the roles (login names); nobody outside a role acts in it\n"
	";[role \"developer\"]\n"
	";    members = alice\n"
	";[role \"qa\"]\n"
	";    members = bob, carol\n"
	";[role \"change-management\"]\n"
	";    members = dave\n"
	";[role \"acceptance\"]\n"
	";    members = erin\n"
	";[role \"operator\"]\n"
	";    members = frank\n"
	";[role \"dba\"]\n"
	";    members = grace\n"
	";[role \"technical-support\"]\n"
	";    members = heidi\n";

struct load_state {
	struct ns_config *c;
	const char *file;
	struct strbuf seen; /* "section\nkey\n" pairs already given */
};

static char *abspath(const struct ns_config *c, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	return xprintf("%s/%s", c->dir, p);
}

static char *database_url(const struct ns_config *c, const char *v)
{
	if (!strncmp(v, "sqlite:", 7) && v[7] != '/')
		return xprintf("sqlite:%s/%s", c->dir, v + 7);
	return xstrdup(v);
}

static void split_list(char ***out, size_t *nr, const char *v)
{
	size_t alloc = *nr;

	while (*v) {
		size_t n = strcspn(v, ", \t");
		if (n) {
			ALLOC_GROW(*out, *nr, alloc);
			(*out)[(*nr)++] = xstrndup(v, n);
		}
		v += n;
		v += strspn(v, ", \t");
	}
}

static int parse_size(unsigned long long *out, const char *v)
{
	char *end;
	unsigned long long n;
	int shift = 0;

	if (*v < '0' || *v > '9') /* strtoull would take "-1" */
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v)
		return -1;
	switch (*end) {
	case 'K':
		shift = 10;
		end++;
		break;
	case 'M':
		shift = 20;
		end++;
		break;
	case 'G':
		shift = 30;
		end++;
		break;
	default:
		break;
	}
	if (*end || n > (~0ULL >> shift))
		return -1;
	*out = n << shift;
	return 0;
}

static struct ns_env *env_get(struct ns_config *c, const char *name, int line)
{
	for (size_t i = 0; i < c->envs_nr; i++)
		if (!strcmp(c->envs[i].name, name))
			return &c->envs[i];
	c->envs = xrealloc(c->envs, (c->envs_nr + 1) * sizeof(*c->envs));
	memset(&c->envs[c->envs_nr], 0, sizeof(*c->envs));
	c->envs[c->envs_nr].name = xstrdup(name);
	c->envs[c->envs_nr].line = line;
	c->envs[c->envs_nr].warranty_s = 30LL * 86400;
	c->envs[c->envs_nr].lock_timeout_ms = NS_LOCK_TIMEOUT_DEFAULT_MS;
	c->envs[c->envs_nr].verify_timeout_ms = NS_VERIFY_TIMEOUT_DEFAULT_MS;
	return &c->envs[c->envs_nr++];
}

static int bad(struct load_state *st, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct load_state *st, int line, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	strbuf_addf(&sb, "%s:%d: ", st->file, line);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	ns_error_set("%s", sb.buf);
	strbuf_release(&sb);
	return NS_EINVALID;
}

static int set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = xstrdup(v);
	return 0;
}

static struct ns_system *add_system(struct ns_config *c, const char *name)
{
	struct ns_system *s;

	c->systems = xrealloc(c->systems, (c->systems_nr + 1) * sizeof(*s));
	s = &c->systems[c->systems_nr++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	return s;
}

/* a window or blackout line: checked now, so that a window run never meets
 * a bad one; an environment may have several of each */
static int env_line(struct load_state *st, struct ns_env *e, const char *key,
		    const char *v, int line)
{
	int is_window = !strcmp(key, "window");
	char *what = xprintf("%s:%d: [environment \"%s\"] %s", st->file, line,
			     e->name, key);
	int r = is_window ? ns_window_check(v, what)
			  : ns_blackout_check(v, what);
	char **joined = is_window ? &e->window : &e->blackout;
	struct ns_env_line **lines = is_window ? &e->windows : &e->blackouts;
	size_t *nr = is_window ? &e->windows_nr : &e->blackouts_nr;

	free(what);
	if (r < 0)
		return r;
	if (*joined) {
		char *both = xprintf("%s, %s", *joined, v);

		free(*joined);
		*joined = both;
	} else {
		*joined = xstrdup(v);
	}
	*lines = xrealloc(*lines, (*nr + 1) * sizeof(**lines));
	(*lines)[*nr].value = xstrdup(v);
	(*lines)[(*nr)++].line = line;
	return 0;
}

static int bool_value(struct load_state *st, int *out, const char *section,
		      const char *key, const char *v, int line)
{
	if (strcmp(v, "true") && strcmp(v, "false"))
		return bad(st, line,
			   "[%s] %s: expected true or false, not '%s'", section,
			   key, v);
	*out = !strcmp(v, "true");
	return 0;
}

/* a period in milliseconds, or none: -1 */
static int timeout_value(struct load_state *st, int line,
			 const struct ns_env *e, const char *key, const char *v,
			 const char *examples, long long *ms)
{
	long long secs;

	if (!strcmp(v, "none")) {
		*ms = -1;
		return 0;
	}
	if (ns_config_duration(&secs, v) < 0 || secs == 0)
		return bad(st, line,
			   "[environment \"%s\"] %s: expected a period such "
			   "as %s, or 'none', not '%s'",
			   e->name, key, examples, v);
	*ms = secs * 1000;
	return 0;
}

static int env_key(struct load_state *st, struct ns_env *e, const char *key,
		   const char *v, int line)
{
	struct ns_config *c = st->c;

	if (!strcmp(key, "root")) {
		free(e->root);
		e->root = abspath(c, v);
	} else if (!strcmp(key, "database")) {
		free(e->database);
		e->database = database_url(c, v);
	} else if (!strcmp(key, "verify"))
		return set_str(&e->verify, v);
	else if (!strcmp(key, "window") || !strcmp(key, "blackout"))
		return env_line(st, e, key, v, line);
	else if (!strcmp(key, "warranty")) {
		long long secs;
		if (ns_config_duration(&secs, v) < 0)
			return bad(
				st, line,
				"[environment \"%s\"] warranty: expected a "
				"period such as 30d, 12h, 90m or 0s, not '%s'",
				e->name, v);
		e->warranty_s = secs;
		return set_str(&e->warranty, v);
	} else if (!strcmp(key, "timezone")) {
		/* checked now, so that a window run never meets a bad one */
		char *what = xprintf("%s:%d: [environment \"%s\"] timezone",
				     st->file, line, e->name);
		int r = ns_zone_check(v, what);

		free(what);
		if (r < 0)
			return r;
		e->timezone_line = line;
		return set_str(&e->timezone, v);
	} else if (!strcmp(key, "lock-timeout")) {
		e->lock_timeout_set = 1;
		return timeout_value(st, line, e, key, v, "60s or 5m",
				     &e->lock_timeout_ms);
	} else if (!strcmp(key, "verify-timeout")) {
		return timeout_value(st, line, e, key, v, "10m or 90s",
				     &e->verify_timeout_ms);
	} else if (!strcmp(key, "archive-dump")) {
		char *section = xprintf("environment \"%s\"", e->name);
		int r = bool_value(st, &e->archive_dump, section, key, v, line);
		free(section);
		return r;
	} else
		return bad(st, line, "unknown key '%s' in [environment \"%s\"]",
			   key, e->name);
	return 0;
}

static int env_name_ok(const char *name)
{
	const char *slash = strchr(name, '/');

	return slash && slash != name && !strchr(slash + 1, '/') &&
	       (!strcmp(slash + 1, "model") ||
		!strcmp(slash + 1, "production"));
}

static int site_key(struct load_state *st, const char *sname, const char *key,
		    const char *v, int line)
{
	struct ns_config *c = st->c;
	const char *last = strrchr(sname, '/');
	char *envname;
	struct ns_env *e;
	struct ns_site *s = NULL;

	if (!last || last == sname || !last[1])
		return bad(st, line,
			   "[site \"%s\"]: expected "
			   "SYSTEM/ENVIRONMENT/SITE",
			   sname);
	envname = xstrndup(sname, (size_t)(last - sname));
	if (!env_name_ok(envname)) {
		free(envname);
		return bad(st, line,
			   "[site \"%s\"]: expected "
			   "SYSTEM/model/SITE or SYSTEM/production/SITE",
			   sname);
	}
	e = env_get(c, envname, line);
	free(envname);
	for (size_t i = 0; i < e->sites_nr; i++)
		if (!strcmp(e->sites[i].name, sname))
			s = &e->sites[i];
	if (!s) {
		e->sites = xrealloc(e->sites,
				    (e->sites_nr + 1) * sizeof(*e->sites));
		s = &e->sites[e->sites_nr++];
		memset(s, 0, sizeof(*s));
		s->name = xstrdup(sname);
		s->label = xstrdup(last + 1);
		s->line = line;
	}
	if (!strcmp(key, "root")) {
		free(s->root);
		s->root = abspath(c, v);
	} else if (!strcmp(key, "database")) {
		free(s->database);
		s->database = database_url(c, v);
	} else {
		return bad(st, line, "unknown key '%s' in [site \"%s\"]", key,
			   sname);
	}
	return 0;
}

static int limits_key(struct load_state *st, const char *key, const char *v,
		      int line)
{
	struct ns_limits *l = &st->c->limits;
	unsigned long long n;

	if (parse_size(&n, v) < 0 || n == 0)
		return bad(st, line,
			   "[limits] %s: expected a positive size "
			   "such as 64M, not '%s'",
			   key, v);
	if (!strcmp(key, "max-file-size"))
		l->max_file_size = n;
	else if (!strcmp(key, "max-total-size"))
		l->max_total_size = n;
	else if (!strcmp(key, "max-files"))
		l->max_files = (size_t)n;
	else if (!strcmp(key, "max-path"))
		l->max_path = (size_t)n;
	else
		return bad(st, line, "unknown key '%s' in [%s]", key, "limits");
	return 0;
}

static int policy_key(struct load_state *st, const char *key, const char *v,
		      int line)
{
	struct ns_config *c = st->c;
	char *end;
	long n;

	if (!strcmp(key, "require-rfs"))
		return bool_value(st, &c->require_rfs, "policy", key, v, line);
	if (!strcmp(key, "require-instructions"))
		return bool_value(st, &c->require_instructions, "policy", key,
				  v, line);
	if (!strcmp(key, "acceptances")) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno || end == v || *end || n < 1 || n > 100)
			return bad(st, line,
				   "[policy] acceptances: expected a number "
				   "of sign-offs from 1 to 100, not '%s'",
				   v);
		c->acceptances = (int)n;
		return 0;
	}
	if (!strcmp(key, "archive-keep")) {
		long long secs;
		if (!strcmp(v, "forever")) {
			c->archive_keep_s = -1;
			return 0;
		}
		if (ns_config_duration(&secs, v) < 0)
			return bad(st, line,
				   "[policy] archive-keep: expected a period "
				   "such as 90d, 12h or 0s, or 'forever', not "
				   "'%s'",
				   v);
		c->archive_keep_s = secs;
		return 0;
	}
	return bad(st, line, "unknown key '%s' in [%s]", key, "policy");
}

int ns_config_duration(long long *out, const char *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || n < 0 || n > 36500LL * 86400)
		return -1;
	if (!strcmp(end, "d"))
		n *= 86400;
	else if (!strcmp(end, "h"))
		n *= 3600;
	else if (!strcmp(end, "m"))
		n *= 60;
	else if (strcmp(end, "s"))
		return -1;
	*out = n;
	return 0;
}

static int path_key(struct load_state *st, const char *key, const char *v,
		    int line)
{
	struct ns_config *c = st->c;
	char **slot = !strcmp(key, "spool")	? &c->spool
		      : !strcmp(key, "archive") ? &c->archive
		      : !strcmp(key, "store")	? &c->store
		      : !strcmp(key, "journal") ? &c->journal
		      : !strcmp(key, "locks")	? &c->locks
						: NULL;

	if (!slot)
		return bad(st, line, "unknown key '%s' in [%s]", key, "paths");
	free(*slot);
	*slot = abspath(c, v);
	return 0;
}

static int named_key(struct load_state *st, const char *kind, const char *name,
		     const char *key, const char *v, int line)
{
	struct ns_config *c = st->c;

	if (!strcmp(kind, "environment")) {
		if (!env_name_ok(name))
			return bad(st, line,
				   "[environment \"%s\"]: expected "
				   "SYSTEM/model or SYSTEM/production",
				   name);
		return env_key(st, env_get(c, name, line), key, v, line);
	}
	if (!strcmp(kind, "site"))
		return site_key(st, name, key, v, line);
	if (!strcmp(kind, "system")) {
		struct ns_system *s =
			(struct ns_system *)ns_config_system(c, name);
		if (!s)
			s = add_system(c, name);
		if (strcmp(key, "users"))
			return bad(st, line,
				   "unknown key '%s' in [system "
				   "\"%s\"]",
				   key, name);
		split_list(&s->users, &s->users_nr, v);
		return 0;
	}
	if (!strcmp(kind, "role")) {
		struct ns_role *r;
		if (strcmp(key, "members"))
			return bad(st, line,
				   "unknown key '%s' in [role "
				   "\"%s\"]",
				   key, name);

		c->roles = xrealloc(c->roles, (c->roles_nr + 1) * sizeof(*r));
		r = &c->roles[c->roles_nr++];
		memset(r, 0, sizeof(*r));
		r->name = xstrdup(name);
		split_list(&r->members, &r->members_nr, v);
		return 0;
	}
	return bad(st, line, "unknown section [%s \"%s\"]", kind, name);
}

/* scheme://HOST[:PORT][/PATH]: one of the schemes, a host, a numeric port */
static int url_ok(const char *v, const char *const *schemes)
{
	const char *p = NULL, *end;
	size_t n;

	for (; *schemes; schemes++) {
		n = strlen(*schemes);
		if (!strncmp(v, *schemes, n) && !strncmp(v + n, "://", 3)) {
			p = v + n + 3;
			break;
		}
	}
	if (!p || strpbrk(v, " \t\r\n"))
		return 0;
	if ((end = strchr(p, '@')) && end < p + strcspn(p, "/"))
		return 0; /* credentials belong in their own keys */
	n = strcspn(p, ":/?#");
	if (!n)
		return 0;
	if (p[n] == ':') {
		const char *port = p + n + 1;
		size_t digits = strspn(port, "0123456789");
		if (!digits || digits > 5 || atoi(port) > 65535 ||
		    (port[digits] && port[digits] != '/'))
			return 0;
	}
	return 1;
}

static int notify_key(struct load_state *st, const char *key, const char *v,
		      int line)
{
	static const char *const smtp[] = { "smtp", "smtps", NULL };
	static const char *const http[] = { "http", "https", NULL };
	struct ns_notify_conf *n = &st->c->notify;
	char **slot = NULL;

	if (!strcmp(key, "smtp") || !strcmp(key, "webhook")) {
		int is_smtp = !strcmp(key, "smtp");
		if (!url_ok(v, is_smtp ? smtp : http))
			return bad(st, line,
				   "[notify] %s: expected %s, not '%s'", key,
				   is_smtp ? "smtp://HOST[:PORT] or "
					     "smtps://HOST[:PORT]"
					   : "http(s)://HOST[:PORT]/PATH",
				   v);
		slot = is_smtp ? &n->smtp : &n->webhook;
		*(is_smtp ? &n->line_smtp : &n->line_webhook) = line;
	} else if (!strcmp(key, "smtp-starttls")) {
		if (strcmp(v, "true") && strcmp(v, "false"))
			return bad(st, line,
				   "[notify] smtp-starttls: expected true or "
				   "false, not '%s'",
				   v);
		n->smtp_starttls = !strcmp(v, "true");
		return 0;
	} else if (!strcmp(key, "from") || !strcmp(key, "domain")) {
		if (!*v || strpbrk(v, " \t\r\n<>,;\"") ||
		    (!strcmp(key, "from") && !strchr(v, '@')) ||
		    (!strcmp(key, "domain") && strchr(v, '@')))
			return bad(st, line,
				   "[notify] %s: expected %s, not '%s'", key,
				   !strcmp(key, "from") ? "an address "
							  "(name@host)"
							: "a domain "
							  "(example.com)",
				   v);
		slot = !strcmp(key, "from") ? &n->from : &n->domain;
	} else if (!strcmp(key, "smtp-user")) {
		slot = &n->smtp_user;
	} else if (!strcmp(key, "smtp-password")) {
		slot = &n->smtp_password;
	} else if (!strcmp(key, "webhook-secret")) {
		slot = &n->webhook_secret;
	} else if (!strcmp(key, "smtp-password-file") ||
		   !strcmp(key, "webhook-secret-file")) {
		slot = !strcmp(key, "smtp-password-file")
			       ? &n->smtp_password_file
			       : &n->webhook_secret_file;
		if (!*v)
			return bad(st, line, "[notify] %s: empty value", key);
		free(*slot);
		*slot = abspath(st->c, v);
		return 0;
	} else {
		return bad(st, line, "unknown key '%s' in [notify]", key);
	}
	if (!*v)
		return bad(st, line, "[notify] %s: empty value", key);
	free(*slot);
	*slot = xstrdup(v);
	return 0;
}

static int plain_key(struct load_state *st, const char *kind, const char *key,
		     const char *v, int line)
{
	struct ns_config *c = st->c;

	if (!strcmp(kind, "registry") && !strcmp(key, "path")) {
		free(c->registry);
		c->registry = abspath(c, v);
	} else if (!strcmp(kind, "paths")) {
		return path_key(st, key, v, line);
	} else if (!strcmp(kind, "limits")) {
		return limits_key(st, key, v, line);
	} else if (!strcmp(kind, "security") && !strcmp(key, "impersonation")) {
		if (strcmp(v, "true") && strcmp(v, "false"))
			return bad(st, line,
				   "[security] impersonation: "
				   "expected true or false, not '%s'",
				   v);
		c->impersonation = !strcmp(v, "true");
	} else if (!strcmp(kind, "security") &&
		   (!strcmp(key, "trigger-signing-key") ||
		    !strcmp(key, "trigger-verify-key"))) {
		char **slot = !strcmp(key, "trigger-signing-key")
				      ? &c->signing_key
				      : &c->verify_key;
		free(*slot);
		*slot = abspath(c, v);
	} else if (!strcmp(kind, "policy")) {
		return policy_key(st, key, v, line);
	} else if (!strcmp(kind, "notify") && !strcmp(key, "outbox")) {
		free(c->outbox);
		c->outbox = abspath(c, v);
	} else if (!strcmp(kind, "notify")) {
		return notify_key(st, key, v, line);
	} else if (!strcmp(kind, "registry") || !strcmp(kind, "security")) {
		return bad(st, line, "unknown key '%s' in [%s]", key, kind);
	} else {
		return bad(st, line, "unknown section [%s]", kind);
	}
	return 0;
}

/* a section header: known kind, well-formed name; systems, environments
 * and sites exist from their header on, keys or not */
static int section_opens(struct load_state *st, const char *kind,
			 const char *name, int line)
{
	static const char *const plain[] = { "registry", "paths",  "limits",
					     "security", "notify", "policy" };
	static const char *const named[] = { "system", "environment", "site",
					     "role" };
	const char *const *list = name ? named : plain;
	size_t n = name ? sizeof(named) / sizeof(*named)
			: sizeof(plain) / sizeof(*plain),
	       i;

	for (i = 0; i < n && strcmp(list[i], kind); i++)
		;
	if (i == n)
		return name ? bad(st, line, "unknown section [%s \"%s\"]", kind,
				  name)
			    : bad(st, line, "unknown section [%s]", kind);
	if (!strcmp(kind, "environment") && !env_name_ok(name))
		return bad(st, line,
			   "[environment \"%s\"]: expected "
			   "SYSTEM/model or SYSTEM/production",
			   name);
	if (!strcmp(kind, "role") && !ns_role_known(name))
		return bad(st, line,
			   "unknown role [role \"%s\"] (the roles: %s)", name,
			   NS_ROLES);
	if (!strcmp(kind, "environment"))
		env_get(st->c, name, line);
	if (!strcmp(kind, "system") && !ns_config_system(st->c, name))
		add_system(st->c, name);
	return 0;
}

/* the keys a section may give on several lines */
static int repeatable(const char *kind, const char *key)
{
	return !strcmp(kind, "environment") &&
	       (!strcmp(key, "window") || !strcmp(key, "blackout"));
}

/* names and values go into TRIGGER.json, the archive's plan, logs and
 * mail: UTF-8 text (text.h) of one line, so a value holds no CR (inih
 * has taken the one that ends a CRLF line) and no C1 control character,
 * which a terminal or a mail header would act on; a key is checked by
 * the key tables */
static int check_text(struct load_state *st, const char *section, const char *v,
		      int line)
{
	const char *why;
	char *shown;
	int r;

	if ((why = ns_text_problem(section, strlen(section), NS_TEXT_NAME,
				   NULL))) {
		shown = ns_printable(section);
		r = bad(st, line, "section [%s]: %s", shown, why);
		free(shown);
		return r;
	}
	if (v && (why = ns_text_problem(v, strlen(v), NS_TEXT_MESSAGE, NULL))) {
		shown = ns_printable(v);
		r = bad(st, line, "[%s] value '%s': %s", section, shown, why);
		free(shown);
		return r;
	}
	return 0;
}

static int handler(void *data, const char *section, const char *key,
		   const char *v, int line)
{
	struct load_state *st = data;
	char *kind = NULL, *name = NULL, *pair;
	int r;

	if ((r = check_text(st, section, key ? v : NULL, line)) < 0)
		return r;
	if (ns_ini_section_split(&kind, &name, section) < 0)
		return bad(st, line, "malformed section [%s]", section);
	if (!key) {
		r = section_opens(st, kind, name, line);
		free(kind);
		free(name);
		return r;
	}
	pair = xprintf("\n%s\n%s\n", section, key);
	if (strstr(st->seen.buf, pair) && !repeatable(kind, key)) {
		r = bad(st, line, "duplicate key '%s' in [%s]", key, section);
	} else {
		strbuf_addstr(&st->seen, pair + 1);
		r = name ? named_key(st, kind, name, key, v, line)
			 : plain_key(st, kind, key, v, line);
	}
	free(pair);
	free(kind);
	free(name);
	return r;
}

static int read_file(struct strbuf *sb, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0) {
		ns_error_set("cannot open configuration '%s': %s", path,
			     strerror(errno));
		return errno == ENOENT ? NS_EUSAGE : NS_ERROR;
	}
	strbuf_set_cap(sb, 1 << 20);
	r = strbuf_read_fd(sb, fd);
	close(fd);
	if (r < 0) {
		ns_error_set("cannot read configuration '%s': %s", path,
			     strerror(errno));
		return NS_EINVALID;
	}
	if (memchr(sb->buf, '\0', sb->len)) {
		ns_error_set("%s: NUL byte in the configuration", path);
		return NS_EINVALID;
	}
	return 0;
}

static int check_envs(struct ns_config *c)
{
	for (size_t i = 0; i < c->envs_nr; i++) {
		struct ns_env *e = &c->envs[i];
		char *slash = strchr(e->name, '/');

		e->file = xstrdup(c->path);
		e->system = xstrndup(e->name, (size_t)(slash - e->name));
		e->kind = xstrdup(slash + 1);
		if (!ns_config_system(c, e->system))
			add_system(c, e->system);
		if (e->root) {
			struct ns_site s = {
				xstrdup(e->name),
				xstrdup("main"),
				xstrdup(e->root),
				e->database ? xstrdup(e->database) : NULL,
				e->line,
				0,
				0,
				0,
				0, /* the environment's settings: below */
			};
			e->sites = xrealloc(e->sites,
					    (e->sites_nr + 1) * sizeof(s));
			memmove(e->sites + 1, e->sites,
				e->sites_nr * sizeof(s));
			e->sites[0] = s;
			e->sites_nr++;
		}
		for (size_t j = 0; j < e->sites_nr; j++) {
			const char *db = e->sites[j].database;
			e->sites[j].archive_dump = e->archive_dump;
			e->sites[j].lock_timeout_ms = e->lock_timeout_ms;
			e->sites[j].lock_timeout_set = e->lock_timeout_set;
			e->sites[j].verify_timeout_ms = e->verify_timeout_ms;
			if (!e->sites[j].root) {
				ns_error_set("%s:%d: [site \"%s\"] has no root",
					     c->path, e->sites[j].line,
					     e->sites[j].name);
				return NS_EINVALID;
			}
			for (size_t k = 0; k < j; k++)
				if (!strcmp(e->sites[k].label,
					    e->sites[j].label)) {
					ns_error_set("%s:%d: [site \"%s\"]: "
						     "%s already has a site "
						     "'%s'",
						     c->path, e->sites[j].line,
						     e->sites[j].name, e->name,
						     e->sites[j].label);
					return NS_EINVALID;
				}
			if (db && strncmp(db, "sqlite:", 7) &&
			    strncmp(db, "postgresql://", 13) &&
			    strncmp(db, "postgres://", 11)) {
				ns_error_set("%s:%d: %s: database: expected "
					     "sqlite:PATH or postgresql://..., "
					     "not '%s'",
					     c->path, e->sites[j].line,
					     e->sites[j].name, db);
				return NS_EINVALID;
			}
		}
		if (!e->sites_nr) {
			ns_error_set("%s:%d: [environment \"%s\"] has no "
				     "root and no [site] section",
				     c->path, e->line, e->name);
			return NS_EINVALID;
		}
	}
	return 0;
}

int ns_config_load(struct ns_config *out, const char *path)
{
	struct ns_config c = NS_CONFIG_INIT;
	struct ns_limits lim = NS_LIMITS_DEFAULT;
	struct strbuf text = STRBUF_INIT;
	struct load_state st = { &c, path, STRBUF_INIT };
	char *copy;
	int r;

	c.limits = lim;
	c.require_rfs = 1;
	c.acceptances = 1;
	c.archive_keep_s = 90LL * 86400;
	if ((r = read_file(&text, path)) < 0)
		goto done;
	c.path = xstrdup(path);
	copy = xstrdup(path);
	c.dir = path[0] == '/' ? xstrdup(dirname(copy)) : NULL;
	if (!c.dir) {
		char *cwd = getcwd(NULL, 0);
		const char *d = dirname(copy);
		c.dir = strcmp(d, ".") ? xprintf("%s/%s", cwd ? cwd : ".", d)
				       : xstrdup(cwd ? cwd : ".");
		free(cwd);
	}
	free(copy);
	strbuf_addch(&st.seen, '\n');
	if ((r = ns_ini_parse(path, text.buf, text.len, handler, &st)) < 0)
		goto done;
	if ((r = check_envs(&c)) < 0)
		goto done;
#define DEFAULT_PATH(f, rel)                                                   \
	if (!c.f)                                                              \
		c.f = abspath(&c, rel);
	DEFAULT_PATH(registry, "nightshift.db");
	DEFAULT_PATH(spool, "spool");
	DEFAULT_PATH(archive, "archive");
	DEFAULT_PATH(store, "store");
	DEFAULT_PATH(journal, "journal");
	DEFAULT_PATH(locks, "locks");
	DEFAULT_PATH(outbox, "outbox");
#undef DEFAULT_PATH
	*out = c;
	memset(&c, 0, sizeof(c));
	r = 0;
done:
	strbuf_release(&text);
	strbuf_release(&st.seen);
	ns_config_release(&c);
	return r;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void ns_config_release(struct ns_config *c)
{
	free(c->path);
	free(c->dir);
	free(c->registry);
	free(c->signing_key);
	free(c->verify_key);
	free(c->spool);
	free(c->archive);
	free(c->outbox);
	free(c->store);
	free(c->journal);
	free(c->locks);
	free(c->notify.smtp);
	free(c->notify.webhook);
	free(c->notify.from);
	free(c->notify.domain);
	free(c->notify.smtp_user);
	free(c->notify.smtp_password);
	free(c->notify.smtp_password_file);
	free(c->notify.webhook_secret);
	free(c->notify.webhook_secret_file);
	for (size_t i = 0; i < c->systems_nr; i++) {
		free(c->systems[i].name);
		free_list(c->systems[i].users, c->systems[i].users_nr);
	}
	free(c->systems);
	for (size_t i = 0; i < c->envs_nr; i++) {
		struct ns_env *e = &c->envs[i];
		free(e->name);
		free(e->system);
		free(e->kind);
		free(e->root);
		free(e->database);
		free(e->verify);
		free(e->window);
		free(e->blackout);
		for (size_t j = 0; j < e->windows_nr; j++)
			free(e->windows[j].value);
		free(e->windows);
		for (size_t j = 0; j < e->blackouts_nr; j++)
			free(e->blackouts[j].value);
		free(e->blackouts);
		free(e->timezone);
		free(e->file);
		free(e->warranty);
		for (size_t j = 0; j < e->sites_nr; j++) {
			free(e->sites[j].name);
			free(e->sites[j].label);
			free(e->sites[j].root);
			free(e->sites[j].database);
		}
		free(e->sites);
	}
	free(c->envs);
	for (size_t i = 0; i < c->roles_nr; i++) {
		free(c->roles[i].name);
		free_list(c->roles[i].members, c->roles[i].members_nr);
	}
	free(c->roles);
	memset(c, 0, sizeof(*c));
}

const struct ns_env *ns_config_env(const struct ns_config *c, const char *name)
{
	char *full = NULL;
	const struct ns_env *e = NULL;

	if (!strchr(name, '/')) {
		if (c->systems_nr != 1) {
			ns_error_set("environment '%s': say SYSTEM/%s, the "
				     "configuration has %zu systems",
				     name, name, c->systems_nr);
			return NULL;
		}
		full = xprintf("%s/%s", c->systems[0].name, name);
		name = full;
	}
	for (size_t i = 0; i < c->envs_nr; i++)
		if (!strcmp(c->envs[i].name, name))
			e = &c->envs[i];
	if (!e)
		ns_error_set("%s: no [environment \"%s\"]", c->path, name);
	free(full);
	return e;
}

const struct ns_system *ns_config_system(const struct ns_config *c,
					 const char *name)
{
	for (size_t i = 0; i < c->systems_nr; i++)
		if (!strcmp(c->systems[i].name, name))
			return &c->systems[i];
	return NULL;
}

const struct ns_site *ns_env_site(const struct ns_env *e, const char *name)
{
	for (size_t i = 0; i < e->sites_nr; i++)
		if (!strcmp(e->sites[i].name, name) ||
		    !strcmp(e->sites[i].label, name))
			return &e->sites[i];
	return NULL;
}

int ns_site_wanted(const struct ns_site *s, char **names, size_t nr)
{
	if (!nr)
		return 1;
	for (size_t k = 0; k < nr; k++)
		if (!strcmp(names[k], s->name) || !strcmp(names[k], s->label))
			return 1;
	return 0;
}

const struct ns_role *ns_config_role(const struct ns_config *c,
				     const char *name)
{
	for (size_t i = 0; i < c->roles_nr; i++)
		if (!strcmp(c->roles[i].name, name))
			return &c->roles[i];
	return NULL;
}

int ns_config_signing_key(const struct ns_config *c, struct ns_key **out)
{
	char *what;
	int ret;

	*out = NULL;
	if (!c->signing_key)
		return 0;
	what = xprintf("%s: [security] trigger-signing-key", c->path);
	ret = ns_key_load_private(out, c->signing_key, what);
	free(what);
	return ret;
}

int ns_config_verify_key(const struct ns_config *c, struct ns_key **out,
			 const char **what)
{
	const char *path = c->verify_key ? c->verify_key : c->signing_key;
	char *where;
	int ret;

	*out = NULL;
	*what = c->verify_key ? "[security] trigger-verify-key"
			      : "[security] trigger-signing-key";
	if (!path)
		return 0;
	where = xprintf("%s: %s", c->path, *what);
	ret = ns_key_load_public(out, path, where);
	free(where);
	return ret;
}
