/* changefmt.h: change records written back out as JSON lines. */
#ifndef WALPIPE_CHANGEFMT_H
#define WALPIPE_CHANGEFMT_H

#include "walpipe/buf.h"
#include "walpipe/wal2json.h"

/*
 * Append c as one JSON object in wal2json v2's shape and field names
 * (action, xid, timestamp, lsn, nextlsn, schema, table, columns, identity,
 * pk, transactional, prefix, content), without a newline.  Values are
 * written as the server sent them: numbers and booleans as their exact
 * text, strings re-escaped, NULL as null.  So the output equals the
 * server's object as jsonb.  Borrows c.
 */
void changefmt_json(struct buf *out, const struct w2j_change *c);

/* Append one column's value as JSON: the exact text of numbers and
 * booleans, strings re-escaped, null.  Borrows col. */
void changefmt_value(struct buf *out, const struct w2j_column *col);

#endif
