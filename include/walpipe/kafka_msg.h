/* kafka_msg.h: Kafka message encoding of a change: topic, key, Debezium envelope. */
#ifndef WALPIPE_KAFKA_MSG_H
#define WALPIPE_KAFKA_MSG_H

#include "walpipe/buf.h"
#include "walpipe/wal2json.h"

#include <stdbool.h>
#include <stdint.h>

/* What a change record does not carry itself (borrowed strings). */
struct kafka_msg_ctx {
	const char *source; /* source.name: Debezium's source.name */
	int64_t commit_ms;	/* commit time, ms since the epoch; < 0: unknown */
	int64_t now_ms;		/* when walpipe produced it: the envelope's ts_ms */
};

/*
 * Check a topic template: text with the placeholders {source}, {schema}
 * and {table}.  Returns true, or false with a message naming the bad
 * placeholder and the valid ones in errbuf.  Never logs.
 */
bool kafka_msg_topic_valid(const char *tmpl, char *errbuf, size_t errlen);

/*
 * Append the topic of a change of schema.table: tmpl (valid, see above)
 * with its placeholders replaced.  Characters a Kafka topic name cannot
 * hold (anything but ASCII letters, digits, '.', '_' and '-') become '_',
 * as Debezium does, and the name is cut at Kafka's 249 characters.
 */
void kafka_msg_topic(struct buf *out, const char *tmpl, const char *source,
					 const char *schema, const char *table);

/*
 * Append the message key of c: a JSON object of its primary key columns,
 * in key order, e.g. {"id":42} ({"a":1,"b":"x"} for a composite key).
 * Values come from the new row (insert, update) or the old key (delete;
 * an update whose new row lacks a key column).  Returns false and appends
 * nothing when c has no key: a truncate, or a table without a primary key
 * (its messages go without a key, so no per-key order either).
 */
bool kafka_msg_key(struct buf *out, const struct w2j_change *c);

/*
 * Append the Debezium envelope of c (an insert, update, delete or
 * truncate), as Debezium's JsonConverter writes it without schemas:
 *
 *   {"before":{..}|null,"after":{..}|null,
 *    "source":{"version":"walpipe","connector":"postgresql","name":SOURCE,
 *              "ts_ms":COMMIT_MS,"snapshot":"false","schema":S,"table":T,
 *              "txId":XID,"lsn":LSN},
 *    "op":"c"|"u"|"d"|"t","ts_ms":NOW_MS,"transaction":null}
 *
 * "lsn" is the change's LSN as a number, as Debezium sends it.  "before"
 * is the old row as the replica identity gives it (the key columns only
 * unless REPLICA IDENTITY FULL), null for inserts and for updates that
 * did not change the key.  Unchanged TOASTed columns are absent from
 * "after" (wal2json leaves them out).  Values are the server's text:
 * numbers of any size keep every digit.  Borrows c and ctx.
 */
void kafka_msg_debezium(struct buf *out, const struct w2j_change *c,
						const struct kafka_msg_ctx *ctx);

/* Debezium's op letter of a change: c, u, d or t ('?' for others). */
char kafka_msg_op(const struct w2j_change *c);

#endif
