/* sink_kafka.h: the Kafka sink: an idempotent librdkafka producer and its delivered watermark. */
#ifndef WALPIPE_SINK_KAFKA_H
#define WALPIPE_SINK_KAFKA_H

#include "walpipe/config.h"
#include "walpipe/kafka_msg.h"
#include "walpipe/lsn.h"
#include "walpipe/wal2json.h"

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kafka_result {
	KAFKA_OK = 0,
	KAFKA_STOPPED, /* *stop was set while waiting for room in the queue */
	KAFKA_RETRY,   /* a message could not be delivered: resend from the slot */
	KAFKA_FATAL,   /* configuration or a producer error retrying cannot fix */
};

/* The kafka section of the configuration (borrowed). */
struct sink_kafka_config {
	const char *config_path; /* for FILE:LINE:COL in property errors */
	const char *source;		 /* source.name */
	const char *brokers;
	const char *topic; /* template: {source}, {schema}, {table} */
	bool debezium;	   /* else the wal2json object as received */
	bool tombstones;   /* a null-valued message after each delete */
	/* Debezium's options (format debezium only; kafka_msg.h) */
	const char *source_conninfo; /* the catalog: column types, nullability */
	bool schemas;
	enum kafka_decimal_mode decimal;
	enum kafka_time_mode time;
	enum kafka_interval_mode interval;
	enum kafka_hstore_mode hstore;
	/* column_include_list, column_exclude_list, message_key_columns
	 * (kafka_select.h; NULL: not set) */
	const char *column_include, *column_exclude, *key_columns;
	const char *unavailable; /* NULL: TOASTed columns left out */
	const char *messages_topic;	   /* template of logical messages' topic */
	bool transaction_metadata;	   /* BEGIN/END events, transaction block */
	const char *transaction_topic; /* template */
	/* A transactional producer (transactional.id "walpipe-SOURCE",
	 * fencing the walpipe before): each Kafka transaction holds whole
	 * source transactions, and the slot passes them only once it
	 * committed. */
	bool transactions;
	/* kafka.dedupe_on_restart: before a session's first message to a
	 * topic, read the end of each of its partitions (read_committed) for
	 * the highest stream position it holds (kafka_pos.h), and skip the
	 * messages a restart sends again that a partition already has.
	 * walpipe then picks the partition of every keyed message itself
	 * (murmur2 of the key, as the murmur2_random partitioner), so
	 * another partitioner is refused.  Snapshot reads and keyless
	 * messages are never skipped. */
	bool dedupe;
	const struct config_kv *props;
	size_t nprops;
};

/* One change to produce (borrowed). */
struct kafka_change {
	const struct w2j_change *c; /* I, U, D or T */
	const char *raw;			/* the wal2json text of c */
	size_t rawlen;
	lsn_t txn_end;	  /* end of its transaction */
	uint64_t txn_pos; /* 1-based position in its transaction */
	int64_t commit_ms; /* < 0: unknown */
	char op;		   /* 0: from the action; 'r': a snapshot read */
	const char *snapshot; /* source.snapshot ("true", "last"); NULL: "false" */
};

struct sink_kafka_stats {
	uint64_t produced, delivered, failed, pending;
	uint64_t skipped; /* dedupe: messages the partitions already held */
};

/* Fill *out from cfg's kafka section (cfg->kafka.enabled); borrows cfg. */
void sink_kafka_config_from(struct sink_kafka_config *out,
							const struct wp_config *cfg);

/*
 * Build the producer configuration as sink_kafka_open would, without
 * creating a producer: every property librdkafka refuses is added to errs
 * as "FILE:LINE:COL: kafka.properties.NAME: reason".  Returns true if
 * there was none.  Does not log, no network.
 */
bool sink_kafka_check(const struct sink_kafka_config *kc,
					  struct config_errors *errs);

/*
 * Create the idempotent producer (enable.idempotence=true, and unless the
 * configuration says otherwise message.timeout.ms=0: a broker outage is
 * waited out, never turned into lost messages).  With kc->dedupe, the
 * first message of a session to a topic first reads the end of the
 * topic's partitions (a consumer of the sink's own, no group): that
 * blocks, logs progress when it lasts, and fails the produce call with
 * KAFKA_RETRY if a partition cannot be read.  Its delivered watermark
 * starts at start, the position the stream starts at.  Returns NULL with
 * the reason in errbuf (every refused property, one per line).  Does not
 * log; free with sink_kafka_close.
 */
struct sink_kafka *sink_kafka_open(const struct sink_kafka_config *kc,
								   lsn_t start, char *errbuf, size_t errlen);

/* Purge what is undelivered and destroy the producer.  NULL-safe. */
void sink_kafka_close(struct sink_kafka *k);

/*
 * Transaction boundaries and positions, in stream order (txntrack.h).
 * sink_kafka_commit also sends the transaction's END event
 * (transaction_metadata) and, with transactions, commits the Kafka
 * transaction when one is due (blocking until the brokers answer);
 * sink_kafka_mark commits a due one too.  Their errors are kept and
 * returned by the next sink_kafka_poll or _produce.
 */
void sink_kafka_begin(struct sink_kafka *k, lsn_t end);
void sink_kafka_commit(struct sink_kafka *k);
void sink_kafka_mark(struct sink_kafka *k, lsn_t pos);

/*
 * Produce one change (and its tombstone), keyed by its primary key, with
 * headers lsn, txn_end, txn_pos, xid and op (with dedupe, a message its
 * partition already holds is skipped: counted, not sent; the first one
 * sent after skips logs how many).  When the producer's queue is
 * full, waits: serves delivery reports and calls tick(arg) (status updates
 * to the source) every 100 ms until there is room, *stop is set
 * (KAFKA_STOPPED) or an error was reported.  Returns KAFKA_OK, or an
 * error with the reason in errbuf.  Logs a warning when the wait lasts,
 * and with dedupe the skips and a topic's reading back when it lasts.
 */
enum kafka_result sink_kafka_produce(struct sink_kafka *k,
									 const struct kafka_change *kc,
									 void (*tick)(void *), void *arg,
									 volatile sig_atomic_t *stop,
									 char *errbuf, size_t errlen);

/* One existing row of a table, read in a snapshot (borrowed). */
struct kafka_read {
	const char *schema, *table;
	/* The row as a wal2json insert would carry it: every column, values
	 * as the server's text output (kinds W2J_NUMBER for numbers other
	 * than NaN and the infinities, W2J_BOOL "true"/"false", W2J_NULL,
	 * else W2J_STRING). */
	const struct w2j_column *columns;
	size_t ncolumns;
	const struct w2j_column *pk; /* primary key names, in key order */
	size_t npk;
	lsn_t lsn;			  /* the snapshot's consistent point */
	uint64_t pos;		  /* 1-based row number: the txn_pos header */
	const char *snapshot; /* source.snapshot; NULL: "true" */
};

/*
 * Produce the read event of one snapshot row (Debezium's op "r", as
 * sink_kafka_produce produces an insert: same topic, key, conversions,
 * headers lsn and txn_end = rd->lsn, txn_pos = rd->pos, op "r"; no
 * transaction block).  Gating: call it between sink_kafka_begin(k, P) and
 * sink_kafka_commit(k), P the position the rows stand for (the
 * snapshot's consistent point, or any position the stream has not yet
 * passed): the delivered watermark, and so the slot, passes P only once
 * every read is delivered.  Waits, returns and logs as
 * sink_kafka_produce.  Main thread only, like every sink_kafka_ call.
 */
enum kafka_result sink_kafka_produce_read(struct sink_kafka *k,
										  const struct kafka_read *rd,
										  void (*tick)(void *), void *arg,
										  volatile sig_atomic_t *stop,
										  char *errbuf, size_t errlen);

/*
 * Read every row of schema.table on conn (borrowed: a source connection
 * inside the snapshot's transaction, idle) one at a time and produce
 * each with sink_kafka_produce_read at lsn, source.snapshot as
 * kafka_msg_snapshot_marker says for a table that is the snapshot's
 * first (first_table) and/or last (last_table).  Columns and key come from the catalog (on
 * the sink's own connection).  *rows: how many were produced.  Returns
 * KAFKA_OK, or an error with the reason in errbuf (KAFKA_RETRY: the
 * source failed).  Call it between sink_kafka_begin and _commit as
 * above.  Logs only as sink_kafka_produce does.
 */
enum kafka_result sink_kafka_snapshot_table(
	struct sink_kafka *k, PGconn *conn, const char *schema, const char *table,
	lsn_t lsn, bool first_table, bool last_table, void (*tick)(void *),
	void *arg, volatile sig_atomic_t *stop, uint64_t *rows, char *errbuf, size_t errlen);

/*
 * Serve delivery reports and producer events for up to timeout_ms.
 * Returns KAFKA_OK, or the first delivery or producer error: KAFKA_RETRY
 * (undelivered: the session must end without confirming it) or
 * KAFKA_FATAL, with the reason in errbuf.  Logs producer warnings
 * (brokers down), rate-limited.
 */
enum kafka_result sink_kafka_poll(struct sink_kafka *k, int timeout_ms,
								  char *errbuf, size_t errlen);

/*
 * Wait up to timeout_ms for every produced message to be delivered,
 * calling tick(arg) every 100 ms.  Returns KAFKA_OK when none is pending
 * (also on timeout: the caller reads sink_kafka_stats), or an error as
 * sink_kafka_poll.
 */
enum kafka_result sink_kafka_drain(struct sink_kafka *k, int timeout_ms,
								   void (*tick)(void *), void *arg,
								   char *errbuf, size_t errlen);

/* The end of the last transaction that, with every one before it, is
 * wholly delivered (with transactions: and in a committed Kafka
 * transaction): the furthest the slot may be confirmed for Kafka. */
lsn_t sink_kafka_delivered(const struct sink_kafka *k);

void sink_kafka_stats(const struct sink_kafka *k, struct sink_kafka_stats *out);

#endif
