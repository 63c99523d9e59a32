#include "common.h"
#include "lifecycle.h"
#include "notify.h"
#include "text.h"
#include "timefmt.h"
#include "xalloc.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cli_as;

static const char *login_name(void)
{
	struct passwd *pw = getpwuid(geteuid());
	const char *env = getenv("LOGNAME");

	if (pw && pw->pw_name)
		return pw->pw_name;
	return env && *env ? env : "unknown";
}

static int identity(struct cli *c)
{
	const char *env = getenv("NIGHTSHIFT_USER");
	const char *want = cli_as ? cli_as : (env && *env ? env : NULL), *why;

	c->user = login_name();
	why = want ? ns_text_problem(want, strlen(want), NS_TEXT_NAME, NULL)
		   : NULL;
	if (why) {
		char *shown = ns_printable(want);

		ns_error_set("acting as '%s': %s (a user name goes into the "
			     "registry, JSON and mail)",
			     shown, why);
		free(shown);
		return NS_EUSAGE;
	}
	if (!want || !strcmp(want, c->user))
		return 0;
	if (!c->cfg.impersonation) {
		ns_error_set("acting as '%s' needs [security] impersonation = "
			     "true in %s (you are '%s')",
			     want, c->cfg.path, c->user);
		return NS_EUSAGE;
	}
	c->user = want;
	return 0;
}

int cli_open(struct cli *c)
{
	int ret;

	if ((ret = ns_config_load(&c->cfg, "nightshift.conf")) < 0) {
		if (ret == NS_EUSAGE)
			ns_error_set("no nightshift.conf here (use -C DIR, or "
				     "`nightshift init DIR`)");
		return ret;
	}
	if ((ret = identity(c)) < 0)
		return ret;
	return ns_registry_open(&c->reg, c->cfg.registry, 0);
}

/* Best effort, right after a command wrote notices: short timeouts, and
 * whatever fails leaves the message in the outbox for `notify deliver`;
 * the command's own outcome and message stay as they were. */
static void deliver_written(const struct ns_config *cfg)
{
	struct ns_deliver_report r = NS_DELIVER_REPORT_INIT;
	char *saved;

	if (!ns_notify_written() || !cfg->path)
		return;
	saved = xstrdup(ns_error_last());
	ns_notify_deliver(cfg, ns_now(), NS_DELIVER_QUICK, &r);
	ns_deliver_report_release(&r);
	ns_error_set("%s", saved);
	free(saved);
}

void cli_close(struct cli *c)
{
	deliver_written(&c->cfg);
	ns_registry_free(c->reg);
	ns_config_release(&c->cfg);
	c->reg = NULL;
}

int cli_fail(int code)
{
	fprintf(stderr, "nightshift: %s\n", ns_error_last());
	return ns_exit_code(code);
}

/* the last line cli_warn printed: an outcome whose error it already
 * showed ends with what kind of outcome it was, not the error again */
static char *warned;

int cli_outcome(int code)
{
	const char *err = ns_error_last();
	int shown = warned && *err && strstr(warned, err);

	free(warned);
	warned = NULL;
	switch (code) {
	case 0:
		return 0;
	case NS_EFAILED:
	case NS_EDRIFT:
		fprintf(stderr, "nightshift: not everything migrated: a run "
				"was rolled back or refused\n");
		break;
	case NS_EINVALID:
		fprintf(stderr, "nightshift: a trigger or target was refused "
				"as invalid\n");
		break;
	case NS_ELOCKED:
		if (!shown)
			return cli_fail(code);
		fprintf(stderr,
			"nightshift: not everything ran: an environment "
			"is locked or blocked (see above)\n");
		break;
	default:
		if (!shown)
			return cli_fail(code);
		fprintf(stderr, "nightshift: not everything went through: an "
				"error stopped part of it (see above)\n");
		break;
	}
	return ns_exit_code(code);
}

int cli_done(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "nightshift: cannot write the output: %s\n",
			strerror(errno));
		return 5;
	}
	return status;
}

int cli_usage(const char *usage)
{
	fprintf(stderr, "usage: nightshift %s\n", usage);
	return 2;
}

void cli_say(void *data, const char *line)
{
	(void)data;
	printf("%s\n", line);
}

void cli_warn(void *data, const char *line)
{
	(void)data;
	fflush(stdout); /* keep the two streams in the order they happened */
	fprintf(stderr, "nightshift: %s\n", line);
	free(warned);
	warned = xstrdup(line);
}

static struct cli_opt *find(struct cli_opt *opts, const char *arg,
			    const char **inline_value)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);

	*inline_value = eq ? eq + 1 : NULL;
	for (struct cli_opt *o = opts; o && o->name; o++)
		if (strlen(o->name) == n && !strncmp(o->name, arg, n))
			return o;
	return NULL;
}

int cli_text_arg(const char *opt, const char *v)
{
	/* shown as it is (log, status, mail): tab and line feed only */
	const char *why = ns_text_problem(v, strlen(v), NS_TEXT_MESSAGE, NULL);
	char *shown;

	if (!why)
		return 0;
	shown = ns_printable(v);
	fprintf(stderr,
		"nightshift: %s '%s': %s (it goes into the registry, JSON "
		"and mail, which take UTF-8 text)\n",
		opt, shown, why);
	free(shown);
	return -1;
}

int cli_path_arg(const char *what, const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == 0 || (errno != ENOENT && errno != ENOTDIR))
		return 0;
	ns_error_set("%s '%s': %s", what, path, strerror(errno));
	return NS_EUSAGE;
}

int cli_parse(int argc, char **argv, struct cli_opt *opts, const char **pos,
	      int max, int *npos, const char *usage)
{
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		struct cli_opt *o;

		if (strncmp(a, "--", 2) || !a[2]) {
			if (*npos >= max) {
				fprintf(stderr,
					"nightshift: unexpected "
					"argument '%s'\n",
					a);
				return cli_usage(usage), -1;
			}
			pos[(*npos)++] = a;
			continue;
		}
		if (!strcmp(a, "--as") && i + 1 < argc) {
			cli_as = argv[++i];
			continue;
		}
		if (!(o = find(opts, a + 2, &v))) {
			fprintf(stderr, "nightshift: unknown option '%s'\n", a);
			return cli_usage(usage), -1;
		}
		if (!o->takes_value) {
			*o->flag = 1;
			continue;
		}
		if (!v && i + 1 >= argc) {
			fprintf(stderr, "nightshift: %s needs a value\n", a);
			return cli_usage(usage), -1;
		}
		*o->value = v ? v : argv[++i];
		/* text, but for the directories of --git and --sqitch */
		if (strcmp(o->name, "git") && strcmp(o->name, "sqitch") &&
		    cli_text_arg(a, *o->value) < 0)
			return cli_usage(usage), -1;
	}
	return 0;
}

void cli_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s)
		printf("%s\n", s);
	free(s);
}

int cli_enh(long long *id, const char *s)
{
	if (!(*id = ns_enh_parse(s))) {
		ns_error_set("'%s' is not an enhancement id (ENH-n)", s);
		return cli_fail(NS_EUSAGE);
	}
	return 0;
}

const char *cli_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

int cli_placement_opts(struct ns_placement *p, int override, const char *reason,
		       const char *usage)
{
	if (reason && !override) {
		fprintf(stderr, "nightshift: --reason goes with "
				"--override-blackout\n");
		return cli_usage(usage);
	}
	if (override && (!reason || !*reason)) {
		fprintf(stderr,
			"nightshift: --override-blackout needs --reason "
			"TEXT, the reason that is audited\n");
		return cli_usage(usage);
	}
	p->override_reason = override ? reason : NULL;
	return 0;
}

void cli_placed(const struct ns_placement *p, long long id)
{
	char start[NS_TIME_LEN], close[NS_TIME_LEN], latest[NS_TIME_LEN];

	ns_time_iso(start, p->start);
	if (p->close != (time_t)-1)
		ns_time_iso(close, p->close);
	if (p->latest != (time_t)-1)
		ns_time_iso(latest, p->latest);
	if (p->note)
		fprintf(stderr,
			"nightshift: ENH-%lld: %s: placed at %s (the opening "
			"closes %s%s%s%s)\n",
			id, p->note, start,
			p->close != (time_t)-1 ? "at " : "never",
			p->close != (time_t)-1 ? close : "",
			p->latest != (time_t)-1 ? "; latest safe start " : "",
			p->latest != (time_t)-1 ? latest : "");
	if (p->override_reason)
		fprintf(stderr,
			"nightshift: ENH-%lld: blackout overridden (%s), "
			"audited: %s\n",
			id,
			p->in_blackout ? "it runs inside a blackout"
				       : "no blackout was in the way",
			p->override_reason);
}
