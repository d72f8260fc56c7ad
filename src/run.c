/* run.c: the session loop of `walpipe run` as named stages, and the retry loop around sessions. */
#include "run_int.h"

#include "walpipe/clock.h"
#include "walpipe/ident.h"
#include "walpipe/log.h"
#include "walpipe/metrics.h"
#include "walpipe/notify.h"
#include "walpipe/pgconn.h"
#include "walpipe/repl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Tell the service manager walpipe is alive, unless the apply thread has
 * been stuck in one statement for APPLY_STALL_MS: a hung analytics
 * connection must still end in a watchdog restart (WatchdogSec), as it did
 * when the loop applied batches itself.  Waiting for the checkpoint lock
 * (a backfill) is progress, not a stall.
 */
#define APPLY_STALL_MS 10000

static void
session_watchdog(struct session *s)
{
	int64_t now = clock_mono_ms();
	int64_t stalled;

	/* Called for every message: look once a second, as notify does. */
	if (now - s->watchdog_at < 1000)
		return;
	s->watchdog_at = now;
	stalled = session_applying(s) ? applier_stalled_ms(s->applier) : 0;
	if (stalled < APPLY_STALL_MS) {
		s->stall_warned = false;
		notify_watchdog();
		return;
	}
	if (!s->stall_warned) {
		wp_log(LOG_WARNING,
			   "a statement of the batch being applied has run for %.0f s "
			   "on the analytics server (a lock wait, or a lost "
			   "connection); the service watchdog is no longer fed until "
			   "it ends",
			   (double) stalled / 1000.0);
		s->stall_warned = true;
	}
}

/* Between apply steps: keep wal_sender_timeout from firing. */
void
session_tick(void *arg)
{
	struct session *s = arg;
	char err[256];

	if (s->stream)
		repl_send_status(s->stream, false, err, sizeof(err));
	/* Delivery reports: served here too, so a long analytics apply does
	 * not leave them queued (errors are picked up by the loop). */
	if (s->kafka)
		sink_kafka_poll(s->kafka, 0, err, sizeof(err));
	session_watchdog(s);
}

/*
 * Log what the source server warned of while decoding (a change wal2json
 * dropped for want of a replica identity, say): the first at once, then
 * at most one line per 10 s with the count, however many rows it is.
 */
static void
session_notices(struct session *s, int64_t now, bool force)
{
	char last[512];
	uint64_t n;

	if (s->stream == NULL || (!force && now - s->notices_logged < 10000))
		return;
	n = repl_take_notices(s->stream, last, sizeof(last));
	if (n == 0)
		return;
	wp_log(LOG_WARNING,
		   "the source server sent %llu warning(s) while decoding; the "
		   "last: %s",
		   (unsigned long long) n, last);
	s->notices_logged = now;
}

static void
session_free(struct session *s)
{
	session_notices(s, clock_mono_ms(), true); /* what is left */
	/* First: the apply thread uses the sink and the targets. */
	applier_free(s->applier);
	batch_free(s->spare);
	for (size_t i = 0; i < s->parts.ngone; i++) {
		char q[IDENT_QUALIFIED_MAX];

		ident_qualified_to(q, sizeof(q), s->parts.gone[i]->schema,
						   s->parts.gone[i]->table);
		wp_log(LOG_WARNING,
			   "ignored %llu change(s) of source table \"%s\", which no "
			   "longer existed when walpipe looked it up",
			   (unsigned long long) s->parts.gone[i]->changes, q);
	}
	free(s->parts.gone);
	free(s->parts.trunc);
	route_free(s->parts.route);
	run_tables_free(s->parts.all_of_schemas, s->parts.nall_of_schemas);
	free(s->parts.part_sig);
	xidset_free(&s->parts.unseen);
	PQfinish(s->parts.plan_conn);
	session_backfill_free(s); /* before the targets it borrows */
	catalog_free_targets(s->targets, s->ntargets);
	free(s->refresh_due);
	free(s->special);
	xidsnap_free(&s->catalog_snap);
	pgo_decoder_free(s->pgo);
	PQfinish(s->hb.conn);
	sink_kafka_close(s->kafka);
	PQfinish(s->kafka_snap);
	run_tables_free(s->kafka_snap_tables, s->nkafka_snap_tables);
	repl_close(s->stream);
	sink_pg_close(s->sink);
	w2j_decoder_free(s->dec);
	batch_free(s->batch);
	session_mirror_free(s); /* last: the targets borrowed its rules */
}

/*
 * Step: wait for the next message (no longer than the batch in hand may
 * wait, briefly while a batch applies), take it in, and collect what the
 * applier and Kafka have finished.
 */
static enum session_end
session_step(struct session *s)
{
	struct repl_data d;
	enum repl_result rr;
	enum session_end e;
	char err[2048];
	int wait = 1000, due;
	bool busy = session_applying(s);
	int64_t now = clock_mono_ms();

	if (s->batch_started) {
		int64_t left = s->batch_started + s->rs->max_delay_ms - now;

		wait = left < 0 ? 0 : (int) left;
	}
	/* Applying: look at it often, to confirm its commit soon. */
	if (busy && wait > 5)
		wait = 5;
	/* A backfill's next chunk is due: come back for it in time. */
	if ((due = session_backfill_wait_ms(s, now)) >= 0 &&
		due < wait)
		wait = due;
	/* Nothing applying and whole transactions in hand: only look
	 * whether more is buffered; if not, apply them now. */
	if (!busy && !s->pos.in_txn && batch_count(s->batch) > 0)
		wait = 0;
	rr = repl_next(s->stream, &d, wait, err, sizeof(err));
	if (rr == REPL_RETRY || rr == REPL_FATAL) {
		wp_log(LOG_WARNING, "%s", err);
		return rr == REPL_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	if (s->keyless_dropped[0])
		return session_stop_dropped(s);
	/*
	 * The stream ran dry while the applier idles: apply what is in
	 * hand now rather than after max_delay.  Under load the applier
	 * is rarely idle and batches grow by themselves while it works
	 * (as a group commit does); under a light load this keeps the
	 * commit-to-visible delay short.
	 */
	if (rr == REPL_TIMEOUT && !busy && !s->pos.in_txn &&
		batch_count(s->batch) > 0 && (e = session_flush(s)) != SESSION_OK)
		return e;
	if (rr == REPL_OK && (e = session_receive(s, &d)) != SESSION_OK)
		return e;
	if ((e = session_collect(s, 0)) != SESSION_OK)
		return e;
	return session_poll_kafka(s, 0);
}

/*
 * Advance without new changes: a batch whose max_delay passed goes; when
 * idle (nothing in hand and the server has moved on: other databases,
 * skipped transactions) the checkpoint moves to the keepalive position
 * first, then is confirmed, so the slot keeps no WAL and is never ahead
 * of the checkpoint.
 */
static enum session_end
session_advance_idle(struct session *s, int64_t now)
{
	enum session_end e;

	if (!s->pos.in_txn && session_batch_due(s) &&
		(e = session_flush(s)) != SESSION_OK)
		return e;
	/* Not while a batch is applying: the idle checkpoint would wait for
	 * it, and the stream must be read meanwhile (with pgoutput the server
	 * moves on without sending the transactions it leaves out). */
	if (!s->pos.in_txn && batch_count(s->batch) == 0 &&
		!session_applying(s) &&
		now - s->last_idle_ckpt >= s->rs->status_interval_ms &&
		streampos_idle(&s->pos, repl_keepalive_end(s->stream))) {
		if (s->kafka)
			sink_kafka_mark(s->kafka, s->pos.last_complete);
		e = session_flush(s);
		if (e != SESSION_OK)
			return e;
		s->last_idle_ckpt = now;
	}
	return SESSION_OK;
}

/* Every 10 s: the service status line and the progress log lines. */
static void
session_report_progress(struct session *s, int64_t now)
{
	struct session_progress *p = &s->progress;
	double secs, rate;
	char st[200], l1[LSN_STRLEN], l2[LSN_STRLEN];

	if (now - p->reported_at < 10000)
		return;
	secs = (double) (now - p->reported_at) / 1000.0;
	rate = (double) (s->received - p->received) / secs;
	snprintf(st, sizeof(st),
			 "checkpoint %s, confirmed %s, %.0f changes/s, %llu "
			 "dead letters",
			 lsn_format(s->ckpt.lsn, l1),
			 lsn_format(repl_sent_flush(s->stream), l2), rate,
			 (unsigned long long) s->stats.dead_letters);
	notify_status(st);
	wp_log(LOG_INFO,
		   "progress: %.0f changes/s, %llu batches, %llu staged, "
		   "%llu fact rows, %llu dead letters, checkpoint %s",
		   rate, (unsigned long long) s->batches,
		   (unsigned long long) s->stats.staged,
		   (unsigned long long) s->stats.applied,
		   (unsigned long long) s->stats.dead_letters,
		   lsn_format(s->ckpt.lsn, l1));
	if (s->kafka) {
		struct sink_kafka_stats ks;

		sink_kafka_stats(s->kafka, &ks);
		wp_log(LOG_INFO,
			   "progress: Kafka %llu produced, %llu delivered, %llu "
			   "pending, delivered up to %s",
			   (unsigned long long) ks.produced,
			   (unsigned long long) ks.delivered,
			   (unsigned long long) ks.pending,
			   lsn_format(sink_kafka_delivered(s->kafka), l2));
	}
	p->reported_at = now;
	p->received = s->received;
}

/*
 * Heartbeat: emit a non-transactional logical message on the source
 * (repl_emit_heartbeat).  It makes WAL on an idle database (so the slot
 * moves) and must come back through the stream (session_take_message);
 * if three intervals pass without it, the walsender is stalled:
 * reconnect.
 */
static enum session_end
session_heartbeat(struct session *s, int64_t now)
{
	const struct run_settings *rs = s->rs;
	char err[1024];

	if (rs->heartbeat_ms <= 0)
		return SESSION_OK;
	if (s->hb.sent && now - s->hb.sent > 3 * (int64_t) rs->heartbeat_ms) {
		wp_log(LOG_WARNING,
			   "heartbeat sent %.1f s ago has not come back through "
			   "the replication stream; reconnecting",
			   (double) (now - s->hb.sent) / 1000.0);
		return SESSION_RETRY;
	}
	if (now < s->hb.next)
		return SESSION_OK;
	if (repl_emit_heartbeat(&s->hb.conn, rs->source_conninfo, err,
							sizeof(err))) {
		if (!s->hb.sent)
			s->hb.sent = now;
	} else {
		wp_log(LOG_WARNING, "%s", err);
	}
	s->hb.next = now + rs->heartbeat_ms;
	return SESSION_OK;
}

/*
 * Once a session streams: is walpipe a synchronous standby of its source
 * (its application name in synchronous_standby_names)?  Then every source
 * commit waits until walpipe has applied it and confirmed it, and a
 * change that makes walpipe read the source catalog (a new mirrored table
 * or partition, a mapped table that changes shape) waits for its own
 * commit to show there, which it never does before walpipe confirms it.
 * Said at start, before either bites; a short-lived connection, once per
 * session; never fatal (a source may be meant to wait for analytics).
 */
static void
session_sync_check(struct session *s, int64_t now)
{
	char state[16], names[512], app[128], err[512];
	PGconn *conn;

	if (s->sync_check_at == 0 || now < s->sync_check_at || s->stream == NULL)
		return;
	s->sync_check_at = 0;
	conn = pgconn_connect(s->rs->source_conninfo, "walpipe check", false);
	if (PQstatus(conn) != CONNECTION_OK) {
		/* The stream itself says when the source is gone. */
		wp_log(LOG_DEBUG, "synchronous standby check: %s",
			   PQerrorMessage(conn));
	} else if (!repl_sync_state(s->stream, conn, state, sizeof(state), names,
								sizeof(names), app, sizeof(app), err,
								sizeof(err))) {
		wp_log(LOG_DEBUG, "%s", err);
	} else if (strcmp(state, "sync") == 0 || strcmp(state, "quorum") == 0) {
		wp_log(LOG_WARNING,
			   "walpipe is a synchronous standby of the source (sync_state "
			   "%s, synchronous_standby_names '%s'): every commit on the "
			   "source waits until walpipe has applied it and confirmed it, "
			   "and waits for as long as walpipe is stopped; a change that "
			   "makes walpipe read the source catalog (a new mirrored table "
			   "or partition, a mapped table that changes shape) cannot "
			   "apply, since its commit shows only once walpipe confirms "
			   "it. Take walpipe's application name \"%s\" out of "
			   "synchronous_standby_names.",
			   state, names, app);
	} else if (strcmp(state, "potential") == 0) {
		wp_log(LOG_WARNING,
			   "walpipe is a potential synchronous standby of the source "
			   "(synchronous_standby_names '%s'): if a synchronous standby "
			   "named before it goes away, every commit on the source waits "
			   "until walpipe has applied it and confirmed it. Take "
			   "walpipe's application name \"%s\" out of "
			   "synchronous_standby_names.",
			   names, app);
	} else {
		wp_log(LOG_DEBUG, "synchronous standby check: sync_state '%s'",
			   state);
	}
	PQfinish(conn);
}

/*
 * Materialized views: between batches, never inside one; the refresh
 * uses the analytics connection, so the applier must be done with its
 * batch first.  A view that fails is counted and logged, and tried again
 * at its next time.
 */
static enum session_end
session_refresh(struct session *s, int64_t now)
{
	const struct run_settings *rs = s->rs;
	enum sink_result sr;
	enum session_end e;
	char err[2048];

	for (size_t i = 0; i < rs->nrefresh && !s->pos.in_txn; i++) {
		const struct config_refresh *v = &rs->refresh[i];

		if (now < s->refresh_due[i])
			continue;
		e = session_drain(s);
		if (e != SESSION_OK)
			return e;
		sr = sink_pg_refresh(s->sink, v->view_schema, v->view_table,
							 v->concurrently, session_tick, s, err,
							 sizeof(err));
		if (sr == SINK_RETRY) {
			wp_log(LOG_WARNING, "%s", err);
			return SESSION_RETRY;
		}
		if (sr != SINK_OK) {
			char q[IDENT_QUALIFIED_MAX];

			s->refresh_failures++;
			metrics_refresh_failure(s->metrics);
			ident_qualified_to(q, sizeof(q), v->view_schema, v->view_table);
			wp_log(LOG_WARNING, "%s: %s", q, err);
		}
		s->refresh_due[i] = clock_mono_ms() + v->every_ms;
	}
	return SESSION_OK;
}

/* Hourly: the staging table's partitions ahead and retention, after the
 * applier is done (it uses the analytics connection); never fatal. */
static enum session_end
session_maintain(struct session *s, int64_t now)
{
	enum session_end e;
	char err[2048];

	if (s->sink == NULL || now - s->progress.maintained_at < 3600 * 1000)
		return SESSION_OK;
	e = session_drain(s);
	if (e != SESSION_OK)
		return e;
	if (sink_pg_maintain(s->sink, err, sizeof(err)) != SINK_OK)
		wp_log(LOG_WARNING, "%s", err);
	s->progress.maintained_at = now;
	return SESSION_OK;
}

/* Give Kafka a moment to take what it has in hand, so that a clean stop
 * confirms it and a restart does not send it again. */
static void
session_drain_kafka(struct session *s)
{
	struct sink_kafka_stats ks;
	char err[2048];

	if (sink_kafka_drain(s->kafka, 10000, session_tick, s, err,
						 sizeof(err)) != KAFKA_OK)
		wp_log(LOG_WARNING, "%s", err);
	/* Kafka alone: record the position now, not at most once a second,
	 * so that a restart sends nothing of it again. */
	s->recorded_at = 0;
	session_confirm(s);
	sink_kafka_stats(s->kafka, &ks);
	if (ks.pending > 0)
		wp_log(LOG_WARNING,
			   "stopping with %llu Kafka message(s) undelivered: they "
			   "are sent again on the next start",
			   (unsigned long long) ks.pending);
}

/*
 * Finish, on a stop (*s->stop) or a reload: commit what is in hand (also
 * a part of a transaction), wait for it, let Kafka deliver.
 */
static enum session_end
session_finish(struct session *s)
{
	enum session_end e;
	char l1[LSN_STRLEN];

	if (*s->stop)
		notify_stopping();
	e = session_flush(s);
	if (e == SESSION_OK)
		e = session_drain(s);
	if (e == SESSION_OK && s->kafka)
		session_drain_kafka(s);
	if (e == SESSION_OK && !*s->stop) {
		wp_log(LOG_INFO, "reloading the configuration at checkpoint %s",
			   lsn_format(s->ckpt.lsn, l1));
		return SESSION_RELOAD;
	}
	if (e == SESSION_OK)
		wp_log(LOG_INFO, "stopped at checkpoint %s",
			   lsn_format(s->ckpt.lsn, l1));
	return e;
}

/*
 * A reload ends the session only between transactions.  The next session
 * may stream other tables (source.tables, mirrors) or route partitions
 * otherwise, so it may count a transaction's changes otherwise: a
 * checkpoint inside a transaction (a split one) would then skip the wrong
 * changes.  So the session reads on to the commit of the transaction in
 * hand, and the checkpoint it ends at is a whole transaction's end.
 */
static bool
session_reload_due(struct session *s, bool reload)
{
	char l1[LSN_STRLEN];

	if (!reload)
		return false;
	if (!s->pos.in_txn) {
		s->reload_waiting = false;
		return true;
	}
	if (!s->reload_waiting)
		wp_log(LOG_INFO,
			   "reload: reading the rest of the transaction in hand (it "
			   "ends at %s) first, so the new configuration starts between "
			   "transactions",
			   lsn_format(s->pos.txn_end, l1));
	s->reload_waiting = true;
	return false;
}

/*
 * `walpipe snapshot --table` asked for a backfill (session_take_message):
 * between transactions, commit what is in hand and start a new session,
 * which reads the backfills registered (session_backfill_open).
 */
static enum session_end
session_backfill_asked(struct session *s)
{
	enum session_end e;

	if (!s->bf.requested || s->pos.in_txn)
		return SESSION_OK;
	e = session_flush(s);
	if (e == SESSION_OK)
		e = session_drain(s);
	if (e != SESSION_OK)
		return e;
	wp_log(LOG_INFO, "a backfill was requested (walpipe snapshot --table): "
					 "starting a new session to take it");
	return SESSION_REPLAN;
}

/*
 * One session, as docs/architecture.md tells it: open the sinks and the
 * plans (and copy the initial snapshot), start the stream at the
 * checkpoint, then loop until a stop, a reload or an error ends it.
 */
static enum session_end
session_run(struct session *s, volatile sig_atomic_t *stop,
			volatile sig_atomic_t *reload)
{
	enum session_end e;
	bool stopped;

	s->progress.reported_at = clock_mono_ms();
	s->progress.maintained_at = s->progress.reported_at;
	e = session_open(s, stop, &stopped);
	if (e != SESSION_OK || stopped)
		return e;
	e = session_start_stream(s);
	while (e == SESSION_OK && !*stop && !session_reload_due(s, *reload)) {
		int64_t now;

		e = session_step(s);
		now = clock_mono_ms();
		if (e == SESSION_OK)
			e = session_advance_idle(s, now);
		if (e != SESSION_OK)
			break;
		session_watchdog(s);
		session_notices(s, now, false);
		session_report_progress(s, now);
		session_sync_check(s, now);
		e = session_heartbeat(s, now);
		if (e == SESSION_OK)
			e = session_refresh(s, now);
		if (e == SESSION_OK)
			e = session_maintain(s, now);
		if (e == SESSION_OK)
			e = session_backfill_step(s, now);
		if (e == SESSION_OK)
			e = session_backfill_asked(s);
	}
	if (e != SESSION_OK)
		return e;
	return session_finish(s);
}

int
run_loop(const struct run_settings *rs, const struct run_control *ctl)
{
	int backoff_ms = 1000;

	lsn_t replan_lsn = LSN_INVALID, asked_lsn = LSN_INVALID;
	uint32_t replan_xid = 0;
	size_t batch_cap = rs->max_changes;

	while (!*ctl->stop) {
		struct session s;
		enum session_end e;
		int64_t started = clock_mono_ms();

		if (*ctl->reload) {
			const struct run_settings *next;

			*ctl->reload = 0;
			next = ctl->reload_fn(ctl->arg);
			if (next)
				rs = next;
		}
		memset(&s, 0, sizeof(s));
		s.rs = rs;
		s.metrics = ctl->metrics;
		s.stop = ctl->stop;
		s.dec = w2j_decoder_new();
		s.batch = batch_new(rs->max_bytes + (1 << 20));
		s.replan_lsn = replan_lsn;
		s.replan_xid = replan_xid;
		s.asked_lsn = asked_lsn;
		s.batch_cap = batch_cap;
		e = session_run(&s, ctl->stop, ctl->reload);
		session_free(&s);
		replan_lsn = s.replan_lsn;
		replan_xid = s.replan_xid;
		asked_lsn = s.asked_lsn;
		batch_cap = s.batch_cap;
		metrics_set_up(ctl->metrics, false);
		if (e == SESSION_FATAL)
			return 1;
		if (e == SESSION_RELOAD || e == SESSION_REPLAN)
			continue;
		if (e == SESSION_OK || *ctl->stop)
			break;
		/* A session that ran a while or applied something resets the
		 * backoff: the failure is new, not a repeat. */
		if (s.applied_any || clock_mono_ms() - started > 60000)
			backoff_ms = 1000;
		metrics_reconnect(ctl->metrics);
		wp_log(LOG_INFO, "reconnecting in %.1f s", backoff_ms / 1000.0);
		for (int waited = 0; waited < backoff_ms && !*ctl->stop; waited += 100)
			usleep(100 * 1000);
		if (backoff_ms < 60000)
			backoff_ms *= 2;
	}
	return 0;
}
