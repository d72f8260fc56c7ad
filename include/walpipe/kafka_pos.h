/* kafka_pos.h: a Kafka message's place in the source stream, from walpipe's headers: what a partition already holds. */
#ifndef WALPIPE_KAFKA_POS_H
#define WALPIPE_KAFKA_POS_H

#include "walpipe/lsn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every message walpipe produces carries its source transaction's end
 * (header txn_end), its 1-based position in it (txn_pos) and its op.
 * Within one partition walpipe's idempotent producer writes in stream
 * order, so the highest position a partition holds says which of the
 * messages a restart sends again it already has (sink_kafka.c).
 *
 * Several messages can share one (txn_end, txn_pos): a delete and its
 * tombstone, and with Debezium's format the delete, tombstone and create
 * of an update that changes the key.  They are produced in that order;
 * rank orders them (delete 0, tombstone 1, create 2), so the order of
 * positions is the order of production.  Snapshot reads (op r) are not
 * stream positions: a snapshot's rows carry its point and row numbers,
 * which neither order against the stream nor repeat on a new snapshot.
 *
 * Pure: no I/O, no logging.
 */
struct kafka_pos {
	lsn_t end;	  /* txn_end */
	uint64_t pos; /* txn_pos */
	int rank;	  /* among messages of one (end, pos): production order */
};

/* The position of a message walpipe produces: op as its op header,
 * tombstone when its value is null. */
void kafka_pos_make(struct kafka_pos *out, lsn_t end, uint64_t pos, char op,
					bool tombstone);

/*
 * The position of a message read back, from its header values (not
 * NUL-terminated; NULL when absent) and whether its value is null.
 * Returns false if it has none: a header missing or malformed (not
 * walpipe's), or op r (a snapshot read).
 */
bool kafka_pos_parse(struct kafka_pos *out, const char *end, size_t end_len,
					 const char *pos, size_t pos_len, const char *op,
					 size_t op_len, bool tombstone);

/* <0, 0, >0 as a comes before, with, after b in the stream. */
int kafka_pos_cmp(const struct kafka_pos *a, const struct kafka_pos *b);

#endif
