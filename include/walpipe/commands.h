/* commands.h: the subcommands of the walpipe executable. */
#ifndef WALPIPE_COMMANDS_H
#define WALPIPE_COMMANDS_H

#include <stdbool.h>

/* Each takes argv with argv[0] = the command name and returns the process
 * exit status (0 ok, 1 failed, 2 usage or could not run). */
int cmd_stream(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);

/* cmd_run.c: loading a configuration for a command. */
struct wp_config;
/* Load path, printing every error to stderr; NULL with the exit status
 * in *status (1 invalid, 2 unreadable). */
struct wp_config *cmd_config_load(const char *path, int *status);
/*
 * What only libpq and the file system can judge of a loaded file: each
 * conninfo must parse (its error printed without the string's pieces,
 * which could be a password: false), and a file that holds a password
 * should not be readable by group or others (a warning).  Prints to
 * stderr, or logs when log.
 */
bool cmd_config_vet(const struct wp_config *cfg, bool log);

#endif
