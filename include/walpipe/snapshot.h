/* snapshot.h: copy the existing rows of mapped tables, read in an exported snapshot, through the mappings. */
#ifndef WALPIPE_SNAPSHOT_H
#define WALPIPE_SNAPSHOT_H

#include "walpipe/metrics.h"
#include "walpipe/repl.h"
#include "walpipe/settings.h"
#include "walpipe/sink_pg.h"

#include <signal.h>
#include <stddef.h>

enum snapshot_result {
	SNAPSHOT_OK = 0,
	SNAPSHOT_STOPPED, /* *stop was set: nothing half-copied committed */
	SNAPSHOT_RETRY,	  /* a connection failed: start again later */
	SNAPSHOT_FATAL,
};

/* One copy: which tables, in which snapshot, by how many readers. */
struct snapshot_job {
	const struct run_settings *rs; /* source, target, staging, rules */
	const char *kind;			   /* "initial", "resume" or "backfill" */
	char *const *tables;		   /* "schema.table", each read once */
	size_t ntables;
	int workers;	/* readers in parallel (at most ntables) */
	char op;		/* the staging op and $op of the rows, e.g. 'r' */
	/*
	 * The exported snapshot.  snapshot_run takes ownership and closes it
	 * as soon as every reader has imported it: until then the exporting
	 * connection must stay open and idle.
	 */
	struct repl_export *export;
	volatile sig_atomic_t *stop; /* set: roll back and return STOPPED */
	struct metrics *metrics;	 /* NULL-safe */
};

/*
 * Copy every table of job: readers import the snapshot in REPEATABLE
 * READ transactions, read each table with COPY as wal2json-shaped insert
 * messages, and push the rows through the same batches, staging and fact
 * mappings as the stream (op job->op), a batch (batch.max_changes,
 * max_bytes) at a time, so memory stays bounded whatever the table's
 * size.  Each table commits in one analytics transaction that also marks
 * it done in walpipe.snapshot_tables at the snapshot's consistent point;
 * progress (rows, estimate) is written beside it as it goes, logged every
 * 10 s with rate and estimated time left, and put in the metrics.
 * Logs; returns how it ended.
 */
enum snapshot_result snapshot_run(struct snapshot_job *job);

/* The planner's row estimate of t's source table over src, or -1.  From
 * EXPLAIN: pg_class.reltuples is -1 until the table is first analyzed. */
int64_t snapshot_table_estimate(PGconn *src, const struct sink_target *t);

#endif
