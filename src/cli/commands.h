/*
 * commands — one function per verb, each in cmd-<verb>.c. Each takes the
 * arguments after the verb (argv[0] is the verb) and returns the exit
 * status; only these and main turn errors into messages.
 */
#ifndef NS_CLI_COMMANDS_H
#define NS_CLI_COMMANDS_H

int cmd_init(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_schedule(int argc, char **argv);
int cmd_trigger(int argc, char **argv);
int cmd_window(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_windows(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_unblock(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_rfs(int argc, char **argv);
int cmd_resubmit(int argc, char **argv);
int cmd_qa(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_accept(int argc, char **argv);
int cmd_reject(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_archive(int argc, char **argv);
int cmd_warranty(int argc, char **argv);
int cmd_withdraw(int argc, char **argv);
int cmd_notify(int argc, char **argv);

#endif
