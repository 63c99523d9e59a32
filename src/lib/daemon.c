#include "daemon.h"
#include "error.h"
#include "fsx.h"
#include "lifecycle.h"
#include "notify.h"
#include "runner.h"
#include "strbuf.h"
#include "timefmt.h"
#include "window.h"
#include "xalloc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

/* a burst of spool events (a trigger written, then its registry row) is
 * planned once it has been quiet this long */
#define SETTLE_MS 300

/* ---- the next event -------------------------------------------------- */

/* when an overridden trigger must run: at its due time, or now when that
 * passed unrun, as long as a blackout holds then (after the blackout it is
 * an ordinary due trigger); -1 when none */
static time_t override_at(const struct ns_calendar *c,
			  const struct ns_daemon_env *s, time_t now)
{
	time_t t;

	if (s->override_due == (time_t)-1 || s->override_due <= s->acted)
		return (time_t)-1;
	t = s->override_due > now ? s->override_due : now;
	return ns_calendar_blackout(c, t) ? t : (time_t)-1;
}

int ns_daemon_env_due(const struct ns_calendar *c,
		      const struct ns_daemon_env *s, time_t now)
{
	time_t close;

	if (!ns_calendar_open(c, now, &close))
		return override_at(c, s, now) == now;
	if (s->handled != close)
		return 1;
	return s->due != (time_t)-1 && s->due <= now && s->due > s->acted;
}

time_t ns_daemon_env_next(const struct ns_calendar *c,
			  const struct ns_daemon_env *s, time_t now)
{
	time_t close, next, due = (time_t)-1;

	if (!ns_calendar_open(c, now, &close)) {
		time_t o = override_at(c, s, now);

		next = ns_calendar_next(c, now, NULL);
		return o != (time_t)-1 && (next == (time_t)-1 || o < next)
			       ? o
			       : next;
	}
	if (s->handled != close)
		return now;
	if (s->due != (time_t)-1 && s->due > s->acted)
		due = s->due > now ? s->due : now;
	if (close == (time_t)-1)
		return due;
	if (due != (time_t)-1 && due < close)
		return due;
	next = ns_calendar_next(c, close, NULL);
	/* the same opening seen again (a window and its blackout end at the
	 * same moment): the next one after it */
	return next;
}

/* ---- the daemon's state ------------------------------------------------ */

struct env_state {
	char *name;
	struct ns_calendar *cal;
	struct ns_daemon_env s;
	time_t pruned; /* when its archives were last pruned; 0: not yet */
};

struct state {
	struct ns_daemon *d;
	struct env_state *envs;
	size_t nr;
	int sigfd, inofd;
	int stopping, reload;
	int worst;
	time_t notify_retry; /* when waiting notices are tried again, or -1 */
};

static void dlog(struct ns_daemon *d, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void dlog(struct ns_daemon *d, int prio, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (d->log)
		d->log(d->data, prio, sb.buf);
	strbuf_release(&sb);
}

static void envs_free(struct state *st)
{
	for (size_t i = 0; i < st->nr; i++) {
		free(st->envs[i].name);
		ns_calendar_free(st->envs[i].cal);
	}
	free(st->envs);
	st->envs = NULL;
	st->nr = 0;
}

/* the calendars of cfg, keeping what is known of the environments that
 * were there before */
static int envs_build(struct state *st, const struct ns_config *cfg)
{
	struct env_state *v = xcalloc(cfg->envs_nr + 1, sizeof(*v));
	int ret = 0;
	size_t i;

	for (i = 0; i < cfg->envs_nr && !ret; i++) {
		const struct ns_env *e = &cfg->envs[i];
		v[i].name = xstrdup(e->name);
		v[i].s = (struct ns_daemon_env){ NS_DAEMON_NONE, 0, (time_t)-1,
						 (time_t)-1 };
		for (size_t k = 0; k < st->nr; k++)
			if (!strcmp(st->envs[k].name, e->name)) {
				v[i].s = st->envs[k].s;
				v[i].pruned = st->envs[k].pruned;
			}
		ret = ns_calendar_new(&v[i].cal, e);
	}
	if (ret < 0) {
		for (size_t k = 0; k < i; k++) {
			free(v[k].name);
			ns_calendar_free(v[k].cal);
		}
		free(v);
		return ret;
	}
	envs_free(st);
	st->envs = v;
	st->nr = cfg->envs_nr;
	return 0;
}

/* ---- signals and the spool ------------------------------------------- */

static int signals_open(struct state *st)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (st->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		ns_error_set("cannot receive signals: %s", strerror(errno));
		return NS_ERROR;
	}
	return 0;
}

/* read what signals arrived; nonzero when one did */
static int signals_read(struct state *st)
{
	struct signalfd_siginfo si;
	int any = 0;

	while (read(st->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		any = 1;
		if (si.ssi_signo == SIGHUP) {
			st->reload = 1;
			continue;
		}
		if (!st->stopping)
			dlog(st->d, LOG_NOTICE,
			     "%s: starting nothing new; a migration under way "
			     "finishes or rolls back",
			     strsignal((int)si.ssi_signo));
		st->stopping = 1;
	}
	return any;
}

static int spool_watch(struct state *st)
{
	const struct ns_config *cfg = st->d->cfg;
	int ret = 0;

	if (st->inofd >= 0)
		close(st->inofd);
	if ((st->inofd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0) {
		ns_error_set("inotify: %s", strerror(errno));
		return NS_ERROR;
	}
	for (size_t i = 0; i < cfg->envs_nr && !ret; i++) {
		char *dir = ns_env_dir(cfg->spool, &cfg->envs[i]);
		ret = ns_fsx_mkdir_p(dir, 0755);
		if (!ret && inotify_add_watch(st->inofd, dir,
					      IN_MOVED_TO | IN_CLOSE_WRITE |
						      IN_DELETE) < 0) {
			ns_error_set("cannot watch %s: %s", dir,
				     strerror(errno));
			ret = NS_ERROR;
		}
		free(dir);
	}
	return ret;
}

static int spool_drain(struct state *st)
{
	char buf[4096]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	int any = 0;

	while (read(st->inofd, buf, sizeof(buf)) > 0)
		any = 1;
	return any;
}

/* the runner asks before each trigger */
static int stop_asked(void *data)
{
	struct state *st = data;

	signals_read(st);
	return st->stopping;
}

static void run_say(void *data, const char *line)
{
	struct state *st = data;

	st->d->log(st->d->data, LOG_INFO, line);
}

static void run_warn(void *data, const char *line)
{
	struct state *st = data;

	st->d->log(st->d->data, LOG_WARNING, line);
}

/* ---- acting ------------------------------------------------------------ */

static int rank(int code)
{
	return code == 0				 ? 0
	       : code == NS_EFAILED || code == NS_EDRIFT ? 1
	       : code == NS_EINVALID			 ? 2
	       : code == NS_ELOCKED			 ? 3
							 : 4;
}

static int load_due(struct state *st)
{
	json_t *rows = NULL, *x;
	size_t i;
	int ret = ns_registry_query(st->d->reg, &rows,
				    "SELECT environment, MIN(due_at) AS due, "
				    "MIN(CASE WHEN EXISTS (SELECT 1 FROM "
				    "events v WHERE v.enhancement = "
				    "t.enhancement AND v.revision = t.revision "
				    "AND v.environment = t.environment AND "
				    "v.event = 'blackout-overridden') THEN "
				    "due_at END) AS override_due "
				    "FROM triggers t WHERE state = 'pending' "
				    "GROUP BY environment",
				    NULL);

	for (size_t k = 0; k < st->nr; k++)
		st->envs[k].s.due = st->envs[k].s.override_due = (time_t)-1;
	json_array_foreach(rows, i, x)
	{
		const char *env =
			json_string_value(json_object_get(x, "environment"));
		const char *due = json_string_value(json_object_get(x, "due"));
		const char *over =
			json_string_value(json_object_get(x, "override_due"));
		time_t t;
		for (size_t k = 0; env && due && k < st->nr; k++) {
			if (strcmp(st->envs[k].name, env))
				continue;
			if (!ns_time_parse(&t, due))
				st->envs[k].s.due = t;
			if (over && !ns_time_parse(&t, over))
				st->envs[k].s.override_due = t;
		}
	}
	json_decref(rows);
	return ret;
}

static int run_env(struct state *st, struct env_state *es, time_t now)
{
	struct ns_daemon *d = st->d;
	struct ns_runner r = { .cfg = d->cfg,
			       .reg = d->reg,
			       .user = d->user,
			       .say = run_say,
			       .warn = run_warn,
			       .data = st,
			       .notice_once = 1,
			       .stop = stop_asked };
	time_t close = (time_t)-1;
	char local[NS_LOCAL_LEN];
	int ret;

	if (!ns_calendar_open(es->cal, now, &close))
		dlog(d, LOG_NOTICE,
		     "%s: in a blackout; a trigger whose "
		     "blackout was overridden is due",
		     es->name);
	else {
		if (es->s.handled != close && close == (time_t)-1)
			dlog(d, LOG_INFO, "%s: open (no window)", es->name);
		else if (es->s.handled != close) {
			ns_calendar_local(local, es->cal, close, 0);
			dlog(d, LOG_INFO, "%s: window open until %s", es->name,
			     local);
		}
		es->s.handled = close;
	}
	es->s.acted = now;
	/* its failures are reported through run_warn */
	ret = ns_runner_window(&r, es->name);
	/* the archives no rollback needs any more: in the window, after its
	 * runs, once a day (an environment locked or blocked then waits) */
	if (!st->stopping && (!es->pruned || now - es->pruned >= 86400)) {
		es->pruned = now;
		ns_runner_prune(&r, es->name);
	}
	return ret;
}

static int warranties(struct state *st)
{
	json_t *done = NULL, *x;
	size_t i;
	int ret = ns_lifecycle_warranty(st->d->cfg, st->d->reg, st->d->user,
					&done);

	json_array_foreach(done, i, x) dlog(
		st->d, LOG_INFO,
		"ENH-%lld r%lld complete (CP) in %s: its warranty ended",
		(long long)json_integer_value(json_object_get(x, "id")),
		(long long)json_integer_value(json_object_get(x, "revision")),
		json_string_value(json_object_get(x, "environment")));
	json_decref(done);
	if (ret < 0)
		dlog(st->d, LOG_ERR, "warranty: %s", ns_error_last());
	return ret;
}

static time_t next_warranty(struct state *st, time_t now)
{
	json_t *row = NULL;
	time_t t = (time_t)-1;
	char iso[NS_TIME_LEN];

	ns_time_iso(iso, now);
	if (!ns_registry_query_row(st->d->reg, &row,
				   "SELECT MIN(warranty_until) AS t FROM "
				   "enhancements WHERE state = 'WP' AND "
				   "warranty_until > ?",
				   "s", iso) &&
	    row && json_string_value(json_object_get(row, "t")))
		ns_time_parse(&t, json_string_value(json_object_get(row, "t")));
	json_decref(row);
	return t;
}

static void closed(struct state *st, struct env_state *es, time_t now)
{
	char local[NS_LOCAL_LEN];
	time_t next = ns_calendar_next(es->cal, now, NULL);

	if (next == (time_t)-1) {
		dlog(st->d, LOG_INFO, "%s: closed, no opening within a year",
		     es->name);
		return;
	}
	ns_calendar_local(local, es->cal, next, 0);
	dlog(st->d, LOG_INFO, "%s: closed, opens %s", es->name, local);
}

/* the notices waiting in the outbox whose attempt is due; while some wait,
 * the daemon looks again after the shortest backoff (ns_notify_backoff) */
static void deliver(struct state *st)
{
	struct ns_deliver_report rep = NS_DELIVER_REPORT_INIT;
	time_t now = ns_now();
	int ret = ns_notify_deliver(st->d->cfg, now, 0, &rep);

	st->notify_retry = (time_t)-1;
	if (ret < 0 && ret != NS_ELOCKED)
		dlog(st->d, LOG_ERR, "notify: %s", ns_error_last());
	else if (rep.sent || rep.failed)
		dlog(st->d, rep.failed ? LOG_WARNING : LOG_INFO,
		     "notify: %d delivered, %d attempts failed, %d waiting",
		     rep.sent, rep.failed, rep.waiting);
	if (rep.configured && (rep.waiting || ret == NS_ELOCKED))
		st->notify_retry = now + ns_notify_backoff(0);
	ns_deliver_report_release(&rep);
}

/* one wake-up: every environment that must run, the warranties, then the
 * notices */
static void act(struct state *st)
{
	time_t now = ns_now();

	if (load_due(st) < 0)
		dlog(st->d, LOG_ERR, "registry: %s", ns_error_last());
	for (size_t i = 0; i < st->nr && !st->stopping; i++) {
		struct env_state *es = &st->envs[i];
		int ret;
		if (!ns_daemon_env_due(es->cal, &es->s, now)) {
			if (st->d->once)
				closed(st, es, now);
			continue;
		}
		ret = run_env(st, es, now);
		if (rank(ret) > rank(st->worst))
			st->worst = ret;
	}
	if (!st->stopping)
		warranties(st);
	if (!st->stopping)
		deliver(st);
}

static time_t next_event(struct state *st, const char **why)
{
	time_t now = ns_now(), best = (time_t)-1, t;

	if (load_due(st) < 0)
		dlog(st->d, LOG_ERR, "registry: %s", ns_error_last());
	*why = NULL;
	for (size_t i = 0; i < st->nr; i++) {
		t = ns_daemon_env_next(st->envs[i].cal, &st->envs[i].s, now);
		if (t != (time_t)-1 && (best == (time_t)-1 || t < best)) {
			best = t;
			*why = st->envs[i].name;
		}
	}
	t = next_warranty(st, now);
	if (t != (time_t)-1 && (best == (time_t)-1 || t < best)) {
		best = t;
		*why = "a warranty ends";
	}
	t = st->notify_retry;
	if (t != (time_t)-1 && (best == (time_t)-1 || t < best)) {
		best = t;
		*why = "notices wait for delivery";
	}
	return best;
}

/* ---- sleeping ------------------------------------------------------------ */

static void reload(struct state *st)
{
	struct ns_daemon *d = st->d;
	struct ns_config fresh = NS_CONFIG_INIT, old;
	int ret;

	st->reload = 0;
	if ((ret = ns_config_load(&fresh, d->config_path)) == 0 &&
	    strcmp(fresh.registry, d->cfg->registry)) {
		ns_error_set("%s: the registry cannot change under a running "
			     "daemon (%s, was %s)",
			     d->config_path, fresh.registry, d->cfg->registry);
		ret = NS_EINVALID;
	}
	if (!ret)
		ret = envs_build(st, &fresh);
	if (ret < 0) {
		dlog(d, LOG_ERR,
		     "SIGHUP: configuration refused, the old one stays: %s",
		     ns_error_last());
		ns_config_release(&fresh);
		return;
	}
	old = *d->cfg;
	*d->cfg = fresh;
	ns_config_release(&old);
	if (spool_watch(st) < 0)
		dlog(d, LOG_ERR, "%s", ns_error_last());
	dlog(d, LOG_NOTICE, "SIGHUP: configuration reloaded from %s",
	     d->config_path);
}

/* wait for the clock to show `at` (or forever, at -1), a signal or a spool
 * change; returns 1 when the spool changed */
static int sleep_until(struct state *st, time_t at)
{
	struct pollfd p[2] = { { st->sigfd, POLLIN, 0 },
			       { st->inofd, POLLIN, 0 } };
	long long ms = at == (time_t)-1 ? -1 : ns_clock_real_ms(at);
	struct timespec ts;
	int n, spool = 0;

	if (ms < 0 || ms > NS_DAEMON_MAX_SLEEP_MS)
		ms = NS_DAEMON_MAX_SLEEP_MS;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	n = ppoll(p, 2, &ts, NULL);
	if (n < 0 && errno != EINTR)
		dlog(st->d, LOG_ERR, "ppoll: %s", strerror(errno));
	if (n > 0 && (p[0].revents & POLLIN))
		signals_read(st);
	if (n > 0 && (p[1].revents & POLLIN)) {
		/* let the burst end: the registry row follows the file */
		ts = (struct timespec){ 0, SETTLE_MS * 1000000L };
		spool = spool_drain(st);
		while (ppoll(&p[1], 1, &ts, NULL) > 0 && spool_drain(st))
			;
	}
	return spool;
}

static int daemon_lock(struct ns_daemon *d, int *fd)
{
	char *path = xprintf("%s/daemon.lock", d->cfg->locks);
	int ret = ns_fsx_mkdir_p(d->cfg->locks, 0755);

	if (!ret)
		ret = ns_fsx_lock(fd, path, "the daemon of this registry");
	if (ret == NS_ELOCKED)
		ns_error_set("another nightshift daemon runs for this registry "
			     "(it holds %s)",
			     path);
	free(path);
	return ret;
}

int ns_daemon_run(struct ns_daemon *d)
{
	struct state st = { d, NULL, 0, -1, -1, 0, 0, 0, (time_t)-1 };
	int lockfd = -1, ret;
	char iso[NS_TIME_LEN];
	const char *why;
	time_t next;

	if ((ret = daemon_lock(d, &lockfd)) < 0)
		return ret;
	if (!(ret = envs_build(&st, d->cfg)) && !(ret = signals_open(&st)))
		ret = spool_watch(&st);
	if (ret < 0)
		goto done;
	dlog(d, LOG_INFO, "%s: %zu environment(s)%s",
	     d->once ? "once" : "started", st.nr, d->once ? "" : ", waiting");
	while (!st.stopping) {
		if (st.reload)
			reload(&st);
		act(&st);
		if (d->once || st.stopping)
			break;
		next = next_event(&st, &why);
		if (next != (time_t)-1) {
			ns_time_iso(iso, next);
			dlog(d, LOG_DEBUG, "sleeping until %s (%s)", iso, why);
		}
		if (sleep_until(&st, next)) {
			dlog(d, LOG_INFO, "spool changed: planning again");
			for (size_t i = 0; i < st.nr; i++)
				st.envs[i].s.acted = 0;
		}
	}
	dlog(d, LOG_INFO, "%s", st.stopping ? "stopped" : "done");
	d->worst = st.worst;
	ret = 0;
done:
	envs_free(&st);
	if (st.sigfd >= 0)
		close(st.sigfd);
	if (st.inofd >= 0)
		close(st.inofd);
	close(lockfd);
	return ret;
}
