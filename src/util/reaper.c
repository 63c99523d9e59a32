#include "reaper.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the parent of process pid, from /proc/PID/stat, or -1 */
static pid_t parent_of(const char *pid)
{
	char path[64], buf[512], *close_paren;
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "/proc/%s/stat", pid) >=
		    sizeof(path) ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, ')' too */
	if (!(close_paren = strrchr(buf, ')')) || strlen(close_paren) < 5)
		return -1;
	return (pid_t)strtol(close_paren + 4, NULL, 10);
}

/* sig to each child of this process and to its process group */
static void signal_children(int sig)
{
	pid_t self = getpid();
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
		    parent_of(e->d_name) == self) {
			pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);

			kill(-pid, sig); /* no such group: nothing */
			kill(pid, sig);
		}
	closedir(d);
}

/* reap every child that has ended: 1 while one is left */
static int reap_ended(void)
{
	pid_t p;

	while ((p = waitpid(-1, NULL, WNOHANG)) > 0)
		;
	return p == 0;
}

/* end killed by sig, as the caller is to see it (no core left) */
static _Noreturn void die_by(int sig)
{
	struct rlimit none = { 0, 0 };
	sigset_t set;

	setrlimit(RLIMIT_CORE, &none);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

/* end as the command ended */
static _Noreturn void end_as(int status)
{
	if (WIFSIGNALED(status))
		die_by(WTERMSIG(status));
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 126);
}

/* SIGTERM to all, again to those that become children meanwhile, then
 * SIGKILL after the grace period, until no child is left (or, should one
 * not die even so, a second later: the caller kills the group) */
static _Noreturn void stop_all(void)
{
	const struct timespec tick = { 0, 50L * 1000 * 1000 };
	long waited = 0;

	while (reap_ended() && waited < NS_REAPER_GRACE_MS + 1000) {
		signal_children(waited < NS_REAPER_GRACE_MS ? SIGTERM
							    : SIGKILL);
		nanosleep(&tick, NULL);
		waited += 50;
	}
	die_by(SIGTERM);
}

/* nothing of the caller's but standard input, output and error: a file
 * it holds open (its lock on the environment, above all) is not held on
 * by the reaper or the command when the caller is gone */
static void close_others(void)
{
	long max = sysconf(_SC_OPEN_MAX);

	if (close_range(3, ~0U, 0) == 0)
		return;
	for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
		close((int)fd);
}

_Noreturn void ns_reaper_run(const char *cmd, pid_t caller)
{
	sigset_t wait_for, none;
	pid_t child, p;
	int status;

	close_others();
	/* both waited for with sigwaitinfo, so neither is missed */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&none);
	sigemptyset(&wait_for);
	sigaddset(&wait_for, SIGCHLD);
	sigaddset(&wait_for, SIGTERM);
	sigprocmask(SIG_SETMASK, &wait_for, NULL);
	/* where it cannot (an old kernel), the command's group is all that
	 * is stopped, as without a reaper */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	/* the caller gone (killed, say), the command is stopped as at a
	 * timeout: its recovery is not to find it still at work on the
	 * site */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() != caller)
		raise(SIGTERM); /* it went before it could be asked */
	if ((child = fork()) < 0)
		_exit(126);
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		siginfo_t si;

		if (sigwaitinfo(&wait_for, &si) == SIGTERM)
			stop_all();
		/* a SIGCHLD may stand for several children */
		while ((p = waitpid(-1, &status, WNOHANG)) > 0)
			if (p == child)
				end_as(status);
	}
}
