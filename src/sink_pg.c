/* sink_pg.c: the sink handle and the batch transaction, in key order. */
#include "walpipe/sink_pg.h"

#include "sink_pg_int.h"
#include "walpipe/buf.h"
#include "walpipe/mem.h"
#include "walpipe/pgconn.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum step
sink_step_of(struct sink_pg *s, enum pgconn_outcome o)
{
	switch (o) {
	case PGCONN_OK:
		return STEP_OK;
	case PGCONN_DATA:
		return STEP_DATA;
	case PGCONN_TIMEOUT:
		/* A statement timeout, or a lock not granted in time: the batch
		 * was too big for statement_timeout (sink_pg_timed_out). */
		s->timed_out = true;
		return STEP_RETRY;
	case PGCONN_RETRY:
		return STEP_RETRY;
	case PGCONN_FATAL:
		break;
	}
	return STEP_FATAL;
}

enum step
sink_classify(struct sink_pg *s, const PGresult *r)
{
	return sink_step_of(s, pgconn_classify(s->conn, r));
}

enum sink_result
sink_result_of(enum step st)
{
	if (st == STEP_OK)
		return SINK_OK;
	if (st == STEP_BUSY)
		return SINK_BUSY;
	return st == STEP_RETRY ? SINK_RETRY : SINK_FATAL;
}

enum step
sink_exec(struct sink_pg *s, const char *sql, char *errbuf, size_t errlen)
{
	enum pgconn_outcome o = pgconn_exec(
		s->conn, sql, "analytics statement failed", NULL, errbuf, errlen);

	if (s->stats)
		s->stats->statements++;
	return sink_step_of(s, o);
}

enum step
sink_exec_params(struct sink_pg *s, const char *what, int n,
				 const char *const *params, PGresult **out, char *errbuf,
				 size_t errlen)
{
	PGresult *r;
	enum pgconn_outcome o = pgconn_exec_params(s->conn, s->q.data, n, params,
											   what, &r, errbuf, errlen);
	enum step st;

	if (o == PGCONN_OK && out) {
		*out = r;
		return STEP_OK;
	}
	/* 55P03 before the class: a lock not available here is the
	 * checkpoint row a backfill holds, not a timeout. */
	if (o == PGCONN_OK)
		st = STEP_OK;
	else if (strcmp(pgconn_sqlstate(r), "55P03") == 0)
		st = STEP_BUSY;
	else
		st = sink_step_of(s, o);
	PQclear(r);
	return st == STEP_DATA ? STEP_FATAL : st;
}

struct sink_pg *
sink_pg_open(const struct sink_pg_config *cfg, enum sink_result *res,
			 char *errbuf, size_t errlen)
{
	struct sink_pg *s = wp_calloc(1, sizeof(*s));
	enum step st;

	s->cfg = *cfg;
	s->conn = pgconn_connect(cfg->conninfo, "walpipe", false);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		pgconn_error(errbuf, errlen,
					 "could not connect to the analytics server", s->conn,
					 NULL);
		*res = SINK_RETRY;
		goto fail;
	}
	s->qschema = pgconn_quote_ident(cfg->schema);
	s->lsource = pgconn_quote_literal(s->conn, cfg->source);
	if (cfg->staging_table) {
		char *a = pgconn_quote_ident(cfg->staging_schema);
		char *b = pgconn_quote_ident(cfg->staging_table);

		buf_reset(&s->q, 0);
		buf_appendf(&s->q, "%s.%s", a, b);
		s->qstaging = wp_strdup(s->q.data);
		free(a);
		free(b);
	}
	/* Search path pg_catalog, public: every name walpipe's own SQL writes
	 * is qualified, but the operators' mapping SQL (sql:, where:) and
	 * the target types it casts to may name functions, operators and
	 * types of extensions that live in public (hstore, citext).  This is
	 * the analytics database, whose public schema only its owner can
	 * CREATE in since PostgreSQL 15; the source sessions, which run as
	 * the replication role, keep pg_catalog, pg_temp (pgconn.h).  No
	 * NOTICEs: libpq would print "already exists, skipping" raw into the
	 * (JSON) log. */
	st = sink_exec(s,
				   "SET search_path = pg_catalog, public; "
				   "SET client_min_messages = warning; "
				   "SET application_name = 'walpipe'",
				   errbuf, errlen);
	if (st == STEP_OK)
		st = sink_schema_install(s, errbuf, errlen);
	if (st != STEP_OK) {
		*res = sink_result_of(st);
		goto fail;
	}
	*res = SINK_OK;
	return s;

fail:
	sink_pg_close(s);
	return NULL;
}

PGconn *
sink_pg_conn(struct sink_pg *s)
{
	return s->conn;
}

/*
 * Order n targets parents first: edge[p * n + c] says target c references
 * target p.  The members of a cycle (a self-reference too) keep mapping
 * order among themselves, and so do targets the keys do not order: with
 * no keys at all the order is the mapping order.  reach (n * n) gets the
 * closure of edge: reach[a * n + b], b references a through any path.
 */
static void
fk_order(const bool *edge, size_t n, size_t *order, bool *reach)
{
	/* Warshall's closure: a session has a few dozen targets at most, and
	 * this runs once per session. */
	bool *placed = wp_calloc(n + 1, sizeof(bool));

	memcpy(reach, edge, n * n * sizeof(bool));
	for (size_t k = 0; k < n; k++)
		for (size_t a = 0; a < n; a++)
			for (size_t b = 0; a != k && reach[a * n + k] && b < n; b++)
				reach[a * n + b] |= reach[k * n + b];
	/* Each step places the first target in mapping order whose ancestors
	 * outside its own cycle are all placed.  There always is one: the
	 * cycles, each taken as one node, form an acyclic graph. */
	for (size_t k = 0; k < n; k++)
		for (size_t c = 0; c < n; c++) {
			bool ready = !placed[c];

			for (size_t p = 0; ready && p < n; p++)
				if (reach[p * n + c] && !reach[c * n + p] && !placed[p])
					ready = false;
			if (ready) {
				order[k] = c;
				placed[c] = true;
				break;
			}
		}
	free(placed);
}

/*
 * Read the foreign keys among the targets' tables from the analytics
 * catalog (one query per session) and keep the targets' order, parents
 * first.  Keys checked only at commit (INITIALLY DEFERRED) do not order
 * anything; a table the catalog does not have yet has no keys.
 */
static enum step
read_fk_order(struct sink_pg *s, const struct sink_target *t, size_t n,
			  char *errbuf, size_t errlen)
{
	PGresult *r = NULL;
	bool *edge;
	enum step st;

	free(s->order);
	free(s->reach);
	s->order = NULL;
	s->reach = NULL;
	s->norder = 0;
	if (n == 0)
		return STEP_OK;
	buf_reset(&s->q, 65536);
	buf_append_str(&s->q, "WITH t(i, rel) AS (VALUES ");
	for (size_t i = 0; i < n; i++) {
		char *lit = pgconn_quote_literal(s->conn, t[i].plan->target);

		buf_appendf(&s->q, "%s(%zu, pg_catalog.to_regclass(%s))", i ? ", " : "",
					i, lit);
		free(lit);
	}
	buf_append_str(&s->q, ") SELECT p.i, c.i, f.condeferred FROM "
						  "pg_catalog.pg_constraint f JOIN t c ON c.rel = "
						  "f.conrelid JOIN t p ON p.rel = f.confrelid WHERE "
						  "f.contype = 'f'");
	st = sink_exec_params(s,
						  "could not read the foreign keys of the "
						  "target tables",
						  0, NULL, &r, errbuf, errlen);
	if (st != STEP_OK)
		return st;
	edge = wp_calloc(n * n, sizeof(bool));
	for (int i = 0; i < PQntuples(r); i++)
		if (strcmp(PQgetvalue(r, i, 2), "t") != 0)
			edge[strtoul(PQgetvalue(r, i, 0), NULL, 10) * n +
				 strtoul(PQgetvalue(r, i, 1), NULL, 10)] = true;
	PQclear(r);
	s->order = wp_calloc(n, sizeof(size_t));
	s->reach = wp_calloc(n * n, sizeof(bool));
	s->norder = n;
	fk_order(edge, n, s->order, s->reach);
	free(edge);
	return STEP_OK;
}

enum sink_result
sink_pg_prepare(struct sink_pg *s, struct sink_target *t, size_t n,
				char *errbuf, size_t errlen)
{
	enum step st = STEP_OK;

	/* All in one round trip and one transaction (a simple query's
	 * statements share one): a commit each cost a WAL flush per target,
	 * which a mirror of hundreds of tables paid at every session start. */
	buf_reset(&s->q, 65536);
	for (size_t i = 0; i < n; i++) {
		t[i].tmp_rows = t[i].tmp_bytes = 0;
		buf_appendf(&s->q, "%s;\n", t[i].plan->create_tmp);
	}
	if (n)
		st = sink_exec(s, s->q.data, errbuf, errlen);
	if (st == STEP_OK)
		st = read_fk_order(s, t, n, errbuf, errlen);
	if (st != STEP_OK)
		return st == STEP_RETRY ? SINK_RETRY : SINK_FATAL;
	return SINK_OK;
}

bool
sink_pg_target_references(const struct sink_pg *s, size_t a, size_t b)
{
	size_t n = s->norder;

	/* reach[p * n + c]: c references p. */
	return a < n && b < n && a != b && s->reach[b * n + a] &&
		   !s->reach[a * n + b];
}

/*
 * Open a batch's transaction in one round trip instead of three: BEGIN,
 * lock this source's checkpoint row without waiting (the comment above
 * checkpoint_lock says why), and, for a batch of changes (skips), read
 * the snapshot positions that matter to changes ending after lo: tables
 * copied into empty facts (initial or resumed snapshots).  Not
 * backfills: their copy lands on facts that may hold rows deleted since,
 * so every change after the checkpoint must still be applied, in order,
 * on top of the copy (see docs/snapshots.md).  The lock comes first: under it
 * the positions cannot change.  One simple query: each statement's result comes
 * back on its own, and the first failure stops the server from running the rest
 * (the caller then rolls back).  STEP_BUSY: the lock is held.
 */
static enum step
begin_batch(struct sink_pg *s, bool skips, lsn_t lo, char *errbuf,
			size_t errlen)
{
	/* One result per statement: BEGIN, SET, the lock, the skips. */
	static const char *const what[] = {
		"could not begin the batch", "could not begin the batch",
		"could not lock the checkpoint", "could not read snapshot positions"};
	char lsn[LSN_STRLEN];
	enum step st = STEP_OK;
	PGresult *r;
	int k = 0;

	checkpoint_skips_free(s);
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"BEGIN; SET LOCAL statement_timeout = %lld; SELECT 1 FROM "
				"%s.checkpoints WHERE source = %s FOR UPDATE NOWAIT",
				(long long) s->cfg.statement_timeout_ms, s->qschema,
				s->lsource);
	/* source_table is ident_qualified's text: parse_ident reads it back
	 * exactly, also when a name holds a dot. */
	if (skips)
		buf_appendf(&s->q,
					"; SELECT n[1], n[2], snapshot_lsn FROM (SELECT "
					"pg_catalog.parse_ident(source_table) AS n, snapshot_lsn "
					"FROM %s.snapshot_tables WHERE source = %s "
					"AND state = 'done' AND kind <> 'backfill' AND "
					"snapshot_lsn >= '%s') x",
					s->qschema, s->lsource, lsn_format(lo, lsn));
	if (!PQsendQuery(s->conn, s->q.data)) {
		pgconn_error(errbuf, errlen, what[0], s->conn, NULL);
		return STEP_RETRY;
	}
	while ((r = PQgetResult(s->conn)) != NULL) {
		ExecStatusType rs = PQresultStatus(r);

		if (st == STEP_OK && rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
			st = strcmp(pgconn_sqlstate(r), "55P03") == 0 ? STEP_BUSY
														  : sink_classify(s, r);
			if (st == STEP_DATA)
				st = STEP_FATAL;
			pgconn_error(errbuf, errlen, what[k < 4 ? k : 3], s->conn, r);
		} else if (st == STEP_OK && k == 3)
			checkpoint_skips_keep(s, r);
		PQclear(r);
		k++;
	}
	if (st == STEP_OK && k < (skips ? 4 : 3)) {
		pgconn_error(errbuf, errlen, what[0], s->conn, NULL);
		st = STEP_RETRY;
	}
	if (s->stats)
		s->stats->statements += (uint64_t) k;
	return st;
}

static enum step
apply_once(struct sink_pg *s, const struct batch *b, struct sink_target *t,
		   size_t n, const struct checkpoint *ckpt, char *errbuf, size_t errlen)
{
	enum step st;
	lsn_t lo = LSN_INVALID;

	for (size_t i = 0; b && i < batch_count(b); i++)
		if (lo == LSN_INVALID || batch_get(b, i)->txn_end < lo)
			lo = batch_get(b, i)->txn_end;
	/* A backfill's chunk is read now: no copy holds more of it. */
	st = begin_batch(s, b != NULL && s->chunk == NULL, lo, errbuf, errlen);
	if (st == STEP_OK && b)
		st = sink_stage_batch(s, b, errbuf, errlen);
	if (st == STEP_OK && b)
		st = sink_facts_apply(s, b, t, n, errbuf, errlen);
	if (st == STEP_OK && s->chunk)
		st = backfill_chunk_finish(s, errbuf, errlen);
	if (st == STEP_OK)
		st = checkpoint_write(s, ckpt, errbuf, errlen);
	if (st == STEP_OK)
		st = sink_exec(s, "COMMIT", errbuf, errlen);
	if (st == STEP_OK) {
		s->known = *ckpt;
		s->known.exists = true;
	}
	if (st != STEP_OK && PQstatus(s->conn) == CONNECTION_OK) {
		char ignore[256];

		if (PQtransactionStatus(s->conn) == PQTRANS_ACTIVE) {
			/* Leave a half-sent COPY before rolling back. */
			PQputCopyEnd(s->conn, "walpipe: aborting batch");
			PQclear(PQgetResult(s->conn));
		}
		sink_exec(s, "ROLLBACK", ignore, sizeof(ignore));
	}
	return st;
}

/*
 * One attempt at a batch in the mode s says (careful, in_order), counted
 * afresh in *local; a conflict of a plain insert turns that target's
 * plain inserts off and tries again.  Each conflict turns one target's
 * off: bounded.
 */
static enum step
apply_attempt(struct sink_pg *s, const struct batch *b, struct sink_target *t,
			  size_t n, const struct checkpoint *ckpt, struct sink_stats *local,
			  char *errbuf, size_t errlen)
{
	enum step st = STEP_CONFLICT;

	for (size_t k = 0; st == STEP_CONFLICT && k <= n + 1; k++) {
		memset(local, 0, sizeof(*local));
		s->row_state[0] = '\0';
		st = apply_once(s, b, t, n, ckpt, errbuf, errlen);
	}
	return st;
}

bool
sink_pg_timed_out(const struct sink_pg *s)
{
	return s->timed_out;
}

enum sink_result
sink_pg_apply(struct sink_pg *s, const struct batch *b, struct sink_target *t,
			  size_t n, const struct checkpoint *ckpt, void (*tick)(void *),
			  void *arg, struct sink_stats *stats, char *errbuf, size_t errlen)
{
	struct sink_stats local;
	enum step st;

	s->stats = &local;
	s->tick = tick;
	s->tick_arg = arg;
	/*
	 * Optimistic first: set-based, in foreign key order, no savepoints.
	 * A row error rolls the batch back.  If it may come from the order
	 * the rows went in (sink_facts_order_related), the batch is redone in
	 * stream order; if that fails too, or the error is a row's own, it is
	 * redone carefully, bisecting to the bad rows.  Careful mode set-based
	 * stops at a row whose error may come from order and goes in stream
	 * order too: only a row that fails there is a dead letter.
	 */
	s->careful = false;
	s->in_order = false;
	s->timed_out = false;
	st = apply_attempt(s, b, t, n, ckpt, &local, errbuf, errlen);
	if (st == STEP_DATA && sink_facts_order_related(s->row_state)) {
		s->in_order = true;
		st = apply_attempt(s, b, t, n, ckpt, &local, errbuf, errlen);
	}
	if (st == STEP_DATA) {
		s->careful = true;
		st = apply_attempt(s, b, t, n, ckpt, &local, errbuf, errlen);
		if (st == STEP_DATA && !s->in_order) {
			s->in_order = true;
			st = apply_attempt(s, b, t, n, ckpt, &local, errbuf, errlen);
		}
		if (st == STEP_DATA)
			st = STEP_FATAL;
	}
	s->careful = false;
	s->in_order = false;
	s->stats = NULL;
	s->tick = NULL;
	if (st != STEP_OK)
		return sink_result_of(st);
	if (stats) {
		stats->staged += local.staged;
		stats->applied += local.applied;
		stats->dead_letters += local.dead_letters;
		stats->statements += local.statements;
	}
	return SINK_OK;
}

enum sink_result
sink_pg_write_checkpoint(struct sink_pg *s, const struct checkpoint *ckpt,
						 char *errbuf, size_t errlen)
{
	return sink_result_of(apply_once(s, NULL, NULL, 0, ckpt, errbuf, errlen));
}

void
sink_pg_close(struct sink_pg *s)
{
	if (s == NULL)
		return;
	PQfinish(s->conn);
	checkpoint_skips_free(s);
	free(s->order);
	free(s->reach);
	free(s->stmts);
	free(s->run);
	free(s->qschema);
	free(s->lsource);
	free(s->qstaging);
	buf_free(&s->q);
	buf_free(&s->copy);
	buf_free(&s->json);
	free(s);
}
