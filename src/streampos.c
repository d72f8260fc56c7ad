/* streampos.c: where the stream is against the checkpoint: which changes to skip, where a batch ends. */
#include "walpipe/streampos.h"

#include <string.h>

void
streampos_start(struct streampos *p, const struct stream_point *from)
{
	memset(p, 0, sizeof(*p));
	p->last_complete = from->lsn;
}

void
streampos_begin(struct streampos *p, lsn_t nextlsn,
				const struct stream_point *queued)
{
	p->in_txn = true;
	p->txn_end = nextlsn;
	p->txn_pos = 0;
	/* Whole transactions the point covers are skipped; of a transaction
	 * applied in pieces, the pieces already in. */
	p->skip_txn = nextlsn <= queued->lsn;
	p->txn_skip = queued->txn_end == nextlsn ? queued->txn_applied : 0;
}

bool
streampos_change(struct streampos *p)
{
	p->txn_pos++;
	return !p->skip_txn && p->txn_pos > p->txn_skip;
}

void
streampos_uncount(struct streampos *p)
{
	if (p->txn_pos > 0)
		p->txn_pos--;
}

bool
streampos_commit(struct streampos *p)
{
	bool moved = false;

	p->in_txn = false;
	if (!p->skip_txn && p->txn_end > p->last_complete) {
		p->last_complete = p->txn_end;
		moved = true;
	}
	p->skip_txn = false;
	return moved;
}

bool
streampos_message(struct streampos *p, lsn_t lsn)
{
	/* lsn is the END of the message's record (the server passes
	 * decoding's endptr), which is where the next record begins: a
	 * commit record may begin exactly there.  So the message is passed
	 * at lsn itself, not one past it: the server skips a transaction
	 * whose commit record begins before the start point, and walpipe
	 * one whose end (pgoutput: commit start + 1) is not past
	 * last_complete. */
	if (p->in_txn || lsn <= p->last_complete)
		return false;
	p->last_complete = lsn;
	return true;
}

bool
streampos_idle(struct streampos *p, lsn_t keepalive_end)
{
	if (p->in_txn || keepalive_end <= p->last_complete)
		return false;
	p->last_complete = keepalive_end;
	return true;
}

void
streampos_next(const struct streampos *p, struct stream_point *next)
{
	next->lsn = p->last_complete;
	next->txn_end = LSN_INVALID;
	next->txn_applied = 0;
	if (p->in_txn && !p->skip_txn && p->txn_pos > 0) {
		next->txn_end = p->txn_end;
		next->txn_applied = p->txn_pos;
	}
}

void
streampos_copy_start(struct streampos *p, lsn_t copied_at)
{
	memset(p, 0, sizeof(*p));
	p->in_txn = true;
	p->txn_end = copied_at;
}

bool
streampos_copy_holds(lsn_t copied_at, lsn_t txn_end)
{
	return txn_end <= copied_at;
}

bool
streampos_copy_ahead(lsn_t copied_at, const struct stream_point *ckpt)
{
	return copied_at > ckpt->lsn;
}
