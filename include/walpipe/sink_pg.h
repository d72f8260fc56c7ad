/* sink_pg.h: the analytics PostgreSQL sink: schema, checkpoints, set-based apply. */
#ifndef WALPIPE_SINK_PG_H
#define WALPIPE_SINK_PG_H

#include "walpipe/batch.h"
#include "walpipe/collapse.h"
#include "walpipe/lsn.h"
#include "walpipe/map.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sink_result {
	SINK_OK = 0,
	SINK_RETRY, /* connection lost or transient: reconnect, resume at ckpt */
	SINK_FATAL, /* a data contract or configuration error */
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
};

/*
 * The checkpoint: lsn is the end of the last source transaction applied
 * completely.  A transaction applied in pieces has txn_end = its end and
 * txn_applied = how many of its changes are in; otherwise txn_end is
 * LSN_INVALID.
 */
struct checkpoint {
	lsn_t lsn;
	lsn_t txn_end;
	uint64_t txn_applied;
	char last_commit_time[40];
	bool exists;
};

/* One fact mapping at run time. */
struct sink_target {
	const struct map_rule *rule;	/* borrowed from the configuration */
	struct map_srccol *srccols;		/* owned */
	size_t nsrc;
	struct map_plan *plan;			/* owned */
	struct collapse *rows;			/* owned */
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

/* Read this source's checkpoint (exists = false if there is none). */
enum sink_result sink_pg_read_checkpoint(struct sink_pg *s,
										 struct checkpoint *out,
										 char *errbuf, size_t errlen);

/* Create the temp tables of the targets (once per connection). */
enum sink_result sink_pg_prepare(struct sink_pg *s, struct sink_target *t,
								 size_t n, char *errbuf, size_t errlen);

/*
 * Apply batch b in one analytics transaction: staging rows by COPY, the
 * fact changes of each target collapsed, COPYed into its temp table and
 * applied set-based, truncates in stream order, and the checkpoint ckpt,
 * then COMMIT.  Rows failing their mapping go to the dead letter table
 * and the rest commits.  tick(arg) is called between steps so the caller
 * can keep the replication connection alive.  Does not log.
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

/* Create upcoming staging partitions and drop expired ones. */
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

/* NULL-safe. */
void sink_pg_close(struct sink_pg *s);

#endif
