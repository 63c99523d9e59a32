#include "commands.h"
#include "common.h"
#include "daemon.h"
#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static const char usage[] = "daemon [--once] [--syslog]";

enum sink { PLAIN, JOURNAL, SYSLOG };

/* stderr is the journal when JOURNAL_STREAM names its device and inode */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	       fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

static void log_line(void *data, int prio, const char *line)
{
	enum sink *sink = data;
	char at[NS_TIME_LEN];

	switch (*sink) {
	case SYSLOG:
		syslog(prio, "%s", line);
		break;
	case JOURNAL:
		fprintf(stderr, "<%d>%s\n", prio, line);
		break;
	default:
		ns_time_iso(at, ns_now());
		fprintf(stderr, "%s nightshift[%ld]: %s%s\n", at,
			(long)getpid(),
			prio <= LOG_ERR	      ? "error: "
			: prio == LOG_WARNING ? "warning: "
					      : "",
			line);
	}
	fflush(stderr);
}

int cmd_daemon(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1];
	int once = 0, use_syslog = 0, n, ret;
	struct cli_opt opts[] = { { "once", 0, NULL, &once },
				  { "syslog", 0, NULL, &use_syslog },
				  { NULL, 0, NULL, NULL } };
	enum sink sink = PLAIN;
	struct ns_daemon d = { 0 };

	if (cli_parse(argc, argv, opts, pos, 0, &n, usage) < 0)
		return 2;
	if ((ret = cli_open(&c)) < 0) {
		cli_close(&c);
		return cli_fail(ret);
	}
	if (use_syslog) {
		sink = SYSLOG;
		openlog("nightshift", LOG_PID, LOG_DAEMON);
	} else if (stderr_is_journal()) {
		sink = JOURNAL;
	}
	d = (struct ns_daemon){ .config_path = "nightshift.conf",
				.cfg = &c.cfg,
				.reg = c.reg,
				.user = c.user,
				.once = once,
				.log = log_line,
				.data = &sink };
	ret = ns_daemon_run(&d);
	ret = ret < 0 ? cli_fail(ret) : cli_outcome(d.worst);
	cli_close(&c);
	if (use_syslog)
		closelog();
	return ret;
}
