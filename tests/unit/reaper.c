/* reaper: a command's status passed on as it was; stopped, the command
 * and everything it detached go, one deaf to SIGTERM killed; no file of
 * the caller's held; the caller gone, the command goes too */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reaper.h"
#include "testutil.h"

static pid_t start(const char *cmd)
{
	pid_t self = getpid(), pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		ns_reaper_run(cmd, self);
	return pid;
}

static int status_of(const char *cmd)
{
	int status;

	assert_int_equal(waitpid(start(cmd), &status, 0) > 0, 1);
	return status;
}

static void test_status_passed_on(void **state)
{
	int st;

	(void)state;
	st = status_of("exit 7");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 7);
	st = status_of("true");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = status_of("exec 2>/dev/null; /nonexistent/command");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 127);
	st = status_of("kill -USR1 $$");
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGUSR1);
}

/* the pid a command wrote into path, once it is there (5 s at most) */
static pid_t pid_from(const char *path)
{
	const struct timespec tick = { 0, 20L * 1000 * 1000 };
	long pid = 0;

	for (int i = 0; i < 250 && pid <= 0; i++) {
		FILE *f = fopen(path, "r");

		if (f) {
			if (fscanf(f, "%ld", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid <= 0)
			nanosleep(&tick, NULL);
	}
	assert_true(pid > 0);
	return (pid_t)pid;
}

static void test_stop_takes_the_detached(void **state)
{
	char *dir = tu_scratch_new("reaper");
	char *cmd, *deaf_at = NULL, *mild_at = NULL;
	pid_t reaper, deaf, mild;
	int status;

	(void)state;
	assert_true(asprintf(&deaf_at, "%s/deaf", dir) > 0);
	assert_true(asprintf(&mild_at, "%s/mild", dir) > 0);
	/* two processes in sessions of their own, one ignoring SIGTERM,
	 * and the command itself waiting */
	assert_true(asprintf(&cmd,
			     "setsid -f sh -c 'trap \"\" TERM; echo $$ >%s; "
			     "exec sleep 300'; "
			     "setsid -f sh -c 'echo $$ >%s; exec sleep 300'; "
			     "sleep 300",
			     deaf_at, mild_at) > 0);
	reaper = start(cmd);
	deaf = pid_from(deaf_at);
	mild = pid_from(mild_at);
	assert_int_equal(kill(deaf, 0), 0);
	assert_int_equal(kill(mild, 0), 0);
	kill(reaper, SIGTERM);
	assert_int_equal(waitpid(reaper, &status, 0), reaper);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	/* reaped by the reaper: not even a zombie is left */
	assert_int_equal(kill(deaf, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(kill(mild, 0), -1);
	assert_int_equal(errno, ESRCH);
	free(cmd);
	free(deaf_at);
	free(mild_at);
	assert_int_equal(tu_scratch_free(dir), 0);
}

/* a file the caller has open, inheritable, is not the command's */
static void test_no_file_of_the_caller(void **state)
{
	int fd = open("/dev/null", O_RDONLY), st;
	char *cmd;

	(void)state;
	assert_true(fd > 2);
	assert_true(asprintf(&cmd, "test ! -e /proc/$$/fd/%d", fd) > 0);
	st = status_of(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	free(cmd);
	close(fd);
}

/* the caller killed: the reaper stops the command (and ends itself) */
static void test_caller_gone(void **state)
{
	char *dir = tu_scratch_new("reaper"), *at = NULL, *cmd;
	pid_t caller, reaper, sleeper;
	int status;

	(void)state;
	/* this process adopts what the caller leaves: the reaper */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	assert_true(asprintf(&at, "%s/pid", dir) > 0);
	assert_true(asprintf(&cmd, "echo $$ >%s; exec sleep 20", at) > 0);
	caller = fork();
	assert_true(caller >= 0);
	if (caller == 0) {
		start(cmd);
		pause();
		_exit(0);
	}
	sleeper = pid_from(at);
	kill(caller, SIGKILL);
	assert_int_equal(waitpid(caller, &status, 0), caller);
	/* the reaper, now this process's child, ends by SIGTERM */
	reaper = waitpid(-1, &status, 0);
	assert_true(reaper > 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_int_equal(kill(sleeper, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
	free(cmd);
	free(at);
	assert_int_equal(tu_scratch_free(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_passed_on),
		cmocka_unit_test(test_stop_takes_the_detached),
		cmocka_unit_test(test_no_file_of_the_caller),
		cmocka_unit_test(test_caller_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
