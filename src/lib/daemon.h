/*
 * daemon — nightshift unattended: waits for the windows and runs them.
 *
 * One daemon per registry: it holds an exclusive flock on LOCKS/daemon.lock
 * (created, never deleted) for its whole life; a second one gets
 * NS_ELOCKED. Each time it wakes it
 *
 *   - runs every environment whose window has opened since it last ran it
 *     (ns_runner_window: recover, the due triggers in dependency order, the
 *     latest safe start, the "no trigger" notice once per opening), and
 *     again when a trigger becomes due inside an open window or a new one
 *     arrives in the spool;
 *   - ends the warranties that have run out (WP → CP);
 *
 * then sleeps until the next of these events (ns_daemon_env_next, the next
 * warranty end) in one ppoll on a signalfd and an inotify descriptor that
 * watches the environments' spool directories: no polling, it sleeps at
 * most NS_DAEMON_MAX_SLEEP_MS at a time (a wall clock set back is noticed
 * then). The sleep is measured on nightshift's clock (timefmt.h): under a
 * fast NIGHTSHIFT_CLOCK_RATE it is shorter in real time, the code is the
 * same.
 *
 * Signals: SIGTERM and SIGINT start nothing new — a migration under way
 * finishes or rolls back — and the daemon returns 0. SIGHUP reloads the
 * configuration; a broken one is refused (its message logged) and the old
 * one kept. With once set it acts on what is due now or in the current
 * window, then returns. It returns 0, or the error that kept it from
 * running (NS_ELOCKED: another daemon); what the runs came to is in worst.
 *
 * The library never prints: every line goes to log() with a syslog
 * priority (LOG_INFO, LOG_WARNING, LOG_ERR).
 */
#ifndef NS_DAEMON_H
#define NS_DAEMON_H

#include <time.h>

#include "config.h"
#include "registry.h"

struct ns_calendar;

#define NS_DAEMON_MAX_SLEEP_MS (10 * 60 * 1000)

struct ns_daemon {
	const char *config_path; /* reloaded from here on SIGHUP */
	struct ns_config *cfg;	 /* loaded; replaced on a good reload */
	struct ns_registry *reg;
	const char *user;
	int once;
	void (*log)(void *data, int prio, const char *line);
	void *data;
	int worst; /* out: the runner's worst outcome (as window run) */
};

int ns_daemon_run(struct ns_daemon *d);

/* what the daemon knows of one environment between wake-ups */
struct ns_daemon_env {
	time_t handled; /* the close of the opening it ran; NS_DAEMON_NONE */
	time_t acted;	/* when it last ran the environment; 0 never */
	time_t due;	/* the earliest pending trigger's due time, or -1 */
	time_t override_due; /* the same of those whose blackout change
				management overrode, or -1 */
};
#define NS_DAEMON_NONE ((time_t)-2)

/* whether the environment must run at now: its window is open and this
 * opening has not been run yet, or a trigger fell due in it since; or a
 * blackout holds now and a trigger whose blackout was overridden fell due
 * since it last ran */
int ns_daemon_env_due(const struct ns_calendar *c,
		      const struct ns_daemon_env *s, time_t now);
/* the first moment after now when it must run; (time_t)-1 when none within
 * a year */
time_t ns_daemon_env_next(const struct ns_calendar *c,
			  const struct ns_daemon_env *s, time_t now);

#endif
