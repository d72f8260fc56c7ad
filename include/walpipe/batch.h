/* batch.h: the changes of one apply batch, copied out of the decoder's scratch. */
#ifndef WALPIPE_BATCH_H
#define WALPIPE_BATCH_H

#include "walpipe/buf.h"
#include "walpipe/lsn.h"
#include "walpipe/wal2json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A batch owns copies of row changes (I, U, D, T, M) from one or more
 * source transactions, in stream order, with the raw wal2json message of
 * each (the staging payload and the dead-letter payload).  Everything lives
 * in a few growable arrays that are emptied, not freed, between batches,
 * and released if one batch grew them past the configured byte budget, so
 * memory stays at most one batch.
 */
struct batch_col {
	uint32_t name;	/* offset of the NUL-terminated name in the text arena */
	uint32_t type;	/* offset of the type name, or UINT32_MAX */
	uint32_t value; /* offset of the NUL-terminated value, or UINT32_MAX */
	uint32_t value_len;
	enum w2j_kind kind;
};

struct batch_change {
	enum w2j_action action;
	char op;		  /* staging op and $op: the action, or a snapshot op */
	uint32_t xid;
	lsn_t lsn;		  /* the change's own LSN */
	lsn_t txn_end;	  /* nextlsn of its transaction */
	uint64_t txn_pos; /* 1-based index of the change within its txn */
	uint32_t commit_time; /* text offset of the commit timestamp, or MAX */
	uint32_t schema;	  /* text offsets; UINT32_MAX for M */
	uint32_t table;
	uint32_t json;		  /* text offset of the raw wal2json message, or
						   * UINT32_MAX: none kept (batch_json writes it) */
	uint32_t json_len;
	uint32_t cols;		  /* first column in the column array */
	uint32_t ncols;
	uint32_t ident;		  /* first identity column */
	uint32_t nident;
	uint32_t pk;		  /* first key column (name and type only) */
	uint32_t npk;
	bool transactional;	  /* M */
	uint32_t prefix;	  /* M: text offsets */
	uint32_t content;
	uint32_t content_len;
};

struct batch;

/* Never NULL; free with batch_free. keep_bytes: memory retained across
 * batches (larger arenas are released on batch_reset). */
struct batch *batch_new(size_t keep_bytes);
void batch_free(struct batch *b);

/*
 * Copy a decoded row change c (action I, U, D, T or M) and its raw message
 * json/len (NULL: none; batch_json writes it when needed) into the batch.  txn_end, txn_pos and commit_time come from
 * the enclosing transaction (commit_time may be NULL).  Borrows nothing
 * after it returns.  Returns false (with a message) only if the batch's
 * 4 GiB text arena would overflow.
 */
bool batch_add(struct batch *b, const struct w2j_change *c, const char *json,
			   size_t len, lsn_t txn_end, uint64_t txn_pos,
			   const char *commit_time, char *errbuf, size_t errlen);

/*
 * Give the change added last the op `op` instead of its action: a row read
 * by a snapshot is an insert (action I) staged and mapped with op 'r'.
 */
void batch_mark_snapshot(struct batch *b, char op);

size_t batch_count(const struct batch *b);
/* Bytes of text held: what batch.max_bytes limits. */
size_t batch_bytes(const struct batch *b);
const struct batch_change *batch_get(const struct batch *b, size_t i);
const struct batch_col *batch_cols(const struct batch *b,
								   const struct batch_change *c);
const struct batch_col *batch_ident(const struct batch *b,
									const struct batch_change *c);

/* The text at an arena offset; NULL for UINT32_MAX. */
const char *batch_text(const struct batch *b, uint32_t off);

/*
 * Change c as a decoded change *out whose strings point into the batch
 * (valid until batch_reset): its columns, identity and key columns go in
 * cols, which must hold batch_view_columns(c) entries.  Pure.
 */
size_t batch_view_columns(const struct batch_change *c);
void batch_view(const struct batch *b, const struct batch_change *c,
				struct w2j_change *out, struct w2j_column *cols);

/*
 * Append change c's wal2json-shaped JSON to out: the raw message when one
 * was kept, otherwise written from the copy as changefmt_json writes a
 * decoded change (the pgoutput path keeps none: most batches never need
 * it, and writing it cost a fifth of the stream's CPU).  Pure, but it
 * writes the columns into a scratch array the batch keeps (released by
 * batch_reset beyond keep_bytes): one thread at a time per batch.
 */
void batch_json(const struct batch *b, const struct batch_change *c,
				struct buf *out);

/* Forget every change (keeping memory up to keep_bytes). */
void batch_reset(struct batch *b);

#endif
