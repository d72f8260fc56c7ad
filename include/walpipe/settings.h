/* settings.h: what `walpipe run`, `snapshot` and `dlq` take from a loaded configuration. */
#ifndef WALPIPE_SETTINGS_H
#define WALPIPE_SETTINGS_H

#include "walpipe/config.h"
#include "walpipe/map.h"
#include "walpipe/sink_kafka.h"
#include "walpipe/sink_pg.h"

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
	bool pgoutput;			 /* source.plugin: pgoutput */
	const char *publication; /* pgoutput: source.publication */
	/* source.tables as SQL names (public."User"), for the publication */
	char *const *source_tables;
	size_t nsource_tables;
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
	/* Whole-database mirrors (config.h): their tables' rules are added
	 * per session, from the source catalog (run_mirror.c). */
	const struct config_mirror *mirrors;
	size_t nmirrors;
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
	bool backfill_auto;
	size_t backfill_chunk;
	int64_t backfill_max_rate; /* rows/s, 0: unlimited */
};

/*
 * A loaded configuration and the run settings that borrow from it.
 * run_state_new takes ownership of cfg and configures logging (level,
 * format, source name); free with run_state_free (NULL-safe), which frees
 * cfg too.  The settings stay valid until then.
 */
struct run_state;
struct run_state *run_state_new(struct wp_config *cfg, bool allow_ahead);
const struct run_settings *run_state_settings(const struct run_state *st);
const struct wp_config *run_state_config(const struct run_state *st);
void run_state_free(struct run_state *st);

/* The analytics sink's settings of rs (strings borrowed from rs). */
void run_sink_config(const struct run_settings *rs, struct sink_pg_config *out);

#endif
