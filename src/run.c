/* run.c: the apply loop of `walpipe run`: stream, batch, apply, checkpoint, confirm. */
#include "walpipe/run.h"
#include "walpipe/clock.h"

#include "walpipe/applier.h"
#include "walpipe/batch.h"
#include "walpipe/buf.h"
#include "walpipe/catalog.h"
#include "walpipe/collapse.h"
#include "walpipe/ident.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"
#include "walpipe/notify.h"
#include "walpipe/pgconn.h"
#include "walpipe/posfile.h"
#include "walpipe/repl.h"
#include "walpipe/route.h"
#include "walpipe/sink_pg.h"
#include "walpipe/sink_kafka.h"
#include "walpipe/snapshot.h"
#include "walpipe/streampos.h"
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
	SESSION_REPLAN, /* stopped cleanly: a source table changed shape */
	SESSION_RETRY,
	SESSION_FATAL,
};

/* The state of one session: connections, the batch in hand, positions. */
struct session {
	const struct run_settings *rs;
	struct repl_stream *stream;
	struct sink_pg *sink;
	struct sink_kafka *kafka; /* NULL: Kafka off */
	struct sink_kafka_stats kstats; /* as last given to metrics */
	volatile sig_atomic_t *stop;
	int64_t txn_commit_ms; /* commit time of the transaction received */
	struct sink_target *targets;
	size_t ntargets;
	/* The mapped tables' real, double precision and numeric columns
	 * (catalog_special_columns), for the start-up warning when the
	 * server's wal2json cannot carry their NaN and infinities; or NULL. */
	char *special;
	struct w2j_decoder *dec;
	struct batch *batch;	 /* being filled */
	struct batch *spare;	 /* the next to fill; NULL while applying */
	struct applier *applier; /* NULL: Kafka alone, or not streaming yet */
	struct checkpoint ckpt;	 /* what is committed in analytics */
	struct checkpoint queued; /* what will be once the applier is done */
	/* The stream against queued: what to skip, where a batch ends. */
	struct streampos pos;
	char last_commit_time[40];
	char txn_time[40]; /* the open transaction's commit time */
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
	/* The change that last ended a session with SESSION_REPLAN: if it
	 * still does not fit the fresh plan, re-reading cannot help. */
	lsn_t replan_lsn;
	/*
	 * The most changes a batch may hold now: max_changes, halved after a
	 * batch timed out (target.statement_timeout) so that the retry can
	 * fit, and doubled back after every 10 batches that commit.  Kept
	 * across sessions by run_loop.
	 */
	size_t batch_cap;
	unsigned cap_ok;
	/* Kafka alone: the position last recorded (posfile.h), which the
	 * slot is never confirmed beyond, and when. */
	lsn_t recorded;
	int64_t recorded_at;
	/* The source's WAL position just before the plans' catalog was read:
	 * changes below it are older than that catalog (session_check_shape). */
	lsn_t catalog_lsn;
	/* Partitioned source tables (route.h): NULL when none is mapped, and
	 * wal2json's filter then sends exactly the listed tables. */
	PGconn *plan_conn; /* the catalog connection, kept for lookups */
	struct route *route;
	char **all_of_schemas; /* add-tables "schema.*" */
	char *part_sig; /* catalog_partition_watch's, at the last look */
	size_t nall_of_schemas;
	struct route_entry **gone; /* tables looked up too late */
	size_t ngone;
	/* Partitions truncated at trunc_lsn without their partitioned table
	 * (so far: its own T may still follow, session_route_truncate). */
	struct route_entry **trunc;
	size_t ntrunc;
	lsn_t trunc_lsn;
	bool stall_warned; /* the apply thread's stall was logged */
	int64_t watchdog_at; /* monotonic ms of the last watchdog look */
	int64_t notices_logged; /* monotonic ms of the last notice line */
	/* wal2json's warning that it dropped an update or delete of a table
	 * a keyless mapping reads (session_notice_hook), "" if none. */
	char keyless_dropped[512];
};

/*
 * A keyless mapping's table whose replica identity is no longer FULL
 * (NOTHING, or DEFAULT without a primary key): wal2json drops its updates
 * and deletes with a warning and sends nothing else, so this warning is
 * the only trace of the change.  It arrives before the next change on the
 * wire; the loop stops there (session_stop_dropped).
 */
static void
session_notice_hook(void *arg, const char *message)
{
	struct session *s = arg;
	static const char lead[] = "no tuple identifier for ";
	const char *in;

	if (s->keyless_dropped[0] || strncmp(message, lead, strlen(lead)) != 0 ||
		(in = strstr(message, " in table \"")) == NULL)
		return;
	for (size_t i = 0; i < s->ntargets; i++) {
		const struct map_rule *r = s->targets[i].rule;
		char want[300];

		snprintf(want, sizeof(want), " in table \"%s\".\"%s\"",
				 r->from_schema, r->from_table);
		if (r->mode == MAP_MODE_KEYLESS && strcmp(in, want) == 0) {
			snprintf(s->keyless_dropped, sizeof(s->keyless_dropped), "%s",
					 message);
			return;
		}
	}
}

/* A batch is with the applier (in flight, or done and not collected):
 * exactly when the spare batch is out. */
static bool
session_applying(const struct session *s)
{
	return s->applier && s->spare == NULL;
}

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
static void
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

/* Record lsn as Kafka-only's position (posfile.h); logs a failure. */
static bool
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
static void
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

		if (now - s->recorded_at >= 1000 && session_record(s, lsn))
			s->recorded_at = now;
		if (lsn > s->recorded)
			lsn = s->recorded;
	}
	repl_confirm(s->stream, lsn, false);
}

/* Kafka's delivery reports and errors; ends the session on an error. */
static enum session_end
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

static enum session_end
session_produce(struct session *s, const struct w2j_change *c,
				const struct repl_data *d)
{
	struct kafka_change kc;
	enum kafka_result r;
	char err[1024];

	if (c->action == W2J_MESSAGE || !table_to_kafka(s, c))
		return SESSION_OK;
	kc.c = c;
	kc.raw = d->payload;
	kc.rawlen = d->len;
	kc.txn_end = s->pos.txn_end;
	kc.txn_pos = s->pos.txn_pos;
	kc.commit_ms = s->txn_commit_ms;
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
static enum session_end
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
	return e;
}

/*
 * Wait until the applier has nothing in hand, keeping the walsender
 * answered meanwhile (its wal_sender_timeout would end the stream).
 */
static enum session_end
session_drain(struct session *s)
{
	bool told = false;

	while (session_applying(s)) {
		enum session_end e = session_collect(s, 100);

		if (e != SESSION_OK)
			return e;
		session_tick(s);
		/* `walpipe snapshot --table` or `walpipe dlq retry` holds the
		 * checkpoint until its rows commit; the applier keeps its batch
		 * and tries again. */
		if (!told && applier_lock_waiting(s->applier)) {
			wp_log(LOG_NOTICE, "waiting for a backfill (walpipe snapshot "
							   "--table) or a dead letter retry to commit "
							   "before applying more");
			told = true;
		}
	}
	return SESSION_OK;
}

/*
 * Before the checkpoint moves past what is in hand, look whether the
 * partitions of the followed partitioned tables changed since the last
 * look (one catalog query per batch, only with partitioned tables
 * mapped).  Everything in hand was written before this look, so nothing
 * before the previous look can belong to a partition attached since.
 *  - A partition in a schema add-tables did not open (created while
 *    streaming): wal2json filtered its changes out of what is in hand.
 *  - A table whose changes this session ignored (not listed, no partition
 *    then) and that is a partition now (attached): some of them may be
 *    from after the attach.
 * Either way apply nothing of what is in hand and end the session: the
 * next one asks wal2json for that schema too, routes the table to its
 * partitioned table, and reads everything after the checkpoint again.
 */
static enum session_end
session_check_partitions(struct session *s)
{
	char err[1024];
	char *sig = NULL;
	enum session_end e = SESSION_OK;
	const struct route_entry *root;
	int r = catalog_partition_watch(s->plan_conn, s->route,
									s->all_of_schemas, s->nall_of_schemas,
									&sig, err, sizeof(err));

	if (r < 0) {
		wp_log(LOG_WARNING, "%s", err);
		return SESSION_RETRY;
	}
	if (r > 0) {
		wp_log(LOG_NOTICE, "%s", err);
		e = SESSION_REPLAN;
	}
	for (size_t i = 0; e == SESSION_OK && s->part_sig &&
					   strcmp(sig, s->part_sig) != 0 &&
					   (root = route_root(s->route, i)) != NULL;
		 i++) {
		struct catalog_part *p;
		size_t np;

		if (!catalog_partitions(s->plan_conn, root->schema, root->table, &p,
								&np, err, sizeof(err))) {
			wp_log(LOG_WARNING, "%s", err);
			free(sig);
			return SESSION_RETRY;
		}
		for (size_t k = 0; k < np && e == SESSION_OK; k++) {
			struct route_entry *t = route_find(s->route, p[k].schema,
											   p[k].table);

			char q1[IDENT_QUALIFIED_MAX], q2[IDENT_QUALIFIED_MAX];

			if (t == NULL || t->kind != ROUTE_DROP || t->changes == 0)
				continue;
			ident_qualified_to(q1, sizeof(q1), p[k].schema, p[k].table);
			ident_qualified_to(q2, sizeof(q2), root->schema, root->table);
			wp_log(LOG_NOTICE,
				   "table \"%s\" became a partition of source table \"%s\" "
				   "after walpipe had ignored changes of it; re-reading the "
				   "source catalog",
				   q1, q2);
			e = SESSION_REPLAN;
		}
		catalog_free_parts(p, np);
	}
	free(s->part_sig);
	s->part_sig = sig;
	if (e == SESSION_OK)
		return e;
	e = session_drain(s);
	return e == SESSION_OK ? SESSION_REPLAN : e;
}

/*
 * Hand the batch in hand to the applier with the checkpoint it reaches:
 * whole transactions up to last_complete, plus, when a transaction is
 * open, its first txn_pos changes.  Waits for the batch before it first:
 * at most one is in flight, so batches commit in stream order.  The slot
 * is confirmed when the commit is collected, never before.
 */
static enum session_end
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
	if (s->route && (e = session_check_partitions(s)) != SESSION_OK)
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

static bool
batch_full(const struct session *s)
{
	return batch_count(s->batch) >= s->rs->max_changes ||
		   batch_count(s->batch) >= s->batch_cap ||
		   batch_bytes(s->batch) >= s->rs->max_bytes;
}

static bool
batch_due(const struct session *s)
{
	return s->batch_started &&
		   clock_mono_ms() - s->batch_started >= s->rs->max_delay_ms;
}

static enum session_end session_check_shape(struct session *s,
											const struct w2j_change *c);
static enum session_end session_route(struct session *s, struct w2j_change *c,
									  bool *drop);
static enum session_end session_truncated_alone(struct session *s);
static enum session_end session_check_identity(struct session *s,
											   const struct w2j_change *c);

/* One decoded message; returns SESSION_OK to go on. */
static enum session_end
session_handle(struct session *s, struct w2j_change *c,
			   const struct repl_data *d)
{
	char err[512];
	enum session_end e;
	bool drop = false, fresh;

	/* The truncate of partitions without their partitioned table ends
	 * at the first message that is not one of its T changes. */
	if (s->ntrunc > 0 &&
		(c->action != W2J_TRUNCATE || c->lsn != s->trunc_lsn) &&
		(e = session_truncated_alone(s)) != SESSION_OK)
		return e;

	switch (c->action) {
	case W2J_BEGIN:
		/* Whole transactions the checkpoint covers are skipped; of a
		 * transaction applied in pieces, the pieces already in. */
		streampos_begin(&s->pos, c->nextlsn,
						&(struct stream_point){s->queued.lsn,
											   s->queued.txn_end,
											   s->queued.txn_applied});
		snprintf(s->txn_time, sizeof(s->txn_time), "%s",
				 c->timestamp ? c->timestamp : "");
		if (s->kafka) {
			double t = metrics_parse_time(c->timestamp);

			s->txn_commit_ms = t < 0 ? -1 : (int64_t) (t * 1000.0 + 0.5);
			sink_kafka_begin(s->kafka, c->nextlsn);
		}
		return SESSION_OK;
	case W2J_COMMIT:
		if (s->kafka)
			sink_kafka_commit(s->kafka);
		if (streampos_commit(&s->pos)) {
			snprintf(s->last_commit_time, sizeof(s->last_commit_time), "%s",
					 s->txn_time);
			if (!s->batch_started)
				s->batch_started = clock_mono_ms();
		}
		if (batch_full(s) || batch_due(s))
			return session_flush(s);
		return SESSION_OK;
	default:
		break;
	}
	if (!s->pos.in_txn) {
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
		if (c->action == W2J_MESSAGE && s->kafka)
			sink_kafka_mark(s->kafka, c->lsn + 1);
		if (c->action == W2J_MESSAGE && streampos_message(&s->pos, c->lsn) &&
			!s->batch_started)
			s->batch_started = clock_mono_ms();
		return SESSION_OK;
	}
	/* A partition's change becomes its partitioned table's, here once for
	 * every sink; a table nobody listed is dropped before it is counted,
	 * so positions inside a transaction do not depend on the schemas
	 * add-tables had to open for partitions. */
	if (s->route && c->schema) {
		e = session_route(s, c, &drop);
		if (e != SESSION_OK || drop)
			return e;
	}
	fresh = streampos_change(&s->pos);
	/* Kafka gets every change the stream sends: the stream starts at the
	 * slot, which is never ahead of what Kafka has; the analytics sink
	 * skips what its checkpoint already covers. */
	if (s->kafka) {
		e = session_produce(s, c, d);
		if (e != SESSION_OK)
			return e;
	}
	if (!fresh)
		return SESSION_OK;
	s->received++;
	metrics_change(s->metrics, c->schema, c->table, (char) c->action, false);
	if (!table_wanted(s, c))
		return SESSION_OK;
	if (c->action == W2J_INSERT && (e = session_check_shape(s, c)) != SESSION_OK)
		return e;
	if (c->nidentity > 0 && (e = session_check_identity(s, c)) != SESSION_OK)
		return e;
	if (!batch_add(s->batch, c, d->payload, d->len, s->pos.txn_end,
				   s->pos.txn_pos,
				   s->txn_time[0] ? s->txn_time : NULL, err, sizeof(err))) {
		wp_log(LOG_ERROR, "%s", err);
		return SESSION_FATAL;
	}
	if (!s->batch_started)
		s->batch_started = clock_mono_ms();
	/* A transaction bigger than a batch: apply it in pieces.  One
	 * TRUNCATE of several tables arrives as consecutive T changes and is
	 * applied as one statement (sink_pg), so a piece never ends inside
	 * it: the batch ends at the next change or the commit. */
	if (batch_full(s) && c->action != W2J_TRUNCATE) {
		e = session_flush(s);
		if (e != SESSION_OK)
			return e;
	}
	return SESSION_OK;
}

/*
 * End the session before change c (not yet counted in txn_pos), after
 * committing everything before it, so that the next session compiles the
 * mappings against the source catalog as it is now.
 */
static enum session_end
session_replan(struct session *s, const struct w2j_change *c)
{
	enum session_end e;

	streampos_uncount(&s->pos);
	e = session_flush(s);
	if (e == SESSION_OK)
		e = session_drain(s);
	s->replan_lsn = c->lsn;
	return e == SESSION_OK ? SESSION_REPLAN : e;
}

/*
 * wal2json dropped an update or delete of a keyless mapping's table
 * (session_notice_hook): commit every change before it and stop.  The
 * target would miss the change and go on matching later changes against
 * a row that should have changed; on restart the same change is dropped
 * again and walpipe stops again at the same place, so nothing after it
 * is applied until the mapping changes.
 */
static enum session_end
session_stop_dropped(struct session *s)
{
	enum session_end e = session_flush(s);

	if (e == SESSION_OK)
		e = session_drain(s);
	if (e != SESSION_OK)
		return e;
	wp_log(LOG_ERROR,
		   "wal2json dropped a change that a keyless mapping needs: %s\nThe "
		   "table's replica identity is no longer FULL, so its updates and "
		   "deletes do not reach walpipe, and only inserts can be mirrored. "
		   "Every change before it is applied; walpipe stops here again at "
		   "each start.  Set REPLICA IDENTITY FULL again; to go on, map the "
		   "table with mode append (or not at all) until walpipe has passed "
		   "this change: the target then misses it and no longer mirrors "
		   "the table.",
		   s->keyless_dropped);
	return SESSION_FATAL;
}

/*
 * An insert carries every column its row had when it was written.  When
 * one of a mapping's source columns is absent, the table changed shape
 * around the change:
 *  - added after it: the change is older than the catalog the plan was
 *    compiled with (below catalog_lsn, which was read before the catalog),
 *    that catalog has the column, and the change carries no column the
 *    table lacks: the source row holds the column's missing value now, and
 *    collapse fills it in.  The same holds for a column dropped and added
 *    again since: the row holds the new column's missing value.
 *  - otherwise (dropped or renamed after the plan's catalog was read, or a
 *    column the table no longer has is carried instead: a rename) the plan
 *    is stale or cannot say what the row holds; applying the change
 *    through it would drop or corrupt the row silently.  Commit what came
 *    before it, then end the session so the next one compiles against the
 *    catalog as it is now; if the column is gone there too, that session
 *    stops with the mapping's error, and if the change still does not
 *    fit, it stops here.
 * The change itself is not yet counted in txn_pos.
 */
static enum session_end
session_check_shape(struct session *s, const struct w2j_change *c)
{
	char l1[LSN_STRLEN], l2[LSN_STRLEN];

	for (size_t i = 0; i < s->ntargets; i++) {
		const struct sink_target *t = &s->targets[i];
		const char *col, *unknown;
		char src[IDENT_QUALIFIED_MAX], to[IDENT_QUALIFIED_MAX];

		if (strcmp(t->rule->from_schema, c->schema) != 0 ||
			strcmp(t->rule->from_table, c->table) != 0)
			continue;
		col = map_plan_absent_column(t->plan, c->columns, c->ncolumns);
		if (col == NULL)
			continue;
		unknown = map_unknown_column(t->srccols, t->nsrc, c->columns,
									 c->ncolumns);
		if (unknown == NULL && c->lsn < s->catalog_lsn)
			continue;
		ident_qualified_to(src, sizeof(src), c->schema, c->table);
		ident_qualified_to(to, sizeof(to), t->rule->to_schema,
						   t->rule->to_table);
		if (s->replan_lsn == c->lsn && unknown) {
			wp_log(LOG_ERROR,
				   "insert into \"%s\" at %s has no column \"%s\", which "
				   "the mapping to \"%s\" reads, but has column \"%s\", "
				   "which the source table no longer has\nColumn \"%s\" was "
				   "renamed or dropped after this change, so walpipe cannot "
				   "tell whether the source row holds its value in \"%s\".\n"
				   "Take \"%s\" out of the mapping until walpipe has applied "
				   "this change, then put it back and copy the table again "
				   "with walpipe snapshot --table '%s'.",
				   src, lsn_format(c->lsn, l1), col, to, unknown, unknown,
				   col, col, src);
			return SESSION_FATAL;
		}
		if (s->replan_lsn == c->lsn) {
			/* The fresh catalog was read after the change was written,
			 * unless the source server's WAL went back (a failover). */
			wp_log(LOG_ERROR,
				   "insert into \"%s\" at %s has no column \"%s\", which "
				   "the mapping to \"%s\" reads, and the source catalog "
				   "read at %s has it\nThe catalog was read before the "
				   "source server wrote this change, so walpipe cannot tell "
				   "what the source row holds for it.",
				   src, lsn_format(c->lsn, l1), col, to,
				   lsn_format(s->catalog_lsn, l2));
			return SESSION_FATAL;
		}
		if (unknown)
			wp_log(LOG_NOTICE,
				   "source table \"%s\" changed shape: the insert at %s "
				   "has no column \"%s\" but has column \"%s\"; re-reading "
				   "the source catalog",
				   src, lsn_format(c->lsn, l1), col, unknown);
		else
			wp_log(LOG_NOTICE,
				   "source table \"%s\" changed shape: the insert at %s "
				   "has no column \"%s\"; re-reading the source catalog",
				   src, lsn_format(c->lsn, l1), col);
		return session_replan(s, c);
	}
	return SESSION_OK;
}

/*
 * An update's or delete's identity carries the table's replica identity
 * columns as they are at that change.  One that lacks a key column of a
 * plan means ALTER TABLE .. REPLICA IDENTITY changed the key since the
 * plan was compiled: the change could not find its target row (a delete
 * would match nothing).  As for a change of shape, commit what came
 * before and end the session, so the next one compiles against the
 * identity as it is now; if the change still does not fit, stop.
 */
static enum session_end
session_check_identity(struct session *s, const struct w2j_change *c)
{
	char l1[LSN_STRLEN], src[IDENT_QUALIFIED_MAX];

	for (size_t i = 0; i < s->ntargets; i++) {
		const struct sink_target *t = &s->targets[i];
		const char *col = NULL;

		if (t->rule->mode == MAP_MODE_NONE ||
			strcmp(t->rule->from_schema, c->schema) != 0 ||
			strcmp(t->rule->from_table, c->table) != 0)
			continue;
		for (size_t k = 0; k < t->nsrc && col == NULL; k++)
			if (t->srccols[k].key &&
				!w2j_find_column(c->identity, c->nidentity,
								 t->srccols[k].name))
				col = t->srccols[k].name;
		/* A keyless mapping finds its row by every column it reads:
		 * an identity without one of them (no longer REPLICA IDENTITY
		 * FULL) could only match the wrong row; the next session's
		 * catalog_keyless_ok says why it stops. */
		for (size_t k = 0; t->rule->mode == MAP_MODE_KEYLESS &&
						   k < t->plan->ntmp && col == NULL;
			 k++)
			if (!w2j_find_column(c->identity, c->nidentity,
								 t->plan->tmp_cols[k]))
				col = t->plan->tmp_cols[k];
		if (col == NULL)
			continue;
		ident_qualified_to(src, sizeof(src), c->schema, c->table);
		if (s->replan_lsn == c->lsn) {
			wp_log(LOG_ERROR,
				   "%s of \"%s\" at %s identifies its row without key "
				   "column \"%s\", which the source catalog names as part of "
				   "the replica identity now\nThe replica identity was "
				   "changed again after this change; set it back until "
				   "walpipe has passed %s, then change it.",
				   c->action == W2J_DELETE ? "delete" : "update", src,
				   lsn_format(c->lsn, l1), col, l1);
			return SESSION_FATAL;
		}
		wp_log(LOG_NOTICE,
			   "replica identity of source table \"%s\" changed: the %s "
			   "at %s has no identity column \"%s\"; re-reading the source "
			   "catalog",
			   src,
			   c->action == W2J_DELETE ? "delete" : "update",
			   lsn_format(c->lsn, l1), col);
		return session_replan(s, c);
	}
	return SESSION_OK;
}

static char **mapped_tables(const struct run_settings *rs, size_t *n);
static void tables_free(char **t, size_t n);

/*
 * A table the route cache does not know yet: ask the source catalog once
 * what it is.  A partition (at any level) of a followed partitioned table,
 * typically created while streaming, is followed from now on as that
 * table (its topmost followed ancestor, as publish_via_partition_root
 * takes); any other is kept if source.tables lists it, else dropped.  A
 * table the catalog no longer has was dropped before walpipe read its
 * changes: they are ignored, but counted and warned of.
 *
 * The catalog is read now, not as of the change: a partition detached
 * since the change was written is no longer found (session_route).
 */
static struct route_entry *
session_route_lookup(struct session *s, const struct w2j_change *c,
					 enum session_end *e)
{
	struct catalog_part *anc;
	size_t n;
	const struct route_entry *root = NULL;
	char err[1024];
	char q1[IDENT_QUALIFIED_MAX], q2[IDENT_QUALIFIED_MAX];
	int found = catalog_partition_ancestors(s->plan_conn, c->schema,
											c->table, &anc, &n, err,
											sizeof(err));
	struct route_entry *r;

	*e = SESSION_OK;
	if (found < 0) {
		wp_log(LOG_WARNING, "%s", err);
		*e = SESSION_RETRY;
		return NULL;
	}
	if (found == 0 && route_listed(s->route, c->schema, c->table)) {
		/* Listed: its changes are wanted whatever it is now (renamed
		 * since, say), as without partitioned tables. */
		catalog_free_parts(anc, n);
		return route_add(s->route, c->schema, c->table, ROUTE_KEEP, NULL,
						 NULL);
	}
	if (found == 0) {
		r = route_add(s->route, c->schema, c->table, ROUTE_GONE, NULL, NULL);
		s->gone = wp_realloc(s->gone, (s->ngone + 1) * sizeof(*s->gone));
		s->gone[s->ngone++] = r;
		ident_qualified_to(q1, sizeof(q1), c->schema, c->table);
		wp_log(LOG_WARNING,
			   "source table \"%s\" no longer exists, so walpipe cannot "
			   "tell whether it was a partition of a followed partitioned "
			   "table: its changes are ignored (counted when walpipe "
			   "stops)\nIt was created and dropped before walpipe read its "
			   "changes.  If it was a partition of a mapped table, copy "
			   "that table again with walpipe snapshot --table.",
			   q1);
		catalog_free_parts(anc, n);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct route_entry *a = route_find(s->route, anc[i].schema,
										   anc[i].table);

		if (a && a->kind == ROUTE_ROOT)
			root = a;
	}
	catalog_free_parts(anc, n);
	if (root == NULL)
		return route_add(s->route, c->schema, c->table,
						 route_listed(s->route, c->schema, c->table)
							 ? ROUTE_KEEP
							 : ROUTE_DROP,
						 NULL, NULL);
	if (!catalog_check_partition(s->plan_conn, c->schema, c->table,
								 root->schema, root->table, s->targets,
								 s->ntargets, err, sizeof(err))) {
		wp_log(LOG_ERROR, "%s", err);
		*e = SESSION_FATAL;
		return NULL;
	}
	r = route_add(s->route, c->schema, c->table, ROUTE_MEMBER, root->schema,
				  root->table);
	ident_qualified_to(q1, sizeof(q1), c->schema, c->table);
	ident_qualified_to(q2, sizeof(q2), r->root_schema, r->root_table);
	wp_log(LOG_NOTICE, "partition \"%s\" of \"%s\" is now followed", q1, q2);
	return r;
}

/*
 * A TRUNCATE arrives as a T change per relation it reached, all at its
 * LSN, partitioned tables included, the named ones first (TRUNCATE
 * parent, child names the parent first; TRUNCATE child, parent the
 * child).  The T of a mapped partitioned table empties its targets (as a
 * shared target's, sink_pg); the T of its partitions then say nothing
 * more and are dropped.  Partitions truncated without their partitioned
 * table are held here until a message that is not a T of the same
 * TRUNCATE shows that the table's own T is not coming.
 */
static void
session_route_truncate(struct session *s, const struct w2j_change *c,
					   struct route_entry *r)
{
	struct route_entry *root;

	if (s->ntrunc > 0 && s->trunc_lsn != c->lsn)
		s->ntrunc = 0; /* session_handle resolved those */
	if (r->kind != ROUTE_MEMBER) {
		/* The root itself (or a plain table): its partitions held so
		 * far were truncated with it. */
		r->mark = c->lsn;
		for (size_t i = 0; i < s->ntrunc;)
			if (strcmp(s->trunc[i]->root_schema, c->schema) == 0 &&
				strcmp(s->trunc[i]->root_table, c->table) == 0)
				s->trunc[i] = s->trunc[--s->ntrunc];
			else
				i++;
		return;
	}
	root = route_find(s->route, r->root_schema, r->root_table);
	if ((root && root->mark == c->lsn) || s->pos.skip_txn ||
		s->pos.txn_pos < s->pos.txn_skip)
		return; /* with its table, or applied before */
	s->trunc = wp_realloc(s->trunc, (s->ntrunc + 1) * sizeof(*s->trunc));
	s->trunc[s->ntrunc++] = r;
	s->trunc_lsn = c->lsn;
}

/*
 * Partitions were truncated without their partitioned table (TRUNCATE
 * partition).  walpipe cannot empty just their rows from a target: it
 * does not know which target rows came from which partition (that would
 * take evaluating the partition bound over the mapped columns, which a
 * mapping may rename, compute or leave out).  Truncating the whole target
 * would delete the other partitions' rows, and dead-lettering the
 * truncate would leave its rows behind while moving on.  So, unless every
 * mapping of the table ignores truncates, walpipe stops before anything
 * of the transaction is applied.
 */
static enum session_end
session_truncated_alone(struct session *s)
{
	char l1[LSN_STRLEN];

	for (size_t i = 0; i < s->ntrunc; i++) {
		const struct route_entry *r = s->trunc[i];
		char part[IDENT_QUALIFIED_MAX], root[IDENT_QUALIFIED_MAX];
		char to[IDENT_QUALIFIED_MAX];

		ident_qualified_to(part, sizeof(part), r->schema, r->table);
		ident_qualified_to(root, sizeof(root), r->root_schema, r->root_table);

		for (size_t k = 0; k < s->ntargets; k++) {
			const struct map_rule *m = s->targets[k].rule;

			if (strcmp(m->from_schema, r->root_schema) != 0 ||
				strcmp(m->from_table, r->root_table) != 0 ||
				m->mode == MAP_MODE_NONE ||
				m->on_truncate == MAP_TRUNCATE_IGNORE)
				continue;
			ident_qualified_to(to, sizeof(to), m->to_schema, m->to_table);
			wp_log(LOG_ERROR,
				   "partition \"%s\" of source table \"%s\" was truncated "
				   "at %s without the partitioned table, and walpipe cannot "
				   "tell which rows of target \"%s\" came from it\nSet "
				   "on_truncate: ignore on the mappings of \"%s\" until "
				   "walpipe has passed %s, then delete that partition's rows "
				   "from the target yourself, or copy the table again with "
				   "walpipe snapshot --table '%s'.",
				   part, root, lsn_format(s->trunc_lsn, l1), to, root, l1,
				   root);
			return SESSION_FATAL;
		}
		wp_log(LOG_NOTICE,
			   "partition \"%s\" of source table \"%s\" was truncated at "
			   "%s without the partitioned table: passed over, as no "
			   "mapping of the table applies truncates",
			   part, root, lsn_format(s->trunc_lsn, l1));
	}
	s->ntrunc = 0;
	return SESSION_OK;
}

/*
 * Route change c (I, U, D or T) by its table (route.h): a partition's is
 * renamed to its followed partitioned table, for every sink after this;
 * *drop when nothing of walpipe is to see it.
 */
static enum session_end
session_route(struct session *s, struct w2j_change *c, bool *drop)
{
	struct route_entry *r = route_find(s->route, c->schema, c->table);
	enum session_end e;

	*drop = false;
	if (r == NULL && (r = session_route_lookup(s, c, &e)) == NULL)
		return e;
	r->changes++;
	switch (r->kind) {
	case ROUTE_DROP:
	case ROUTE_GONE:
		*drop = true;
		return SESSION_OK;
	case ROUTE_KEEP:
	case ROUTE_ROOT:
		if (c->action == W2J_TRUNCATE)
			session_route_truncate(s, c, r);
		return SESSION_OK;
	case ROUTE_MEMBER:
		break;
	}
	if (c->action == W2J_TRUNCATE) {
		session_route_truncate(s, c, r);
		*drop = true;
		return SESSION_OK;
	}
	c->schema = r->root_schema;
	c->table = r->root_table;
	return SESSION_OK;
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
	for (size_t i = 0; i < s->ngone; i++) {
		char q[IDENT_QUALIFIED_MAX];

		ident_qualified_to(q, sizeof(q), s->gone[i]->schema,
						   s->gone[i]->table);
		wp_log(LOG_WARNING,
			   "ignored %llu change(s) of source table \"%s\", which no "
			   "longer existed when walpipe looked it up",
			   (unsigned long long) s->gone[i]->changes, q);
	}
	free(s->gone);
	free(s->trunc);
	route_free(s->route);
	tables_free(s->all_of_schemas, s->nall_of_schemas);
	free(s->part_sig);
	PQfinish(s->plan_conn);
	catalog_free_targets(s->targets, s->ntargets);
	free(s->refresh_due);
	free(s->special);
	PQfinish(s->hb_conn);
	sink_kafka_close(s->kafka);
	repl_close(s->stream);
	sink_pg_close(s->sink);
	w2j_decoder_free(s->dec);
	batch_free(s->batch);
}


/*
 * The route cache, when a mapping reads a partitioned table or
 * source.tables lists one: its partitions' changes are its own (route.h).
 * Each partition's replica identity is checked here; partitions created
 * later, when their first change arrives.  Without any, no route: the
 * stream is as wal2json's filter of source.tables makes it.  conn is kept
 * (plan_conn) when there is a route.
 */
static enum session_end
session_plan_routes(struct session *s, PGconn *conn)
{
	char err[1024];
	int r;

	s->route = catalog_route_new(conn, s->targets, s->ntargets, s->rs->tables,
								 &s->all_of_schemas, &s->nall_of_schemas, err,
								 sizeof(err));
	if (s->route == NULL) {
		wp_log(LOG_ERROR, "%s", err);
		return SESSION_FATAL;
	}
	if (route_root(s->route, 0) == NULL) {
		route_free(s->route);
		s->route = NULL;
		return SESSION_OK;
	}
	/* What session_check_partitions compares with; a partition made in
	 * another schema meanwhile: read the catalog again. */
	r = catalog_partition_watch(conn, s->route, s->all_of_schemas,
								s->nall_of_schemas, &s->part_sig, err,
								sizeof(err));
	if (r != 0)
		wp_log(r < 0 ? LOG_WARNING : LOG_NOTICE, "%s", err);
	return r == 0 ? SESSION_OK : r < 0 ? SESSION_RETRY : SESSION_REPLAN;
}

/* Compile every mapping against the source catalog; note catalog_lsn. */
static enum session_end
session_plan(struct session *s)
{
	PGconn *conn = pgconn_connect(s->rs->source_conninfo, "walpipe", false);
	enum session_end e = SESSION_OK;
	PGresult *r;
	char err[1024];

	if (PQstatus(conn) != CONNECTION_OK) {
		wp_log(LOG_ERROR, "could not connect to the source server: %s",
			   PQerrorMessage(conn));
		PQfinish(conn);
		return SESSION_RETRY;
	}
	/*
	 * First the WAL position, then the catalog: a change written below
	 * this position is older than the catalog read next (read committed:
	 * each catalog query sees everything committed before it ran).  On a
	 * standby, what it has replayed.
	 */
	r = PQexec(conn, "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() "
					 "THEN pg_catalog.pg_last_wal_replay_lsn() "
					 "ELSE pg_catalog.pg_current_wal_lsn() END");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQgetisnull(r, 0, 0) ||
		!lsn_parse(PQgetvalue(r, 0, 0), &s->catalog_lsn, NULL, 0)) {
		wp_log(LOG_ERROR,
			   "could not read the WAL position of the source server: %s",
			   PQresultStatus(r) == PGRES_TUPLES_OK ? "no position"
													: PQerrorMessage(conn));
		PQclear(r);
		PQfinish(conn);
		return SESSION_RETRY;
	}
	PQclear(r);
	s->targets = catalog_plan_targets(conn, sink_pg_conn(s->sink),
									  s->rs->rules, s->rs->nrules,
									  s->rs->source_name, &s->ntargets, err,
									  sizeof(err));
	if (s->targets == NULL) {
		wp_log(LOG_ERROR, "%s", err);
		PQfinish(conn);
		return SESSION_FATAL;
	}
	e = session_plan_routes(s, conn);
	if (e == SESSION_OK) {
		size_t nt, nr;
		char **mt = mapped_tables(s->rs, &nt);
		char **roots = catalog_route_roots(s->route, &nr);
		char *un = catalog_unlisted_partitions(conn, mt, nt, roots, nr);
		const struct map_rule **rules =
			wp_calloc(s->rs->nrules + 1, sizeof(*rules));

		if (un)
			wp_log(LOG_WARNING,
				   "partitions %s belong to the partitioned tables of mapped "
				   "partitions but are not mapped: none of their changes "
				   "reaches walpipe\nMap them too (and list them in "
				   "source.tables), or their rows are missing from the "
				   "targets.",
				   un);
		free(un);
		for (size_t i = 0; i < s->rs->nrules; i++)
			rules[i] = &s->rs->rules[i];
		free(s->special);
		s->special = catalog_special_columns(conn, rules, s->rs->nrules);
		free(rules);
		tables_free(mt, nt);
		tables_free(roots, nr);
	}
	if (s->route)
		s->plan_conn = conn; /* for the partitions met while streaming */
	else
		PQfinish(conn);
	return e;
}

/*
 * Kafka alone has no mappings, but source.tables may list partitioned
 * tables: their partitions' changes are theirs (session_plan_routes).
 */
static enum session_end
session_plan_kafka(struct session *s)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {s->rs->source_conninfo, "walpipe", NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	enum session_end e;

	if (PQstatus(conn) != CONNECTION_OK) {
		wp_log(LOG_ERROR, "could not connect to the source server: %s",
			   PQerrorMessage(conn));
		PQfinish(conn);
		return SESSION_RETRY;
	}
	e = session_plan_routes(s, conn);
	if (s->route)
		s->plan_conn = conn;
	else
		PQfinish(conn);
	return e;
}

/* The source tables the mappings read, each once, in ident_qualified's
 * text (public.users, public."User"): walpipe.snapshot_tables keeps them
 * so, and sink_pg reads them back with parse_ident. */
static char **
mapped_tables(const struct run_settings *rs, size_t *n)
{
	char **t = wp_calloc(rs->nrules ? rs->nrules : 1, sizeof(char *));

	*n = 0;
	for (size_t i = 0; i < rs->nrules; i++) {
		char *q = ident_qualified(rs->rules[i].from_schema,
								  rs->rules[i].from_table);
		bool dup = false;

		for (size_t j = 0; j < *n; j++)
			dup |= strcmp(t[j], q) == 0;
		if (dup)
			free(q);
		else
			t[(*n)++] = q;
	}
	return t;
}

static void
tables_free(char **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i]);
	free(t);
}

/* Whether the slot exists: 1 yes, 0 no, -1 could not tell (logged). */
static int
slot_exists(const struct run_settings *rs)
{
	const char *params[1] = {rs->slot};
	PGconn *conn = pgconn_connect(rs->source_conninfo, "walpipe", false);
	PGresult *r = NULL;
	int found = -1;

	if (PQstatus(conn) == CONNECTION_OK)
		r = PQexecParams(conn,
						 "SELECT count(*) FROM pg_catalog.pg_replication_slots "
						 "WHERE slot_name = $1",
						 1, NULL, params, NULL, NULL, 0);
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
		found = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
	else
		wp_log(LOG_WARNING, "could not look up replication slot \"%s\": %s",
			   rs->slot, PQerrorMessage(conn));
	PQclear(r);
	PQfinish(conn);
	return found;
}

/*
 * The initial snapshot, before streaming.  On a source's first start (no
 * checkpoint) every mapped table is registered; any table not done yet
 * is copied now:
 *  - first start, no slot: create the slot with an exported snapshot and
 *    write the checkpoint at its consistent point C before copying, so
 *    the stream starts exactly after the snapshot;
 *  - otherwise (a restart after a crash mid-snapshot, or a slot made by
 *    someone else): the slot's own snapshot is gone.  Tables not done are
 *    read in the exported snapshot of a temporary slot at P >= C, and the
 *    sink then skips their changes from transactions ending at or before
 *    P (the copy holds those), while every other table streams from C.
 */
static enum session_end
session_snapshot(struct session *s, volatile sig_atomic_t *stop,
				 bool *stopped)
{
	const struct run_settings *rs = s->rs;
	struct snapshot_job job;
	struct repl_export *ex;
	enum repl_result rr;
	enum sink_result sr = SINK_OK;
	enum snapshot_result res;
	char **todo = NULL, **all;
	size_t ntodo = 0, nall;
	char err[2048], name[64], l1[LSN_STRLEN];
	const char *kind = "initial";
	int exists;

	all = mapped_tables(rs, &nall);
	if (!s->ckpt.exists)
		sr = sink_pg_snapshot_register(s->sink, all, nall, "initial", err,
									   sizeof(err));
	tables_free(all, nall);
	if (sr == SINK_OK)
		sr = sink_pg_snapshot_todo(s->sink, &todo, &ntodo, err, sizeof(err));
	if (sr != SINK_OK) {
		wp_log(LOG_ERROR, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	if (ntodo == 0) {
		free(todo);
		return SESSION_OK;
	}
	exists = slot_exists(rs);
	if (exists < 0) {
		tables_free(todo, ntodo);
		return SESSION_RETRY;
	}
	if (!s->ckpt.exists && !exists) {
		if (!rs->create_slot) {
			tables_free(todo, ntodo);
			return SESSION_OK; /* repl_open says the slot is missing */
		}
		ex = repl_export_open(rs->source_conninfo, rs->slot, false, &rr, err,
							  sizeof(err));
	} else {
		kind = s->ckpt.exists ? "resume" : "initial";
		snprintf(name, sizeof(name), "walpipe_snapshot_%ld",
				 (long) getpid());
		ex = repl_export_open(rs->source_conninfo, name, true, &rr, err,
							  sizeof(err));
	}
	if (ex == NULL) {
		wp_log(rr == REPL_RETRY ? LOG_WARNING : LOG_ERROR, "%s", err);
		tables_free(todo, ntodo);
		return rr == REPL_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	if (!s->ckpt.exists && !exists) {
		wp_log(LOG_NOTICE,
			   "created replication slot \"%s\" at %s with an exported "
			   "snapshot",
			   rs->slot, lsn_format(repl_export_lsn(ex), l1));
		s->ckpt.lsn = repl_export_lsn(ex);
		if (sink_pg_write_checkpoint(s->sink, &s->ckpt, err, sizeof(err)) !=
			SINK_OK) {
			wp_log(LOG_ERROR, "%s", err);
			repl_export_close(ex);
			tables_free(todo, ntodo);
			return SESSION_RETRY;
		}
		s->ckpt.exists = true;
	}
	wp_log(LOG_NOTICE,
		   "copying %zu table(s) before streaming; replication slot \"%s\" "
		   "holds the source's WAL%s%s until then",
		   ntodo, rs->slot, s->ckpt.exists ? " from " : "",
		   s->ckpt.exists ? lsn_format(s->ckpt.lsn, l1) : "");
	memset(&job, 0, sizeof(job));
	job.rs = rs;
	job.kind = kind;
	job.tables = todo;
	job.ntables = ntodo;
	job.workers = rs->snapshot_workers;
	job.op = rs->snapshot_op ? rs->snapshot_op : 'r';
	job.export = ex;
	job.stop = stop;
	job.metrics = s->metrics;
	/* Ready, not starting: a copy may outlast any start timeout. */
	notify_ready("copying the initial snapshot");
	metrics_set_up(s->metrics, true); /* copying is applying */
	res = snapshot_run(&job);
	tables_free(todo, ntodo);
	switch (res) {
	case SNAPSHOT_OK: return SESSION_OK;
	case SNAPSHOT_STOPPED: *stopped = true; return SESSION_OK;
	case SNAPSHOT_RETRY: return SESSION_RETRY;
	default: return SESSION_FATAL;
	}
}


/* The analytics sink: schema, checkpoint, compiled mappings. */
static enum session_end
session_open_analytics(struct session *s)
{
	const struct run_settings *rs = s->rs;
	struct sink_pg_config sc;
	enum sink_result sr;
	enum session_end e;
	char err[2048];

	run_sink_config(rs, &sc);
	s->sink = sink_pg_open(&sc, &sr, err, sizeof(err));
	if (s->sink == NULL) {
		wp_log(LOG_ERROR, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	/* Partitions ahead of time; without them rows land in the default
	 * partition, so a failure here (a concurrent DBA, rows in the default
	 * partition for the new range) must not stop the apply. */
	if (sink_pg_maintain(s->sink, err, sizeof(err)) != SINK_OK)
		wp_log(LOG_WARNING, "%s", err);
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
	return SESSION_OK;
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
	char err[2048];
	char l1[LSN_STRLEN], l2[LSN_STRLEN];
	int64_t last_progress = clock_mono_ms(), last_maint = clock_mono_ms();
	uint64_t last_received = 0;

	/* Kafka alone has no analytics database: the slot is its checkpoint. */
	if (rs->target_conninfo) {
		e = session_open_analytics(s);
		if (e != SESSION_OK)
			return e;
	} else if ((e = session_plan_kafka(s)) != SESSION_OK)
		return e;
	if (s->sink && rs->snapshot_initial) {
		bool stopped = false;

		e = session_snapshot(s, stop, &stopped);
		if (e != SESSION_OK || stopped)
			return e;
	}

	if (rs->position_file) {
		/* Kafka alone: the recorded position stands for the checkpoint,
		 * so a slot moved by someone else is refused below. */
		struct posfile_record r;
		int got = posfile_read(rs->position_file, &r, err, sizeof(err));

		if (got < 0) {
			wp_log(LOG_ERROR, "%s", err);
			return SESSION_FATAL;
		}
		if (got > 0 && strcmp(r.slot, rs->slot) != 0) {
			wp_log(LOG_ERROR,
				   "position file \"%s\" records slot \"%s\", but the "
				   "configuration names slot \"%s\"\nIf the slot was "
				   "renamed on purpose, remove the file: walpipe then starts "
				   "where the new slot is.",
				   rs->position_file, r.slot, rs->slot);
			return SESSION_FATAL;
		}
		if (got > 0) {
			s->ckpt.exists = true;
			s->ckpt.lsn = r.lsn;
			snprintf(s->ckpt.system_id, sizeof(s->ckpt.system_id), "%s",
					 r.system_id);
			s->ckpt.timeline = r.timeline;
			s->recorded = r.lsn;
		}
	}
	memset(&rc, 0, sizeof(rc));
	rc.conninfo = rs->source_conninfo;
	rc.slot = rs->slot;
	rc.create_slot = rs->create_slot;
	/*
	 * With Kafka the slot is confirmed at the lesser of the checkpoint and
	 * what Kafka has: start at the slot (the server's default) so that
	 * Kafka gets again everything it may not have; the analytics sink
	 * skips what its checkpoint covers.
	 */
	rc.start = s->ckpt.exists && !rs->kafka ? s->ckpt.lsn : LSN_INVALID;
	rc.tables = rs->tables;
	rc.all_of_schemas = s->all_of_schemas;
	rc.nall_of_schemas = s->nall_of_schemas;
	rc.include_types = false; /* types come from the source catalog */
	rc.numbers_as_strings = true;
	rc.status_interval_ms = rs->status_interval_ms;
	if (s->ckpt.exists) {
		rc.system_id = s->ckpt.system_id;
		rc.timeline = s->ckpt.timeline;
		rc.applied = s->ckpt.lsn;
	}
	s->stream = repl_open(&rc, &info, &rr, err, sizeof(err));
	if (s->stream)
		repl_set_notice_hook(s->stream, session_notice_hook, s);
	if (s->stream == NULL) {
		wp_log(rr == REPL_RETRY ? LOG_WARNING : LOG_ERROR, "%s", err);
		return rr == REPL_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	/* repl_open checked them against the checkpoint's: from now on every
	 * checkpoint names the cluster and timeline its position is in. */
	snprintf(s->ckpt.system_id, sizeof(s->ckpt.system_id), "%s",
			 info.system_id);
	s->ckpt.timeline = info.timeline;
	w2j_decoder_numbers_as_strings(s->dec, info.numbers_as_strings,
								   rc.include_types);
	if (!info.numbers_as_strings && s->special)
		wp_log(LOG_WARNING,
			   "the source's wal2json has no numeric-data-types-as-string "
			   "(it came with wal2json 2.6): NaN, Infinity and -Infinity in "
			   "columns %s arrive as NULL%s\nUpgrade wal2json on the source "
			   "to carry them exactly; the initial snapshot copies them "
			   "exactly.",
			   s->special, rs->staging_schema ? " (null in staging)" : "");
	else if (!info.numbers_as_strings && s->sink == NULL)
		wp_log(LOG_WARNING,
			   "the source's wal2json has no numeric-data-types-as-string "
			   "(it came with wal2json 2.6): NaN, Infinity and -Infinity of "
			   "real, double precision and numeric columns reach Kafka as "
			   "null\nUpgrade wal2json on the source to carry them exactly.");
	else if (info.numbers_as_strings)
		wp_log(LOG_INFO, "the source's wal2json sends numeric values as "
						 "strings: NaN and the infinities arrive exactly");
	if (info.slot_created)
		wp_log(LOG_NOTICE, "created replication slot \"%s\" at %s", rs->slot,
			   lsn_format(info.confirmed_flush, l1));
	if (s->ckpt.exists && info.confirmed_flush > s->ckpt.lsn) {
		if (!rs->allow_slot_ahead && rs->position_file) {
			wp_log(LOG_ERROR,
				   "replication slot \"%s\" is at %s, ahead of the position "
				   "%s walpipe recorded in \"%s\": the changes between were "
				   "never produced to Kafka (was the slot recreated, as after "
				   "a failover, or advanced?)\nProduce them from another "
				   "source of truth, then start once with "
				   "--allow-slot-ahead to accept the gap.",
				   rs->slot, lsn_format(info.confirmed_flush, l1),
				   lsn_format(s->ckpt.lsn, l2), rs->position_file);
			return SESSION_FATAL;
		}
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
		if (rs->position_file && !session_record(s, s->ckpt.lsn))
			return SESSION_RETRY;
	}
	if (!s->ckpt.exists) {
		/* First start: begin where the slot is, and say so durably. */
		s->ckpt.lsn = info.confirmed_flush;
		if (s->sink && sink_pg_write_checkpoint(s->sink, &s->ckpt, err,
												sizeof(err)) != SINK_OK) {
			wp_log(LOG_ERROR, "%s", err);
			return SESSION_RETRY;
		}
		if (rs->position_file && !session_record(s, s->ckpt.lsn))
			return SESSION_RETRY;
		s->ckpt.exists = true;
	}
	streampos_start(&s->pos, &(struct stream_point){s->ckpt.lsn,
													  s->ckpt.txn_end,
													  s->ckpt.txn_applied});
	snprintf(s->last_commit_time, sizeof(s->last_commit_time), "%s",
			 s->ckpt.last_commit_time);
	if (rs->kafka) {
		/* Everything up to the slot's position is in Kafka already: it
		 * was only ever confirmed at what Kafka had delivered. */
		s->kafka = sink_kafka_open(rs->kafka, info.confirmed_flush, err,
								   sizeof(err));
		if (s->kafka == NULL) {
			wp_log(LOG_ERROR, "%s", err);
			return SESSION_FATAL;
		}
		wp_log(LOG_INFO, "producing to Kafka from %s (%s)",
			   lsn_format(info.confirmed_flush, l1), rs->kafka->brokers);
	}
	s->queued = s->ckpt;
	if (s->sink) {
		s->spare = batch_new(rs->max_bytes + (1 << 20));
		s->applier = applier_new(s->sink, s->targets, s->ntargets);
	}
	session_confirm(s);
	s->refresh_due = wp_calloc(rs->nrefresh ? rs->nrefresh : 1,
							   sizeof(*s->refresh_due));
	for (size_t i = 0; i < rs->nrefresh; i++)
		s->refresh_due[i] = clock_mono_ms() + rs->refresh[i].every_ms;
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
		int64_t now = clock_mono_ms();

		bool busy = session_applying(s);

		if (s->batch_started) {
			int64_t left = s->batch_started + rs->max_delay_ms - now;

			wait = left < 0 ? 0 : (int) left;
		}
		/* Applying: look at it often, to confirm its commit soon. */
		if (busy && wait > 5)
			wait = 5;
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
			batch_count(s->batch) > 0) {
			e = session_flush(s);
			if (e != SESSION_OK)
				return e;
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
		e = session_collect(s, 0);
		if (e != SESSION_OK)
			return e;
		e = session_poll_kafka(s, 0);
		if (e != SESSION_OK)
			return e;
		now = clock_mono_ms();
		if (!s->pos.in_txn && batch_due(s)) {
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
		if (!s->pos.in_txn && batch_count(s->batch) == 0 &&
			now - s->last_idle_ckpt >= rs->status_interval_ms &&
			streampos_idle(&s->pos, repl_keepalive_end(s->stream))) {
			if (s->kafka)
				sink_kafka_mark(s->kafka, s->pos.last_complete);
			e = session_flush(s);
			if (e != SESSION_OK)
				return e;
			s->last_idle_ckpt = now;
		}
		session_watchdog(s);
		session_notices(s, now, false);
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
					PQfinish(s->hb_conn);
					s->hb_conn = pgconn_connect(rs->source_conninfo,
												"walpipe heartbeat", false);
				}
				r = PQexec(s->hb_conn,
						   "SELECT pg_catalog.pg_logical_emit_message(false, "
						   "'walpipe_heartbeat', pg_catalog.now()::text)");
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
		/* Materialized views: between batches, never inside one; the
		 * refresh uses the analytics connection, so the applier must be
		 * done with its batch first. */
		for (size_t i = 0; i < rs->nrefresh && !s->pos.in_txn; i++) {
			if (now < s->refresh_due[i])
				continue;
			e = session_drain(s);
			if (e != SESSION_OK)
				return e;
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
				char v[IDENT_QUALIFIED_MAX];

				ident_qualified_to(v, sizeof(v), rs->refresh[i].view_schema,
								   rs->refresh[i].view_table);
				wp_log(LOG_WARNING, "%s: %s", v, err);
			}
			s->refresh_due[i] = clock_mono_ms() + rs->refresh[i].every_ms;
		}
		if (s->sink && now - last_maint >= 3600 * 1000) {
			e = session_drain(s);
			if (e != SESSION_OK)
				return e;
			if (sink_pg_maintain(s->sink, err, sizeof(err)) != SINK_OK)
				wp_log(LOG_WARNING, "%s", err);
			last_maint = now;
		}
	}
	/* Stop or reload: commit what is in hand (also a partial txn). */
	if (*stop)
		notify_stopping();
	e = session_flush(s);
	if (e == SESSION_OK)
		e = session_drain(s);
	if (e == SESSION_OK && s->kafka) {
		/* Give Kafka a moment to take what it has in hand, so that a
		 * clean stop confirms it and a restart does not send it again. */
		struct sink_kafka_stats ks;

		if (sink_kafka_drain(s->kafka, 10000, session_tick, s, err,
							 sizeof(err)) != KAFKA_OK)
			wp_log(LOG_WARNING, "%s", err);
		session_confirm(s);
		sink_kafka_stats(s->kafka, &ks);
		if (ks.pending > 0)
			wp_log(LOG_WARNING,
				   "stopping with %llu Kafka message(s) undelivered: they "
				   "are sent again on the next start",
				   (unsigned long long) ks.pending);
	}
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

	lsn_t replan_lsn = LSN_INVALID;
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
		s.batch_cap = batch_cap;
		e = session_run(&s, ctl->stop, ctl->reload);
		session_free(&s);
		replan_lsn = s.replan_lsn;
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
