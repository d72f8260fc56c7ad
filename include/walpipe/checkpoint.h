/* checkpoint.h: how far analytics has applied a source's stream. */
#ifndef WALPIPE_CHECKPOINT_H
#define WALPIPE_CHECKPOINT_H

#include "walpipe/lsn.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * The checkpoint: one row per source in walpipe.checkpoints, written in
 * the transaction of every batch it covers, so the facts and the position
 * commit together.  Read by sink_pg_read_checkpoint, written by
 * sink_pg_apply and sink_pg_write_checkpoint (sink_pg.h; src/sink_checkpoint.c
 * holds the SQL).  Where a session resumes from it is streampos.h's.
 *
 * The row is also the lock between a batch and the tools that write facts
 * beside `walpipe run`: every batch locks it first without waiting (held:
 * SINK_BUSY, the batch is kept and tried again); `walpipe snapshot
 * --table` holds it for the whole copy of a table (docs/snapshots.md);
 * `walpipe dlq retry` holds it while it rewrites fact rows.
 *
 * A write only succeeds over the row this session last saw committed: a
 * walpipe killed right after sending COMMIT may leave a backend that
 * commits its batch after a new walpipe read the older checkpoint; the
 * new session's write then finds the moved row, fails with SINK_RETRY
 * and starts over from the stored checkpoint.
 *
 * lsn is the end of the last source transaction applied completely.  A
 * transaction applied in pieces has txn_end = its end and txn_applied =
 * how many of its changes are in; otherwise txn_end is LSN_INVALID.
 * Plain data, copied by value.
 */
struct checkpoint {
	lsn_t lsn;
	lsn_t txn_end;
	uint64_t txn_applied;
	char last_commit_time[40];
	/* The source cluster (IDENTIFY_SYSTEM's systemid) and timeline lsn
	 * belongs to; "" and 0 when not recorded (written by walpipe before
	 * schema version 3): a write keeps what is stored then. */
	char system_id[32];
	int timeline;
	bool exists;
};

/*
 * The statement that takes the row's lock, waiting for the batch being
 * applied: a format with %s for walpipe's quoted schema, and $1 the
 * source name.  Every writer of facts beside `walpipe run` (a dead
 * letter retry) runs it first in its transaction.
 */
#define CHECKPOINT_LOCK_SQL \
	"SELECT 1 FROM %s.checkpoints WHERE source = $1 FOR UPDATE"

#endif
