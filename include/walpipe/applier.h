/* applier.h: the apply thread: commits batch n into analytics while the run loop reads batch n + 1. */
#ifndef WALPIPE_APPLIER_H
#define WALPIPE_APPLIER_H

#include "walpipe/batch.h"
#include "walpipe/sink_pg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * `walpipe run` reads the replication stream in its main thread and
 * commits batches in this one, so the walsender keeps sending while the
 * analytics server applies: elapsed time becomes the larger of the two
 * stages instead of their sum.  At most one batch is in flight: the loop
 * fills the next one meanwhile and hands it over when this one is done.
 *
 * Ownership: while a job is in flight the thread is the only user of the
 * analytics sink, the targets (their collapse buffers) and the batch; the
 * caller touches none of them until applier_wait returned the job.  The
 * caller keeps everything else: the replication connection (status
 * updates), Kafka, metrics and logging.  Nothing here logs.
 */
struct applier;

/* The outcome of one job, filled by applier_wait. */
struct applier_result {
	enum sink_result res;	/* SINK_OK, SINK_RETRY or SINK_FATAL */
	struct batch *batch;	/* the batch handed over, given back */
	struct checkpoint ckpt; /* committed (res == SINK_OK) */
	struct sink_stats stats; /* what this job added */
	double seconds;			 /* from pickup to COMMIT, lock waits included */
	char err[2048];			 /* res != SINK_OK: why */
};

/*
 * Start the thread.  Borrows sink and the n targets until applier_free.
 * Never NULL (aborts if no thread can be made, like an allocation).
 */
struct applier *applier_new(struct sink_pg *sink, struct sink_target *t,
							size_t n);

/*
 * Hand over batch b (may be empty: the checkpoint alone moves) to be
 * committed with checkpoint ckpt.  The applier must be idle: nothing
 * submitted since the last result was taken with applier_wait.  Takes b until
 * applier_wait gives it back.
 */
void applier_submit(struct applier *a, struct batch *b,
					const struct checkpoint *ckpt);

/*
 * Wait up to timeout_ms (0: just look) for the job in flight.  Returns
 * true with *out filled when it is done (the applier is then idle), false
 * if it is still running or nothing was submitted.
 */
bool applier_wait(struct applier *a, int timeout_ms,
				  struct applier_result *out);

/*
 * The job in flight waits for this source's checkpoint row, which
 * `walpipe dlq retry` holds.
 */
bool applier_lock_waiting(const struct applier *a);

/*
 * Milliseconds since the job in flight last made a step (a statement, a
 * COPY chunk, a try for the checkpoint lock); 0 when nothing runs.  A
 * large value means one statement is stuck on the analytics server.
 */
int64_t applier_stalled_ms(const struct applier *a);

/*
 * Stop the thread: a job submitted runs to its end (it commits or rolls
 * back; one waiting for the checkpoint lock gives up), then the thread is
 * joined.  Its result and batch are dropped: the batch is freed.
 * NULL-safe.
 */
void applier_free(struct applier *a);

#endif
