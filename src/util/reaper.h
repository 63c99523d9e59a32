/*
 * reaper — run a shell command so that all it starts can be stopped.
 *
 * A verify command runs in a process group of its own, and stopping the
 * group stops what the command started in the usual way. A process that
 * leaves the group (setsid(1), a daemon that detaches itself) would not
 * be stopped with it and would outlive a command stopped for running too
 * long. So the forked child that is to run the command stays in between:
 * it becomes a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER), which
 * makes every process the command leaves behind its child however it
 * detached, starts the command and waits for it. It keeps no file of the
 * caller's open but 0, 1 and 2, so the command inherits no other, and it
 * gets SIGTERM when the caller ends (PR_SET_PDEATHSIG): a caller killed
 * mid-command takes the command with it.
 *
 * - The command ends: the reaper ends with the command's status (the same
 *   exit code, or the same signal); what the command left running is left
 *   running, as it would be without the reaper.
 * - The reaper receives SIGTERM (the caller's timeout): every process it
 *   has as a child, and the process group of each, gets SIGTERM; those
 *   still there NS_REAPER_GRACE_MS later get SIGKILL, and so does every
 *   process that becomes its child meanwhile, until none is left (a
 *   second at most). Then the reaper ends, killed by SIGTERM.
 */
#ifndef NS_REAPER_H
#define NS_REAPER_H

#include <sys/types.h>

/* how long the processes of a stopped command have to end on SIGTERM */
#define NS_REAPER_GRACE_MS 5000

/* in a child forked by caller (its pid, taken before the fork), alone in
 * it (no other thread): runs /bin/sh -c cmd as described above and never
 * returns */
_Noreturn void ns_reaper_run(const char *cmd, pid_t caller);

#endif
