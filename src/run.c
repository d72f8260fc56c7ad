/* run.c: the apply loop of `walpipe run`: stream, batch, apply, checkpoint, confirm. */
#include "walpipe/run.h"

#include "walpipe/batch.h"
#include "walpipe/catalog.h"
#include "walpipe/collapse.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"
#include "walpipe/notify.h"
#include "walpipe/repl.h"
#include "walpipe/sink_pg.h"
#include "walpipe/wal2json.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum session_end {
	SESSION_OK,
	SESSION_RELOAD, /* stopped cleanly to take a new configuration */
	SESSION_RETRY,
	SESSION_FATAL,
};

/* The state of one session: connections, the batch in hand, positions. */
struct session {
	const struct run_settings *rs;
	struct repl_stream *stream;
	struct sink_pg *sink;
	struct sink_target *targets;
	size_t ntargets;
	struct w2j_decoder *dec;
	struct batch *batch;
	struct checkpoint ckpt;	 /* what is committed in analytics */
	lsn_t last_complete;	 /* end of the last whole txn received */
	char last_commit_time[40];
	/* The transaction being received. */
	bool in_txn;
	bool skip_txn;
	lsn_t txn_end;
	uint64_t txn_pos;
	uint64_t txn_skip; /* changes of it already applied (split txn) */
	char txn_time[40];
	int64_t batch_started; /* monotonic ms of the first change, 0: none */
	int64_t last_idle_ckpt;
	struct sink_stats stats;
	uint64_t received;
	uint64_t batches;
	uint64_t refresh_failures;
	int64_t *refresh_due; /* monotonic ms of each view's next refresh */
	struct metrics *metrics;
	/* Heartbeat: a logical message emitted on the source and read back. */
	PGconn *hb_conn;
	int64_t hb_sent; /* monotonic ms of the oldest unanswered emit, 0: none */
	int64_t hb_next; /* when to emit the next */
	bool applied_any;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Between apply steps: keep wal_sender_timeout from firing. */
static void
session_tick(void *arg)
{
	struct session *s = arg;
	char err[256];

	if (s->stream)
		repl_send_status(s->stream, false, err, sizeof(err));
	notify_watchdog();
}

static bool
table_wanted(const struct session *s, const struct w2j_change *c)
{
	if (c->action == W2J_MESSAGE)
		return s->rs->stage_messages && s->rs->staging_table;
	if (s->rs->staging_table && s->rs->stage_unmapped)
		return true;
	for (size_t i = 0; i < s->ntargets; i++)
		if (strcmp(s->targets[i].rule->from_schema, c->schema) == 0 &&
			strcmp(s->targets[i].rule->from_table, c->table) == 0)
			return true;
	return false;
}

/*
 * Commit the batch in hand with the checkpoint it reaches: whole
 * transactions up to last_complete, plus, when a transaction is open, its
 * first txn_pos changes.  Confirms the slot only at a transaction end.
 */
static enum session_end
session_flush(struct session *s)
{
	struct checkpoint next = s->ckpt;
	enum sink_result res;
	char err[2048];
	char l1[LSN_STRLEN];

	next.lsn = s->last_complete;
	next.txn_end = LSN_INVALID;
	next.txn_applied = 0;
	if (s->in_txn && !s->skip_txn && s->txn_pos > 0) {
		next.txn_end = s->txn_end;
		next.txn_applied = s->txn_pos;
	}
	snprintf(next.last_commit_time, sizeof(next.last_commit_time), "%s",
			 s->last_commit_time);
	if (batch_count(s->batch) == 0 && next.lsn == s->ckpt.lsn &&
		next.txn_end == s->ckpt.txn_end &&
		next.txn_applied == s->ckpt.txn_applied) {
		s->batch_started = 0;
		return SESSION_OK; /* nothing to do; not an end */
	}
	uint64_t dead_before = s->stats.dead_letters;
	int64_t t0 = mono_ms();

	if (batch_count(s->batch) == 0)
		res = sink_pg_write_checkpoint(s->sink, &next, err, sizeof(err));
	else
		res = sink_pg_apply(s->sink, s->batch, s->targets, s->ntargets,
							&next, session_tick, s, &s->stats, err,
							sizeof(err));
	if (res != SINK_OK) {
		wp_log(LOG_ERROR, "%s", err);
		return res == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	if (batch_count(s->batch) > 0) {
		for (size_t i = 0; i < batch_count(s->batch); i++) {
			const struct batch_change *bc = batch_get(s->batch, i);

			metrics_change(s->metrics, batch_text(s->batch, bc->schema),
						   batch_text(s->batch, bc->table), (char) bc->action,
						   true);
		}
		metrics_batch(s->metrics, (double) (mono_ms() - t0) / 1000.0,
					  s->stats.dead_letters - dead_before);
		s->batches++;
		s->applied_any = true;
		wp_log(LOG_DEBUG, "applied batch of %zu changes up to %s",
			   batch_count(s->batch), lsn_format(next.lsn, l1));
	}
	s->ckpt = next;
	batch_reset(s->batch);
	s->batch_started = 0;
	/* The commit is durable: only now may the slot forget it. */
	repl_confirm(s->stream, s->ckpt.lsn, false);
	metrics_positions(s->metrics, s->ckpt.lsn, repl_server_end(s->stream),
					  s->ckpt.last_commit_time);
	return SESSION_OK;
}

static bool
batch_full(const struct session *s)
{
	return batch_count(s->batch) >= s->rs->max_changes ||
		   batch_bytes(s->batch) >= s->rs->max_bytes;
}

static bool
batch_due(const struct session *s)
{
	return s->batch_started &&
		   mono_ms() - s->batch_started >= s->rs->max_delay_ms;
}

/* One decoded message; returns SESSION_OK to go on. */
static enum session_end
session_handle(struct session *s, const struct w2j_change *c,
			   const struct repl_data *d)
{
	char err[512];
	enum session_end e;

	switch (c->action) {
	case W2J_BEGIN:
		s->in_txn = true;
		s->txn_end = c->nextlsn;
		s->txn_pos = 0;
		/* Whole transactions the checkpoint covers are skipped; of a
		 * transaction applied in pieces, the pieces already in. */
		s->skip_txn = c->nextlsn <= s->ckpt.lsn;
		s->txn_skip = (s->ckpt.txn_end == c->nextlsn) ? s->ckpt.txn_applied
													  : 0;
		snprintf(s->txn_time, sizeof(s->txn_time), "%s",
				 c->timestamp ? c->timestamp : "");
		return SESSION_OK;
	case W2J_COMMIT:
		s->in_txn = false;
		if (!s->skip_txn && s->txn_end > s->last_complete) {
			s->last_complete = s->txn_end;
			snprintf(s->last_commit_time, sizeof(s->last_commit_time), "%s",
					 s->txn_time);
			if (!s->batch_started)
				s->batch_started = mono_ms();
		}
		s->skip_txn = false;
		if (batch_full(s) || batch_due(s))
			return session_flush(s);
		return SESSION_OK;
	default:
		break;
	}
	if (!s->in_txn) {
		/* A non-transactional logical message: it has no transaction
		 * end to checkpoint, so walpipe does not record it.  Our own
		 * heartbeat coming back proves the walsender is alive. */
		if (c->action == W2J_MESSAGE && c->prefix &&
			strcmp(c->prefix, "walpipe_heartbeat") == 0)
			s->hb_sent = 0;
		/*
		 * Its position is still useful: every transaction that committed
		 * before it has been received (decoding follows WAL order) and
		 * every later one commits after it, so the checkpoint may move
		 * just past it.  This is what lets a heartbeat advance the slot
		 * of an idle database.
		 */
		if (c->action == W2J_MESSAGE && c->lsn + 1 > s->last_complete) {
			s->last_complete = c->lsn + 1;
			if (!s->batch_started)
				s->batch_started = mono_ms();
		}
		return SESSION_OK;
	}
	s->txn_pos++;
	if (s->skip_txn || s->txn_pos <= s->txn_skip)
		return SESSION_OK;
	s->received++;
	metrics_change(s->metrics, c->schema, c->table, (char) c->action, false);
	if (!table_wanted(s, c))
		return SESSION_OK;
	if (!batch_add(s->batch, c, d->payload, d->len, s->txn_end, s->txn_pos,
				   s->txn_time[0] ? s->txn_time : NULL, err, sizeof(err))) {
		wp_log(LOG_ERROR, "%s", err);
		return SESSION_FATAL;
	}
	if (!s->batch_started)
		s->batch_started = mono_ms();
	if (batch_full(s)) {
		/* A transaction bigger than a batch: apply it in pieces. */
		e = session_flush(s);
		if (e != SESSION_OK)
			return e;
	}
	return SESSION_OK;
}

static void
session_free(struct session *s)
{
	for (size_t i = 0; i < s->ntargets; i++) {
		catalog_free_columns(s->targets[i].srccols, s->targets[i].nsrc);
		map_plan_free(s->targets[i].plan);
		collapse_free(s->targets[i].rows);
	}
	free(s->targets);
	free(s->refresh_due);
	PQfinish(s->hb_conn);
	repl_close(s->stream);
	sink_pg_close(s->sink);
	w2j_decoder_free(s->dec);
	batch_free(s->batch);
}

/* Compile every mapping against the source catalog. */
static enum session_end
session_plan(struct session *s)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {s->rs->source_conninfo, "walpipe", NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	enum session_end e = SESSION_OK;
	char err[1024];

	if (PQstatus(conn) != CONNECTION_OK) {
		wp_log(LOG_ERROR, "could not connect to the source server: %s",
			   PQerrorMessage(conn));
		PQfinish(conn);
		return SESSION_RETRY;
	}
	s->targets = wp_calloc(s->rs->nrules ? s->rs->nrules : 1,
						   sizeof(*s->targets));
	for (size_t i = 0; i < s->rs->nrules; i++) {
		const struct map_rule *r = &s->rs->rules[i];
		struct sink_target *t = &s->targets[s->ntargets];
		char tmp[32];

		t->rule = r;
		t->srccols = catalog_table_columns(
			conn, r->from_schema, r->from_table,
			r->mode == MAP_MODE_UPSERT ||
				(r->mode != MAP_MODE_NONE && r->nkey > 0 &&
				 r->on_delete != MAP_DELETE_IGNORE),
			&t->nsrc, err, sizeof(err));
		if (t->srccols == NULL) {
			wp_log(LOG_ERROR, "%s", err);
			e = SESSION_FATAL;
			break;
		}
		snprintf(tmp, sizeof(tmp), "walpipe_t%zu", i);
		t->plan = map_plan_new(r, t->srccols, t->nsrc, s->rs->source_name,
							   tmp, err, sizeof(err));
		if (t->plan == NULL) {
			wp_log(LOG_ERROR, "%s", err);
			catalog_free_columns(t->srccols, t->nsrc);
			e = SESSION_FATAL;
			break;
		}
		t->rows = collapse_new();
		s->ntargets++;
	}
	PQfinish(conn);
	return e;
}

static enum session_end
session_run(struct session *s, volatile sig_atomic_t *stop,
			volatile sig_atomic_t *reload)
{
	const struct run_settings *rs = s->rs;
	struct repl_config rc;
	struct repl_info info;
	enum repl_result rr;
	enum sink_result sr;
	enum session_end e;
	struct sink_pg_config sc;
	char err[2048];
	char l1[LSN_STRLEN], l2[LSN_STRLEN];
	int64_t last_progress = mono_ms(), last_maint = mono_ms();
	uint64_t last_received = 0;

	memset(&sc, 0, sizeof(sc));
	sc.conninfo = rs->target_conninfo;
	sc.schema = rs->target_schema;
	sc.source = rs->source_name;
	sc.staging_schema = rs->staging_schema;
	sc.staging_table = rs->staging_table;
	sc.partition_unit = rs->partition_unit;
	sc.premake = rs->premake;
	sc.retention = rs->retention;
	sc.stage_messages = rs->stage_messages;
	s->sink = sink_pg_open(&sc, &sr, err, sizeof(err));
	if (s->sink == NULL) {
		wp_log(LOG_ERROR, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	sr = sink_pg_read_checkpoint(s->sink, &s->ckpt, err, sizeof(err));
	if (sr != SINK_OK) {
		wp_log(LOG_ERROR, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	e = session_plan(s);
	if (e != SESSION_OK)
		return e;
	sr = sink_pg_prepare(s->sink, s->targets, s->ntargets, err, sizeof(err));
	if (sr != SINK_OK) {
		wp_log(LOG_ERROR, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}

	memset(&rc, 0, sizeof(rc));
	rc.conninfo = rs->source_conninfo;
	rc.slot = rs->slot;
	rc.create_slot = rs->create_slot;
	rc.start = s->ckpt.exists ? s->ckpt.lsn : LSN_INVALID;
	rc.tables = rs->tables;
	rc.include_types = false; /* types come from the source catalog */
	rc.status_interval_ms = rs->status_interval_ms;
	s->stream = repl_open(&rc, &info, &rr, err, sizeof(err));
	if (s->stream == NULL) {
		wp_log(rr == REPL_RETRY ? LOG_WARNING : LOG_ERROR, "%s", err);
		return rr == REPL_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	if (info.slot_created)
		wp_log(LOG_NOTICE, "created replication slot \"%s\" at %s", rs->slot,
			   lsn_format(info.confirmed_flush, l1));
	if (s->ckpt.exists && info.confirmed_flush > s->ckpt.lsn) {
		if (!rs->allow_slot_ahead) {
			wp_log(LOG_ERROR,
				   "replication slot \"%s\" is at %s, ahead of walpipe's "
				   "checkpoint %s: the changes between were confirmed "
				   "without being applied (was the slot recreated or "
				   "advanced?)\nTake a new snapshot, or start once with "
				   "--allow-slot-ahead to accept the gap.",
				   rs->slot, lsn_format(info.confirmed_flush, l1),
				   lsn_format(s->ckpt.lsn, l2));
			return SESSION_FATAL;
		}
		wp_log(LOG_WARNING,
			   "accepting the gap from checkpoint %s to slot position %s",
			   lsn_format(s->ckpt.lsn, l1),
			   lsn_format(info.confirmed_flush, l2));
		s->ckpt.lsn = info.confirmed_flush;
		s->ckpt.txn_end = LSN_INVALID;
		s->ckpt.txn_applied = 0;
	}
	if (!s->ckpt.exists) {
		/* First start: begin where the slot is, and say so durably. */
		s->ckpt.lsn = info.confirmed_flush;
		if (sink_pg_write_checkpoint(s->sink, &s->ckpt, err, sizeof(err)) !=
			SINK_OK) {
			wp_log(LOG_ERROR, "%s", err);
			return SESSION_RETRY;
		}
		s->ckpt.exists = true;
	}
	s->last_complete = s->ckpt.lsn;
	snprintf(s->last_commit_time, sizeof(s->last_commit_time), "%s",
			 s->ckpt.last_commit_time);
	repl_confirm(s->stream, s->ckpt.lsn, false);
	s->refresh_due = wp_calloc(rs->nrefresh ? rs->nrefresh : 1,
							   sizeof(*s->refresh_due));
	for (size_t i = 0; i < rs->nrefresh; i++)
		s->refresh_due[i] = mono_ms() + rs->refresh[i].every_ms;
	wp_log(LOG_INFO,
		   "streaming slot \"%s\" from checkpoint %s%s (source at %s), "
		   "%zu mapping(s)",
		   rs->slot, lsn_format(s->ckpt.lsn, l1),
		   s->ckpt.txn_end ? " inside a split transaction" : "",
		   lsn_format(info.server_lsn, l2), s->ntargets);

	{
		char st[160];

		snprintf(st, sizeof(st), "streaming slot %s from %s", rs->slot,
				 lsn_format(s->ckpt.lsn, l1));
		notify_ready(st);
		metrics_set_up(s->metrics, true);
		metrics_positions(s->metrics, s->ckpt.lsn, info.server_lsn,
						  s->ckpt.last_commit_time);
	}
	while (!*stop && !*reload) {
		struct repl_data d;
		struct w2j_change c;
		int wait = 1000;
		int64_t now = mono_ms();

		if (s->batch_started) {
			int64_t left = s->batch_started + rs->max_delay_ms - now;

			wait = left < 0 ? 0 : (int) left;
		}
		rr = repl_next(s->stream, &d, wait, err, sizeof(err));
		if (rr == REPL_RETRY || rr == REPL_FATAL) {
			wp_log(LOG_WARNING, "%s", err);
			return rr == REPL_RETRY ? SESSION_RETRY : SESSION_FATAL;
		}
		if (rr == REPL_OK) {
			if (!w2j_decode(s->dec, d.payload, d.len, &c, err, sizeof(err))) {
				wp_log(LOG_ERROR, "could not decode the change at %s: %s",
					   lsn_format(d.data_start, l1), err);
				return SESSION_FATAL;
			}
			e = session_handle(s, &c, &d);
			if (e != SESSION_OK)
				return e;
		}
		now = mono_ms();
		if (!s->in_txn && batch_due(s)) {
			e = session_flush(s);
			if (e != SESSION_OK)
				return e;
		}
		/*
		 * Idle: nothing in hand and the server has moved on (other
		 * databases, skipped transactions).  Advance the checkpoint to
		 * the keepalive position first, then confirm it, so the slot
		 * keeps no WAL and is never ahead of the checkpoint.
		 */
		if (!s->in_txn && batch_count(s->batch) == 0 &&
			now - s->last_idle_ckpt >= rs->status_interval_ms &&
			repl_keepalive_end(s->stream) > s->last_complete) {
			s->last_complete = repl_keepalive_end(s->stream);
			e = session_flush(s);
			if (e != SESSION_OK)
				return e;
			s->last_idle_ckpt = now;
		}
		notify_watchdog();
		if (now - last_progress >= 10000) {
			double secs = (double) (now - last_progress) / 1000.0;
			char st[200];

			snprintf(st, sizeof(st),
					 "checkpoint %s, confirmed %s, %.0f changes/s, %llu "
					 "dead letters",
					 lsn_format(s->ckpt.lsn, l1),
					 lsn_format(repl_sent_flush(s->stream), l2),
					 (double) (s->received - last_received) / secs,
					 (unsigned long long) s->stats.dead_letters);
			notify_status(st);

			wp_log(LOG_INFO,
				   "progress: %.0f changes/s, %llu batches, %llu staged, "
				   "%llu fact rows, %llu dead letters, checkpoint %s",
				   (double) (s->received - last_received) / secs,
				   (unsigned long long) s->batches,
				   (unsigned long long) s->stats.staged,
				   (unsigned long long) s->stats.applied,
				   (unsigned long long) s->stats.dead_letters,
				   lsn_format(s->ckpt.lsn, l1));
			last_progress = now;
			last_received = s->received;
		}
		/*
		 * Heartbeat: emit a non-transactional logical message on the
		 * source.  It makes WAL on an idle database (so the slot moves)
		 * and must come back through the stream; if three intervals pass
		 * without it, the walsender is stalled: reconnect.
		 */
		if (rs->heartbeat_ms > 0) {
			if (s->hb_sent && now - s->hb_sent > 3 * (int64_t) rs->heartbeat_ms) {
				wp_log(LOG_WARNING,
					   "heartbeat sent %.1f s ago has not come back through "
					   "the replication stream; reconnecting",
					   (double) (now - s->hb_sent) / 1000.0);
				return SESSION_RETRY;
			}
			if (now >= s->hb_next) {
				PGresult *r;

				if (s->hb_conn == NULL || PQstatus(s->hb_conn) != CONNECTION_OK) {
					const char *keys[] = {"dbname", "fallback_application_name",
										  NULL};
					const char *vals[] = {rs->source_conninfo,
										  "walpipe heartbeat", NULL};

					PQfinish(s->hb_conn);
					s->hb_conn = PQconnectdbParams(keys, vals, 1);
				}
				r = PQexec(s->hb_conn,
						   "SELECT pg_logical_emit_message(false, "
						   "'walpipe_heartbeat', now()::text)");
				if (PQresultStatus(r) == PGRES_TUPLES_OK) {
					if (!s->hb_sent)
						s->hb_sent = now;
				} else {
					wp_log(LOG_WARNING, "could not emit heartbeat: %s",
						   PQerrorMessage(s->hb_conn));
				}
				PQclear(r);
				s->hb_next = now + rs->heartbeat_ms;
			}
		}
		/* Materialized views: between batches, never inside one. */
		for (size_t i = 0; i < rs->nrefresh && !s->in_txn &&
						   batch_count(s->batch) == 0;
			 i++) {
			if (now < s->refresh_due[i])
				continue;
			sr = sink_pg_refresh(s->sink, rs->refresh[i].view_schema,
								 rs->refresh[i].view_table,
								 rs->refresh[i].concurrently, session_tick, s,
								 err, sizeof(err));
			if (sr == SINK_RETRY) {
				wp_log(LOG_WARNING, "%s", err);
				return SESSION_RETRY;
			}
			if (sr != SINK_OK) {
				s->refresh_failures++;
				metrics_refresh_failure(s->metrics);
				wp_log(LOG_WARNING, "%s.%s: %s", rs->refresh[i].view_schema,
					   rs->refresh[i].view_table, err);
			}
			s->refresh_due[i] = mono_ms() + rs->refresh[i].every_ms;
		}
		if (now - last_maint >= 3600 * 1000) {
			if (sink_pg_maintain(s->sink, err, sizeof(err)) != SINK_OK)
				wp_log(LOG_WARNING, "%s", err);
			last_maint = now;
		}
	}
	/* Stop or reload: commit what is in hand (also a partial txn). */
	if (*stop)
		notify_stopping();
	e = session_flush(s);
	if (e == SESSION_OK && !*stop) {
		wp_log(LOG_INFO, "reloading the configuration at checkpoint %s",
			   lsn_format(s->ckpt.lsn, l1));
		return SESSION_RELOAD;
	}
	if (e == SESSION_OK)
		wp_log(LOG_INFO, "stopped at checkpoint %s",
			   lsn_format(s->ckpt.lsn, l1));
	return e;
}

int
run_loop(const struct run_settings *rs, const struct run_control *ctl)
{
	int backoff_ms = 1000;

	while (!*ctl->stop) {
		struct session s;
		enum session_end e;
		int64_t started = mono_ms();

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
		s.dec = w2j_decoder_new();
		s.batch = batch_new(rs->max_bytes + (1 << 20));
		e = session_run(&s, ctl->stop, ctl->reload);
		session_free(&s);
		metrics_set_up(ctl->metrics, false);
		if (e == SESSION_FATAL)
			return 1;
		if (e == SESSION_RELOAD)
			continue;
		if (e == SESSION_OK || *ctl->stop)
			break;
		/* A session that ran a while or applied something resets the
		 * backoff: the failure is new, not a repeat. */
		if (s.applied_any || mono_ms() - started > 60000)
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
