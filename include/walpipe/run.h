/* run.h: the apply loop of `walpipe run`: stream, batch, apply, checkpoint, confirm. */
#ifndef WALPIPE_RUN_H
#define WALPIPE_RUN_H

#include "walpipe/config.h"
#include "walpipe/map.h"
#include "walpipe/metrics.h"
#include "walpipe/sink_kafka.h"
#include "walpipe/sink_pg.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Everything the loop needs, taken from the configuration (borrowed). */
struct run_settings {
	const char *source_name;
	/* Kafka only (no target): the position file, posfile.h. */
	const char *position_file;
	const char *source_conninfo;
	const char *slot;
	bool create_slot;
	const char *tables; /* wal2json add-tables list, NULL: all */
	const char *target_conninfo;
	const char *target_schema;
	int64_t statement_timeout_ms; /* target.statement_timeout, 0: none */
	size_t max_changes;
	size_t max_bytes;
	int max_delay_ms;
	const char *staging_schema; /* NULL: no staging */
	const char *staging_table;
	const char *partition_unit;
	int premake;
	const char *retention; /* interval text or NULL */
	bool stage_messages;
	bool stage_unmapped;   /* stage changes of tables without a mapping */
	const struct map_rule *rules;
	size_t nrules;
	const struct config_refresh *refresh; /* materialized views */
	size_t nrefresh;
	bool allow_slot_ahead;
	int status_interval_ms;
	int heartbeat_ms; /* 0: off */
	/* Kafka beside the analytics sink; NULL: off.  rule_kafka[i] says
	 * whether rules[i]'s table goes to Kafka (a table without a rule
	 * does). */
	const struct sink_kafka_config *kafka;
	const bool *rule_kafka;
	bool snapshot_initial; /* copy existing rows on a source's first start */
	int snapshot_workers;
	char snapshot_op;
};

/* How the caller steers the loop: flags set by signal handlers. */
struct run_control {
	volatile sig_atomic_t *stop;   /* finish the batch, commit, return 0 */
	volatile sig_atomic_t *reload; /* finish the batch, then reload_fn */
	/* Returns the settings to run with from now on, or NULL to keep the
	 * current ones (an invalid file, a key that cannot change live). */
	const struct run_settings *(*reload_fn)(void *arg);
	void *arg;
	struct metrics *metrics; /* NULL: no metrics endpoint */
};

/*
 * Run until *ctl->stop is set (then finish the batch in hand, commit,
 * confirm, and return 0) or an error that retrying cannot fix (return 1,
 * logged).  Connection failures are logged and retried with capped
 * exponential backoff.  When *ctl->reload is set the batch in hand is
 * committed and the session restarts with what reload_fn returns.  Logs.
 */
int run_loop(const struct run_settings *rs, const struct run_control *ctl);


/* The analytics sink's settings of rs (strings borrowed from rs). */
void run_sink_config(const struct run_settings *rs, struct sink_pg_config *out);

#endif
