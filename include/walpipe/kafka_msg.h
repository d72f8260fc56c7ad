/* kafka_msg.h: Kafka message encoding of a change: topic, key, Debezium envelope. */
#ifndef WALPIPE_KAFKA_MSG_H
#define WALPIPE_KAFKA_MSG_H

#include "walpipe/buf.h"
#include "walpipe/wal2json.h"

#include <stdbool.h>
#include <stdint.h>

/* Debezium's decimal.handling.mode. */
enum kafka_decimal_mode {
	KAFKA_DECIMAL_PRECISE = 0, /* bytes (base64): unscaled two's complement */
	KAFKA_DECIMAL_STRING,	   /* the exact text */
	KAFKA_DECIMAL_DOUBLE,	   /* a JSON number */
};

/* Debezium's time.precision.mode. */
enum kafka_time_mode {
	KAFKA_TIME_ADAPTIVE = 0, /* io.debezium.time.*: precision kept */
	KAFKA_TIME_CONNECT,		 /* org.apache.kafka.connect.data.*: ms */
};

/* Debezium's interval.handling.mode. */
enum kafka_interval_mode {
	KAFKA_INTERVAL_NUMERIC = 0, /* io.debezium.time.MicroDuration: µs */
	KAFKA_INTERVAL_STRING,		/* io.debezium.time.Interval: ISO 8601 */
};

/* Debezium's hstore.handling.mode. */
enum kafka_hstore_mode {
	KAFKA_HSTORE_JSON = 0, /* io.debezium.data.Json: the map as JSON text */
	KAFKA_HSTORE_MAP,	   /* a map of string to optional string */
};

/*
 * A column of a table as the source catalog describes it (borrowed): type
 * is format_type() of the column's type (a domain's base type), e.g.
 * "integer", "numeric(12,2)", "timestamp(3) without time zone", "uuid[]";
 * enum_values the labels of an enum (or of an array of one's element),
 * comma-separated, else NULL.
 */
struct kafka_column {
	const char *name;
	const char *type;
	bool optional; /* nullable */
	const char *enum_values;
};

/* A table's columns in column order (borrowed). */
struct kafka_table {
	const struct kafka_column *cols;
	size_t ncols;
};

/* Debezium's transaction block of a change event (borrowed). */
struct kafka_txn_block {
	const char *id;					/* "XID:LSN" of the commit */
	uint64_t total_order;			/* 1-based, in the transaction */
	uint64_t data_collection_order; /* 1-based, in its table */
};

/*
 * What a change record does not carry itself (borrowed strings).  Zero
 * the struct and fill what you have: the zero values are Debezium's
 * defaults (precise decimals, adaptive times, no schemas).
 */
struct kafka_msg_ctx {
	const char *source; /* source.name: Debezium's source.name */
	int64_t commit_ms;	/* commit time, ms since the epoch; < 0: unknown */
	int64_t now_ms;		/* when walpipe produced it: the envelope's ts_ms */
	const char *db;		/* source.db: the database; NULL: "" */
	const char *topic;	/* schema names: TOPIC.Value, .Key, .Envelope */
	bool schemas;		/* JsonConverter's schemas.enable=true */
	enum kafka_decimal_mode decimal;
	enum kafka_time_mode time;
	enum kafka_interval_mode interval;
	enum kafka_hstore_mode hstore;
	/* An update's unchanged TOASTed column (in table, absent from the
	 * change) carries this; NULL: left out. */
	const char *unavailable;
	/* The table's columns: types for Debezium's conversions, field
	 * schemas, which columns an update lacks.  NULL: values go as the
	 * server sent them, typed by wal2json's type names if it sent them. */
	const struct kafka_table *table;
	char op;			  /* 0: from the action; 'r': a snapshot read */
	const char *snapshot; /* source.snapshot; NULL: "false" */
	const struct kafka_txn_block *txn; /* NULL: "transaction":null */
};

/*
 * Check a topic template: text with the placeholders {source}, {schema}
 * and {table}.  Returns true, or false with a message naming the bad
 * placeholder and the valid ones in errbuf.  Never logs.
 */
bool kafka_msg_topic_valid(const char *tmpl, char *errbuf, size_t errlen);

/*
 * source.snapshot of a snapshot's read event as Debezium 2.x sets it
 * (RelationalSnapshotChangeEventSource): "last" on the last row of the
 * last table, else "first" on the first row of the first table, else
 * "last_in_data_collection" / "first_in_data_collection" on a table's
 * last / first row, else "true".  A static string.  Never logs.
 */
const char *kafka_msg_snapshot_marker(bool first_table, bool last_table,
									  bool first_row, bool last_row);

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
 * in key order, e.g. {"id":42} ({"a":1,"b":"x"} for a composite key);
 * with ctx (may be NULL: the server's values) converted as in the
 * envelope, and with ctx->schemas wrapped as {"schema":{..,"name":
 * "TOPIC.Key"},"payload":{..}}.
 * Values come from the new row (insert, update) or the old key (delete;
 * an update whose new row lacks a key column).  Returns false and appends
 * nothing when c has no key: a truncate, or a table without a primary key
 * (its messages go without a key, so no per-key order either).
 */
bool kafka_msg_key(struct buf *out, const struct w2j_change *c,
				   const struct kafka_msg_ctx *ctx);

/*
 * Append the Debezium envelope of c (an insert, update, delete or
 * truncate), as Debezium's JsonConverter writes it without schemas:
 *
 *   {"before":{..}|null,"after":{..}|null,
 *    "source":{"version":"walpipe","connector":"postgresql","name":SOURCE,
 *              "ts_ms":COMMIT_MS,"snapshot":"false","db":DB,
 *              "sequence":"[null,\"LSN\"]","schema":S,"table":T,
 *              "txId":XID,"lsn":LSN,"xmin":null},
 *    "op":"c"|"u"|"d"|"t"|"r","ts_ms":NOW_MS,"transaction":null|{..}}
 *
 * and with ctx->schemas as {"schema":ENVELOPE_SCHEMA,"payload":above}.
 * "lsn" is the change's LSN as a number, as Debezium sends it.  "before"
 * is the old row as the replica identity gives it (the key columns only
 * unless REPLICA IDENTITY FULL), null for inserts and for updates that
 * did not change the key.  With ctx->table, an update's unchanged TOASTed
 * columns carry ctx->unavailable, and values are converted as Debezium
 * converts them (kafka_msg_value); without, they are the server's text.
 * Borrows c and ctx.
 */
void kafka_msg_debezium(struct buf *out, const struct w2j_change *c,
						const struct kafka_msg_ctx *ctx);

/*
 * Append one value of a column of type type (format_type text, see
 * struct kafka_column; NULL: as the server sent it) as Debezium writes it
 * without schema: smallint, integer, bigint, real, double precision and
 * boolean as JSON numbers and booleans; numeric per ctx->decimal (precise:
 * numeric(P,S) as base64 of the unscaled value's big-endian two's
 * complement, unconstrained numeric as {"scale":S,"value":BASE64}, NaN as
 * null); date as days since 1970-01-01; time and timestamp per ctx->time
 * (adaptive: precision up to 3 in ms, else in µs; connect: ms); timestamp
 * with time zone and time with time zone as ISO-8601 strings in UTC
 * ("2026-11-25T00:19:22.79Z"); bytea as base64; arrays (one dimension) as
 * JSON arrays of their converted elements; interval per ctx->interval
 * (numeric: approximate µs; string: ISO 8601, pgtext.h); hstore per
 * ctx->hstore (json: a JSON string of the map; map: a JSON object);
 * json, jsonb, uuid, enums and everything else as strings.  A value that does not parse as its type
 * goes as the server's text.  Pure.
 */
void kafka_msg_value(struct buf *out, const char *type,
					 const struct w2j_column *v,
					 const struct kafka_msg_ctx *ctx);

/* Append the standard base64 of data[0..n). */
void kafka_msg_base64(struct buf *out, const unsigned char *data, size_t n);

/*
 * Append Debezium's message event of a logical decoding message c (an M,
 * from pg_logical_emit_message), transactional or not:
 *
 *   {"op":"m","ts_ms":NOW_MS,"source":{..as above, "schema":"","table":"",
 *    "txId":XID|null..},"message":{"prefix":P,"content":BASE64}}
 *
 * and its key {"prefix":P}, each wrapped with its schema
 * (io.debezium.connector.postgresql.MessageValue, MessageKey) when
 * ctx->schemas.  Borrows c and ctx.
 */
void kafka_msg_message(struct buf *out, const struct w2j_change *c,
					   const struct kafka_msg_ctx *ctx);
void kafka_msg_message_key(struct buf *out, const struct w2j_change *c,
						   const struct kafka_msg_ctx *ctx);

/* A BEGIN or END event of Debezium's transaction metadata (borrowed). */
struct kafka_txn_event {
	const char *id; /* "XID:LSN", as in each change's transaction block */
	bool end;
	int64_t ts_ms;
	/* END only: the events per table ("schema.table") and their sum */
	const char *const *collections;
	const uint64_t *counts;
	size_t ncollections;
	uint64_t event_count;
};

/*
 * Append a transaction metadata event as Debezium writes it:
 *
 *   {"status":"BEGIN","id":ID,"event_count":null,"data_collections":null,
 *    "ts_ms":TS}
 *   {"status":"END","id":ID,"event_count":N,"data_collections":
 *    [{"data_collection":"public.t","event_count":N}, ..],"ts_ms":TS}
 *
 * and its key {"id":ID}, with their schemas
 * (io.debezium.connector.common.TransactionMetadataValue, ..Key) when
 * schemas.  Pure.
 */
void kafka_msg_txn_event(struct buf *out, const struct kafka_txn_event *e,
						 bool schemas);
void kafka_msg_txn_key(struct buf *out, const char *id, bool schemas);

/* Debezium's op letter of a change: c, u, d or t ('?' for others). */
char kafka_msg_op(const struct w2j_change *c);

#endif
