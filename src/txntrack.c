/* txntrack.c: the transaction tracker: which source transactions are wholly delivered. */
#include "walpipe/txntrack.h"

#include "walpipe/mem.h"

#include <stdlib.h>

/*
 * One transaction with messages outstanding.  Tickets are issued from one
 * counter, so a transaction's tickets are one range and entries are sorted by ticket: an acknowledgement finds
 * its transaction by binary search.
 */
struct entry {
	lsn_t end;			   /* watermark once this one is done */
	uint64_t first_ticket; /* tickets of this transaction: first..last */
	uint64_t last_ticket;
	uint64_t outstanding;  /* messages not yet acknowledged */
	bool committed;		   /* the commit was received */
};

struct txntrack {
	struct entry *q; /* ring buffer of n entries from head */
	size_t cap, head, n;
	uint64_t next_ticket;
	uint64_t pending;
	lsn_t watermark;
	bool open; /* a transaction is being received */
	lsn_t open_end;
	bool open_queued; /* the open one already has an entry (at the tail) */
};

static struct entry *
at(const struct txntrack *t, size_t i)
{
	return &t->q[(t->head + i) % t->cap];
}

static void
push(struct txntrack *t, lsn_t end)
{
	struct entry *e;

	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct entry *nq = wp_malloc(ncap * sizeof(*nq));

		for (size_t i = 0; i < t->n; i++)
			nq[i] = *at(t, i);
		free(t->q);
		t->q = nq;
		t->cap = ncap;
		t->head = 0;
	}
	e = &t->q[(t->head + t->n) % t->cap];
	e->end = end;
	e->first_ticket = t->next_ticket;
	e->last_ticket = 0;
	e->outstanding = 0;
	e->committed = false;
	t->n++;
}

/* Move the watermark over the done entries at the head. */
static void
advance(struct txntrack *t)
{
	while (t->n > 0) {
		struct entry *e = at(t, 0);

		if (!e->committed || e->outstanding > 0)
			break;
		if (e->end > t->watermark)
			t->watermark = e->end;
		t->head = (t->head + 1) % t->cap;
		t->n--;
	}
}

/* A position reached with nothing of its own outstanding. */
static void
reach(struct txntrack *t, lsn_t pos)
{
	if (t->n == 0) {
		if (pos > t->watermark)
			t->watermark = pos;
		return;
	}
	/* The last entry is committed (no transaction is open): its
	 * completion now also completes everything up to pos. */
	if (pos > at(t, t->n - 1)->end)
		at(t, t->n - 1)->end = pos;
}

struct txntrack *
txntrack_new(lsn_t start)
{
	struct txntrack *t = wp_calloc(1, sizeof(*t));

	t->watermark = start;
	t->next_ticket = 1;
	return t;
}

void
txntrack_free(struct txntrack *t)
{
	if (t == NULL)
		return;
	free(t->q);
	free(t);
}

void
txntrack_begin(struct txntrack *t, lsn_t end)
{
	if (t->open)
		txntrack_commit(t); /* a begin without commit: treat as ended */
	t->open = true;
	t->open_end = end;
	t->open_queued = false;
}

uint64_t
txntrack_add(struct txntrack *t)
{
	struct entry *e;

	if (!t->open_queued) {
		push(t, t->open_end);
		t->open_queued = true;
	}
	e = at(t, t->n - 1);
	e->last_ticket = t->next_ticket;
	e->outstanding++;
	t->pending++;
	return t->next_ticket++;
}

void
txntrack_commit(struct txntrack *t)
{
	if (!t->open)
		return;
	t->open = false;
	if (t->open_queued)
		at(t, t->n - 1)->committed = true;
	else
		reach(t, t->open_end);
	advance(t);
}

void
txntrack_mark(struct txntrack *t, lsn_t pos)
{
	if (t->open)
		return; /* inside a transaction no position is whole */
	reach(t, pos);
}

bool
txntrack_ack(struct txntrack *t, uint64_t ticket)
{
	size_t lo = 0, hi = t->n;

	/* The first entry whose last ticket is >= ticket holds it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (at(t, mid)->last_ticket < ticket)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == t->n || ticket < at(t, lo)->first_ticket ||
		at(t, lo)->outstanding == 0)
		return false;
	at(t, lo)->outstanding--;
	t->pending--;
	if (lo == 0)
		advance(t);
	return true;
}

lsn_t
txntrack_watermark(const struct txntrack *t)
{
	return t->watermark;
}

uint64_t
txntrack_pending(const struct txntrack *t)
{
	return t->pending;
}
