/* run_intake.c: one message of the stream: decode, route, shape and identity checks, skip or batch. */
#include "run_int.h"

#include "walpipe/changefmt.h"
#include "walpipe/clock.h"
#include "walpipe/ident.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"
#include "walpipe/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A keyless mapping's table whose replica identity is no longer FULL
 * (NOTHING, or DEFAULT without a primary key): wal2json drops its updates
 * and deletes with a warning and sends nothing else, so this warning is
 * the only trace of the change.  It arrives before the next change on the
 * wire; the loop stops there (session_stop_dropped).
 */
void
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
 * Before plan_conn's catalog is read about streamed changes, their
 * transactions must be visible there: the stream sends a transaction once
 * its commit is flushed, a moment (or, waiting for a synchronous standby,
 * much longer) before the source shows it.  Read too early, the catalog
 * lacks the table a transaction created or the partition it attached, and
 * its changes would be dropped as a table nobody follows.  Every
 * transaction begun so far counts, the current one included (one whose
 * changes wal2json filtered out may have made a partition the watch must
 * see).  Waits up to 10 s (the walsender's timeout is longer), then
 * starts the session again from the checkpoint.
 */
enum session_end
session_catalog_sees(struct session *s)
{
	char err[1024];
	int r;

	if (s->parts.unseen.n == 0)
		return SESSION_OK;
	r = catalog_wait_visible(s->parts.plan_conn, &s->parts.unseen, 10000,
							 err, sizeof(err));
	if (r <= 0) {
		wp_log(LOG_WARNING, "%s", err);
		return SESSION_RETRY;
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
enum session_end
session_check_partitions(struct session *s)
{
	char err[1024];
	char *sig = NULL;
	enum session_end e = SESSION_OK;
	const struct route_entry *root;
	int r;

	/* What is in hand must all be in the catalog looked at. */
	if ((e = session_catalog_sees(s)) != SESSION_OK)
		return e;
	r = catalog_partition_watch(s->parts.plan_conn, s->parts.route,
								s->parts.all_of_schemas,
								s->parts.nall_of_schemas, &sig, err,
								sizeof(err));
	if (r < 0) {
		wp_log(LOG_WARNING, "%s", err);
		return SESSION_RETRY;
	}
	if (r > 0) {
		wp_log(LOG_NOTICE, "%s", err);
		e = SESSION_REPLAN;
	}
	for (size_t i = 0; e == SESSION_OK && s->parts.part_sig &&
					   strcmp(sig, s->parts.part_sig) != 0 &&
					   (root = route_root(s->parts.route, i)) != NULL;
		 i++) {
		struct catalog_part *p;
		size_t np;

		if (!catalog_partitions(s->parts.plan_conn, root->schema,
								root->table, &p, &np, err, sizeof(err))) {
			wp_log(LOG_WARNING, "%s", err);
			free(sig);
			return SESSION_RETRY;
		}
		for (size_t k = 0; k < np && e == SESSION_OK; k++) {
			struct route_entry *t = route_find(s->parts.route, p[k].schema,
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
	free(s->parts.part_sig);
	s->parts.part_sig = sig;
	if (e == SESSION_OK)
		return e;
	e = session_drain(s);
	return e == SESSION_OK ? SESSION_REPLAN : e;
}


static enum session_end session_check_shape(struct session *s,
											const struct w2j_change *c);
static enum session_end session_route(struct session *s, struct w2j_change *c,
									  bool *drop);
static enum session_end session_truncated_alone(struct session *s);
static enum session_end session_check_identity(struct session *s,
											   const struct w2j_change *c);

/*
 * Note a transaction for session_catalog_sees.  Each batch's catalog
 * checks empty the set; between them (transactions of tables nobody
 * follows, which wal2json sends empty), it is pruned every 4096 without
 * waiting, so it stays small.
 */
static void
session_catalog_note(struct session *s, uint32_t xid)
{
	struct xidsnap sn;
	char err[256];

	xidset_add(&s->parts.unseen, xid);
	if (s->parts.unseen.n < 4096 ||
		!catalog_snapshot(s->parts.plan_conn, &sn, err, sizeof(err)))
		return; /* a failure is the next check's */
	xidset_prune(&s->parts.unseen, &sn);
	xidsnap_free(&sn);
}

/* B: a transaction begins.  Whole transactions the checkpoint covers
 * are skipped; of a transaction applied in pieces, the pieces already in. */
static void
session_begin_txn(struct session *s, const struct w2j_change *c)
{
	streampos_begin(&s->pos, c->nextlsn,
					&(struct stream_point){s->queued.lsn, s->queued.txn_end,
										   s->queued.txn_applied});
	snprintf(s->txn_time, sizeof(s->txn_time), "%s",
			 c->timestamp ? c->timestamp : "");
	session_backfill_passed(s, c->xid);
	if (s->parts.plan_conn)
		session_catalog_note(s, c->xid);
	if (s->kafka) {
		double t = metrics_parse_time(c->timestamp);

		s->txn_commit_ms = t < 0 ? -1 : (int64_t) (t * 1000.0 + 0.5);
		sink_kafka_begin(s->kafka, c->nextlsn);
	}
}

/* C: the transaction commits; a full or due batch goes now. */
static enum session_end
session_commit_txn(struct session *s)
{
	if (s->kafka)
		sink_kafka_commit(s->kafka);
	if (streampos_commit(&s->pos)) {
		snprintf(s->last_commit_time, sizeof(s->last_commit_time), "%s",
				 s->txn_time);
		if (!s->batch_started)
			s->batch_started = clock_mono_ms();
	}
	if (session_batch_full(s) || session_batch_due(s))
		return session_flush(s);
	return SESSION_OK;
}

/*
 * A message outside a transaction: a non-transactional logical message
 * (or nothing walpipe knows).  It has no transaction end to checkpoint,
 * so walpipe does not record it.  Our own heartbeat coming back proves
 * the walsender is alive.
 */
static void
session_take_message(struct session *s, const struct w2j_change *c)
{
	if (c->action == W2J_MESSAGE && c->prefix &&
		strcmp(c->prefix, REPL_HEARTBEAT_PREFIX) == 0)
		s->hb.sent = 0;
	/* `walpipe snapshot --table` registered a backfill for this source:
	 * the next session takes it. */
	if (c->action == W2J_MESSAGE && c->prefix && c->content &&
		strcmp(c->prefix, REPL_BACKFILL_PREFIX) == 0 &&
		c->content_len == strlen(s->rs->source_name) &&
		memcmp(c->content, s->rs->source_name, c->content_len) == 0 &&
		c->lsn > s->asked_lsn) {
		/* Read again after the new session started before it: once. */
		s->bf.requested = true;
		s->asked_lsn = c->lsn;
	}
	/*
	 * Its position is still useful: every transaction that committed
	 * before it has been received (decoding follows WAL order) and
	 * every later one's commit record begins where the message's record
	 * ends (its lsn) or later, so the checkpoint may move to its lsn,
	 * not past it (streampos_message).  This is what lets a heartbeat
	 * advance the slot of an idle database.
	 */
	if (c->action == W2J_MESSAGE && s->kafka)
		sink_kafka_mark(s->kafka, c->lsn);
	if (c->action == W2J_MESSAGE && streampos_message(&s->pos, c->lsn) &&
		!s->batch_started)
		s->batch_started = clock_mono_ms();
}

/*
 * A change new to the analytics sink (not covered by the checkpoint):
 * count it, check it against the plans of its table's mappings, and add
 * it to the batch in hand.
 */
static enum session_end
session_batch_change(struct session *s, const struct w2j_change *c,
					 const struct repl_data *d)
{
	char err[512];
	enum session_end e;

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
	if (session_batch_full(s) && c->action != W2J_TRUNCATE)
		return session_flush(s);
	return SESSION_OK;
}

/* I, U, D, T or a transactional M of the open transaction. */
static enum session_end
session_take_change(struct session *s, struct w2j_change *c,
					const struct repl_data *d)
{
	enum session_end e;
	bool drop = false, fresh;

	/* A partition's change becomes its partitioned table's, here once for
	 * every sink; a table nobody listed is dropped before it is counted,
	 * so positions inside a transaction do not depend on the schemas
	 * add-tables had to open for partitions. */
	if (s->parts.route && c->schema) {
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
	return session_batch_change(s, c, d);
}

/* One decoded message; returns SESSION_OK to go on. */
static enum session_end
session_handle(struct session *s, struct w2j_change *c,
			   const struct repl_data *d)
{
	enum session_end e;

	/* The truncate of partitions without their partitioned table ends
	 * at the first message that is not one of its T changes. */
	if (s->parts.ntrunc > 0 &&
		(c->action != W2J_TRUNCATE || c->lsn != s->parts.trunc_lsn) &&
		(e = session_truncated_alone(s)) != SESSION_OK)
		return e;
	switch (c->action) {
	case W2J_BEGIN:
		session_begin_txn(s, c);
		return SESSION_OK;
	case W2J_COMMIT:
		return session_commit_txn(s);
	default:
		break;
	}
	if (!s->pos.in_txn) {
		if (s->kafka && c->action == W2J_MESSAGE &&
			(e = session_produce(s, c, d)) != SESSION_OK)
			return e;
		session_take_message(s, c);
		return SESSION_OK;
	}
	return session_take_change(s, c, d);
}

/*
 * pgoutput: each record of the message in turn (a TRUNCATE of several
 * tables makes several), each with its wal2json-shaped JSON as the
 * payload staging and Kafka keep, so they cannot tell the decoders apart.
 */
static enum session_end
session_receive_pgoutput(struct session *s, const struct repl_data *d)
{
	char err[2048], l1[LSN_STRLEN];
	int n = pgo_decode(s->pgo, d->data_start, d->payload, d->len, err,
					   sizeof(err));

	if (n < 0) {
		wp_log(LOG_ERROR, "could not decode the change at %s: %s",
			   lsn_format(d->data_start, l1), err);
		return SESSION_FATAL;
	}
	for (int i = 0; i < n; i++) {
		struct w2j_change c;
		struct repl_data j = *d;
		enum session_end e;

		pgo_decoder_change(s->pgo, (size_t) i, &c);
		/* Only Kafka reads the JSON before the batch is applied;
		 * staging and dead letters write it from the batch's copy
		 * (batch_json), on the applier's thread. */
		if (s->kafka)
			j.payload = pgo_decoder_json(s->pgo, &c, &j.len);
		else {
			j.payload = NULL;
			j.len = 0;
		}
		if ((e = session_handle(s, &c, &j)) != SESSION_OK)
			return e;
	}
	return SESSION_OK;
}

enum session_end
session_receive(struct session *s, const struct repl_data *d)
{
	struct w2j_change c;
	char err[2048], l1[LSN_STRLEN];

	if (s->pgo)
		return session_receive_pgoutput(s, d);
	if (!w2j_decode(s->dec, d->payload, d->len, &c, err, sizeof(err))) {
		wp_log(LOG_ERROR, "could not decode the change at %s: %s",
			   lsn_format(d->data_start, l1), err);
		return SESSION_FATAL;
	}
	return session_handle(s, &c, d);
}

enum session_end
session_end_replan(struct session *s, const struct w2j_change *c)
{
	enum session_end e = session_flush(s);

	if (e == SESSION_OK)
		e = session_drain(s);
	s->replan_lsn = c->lsn;
	s->replan_xid = c->xid;
	return e == SESSION_OK ? SESSION_REPLAN : e;
}

/*
 * End the session before change c (not yet counted in txn_pos), after
 * committing everything before it, so that the next session compiles the
 * mappings against the source catalog as it is now.
 */
static enum session_end
session_replan(struct session *s, const struct w2j_change *c)
{
	streampos_uncount(&s->pos);
	return session_end_replan(s, c);
}

/*
 * wal2json dropped an update or delete of a keyless mapping's table
 * (session_notice_hook): commit every change before it and stop.  The
 * target would miss the change and go on matching later changes against
 * a row that should have changed; on restart the same change is dropped
 * again and walpipe stops again at the same place, so nothing after it
 * is applied until the mapping changes.
 */
enum session_end
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
 *    compiled with (below catalog_lsn, which was read before the catalog,
 *    and its transaction shows in the snapshot read with it),
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
		if (unknown == NULL && c->lsn < s->catalog_lsn &&
			xidsnap_sees(&s->catalog_snap,
						 xidsnap_widen(c->xid, s->catalog_snap.xmax)))
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


/*
 * A table the route cache does not know yet: ask the source catalog once
 * what it is.  A partition (at any level) of a followed partitioned table,
 * typically created while streaming, is followed from now on as that
 * table (its topmost followed ancestor, as publish_via_partition_root
 * takes); any other is kept if source.tables lists it, else dropped.  A
 * table the catalog no longer has was dropped before walpipe read its
 * changes: they are ignored, but counted and warned of.
 *
 * The catalog is read now (once the change's transaction shows there),
 * not as of the change: a partition detached since the change was
 * written is no longer found (session_route).
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
	int found;
	struct route_entry *r;

	if ((*e = session_catalog_sees(s)) != SESSION_OK)
		return NULL;
	found = catalog_partition_ancestors(s->parts.plan_conn, c->schema,
										c->table, &anc, &n, err, sizeof(err));
	if (found < 0) {
		wp_log(LOG_WARNING, "%s", err);
		*e = SESSION_RETRY;
		return NULL;
	}
	if (found == 0 && route_listed(s->parts.route, c->schema, c->table)) {
		/* Listed: its changes are wanted whatever it is now (renamed
		 * since, say), as without partitioned tables. */
		catalog_free_parts(anc, n);
		return route_add(s->parts.route, c->schema, c->table, ROUTE_KEEP, NULL,
						 NULL);
	}
	if (found == 0) {
		r = route_add(s->parts.route, c->schema, c->table, ROUTE_GONE, NULL,
					  NULL);
		s->parts.gone = wp_realloc(s->parts.gone, (s->parts.ngone + 1) *
													  sizeof(*s->parts.gone));
		s->parts.gone[s->parts.ngone++] = r;
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
		struct route_entry *a = route_find(s->parts.route, anc[i].schema,
										   anc[i].table);

		if (a && a->kind == ROUTE_ROOT)
			root = a;
	}
	if (root == NULL &&
		session_mirror_wants(s, n ? anc[n - 1].schema : c->schema,
							 n ? anc[n - 1].table : c->table)) {
		catalog_free_parts(anc, n);
		*e = session_mirror_new(s, c);
		return NULL;
	}
	catalog_free_parts(anc, n);
	if (root == NULL)
		return route_add(s->parts.route, c->schema, c->table,
						 route_listed(s->parts.route, c->schema, c->table)
							 ? ROUTE_KEEP
							 : ROUTE_DROP,
						 NULL, NULL);
	if (!catalog_check_partition(s->parts.plan_conn, c->schema, c->table,
								 root->schema, root->table, s->targets,
								 s->ntargets, err, sizeof(err))) {
		wp_log(LOG_ERROR, "%s", err);
		*e = SESSION_FATAL;
		return NULL;
	}
	r = route_add(s->parts.route, c->schema, c->table, ROUTE_MEMBER,
				  root->schema, root->table);
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

	if (s->parts.ntrunc > 0 && s->parts.trunc_lsn != c->lsn)
		s->parts.ntrunc = 0; /* session_handle resolved those */
	if (r->kind != ROUTE_MEMBER) {
		/* The root itself (or a plain table): its partitions held so
		 * far were truncated with it. */
		r->mark = c->lsn;
		for (size_t i = 0; i < s->parts.ntrunc;)
			if (strcmp(s->parts.trunc[i]->root_schema, c->schema) == 0 &&
				strcmp(s->parts.trunc[i]->root_table, c->table) == 0)
				s->parts.trunc[i] = s->parts.trunc[--s->parts.ntrunc];
			else
				i++;
		return;
	}
	root = route_find(s->parts.route, r->root_schema, r->root_table);
	if (root && root->mark == c->lsn)
		return; /* with its table */
	/* Held even when applied before: whether every partition went (the
	 * table's truncate, session_truncate_root) decides whether a change
	 * is counted, so it must be decided the same way on every pass. */
	s->parts.trunc = wp_realloc(s->parts.trunc, (s->parts.ntrunc + 1) *
													sizeof(*s->parts.trunc));
	s->parts.trunc[s->parts.ntrunc++] = r;
	s->parts.trunc_lsn = c->lsn;
	s->parts.trunc_xid = c->xid;
	s->parts.trunc_applied = s->pos.skip_txn ||
							 s->pos.txn_pos < s->pos.txn_skip;
}

/*
 * Whether the partitions held (s->parts.trunc) include every leaf
 * partition the source's partitioned table root has now: *all then.
 * pgoutput (without publish_via_partition_root, which would hide a
 * partition truncated alone) sends TRUNCATE of a partitioned table as
 * the truncate of its leaves only; a TRUNCATE naming every partition
 * empties the table as well.  A partition attached since is not held:
 * no.  One detached since was in the table then, and went with it.
 */
static enum session_end
session_truncate_covers(struct session *s, const struct route_entry *root,
						bool *all)
{
	struct catalog_part *p;
	size_t np;
	char err[1024];

	*all = false;
	if (!catalog_partitions(s->parts.plan_conn, root->root_schema,
							root->root_table, &p, &np, err, sizeof(err))) {
		wp_log(LOG_WARNING, "%s", err);
		return SESSION_RETRY;
	}
	*all = np > 0;
	for (size_t k = 0; k < np && *all; k++) {
		bool held = false;

		if (!p[k].leaf)
			continue;
		for (size_t i = 0; i < s->parts.ntrunc && !held; i++)
			held = strcmp(s->parts.trunc[i]->schema, p[k].schema) == 0 &&
				   strcmp(s->parts.trunc[i]->table, p[k].table) == 0;
		*all = held;
	}
	catalog_free_parts(p, np);
	return SESSION_OK;
}

/*
 * Every partition of r's partitioned table was truncated: the table's
 * own truncate, as wal2json sends it, through every sink (its T drops
 * the held partitions of the table, session_route_truncate).
 */
static enum session_end
session_truncate_root(struct session *s, const struct route_entry *r)
{
	struct w2j_change c;
	struct repl_data d;
	struct buf json = BUF_INIT;
	char root[IDENT_QUALIFIED_MAX], l1[LSN_STRLEN];
	enum session_end e;

	memset(&c, 0, sizeof(c));
	c.action = W2J_TRUNCATE;
	c.xid = s->parts.trunc_xid;
	c.lsn = s->parts.trunc_lsn;
	c.schema = r->root_schema;
	c.table = r->root_table;
	changefmt_json(&json, &c);
	d.data_start = d.wal_end = c.lsn;
	d.payload = json.data;
	d.len = json.len;
	ident_qualified_to(root, sizeof(root), r->root_schema, r->root_table);
	wp_log(LOG_INFO,
		   "every partition of source table \"%s\" was truncated at %s: "
		   "the table's truncate",
		   root, lsn_format(c.lsn, l1));
	e = session_take_change(s, &c, &d);
	buf_free(&json);
	return e;
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
	enum session_end e;
	bool all;

	for (size_t i = 0; i < s->parts.ntrunc; i++) {
		const struct route_entry *r = s->parts.trunc[i];
		char part[IDENT_QUALIFIED_MAX], root[IDENT_QUALIFIED_MAX];
		char to[IDENT_QUALIFIED_MAX];

		if ((e = session_truncate_covers(s, r, &all)) != SESSION_OK)
			return e;
		if (all) {
			if ((e = session_truncate_root(s, r)) != SESSION_OK)
				return e;
			/* Its T took the table's partitions out of the list (when
			 * it was routed to it); the rest are other tables'. */
			for (size_t k = 0; k < s->parts.ntrunc;)
				if (strcmp(s->parts.trunc[k]->root_schema, r->root_schema) ==
						0 &&
					strcmp(s->parts.trunc[k]->root_table, r->root_table) == 0)
					s->parts.trunc[k] = s->parts.trunc[--s->parts.ntrunc];
				else
					k++;
			i = (size_t) -1;
			continue;
		}
		if (s->parts.trunc_applied)
			continue; /* passed before */
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
				   part, root, lsn_format(s->parts.trunc_lsn, l1), to, root, l1,
				   root);
			return SESSION_FATAL;
		}
		wp_log(LOG_NOTICE,
			   "partition \"%s\" of source table \"%s\" was truncated at "
			   "%s without the partitioned table: passed over, as no "
			   "mapping of the table applies truncates",
			   part, root, lsn_format(s->parts.trunc_lsn, l1));
	}
	s->parts.ntrunc = 0;
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
	struct route_entry *r = route_find(s->parts.route, c->schema, c->table);
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
