/* txntrack.h: the transaction tracker: which source transactions are wholly delivered. */
#ifndef WALPIPE_TXNTRACK_H
#define WALPIPE_TXNTRACK_H

#include "walpipe/lsn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * An asynchronous sink (Kafka) acknowledges messages in any order; the
 * slot may only be confirmed at the end of a transaction whose messages,
 * and those of every earlier transaction, are all acknowledged.  The
 * tracker keeps, in stream order, the transactions with messages still
 * outstanding and computes that position: the watermark.
 *
 * Usage, in stream order: txntrack_begin(end) at a transaction's begin,
 * txntrack_add() once per message sent (its ticket goes with the message),
 * txntrack_commit() at its commit; txntrack_mark(pos) for a position
 * outside any transaction that the stream has passed (a keepalive, a
 * non-transactional message).  txntrack_ack(ticket) when a message is
 * acknowledged, in any order.
 *
 * Memory: one entry per transaction that has outstanding messages (a
 * transaction with none is folded into the one before it).  Pure: no I/O,
 * no logging.
 */
struct txntrack;

/* A tracker whose watermark starts at start.  Free with txntrack_free. */
struct txntrack *txntrack_new(lsn_t start);
void txntrack_free(struct txntrack *t); /* NULL-safe */

/* A transaction that ends at end (wal2json's nextlsn) begins. */
void txntrack_begin(struct txntrack *t, lsn_t end);

/* One more message of the open transaction; returns its ticket (> 0). */
uint64_t txntrack_add(struct txntrack *t);

/* The open transaction is wholly received. */
void txntrack_commit(struct txntrack *t);

/* The stream passed pos outside any transaction. */
void txntrack_mark(struct txntrack *t, lsn_t pos);

/* The message with this ticket was delivered.  Returns false for a ticket
 * the tracker does not know (already acknowledged, or never issued). */
bool txntrack_ack(struct txntrack *t, uint64_t ticket);

/* The end of the last transaction that, with all before it, is wholly
 * delivered and committed; never moves backwards. */
lsn_t txntrack_watermark(const struct txntrack *t);

/* Messages issued and not yet acknowledged. */
uint64_t txntrack_pending(const struct txntrack *t);

#endif
