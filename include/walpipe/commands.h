/* commands.h: the subcommands of the walpipe executable. */
#ifndef WALPIPE_COMMANDS_H
#define WALPIPE_COMMANDS_H

/* Each takes argv with argv[0] = the command name and returns the process
 * exit status (0 ok, 1 failed, 2 usage or could not run). */
int cmd_stream(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_status(int argc, char **argv);

#endif
