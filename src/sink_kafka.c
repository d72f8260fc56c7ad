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
	out->props = cfg->kafka.properties;
	out->nprops = cfg->kafka.nproperties;
}

#if WALPIPE_HAVE_KAFKA

#include "walpipe/buf.h"
#include "walpipe/kafka_msg.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"
#include "walpipe/txntrack.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

/* Scratch buffers bigger than this are released after the message. */
#define SCRATCH_KEEP (256 * 1024)

struct sink_kafka {
	rd_kafka_t *rk;
	struct txntrack *track;
	const char *source; /* borrowed from the configuration */
	const char *topic_tmpl;
	bool debezium, tombstones;
	struct buf topic, key, value;
	/* The first delivery or producer error; the session ends on it. */
	enum kafka_result res;
	char errmsg[1024];
	bool closing; /* purged messages report errors: expected */
	uint64_t produced, delivered, failed;
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
		if (why) {
			struct buf b = BUF_INIT;

			buf_appendf(&b, "%s:%d:%d: kafka.properties.%s: %s",
						kc->config_path, p->line, p->col, p->key, why);
			errs->msg = wp_realloc(errs->msg, (errs->n + 1) * sizeof(char *));
			errs->msg[errs->n++] = b.data;
		}
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
	rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(k->rk, 0);
	rd_kafka_destroy(k->rk);
	txntrack_free(k->track);
	buf_free(&k->topic);
	buf_free(&k->key);
	buf_free(&k->value);
	free(k);
}

void
sink_kafka_begin(struct sink_kafka *k, lsn_t end)
{
	txntrack_begin(k->track, end);
}

void
sink_kafka_commit(struct sink_kafka *k)
{
	txntrack_commit(k->track);
}

void
sink_kafka_mark(struct sink_kafka *k, lsn_t pos)
{
	txntrack_mark(k->track, pos);
}

enum kafka_result
sink_kafka_poll(struct sink_kafka *k, int timeout_ms, char *errbuf,
				size_t errlen)
{
	rd_kafka_poll(k->rk, timeout_ms);
	if (k->res != KAFKA_OK)
		snprintf(errbuf, errlen, "%s", k->errmsg);
	return k->res;
}

/* Send one message, waiting while the queue is full. */
static enum kafka_result
produce_one(struct sink_kafka *k, const struct kafka_change *kc, bool tombstone,
			void (*tick)(void *), void *arg, volatile sig_atomic_t *stop,
			char *errbuf, size_t errlen)
{
	char lsn[LSN_STRLEN], end[LSN_STRLEN], pos[24], xid[16], op[2];
	uint64_t ticket = txntrack_add(k->track);
	rd_kafka_resp_err_t err;
	enum kafka_result r;

	lsn_format(kc->c->lsn, lsn);
	lsn_format(kc->txn_end, end);
	snprintf(pos, sizeof(pos), "%" PRIu64, kc->txn_pos);
	snprintf(xid, sizeof(xid), "%" PRIu32, kc->c->xid);
	op[0] = kafka_msg_op(kc->c);
	op[1] = '\0';
	for (;;) {
		err = rd_kafka_producev(
			k->rk, RD_KAFKA_V_TOPIC(k->topic.data),
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

/* Encode c (a change, or one half of a split key update) and send it,
 * with its tombstone after a delete. */
static enum kafka_result
produce_change(struct sink_kafka *k, const struct kafka_change *kc,
			   const struct w2j_change *c, void (*tick)(void *), void *arg,
			   volatile sig_atomic_t *stop, char *errbuf, size_t errlen)
{
	struct kafka_change one = *kc;
	enum kafka_result r;

	one.c = c;
	buf_reset(&k->topic, SCRATCH_KEEP);
	buf_reset(&k->key, SCRATCH_KEEP);
	buf_reset(&k->value, SCRATCH_KEEP);
	kafka_msg_topic(&k->topic, k->topic_tmpl, k->source, c->schema, c->table);
	kafka_msg_key(&k->key, c);
	if (k->debezium) {
		struct kafka_msg_ctx ctx = {k->source, kc->commit_ms, clock_wall_ms()};

		kafka_msg_debezium(&k->value, c, &ctx);
	} else {
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

	kafka_msg_key(&nk, c);
	kafka_msg_key(&ok, old);
	changed = nk.len != ok.len || (nk.len && memcmp(nk.data, ok.data, nk.len));
	buf_free(&nk);
	buf_free(&ok);
	return changed;
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
	return KAFKA_OK;
}

lsn_t
sink_kafka_delivered(const struct sink_kafka *k)
{
	return txntrack_watermark(k->track);
}

void
sink_kafka_stats(const struct sink_kafka *k, struct sink_kafka_stats *out)
{
	out->produced = k->produced;
	out->delivered = k->delivered;
	out->failed = k->failed;
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

void
sink_kafka_stats(const struct sink_kafka *k, struct sink_kafka_stats *out)
{
	(void) k;
	memset(out, 0, sizeof(*out));
}

#endif
