/* sink_kafka.c: the Kafka sink: an idempotent librdkafka producer and its delivered watermark. */
#include "walpipe/sink_kafka.h"
#include "walpipe/clock.h"

#include "walpipe/version.h"

#include <stdio.h>
#include <string.h>

void
sink_kafka_config_from(struct sink_kafka_config *out,
					   const struct wp_config *cfg)
{
	memset(out, 0, sizeof(*out));
	out->config_path = cfg->path;
	out->source = cfg->source.name;
	out->brokers = cfg->kafka.brokers;
	out->topic = cfg->kafka.topic;
	out->debezium = cfg->kafka.format && strcmp(cfg->kafka.format, "debezium") == 0;
	out->tombstones = cfg->kafka.tombstones;
	out->source_conninfo = cfg->source.conninfo;
	out->schemas = cfg->kafka.schemas;
	out->decimal = !cfg->kafka.decimal_handling_mode ||
						   strcmp(cfg->kafka.decimal_handling_mode, "precise") == 0
					   ? KAFKA_DECIMAL_PRECISE
				   : strcmp(cfg->kafka.decimal_handling_mode, "string") == 0
					   ? KAFKA_DECIMAL_STRING
					   : KAFKA_DECIMAL_DOUBLE;
	out->time = cfg->kafka.time_precision_mode &&
						strcmp(cfg->kafka.time_precision_mode, "connect") == 0
					? KAFKA_TIME_CONNECT
					: KAFKA_TIME_ADAPTIVE;
	out->interval = cfg->kafka.interval_handling_mode &&
							strcmp(cfg->kafka.interval_handling_mode,
								   "string") == 0
						? KAFKA_INTERVAL_STRING
						: KAFKA_INTERVAL_NUMERIC;
	out->hstore = cfg->kafka.hstore_handling_mode &&
						  strcmp(cfg->kafka.hstore_handling_mode, "map") == 0
					  ? KAFKA_HSTORE_MAP
					  : KAFKA_HSTORE_JSON;
	out->column_include = cfg->kafka.column_include_list;
	out->column_exclude = cfg->kafka.column_exclude_list;
	out->key_columns = cfg->kafka.message_key_columns;
	out->unavailable = cfg->kafka.unavailable_value_placeholder &&
							   cfg->kafka.unavailable_value_placeholder[0]
						   ? cfg->kafka.unavailable_value_placeholder
						   : NULL;
	out->messages_topic = cfg->kafka.messages_topic;
	out->transaction_metadata = cfg->kafka.transaction_metadata;
	out->transaction_topic = cfg->kafka.transaction_topic;
	out->transactions = cfg->kafka.transactions;
	out->dedupe = cfg->kafka.dedupe_on_restart;
	out->props = cfg->kafka.properties;
	out->nprops = cfg->kafka.nproperties;
}

#if WALPIPE_HAVE_KAFKA

#include "walpipe/buf.h"
#include "walpipe/changefmt.h"
#include "walpipe/kafka_msg.h"
#include "walpipe/kafka_pos.h"
#include "walpipe/kafka_select.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"
#include "walpipe/pgconn.h"
#include "walpipe/txntrack.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

/* Scratch buffers bigger than this are released after the message. */
#define SCRATCH_KEEP (256 * 1024)

/* kafka.transactions: a Kafka transaction is committed at the first source transaction
 * boundary after this long, or this many messages. */
#define KTXN_MAX_MS 200
#define KTXN_MAX_MESSAGES 50000

/*
 * A table's columns as the source catalog has them, for Debezium's
 * conversions, field schemas and TOAST placeholders: read once per table
 * (and again when a change shows a column it lacks or lacks one of its
 * columns in an insert), on a connection of the sink's own.
 */
struct table_desc {
	char *schema, *table;
	struct kafka_column *cols;
	struct w2j_column *pk; /* primary key columns in key order (reads) */
	size_t npk;
	struct kafka_table tab;
	PGresult *res; /* owns the strings of cols */
};

/*
 * dedupe: a topic's partitions as the session found them before its first
 * message to the topic.  nparts 0: the topic did not exist, it holds
 * nothing, and librdkafka partitions its messages.
 */
struct topic_tail {
	char *name;
	int32_t nparts;
	struct kafka_pos *max; /* per partition: the highest stream position */
	bool *has;			   /* per partition: max is set */
};

struct sink_kafka {
	rd_kafka_t *rk;
	struct txntrack *track;
	const char *source; /* borrowed from the configuration */
	const char *topic_tmpl;
	bool debezium, tombstones;
	struct sink_kafka_config kc; /* borrowed strings */
	PGconn *cat;				 /* NULL until the first lookup */
	char db[128];				 /* source.db */
	struct table_desc *tables;
	size_t ntables;
	/* Debezium's column lists and key columns (NULL: none), compiled at
	 * the first change (walpipe check has compiled them already). */
	struct kafka_select *select;
	bool select_compiled;
	struct kafka_select_scratch select_scratch;
	/* Transaction metadata of the open transaction: its BEGIN went out
	 * with its first change; its END goes at its commit. */
	bool txn_begun;
	lsn_t txn_end;
	uint32_t txn_xid;
	int64_t txn_ms;
	char txn_id[48];
	uint64_t txn_events;
	char **txn_colls; /* "schema.table" */
	uint64_t *txn_counts;
	size_t ntxn_colls;
	/* kafka.transactions */
	bool src_open;		 /* inside a source transaction */
	lsn_t src_end;		 /* its end */
	lsn_t last_complete; /* the stream has passed every change before */
	bool in_ktxn;		 /* a Kafka transaction is open */
	int64_t ktxn_began;	 /* ms */
	uint64_t ktxn_messages;
	lsn_t committed; /* covered by committed Kafka transactions */
	struct buf topic, key, value;
	/* The first delivery or producer error; the session ends on it. */
	enum kafka_result res;
	char errmsg[1024];
	bool closing; /* purged messages report errors: expected */
	uint64_t produced, delivered, failed;
	/* dedupe */
	rd_kafka_t *tail; /* the consumer that reads the topics' ends */
	struct topic_tail *tails;
	size_t ntails;
	/* The tails by topic name, looked up for every message: an
	 * open-addressing index (index + 1, 0: empty), at most half full,
	 * and the last tail found (index + 1, 0: none), which a run of
	 * changes to one table asks for again. */
	size_t *tail_slots;
	size_t ntail_slots;
	size_t tail_last;
	uint64_t skipped, skipped_logged;
	int64_t last_warning; /* ms, rate-limits producer warnings */
	int64_t full_since;	  /* ms the queue has been full, 0: not */
	bool full_logged;
};

/*
 * Errors of a message that no resend can fix: the message itself, the
 * topic or the credentials are wrong.  Everything else (timeouts, leader
 * changes, brokers down) is transient: resend from the slot.
 */
static bool
delivery_error_is_fatal(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR__FATAL:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
	case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
		return true;
	default:
		return false;
	}
}

/* Keep the first error only: it is the cause, the rest follow from it. */
static void
set_error(struct sink_kafka *k, enum kafka_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_error(struct sink_kafka *k, enum kafka_result r, const char *fmt, ...)
{
	va_list ap;

	if (k->res != KAFKA_OK && !(r == KAFKA_FATAL && k->res == KAFKA_RETRY))
		return;
	k->res = r;
	va_start(ap, fmt);
	vsnprintf(k->errmsg, sizeof(k->errmsg), fmt, ap);
	va_end(ap);
}

/* Served by rd_kafka_poll, in walpipe's main thread. */
static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct sink_kafka *k = opaque;

	(void) rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		k->delivered++;
		txntrack_ack(k->track, (uint64_t) (uintptr_t) m->_private);
		return;
	}
	k->failed++;
	if (k->closing)
		return;
	set_error(k, delivery_error_is_fatal(m->err) ? KAFKA_FATAL : KAFKA_RETRY,
			  "could not deliver a message to Kafka topic \"%s\": %s",
			  rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct sink_kafka *k = opaque;
	char fatal[512];
	int64_t now = clock_mono_ms();

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		set_error(k, KAFKA_FATAL, "the Kafka producer failed: %s", fatal);
		return;
	}
	/* Brokers down, connections refused: librdkafka keeps retrying and
	 * the slot waits; say so, but not a hundred times a second. */
	if (now - k->last_warning >= 10000) {
		wp_log(LOG_WARNING, "Kafka: %s", reason);
		k->last_warning = now;
	}
}

static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void) rk;
	/* Broker connection failures come through on_error too, rate-limited:
	 * an outage is waited out, not an error of walpipe's. */
	if (strcmp(fac, "FAIL") == 0)
		return;
	wp_log(level <= 2 ? LOG_ERROR : level <= 4 ? LOG_WARNING : LOG_DEBUG,
		   "librdkafka %s: %s", fac, buf);
}

/*
 * The producer configuration: walpipe's defaults, then every property of
 * the file in order (so the file can override the defaults), then what
 * walpipe cannot work without.  Refused properties go to errs.
 */
static rd_kafka_conf_t *
conf_build(const struct sink_kafka_config *kc, struct config_errors *errs)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512], v[16];
	size_t vlen = sizeof(v);
	struct {
		const char *key, *value;
	} defaults[] = {
		{"bootstrap.servers", kc->brokers},
		{"client.id", "walpipe"},
		{"enable.idempotence", "true"},
		/* The Java client's partitioner (Debezium's): a key's murmur2 hash,
		 * so keys land in the partitions Debezium would put them in;
		 * librdkafka's own default (consistent_random, CRC32) differs. */
		{"partitioner", "murmur2_random"},
		/* Never give up on a message: an outage is waited out with the
		 * slot held, and nothing is dropped. */
		{"message.timeout.ms", "0"},
		/* Logs come out of rd_kafka_poll in the main thread. */
		{"log.queue", "true"},
	};

	/*
	 * The restart dedupe takes a partition's last walpipe message for
	 * proof that everything before it in that partition landed.  By
	 * default the idempotent producer may leave a gap when a batch fails
	 * for good and go on with the next; with the gapless guarantee that
	 * is a fatal error instead (exit 1, the slot held), and the broker's
	 * sequence numbers keep a later batch from landing after the gap.
	 * A transactional producer aborts instead.  (librdkafka: "Messages
	 * failing due to message.timeout.ms are not covered", hence the
	 * refusal of a timeout below.)
	 */
	bool gapless = kc->dedupe && !kc->transactions;

	if (gapless &&
		rd_kafka_conf_set(conf, "enable.gapless.guarantee", "true", errstr,
						  sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		struct buf b = BUF_INIT;

		buf_appendf(&b, "%s: kafka: %s", kc->config_path, errstr);
		errs->msg = wp_realloc(errs->msg, (errs->n + 1) * sizeof(char *));
		errs->msg[errs->n++] = b.data;
	}
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (rd_kafka_conf_set(conf, defaults[i].key, defaults[i].value, errstr,
							  sizeof(errstr)) != RD_KAFKA_CONF_OK) {
			struct buf b = BUF_INIT;

			buf_appendf(&b, "%s: kafka: %s", kc->config_path, errstr);
			errs->msg = wp_realloc(errs->msg, (errs->n + 1) * sizeof(char *));
			errs->msg[errs->n++] = b.data;
		}
	for (size_t i = 0; i < kc->nprops; i++) {
		const struct config_kv *p = &kc->props[i];
		const char *why = NULL;

		if (rd_kafka_conf_set(conf, p->key, p->value, errstr,
							  sizeof(errstr)) != RD_KAFKA_CONF_OK) {
			errstr[strcspn(errstr, "\n")] = '\0'; /* some end in one */
			why = errstr;
		}
		else if (strcmp(p->key, "enable.idempotence") == 0 &&
				 (rd_kafka_conf_get(conf, "enable.idempotence", v, &vlen) !=
					  RD_KAFKA_CONF_OK ||
				  strcmp(v, "true") != 0))
			why = "walpipe needs the idempotent producer: without it a "
				  "retried send can duplicate or reorder the changes of a key";
		else if (strcmp(p->key, "log.queue") == 0)
			why = "walpipe sets log.queue itself";
		else if (gapless &&
				 strcmp(p->key, "enable.gapless.guarantee") == 0 &&
				 strcmp(p->value, "true") != 0)
			why = "kafka.dedupe_on_restart needs it: a message that failed "
				  "for good before others of its partition landed would "
				  "look delivered to the next session, which would skip it; "
				  "set dedupe_on_restart: false to turn it off";
		else if (gapless && strcmp(p->key, "message.timeout.ms") == 0 &&
				 strcmp(p->value, "0") != 0)
			why = "kafka.dedupe_on_restart needs message.timeout.ms 0: a "
				  "message that timed out before others of its partition "
				  "landed would look delivered to the next session, which "
				  "would skip it; set dedupe_on_restart: false to use a "
				  "timeout";
		else if (strcmp(p->key, "partitioner") == 0 && kc->dedupe &&
				 strcmp(p->value, "murmur2_random") != 0 &&
				 strcmp(p->value, "murmur2") != 0)
			why = "kafka.dedupe_on_restart picks partitions itself as "
				  "murmur2 does, to know which partition already "
				  "holds a message; set dedupe_on_restart: false to use "
				  "another partitioner";
		if (why) {
			struct buf b = BUF_INIT;

			buf_appendf(&b, "%s:%d:%d: kafka.properties.%s: %s",
						kc->config_path, p->line, p->col, p->key, why);
			errs->msg = wp_realloc(errs->msg, (errs->n + 1) * sizeof(char *));
			errs->msg[errs->n++] = b.data;
		}
	}
	if (kc->transactions) {
		char tid[256];

		/* One id per source: a restarted walpipe fences the one before
		 * and aborts what it left open. */
		snprintf(tid, sizeof(tid), "walpipe-%s", kc->source ? kc->source : "");
		if (rd_kafka_conf_get(conf, "transactional.id", NULL, &vlen) !=
				RD_KAFKA_CONF_OK ||
			vlen <= 1)
			rd_kafka_conf_set(conf, "transactional.id", tid, errstr,
							  sizeof(errstr));
	}
	rd_kafka_conf_set_log_cb(conf, on_log);
	return conf;
}

bool
sink_kafka_check(const struct sink_kafka_config *kc,
				 struct config_errors *errs)
{
	size_t before = errs->n;

	rd_kafka_conf_destroy(conf_build(kc, errs));
	return errs->n == before;
}

struct sink_kafka *
sink_kafka_open(const struct sink_kafka_config *kc, lsn_t start, char *errbuf,
				size_t errlen)
{
	struct config_errors errs = {NULL, 0};
	rd_kafka_conf_t *conf = conf_build(kc, &errs);
	struct sink_kafka *k;
	char errstr[512];

	if (errs.n > 0) {
		struct buf b = BUF_INIT;

		for (size_t i = 0; i < errs.n; i++)
			buf_appendf(&b, "%s%s", i ? "\n" : "", errs.msg[i]);
		snprintf(errbuf, errlen, "%s", b.data);
		buf_free(&b);
		config_errors_free(&errs);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	k = wp_calloc(1, sizeof(*k));
	k->source = kc->source;
	k->topic_tmpl = kc->topic;
	k->debezium = kc->debezium;
	k->tombstones = kc->tombstones;
	k->kc = *kc;
	k->track = txntrack_new(start);
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (k->rk == NULL) {
		snprintf(errbuf, errlen, "could not create the Kafka producer: %s",
				 errstr);
		rd_kafka_conf_destroy(conf);
		txntrack_free(k->track);
		free(k);
		return NULL;
	}
	/* Send librdkafka's logs to the main queue: served by rd_kafka_poll. */
	rd_kafka_set_log_queue(k->rk, NULL);
	k->committed = start;
	k->last_complete = start;
	if (kc->transactions) {
		rd_kafka_error_t *e;

		/* Fences the walpipe before (same transactional.id) and aborts
		 * what it left open. */
		e = rd_kafka_init_transactions(k->rk, 30000);
		if (e) {
			snprintf(errbuf, errlen,
					 "could not start Kafka transactions: %s",
					 rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
			sink_kafka_close(k);
			return NULL;
		}
	}
	return k;
}

void
sink_kafka_close(struct sink_kafka *k)
{
	if (k == NULL)
		return;
	/* What is not delivered now is resent from the slot next time;
	 * waiting for it here could hang on brokers that are down. */
	k->closing = true;
	if (k->in_ktxn) {
		rd_kafka_error_t *e = rd_kafka_abort_transaction(k->rk, 5000);

		if (e)
			rd_kafka_error_destroy(e);
	}
	rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(k->rk, 0);
	rd_kafka_destroy(k->rk);
	if (k->tail)
		rd_kafka_destroy(k->tail);
	for (size_t i = 0; i < k->ntails; i++) {
		free(k->tails[i].name);
		free(k->tails[i].max);
		free(k->tails[i].has);
	}
	free(k->tails);
	free(k->tail_slots);
	txntrack_free(k->track);
	for (size_t i = 0; i < k->ntables; i++) {
		free(k->tables[i].schema);
		free(k->tables[i].table);
		free(k->tables[i].cols);
		free(k->tables[i].pk);
		PQclear(k->tables[i].res);
	}
	free(k->tables);
	kafka_select_free(k->select);
	kafka_select_scratch_free(&k->select_scratch);
	for (size_t i = 0; i < k->ntxn_colls; i++)
		free(k->txn_colls[i]);
	free(k->txn_colls);
	free(k->txn_counts);
	if (k->cat)
		PQfinish(k->cat);
	buf_free(&k->topic);
	buf_free(&k->key);
	buf_free(&k->value);
	free(k);
}

/*
 * Commit the open Kafka transaction at a source transaction boundary,
 * when it is due (or force): only then may the slot pass what it holds.
 * A failure is kept as the sink's error: the session ends, and the next
 * one resends from the slot (the aborted messages stay invisible to
 * read_committed consumers).
 */
static void
ktxn_maybe_commit(struct sink_kafka *k, bool force)
{
	rd_kafka_error_t *e;

	if (!k->kc.transactions || k->src_open || k->res != KAFKA_OK)
		return;
	/* Nothing produced since the last commit: every position passed is
	 * as good as committed (a transaction with nothing for Kafka, an idle
	 * stream). */
	if (!k->in_ktxn) {
		k->committed = k->last_complete;
		return;
	}
	if (!force && clock_mono_ms() - k->ktxn_began < KTXN_MAX_MS &&
		k->ktxn_messages < KTXN_MAX_MESSAGES)
		return;
	for (;;) {
		e = rd_kafka_commit_transaction(k->rk, 60000);
		if (e == NULL)
			break;
		if (rd_kafka_error_is_retriable(e)) {
			rd_kafka_error_destroy(e);
			continue;
		}
		set_error(k, rd_kafka_error_is_fatal(e) ? KAFKA_FATAL : KAFKA_RETRY,
				  "could not commit a Kafka transaction: %s",
				  rd_kafka_error_string(e));
		if (rd_kafka_error_txn_requires_abort(e)) {
			rd_kafka_error_t *a = rd_kafka_abort_transaction(k->rk, 30000);

			if (a)
				rd_kafka_error_destroy(a);
			k->in_ktxn = false;
		}
		rd_kafka_error_destroy(e);
		return;
	}
	k->in_ktxn = false;
	k->committed = k->last_complete;
}

/* Open a Kafka transaction for the next message if none is. */
static enum kafka_result
ktxn_ensure(struct sink_kafka *k, char *errbuf, size_t errlen)
{
	rd_kafka_error_t *e;

	if (!k->kc.transactions || k->in_ktxn)
		return KAFKA_OK;
	e = rd_kafka_begin_transaction(k->rk);
	if (e) {
		snprintf(errbuf, errlen, "could not begin a Kafka transaction: %s",
				 rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return KAFKA_FATAL;
	}
	k->in_ktxn = true;
	k->ktxn_began = clock_mono_ms();
	k->ktxn_messages = 0;
	return KAFKA_OK;
}

void
sink_kafka_begin(struct sink_kafka *k, lsn_t end)
{
	txntrack_begin(k->track, end);
	k->src_open = true;
	k->src_end = end;
}

static enum kafka_result txn_event(struct sink_kafka *k, bool end,
								   void (*tick)(void *), void *arg,
								   volatile sig_atomic_t *stop, char *errbuf,
								   size_t errlen);

void
sink_kafka_commit(struct sink_kafka *k)
{
	/* The END event belongs to the transaction: the slot passes it only
	 * once Kafka has it.  An error is kept and reported by the next
	 * poll or produce. */
	if (k->txn_begun) {
		char err[1024];
		enum kafka_result r = txn_event(k, true, NULL, NULL, NULL, err,
										sizeof(err));

		if (r != KAFKA_OK && r != KAFKA_STOPPED)
			set_error(k, r, "%s", err);
		k->txn_begun = false;
	}
	txntrack_commit(k->track);
	k->src_open = false;
	if (k->src_end > k->last_complete)
		k->last_complete = k->src_end;
	ktxn_maybe_commit(k, false);
}

void
sink_kafka_mark(struct sink_kafka *k, lsn_t pos)
{
	txntrack_mark(k->track, pos);
	if (!k->src_open && pos > k->last_complete)
		k->last_complete = pos;
	/* An idle stream still commits what it has. */
	ktxn_maybe_commit(k, false);
}

enum kafka_result
sink_kafka_poll(struct sink_kafka *k, int timeout_ms, char *errbuf,
				size_t errlen)
{
	rd_kafka_poll(k->rk, timeout_ms);
	ktxn_maybe_commit(k, false);
	if (k->res != KAFKA_OK)
		snprintf(errbuf, errlen, "%s", k->errmsg);
	return k->res;
}

/* Empty the scratch buffers and expand the topic of the next message. */
static void
scratch_start(struct sink_kafka *k, const char *tmpl, const char *schema,
			  const char *table)
{
	buf_reset(&k->topic, SCRATCH_KEEP);
	buf_reset(&k->key, SCRATCH_KEEP);
	buf_reset(&k->value, SCRATCH_KEEP);
	kafka_msg_topic(&k->topic, tmpl, k->source, schema, table);
}

/* The reading-back consumer's logs: it is given the producer's
 * properties too, and its warnings that it ignores them are noise. */
static void
on_tail_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void) rk;
	wp_log(level <= 3 ? LOG_WARNING : LOG_DEBUG,
		   "librdkafka (reading back) %s: %s", fac, buf);
}

/* The consumer that reads the ends of the topics, made once a session. */
static rd_kafka_t *
tail_consumer(struct sink_kafka *k, char *errbuf, size_t errlen)
{
	static const char *const own[][2] = {
		{"client.id", "walpipe-dedupe"},
		/* A real broker hides the records of aborted transactions: they
		 * are sent again.  (librdkafka's mock cluster shows them.) */
		{"isolation.level", "read_committed"},
		{"enable.partition.eof", "true"},
		{"enable.auto.commit", "false"},
		{"fetch.wait.max.ms", "50"},
		{"log.queue", "true"},
	};
	rd_kafka_conf_t *conf;
	char errstr[512];

	if (k->tail)
		return k->tail;
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", k->kc.brokers, errstr,
					  sizeof(errstr));
	/* The file's properties carry the addresses, TLS and SASL settings;
	 * what only a producer takes is left out or ignored. */
	for (size_t i = 0; i < k->kc.nprops; i++) {
		const char *key = k->kc.props[i].key;

		if (strcmp(key, "transactional.id") != 0 &&
			strcmp(key, "enable.idempotence") != 0 &&
			strcmp(key, "partitioner") != 0)
			rd_kafka_conf_set(conf, key, k->kc.props[i].value, errstr,
							  sizeof(errstr));
	}
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		rd_kafka_conf_set(conf, own[i][0], own[i][1], errstr, sizeof(errstr));
	rd_kafka_conf_set_log_cb(conf, on_tail_log);
	k->tail = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (k->tail == NULL) {
		snprintf(errbuf, errlen,
				 "could not create the Kafka consumer that reads back what "
				 "the topics hold: %s",
				 errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_set_log_queue(k->tail, NULL);
	return k->tail;
}

/* Keep the highest stream position of the partition, with m's. */
static void
tail_note(struct topic_tail *t, int32_t part, const rd_kafka_message_t *m)
{
	rd_kafka_headers_t *h = NULL;
	const void *v[3] = {NULL, NULL, NULL};
	size_t len[3] = {0, 0, 0};
	static const char *const names[3] = {"txn_end", "txn_pos", "op"};
	struct kafka_pos at;

	if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	for (int i = 0; i < 3; i++)
		if (rd_kafka_header_get_last(h, names[i], &v[i], &len[i]) !=
			RD_KAFKA_RESP_ERR_NO_ERROR)
			return;
	if (!kafka_pos_parse(&at, v[0], len[0], v[1], len[1], v[2], len[2],
						 m->payload == NULL))
		return;
	if (!t->has[part] || kafka_pos_cmp(&at, &t->max[part]) > 0) {
		t->max[part] = at;
		t->has[part] = true;
	}
}

/*
 * Read offsets [from, to) of a partition (or up to its end, if that comes
 * first) into t.  *seen counts the messages read, *began is when the
 * reading of the topic began (for the progress log).
 */
static enum kafka_result
tail_range(struct sink_kafka *k, rd_kafka_topic_t *rkt, struct topic_tail *t,
		   int32_t part, int64_t from, int64_t to, uint64_t *seen,
		   int64_t began, int64_t *logged, char *errbuf, size_t errlen)
{
	enum kafka_result r = KAFKA_OK;
	int64_t waited = clock_mono_ms();

	if (rd_kafka_consume_start(rkt, part, from) == -1) {
		snprintf(errbuf, errlen,
				 "could not read Kafka topic \"%s\" partition %d: %s",
				 t->name, (int) part,
				 rd_kafka_err2str(rd_kafka_last_error()));
		return KAFKA_RETRY;
	}
	for (;;) {
		rd_kafka_message_t *m = rd_kafka_consume(rkt, part, 100);
		bool last;

		rd_kafka_poll(k->tail, 0);
		if (m == NULL) {
			if (clock_mono_ms() - waited < 30000)
				continue;
			snprintf(errbuf, errlen,
					 "could not read Kafka topic \"%s\" partition %d: no "
					 "answer in 30 s",
					 t->name, (int) part);
			r = KAFKA_RETRY;
			break;
		}
		waited = clock_mono_ms();
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
			(!m->err && m->offset >= to)) {
			rd_kafka_message_destroy(m);
			break;
		}
		if (m->err) {
			snprintf(errbuf, errlen,
					 "could not read Kafka topic \"%s\" partition %d: %s",
					 t->name, (int) part, rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			r = KAFKA_RETRY;
			break;
		}
		(*seen)++;
		tail_note(t, part, m);
		last = m->offset >= to - 1;
		rd_kafka_message_destroy(m);
		if (last)
			break;
		if (waited - *logged >= 5000) {
			wp_log(LOG_INFO,
				   "reading back Kafka topic \"%s\" for what it already "
				   "holds: %" PRIu64 " messages in %.0f s",
				   t->name, *seen, (double) (waited - began) / 1000.0);
			*logged = waited;
		}
	}
	rd_kafka_consume_stop(rkt, part);
	return r;
}

/* FNV-1a of a topic's name. */
static size_t
tail_hash(const char *topic)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (const char *p = topic; *p; p++)
		h = (h ^ (unsigned char) *p) * UINT64_C(1099511628211);
	return (size_t) h;
}

/* The slot of topic in the index: its tail's, or the empty one it would
 * take.  The index must have slots. */
static size_t
tail_slot(const struct sink_kafka *k, const char *topic)
{
	size_t i = tail_hash(topic) & (k->ntail_slots - 1);

	while (k->tail_slots[i] &&
		   strcmp(k->tails[k->tail_slots[i] - 1].name, topic) != 0)
		i = (i + 1) & (k->ntail_slots - 1);
	return i;
}

/* Index the last tail added, doubling the index (and indexing every tail
 * again) when it would be more than half full. */
static void
tail_index_last(struct sink_kafka *k)
{
	size_t from = k->ntails - 1;

	if (2 * k->ntails > k->ntail_slots) {
		free(k->tail_slots);
		k->ntail_slots = k->ntail_slots ? 2 * k->ntail_slots : 64;
		k->tail_slots = wp_calloc(k->ntail_slots, sizeof(*k->tail_slots));
		from = 0;
	}
	for (size_t i = from; i < k->ntails; i++)
		k->tail_slots[tail_slot(k, k->tails[i].name)] = i + 1;
}

/*
 * The highest stream position each partition of topic holds, read before
 * the session's first message to it: the end of each partition, from
 * "high watermark - W", W doubling while no message there has one (only
 * snapshot reads or others' messages) and the start is above the low
 * watermark.
 */
static enum kafka_result
tail_find(struct sink_kafka *k, const char *topic, struct topic_tail **out,
		  char *errbuf, size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt;
	rd_kafka_resp_err_t err;
	struct topic_tail t;
	enum kafka_result r = KAFKA_OK;
	int64_t began = clock_mono_ms(), logged = began;
	uint64_t seen = 0;

	/* Per message: the last topic again, or one lookup in the index. */
	if (k->tail_last == 0 ||
		strcmp(k->tails[k->tail_last - 1].name, topic) != 0)
		k->tail_last = k->ntails ? k->tail_slots[tail_slot(k, topic)] : 0;
	if (k->tail_last) {
		*out = &k->tails[k->tail_last - 1];
		return KAFKA_OK;
	}
	if (tail_consumer(k, errbuf, errlen) == NULL)
		return KAFKA_FATAL;
	memset(&t, 0, sizeof(t));
	rkt = rd_kafka_topic_new(k->tail, topic, NULL);
	err = rd_kafka_metadata(k->tail, 0, rkt, &md, 10000);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
		err = md->topics[0].err;
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		t.nparts = md->topics[0].partition_cnt;
	else if (err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
		snprintf(errbuf, errlen,
				 "could not read the partitions of Kafka topic \"%s\": %s",
				 topic, rd_kafka_err2str(err));
		r = KAFKA_RETRY;
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	t.name = wp_strdup(topic);
	t.max = wp_calloc((size_t) t.nparts + 1, sizeof(*t.max));
	t.has = wp_calloc((size_t) t.nparts + 1, sizeof(*t.has));
	for (int32_t p = 0; p < t.nparts && r == KAFKA_OK; p++) {
		int64_t lo, hi, from, to, w = 64;

		err = rd_kafka_query_watermark_offsets(k->tail, topic, p, &lo, &hi,
											   10000);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(errbuf, errlen,
					 "could not read the offsets of Kafka topic \"%s\" "
					 "partition %d: %s",
					 topic, (int) p, rd_kafka_err2str(err));
			r = KAFKA_RETRY;
			break;
		}
		for (to = hi, from = hi - w > lo ? hi - w : lo; from < to;
			 to = from, w *= 2, from = hi - w > lo ? hi - w : lo) {
			r = tail_range(k, rkt, &t, p, from, to, &seen, began, &logged,
						   errbuf, errlen);
			if (r != KAFKA_OK || t.has[p])
				break;
		}
	}
	rd_kafka_topic_destroy(rkt);
	if (r != KAFKA_OK) {
		free(t.name);
		free(t.max);
		free(t.has);
		return r;
	}
	if (clock_mono_ms() - began >= 2000)
		wp_log(LOG_INFO,
			   "read back Kafka topic \"%s\" (%d partitions, %" PRIu64
			   " messages) in %.1f s",
			   topic, (int) t.nparts, seen,
			   (double) (clock_mono_ms() - began) / 1000.0);
	k->tails = wp_realloc(k->tails, (k->ntails + 1) * sizeof(t));
	k->tails[k->ntails] = t;
	*out = &k->tails[k->ntails++];
	tail_index_last(k);
	k->tail_last = k->ntails;
	return KAFKA_OK;
}

/*
 * dedupe: the partition of the next message (k->topic, k->key) and
 * whether that partition already holds it (*held).  RD_KAFKA_PARTITION_UA
 * (librdkafka picks, and nothing is skipped) when dedupe is off, the
 * topic did not exist or the message has no key: a keyless message goes
 * to a random partition, so another partition's position says nothing
 * about it.
 */
static enum kafka_result
dedupe_check(struct sink_kafka *k, const struct kafka_change *kc, char op,
			 bool tombstone, int32_t *part, bool *held, char *errbuf,
			 size_t errlen)
{
	struct topic_tail *t;
	struct kafka_pos at;
	enum kafka_result r;

	*part = RD_KAFKA_PARTITION_UA;
	*held = false;
	if (!k->kc.dedupe)
		return KAFKA_OK;
	r = tail_find(k, k->topic.data, &t, errbuf, errlen);
	if (r != KAFKA_OK || t->nparts == 0 || k->key.len == 0)
		return r;
	kafka_pos_make(&at, kc->txn_end, kc->txn_pos, op, tombstone);
	/* The partition murmur2_random picks, so that keys land where they
	 * always did (and where Debezium puts them). */
	*part = rd_kafka_msg_partitioner_murmur2(NULL, k->key.data, k->key.len,
											 t->nparts, NULL, NULL);
	*held = op != 'r' && t->has[*part] && kafka_pos_cmp(&t->max[*part], &at) >= 0;
	return KAFKA_OK;
}

/* Send one message, waiting while the queue is full. */
static enum kafka_result
produce_one(struct sink_kafka *k, const struct kafka_change *kc, bool tombstone,
			void (*tick)(void *), void *arg, volatile sig_atomic_t *stop,
			char *errbuf, size_t errlen)
{
	char lsn[LSN_STRLEN], end[LSN_STRLEN], pos[24], xid[16], op[2];
	uint64_t ticket;
	rd_kafka_resp_err_t err;
	enum kafka_result r;
	int32_t part;
	bool held;

	op[0] = kc->op								? kc->op
			: kc->c->action == W2J_MESSAGE ? 'm'
										   : kafka_msg_op(kc->c);
	op[1] = '\0';
	/* Sent before a crash or a stop and not yet confirmed to the slot:
	 * the restart's stream has it again, Kafka already has it.  Nothing
	 * to deliver, so nothing for the tracker to wait for. */
	r = dedupe_check(k, kc, op[0], tombstone, &part, &held, errbuf, errlen);
	if (r != KAFKA_OK)
		return r;
	if (held) {
		k->skipped++;
		return KAFKA_OK;
	}
	if (k->skipped > k->skipped_logged) {
		wp_log(LOG_INFO, "skipped %" PRIu64 " messages Kafka already had",
			   k->skipped - k->skipped_logged);
		k->skipped_logged = k->skipped;
	}
	r = ktxn_ensure(k, errbuf, errlen);
	if (r != KAFKA_OK)
		return r;
	ticket = txntrack_add(k->track);
	k->ktxn_messages++;

	lsn_format(kc->c->lsn, lsn);
	lsn_format(kc->txn_end, end);
	snprintf(pos, sizeof(pos), "%" PRIu64, kc->txn_pos);
	snprintf(xid, sizeof(xid), "%" PRIu32, kc->c->xid);
	for (;;) {
		err = rd_kafka_producev(
			k->rk, RD_KAFKA_V_TOPIC(k->topic.data), RD_KAFKA_V_PARTITION(part),
			RD_KAFKA_V_KEY(k->key.len ? k->key.data : NULL, k->key.len),
			RD_KAFKA_V_VALUE(tombstone ? NULL : k->value.data,
							 tombstone ? 0 : k->value.len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_HEADER("lsn", lsn, -1),
			RD_KAFKA_V_HEADER("txn_end", end, -1),
			RD_KAFKA_V_HEADER("txn_pos", pos, -1),
			RD_KAFKA_V_HEADER("xid", xid, -1), RD_KAFKA_V_HEADER("op", op, -1),
			RD_KAFKA_V_OPAQUE((void *) (uintptr_t) ticket), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			break;
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			snprintf(errbuf, errlen,
					 "could not produce to Kafka topic \"%s\": %s",
					 k->topic.data, rd_kafka_err2str(err));
			return err == RD_KAFKA_RESP_ERR__FATAL ||
						   delivery_error_is_fatal(err)
					   ? KAFKA_FATAL
					   : KAFKA_RETRY;
		}
		/* Back-pressure: stop reading the stream, keep the source
		 * connection alive, wait for deliveries to make room. */
		if (k->full_since == 0)
			k->full_since = clock_mono_ms();
		if (!k->full_logged && clock_mono_ms() - k->full_since >= 10000) {
			wp_log(LOG_WARNING,
				   "the Kafka producer queue has been full for 10 s: "
				   "reading from the source is paused until the brokers "
				   "take messages");
			k->full_logged = true;
		}
		r = sink_kafka_poll(k, 100, errbuf, errlen);
		if (r != KAFKA_OK)
			return r;
		if (tick)
			tick(arg);
		if (stop && *stop)
			return KAFKA_STOPPED;
	}
	if (k->full_logged)
		wp_log(LOG_INFO, "the Kafka producer queue has room again after "
						 "%.1f s",
			   (double) (clock_mono_ms() - k->full_since) / 1000.0);
	k->full_since = 0;
	k->full_logged = false;
	k->produced++;
	return KAFKA_OK;
}

/*
 * Read the columns of schema.table into d (replacing what it held).
 * Returns KAFKA_OK, or KAFKA_RETRY (the source is unreachable) or
 * KAFKA_FATAL (the table is gone) with the reason in errbuf.
 */
static enum kafka_result
table_load(struct sink_kafka *k, struct table_desc *d, char *errbuf,
		   size_t errlen)
{
	/* A domain is its base type; an enum (or an array of one) brings its
	 * labels, for io.debezium.data.Enum's "allowed". */
	static const char sql[] =
		"SELECT a.attname, format_type("
		"  CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END,"
		"  CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END),"
		"  NOT a.attnotnull,"
		"  (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)"
		"     FROM pg_enum e WHERE e.enumtypid IN (t.oid, t.typelem)),"
		/* int2vector's subscripts start at 0 */
		"  (SELECT array_position(i.indkey::int2[], a.attnum)"
		"          - array_lower(i.indkey::int2[], 1) FROM pg_index i"
		"    WHERE i.indrelid = a.attrelid AND i.indisprimary)"
		" FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
		" WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass"
		"   AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''"
		" ORDER BY a.attnum";
	const char *params[2] = {d->schema, d->table};
	PGresult *res = NULL;
	enum pgconn_outcome o;

	if (k->cat && PQstatus(k->cat) != CONNECTION_OK) {
		PQfinish(k->cat);
		k->cat = NULL;
	}
	if (k->cat == NULL) {
		k->cat = pgconn_connect(k->kc.source_conninfo, "walpipe kafka", false);
		if (PQstatus(k->cat) != CONNECTION_OK) {
			pgconn_error(errbuf, errlen,
						 "could not connect to the source for the Kafka "
						 "sink's column types",
						 k->cat, NULL);
			PQfinish(k->cat);
			k->cat = NULL;
			return KAFKA_RETRY;
		}
		snprintf(k->db, sizeof(k->db), "%s", PQdb(k->cat));
	}
	o = pgconn_exec_params(k->cat, sql, 2, params,
						   "could not read the columns of a table for Kafka",
						   &res, errbuf, errlen);
	if (o != PGCONN_OK) {
		PQclear(res);
		return o == PGCONN_FATAL ? KAFKA_FATAL : KAFKA_RETRY;
	}
	PQclear(d->res);
	free(d->cols);
	free(d->pk);
	d->res = res;
	d->tab.ncols = (size_t) PQntuples(res);
	d->cols = wp_calloc(d->tab.ncols + 1, sizeof(*d->cols));
	for (size_t i = 0; i < d->tab.ncols; i++) {
		d->cols[i].name = PQgetvalue(res, (int) i, 0);
		d->cols[i].type = PQgetvalue(res, (int) i, 1);
		d->cols[i].optional = PQgetvalue(res, (int) i, 2)[0] == 't';
		d->cols[i].enum_values =
			PQgetisnull(res, (int) i, 3) ? NULL : PQgetvalue(res, (int) i, 3);
	}
	d->tab.cols = d->cols;
	d->pk = wp_calloc(d->tab.ncols + 1, sizeof(*d->pk));
	d->npk = 0;
	for (size_t i = 0; i < d->tab.ncols; i++) {
		int pos;

		if (PQgetisnull(res, (int) i, 4))
			continue;
		pos = atoi(PQgetvalue(res, (int) i, 4));
		if (pos < 0 || (size_t) pos >= d->tab.ncols)
			continue;
		d->pk[pos].name = d->cols[i].name;
		d->pk[pos].name_len = strlen(d->cols[i].name);
		if ((size_t) pos + 1 > d->npk)
			d->npk = (size_t) pos + 1;
	}
	return KAFKA_OK;
}

/* Does the catalog's description of the table still fit change c? */
static bool
table_fits(const struct table_desc *d, const struct w2j_change *c)
{
	/* An insert carries every column; any change carries only columns
	 * the table has. */
	if (c->action == W2J_INSERT && c->ncolumns != d->tab.ncols)
		return false;
	for (size_t i = 0; i < c->ncolumns; i++) {
		bool found = i < d->tab.ncols &&
					 strcmp(d->cols[i].name, c->columns[i].name) == 0;

		for (size_t j = 0; !found && j < d->tab.ncols; j++)
			found = strcmp(d->cols[j].name, c->columns[i].name) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* The description of schema.table, read from the catalog when new or
 * when c (NULL: no change to check against) does not fit it. */
static enum kafka_result
table_find(struct sink_kafka *k, const char *schema, const char *table,
		   const struct w2j_change *c, struct table_desc **out, char *errbuf,
		   size_t errlen)
{
	struct table_desc *d = NULL;
	enum kafka_result r;

	*out = NULL;
	for (size_t i = 0; i < k->ntables && !d; i++)
		if (strcmp(k->tables[i].table, table) == 0 &&
			strcmp(k->tables[i].schema, schema) == 0)
			d = &k->tables[i];
	if (d && (c == NULL || table_fits(d, c))) {
		*out = d;
		return KAFKA_OK;
	}
	if (d == NULL) {
		k->tables = wp_realloc(k->tables, (k->ntables + 1) * sizeof(*d));
		d = &k->tables[k->ntables++];
		memset(d, 0, sizeof(*d));
		d->schema = wp_strdup(schema);
		d->table = wp_strdup(table);
	}
	r = table_load(k, d, errbuf, errlen);
	if (r == KAFKA_OK)
		*out = d;
	return r;
}

/* The columns of c's table, read from the catalog when new or stale. */
static enum kafka_result
table_lookup(struct sink_kafka *k, const struct w2j_change *c,
			 const struct kafka_table **out, char *errbuf, size_t errlen)
{
	struct table_desc *d;
	enum kafka_result r;

	*out = NULL;
	if (c->schema == NULL || c->table == NULL)
		return KAFKA_OK;
	r = table_find(k, c->schema, c->table, c, &d, errbuf, errlen);
	if (r == KAFKA_OK)
		*out = &d->tab;
	return r;
}

/* Send the BEGIN or END event of the open transaction to the transaction
 * topic. */
static enum kafka_result
txn_event(struct sink_kafka *k, bool end, void (*tick)(void *), void *arg,
		  volatile sig_atomic_t *stop, char *errbuf, size_t errlen)
{
	struct kafka_txn_event e;
	struct w2j_change c;
	struct kafka_change kc;

	memset(&e, 0, sizeof(e));
	e.id = k->txn_id;
	e.end = end;
	e.ts_ms = k->txn_ms >= 0 ? k->txn_ms : clock_wall_ms();
	e.collections = (const char *const *) k->txn_colls;
	e.counts = k->txn_counts;
	e.ncollections = k->ntxn_colls;
	e.event_count = k->txn_events;
	scratch_start(k, k->kc.transaction_topic, "", "");
	kafka_msg_txn_key(&k->key, k->txn_id, k->kc.schemas);
	kafka_msg_txn_event(&k->value, &e, k->kc.schemas);
	memset(&c, 0, sizeof(c));
	c.action = end ? W2J_COMMIT : W2J_BEGIN;
	c.xid = k->txn_xid;
	c.lsn = k->txn_end;
	memset(&kc, 0, sizeof(kc));
	kc.c = &c;
	kc.txn_end = k->txn_end;
	kc.txn_pos = end ? k->txn_events + 1 : 0;
	kc.op = end ? 'E' : 'B';
	return produce_one(k, &kc, false, tick, arg, stop, errbuf, errlen);
}

/*
 * Count change c in its transaction's metadata (sending the BEGIN event
 * before its first change) and fill *blk, the change's transaction block.
 */
static enum kafka_result
txn_count(struct sink_kafka *k, const struct kafka_change *kc,
		  const struct w2j_change *c, struct kafka_txn_block *blk,
		  void (*tick)(void *), void *arg, volatile sig_atomic_t *stop,
		  char *errbuf, size_t errlen)
{
	char name[256];
	size_t i;

	if (!k->txn_begun || k->txn_end != kc->txn_end) {
		enum kafka_result r;

		for (i = 0; i < k->ntxn_colls; i++)
			free(k->txn_colls[i]);
		k->ntxn_colls = 0;
		k->txn_events = 0;
		k->txn_end = kc->txn_end;
		k->txn_xid = c->xid;
		k->txn_ms = kc->commit_ms;
		/* Debezium's id: the transaction's xid and an LSN of it (here
		 * its end, which every change of it carries). */
		snprintf(k->txn_id, sizeof(k->txn_id), "%" PRIu32 ":%" PRIu64, c->xid,
				 (uint64_t) kc->txn_end);
		k->txn_begun = true;
		r = txn_event(k, false, tick, arg, stop, errbuf, errlen);
		if (r != KAFKA_OK)
			return r;
	}
	snprintf(name, sizeof(name), "%s.%s", c->schema ? c->schema : "",
			 c->table ? c->table : "");
	for (i = 0; i < k->ntxn_colls; i++)
		if (strcmp(k->txn_colls[i], name) == 0)
			break;
	if (i == k->ntxn_colls) {
		k->txn_colls = wp_realloc(k->txn_colls, (i + 1) * sizeof(char *));
		k->txn_counts = wp_realloc(k->txn_counts, (i + 1) * sizeof(uint64_t));
		k->txn_colls[i] = wp_strdup(name);
		k->txn_counts[i] = 0;
		k->ntxn_colls++;
	}
	blk->id = k->txn_id;
	blk->total_order = ++k->txn_events;
	blk->data_collection_order = ++k->txn_counts[i];
	return KAFKA_OK;
}

/* Encode c (a change, or one half of a split key update) and send it,
 * with its tombstone after a delete. */
/*
 * Debezium's column lists and key columns: *c and *tab point at the
 * selected change and columns (in *sel, *seltab) when any is set.
 */
static bool
select_change(struct sink_kafka *k, const struct w2j_change **c,
			  const struct kafka_table **tab, struct w2j_change *sel,
			  struct kafka_table *seltab)
{
	if (!k->select_compiled) {
		char why[300];
		bool err;

		k->select = kafka_select_new(k->kc.column_include,
									 k->kc.column_exclude, k->kc.key_columns,
									 &err, why, sizeof(why));
		if (err)
			wp_log(LOG_WARNING, "%s", why);
		k->select_compiled = true;
	}
	if (k->select == NULL)
		return false;
	kafka_select_apply(k->select, *c, *tab, sel, *tab ? seltab : NULL,
					   &k->select_scratch);
	*c = sel;
	if (*tab)
		*tab = seltab;
	return true;
}

static enum kafka_result
produce_change(struct sink_kafka *k, const struct kafka_change *kc,
			   const struct w2j_change *c, void (*tick)(void *), void *arg,
			   volatile sig_atomic_t *stop, char *errbuf, size_t errlen)
{
	struct kafka_change one = *kc;
	enum kafka_result r;
	/* The change with the column lists applied: c and one.c may point
	 * here, and produce_one reads it, so it lives as long as the call. */
	struct w2j_change sel;
	struct kafka_table seltab;

	one.c = c;
	scratch_start(k, k->topic_tmpl, c->schema, c->table);
	if (k->debezium) {
		struct kafka_msg_ctx ctx;
		struct kafka_txn_block blk;

		memset(&ctx, 0, sizeof(ctx));
		r = table_lookup(k, c, &ctx.table, errbuf, errlen);
		if (r != KAFKA_OK)
			return r;
		/* Snapshot reads belong to no transaction. */
		if (k->kc.transaction_metadata && c->xid != 0 && kc->op != 'r') {
			r = txn_count(k, kc, c, &blk, tick, arg, stop, errbuf, errlen);
			if (r != KAFKA_OK)
				return r;
			ctx.txn = &blk;
			/* txn_event used the scratch buffers */
			scratch_start(k, k->topic_tmpl, c->schema, c->table);
		}
		ctx.source = k->source;
		ctx.commit_ms = kc->commit_ms;
		ctx.now_ms = clock_wall_ms();
		ctx.db = k->db;
		ctx.topic = k->topic.data;
		ctx.schemas = k->kc.schemas;
		ctx.decimal = k->kc.decimal;
		ctx.time = k->kc.time;
		ctx.interval = k->kc.interval;
		ctx.hstore = k->kc.hstore;
		ctx.unavailable = k->kc.unavailable;
		ctx.op = kc->op;
		ctx.snapshot = kc->snapshot;
		if (select_change(k, &c, &ctx.table, &sel, &seltab))
			one.c = c;
		kafka_msg_key(&k->key, c, &ctx);
		kafka_msg_debezium(&k->value, c, &ctx);
	} else {
		kafka_msg_key(&k->key, c, NULL);
		buf_append(&k->value, kc->raw, kc->rawlen);
	}
	r = produce_one(k, &one, false, tick, arg, stop, errbuf, errlen);
	/* A compacted topic forgets a key only after a null value for it. */
	if (r == KAFKA_OK && c->action == W2J_DELETE && k->tombstones &&
		k->key.len > 0)
		r = produce_one(k, &one, true, tick, arg, stop, errbuf, errlen);
	return r;
}

/* Does this update change the primary key?  (The old key is in identity
 * only then, or always with REPLICA IDENTITY FULL.) */
static bool
key_changed(const struct w2j_change *c, const struct w2j_change *old)
{
	struct buf nk = BUF_INIT, ok = BUF_INIT;
	bool changed;

	kafka_msg_key(&nk, c, NULL);
	kafka_msg_key(&ok, old, NULL);
	changed = nk.len != ok.len || (nk.len && memcmp(nk.data, ok.data, nk.len));
	buf_free(&nk);
	buf_free(&ok);
	return changed;
}

/*
 * A logical decoding message, to the messages topic, keyed by its prefix.
 * One outside a transaction is a transaction of its own for the tracker:
 * the slot passes it only once Kafka has it.
 */
static enum kafka_result
produce_message(struct sink_kafka *k, const struct kafka_change *kc,
				void (*tick)(void *), void *arg, volatile sig_atomic_t *stop,
				char *errbuf, size_t errlen)
{
	const struct w2j_change *c = kc->c;
	enum kafka_result r;

	if (k->kc.messages_topic == NULL || k->kc.messages_topic[0] == '\0')
		return KAFKA_OK;
	scratch_start(k, k->kc.messages_topic, "", "");
	if (k->debezium) {
		struct kafka_msg_ctx ctx;

		memset(&ctx, 0, sizeof(ctx));
		ctx.source = k->source;
		ctx.commit_ms = kc->commit_ms;
		ctx.now_ms = clock_wall_ms();
		ctx.db = k->db;
		ctx.schemas = k->kc.schemas;
		kafka_msg_message_key(&k->key, c, &ctx);
		kafka_msg_message(&k->value, c, &ctx);
	} else {
		buf_append_str(&k->key, "{\"prefix\":");
		buf_append_json_string(&k->key, c->prefix ? c->prefix : "",
							   c->prefix ? strlen(c->prefix) : 0);
		buf_append_char(&k->key, '}');
		buf_append(&k->value, kc->raw, kc->rawlen);
	}
	if (!c->transactional)
		txntrack_begin(k->track, c->lsn); /* the end of its record */
	r = produce_one(k, kc, false, tick, arg, stop, errbuf, errlen);
	if (!c->transactional)
		txntrack_commit(k->track);
	return r;
}

enum kafka_result
sink_kafka_produce(struct sink_kafka *k, const struct kafka_change *kc,
				   void (*tick)(void *), void *arg,
				   volatile sig_atomic_t *stop, char *errbuf, size_t errlen)
{
	const struct w2j_change *c = kc->c;

	if (k->res != KAFKA_OK) {
		snprintf(errbuf, errlen, "%s", k->errmsg);
		return k->res;
	}
	if (c->action == W2J_MESSAGE)
		return produce_message(k, kc, tick, arg, stop, errbuf, errlen);
	/*
	 * An update of the primary key goes out as Debezium sends it: a
	 * delete of the old key (and its tombstone), then a create of the new
	 * one, so that each key's history stays in its own partition and a
	 * compacted topic forgets the old key.
	 */
	if (k->debezium && c->action == W2J_UPDATE && c->nidentity > 0 &&
		c->npk > 0) {
		struct w2j_change del = *c, ins = *c;
		enum kafka_result r;

		del.action = W2J_DELETE;
		del.columns = NULL;
		del.ncolumns = 0;
		if (key_changed(c, &del)) {
			ins.action = W2J_INSERT;
			ins.identity = NULL;
			ins.nidentity = 0;
			r = produce_change(k, kc, &del, tick, arg, stop, errbuf, errlen);
			if (r == KAFKA_OK)
				r = produce_change(k, kc, &ins, tick, arg, stop, errbuf,
								   errlen);
			return r;
		}
	}
	return produce_change(k, kc, c, tick, arg, stop, errbuf, errlen);
}

enum kafka_result
sink_kafka_produce_read(struct sink_kafka *k, const struct kafka_read *rd,
						void (*tick)(void *), void *arg,
						volatile sig_atomic_t *stop, char *errbuf,
						size_t errlen)
{
	struct w2j_change c;
	struct kafka_change kc;
	struct buf raw = BUF_INIT;
	enum kafka_result r;

	if (k->res != KAFKA_OK) {
		snprintf(errbuf, errlen, "%s", k->errmsg);
		return k->res;
	}
	/* A read is an insert without a transaction, at the snapshot's
	 * position, with op r. */
	memset(&c, 0, sizeof(c));
	c.action = W2J_INSERT;
	c.lsn = rd->lsn;
	c.schema = rd->schema;
	c.table = rd->table;
	c.columns = (struct w2j_column *) rd->columns;
	c.ncolumns = rd->ncolumns;
	c.pk = (struct w2j_column *) rd->pk;
	c.npk = rd->npk;
	memset(&kc, 0, sizeof(kc));
	kc.c = &c;
	kc.txn_end = rd->lsn;
	kc.txn_pos = rd->pos;
	kc.commit_ms = -1;
	kc.op = 'r';
	kc.snapshot = rd->snapshot ? rd->snapshot : "true";
	if (!k->debezium) {
		/* The wal2json object of the insert, as the stream would have. */
		changefmt_json(&raw, &c);
		kc.raw = raw.data;
		kc.rawlen = raw.len;
	}
	r = produce_change(k, &kc, &c, tick, arg, stop, errbuf, errlen);
	buf_free(&raw);
	return r;
}

/* A column's text from the server as wal2json would type it. */
static void
read_value(struct w2j_column *v, const struct kafka_column *col,
		   PGresult *res, int field)
{
	static const char *const numbers[] = {
		"smallint", "integer", "bigint", "oid", "real", "double precision",
		"numeric"};
	const char *t = col->type;

	v->name = col->name;
	v->name_len = strlen(col->name);
	v->type = col->type;
	v->type_len = strlen(col->type);
	if (PQgetisnull(res, 0, field)) {
		v->kind = W2J_NULL;
		v->value = NULL;
		v->value_len = 0;
		return;
	}
	v->value = PQgetvalue(res, 0, field);
	v->value_len = (size_t) PQgetlength(res, 0, field);
	v->kind = W2J_STRING;
	if (strcmp(t, "boolean") == 0) {
		v->kind = W2J_BOOL;
		v->value = v->value[0] == 't' ? "true" : "false";
		v->value_len = strlen(v->value);
		return;
	}
	if (t[strlen(t) - 1] == ']')
		return;
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		if (strncmp(t, numbers[i], strlen(numbers[i])) == 0 &&
			(v->value[0] == '-' || (v->value[0] >= '0' && v->value[0] <= '9')))
			v->kind = W2J_NUMBER; /* not NaN nor Infinity */
}

enum kafka_result
sink_kafka_snapshot_table(struct sink_kafka *k, PGconn *conn,
						  const char *schema, const char *table, lsn_t lsn,
						  bool first_table, bool last_table,
						  void (*tick)(void *), void *arg,
						  volatile sig_atomic_t *stop, uint64_t *rows,
						  char *errbuf, size_t errlen)
{
	struct table_desc *d;
	struct buf q = BUF_INIT;
	struct w2j_column *vals = NULL;
	PGresult *prev = NULL, *res;
	enum kafka_result r;
	uint64_t n = 0;

	*rows = 0;
	r = table_find(k, schema, table, NULL, &d, errbuf, errlen);
	if (r != KAFKA_OK)
		return r;
	buf_append_str(&q, "SELECT ");
	for (size_t i = 0; i < d->tab.ncols; i++) {
		char *id = pgconn_quote_ident(d->cols[i].name);

		buf_appendf(&q, "%s%s", i ? ", " : "", id);
		free(id);
	}
	if (d->tab.ncols == 0)
		buf_append_str(&q, "1");
	{
		char *s = pgconn_quote_ident(schema), *t = pgconn_quote_ident(table);

		buf_appendf(&q, " FROM %s.%s", s, t);
		free(s);
		free(t);
	}
	/* One row at a time: a table of any size in bounded memory. */
	if (!PQsendQuery(conn, q.data) || !PQsetSingleRowMode(conn)) {
		pgconn_error(errbuf, errlen, "could not read a table for Kafka", conn,
					 NULL);
		buf_free(&q);
		return KAFKA_RETRY;
	}
	buf_free(&q);
	vals = wp_calloc(d->tab.ncols + 1, sizeof(*vals));
	/* Each row goes when the next arrives, so that the table's last one
	 * can say so in source.snapshot, as Debezium's does. */
	for (;;) {
		bool end;

		res = PQgetResult(conn);
		end = res == NULL || PQresultStatus(res) != PGRES_SINGLE_TUPLE;
		if (res && end && PQresultStatus(res) != PGRES_TUPLES_OK) {
			pgconn_error(errbuf, errlen, "could not read a table for Kafka",
						 conn, res);
			r = KAFKA_RETRY;
		}
		if (prev && r == KAFKA_OK) {
			struct kafka_read rd;

			for (size_t i = 0; i < d->tab.ncols; i++)
				read_value(&vals[i], &d->cols[i], prev, (int) i);
			memset(&rd, 0, sizeof(rd));
			rd.schema = schema;
			rd.table = table;
			rd.columns = vals;
			rd.ncolumns = d->tab.ncols;
			rd.pk = d->pk;
			rd.npk = d->npk;
			rd.lsn = lsn;
			rd.pos = ++n;
			rd.snapshot = kafka_msg_snapshot_marker(first_table, last_table,
													n == 1, end);
			r = sink_kafka_produce_read(k, &rd, tick, arg, stop, errbuf,
										errlen);
		}
		PQclear(prev);
		prev = NULL;
		if (end) {
			PQclear(res);
			break;
		}
		prev = res;
	}
	/* Read what is left of the query, whatever happened. */
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	free(vals);
	*rows = n;
	return r;
}

enum kafka_result
sink_kafka_drain(struct sink_kafka *k, int timeout_ms, void (*tick)(void *),
				 void *arg, char *errbuf, size_t errlen)
{
	int64_t until = clock_mono_ms() + timeout_ms;
	enum kafka_result r;

	do {
		r = sink_kafka_poll(k, 100, errbuf, errlen);
		if (r != KAFKA_OK)
			return r;
		if (tick)
			tick(arg);
	} while (txntrack_pending(k->track) > 0 && clock_mono_ms() < until);
	ktxn_maybe_commit(k, true);
	if (k->res != KAFKA_OK) {
		snprintf(errbuf, errlen, "%s", k->errmsg);
		return k->res;
	}
	return KAFKA_OK;
}

lsn_t
sink_kafka_delivered(const struct sink_kafka *k)
{
	lsn_t w = txntrack_watermark(k->track);

	/* With transactions a delivered message is not yet visible: only a
	 * committed Kafka transaction's positions may be confirmed. */
	if (k->kc.transactions && k->committed < w)
		return k->committed;
	return w;
}

void
sink_kafka_stats(const struct sink_kafka *k, struct sink_kafka_stats *out)
{
	out->produced = k->produced;
	out->delivered = k->delivered;
	out->failed = k->failed;
	out->skipped = k->skipped;
	out->pending = txntrack_pending(k->track);
}

#else /* !WALPIPE_HAVE_KAFKA */

/*
 * A build without librdkafka: config_load already refuses a kafka
 * section, so nothing below is reached; it exists so that the run loop
 * needs no conditional compilation.
 */
bool
sink_kafka_check(const struct sink_kafka_config *kc,
				 struct config_errors *errs)
{
	(void) kc;
	(void) errs;
	return true;
}

struct sink_kafka *
sink_kafka_open(const struct sink_kafka_config *kc, lsn_t start, char *errbuf,
				size_t errlen)
{
	(void) kc;
	(void) start;
	snprintf(errbuf, errlen, "this walpipe was built without Kafka support "
							 "(-DWALPIPE_KAFKA=OFF)");
	return NULL;
}

void
sink_kafka_close(struct sink_kafka *k)
{
	(void) k;
}

void
sink_kafka_begin(struct sink_kafka *k, lsn_t end)
{
	(void) k;
	(void) end;
}

void
sink_kafka_commit(struct sink_kafka *k)
{
	(void) k;
}

void
sink_kafka_mark(struct sink_kafka *k, lsn_t pos)
{
	(void) k;
	(void) pos;
}

enum kafka_result
sink_kafka_produce(struct sink_kafka *k, const struct kafka_change *kc,
				   void (*tick)(void *), void *arg,
				   volatile sig_atomic_t *stop, char *errbuf, size_t errlen)
{
	(void) k;
	(void) kc;
	(void) tick;
	(void) arg;
	(void) stop;
	snprintf(errbuf, errlen, "built without Kafka support");
	return KAFKA_FATAL;
}

enum kafka_result
sink_kafka_poll(struct sink_kafka *k, int timeout_ms, char *errbuf,
				size_t errlen)
{
	(void) k;
	(void) timeout_ms;
	(void) errbuf;
	(void) errlen;
	return KAFKA_OK;
}

enum kafka_result
sink_kafka_drain(struct sink_kafka *k, int timeout_ms, void (*tick)(void *),
				 void *arg, char *errbuf, size_t errlen)
{
	(void) k;
	(void) timeout_ms;
	(void) tick;
	(void) arg;
	(void) errbuf;
	(void) errlen;
	return KAFKA_OK;
}

lsn_t
sink_kafka_delivered(const struct sink_kafka *k)
{
	(void) k;
	return LSN_INVALID;
}

enum kafka_result
sink_kafka_produce_read(struct sink_kafka *k, const struct kafka_read *rd,
						void (*tick)(void *), void *arg,
						volatile sig_atomic_t *stop, char *errbuf,
						size_t errlen)
{
	(void) k;
	(void) rd;
	(void) tick;
	(void) arg;
	(void) stop;
	snprintf(errbuf, errlen, "built without Kafka support");
	return KAFKA_FATAL;
}

enum kafka_result
sink_kafka_snapshot_table(struct sink_kafka *k, PGconn *conn,
						  const char *schema, const char *table, lsn_t lsn,
						  bool first_table, bool last_table,
						  void (*tick)(void *), void *arg,
						  volatile sig_atomic_t *stop, uint64_t *rows,
						  char *errbuf, size_t errlen)
{
	(void) k;
	(void) conn;
	(void) schema;
	(void) table;
	(void) lsn;
	(void) first_table;
	(void) last_table;
	(void) tick;
	(void) arg;
	(void) stop;
	*rows = 0;
	snprintf(errbuf, errlen, "built without Kafka support");
	return KAFKA_FATAL;
}

void
sink_kafka_stats(const struct sink_kafka *k, struct sink_kafka_stats *out)
{
	(void) k;
	memset(out, 0, sizeof(*out));
}

#endif
