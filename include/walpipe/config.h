/* config.h: the YAML configuration of one source: loading, validation, the typed result. */
#ifndef WALPIPE_CONFIG_H
#define WALPIPE_CONFIG_H

#include "walpipe/map.h"
#include "walpipe/mirror.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_refresh {
	char *view_schema, *view_table;
	int64_t every_ms;
	bool concurrently;
};

/* One mapping: the rule (what map_plan_new compiles) and its storage. */
struct config_mapping {
	struct map_rule rule;	   /* points into the fields below */
	char *from_schema, *from_table, *to_schema, *to_table;
	char **key;
	size_t nkey;
	struct map_column *cols;
	size_t ncols;
	char *where;
	char *soft_delete_column;
	bool kafka; /* produce this mapping's table to Kafka (default true) */
	int line;	/* where it starts in the file, for messages */
	int from_line, from_col, to_line, to_col;
};

/*
 * One mirror entry: every source table matching a pattern of from and
 * none of exclude is mirrored 1:1 into schema to (mirror.h), unless a
 * mapping names it (the mapping wins).  The texts are what a reload
 * compares; the parsed forms and spec are what the run uses.
 */
struct config_mirror {
	char **from;	/* patterns in mirror_pattern_append's text */
	size_t nfrom;
	char **exclude;
	size_t nexclude;
	struct mirror_pattern *from_p; /* parsed, nfrom of them */
	struct mirror_pattern *exclude_p;
	char *to;
	char *soft_delete_column;
	char **metadata;		/* "column: $meta", for the reload check */
	size_t nmetadata;
	struct mirror_meta_col *meta; /* parsed; targets point into metanames */
	char **metanames;
	bool kafka;				/* produce the mirrored tables to Kafka */
	int line;
	struct mirror_spec spec; /* points into the fields above */
};

struct config_kv {
	char *key, *value;
	int line, col;
};

/* source.plugin: the logical decoding output plugin the slot uses. */
enum config_plugin {
	CONFIG_PLUGIN_WAL2JSON = 0,
	CONFIG_PLUGIN_PGOUTPUT,
};

/*
 * process.scheduling: the CPU scheduling policy `walpipe run` takes.
 * batch: SCHED_BATCH, so that walpipe's wakeups on the walsender's every
 * message do not preempt the walsender (on a server sharing its cores);
 * inherit: the policy it was started with.
 */
enum config_scheduling {
	CONFIG_SCHED_BATCH = 0,
	CONFIG_SCHED_INHERIT,
};

struct wp_config {
	char *path;
	struct {
		char *name;
		char *conninfo;
		char *slot;
		bool create_slot;
		enum config_plugin plugin; /* the slot's output plugin */
		/* pgoutput: the publication as configured, or NULL; pubname is
		 * the one walpipe uses, that or walpipe_NAME (created for tables
		 * with the slot when create_slot) */
		char *publication;
		char *pubname;
		char **tables; /* ident_qualified text: public.users, public."User" */
		size_t ntables;
		int64_t status_interval_ms;
		int64_t heartbeat_ms; /* 0: off */
		char *state_dir; /* Kafka only: where the position file lives */
	} source;
	struct {
		char *conninfo;
		char *schema;
		int64_t statement_timeout_ms; /* per apply statement; 0: none */
	} target;
	struct {
		int64_t max_changes;
		int64_t max_bytes;
		int64_t max_delay_ms;
	} batch;
	struct {
		bool enabled;
		char *schema, *table;
		char *partition; /* day | week | month */
		int64_t premake;
		int64_t retention_ms; /* 0: keep forever */
		bool messages;		  /* stage logical messages */
		bool unmapped;		  /* stage tables without a mapping */
	} staging;
	struct config_mapping *mappings;
	size_t nmappings;
	struct config_refresh *refresh;
	size_t nrefresh;
	struct config_mirror *mirrors;
	size_t nmirrors;
	struct {
		char *mode;		 /* initial | never */
		int64_t workers; /* tables copied in parallel */
		char *op;		 /* staging op and $op of snapshot rows: r | I */
	} snapshot;
	/* Online backfills of mappings added or changed (docs/snapshots.md). */
	struct {
		bool automatic;		/* auto: register them at a session's start */
		int64_t chunk_size; /* rows per chunk (one analytics transaction) */
		int64_t max_rate;	/* rows/s at most, 0: unlimited */
	} backfill;
	struct {
		bool enabled;
		char *brokers;
		char *topic;
		char *format; /* debezium | wal2json */
		bool tombstones;
		/* Debezium's options (issue 20), see README */
		bool schemas;
		char *decimal_handling_mode;		 /* precise | string | double */
		char *time_precision_mode;			 /* adaptive | connect */
		char *interval_handling_mode;		 /* numeric | string */
		char *hstore_handling_mode;			 /* json | map */
		char *column_include_list;			 /* kafka_select.h */
		char *column_exclude_list;
		char *message_key_columns;
		char *unavailable_value_placeholder; /* "": leave TOAST out */
		char *messages_topic;				 /* logical decoding messages */
		bool transaction_metadata;
		char *transaction_topic;
		bool transactions; /* exactly-once: a transactional producer */
		bool dedupe_on_restart; /* skip what the topics already hold */
		struct config_kv *properties;
		size_t nproperties;
	} kafka;
	struct {
		char *listen; /* NULL: no metrics endpoint */
	} metrics;
	struct {
		char *format; /* json | text */
		char *level;  /* debug | info | notice | warning | error */
	} log;
	struct {
		enum config_scheduling scheduling;
	} process;
};

/* Every problem found in a file, in file order. */
struct config_errors {
	char **msg;
	size_t n;
};

/*
 * Every key, its type, default, bounds and reloadability is one row of
 * the configuration table in src/config_table.c; messages name keys by
 * their path (mappings[2].columns.user_id).
 *
 * Load and validate the configuration in path.  Returns the config, or
 * NULL with every problem of the file in *errs (each "FILE:LINE:COL:
 * KEY.PATH: message", naming the bad value and what is valid).  An
 * unreadable file gives one message and sets *unreadable (the caller's
 * "could not check", exit 2).  Pure apart from reading the file; never
 * logs.  Free with config_free and config_errors_free (both NULL-safe).
 */
struct wp_config *config_load(const char *path, struct config_errors *errs,
							  bool *unreadable);

/* The same from a string; name is used in messages. */
struct wp_config *config_load_string(const char *name, const char *text,
									 size_t len, struct config_errors *errs);

void config_free(struct wp_config *cfg);

/* The mappings' rules of cfg as one array (cfg->nmappings of them; the
 * rules point into cfg).  Caller frees the array. */
struct map_rule *config_rules(const struct wp_config *cfg);

/*
 * The mirror of m[0..nm) that takes source table schema.table: the first
 * whose from matches it and whose exclude does not, unless one of
 * rules[0..nrules) reads the table (a mapping wins over any mirror).
 * -1 when none does.  Pure.
 */
int config_mirror_of(const struct config_mirror *m, size_t nm,
					 const struct map_rule *rules, size_t nrules,
					 const char *schema, const char *table);

/*
 * The schemas pgoutput's publication must hold whole so that a table
 * created later in a mirror's reach is published without walpipe's help:
 * the schema part of every from pattern of m[0..nm), each once, in
 * order, into *schemas (exact names; the array is malloc'd, the strings
 * borrowed from m; NULL when none).  Returns true instead, with no
 * array, when a pattern's schema part has a '*' (*.audit_log): any
 * schema, present or future, may hold a mirrored table, so only FOR ALL
 * TABLES covers it.  Pure.
 */
bool config_mirror_schemas(const struct config_mirror *m, size_t nm,
						   const char ***schemas, size_t *nschemas);

/*
 * The keys that differ between old and cfg and cannot change while
 * walpipe runs (the rows of the configuration table, src/config_table.c,
 * without FIELD_RELOAD: where walpipe reads from and writes to, the
 * metrics address), as "section.key" in table order; a fixed key of a
 * list item would read "mappings[2].key" (today none is: mappings and
 * refreshes may come, go and change).  Returns their number; *keys is an
 * array the caller frees (each key too), NULL when none.  Pure, never
 * logs.
 */
size_t config_fixed_changes(const struct wp_config *old,
							const struct wp_config *cfg, char ***keys);

/* Free every message and empty errs (NULL-safe); errs itself is the
 * caller's. */
void config_errors_free(struct config_errors *errs);


/* The wal2json add-tables list of source.tables, escaped as wal2json
 * reads it (ident_append_w2j).  Caller frees. */
char *config_tables_list(const struct wp_config *cfg);

#endif
