/* target.h: one fact mapping at run time: rule, plan, rows in hand. */
#ifndef WALPIPE_TARGET_H
#define WALPIPE_TARGET_H

#include <stdbool.h>
#include <stddef.h>

struct collapse;
struct map_plan;
struct map_rule;
struct map_srccol;

/*
 * One fact mapping at run time.  catalog_plan_targets (catalog.h) makes
 * the array of a session, one per mapping rule, and catalog_free_targets
 * frees it; the sink (sink_pg.h) fills and empties rows while it applies
 * a batch, and while a job is in flight only the applier thread touches
 * them (applier.h).  Pure data: nothing here does I/O or logs.
 */
struct sink_target {
	const struct map_rule *rule; /* borrowed from the configuration */
	struct map_srccol *srccols;	 /* owned */
	size_t nsrc;
	struct map_plan *plan; /* owned */
	struct collapse *rows; /* owned */
	/* The source table is partitioned: its partitions' changes are its
	 * own (route.h), a snapshot copies it with them. */
	bool partitioned;
	/* A plain insert of 'N' rows met an existing key: this session
	 * upserts them (map.h: insert_new). */
	bool no_fast_insert;
	bool no_fast_insert_told; /* the caller's: it logged the above */
	/* Rows and COPY bytes sent to the temp table since the sink last
	 * sent it a TRUNCATE: how it empties the table before the next COPY
	 * (sink_facts.c: copy_rows).  An estimate: a TRUNCATE rolled back
	 * leaves more rows than counted, which costs time, not rows. */
	size_t tmp_rows;
	size_t tmp_bytes;
};

#endif
