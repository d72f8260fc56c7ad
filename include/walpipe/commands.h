/* commands.h: the subcommands of the walpipe executable. */
#ifndef WALPIPE_COMMANDS_H
#define WALPIPE_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

/* Each takes argv with argv[0] = the command name and returns the process
 * exit status (0 ok, 1 failed, 2 usage or could not run). */
int cmd_stream(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_plan(int argc, char **argv);

/*
 * walpipe plan's report, also printed by check --live: the mappings and
 * mirrors of cfg against the rules its source recorded as applied
 * (walpipe.applied_rules), added, changed (with the lines that differ),
 * removed, with row estimates and copy times, to out.  src and ana are
 * borrowed connections.  With quiet_when_unrecorded, prints nothing when
 * the source has recorded no rules.  Returns 0, 1 when a mirrored table
 * cannot be mirrored, 2 when a database could not be read (printed to
 * stderr).
 */
struct pg_conn;
struct wp_config;
int cmd_plan_report(const struct wp_config *cfg, struct pg_conn *src,
					struct pg_conn *ana, FILE *out,
					bool quiet_when_unrecorded);

/*
 * commands.c: what the subcommands share.  Shell code: these print to
 * stderr (or log, where said) and touch process-wide signal state.
 */
struct wp_config;

/*
 * Load path, printing every error to stderr, one a line, then vet it
 * (cmd_config_vet).  Returns the configuration, which the caller frees
 * with config_free, or NULL with the exit status in *status (1 invalid,
 * 2 unreadable; 0 on success).
 */
struct wp_config *cmd_config_load(const char *path, int *status);

/*
 * cmd_config_load, and when kafka, librdkafka also judges the kafka
 * properties (walpipe check).  *nerr (when not NULL): how many errors
 * were printed, a failed vet counting one.
 */
struct wp_config *cmd_config_load_checked(const char *path, bool kafka,
										  size_t *nerr, int *status);

/*
 * What only libpq and the file system can judge of a loaded file: each
 * conninfo must parse (its error printed without the string's pieces,
 * which could be a password: false), and a file that holds a password
 * should not be readable by group or others (a warning).  Prints to
 * stderr, or logs when log.
 */
bool cmd_config_vet(const struct wp_config *cfg, bool log);

/*
 * Install on_stop for SIGINT and SIGTERM and, when not NULL, on_hup for
 * SIGHUP, without SA_RESTART (a blocking poll() or read must return so
 * the loop sees the flag the handler sets); ignore SIGPIPE.  Call once,
 * from the main thread, before starting any thread.
 */
void cmd_signals_install(void (*on_stop)(int), void (*on_hup)(int));

/*
 * process.scheduling batch: switch the calling thread to SCHED_BATCH (its
 * reset-on-fork flag kept), which the threads it starts later inherit.
 * On a server where walpipe shares the cores with the source's
 * walsender, a default-policy walpipe waking on each of the walsender's
 * messages preempts it; as a batch task it waits for the walsender's
 * slice to end, reading more per wakeup (bench/README.md).  Leaves a
 * real-time or idle policy alone; a failure is a warning, never fatal.
 * Call from the main thread before starting any thread.
 */
void cmd_scheduling_apply(const struct wp_config *cfg);

#endif
