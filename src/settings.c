/* settings.c: what `walpipe run`, `snapshot` and `dlq` take from a loaded configuration. */
#include "walpipe/settings.h"

#include "walpipe/buf.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum log_level
level_of(const char *s)
{
	if (!strcmp(s, "debug"))
		return LOG_DEBUG;
	if (!strcmp(s, "notice"))
		return LOG_NOTICE;
	if (!strcmp(s, "warning"))
		return LOG_WARNING;
	if (!strcmp(s, "error"))
		return LOG_ERROR;
	return LOG_INFO;
}

struct run_state {
	struct wp_config *cfg;
	struct run_settings rs;
	struct map_rule *rules;
	bool *rule_kafka;
	struct sink_kafka_config kafka;
	char *tables;
	char retention[32];
	char *position_file;
};

void
run_state_free(struct run_state *st)
{
	if (st == NULL)
		return;
	free(st->rules);
	free(st->rule_kafka);
	free(st->tables);
	free(st->position_file);
	config_free(st->cfg);
	free(st);
}

const struct run_settings *
run_state_settings(const struct run_state *st)
{
	return &st->rs;
}

const struct wp_config *
run_state_config(const struct run_state *st)
{
	return st->cfg;
}

struct run_state *
run_state_new(struct wp_config *cfg, bool allow_ahead)
{
	struct run_state *st = wp_calloc(1, sizeof(*st));
	struct run_settings *rs = &st->rs;

	st->cfg = cfg;
	st->rules = config_rules(cfg);
	st->rule_kafka = wp_calloc(cfg->nmappings ? cfg->nmappings : 1,
							   sizeof(*st->rule_kafka));
	for (size_t i = 0; i < cfg->nmappings; i++)
		st->rule_kafka[i] = cfg->mappings[i].kafka;
	if (cfg->kafka.enabled) {
		sink_kafka_config_from(&st->kafka, cfg);
		rs->kafka = &st->kafka;
	}
	rs->rule_kafka = st->rule_kafka;
	st->tables = config_tables_list(cfg);
	rs->source_name = cfg->source.name;
	if (cfg->target.conninfo == NULL) {
		struct buf pf = BUF_INIT;

		buf_appendf(&pf, "%s/%s.position", cfg->source.state_dir,
					cfg->source.name);
		st->position_file = pf.data;
		rs->position_file = st->position_file;
	}
	rs->source_conninfo = cfg->source.conninfo;
	rs->slot = cfg->source.slot;
	rs->create_slot = cfg->source.create_slot;
	rs->pgoutput = cfg->source.plugin == CONFIG_PLUGIN_PGOUTPUT;
	rs->publication = cfg->source.pubname;
	rs->source_tables = cfg->source.tables;
	rs->nsource_tables = cfg->source.ntables;
	rs->tables = st->tables;
	rs->target_conninfo = cfg->target.conninfo;
	rs->target_schema = cfg->target.schema;
	rs->statement_timeout_ms = cfg->target.statement_timeout_ms;
	rs->max_changes = (size_t) cfg->batch.max_changes;
	rs->max_bytes = (size_t) cfg->batch.max_bytes;
	rs->max_delay_ms = (int) cfg->batch.max_delay_ms;
	if (cfg->staging.enabled) {
		rs->staging_schema = cfg->staging.schema;
		rs->staging_table = cfg->staging.table;
		rs->partition_unit = cfg->staging.partition;
		rs->premake = (int) cfg->staging.premake;
		if (cfg->staging.retention_ms) {
			snprintf(st->retention, sizeof(st->retention),
					 "%lld milliseconds",
					 (long long) cfg->staging.retention_ms);
			rs->retention = st->retention;
		}
		rs->stage_messages = cfg->staging.messages;
		rs->stage_unmapped = cfg->staging.unmapped;
	}
	rs->rules = st->rules;
	rs->nrules = cfg->nmappings;
	rs->mirrors = cfg->mirrors;
	rs->nmirrors = cfg->nmirrors;
	rs->refresh = cfg->refresh;
	rs->nrefresh = cfg->nrefresh;
	rs->allow_slot_ahead = allow_ahead;
	rs->status_interval_ms = (int) cfg->source.status_interval_ms;
	rs->heartbeat_ms = (int) cfg->source.heartbeat_ms;
	rs->snapshot_initial = strcmp(cfg->snapshot.mode, "initial") == 0;
	rs->snapshot_workers = (int) cfg->snapshot.workers;
	rs->snapshot_op = cfg->snapshot.op[0];
	rs->backfill_auto = cfg->backfill.automatic;
	rs->backfill_chunk = (size_t) cfg->backfill.chunk_size;
	rs->backfill_max_rate = cfg->backfill.max_rate;
	log_configure(level_of(cfg->log.level), strcmp(cfg->log.format, "json") == 0,
				  cfg->source.name);
	return st;
}

void
run_sink_config(const struct run_settings *rs, struct sink_pg_config *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->conninfo = rs->target_conninfo;
	sc->schema = rs->target_schema;
	sc->source = rs->source_name;
	sc->staging_schema = rs->staging_schema;
	sc->staging_table = rs->staging_table;
	sc->partition_unit = rs->partition_unit;
	sc->premake = rs->premake;
	sc->retention = rs->retention;
	sc->stage_messages = rs->stage_messages;
	sc->statement_timeout_ms = rs->statement_timeout_ms;
}
