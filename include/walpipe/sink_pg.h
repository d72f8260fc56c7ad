/* sink_pg.h: the analytics PostgreSQL sink: schema, checkpoints, set-based apply. */
#ifndef WALPIPE_SINK_PG_H
#define WALPIPE_SINK_PG_H

/*
 * One handle, one analytics connection, used by one thread at a time (the
 * applier's while a job is in flight: applier.h).  Its code is split by
 * responsibility: sink_pg.c (open, close, the batch transaction, foreign
 * key order), sink_schema.c (install, upgrade, staging partitions),
 * sink_checkpoint.c (the checkpoint row), sink_stage.c (staging COPY),
 * sink_facts.c (fact statements, truncates), sink_dlq.c (dead letters),
 * sink_refresh.c (materialized views), sink_snapshot.c (snapshot
 * transactions), sink_rules.c (the rules recorded for walpipe plan); src/sink_pg_int.h is what they share.  Nothing here
 * logs: failures come back as enum sink_result with the reason in the
 * caller's errbuf.
 */

#include "walpipe/batch.h"
#include "walpipe/checkpoint.h"
#include "walpipe/collapse.h"
#include "walpipe/lsn.h"
#include "walpipe/map.h"
#include "walpipe/target.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sink_result {
	SINK_OK = 0,
	SINK_RETRY, /* connection lost or transient: reconnect, resume at ckpt */
	SINK_FATAL, /* a data contract or configuration error */
	SINK_BUSY,	/* a backfill holds the checkpoint: keep the batch, retry */
};

struct sink_pg_config {
	const char *conninfo;
	const char *schema;			/* walpipe's own schema, e.g. "walpipe" */
	const char *source;			/* source name: the checkpoint's key */
	const char *staging_schema; /* NULL: no staging table */
	const char *staging_table;
	const char *partition_unit; /* day | week | month */
	int premake;
	const char *retention;		/* interval text, or NULL: keep forever */
	bool stage_messages;		/* logical messages into staging too */
	/* statement_timeout of each apply transaction (SET LOCAL), 0: none:
	 * a stuck statement fails instead of holding the apply forever. */
	int64_t statement_timeout_ms;
};

struct sink_stats {
	uint64_t staged;
	uint64_t applied;	   /* fact rows affected */
	uint64_t dead_letters;
	uint64_t statements;
};

struct sink_pg;

/*
 * Connect, create or upgrade walpipe's schema (under an advisory lock),
 * and the staging table with its partitions.  Returns NULL with *res and
 * errbuf set on failure.  Does not log.
 */
struct sink_pg *sink_pg_open(const struct sink_pg_config *cfg,
							 enum sink_result *res, char *errbuf,
							 size_t errlen);

/*
 * The analytics connection, borrowed, for catalog reads that must see
 * what the apply statements will (catalog_plan_targets).  Only while no
 * batch is in flight.
 */
PGconn *sink_pg_conn(struct sink_pg *s);

/* Read this source's checkpoint (exists = false if there is none). */
enum sink_result sink_pg_read_checkpoint(struct sink_pg *s,
										 struct checkpoint *out,
										 char *errbuf, size_t errlen);

/*
 * Create the temp tables of the targets and read the foreign keys between
 * their tables from the analytics catalog, which decide the order a
 * batch's statements run in (once per connection; one query for the
 * keys).  Does not log.
 */
enum sink_result sink_pg_prepare(struct sink_pg *s, struct sink_target *t,
								 size_t n, char *errbuf, size_t errlen);

/*
 * Whether target a's table references target b's by a foreign key,
 * directly or through other targets (of the n targets given to
 * sink_pg_prepare, by index), and b's does not reference a's (a cycle
 * has no order).  False before sink_pg_prepare.  Does not log.
 */
bool sink_pg_target_references(const struct sink_pg *s, size_t a, size_t b);

/*
 * Apply batch b in one analytics transaction: staging rows by COPY, the
 * fact changes of each target collapsed, COPYed into its temp table and
 * applied set-based (deletes children first, then writes parents first,
 * by the foreign keys between targets), truncates in stream order (the
 * targets of one source TRUNCATE together), and the checkpoint ckpt, then
 * COMMIT.  A batch that order cannot serve is redone in stream order.
 * Rows failing their mapping go to the dead letter table and the rest
 * commits.  tick(arg) is called between steps so the caller can keep the
 * replication connection alive.  t and n are the ones given to
 * sink_pg_prepare.  Does not log.
 */
enum sink_result sink_pg_apply(struct sink_pg *s, const struct batch *b,
							   struct sink_target *t, size_t n,
							   const struct checkpoint *ckpt,
							   void (*tick)(void *), void *arg,
							   struct sink_stats *stats, char *errbuf,
							   size_t errlen);

/* Move the checkpoint alone (an idle source, empty transactions). */
enum sink_result sink_pg_write_checkpoint(struct sink_pg *s,
										  const struct checkpoint *ckpt,
										  char *errbuf, size_t errlen);

/*
 * Whether the last failed sink_pg_apply ended on a statement timeout
 * (57014) or a lock it could not get in time (55P03): the caller retries
 * with smaller batches.
 */
bool sink_pg_timed_out(const struct sink_pg *s);

/*
 * Create upcoming staging partitions and drop expired ones (any number of
 * walpipes may call it at once for one staging table).  walpipe run calls
 * it at start and hourly and only logs a failure: rows of a missing
 * partition land in the default one, and the apply goes on.
 */
enum sink_result sink_pg_maintain(struct sink_pg *s, char *errbuf,
								  size_t errlen);

/*
 * REFRESH MATERIALIZED VIEW schema.view (CONCURRENTLY if asked and
 * possible: a view that is not populated yet or has no unique index is
 * refreshed plainly) outside any apply transaction, and record the
 * outcome in walpipe.refreshes.  tick(arg) is called every 100 ms while
 * it runs.  Returns SINK_OK, SINK_RETRY (connection) or SINK_FATAL (the
 * refresh failed: errbuf says why; walpipe logs it and goes on).
 */
enum sink_result sink_pg_refresh(struct sink_pg *s, const char *schema,
								 const char *view, bool concurrently,
								 void (*tick)(void *), void *arg,
								 char *errbuf, size_t errlen);

/*
 * Snapshots (walpipe.snapshot_tables).  A table is copied in one
 * analytics transaction: sink_pg_snapshot_begin, any number of
 * sink_pg_snapshot_apply, then sink_pg_snapshot_finish (which records the
 * table done and commits) or sink_pg_snapshot_abort.  None of them log.
 */

/* Record tables ("schema.table") as pending unless already recorded. */
enum sink_result sink_pg_snapshot_register(struct sink_pg *s,
										   char *const *tables, size_t n,
										   const char *kind, char *errbuf,
										   size_t errlen);

/* This source's tables not done yet, sorted; caller frees each and the
 * array. */
enum sink_result sink_pg_snapshot_todo(struct sink_pg *s, char ***tables,
									   size_t *n, char *errbuf,
									   size_t errlen);

/* BEGIN the transaction of one table's copy (initial or resumed). */
enum sink_result sink_pg_snapshot_begin(struct sink_pg *s, char *errbuf,
										size_t errlen);

/*
 * Stage and map batch b (snapshot rows, ops from batch_mark_snapshot)
 * inside the open transaction.  Rows failing their mapping go to the dead
 * letter table, as in sink_pg_apply.
 */
enum sink_result sink_pg_snapshot_apply(struct sink_pg *s,
										const struct batch *b,
										struct sink_target *t, size_t n,
										struct sink_stats *stats,
										char *errbuf, size_t errlen);

/* Mark table done at snapshot_lsn with rows copied, and COMMIT. */
enum sink_result sink_pg_snapshot_finish(struct sink_pg *s, const char *table,
										 const char *kind, lsn_t snapshot_lsn,
										 uint64_t rows, char *errbuf,
										 size_t errlen);

/* Roll the open transaction back (errors ignored). */
void sink_pg_snapshot_abort(struct sink_pg *s);

/*
 * Progress, committed at once (use a connection of its own: the copy's
 * transaction is still open): state "copying" (starting sets started_at),
 * rows copied so far, the planner's estimate (< 0: unknown).
 */
enum sink_result sink_pg_snapshot_progress(struct sink_pg *s,
										   const char *table, const char *kind,
										   bool starting, lsn_t snapshot_lsn,
										   uint64_t rows, int64_t estimate,
										   char *errbuf, size_t errlen);

/*
 * Record rules[0..n) as what this source applies (walpipe.applied_rules,
 * replaced as a whole, in a transaction of its own), the first nmapped
 * from mappings, the rest from mirrors: what `walpipe plan` compares a
 * new file with.  In the same transaction (backfills: backfill.auto), a
 * mapping that is new or
 * whose rule changed since the last record gets a pending backfill
 * (sink_backfill.c: upsert mappings added or changed, append mappings
 * added).  Only while no batch is in flight.  Does not log.
 */
enum sink_result sink_pg_record_rules(struct sink_pg *s,
									  const struct map_rule *rules, size_t n,
									  size_t nmapped, bool backfills,
									  char *errbuf, size_t errlen);

/* NULL-safe. */
void sink_pg_close(struct sink_pg *s);

/*
 * Online backfills (docs/snapshots.md): one per rule whose target walpipe
 * run brings to the rule's present form while it streams, copying the
 * source table in chunks by key, each committed with the checkpoint.
 */
struct sink_backfill {
	char *source_table; /* ident_qualified text, as in applied_rules */
	char *target;
	char *reason;		/* added, changed, requested */
	char state[16];		/* pending, copying, done, refused */
	uint64_t chunks, rows, removed;
	int64_t estimate;	/* -1: unknown */
	double seconds;		/* since it started, -1: not started */
	char **last_key;	/* the source key of the last row copied */
	size_t nlast;		/* 0: nothing copied yet */
	char note[512];
};

/* This source's backfills (all, or only those pending or copying), in
 * the order they were asked for.  Free with sink_backfill_free. */
enum sink_result sink_pg_backfills(struct sink_pg *s, bool all,
								   struct sink_backfill **out, size_t *n,
								   char *errbuf, size_t errlen);
void sink_backfill_free(struct sink_backfill *b, size_t n); /* NULL-safe */

/* `walpipe snapshot --table`: ask walpipe run to backfill rule (its
 * map_rule_describe text) of from into to, from the start. */
enum sink_result sink_pg_backfill_request(struct sink_pg *s, const char *from,
										  const char *to, const char *rule,
										  char *errbuf, size_t errlen);

/* Record that b starts copying (state "copying"; b->estimate; whether
 * rows no longer matching are removed, or why not in note) or is refused
 * (state "refused", note says why). */
enum sink_result sink_pg_backfill_start(struct sink_pg *s,
										const struct sink_backfill *b,
										const char *state, bool sweeps,
										const char *note, char *errbuf,
										size_t errlen);

/*
 * One chunk of a backfill, applied as a batch of its rows (snapshot op):
 * with chunk set (sink_pg_set_chunk), the next apply skips no change for
 * a snapshot position, then runs sweep (NULL: none), counting its rows in
 * removed, and records last_key, rows and done in the backfill's row, all
 * in the batch's transaction, before the checkpoint.  Borrowed by the
 * sink until sink_pg_set_chunk(s, NULL).
 */
struct sink_chunk {
	const char *source_table;
	const char *target;
	const char *sweep;
	char *const *last_key;
	size_t nlast;
	uint64_t rows;
	bool done;
	uint64_t removed; /* out */
};
void sink_pg_set_chunk(struct sink_pg *s, struct sink_chunk *chunk);

#endif
