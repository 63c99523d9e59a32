/*
 * step — the count of mutating steps, for kill-point and fault tests.
 *
 * Every write, fsync, rename, unlink, mkdir, rmdir and SQL statement that
 * changes a target, an archive or a journal calls ns_step() just before it
 * acts. In a build with test hooks (meson -Dtest_hooks=true):
 *   NIGHTSHIFT_CRASH_AT=N   the Nth step kills the process with SIGKILL
 *   NIGHTSHIFT_FAIL_AT=N[:E] the Nth step fails with errno E (ENOSPC, EIO,
 *                           EROFS; default ENOSPC), as a full disk would
 *   NIGHTSHIFT_STEPS_FILE=F at exit, the number of steps taken is written
 *                           to F
 *   NIGHTSHIFT_STEPS_TRACE=F each step appends "N WHAT" to F (the kill-point
 *                           tests pick the SQL statements out of it)
 *   NIGHTSHIFT_TEST_MS_name=N ns_test_ms("name", dflt) returns N instead
 *                           of dflt (a wait shortened for a test)
 * Without test hooks ns_step() only returns 0, ns_test_ms() its dflt.
 */
#ifndef NS_STEP_H
#define NS_STEP_H

/* 0 to go on; -1 with errno set where a failure is injected */
int ns_step(const char *what);

/* a duration of ms milliseconds, which a test may shorten (above) */
long long ns_test_ms(const char *name, long long ms);

#endif
