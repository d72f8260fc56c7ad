/* run_backfill.c: online backfills: chunks read between transactions, applied where the stream stands. */
#include "run_int.h"

#include "walpipe/buf.h"
#include "walpipe/clock.h"
#include "walpipe/ident.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"
#include "walpipe/metrics.h"
#include "walpipe/pgconn.h"
#include "walpipe/snapshot.h"
#include "walpipe/xidsnap.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Why a chunk is exact (docs/snapshots.md has the whole argument): the
 * loop reads a chunk between two transactions of the stream, at position
 * p, in a REPEATABLE READ snapshot S of the source, and applies it there,
 * before any later change.  S holds every transaction the stream passed
 * before p, provided each of them is visible in S: that is checked, xid
 * by xid (bf->passed), because a commit can reach the stream a moment
 * before it becomes visible (synchronous replication makes the moment
 * long).  The transactions after p that S also holds come again through
 * the stream and are applied on top of the chunk: for an upsert mapping
 * applying a change twice in order ends where applying it once does (the
 * last change of a row sets it), so the result is exact.
 */

void
session_backfill_passed(struct session *s, uint32_t xid)
{
	if (s->bf.cur < s->bf.n)
		xidset_add(&s->bf.passed, xid);
}

/* ------------------------------------------------------------------ */
/* Preparing a backfill: its target, its key, its statements.          */

static void
backfill_keys_free(struct session_backfill *bf)
{
	for (size_t i = 0; i < bf->nkeys; i++) {
		free((char *) bf->keys[i].name);
		free((char *) bf->keys[i].type);
	}
	free(bf->keys);
	bf->keys = NULL;
	bf->nkeys = 0;
}

/* The session's target of backfill b, or NULL. */
static struct sink_target *
backfill_target(struct session *s, const struct sink_backfill *b)
{
	for (size_t i = 0; i < s->ntargets; i++) {
		char from[IDENT_QUALIFIED_MAX], to[IDENT_QUALIFIED_MAX];

		map_rule_tables(s->targets[i].rule, from, to, sizeof(from));
		if (strcmp(from, b->source_table) == 0 && strcmp(to, b->target) == 0)
			return &s->targets[i];
	}
	return NULL;
}

/*
 * The key the source table is walked by: its replica identity index's
 * key columns in index order (the primary key by default), each with
 * its type and whether analytics may order it alike (a collatable key
 * only under C or POSIX).  Fills bf->keys; false with why if none.
 */
static bool
backfill_read_keys(struct session *s, const char *table, char *why,
				   size_t whylen)
{
	struct session_backfill *bf = &s->bf;
	const char *p[1] = {table};
	PGresult *r = NULL;
	char err[1024];
	enum pgconn_outcome o = pgconn_exec_params(
		bf->conn,
		"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
		"a.attcollation <> 0 AND (co.collname IN ('C', 'POSIX') OR "
		"(co.collname = 'default' AND (SELECT datcollate FROM "
		"pg_catalog.pg_database WHERE datname = "
		"pg_catalog.current_database()) IN ('C', 'POSIX'))) "
		"FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = "
		"i.indrelid CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::int2[]) "
		"WITH ORDINALITY AS k(attnum, n) JOIN pg_catalog.pg_attribute a ON "
		"a.attrelid = i.indrelid AND a.attnum = k.attnum LEFT JOIN "
		"pg_catalog.pg_collation co ON co.oid = a.attcollation "
		"WHERE i.indrelid = pg_catalog.to_regclass($1) AND k.n <= "
		"i.indnkeyatts AND (i.indisreplident OR (c.relreplident = 'd' AND "
		"i.indisprimary)) ORDER BY k.n",
		1, p, "could not read the source table's key", &r, err, sizeof(err));

	if (o != PGCONN_OK) {
		snprintf(why, whylen, "%s", err);
		return false;
	}
	bf->nkeys = (size_t) PQntuples(r);
	bf->keys = wp_calloc(bf->nkeys ? bf->nkeys : 1, sizeof(*bf->keys));
	for (size_t i = 0; i < bf->nkeys; i++) {
		bf->keys[i].name = wp_strdup(PQgetvalue(r, (int) i, 0));
		bf->keys[i].type = wp_strdup(PQgetvalue(r, (int) i, 1));
		bf->keys[i].collate_c = PQgetvalue(r, (int) i, 2)[0] == 't';
	}
	PQclear(r);
	if (bf->nkeys == 0)
		snprintf(why, whylen,
				 "source table \"%s\" has no primary key or replica identity "
				 "index to copy it by in chunks",
				 table);
	return bf->nkeys > 0;
}

/* Record b refused (state refused) with why, and log it. */
static enum session_end
backfill_refuse(struct session *s, struct sink_backfill *b, const char *why)
{
	char err[2048];
	enum sink_result sr;

	wp_log(LOG_WARNING, "backfill of \"%s\" into \"%s\" refused: %s",
		   b->source_table, b->target, why);
	sr = sink_pg_backfill_start(s->sink, b, "refused", false, why, err,
								sizeof(err));
	if (sr != SINK_OK) {
		wp_log(LOG_WARNING, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	return SESSION_OK;
}

/*
 * Make backfill b the one in hand: its target, key, chunk statements,
 * estimate and sweep, recorded as copying.  *ready false: refused.
 */
static enum session_end
backfill_prepare(struct session *s, struct sink_backfill *b, bool *ready)
{
	struct session_backfill *bf = &s->bf;
	struct sink_target *t = backfill_target(s, b);
	char why[1024] = "", err[2048];
	enum sink_result sr;

	*ready = false;
	backfill_keys_free(bf);
	if (t == NULL)
		return backfill_refuse(s, b,
							   "no mapping of the configuration writes it "
							   "any more");
	if (t->rule->mode != MAP_MODE_UPSERT && t->rule->mode != MAP_MODE_APPEND)
		return backfill_refuse(s, b,
							   "only upsert and append mappings are "
							   "backfilled (a keyless table has no key to "
							   "merge a chunk with the stream by)");
	if (!backfill_read_keys(s, b->source_table, why, sizeof(why)))
		return backfill_refuse(s, b, why);
	bf->target = t;
	bf->sweeps = t->plan &&
				 map_sweep_possible(t->plan, t->rule, bf->keys, bf->nkeys, why,
									sizeof(why));
	if (!bf->sweeps && t->rule->mode == MAP_MODE_APPEND)
		why[0] = '\0'; /* an append mapping never removes rows */
	if (b->estimate < 0)
		b->estimate = snapshot_table_estimate(bf->conn, t);
	sr = sink_pg_backfill_start(s->sink, b, "copying", bf->sweeps, why, err,
								sizeof(err));
	if (sr != SINK_OK) {
		wp_log(LOG_WARNING, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	wp_log(LOG_INFO,
		   "backfill of \"%s\" into \"%s\" (%s) %s: about %" PRId64
		   " rows, in chunks of %zu%s%s",
		   b->source_table, b->target, b->reason,
		   b->nlast ? "resumes" : "starts", b->estimate,
		   s->rs->backfill_chunk,
		   bf->sweeps || !why[0] ? "" : "; rows that no longer match stay: ",
		   bf->sweeps ? "" : why);
	bf->rows_at_start = b->rows;
	bf->started_ms = clock_mono_ms();
	bf->logged_ms = bf->started_ms;
	*ready = true;
	return SESSION_OK;
}

/* The next backfill that can run, prepared; bf->cur == bf->n: none. */
static enum session_end
backfill_next(struct session *s)
{
	struct session_backfill *bf = &s->bf;

	for (; bf->cur < bf->n; bf->cur++) {
		bool ready;
		enum session_end e = backfill_prepare(s, &bf->list[bf->cur], &ready);

		if (e != SESSION_OK || ready)
			return e;
	}
	return SESSION_OK;
}

/*
 * Transactions whose commit the stream may already have passed, in an
 * earlier session, but that the source does not show yet: those waiting
 * for a synchronous standby.  The first chunk waits until it sees them.
 */
static void
backfill_track_waiting(struct session *s)
{
	PGresult *r = NULL;
	char err[1024];

	/* Another role's backend_xid shows only with pg_read_all_stats. */
	if (pgconn_exec(s->bf.conn,
					"SELECT pg_catalog.current_setting("
					"'synchronous_standby_names') <> '' AND NOT "
					"pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')",
					"could not read the source's settings", &r, err,
					sizeof(err)) == PGCONN_OK &&
		PQgetvalue(r, 0, 0)[0] == 't')
		wp_log(LOG_WARNING,
			   "the source has synchronous standbys and walpipe's role "
			   "cannot see other roles' transactions waiting for them: "
			   "GRANT pg_read_all_stats TO %s on the source, so that a "
			   "backfill chunk never overwrites a change walpipe applied "
			   "before it became visible (docs/snapshots.md)",
			   PQuser(s->bf.conn));
	PQclear(r);
	r = NULL;
	if (pgconn_exec(s->bf.conn,
					"SELECT backend_xid::text FROM pg_catalog.pg_stat_activity "
					"WHERE backend_xid IS NOT NULL AND wait_event = 'SyncRep'",
					"could not list transactions waiting for a standby", &r,
					err, sizeof(err)) != PGCONN_OK) {
		wp_log(LOG_WARNING, "%s", err);
		return;
	}
	for (int i = 0; i < PQntuples(r); i++)
		session_backfill_passed(s, (uint32_t) strtoul(PQgetvalue(r, i, 0),
													  NULL, 10));
	PQclear(r);
}

enum session_end
session_backfill_open(struct session *s)
{
	struct session_backfill *bf = &s->bf;
	char err[2048];
	enum sink_result sr;

	if (s->sink == NULL)
		return SESSION_OK;
	sr = sink_pg_backfills(s->sink, false, &bf->list, &bf->n, err, sizeof(err));
	if (sr != SINK_OK) {
		wp_log(LOG_WARNING, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	if (bf->n == 0)
		return SESSION_OK;
	bf->conn = pgconn_connect(s->rs->source_conninfo, "walpipe backfill",
							  false);
	if (PQstatus(bf->conn) != CONNECTION_OK) {
		pgconn_error(err, sizeof(err), "could not connect to the source for "
									   "a backfill",
					 bf->conn, NULL);
		wp_log(LOG_WARNING, "%s", err);
		return SESSION_RETRY;
	}
	backfill_track_waiting(s);
	return backfill_next(s);
}

/* ------------------------------------------------------------------ */
/* A chunk.                                                            */

/* Add one row of the chunk's cursor (json, then the key as text) to the
 * batch in hand, as a snapshot row. */
static bool
chunk_add_row(struct session *s, PGresult *r, int row, char *err,
			  size_t errlen)
{
	struct w2j_change c;
	const char *json = PQgetvalue(r, row, 0);
	size_t len = (size_t) PQgetlength(r, row, 0);

	if (!w2j_decode(s->dec, json, len, &c, err, errlen))
		return false;
	/* Outside the stream's transactions: its own position, 1-based. */
	if (!batch_add(s->batch, &c, json, len, s->queued.lsn,
				   (uint64_t) batch_count(s->batch) + 1, NULL, err, errlen))
		return false;
	batch_mark_snapshot(s->batch, s->rs->snapshot_op);
	return true;
}

/* Keep the key of row of r (columns 1..nkeys) as the chunk's last. */
static void
chunk_keep_last(struct session_backfill *bf, PGresult *r, int row)
{
	for (size_t k = 0; k < bf->nlast_new; k++)
		free(bf->last_new[k]);
	free(bf->last_new);
	bf->nlast_new = bf->nkeys;
	bf->last_new = wp_calloc(bf->nkeys, sizeof(char *));
	for (size_t k = 0; k < bf->nkeys; k++)
		bf->last_new[k] = wp_strdup(PQgetvalue(r, row, (int) k + 1));
}

/*
 * Read the next chunk into the (empty) batch in hand: in one REPEATABLE
 * READ transaction, the snapshot (*sn) and then the rows after the last
 * key by a cursor, FETCHed in pieces so that a chunk of wide rows stops
 * at batch.max_bytes.  *done: the table has no rows after these.
 */
static enum pgconn_outcome
chunk_read(struct session *s, struct xidsnap *sn, bool *done, char *err,
		   size_t errlen)
{
	struct session_backfill *bf = &s->bf;
	const struct sink_backfill *b = &bf->list[bf->cur];
	const struct sink_target *t = bf->target;
	enum pgconn_outcome o;
	PGresult *r = NULL;
	struct buf q = BUF_INIT;
	size_t want = s->rs->backfill_chunk;
	char lsn[LSN_STRLEN], *select;

	*done = false;
	o = pgconn_exec(bf->conn,
					"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
					"SELECT pg_catalog.pg_current_snapshot()::text",
					"could not read a backfill chunk", &r, err, errlen);
	if (o != PGCONN_OK)
		return o;
	if (!xidsnap_parse(PQgetvalue(r, 0, 0), sn)) {
		snprintf(err, errlen, "could not parse the snapshot \"%s\"",
				 PQgetvalue(r, 0, 0));
		PQclear(r);
		return PGCONN_FATAL;
	}
	PQclear(r);
	/* The rows are staged at the position they are applied at. */
	select = map_chunk_query(t->rule->from_schema, t->rule->from_table,
							 t->partitioned, t->srccols, t->nsrc, bf->keys,
							 bf->nkeys, b->nlast > 0, want,
							 lsn_format(s->queued.lsn, lsn));
	buf_append_str(&q, "DECLARE walpipe_chunk NO SCROLL CURSOR FOR ");
	buf_append_str(&q, select);
	free(select);
	o = pgconn_exec_params(bf->conn, q.data, b->nlast ? (int) b->nlast : 0,
						   (const char *const *) b->last_key,
						   "could not read a backfill chunk", NULL, err,
						   errlen);
	buf_free(&q);
	while (o == PGCONN_OK && batch_count(s->batch) < want) {
		size_t ask = want - batch_count(s->batch);
		char fetch[64];
		int n;

		if (ask > 1000)
			ask = 1000;
		snprintf(fetch, sizeof(fetch), "FETCH %zu FROM walpipe_chunk", ask);
		o = pgconn_exec(bf->conn, fetch, "could not read a backfill chunk", &r,
						err, errlen);
		if (o != PGCONN_OK)
			break;
		n = PQntuples(r);
		for (int i = 0; i < n && o == PGCONN_OK; i++)
			if (!chunk_add_row(s, r, i, err, errlen))
				o = PGCONN_FATAL;
		if (n > 0 && o == PGCONN_OK)
			chunk_keep_last(bf, r, n - 1);
		PQclear(r);
		if ((size_t) n < ask) {
			*done = true;
			break;
		}
		if (batch_bytes(s->batch) >= s->rs->max_bytes)
			break;
	}
	PQclear(PQexec(bf->conn, "ROLLBACK"));
	wp_log(LOG_DEBUG, "backfill chunk of %zu rows after %s, to %s%s",
		   batch_count(s->batch), b->nlast ? b->last_key[0] : "the start",
		   bf->nlast_new ? bf->last_new[0] : "-", *done ? " (the last)" : "");
	return o;
}

/* Log progress every 10 s, and the end. */
static void
backfill_report(struct session *s, bool end)
{
	struct session_backfill *bf = &s->bf;
	const struct sink_backfill *b = &bf->list[bf->cur];
	int64_t now = clock_mono_ms();
	double secs = (double) (now - bf->started_ms) / 1000.0;
	double rate = secs > 0 ? (double) (b->rows - bf->rows_at_start) / secs : 0;

	metrics_backfill(s->metrics, b->source_table, b->target, b->rows,
					 b->estimate, rate, end);
	if (end) {
		wp_log(LOG_INFO,
			   "backfill of \"%s\" into \"%s\" done: %" PRIu64
			   " rows in %" PRIu64 " chunks, %.1f s (%.0f rows/s), %" PRIu64
			   " rows that no longer matched removed",
			   b->source_table, b->target, b->rows, b->chunks, secs, rate,
			   b->removed);
		return;
	}
	if (now - bf->logged_ms < 10000)
		return;
	bf->logged_ms = now;
	if (b->estimate > 0 && rate > 0 && (int64_t) b->rows < b->estimate)
		wp_log(LOG_INFO,
			   "backfill of \"%s\": %" PRIu64 "/%" PRId64
			   " rows (%.0f%%), %.0f rows/s, about %.0f s left",
			   b->source_table, b->rows, b->estimate,
			   100.0 * (double) b->rows / (double) b->estimate, rate,
			   (double) (b->estimate - (int64_t) b->rows) / rate);
	else
		wp_log(LOG_INFO, "backfill of \"%s\": %" PRIu64 " rows, %.0f rows/s",
			   b->source_table, b->rows, rate);
}

/* The chunk in flight committed: it is the backfill's new position. */
static enum session_end
chunk_committed(struct session *s)
{
	struct session_backfill *bf = &s->bf;
	struct sink_backfill *b = &bf->list[bf->cur];

	sink_pg_set_chunk(s->sink, NULL);
	bf->inflight = false;
	b->chunks++;
	b->rows += bf->chunk.rows;
	b->removed += bf->chunk.removed;
	if (bf->chunk.nlast > 0) {
		for (size_t k = 0; k < b->nlast; k++)
			free(b->last_key[k]);
		free(b->last_key);
		b->last_key = bf->last_new;
		b->nlast = bf->nlast_new;
		bf->last_new = NULL;
		bf->nlast_new = 0;
	}
	free(bf->sweep);
	bf->sweep = NULL;
	backfill_report(s, bf->chunk.done);
	if (!bf->chunk.done)
		return SESSION_OK;
	bf->cur++;
	return backfill_next(s);
}

enum session_end
session_backfill_collected(struct session *s)
{
	if (!s->bf.inflight)
		return SESSION_OK;
	return chunk_committed(s);
}

/* A chunk the stream has passed transactions of that its snapshot does
 * not hold: read it again shortly, and say so if that lasts. */
static void
chunk_unseen(struct session *s, uint32_t xid, int64_t now)
{
	struct session_backfill *bf = &s->bf;

	batch_reset(s->batch);
	if (!bf->unseen_since)
		bf->unseen_since = now;
	if (now - bf->unseen_since >= 10000 && now - bf->unseen_told >= 30000) {
		wp_log(LOG_NOTICE,
			   "backfill of \"%s\" waits: source transaction %u has reached "
			   "the stream but is not yet visible to new snapshots (a "
			   "synchronous standby not answering?)",
			   bf->list[bf->cur].source_table, xid);
		bf->unseen_told = now;
	}
	bf->next_ms = now + 100;
}

/* Whether the backfill in hand's table goes to Kafka. */
static bool
backfill_to_kafka(const struct session *s)
{
	const struct map_rule *r = s->bf.target->rule;

	if (s->kafka == NULL)
		return false;
	for (size_t i = 0; i < s->rs->nrules; i++)
		if (&s->rs->rules[i] == r)
			return s->rs->rule_kafka == NULL || s->rs->rule_kafka[i];
	return true;
}

/*
 * With Kafka: the chunk's rows as Debezium's read events (op r, snapshot
 * "incremental" as its incremental snapshot's), delivered before the chunk
 * commits in analytics, so that a crash can only send them again (the
 * chunk is read again), never lose them.
 */
static enum session_end
chunk_produce(struct session *s)
{
	struct session_backfill *bf = &s->bf;
	const struct sink_backfill *b = &bf->list[bf->cur];
	struct w2j_column *pk = wp_calloc(bf->nkeys, sizeof(*pk));
	struct w2j_column *cols = NULL; /* every row's, grown to the widest */
	size_t ncols = 0;
	struct sink_kafka_stats ks;
	enum kafka_result kr = KAFKA_OK;
	char err[2048];
	size_t n = batch_count(s->batch);

	for (size_t k = 0; k < bf->nkeys; k++) {
		pk[k].name = bf->keys[k].name;
		pk[k].name_len = strlen(bf->keys[k].name);
	}
	sink_kafka_begin(s->kafka, s->queued.lsn);
	for (size_t i = 0; i < n && kr == KAFKA_OK; i++) {
		const struct batch_change *bc = batch_get(s->batch, i);
		struct w2j_change c;
		struct kafka_read rd;

		if (batch_view_columns(bc) + 1 > ncols) {
			ncols = batch_view_columns(bc) + 1;
			cols = wp_realloc(cols, ncols * sizeof(*cols));
		}
		/* The row as the batch holds it: no JSON to parse again. */
		batch_view(s->batch, bc, &c, cols);
		memset(&rd, 0, sizeof(rd));
		rd.schema = c.schema;
		rd.table = c.table;
		rd.columns = c.columns;
		rd.ncolumns = c.ncolumns;
		rd.pk = pk;
		rd.npk = bf->nkeys;
		rd.lsn = s->queued.lsn;
		rd.pos = b->rows + i + 1;
		/* Debezium marks its incremental snapshot's reads so, with no
		 * first or last: the online backfill is one. */
		rd.snapshot = "incremental";
		kr = sink_kafka_produce_read(s->kafka, &rd, session_tick, s, s->stop,
									 err, sizeof(err));
	}
	sink_kafka_commit(s->kafka);
	free(cols);
	free(pk);
	if (kr == KAFKA_OK)
		kr = sink_kafka_drain(s->kafka, 30000, session_tick, s, err,
							  sizeof(err));
	if (kr == KAFKA_OK) {
		sink_kafka_stats(s->kafka, &ks);
		if (ks.pending > 0) {
			snprintf(err, sizeof(err),
					 "Kafka has not delivered a backfill chunk's %llu read "
					 "events in 30 s",
					 (unsigned long long) ks.pending);
			kr = KAFKA_RETRY;
		}
	}
	if (kr == KAFKA_OK)
		return SESSION_OK;
	wp_log(kr == KAFKA_FATAL ? LOG_ERROR : LOG_WARNING, "%s", err);
	return kr == KAFKA_FATAL ? SESSION_FATAL : SESSION_RETRY;
}

/* Hand the chunk in the batch in hand to the applier, at the stream's
 * position (the checkpoint does not move), with its sweep and progress. */
static enum session_end
chunk_submit(struct session *s, bool done)
{
	struct session_backfill *bf = &s->bf;
	const struct sink_backfill *b = &bf->list[bf->cur];
	enum session_end e;

	if (bf->sweeps) {
		/* (last, new last]; the last chunk has no upper end. */
		bf->sweep = map_sweep_sql(
			bf->target->plan, bf->target->rule, s->rs->source_name, bf->keys,
			bf->nkeys, b->nlast ? (const char *const *) b->last_key : NULL,
			done || bf->nlast_new == 0 ? NULL
									   : (const char *const *) bf->last_new);
	}
	memset(&bf->chunk, 0, sizeof(bf->chunk));
	bf->chunk.source_table = b->source_table;
	bf->chunk.target = b->target;
	bf->chunk.sweep = bf->sweep;
	bf->chunk.last_key = bf->last_new;
	bf->chunk.nlast = bf->nlast_new;
	bf->chunk.rows = batch_count(s->batch);
	bf->chunk.done = done;
	e = session_drain(s);
	if (e == SESSION_OK && backfill_to_kafka(s))
		e = chunk_produce(s);
	if (e != SESSION_OK)
		return e;
	sink_pg_set_chunk(s->sink, &bf->chunk);
	bf->inflight = true;
	applier_submit(s->applier, s->batch, &s->queued);
	s->batch = s->spare;
	s->spare = NULL;
	return SESSION_OK;
}

/*
 * Loop stage: between transactions, when the throttle allows, commit
 * what is in hand, read the next chunk, check that its snapshot holds
 * every transaction the stream passed, and hand it to the applier.
 */
enum session_end
session_backfill_step(struct session *s, int64_t now)
{
	struct session_backfill *bf = &s->bf;
	struct xidsnap sn = {0};
	enum pgconn_outcome o;
	enum session_end e;
	uint32_t unseen;
	bool done;
	char err[2048];
	int64_t t0;

	if (bf->cur >= bf->n || bf->inflight || s->pos.in_txn ||
		s->applier == NULL || now < bf->next_ms)
		return SESSION_OK;
	if (batch_count(s->batch) > 0 && (e = session_flush(s)) != SESSION_OK)
		return e;
	t0 = clock_mono_ms();
	o = chunk_read(s, &sn, &done, err, sizeof(err));
	if (o != PGCONN_OK) {
		xidsnap_free(&sn);
		batch_reset(s->batch);
		wp_log(LOG_WARNING, "%s", err);
		return o == PGCONN_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	unseen = xidset_prune(&bf->passed, &sn);
	xidsnap_free(&sn);
	if (unseen) {
		chunk_unseen(s, unseen, now);
		return SESSION_OK;
	}
	bf->unseen_since = 0;
	if (s->rs->backfill_max_rate > 0)
		bf->next_ms = t0 + (int64_t) batch_count(s->batch) * 1000 /
							   s->rs->backfill_max_rate;
	return chunk_submit(s, done);
}

int
session_backfill_wait_ms(const struct session *s, int64_t now)
{
	const struct session_backfill *bf = &s->bf;

	if (bf->cur >= bf->n || bf->inflight)
		return -1;
	return bf->next_ms <= now ? 0 : (int) (bf->next_ms - now);
}

void
session_backfill_free(struct session *s)
{
	struct session_backfill *bf = &s->bf;

	if (bf->inflight && s->sink)
		sink_pg_set_chunk(s->sink, NULL);
	backfill_keys_free(bf);
	sink_backfill_free(bf->list, bf->n);
	for (size_t k = 0; k < bf->nlast_new; k++)
		free(bf->last_new[k]);
	free(bf->last_new);
	free(bf->sweep);
	xidset_free(&bf->passed);
	PQfinish(bf->conn);
	memset(bf, 0, sizeof(*bf));
}
