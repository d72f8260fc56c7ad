/* run_apply.c: the batch handed to the applier and collected, Kafka produce and poll, the slot confirmed. */
#include "run_int.h"

#include "walpipe/clock.h"
#include "walpipe/ident.h"
#include "walpipe/log.h"
#include "walpipe/metrics.h"
#include "walpipe/posfile.h"

#include <stdio.h>
#include <string.h>

/* A batch is with the applier (in flight, or done and not collected):
 * exactly when the spare batch is out. */
bool
session_applying(const struct session *s)
{
	return s->applier && s->spare == NULL;
}

/* Record lsn as Kafka-only's position (posfile.h); logs a failure. */
bool
session_record(struct session *s, lsn_t lsn)
{
	struct posfile_record r;
	char err[512];

	memset(&r, 0, sizeof(r));
	snprintf(r.system_id, sizeof(r.system_id), "%s", s->ckpt.system_id);
	r.timeline = s->ckpt.timeline;
	snprintf(r.slot, sizeof(r.slot), "%s", s->rs->slot);
	r.lsn = lsn;
	if (!posfile_write(s->rs->position_file, &r, err, sizeof(err))) {
		wp_log(LOG_ERROR, "%s", err);
		return false;
	}
	s->recorded = lsn;
	return true;
}

/*
 * The slot may forget a transaction only when every sink has it: the
 * analytics checkpoint and, with Kafka, the delivered watermark.
 */
void
session_confirm(struct session *s)
{
	lsn_t lsn = s->ckpt.lsn;

	if (s->kafka && sink_kafka_delivered(s->kafka) < lsn)
		lsn = sink_kafka_delivered(s->kafka);
	/*
	 * Kafka alone: a position is recorded before the slot is confirmed
	 * at it, so the slot is never ahead of the record unless someone
	 * else moved it (session_run refuses that).  At most once a second:
	 * each record is an fsync.
	 */
	if (s->rs->position_file && lsn > s->recorded) {
		int64_t now = clock_mono_ms();

		if (!s->kafka_snap_unrecorded && now - s->recorded_at >= 1000 &&
			session_record(s, lsn))
			s->recorded_at = now;
		if (lsn > s->recorded)
			lsn = s->recorded;
	}
	repl_confirm(s->stream, lsn, false);
}

/* Kafka's delivery reports and errors; ends the session on an error. */
enum session_end
session_poll_kafka(struct session *s, int timeout_ms)
{
	char err[1024];
	enum kafka_result r;

	if (s->kafka == NULL)
		return SESSION_OK;
	r = sink_kafka_poll(s->kafka, timeout_ms, err, sizeof(err));
	if (s->metrics) {
		struct sink_kafka_stats ks;

		sink_kafka_stats(s->kafka, &ks);
		metrics_kafka(s->metrics, ks.produced - s->kstats.produced,
					  ks.delivered - s->kstats.delivered,
					  ks.failed - s->kstats.failed,
					  sink_kafka_delivered(s->kafka));
		metrics_kafka_skipped(s->metrics, ks.skipped - s->kstats.skipped);
		s->kstats = ks;
	}
	if (r == KAFKA_OK) {
		session_confirm(s);
		return SESSION_OK;
	}
	wp_log(r == KAFKA_FATAL ? LOG_ERROR : LOG_WARNING, "%s", err);
	return r == KAFKA_FATAL ? SESSION_FATAL : SESSION_RETRY;
}

/* Is this table's change for Kafka?  Yes unless its mapping opts out. */
static bool
table_to_kafka(const struct session *s, const struct w2j_change *c)
{
	for (size_t i = 0; i < s->rs->nrules; i++)
		if (!s->rs->rule_kafka[i] &&
			strcmp(s->rs->rules[i].from_schema, c->schema) == 0 &&
			strcmp(s->rs->rules[i].from_table, c->table) == 0)
			return false;
	return true;
}

enum session_end
session_produce(struct session *s, const struct w2j_change *c,
				const struct repl_data *d)
{
	struct kafka_change kc;
	enum kafka_result r;
	char err[1024];

	/* Logical decoding messages go too (Debezium's op m), but not
	 * walpipe's own heartbeats. */
	if (c->action == W2J_MESSAGE
			? c->prefix && strcmp(c->prefix, REPL_HEARTBEAT_PREFIX) == 0
			: !table_to_kafka(s, c))
		return SESSION_OK;
	memset(&kc, 0, sizeof(kc));
	kc.c = c;
	kc.raw = d->payload;
	kc.rawlen = d->len;
	kc.txn_end = s->pos.txn_end;
	kc.txn_pos = s->pos.txn_pos;
	kc.commit_ms = s->txn_commit_ms;
	if (c->action == W2J_MESSAGE && !s->pos.in_txn) {
		/* A message outside a transaction ends where it is: its lsn is
		 * the end of its record (streampos_message). */
		kc.txn_end = c->lsn;
		kc.txn_pos = 1;
		kc.commit_ms = -1;
	}
	r = sink_kafka_produce(s->kafka, &kc, session_tick, s, s->stop, err,
						   sizeof(err));
	switch (r) {
	case KAFKA_OK:
		return SESSION_OK;
	case KAFKA_STOPPED:
		/* Stopping while the brokers do not take messages: the loop sees
		 * the flag, commits analytics and confirms only what both have. */
		return SESSION_OK;
	case KAFKA_RETRY:
		wp_log(LOG_WARNING, "%s", err);
		return SESSION_RETRY;
	case KAFKA_FATAL:
		break;
	}
	wp_log(LOG_ERROR, "%s", err);
	return SESSION_FATAL;
}

/* A batch is committed with checkpoint ckpt: count it, then confirm. */
static void
session_applied(struct session *s, const struct batch *b,
				const struct checkpoint *ckpt, const struct sink_stats *st,
				double seconds)
{
	char l1[LSN_STRLEN];

	if (batch_count(b) > 0) {
		for (size_t i = 0; i < batch_count(b); i++) {
			const struct batch_change *bc = batch_get(b, i);

			metrics_change(s->metrics, batch_text(b, bc->schema),
						   batch_text(b, bc->table), (char) bc->action, true);
		}
		metrics_batch(s->metrics, seconds, st->dead_letters);
		s->batches++;
		s->applied_any = true;
		wp_log(LOG_DEBUG, "applied batch of %zu changes up to %s in %.3f s",
			   batch_count(b), lsn_format(ckpt->lsn, l1), seconds);
	}
	s->stats.staged += st->staged;
	s->stats.applied += st->applied;
	s->stats.dead_letters += st->dead_letters;
	s->stats.statements += st->statements;
	for (size_t i = 0; i < s->ntargets; i++) {
		struct sink_target *t = &s->targets[i];

		if (t->no_fast_insert && !t->no_fast_insert_told) {
			char to[IDENT_QUALIFIED_MAX];

			ident_qualified_to(to, sizeof(to), t->rule->to_schema,
							   t->rule->to_table);
			wp_log(LOG_INFO,
				   "\"%s\" holds rows with keys the source has just "
				   "inserted (soft-deleted or kept deleted rows, or another "
				   "writer): its new keys are upserted from now on",
				   to);
			t->no_fast_insert_told = true;
		}
	}
	s->ckpt = *ckpt;
	/* The commit is durable: only now may the slot forget it. */
	session_confirm(s);
	metrics_positions(s->metrics, s->ckpt.lsn, repl_server_end(s->stream),
					  s->ckpt.last_commit_time);
}

/*
 * Take the applier's finished job, waiting up to timeout_ms for it: the
 * batch comes back as the spare, the committed checkpoint is confirmed.
 * A failed job ends the session; nothing of it was confirmed.
 */
enum session_end
session_collect(struct session *s, int timeout_ms)
{
	struct applier_result r;
	enum session_end e = SESSION_OK;

	if (!session_applying(s) || !applier_wait(s->applier, timeout_ms, &r))
		return SESSION_OK;
	s->spare = r.batch;
	if (r.res == SINK_OK) {
		session_applied(s, r.batch, &r.ckpt, &r.stats, r.seconds);
		if (s->batch_cap < s->rs->max_changes && ++s->cap_ok >= 10) {
			s->batch_cap = s->batch_cap * 2 < s->rs->max_changes
							   ? s->batch_cap * 2
							   : s->rs->max_changes;
			s->cap_ok = 0;
		}
	} else {
		wp_log(LOG_ERROR, "%s", r.err);
		e = r.res == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
		if (r.res == SINK_RETRY && sink_pg_timed_out(s->sink)) {
			size_t n = batch_count(r.batch);

			/* The same batch again would time out again, forever. */
			s->batch_cap = n / 2 > 0 ? n / 2 : 1;
			s->cap_ok = 0;
			wp_log(LOG_WARNING,
				   "a batch of %zu changes did not finish within "
				   "target.statement_timeout: retrying with batches of at "
				   "most %zu",
				   n, s->batch_cap);
		}
	}
	batch_reset(s->spare);
	if (e == SESSION_OK)
		e = session_backfill_collected(s);
	return e;
}

/*
 * Wait until the applier has nothing in hand, keeping the walsender
 * answered meanwhile (its wal_sender_timeout would end the stream).
 */
enum session_end
session_drain(struct session *s)
{
	bool told = false;

	while (session_applying(s)) {
		enum session_end e = session_collect(s, 100);

		if (e != SESSION_OK)
			return e;
		session_tick(s);
		/* `walpipe dlq retry` holds the checkpoint until its rows
		 * commit; the applier keeps its batch and tries again. */
		if (!told && applier_lock_waiting(s->applier)) {
			wp_log(LOG_NOTICE, "waiting for a dead letter retry (walpipe "
							   "dlq retry) to commit before applying more");
			told = true;
		}
	}
	return SESSION_OK;
}

/*
 * Hand the batch in hand to the applier with the checkpoint it reaches:
 * whole transactions up to last_complete, plus, when a transaction is
 * open, its first txn_pos changes.  Waits for the batch before it first:
 * at most one is in flight, so batches commit in stream order.  The slot
 * is confirmed when the commit is collected, never before.
 */
enum session_end
session_flush(struct session *s)
{
	struct checkpoint next = s->queued;
	struct stream_point pt;
	enum session_end e;

	streampos_next(&s->pos, &pt);
	next.lsn = pt.lsn;
	next.txn_end = pt.txn_end;
	next.txn_applied = pt.txn_applied;
	snprintf(next.last_commit_time, sizeof(next.last_commit_time), "%s",
			 s->last_commit_time);
	if (batch_count(s->batch) == 0 && next.lsn == s->queued.lsn &&
		next.txn_end == s->queued.txn_end &&
		next.txn_applied == s->queued.txn_applied) {
		s->batch_started = 0;
		return SESSION_OK; /* nothing to do; not an end */
	}
	s->batch_started = 0;
	/* The route may be there for the mirrors alone: the partitions are
	 * watched only when a partitioned table is followed. */
	if (s->parts.route && route_root(s->parts.route, 0) &&
		(e = session_check_partitions(s)) != SESSION_OK)
		return e;
	if ((e = session_mirror_check(s)) != SESSION_OK)
		return e;
	if (s->applier == NULL) {
		/* Kafka alone: the slot is the checkpoint. */
		struct sink_stats none;

		memset(&none, 0, sizeof(none));
		s->queued = next;
		session_applied(s, s->batch, &next, &none, 0.0);
		batch_reset(s->batch);
		return SESSION_OK;
	}
	e = session_drain(s);
	if (e != SESSION_OK)
		return e;
	applier_submit(s->applier, s->batch, &next);
	s->batch = s->spare;
	s->spare = NULL;
	s->queued = next;
	return SESSION_OK;
}

bool
session_batch_full(const struct session *s)
{
	return batch_count(s->batch) >= s->rs->max_changes ||
		   batch_count(s->batch) >= s->batch_cap ||
		   batch_bytes(s->batch) >= s->rs->max_bytes;
}

bool
session_batch_due(const struct session *s)
{
	return s->batch_started &&
		   clock_mono_ms() - s->batch_started >= s->rs->max_delay_ms;
}
