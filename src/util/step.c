#include "step.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef NS_TEST_HOOKS
static long steps;
static long crash_at = -1, fail_at = -1;
static int fail_errno = ENOSPC;
static int initialised;
static FILE *trace;

static void write_count(void)
{
	const char *f = getenv("NIGHTSHIFT_STEPS_FILE");
	FILE *fp;

	if (!f || !(fp = fopen(f, "w")))
		return;
	fprintf(fp, "%ld\n", steps);
	fclose(fp);
}

/* at start-up, so that a run of no steps still reports 0 */
__attribute__((constructor)) static void init(void)
{
	const char *s;

	initialised = 1;
	if ((s = getenv("NIGHTSHIFT_CRASH_AT")) && *s)
		crash_at = atol(s);
	if ((s = getenv("NIGHTSHIFT_FAIL_AT")) && *s) {
		const char *c = strchr(s, ':');
		fail_at = atol(s);
		if (c && !strcmp(c + 1, "EIO"))
			fail_errno = EIO;
		else if (c && !strcmp(c + 1, "EROFS"))
			fail_errno = EROFS;
	}
	if (getenv("NIGHTSHIFT_STEPS_FILE"))
		atexit(write_count);
	if ((s = getenv("NIGHTSHIFT_STEPS_TRACE")) && *s &&
	    (trace = fopen(s, "a")))
		setvbuf(trace, NULL, _IOLBF, 0);
}

int ns_step(const char *what)
{
	if (!initialised)
		init();
	steps++;
	if (trace)
		fprintf(trace, "%ld %s\n", steps, what);
	if (steps == crash_at) {
		if (getenv("NIGHTSHIFT_CRASH_VERBOSE"))
			fprintf(stderr, "crash at step %ld: %s\n", steps, what);
		kill(getpid(), SIGKILL);
	}
	if (steps == fail_at) {
		errno = fail_errno;
		return -1;
	}
	return 0;
}

long long ns_test_ms(const char *name, long long ms)
{
	char var[64];
	const char *s;

	snprintf(var, sizeof(var), "NIGHTSHIFT_TEST_MS_%s", name);
	return (s = getenv(var)) && *s ? atoll(s) : ms;
}
#else
int ns_step(const char *what)
{
	(void)what;
	return 0;
}

long long ns_test_ms(const char *name, long long ms)
{
	(void)name;
	return ms;
}
#endif
