/* streampos.h: where the stream is against the checkpoint: which changes to skip, where a batch ends. */
#ifndef WALPIPE_STREAMPOS_H
#define WALPIPE_STREAMPOS_H

#include "walpipe/lsn.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * A position walpipe can resume from: every source transaction whose end
 * (wal2json's "nextlsn") is at or before lsn is applied, and of the one
 * ending at txn_end (LSN_INVALID: none), applied in pieces, the first
 * txn_applied changes.  The checkpoint row holds exactly this.
 */
struct stream_point {
	lsn_t lsn;
	lsn_t txn_end;
	uint64_t txn_applied;
};

/*
 * The stream against a resume point, message by message.  Pure: no I/O.
 * The fields are for reading; only the functions below change them.
 *
 * Call protocol, for each wal2json message in stream order:
 *   B      streampos_begin(p, nextlsn, &queued)
 *   I/U/D/T/transactional M
 *          if (streampos_change(p)) ... the change is new: apply it
 *   C      streampos_commit(p)
 *   M outside a transaction
 *          streampos_message(p, lsn)
 *   idle   streampos_idle(p, keepalive_end)
 * and streampos_next(p, &next) for the point a batch of everything in
 * hand reaches.  queued is the point of everything committed or handed to
 * the applier: a session starts streaming at or before it, so whole
 * transactions at or before queued.lsn are skipped, and of a split one
 * its first txn_applied changes.
 */
struct streampos {
	lsn_t last_complete; /* end of the last whole transaction received,
						  * or a position every later commit is past */
	bool in_txn;		 /* between B and C */
	bool skip_txn;		 /* the open transaction is wholly applied */
	lsn_t txn_end;		 /* the open transaction's end */
	uint64_t txn_pos;	 /* changes of it counted so far */
	uint64_t txn_skip;	 /* changes of it applied before (split) */
};

/* Start a session at from (the checkpoint): nothing received yet. */
void streampos_start(struct streampos *p, const struct stream_point *from);

/* A transaction ending at nextlsn begins; queued: see above. */
void streampos_begin(struct streampos *p, lsn_t nextlsn,
					 const struct stream_point *queued);

/*
 * Count one change of the open transaction.  Returns true when it is new
 * (to be applied), false when queued already covers it.
 */
bool streampos_change(struct streampos *p);

/* Take back the last streampos_change (the change is to be seen again by
 * a later session: run.c's replan). */
void streampos_uncount(struct streampos *p);

/*
 * The open transaction commits.  Returns true when it completed something
 * new: last_complete moved to its end.
 */
bool streampos_commit(struct streampos *p);

/*
 * A non-transactional message whose record ends at lsn (the LSN both
 * wal2json and pgoutput give a message: decoding's end of the record).
 * Decoding follows WAL order: every transaction committed before it has
 * been received, every later one's commit record begins at lsn or after:
 * last_complete may move to lsn, and no further (a commit beginning at
 * lsn would be skipped).  Returns true when it moved.  Outside a
 * transaction only.
 */
bool streampos_message(struct streampos *p, lsn_t lsn);

/* Idle with nothing in hand: last_complete may move to the server's
 * keepalive position.  Returns true when it moved. */
bool streampos_idle(struct streampos *p, lsn_t keepalive_end);

/*
 * The point a batch of everything received reaches: whole transactions up
 * to last_complete, plus, inside a transaction with new changes, its
 * first txn_pos changes.
 */
void streampos_next(const struct streampos *p, struct stream_point *next);


/*
 * A snapshot's copy of a table, against the stream.  The copy reads the
 * table as of the snapshot's consistent point copied_at: it holds every
 * change of the transactions ending at or before copied_at, and none
 * after.  Its rows travel as the changes of one transaction that ends at
 * copied_at, numbered from 1 in the order read.
 */

/* Start p at the copy: a transaction ending at copied_at is open and
 * nothing of it is applied, so each streampos_change is new and
 * txn_end/txn_pos are the position of the row just counted. */
void streampos_copy_start(struct streampos *p, lsn_t copied_at);

/* Whether a copy taken at copied_at already holds the changes of the
 * transaction ending at txn_end (applying them again would append them
 * twice or move a row back in time). */
bool streampos_copy_holds(lsn_t copied_at, lsn_t txn_end);

/* Whether a copy taken at copied_at is ahead of the checkpoint ckpt: the
 * stream has not yet applied everything the copy holds, so the sink
 * still skips that table's changes up to copied_at. */
bool streampos_copy_ahead(lsn_t copied_at, const struct stream_point *ckpt);

#endif
