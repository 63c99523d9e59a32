/*
 * common — what every command shares: the configuration and registry of
 * the working directory, the acting identity, argument helpers, and the
 * one place where an ns_code becomes a message and an exit status.
 */
#ifndef NS_CLI_COMMON_H
#define NS_CLI_COMMON_H

#include <jansson.h>

#include "config.h"
#include "error.h"
#include "registry.h"

struct cli {
	struct ns_config cfg;
	struct ns_registry *reg;
	const char *user;
};

#define CLI_INIT                                                               \
	{                                                                      \
		NS_CONFIG_INIT, NULL, NULL                                     \
	}

/* set by main from --as */
extern const char *cli_as;

/* load ./nightshift.conf, open the registry, settle the identity */
int cli_open(struct cli *c);
void cli_close(struct cli *c);

/* print "nightshift: MESSAGE" for code and return its exit status */
int cli_fail(int code);
/* the exit status of a runner's worst outcome, with a line on stderr
 * that says what kind of outcome it was (the details were reported; an
 * error a reported line already named is not repeated) */
int cli_outcome(int code);
/* flush stdout; a full disk must not pass silently */
int cli_done(int status);
/* a usage error for cmd */
int cli_usage(const char *usage);

/* a line of the runner's report: good news on stdout, bad on stderr */
void cli_say(void *data, const char *line);
void cli_warn(void *data, const char *line);

/* simple option parsing: "--name VALUE", "--name=VALUE", "--flag" */
struct cli_opt {
	const char *name;
	int takes_value;
	const char **value; /* for options with a value */
	int *flag;	    /* for flags */
};
/* 0, or -1 after saying why on stderr when the value v of option opt is
 * not UTF-8 text or holds a control character other than tab and line
 * ends (cli_parse checks every value but directories) */
int cli_text_arg(const char *opt, const char *v);
/* 0, or NS_EUSAGE with "WHAT 'PATH': No such file or directory" when the
 * path a person typed names nothing (a mistyped path is a usage error,
 * not the I/O error it would be for nightshift's own files) */
int cli_path_arg(const char *what, const char *path);
/* collects positional arguments into pos (at most max); -1 on error */
int cli_parse(int argc, char **argv, struct cli_opt *opts, const char **pos,
	      int max, int *npos, const char *usage);

void cli_print_json(json_t *j);
/* the text column k of a row as printed: "-" when it has none */
const char *cli_str(json_t *o, const char *k);

/* ENH-n or n into *id; else the usage message and its exit status */
int cli_enh(long long *id, const char *s);

/* schedule's and promote's --at, --override-blackout and --reason, and
 * the line on stderr that says where a trigger went when that is not
 * where it was asked to go */
struct ns_placement;
int cli_placement_opts(struct ns_placement *p, int override, const char *reason,
		       const char *usage);
void cli_placed(const struct ns_placement *p, long long id);

#endif
