/*
 * nightshift — touch-less change migration. The command table.
 */
#include "commands.h"
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct cmd commands[] = {
	{ "init", cmd_init,
	  "init [DIR]  new nightshift.conf, registry, spool" },
	{ "rfs", cmd_rfs,
	  "rfs add ID --title T [--scope GLOB]... | rfs show ID | rfs list" },
	{ "submit", cmd_submit,
	  "submit PATH | --git REPO --from REV --to REV | --sqitch DIR  "
	  "register an enhancement" },
	{ "resubmit", cmd_resubmit,
	  "resubmit ID PATH | ID --git … | ID --sqitch DIR --change NAME  "
	  "a corrected revision of an enhancement" },
	{ "qa", cmd_qa,
	  "qa approve ID | qa reject ID --reason T  QA sign-off" },
	{ "analyze", cmd_analyze,
	  "analyze ID --env ENV [--at TIME] [--json]  conformity report" },
	{ "schedule", cmd_schedule,
	  "schedule ID --env ENV [--at TIME] [--override-blackout --reason T]"
	  "  generate the trigger file, placed in a window" },
	{ "window", cmd_window,
	  "window run [--env ENV] [--now]  run the due triggers" },
	{ "windows", cmd_windows,
	  "windows [--env ENV] [--count N] [--json]  the next openings" },
	{ "daemon", cmd_daemon,
	  "daemon [--once] [--syslog]  wait for the windows and run them" },
	{ "accept", cmd_accept,
	  "accept ID --env ENV  acceptance sign-off on the model" },
	{ "reject", cmd_reject,
	  "reject ID --env ENV --reason T  refuse it and back it out" },
	{ "promote", cmd_promote,
	  "promote ID [--at TIME] [--override-blackout --reason T]  production "
	  "trigger of the accepted run" },
	{ "rollback", cmd_rollback,
	  "rollback ID --env ENV --reason T  back out from the archive" },
	{ "recover", cmd_recover,
	  "recover [--env ENV]  finish or undo interrupted migrations" },
	{ "unblock", cmd_unblock,
	  "unblock --env ENV --reason T  after a person repaired a site" },
	{ "withdraw", cmd_withdraw,
	  "withdraw ID --reason T  take an enhancement out of the process" },
	{ "archive", cmd_archive,
	  "archive prune [--env ENV] [--dry-run]  remove the archives and "
	  "trigger files no longer needed, older than [policy] archive-keep" },
	{ "warranty", cmd_warranty,
	  "warranty [--json]  end the warranties that have run out" },
	{ "status", cmd_status, "status [ID] [--json]  what is where" },
	{ "log", cmd_log, "log [ID] [--json]  the audit trail" },
	{ "audit", cmd_audit,
	  "audit verify [--json]  check the audit log's hash chain" },
	{ "stats", cmd_stats,
	  "stats [--json] [--since DATE]  the figures per environment" },
	{ "notify", cmd_notify,
	  "notify deliver|list [--json]  send the outbox by SMTP and webhook" },
	{ "trigger", cmd_trigger,
	  "trigger show|verify FILE [--key PEM]  inspect and check a trigger" },
};

static int help(FILE *to, int status)
{
	fprintf(to,
		"usage: nightshift [-C DIR] [--as USER] COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		fprintf(to, "  %s\n", commands[i].help);
	fprintf(to, "\nExit: 0 success, 1 outcome negative, 2 usage, 3 input "
		    "refused, 4 locked or blocked, 5 internal or I/O error.\n"
		    "See nightshift(1).\n");
	return status;
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-C") && i + 1 < argc) {
			if (chdir(argv[i + 1]) < 0) {
				fprintf(stderr, "nightshift: -C %s: %s\n",
					argv[i + 1], strerror(errno));
				return 2;
			}
			i += 2;
		} else if (!strcmp(argv[i], "--as") && i + 1 < argc) {
			cli_as = argv[i + 1];
			i += 2;
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			return cli_done(help(stdout, 0));
		} else if (!strcmp(argv[i], "--version")) {
			printf("nightshift %s\n", NS_VERSION);
			return cli_done(0);
		} else {
			fprintf(stderr, "nightshift: unknown option '%s'\n",
				argv[i]);
			return help(stderr, 2);
		}
	}
	if (i >= argc)
		return help(stderr, 2);
	for (size_t k = 0; k < sizeof(commands) / sizeof(*commands); k++)
		if (!strcmp(commands[k].name, argv[i]))
			return cli_done(commands[k].fn(argc - i, argv + i));
	fprintf(stderr, "nightshift: '%s' is not a command\n", argv[i]);
	return help(stderr, 2);
}
