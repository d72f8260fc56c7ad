/* sink_pg.c: the analytics PostgreSQL sink: schema, checkpoints, set-based apply. */
#include "walpipe/sink_pg.h"

#include "walpipe/buf.h"
#include "walpipe/ident.h"
#include "walpipe/mem.h"
#include "walpipe/pgconn.h"

#include <libpq-fe.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sql/NNN_*.sql, embedded by CMake (schema_sql.c): script i (0-based)
 * brings the schema to version i + 1; NULL-terminated. */
extern const char *const walpipe_schema_sql[];
extern const char *const walpipe_staging_sql;
#define SCHEMA_VERSION 3

/* COPY data goes out in pieces of about this size. */
#define COPY_CHUNK (256 * 1024)

struct sink_pg {
	PGconn *conn;
	struct sink_pg_config cfg;
	char *qschema;	/* quoted walpipe schema */
	char *lsource;	/* the source name as an SQL literal */
	char *qstaging; /* quoted staging schema.table, or NULL */
	struct buf q;	/* statement text scratch */
	struct buf copy; /* COPY data scratch */
	bool careful;	/* savepoints and bisection: a data error was seen */
	/* Apply in stream order: the batch in runs, each applied on its own
	 * (see apply_facts). */
	bool in_order;
	/* SQLSTATE of the row error that ended the last attempt, "" if none,
	 * and (for a COPY) its primary message. */
	char row_state[6];
	char row_msg[1024];
	bool timed_out; /* sink_pg_timed_out */
	/* The session's targets in foreign key order, parents first, and
	 * reach[a * norder + b]: target b references target a, directly or
	 * through others (sink_pg_prepare).  norder == 0: mapping order. */
	size_t *order;
	bool *reach;
	size_t norder;
	/* Per target: the statements of its rows in hand, TARGET_STMTS each
	 * (copy_target fills them, run_target runs them), and what the run
	 * in hand did to it (RUN_*, stream order only). */
	struct target_stmt *stmts;
	unsigned char *run;
	size_t nstmts;
	/* The stored checkpoint as this session last saw it committed: a
	 * write is refused if the row holds anything else (see
	 * write_checkpoint). */
	struct checkpoint known;
	struct sink_stats *stats;
	void (*tick)(void *);
	void *tick_arg;
	/* Tables copied by a snapshot whose rows already hold the source
	 * transactions ending at or before lsn: their changes from those
	 * transactions are not applied again (read per batch). */
	struct skip {
		char *schema, *table;
		lsn_t lsn;
	} *skips;
	size_t nskips;
};

/*
 * Foreign keys between target tables decide the order of a batch's
 * statements: a child's rows can be written only after its parent's, and
 * a parent's deleted only after its children's.  So every target's rows
 * are COPYed first, and then each pass runs over all targets, in the
 * order the pass names (apply_pending).
 */
enum pass {
	PASS_MOVE,	 /* parents first: rows whose key changed, completed from
				  * the target rows at their old keys (map.h: move) */
	PASS_REMOVE, /* children first: deletes */
	PASS_WRITE,	 /* parents first: inserts, upserts, partial updates,
				  * appends */
	PASS_MARK,	 /* children first: soft deletes, which mark rows the
				  * upserts wrote */
	PASS_COUNT,
};

/* One apply statement of a target and its pass; sql NULL: not sent. */
struct target_stmt {
	enum pass pass;
	const char *sql;
};
#define TARGET_STMTS 8

/* Internal outcome of a statement, finer than enum sink_result. */
enum step {
	STEP_OK,
	STEP_DATA,	/* a row's data failed: dead-letter it */
	STEP_RETRY,
	STEP_FATAL,
	STEP_BUSY,	/* the checkpoint row is locked by a backfill */
	STEP_CONFLICT, /* a plain insert of 'N' rows met an existing key: the
					* target is marked, redo the batch (or chunk) */
};

static void
set_pq_error(char *errbuf, size_t errlen, const char *what, PGconn *conn,
			 const PGresult *r)
{
	const char *msg = r ? PQresultErrorMessage(r) : "";
	size_t n;

	if (msg == NULL || msg[0] == '\0')
		msg = PQerrorMessage(conn);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	snprintf(errbuf, errlen, "%s: %.*s", what, (int) n, msg);
}

/*
 * Classify a failed result by SQLSTATE: data exceptions (22), integrity
 * violations (23) and cardinality violations (21: ON CONFLICT hitting a
 * row twice) belong to rows; connection loss, admin shutdown,
 * serialization and deadlock failures are retried; the rest (42: a
 * mapping's SQL is wrong, a table is missing) is fatal.
 */
static enum step
classify(struct sink_pg *s, const PGresult *r)
{
	PGconn *conn = s->conn;
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	/* A statement timeout, or a lock not granted in time: the batch was
	 * too big for statement_timeout (sink_pg_timed_out). */
	if (st && (strcmp(st, "57014") == 0 || strcmp(st, "55P03") == 0))
		s->timed_out = true;

	if (PQstatus(conn) != CONNECTION_OK || st == NULL)
		return STEP_RETRY;
	if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 ||
		strncmp(st, "21", 2) == 0 || strcmp(st, "54000") == 0 ||
		strcmp(st, "P0001") == 0 || strcmp(st, "P0004") == 0)
		return STEP_DATA;
	/* 25006: a read-only server (a standby, during a failover) may
	 * take writes again after a while: retry with backoff. */
	if (strncmp(st, "08", 2) == 0 || strncmp(st, "57", 2) == 0 ||
		strncmp(st, "53", 2) == 0 || strcmp(st, "40001") == 0 ||
		strcmp(st, "40P01") == 0 || strncmp(st, "55P03", 5) == 0 ||
		strcmp(st, "25006") == 0)
		return STEP_RETRY;
	return STEP_FATAL;
}

static enum sink_result to_result(enum step st);

static enum sink_result
to_result_ok(enum step st)
{
	return st == STEP_OK ? SINK_OK : to_result(st);
}

static const char *
sqlstate_or_empty(const PGresult *r)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return st ? st : "";
}

static enum sink_result
to_result(enum step st)
{
	if (st == STEP_BUSY)
		return SINK_BUSY;
	return st == STEP_RETRY ? SINK_RETRY : SINK_FATAL;
}

/* Run a command that returns no rows.  On failure fills errbuf. */
static enum step
exec_cmd(struct sink_pg *s, const char *sql, char *errbuf, size_t errlen)
{
	PGresult *r = PQexec(s->conn, sql);
	enum step st = STEP_OK;
	ExecStatusType rs = PQresultStatus(r);

	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
		st = classify(s, r);
		set_pq_error(errbuf, errlen, "analytics statement failed", s->conn,
					 r);
	}
	PQclear(r);
	if (s->stats)
		s->stats->statements++;
	return st;
}

/* name as a quoted SQL identifier (map_quote_ident); caller frees. */
static char *
quote_ident(const char *name)
{
	struct buf b = BUF_INIT;

	map_quote_ident(&b, name);
	return b.data;
}

/* The source name is checked by the configuration (a plain name), so
 * escaping fails only when libpq is out of memory: abort, as wp_malloc. */
static char *
quote_literal_pq(PGconn *conn, const char *text)
{
	char *q = PQescapeLiteral(conn, text, strlen(text));
	char *copy;

	if (q == NULL) {
		fprintf(stderr, "walpipe: could not quote \"%s\": %s", text,
				PQerrorMessage(conn));
		abort();
	}
	copy = wp_strdup(q);
	PQfreemem(q);
	return copy;
}

/* A schema script with :"schema" replaced by the quoted schema name. */
/*
 * One of walpipe's SQL scripts (sql/) with each psql-style :"name" of
 * names[0..n) replaced by the quoted text in values (psql's -v form, so
 * the files run by hand too).  Caller frees.
 */
static char *
sql_script(const char *sql, const char *const *names,
		   const char *const *values, size_t n)
{
	struct buf b = BUF_INIT;
	const char *p = sql, *hit;

	while ((hit = strstr(p, ":\"")) != NULL) {
		const char *end = strchr(hit + 2, '"');
		size_t k = n;

		for (size_t i = 0; end && i < n; i++)
			if (strlen(names[i]) == (size_t) (end - hit - 2) &&
				strncmp(hit + 2, names[i], (size_t) (end - hit - 2)) == 0)
				k = i;
		buf_append(&b, p, (size_t) (hit - p));
		if (k == n) {
			buf_append(&b, hit, 2); /* not a name of ours: as it is */
			p = hit + 2;
			continue;
		}
		buf_append_str(&b, values[k]);
		p = end + 1;
	}
	buf_append_str(&b, p);
	return b.data;
}

static char *
schema_script(const char *sql, const char *qschema)
{
	static const char *const names[] = {"schema"};

	return sql_script(sql, names, &qschema, 1);
}

static enum step
install_schema(struct sink_pg *s, char *errbuf, size_t errlen)
{
	enum step st;
	PGresult *r;
	char *script;
	int version = 0;

	/* Several walpipe instances may share one analytics database: the
	 * transaction-scoped advisory lock serialises their installs. */
	st = exec_cmd(s, "BEGIN", errbuf, errlen);
	if (st != STEP_OK)
		return st;
	st = exec_cmd(s, "SELECT pg_advisory_xact_lock(7483921)", errbuf, errlen);
	if (st != STEP_OK)
		goto fail;
	/* Two steps: a query naming a missing table would fail. */
	buf_reset(&s->q, 65536);
	{
		/* The quoted schema inside a literal: a ' in it is doubled. */
		const char *param;

		buf_appendf(&s->q, "%s.schema_version", s->qschema);
		param = s->q.data;
		r = PQexecParams(s->conn,
						 "SELECT pg_catalog.to_regclass($1) IS NOT NULL", 1,
						 NULL, &param, NULL, NULL, 0);
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		st = classify(s, r);
		set_pq_error(errbuf, errlen, "could not inspect the walpipe schema",
					 s->conn, r);
		PQclear(r);
		goto fail;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
		PQclear(r);
		buf_reset(&s->q, 65536);
		buf_appendf(&s->q, "SELECT coalesce(max(version), 0) FROM %s.schema_version",
					s->qschema);
		r = PQexec(s->conn, s->q.data);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			int v = atoi(PQgetvalue(r, 0, 0));

			if (v > SCHEMA_VERSION) {
				snprintf(errbuf, errlen,
						 "walpipe schema %s is at version %d, newer than this "
						 "walpipe (%d)\nUpgrade walpipe.",
						 s->qschema, v, SCHEMA_VERSION);
				PQclear(r);
				st = STEP_FATAL;
				goto fail;
			}
			version = v;
		}
	}
	PQclear(r);
	/* Each script upgrades from the version before it. */
	for (; version < SCHEMA_VERSION; version++) {
		script = schema_script(walpipe_schema_sql[version], s->qschema);
		r = PQexec(s->conn, script);
		free(script);
		if (PQresultStatus(r) != PGRES_COMMAND_OK &&
			PQresultStatus(r) != PGRES_TUPLES_OK) {
			st = classify(s, r);
			if (st == STEP_DATA)
				st = STEP_FATAL;
			set_pq_error(errbuf, errlen,
						 "could not create the walpipe schema", s->conn, r);
			PQclear(r);
			goto fail;
		}
		PQclear(r);
	}
	if (s->qstaging) {
		char *qs = quote_ident(s->cfg.staging_schema);
		char *qdef;
		const char *param[1] = {qs};
		bool have;

		/* CREATE SCHEMA checks CREATE on the database even with IF NOT
		 * EXISTS: only when the schema is missing (sql/roles.sql makes it
		 * ahead, so walpipe needs no such privilege). */
		r = PQexecParams(s->conn,
						 "SELECT pg_catalog.to_regnamespace($1) IS NOT NULL",
						 1, NULL, param, NULL, NULL, 0);
		have = PQresultStatus(r) == PGRES_TUPLES_OK &&
			   strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
		static const char *const names[] = {"staging_schema", "staging_table",
											"staging_default"};
		const char *values[3];
		char *qt = quote_ident(s->cfg.staging_table), *ddl;

		buf_reset(&s->q, 65536);
		buf_appendf(&s->q, "%s_default", s->cfg.staging_table);
		qdef = quote_ident(s->q.data);
		values[0] = qs;
		values[1] = qt;
		values[2] = qdef;
		ddl = sql_script(walpipe_staging_sql, names, values, 3);
		buf_reset(&s->q, 65536);
		if (!have)
			buf_appendf(&s->q, "CREATE SCHEMA IF NOT EXISTS %s;", qs);
		buf_append_str(&s->q, ddl);
		free(ddl);
		free(qs);
		free(qt);
		free(qdef);
		st = exec_cmd(s, s->q.data, errbuf, errlen);
		if (st != STEP_OK) {
			if (st == STEP_DATA)
				st = STEP_FATAL;
			goto fail;
		}
	}
	return exec_cmd(s, "COMMIT", errbuf, errlen);

fail:
	{
		char ignore[64];

		exec_cmd(s, "ROLLBACK", ignore, sizeof(ignore));
	}
	return st;
}

enum sink_result
sink_pg_maintain(struct sink_pg *s, char *errbuf, size_t errlen)
{
	const char *params[4];
	char premake[16];
	PGresult *r;
	enum sink_result res = SINK_OK;

	if (!s->qstaging)
		return SINK_OK;
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q, "SELECT %s.ensure_partitions($1::regclass, $2, $3::int, "
					   "$4::interval)",
				s->qschema);
	snprintf(premake, sizeof(premake), "%d", s->cfg.premake);
	params[0] = s->qstaging;
	params[1] = s->cfg.partition_unit ? s->cfg.partition_unit : "month";
	params[2] = premake;
	params[3] = s->cfg.retention;
	r = PQexecParams(s->conn, s->q.data, 4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		res = classify(s, r) == STEP_RETRY ? SINK_RETRY : SINK_FATAL;
		set_pq_error(errbuf, errlen, "could not maintain staging partitions",
					 s->conn, r);
	}
	PQclear(r);
	return res;
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
		set_pq_error(errbuf, errlen,
					 "could not connect to the analytics server", s->conn,
					 NULL);
		*res = SINK_RETRY;
		goto fail;
	}
	s->qschema = quote_ident(cfg->schema);
	s->lsource = quote_literal_pq(s->conn, cfg->source);
	if (cfg->staging_table) {
		char *a = quote_ident(cfg->staging_schema);
		char *b = quote_ident(cfg->staging_table);

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
	st = exec_cmd(s, "SET search_path = pg_catalog, public; "
					 "SET client_min_messages = warning; "
					 "SET application_name = 'walpipe'",
				  errbuf, errlen);
	if (st == STEP_OK)
		st = install_schema(s, errbuf, errlen);
	if (st != STEP_OK) {
		*res = to_result(st);
		goto fail;
	}
	*res = SINK_OK;
	return s;

fail:
	sink_pg_close(s);
	return NULL;
}

enum sink_result
sink_pg_read_checkpoint(struct sink_pg *s, struct checkpoint *out,
						char *errbuf, size_t errlen)
{
	const char *params[1] = {s->cfg.source};
	PGresult *r;

	memset(out, 0, sizeof(*out));
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"SELECT lsn, txn_end, txn_applied, coalesce(last_commit_time::text, ''), "
				"coalesce(system_id, ''), coalesce(timeline, 0) "
				"FROM %s.checkpoints WHERE source = $1",
				s->qschema);
	r = PQexecParams(s->conn, s->q.data, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		enum step st = classify(s, r);

		set_pq_error(errbuf, errlen, "could not read the checkpoint", s->conn,
					 r);
		PQclear(r);
		return st == STEP_RETRY ? SINK_RETRY : SINK_FATAL;
	}
	if (PQntuples(r) == 1) {
		out->exists = true;
		lsn_parse(PQgetvalue(r, 0, 0), &out->lsn, NULL, 0);
		if (!PQgetisnull(r, 0, 1))
			lsn_parse(PQgetvalue(r, 0, 1), &out->txn_end, NULL, 0);
		out->txn_applied = strtoull(PQgetvalue(r, 0, 2), NULL, 10);
		snprintf(out->last_commit_time, sizeof(out->last_commit_time), "%s",
				 PQgetvalue(r, 0, 3));
		snprintf(out->system_id, sizeof(out->system_id), "%s",
				 PQgetvalue(r, 0, 4));
		out->timeline = atoi(PQgetvalue(r, 0, 5));
	}
	PQclear(r);
	s->known = *out;
	return SINK_OK;
}

/*
 * Run s->q with text parameters.  On success, *out (if not NULL) gets
 * the result, which the caller clears; on failure errbuf says "what:
 * reason" and a row error counts as fatal (walpipe's own statements).
 */
static enum step
exec_params_result(struct sink_pg *s, const char *what, int n,
				   const char *const *params, PGresult **out, char *errbuf,
				   size_t errlen)
{
	PGresult *r = PQexecParams(s->conn, s->q.data, n, NULL, params, NULL,
							   NULL, 0);
	enum step st = STEP_OK;

	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
		PQresultStatus(r) != PGRES_TUPLES_OK) {
		st = strcmp(sqlstate_or_empty(r), "55P03") == 0 ? STEP_BUSY
														 : classify(s, r);
		if (st == STEP_DATA)
			st = STEP_FATAL;
		set_pq_error(errbuf, errlen, what, s->conn, r);
	} else if (out) {
		*out = r;
		return STEP_OK;
	}
	PQclear(r);
	return st;
}

static enum step
exec_params(struct sink_pg *s, const char *what, int n,
			const char *const *params, char *errbuf, size_t errlen)
{
	return exec_params_result(s, what, n, params, NULL, errbuf, errlen);
}

/*
 * This source's checkpoint row is the lock between a batch and the tools
 * that write facts beside `walpipe run`.  Every batch locks it first,
 * without waiting (begin_batch; STEP_BUSY: roll back, keep the batch, try
 * again).  `walpipe snapshot --table` holds it for the whole copy of a
 * table, from before its snapshot is taken until its rows commit, so no
 * batch of the stream commits in between (see docs/snapshots.md);
 * `walpipe dlq retry` holds it while it rewrites fact rows, so a retry and
 * a batch never interleave or deadlock on a fact row.
 *
 * Here: inside a transaction, lock it waiting for the batch being
 * applied (a backfill).  STEP_FATAL if the source has no checkpoint.
 */
static enum step
lock_checkpoint(struct sink_pg *s, char *errbuf, size_t errlen)
{
	const char *params[1] = {s->cfg.source};
	PGresult *r = NULL;
	enum step st;

	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"SELECT 1 FROM %s.checkpoints WHERE source = $1 FOR UPDATE",
				s->qschema);
	st = exec_params_result(s, "could not lock the checkpoint", 1, params, &r,
							errbuf, errlen);
	if (st == STEP_OK && PQntuples(r) == 0) {
		snprintf(errbuf, errlen,
				 "source \"%s\" has no checkpoint in the analytics database\n"
				 "Start walpipe run first: it copies every mapped table on "
				 "its first start.",
				 s->cfg.source);
		st = STEP_FATAL;
	}
	if (st == STEP_OK)
		PQclear(r);
	return st;
}

static void
skips_free(struct sink_pg *s)
{
	for (size_t i = 0; i < s->nskips; i++) {
		free(s->skips[i].schema);
		free(s->skips[i].table);
	}
	free(s->skips);
	s->skips = NULL;
	s->nskips = 0;
}

/* Keep the snapshot positions of a result of load_skips' query. */
static void
skips_from_result(struct sink_pg *s, const PGresult *r)
{
	skips_free(s);
	s->nskips = (size_t) PQntuples(r);
	s->skips = wp_calloc(s->nskips ? s->nskips : 1, sizeof(*s->skips));
	for (size_t i = 0; i < s->nskips; i++) {
		s->skips[i].schema = wp_strdup(PQgetvalue(r, (int) i, 0));
		s->skips[i].table = wp_strdup(PQgetvalue(r, (int) i, 1));
		lsn_parse(PQgetvalue(r, (int) i, 2), &s->skips[i].lsn, NULL, 0);
	}
}

/*
 * Open a batch's transaction in one round trip instead of three: BEGIN,
 * lock this source's checkpoint row without waiting (the comment above
 * lock_checkpoint says why), and, for a batch of changes (skips), read
 * the snapshot positions that matter to changes ending after lo: tables
 * copied into empty facts (initial or resumed snapshots).  Not
 * backfills: their copy lands on facts that may hold rows deleted since,
 * so every change after the checkpoint must still be applied, in order,
 * on top of the copy (see docs/snapshots.md).  The lock comes first: under it the positions
 * cannot change.  One simple query: each statement's result comes back
 * on its own, and the first failure stops the server from running the
 * rest (the caller then rolls back).  STEP_BUSY: the lock is held.
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

	skips_free(s);
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
		set_pq_error(errbuf, errlen, what[0], s->conn, NULL);
		return STEP_RETRY;
	}
	while ((r = PQgetResult(s->conn)) != NULL) {
		ExecStatusType rs = PQresultStatus(r);

		if (st == STEP_OK && rs != PGRES_COMMAND_OK &&
			rs != PGRES_TUPLES_OK) {
			st = strcmp(sqlstate_or_empty(r), "55P03") == 0
					 ? STEP_BUSY
					 : classify(s, r);
			if (st == STEP_DATA)
				st = STEP_FATAL;
			set_pq_error(errbuf, errlen, what[k < 4 ? k : 3], s->conn, r);
		} else if (st == STEP_OK && k == 3)
			skips_from_result(s, r);
		PQclear(r);
		k++;
	}
	if (st == STEP_OK && k < (skips ? 4 : 3)) {
		set_pq_error(errbuf, errlen, what[0], s->conn, NULL);
		st = STEP_RETRY;
	}
	if (s->stats)
		s->stats->statements += (uint64_t) k;
	return st;
}

/* A change a snapshot's rows already hold (see begin_batch): applying it
 * to the facts again would append it twice or move a row back in time. */
static bool
skipped(const struct sink_pg *s, const struct batch *b,
		const struct batch_change *c)
{
	for (size_t i = 0; i < s->nskips; i++)
		if (c->txn_end <= s->skips[i].lsn && c->schema != UINT32_MAX &&
			strcmp(batch_text(b, c->table), s->skips[i].table) == 0 &&
			strcmp(batch_text(b, c->schema), s->skips[i].schema) == 0)
			return true;
	return false;
}

static enum step apply_once(struct sink_pg *s, const struct batch *b,
						   struct sink_target *t, size_t n,
						   const struct checkpoint *ckpt, char *errbuf,
						   size_t errlen);

/*
 * Write the checkpoint, only over the one this session knows.  A walpipe
 * killed right after sending COMMIT leaves a backend that may still commit
 * its batch after a new walpipe has read the older checkpoint; the new one
 * would then apply that batch again (append mappings and staging would
 * hold it twice).  The guard makes the new session's write find the moved
 * row (the upsert waits for the old commit, then rechecks), fail with
 * retry and start over from the stored checkpoint.
 */
static enum step
write_checkpoint(struct sink_pg *s, const struct checkpoint *c, char *errbuf,
				 size_t errlen)
{
	char lsn[LSN_STRLEN], txn[LSN_STRLEN], applied[24];
	char klsn[LSN_STRLEN], ktxn[LSN_STRLEN], kapplied[24], tli[16];
	const char *params[11];
	PGresult *r;
	enum step st = STEP_OK;

	params[0] = s->cfg.source;
	params[1] = lsn_format(c->lsn, lsn);
	params[2] = c->txn_end ? lsn_format(c->txn_end, txn) : NULL;
	snprintf(applied, sizeof(applied), "%llu",
			 (unsigned long long) c->txn_applied);
	params[3] = applied;
	params[4] = c->last_commit_time[0] ? c->last_commit_time : NULL;
	params[5] = s->known.exists ? "true" : "false";
	params[6] = lsn_format(s->known.lsn, klsn);
	params[7] = s->known.txn_end ? lsn_format(s->known.txn_end, ktxn) : NULL;
	snprintf(kapplied, sizeof(kapplied), "%llu",
			 (unsigned long long) s->known.txn_applied);
	params[8] = kapplied;
	snprintf(tli, sizeof(tli), "%d", c->timeline);
	params[9] = c->system_id[0] ? c->system_id : NULL;
	params[10] = c->timeline > 0 ? tli : NULL;
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"INSERT INTO %s.checkpoints AS c (source, lsn, txn_end, "
				"txn_applied, last_commit_time, system_id, timeline) VALUES "
				"($1, $2, $3, $4, $5, $10, $11) "
				"ON CONFLICT (source) DO UPDATE SET lsn = EXCLUDED.lsn, "
				"txn_end = EXCLUDED.txn_end, txn_applied = "
				"EXCLUDED.txn_applied, last_commit_time = "
				"coalesce(EXCLUDED.last_commit_time, c.last_commit_time), "
				"system_id = coalesce(EXCLUDED.system_id, c.system_id), "
				"timeline = coalesce(EXCLUDED.timeline, c.timeline), "
				"updated_at = now() WHERE $6::boolean AND c.lsn = $7::pg_lsn "
				"AND c.txn_end IS NOT DISTINCT FROM $8::pg_lsn AND "
				"c.txn_applied = $9::bigint",
				s->qschema);
	r = PQexecParams(s->conn, s->q.data, 11, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		st = classify(s, r);
		if (st == STEP_DATA)
			st = STEP_FATAL;
		set_pq_error(errbuf, errlen, "could not write the checkpoint",
					 s->conn, r);
	} else if (strcmp(PQcmdTuples(r), "1") != 0) {
		snprintf(errbuf, errlen,
				 "the checkpoint of source \"%s\" was moved by another "
				 "session\nAnother walpipe runs for this source, or one that "
				 "was killed committed its last batch late.  This session "
				 "starts over from the stored checkpoint.",
				 s->cfg.source);
		st = STEP_RETRY;
	}
	PQclear(r);
	return st;
}

enum sink_result
sink_pg_write_checkpoint(struct sink_pg *s, const struct checkpoint *ckpt,
						 char *errbuf, size_t errlen)
{
	return to_result_ok(apply_once(s, NULL, NULL, 0, ckpt, errbuf, errlen));
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
		char *lit = quote_literal_pq(s->conn, t[i].plan->target);

		buf_appendf(&s->q, "%s(%zu, pg_catalog.to_regclass(%s))",
					i ? ", " : "", i, lit);
		free(lit);
	}
	buf_append_str(&s->q,
				   ") SELECT p.i, c.i, f.condeferred FROM "
				   "pg_catalog.pg_constraint f JOIN t c ON c.rel = "
				   "f.conrelid JOIN t p ON p.rel = f.confrelid WHERE "
				   "f.contype = 'f'");
	st = exec_params_result(s, "could not read the foreign keys of the "
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

PGconn *
sink_pg_conn(struct sink_pg *s)
{
	return s->conn;
}

bool
sink_pg_target_references(const struct sink_pg *s, size_t a, size_t b)
{
	size_t n = s->norder;

	/* reach[p * n + c]: c references p. */
	return a < n && b < n && a != b && s->reach[b * n + a] &&
		   !s->reach[a * n + b];
}

enum sink_result
sink_pg_prepare(struct sink_pg *s, struct sink_target *t, size_t n,
				char *errbuf, size_t errlen)
{
	enum step st = STEP_OK;

	for (size_t i = 0; i < n && st == STEP_OK; i++)
		st = exec_cmd(s, t[i].plan->create_tmp, errbuf, errlen);
	if (st == STEP_OK)
		st = read_fk_order(s, t, n, errbuf, errlen);
	if (st != STEP_OK)
		return st == STEP_RETRY ? SINK_RETRY : SINK_FATAL;
	return SINK_OK;
}

/* Stream s->copy to the server if it is big enough (or always: force). */
static enum step
copy_flush(struct sink_pg *s, bool force, char *errbuf, size_t errlen)
{
	if (s->copy.len == 0 || (!force && s->copy.len < COPY_CHUNK))
		return STEP_OK;
	/* PQputCopyData takes an int: one row can be bigger than 2 GiB
	 * (a 1 GB value escaped for COPY), so send in bounded pieces; COPY's
	 * data stream need not break at rows. */
	for (size_t off = 0; off < s->copy.len; off += COPY_CHUNK) {
		size_t n = s->copy.len - off < COPY_CHUNK ? s->copy.len - off
												  : COPY_CHUNK;

		if (PQputCopyData(s->conn, s->copy.data + off, (int) n) != 1) {
			set_pq_error(errbuf, errlen, "could not send COPY data",
						 s->conn, NULL);
			return STEP_RETRY;
		}
	}
	buf_reset(&s->copy, 4 * COPY_CHUNK);
	if (s->tick)
		s->tick(s->tick_arg);
	return STEP_OK;
}

static enum step
copy_begin(struct sink_pg *s, const char *sql, char *errbuf, size_t errlen)
{
	PGresult *r = PQexec(s->conn, sql);
	enum step st = STEP_OK;

	if (PQresultStatus(r) != PGRES_COPY_IN) {
		st = classify(s, r);
		if (st == STEP_DATA)
			st = STEP_FATAL;
		set_pq_error(errbuf, errlen, "could not start COPY", s->conn, r);
	}
	PQclear(r);
	buf_reset(&s->copy, 4 * COPY_CHUNK);
	return st;
}

static enum step
copy_end(struct sink_pg *s, char *errbuf, size_t errlen)
{
	enum step st = copy_flush(s, true, errbuf, errlen);
	PGresult *r;

	if (st != STEP_OK)
		return st;
	if (PQputCopyEnd(s->conn, NULL) != 1) {
		set_pq_error(errbuf, errlen, "could not end COPY", s->conn, NULL);
		return STEP_RETRY;
	}
	while ((r = PQgetResult(s->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && st == STEP_OK) {
			st = classify(s, r);
			set_pq_error(errbuf, errlen, "COPY failed", s->conn, r);
			if (st == STEP_DATA) {
				const char *m =
					PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

				snprintf(s->row_state, sizeof(s->row_state), "%s",
						 sqlstate_or_empty(r));
				snprintf(s->row_msg, sizeof(s->row_msg), "%s",
						 m ? m : errbuf);
			}
		}
		PQclear(r);
	}
	return st;
}

/* Append n bytes of s to b in COPY's text format: \, tab, newline and
 * carriage return escaped (a JSON payload, a name may hold them). */
static void
copy_append_text(struct buf *b, const char *s, size_t n)
{
	size_t run = 0;

	for (size_t k = 0; k < n; k++) {
		const char *esc;

		switch (s[k]) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		default: continue;
		}
		buf_append(b, s + run, k - run);
		buf_append_str(b, esc);
		run = k + 1;
	}
	buf_append(b, s + run, n - run);
}

static enum step dead_letter_change(struct sink_pg *s, const struct batch *b,
									size_t idx, const char *source_table,
									const char *target_table,
									const char *error, const char *sqlstate,
									char *errbuf, size_t errlen);

/* Staging: changes lo..hi (0-based) of b, one row each, the wal2json
 * object as the payload, in one COPY. */
static enum step
stage_range(struct sink_pg *s, const struct batch *b, size_t lo, size_t hi,
			char *errbuf, size_t errlen)
{
	enum step st;

	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"COPY %s (source, source_schema, source_table, op, lsn, xid, "
				"commit_time, payload) FROM STDIN",
				s->qstaging);
	st = copy_begin(s, s->q.data, errbuf, errlen);
	if (st != STEP_OK)
		return st;
	for (size_t i = lo; i <= hi; i++) {
		const struct batch_change *c = batch_get(b, i);
		const char *json = batch_text(b, c->json);
		const char *ts = batch_text(b, c->commit_time);
		const char *sch = c->schema != UINT32_MAX ? batch_text(b, c->schema)
												  : "";
		const char *tbl = c->table != UINT32_MAX ? batch_text(b, c->table)
												 : "";
		char lsn[LSN_STRLEN];

		/* Staging is the log of every change, also of those a snapshot's
		 * rows already hold (they are skipped for the facts only). */
		if (c->action == W2J_MESSAGE && !s->cfg.stage_messages)
			continue;
		/* The exact names, as wal2json sends them. */
		buf_appendf(&s->copy, "%s\t", s->cfg.source);
		copy_append_text(&s->copy, sch, strlen(sch));
		buf_append_char(&s->copy, '\t');
		copy_append_text(&s->copy, tbl, strlen(tbl));
		buf_appendf(&s->copy, "\t%c\t%s\t%u\t%s\t", c->op,
					lsn_format(c->lsn, lsn), c->xid, ts ? ts : "now");
		copy_append_text(&s->copy, json, c->json_len);
		buf_append_char(&s->copy, '\n');
		st = copy_flush(s, false, errbuf, errlen);
		if (st != STEP_OK)
			return st;
	}
	return copy_end(s, errbuf, errlen);
}

/*
 * Careful staging: rows lo..hi in a savepoint; a row error (a staging
 * trigger or constraint a DBA added, a value jsonb cannot hold) halves
 * the range until the failing change is alone, and that one becomes a
 * dead letter (target: the staging table) while the rest is staged.
 */
static enum step
stage_careful(struct sink_pg *s, const struct batch *b, size_t lo, size_t hi,
			  char *errbuf, size_t errlen)
{
	enum step st = exec_cmd(s, "SAVEPOINT walpipe_stage", errbuf, errlen);
	char err[1024], state[8];

	if (st != STEP_OK)
		return st;
	st = stage_range(s, b, lo, hi, errbuf, errlen);
	if (st == STEP_OK)
		return exec_cmd(s, "RELEASE SAVEPOINT walpipe_stage", errbuf, errlen);
	if (st != STEP_DATA)
		return st;
	snprintf(err, sizeof(err), "%s", s->row_msg);
	snprintf(state, sizeof(state), "%s", s->row_state);
	st = exec_cmd(s, "ROLLBACK TO SAVEPOINT walpipe_stage", errbuf, errlen);
	if (st == STEP_OK)
		st = exec_cmd(s, "RELEASE SAVEPOINT walpipe_stage", errbuf, errlen);
	if (st != STEP_OK)
		return st;
	if (lo == hi) {
		const struct batch_change *c = batch_get(b, lo);
		char *src = c->schema != UINT32_MAX
						? ident_qualified(batch_text(b, c->schema),
										  batch_text(b, c->table))
						: wp_strdup("");
		char *stg = ident_qualified(s->cfg.staging_schema,
									s->cfg.staging_table);

		st = dead_letter_change(s, b, lo, src, stg, err, state, errbuf,
								errlen);
		free(src);
		free(stg);
		return st;
	}
	st = stage_careful(s, b, lo, lo + (hi - lo) / 2, errbuf, errlen);
	if (st == STEP_OK)
		st = stage_careful(s, b, lo + (hi - lo) / 2 + 1, hi, errbuf, errlen);
	return st;
}

/* Staging: one row per change; carefully after a row error (above). */
static enum step
stage_batch(struct sink_pg *s, const struct batch *b, char *errbuf,
			size_t errlen)
{
	size_t n = batch_count(b);
	enum step st;

	if (!s->qstaging || n == 0)
		return STEP_OK;
	st = s->careful ? stage_careful(s, b, 0, n - 1, errbuf, errlen)
					: stage_range(s, b, 0, n - 1, errbuf, errlen);
	if (st == STEP_OK && s->stats)
		for (size_t i = 0; i < n; i++)
			if (batch_get(b, i)->action != W2J_MESSAGE ||
				s->cfg.stage_messages)
				s->stats->staged++;
	return st;
}

/*
 * Dead-letter change idx of b, bound for target_table.  The payload goes
 * in as jsonb, or, when jsonb cannot hold it (a \u0000, a string over
 * jsonb's size limit), as text in payload_text: any change that reached
 * walpipe can be recorded.
 */
static enum step
dead_letter_change(struct sink_pg *s, const struct batch *b, size_t idx,
				   const char *source_table, const char *target_table,
				   const char *error, const char *sqlstate, char *errbuf,
				   size_t errlen)
{
	const struct batch_change *c = batch_get(b, idx);
	char lsn[LSN_STRLEN], xid[16], op[2];
	const char *params[10];
	PGresult *r;
	enum step st = STEP_OK;

	snprintf(xid, sizeof(xid), "%u", c->xid);
	op[0] = c->op;
	op[1] = '\0';
	params[0] = s->cfg.source;
	params[1] = source_table;
	params[2] = target_table;
	params[3] = lsn_format(c->lsn, lsn);
	params[4] = xid;
	params[5] = op;
	params[6] = batch_text(b, c->json);
	params[7] = error;
	params[8] = sqlstate && sqlstate[0] ? sqlstate : NULL;
	params[9] = batch_text(b, c->commit_time);
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"INSERT INTO %s.dead_letters (source, source_table, "
				"target_table, lsn, xid, op, payload, payload_text, error, "
				"sqlstate, commit_time) SELECT $1, $2, $3, $4, $5, $6, j, "
				"CASE WHEN j IS NULL THEN $7 END, $8, $9, $10 FROM "
				"%s.jsonb_or_null($7) j",
				s->qschema, s->qschema);
	r = PQexecParams(s->conn, s->q.data, 10, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		st = classify(s, r);
		if (st == STEP_DATA)
			st = STEP_FATAL;
		set_pq_error(errbuf, errlen, "could not write a dead letter",
					 s->conn, r);
	}
	PQclear(r);
	if (st == STEP_OK && s->stats)
		s->stats->dead_letters++;
	return st;
}

/* Dead-letter temp row seq of target t: its last change. */
static enum step
dead_letter(struct sink_pg *s, const struct batch *b,
			const struct sink_target *t, size_t seq, const char *error,
			const char *sqlstate, char *errbuf, size_t errlen)
{
	/* In the configuration's notation: walpipe dlq reads them back. */
	char *srct = ident_qualified(t->rule->from_schema, t->rule->from_table);
	char *tgt = ident_qualified(t->rule->to_schema, t->rule->to_table);
	enum step st = dead_letter_change(s, b, collapse_change_of(t->rows, seq),
									  srct, tgt, error, sqlstate, errbuf,
									  errlen);

	free(srct);
	free(tgt);
	return st;
}

/* Execute apply statement sql over temp rows lo..hi (1-based _seq, as
 * text): counts the statement and, on success, the rows it changed. */
static PGresult *
exec_range(struct sink_pg *s, const char *sql, const char *lo,
		   const char *hi)
{
	const char *params[2] = {lo, hi};
	PGresult *r = PQexecParams(s->conn, sql, 2, NULL, params, NULL, NULL, 0);

	if (s->stats) {
		s->stats->statements++;
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			s->stats->applied += strtoull(PQcmdTuples(r), NULL, 10);
	}
	if (s->tick)
		s->tick(s->tick_arg);
	return r;
}

/*
 * Whether an integrity violation can come from the order the batch's rows
 * were applied in rather than from a row itself: a foreign key checked
 * while the other table's rows wait for their statement, or a unique or
 * exclusion constraint whose value moves from one row to another.  A NOT
 * NULL or CHECK violation is a row's own: order cannot help it.
 */
static bool
order_related(const char *sqlstate)
{
	return strcmp(sqlstate, "23503") == 0 || strcmp(sqlstate, "23505") == 0 ||
		   strcmp(sqlstate, "23P01") == 0;
}

static enum step dead_letter_selected(struct sink_pg *s,
									  const struct batch *b,
									  struct sink_target *t,
									  const PGresult *r, const char *why,
									  char *errbuf, size_t errlen);

/*
 * Run one apply statement over rows lo..hi (1-based _seq).  In careful
 * mode a failure that belongs to rows is narrowed down by halving the
 * range inside savepoints until the bad rows are found and dead-lettered;
 * the good rows of the range are still applied set-wise.  A row failing
 * for a reason order_related may be no fault of its own unless the batch
 * is applied in stream order: then STEP_DATA with s->row_state set, and
 * the caller redoes the batch in stream order.
 */
static enum step
run_range(struct sink_pg *s, const struct batch *b, struct sink_target *t,
		  const char *sql, size_t lo, size_t hi, char *errbuf, size_t errlen)
{
	char los[24], his[24];
	PGresult *r;
	enum step st;

	snprintf(los, sizeof(los), "%zu", lo);
	snprintf(his, sizeof(his), "%zu", hi);
	if (s->careful) {
		st = exec_cmd(s, "SAVEPOINT walpipe_rows", errbuf, errlen);
		if (st != STEP_OK)
			return st;
	}
	r = exec_range(s, sql, los, his);
	if (PQresultStatus(r) == PGRES_COMMAND_OK ||
		PQresultStatus(r) == PGRES_TUPLES_OK) {
		/* keyless_apply selects the changes that found no row. */
		st = dead_letter_selected(s, b, t, r, NULL, errbuf, errlen);
		PQclear(r);
		if (st != STEP_OK)
			return st;
		return s->careful ? exec_cmd(s, "RELEASE SAVEPOINT walpipe_rows",
									 errbuf, errlen)
						  : STEP_OK;
	}
	st = classify(s, r);
	set_pq_error(errbuf, errlen, "could not apply changes", s->conn, r);
	if (st == STEP_DATA)
		snprintf(s->row_state, sizeof(s->row_state), "%s",
				 sqlstate_or_empty(r));
	if (st != STEP_DATA || !s->careful) {
		PQclear(r);
		return st;
	}
	{
		char err[1024], state[8];
		const char *sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

		snprintf(err, sizeof(err), "%s", msg ? msg : errbuf);
		snprintf(state, sizeof(state), "%s", sqlstate ? sqlstate : "");
		PQclear(r);
		st = exec_cmd(s, "ROLLBACK TO SAVEPOINT walpipe_rows", errbuf,
					  errlen);
		if (st == STEP_OK)
			st = exec_cmd(s, "RELEASE SAVEPOINT walpipe_rows", errbuf,
						  errlen);
		if (st != STEP_OK)
			return st;
		if (lo == hi && !s->in_order && order_related(state))
			return STEP_DATA;
		if (lo == hi)
			return dead_letter(s, b, t, lo, err, state, errbuf, errlen);
	}
	st = run_range(s, b, t, sql, lo, lo + (hi - lo) / 2, errbuf, errlen);
	if (st == STEP_OK)
		st = run_range(s, b, t, sql, lo + (hi - lo) / 2 + 1, hi, errbuf,
					   errlen);
	return st;
}

/*
 * The plain insert of a target's 'N' rows (rows 1..n of the temp table).
 * A unique violation means a key the mirror should not hold yet is there
 * (a soft-deleted row inserted again, on_delete: ignore, another writer):
 * the target upserts its new keys from now on and the caller redoes the
 * batch, so nothing of this attempt stays.  Other errors are classified
 * as for any apply statement (a row error redoes the batch carefully,
 * which upserts).
 */
static enum step
insert_new_rows(struct sink_pg *s, struct sink_target *t, size_t n,
				char *errbuf, size_t errlen)
{
	char his[24];
	PGresult *r;
	enum step st = STEP_OK;

	snprintf(his, sizeof(his), "%zu", n);
	r = exec_range(s, t->plan->insert_new, "1", his);
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		PQclear(r);
		return STEP_OK;
	}
	if (strcmp(sqlstate_or_empty(r), "23505") == 0) {
		t->no_fast_insert = true;
		set_pq_error(errbuf, errlen, "a new key exists already", s->conn,
					 r);
		st = STEP_CONFLICT;
	} else {
		st = classify(s, r);
		set_pq_error(errbuf, errlen, "could not apply changes", s->conn, r);
		if (st == STEP_DATA)
			snprintf(s->row_state, sizeof(s->row_state), "%s",
					 sqlstate_or_empty(r));
	}
	PQclear(r);
	return st;
}

/*
 * Dead-letter the temp rows whose _seq result r (borrowed) selects, with
 * the reason why; NULL: the reason of a keyless mapping's change that
 * found no target row (map.h: keyless_apply), by the row's op.
 */
static enum step
dead_letter_selected(struct sink_pg *s, const struct batch *b,
					 struct sink_target *t, const PGresult *r,
					 const char *why, char *errbuf, size_t errlen)
{
	enum step st = STEP_OK;

	for (int i = 0; i < PQntuples(r) && st == STEP_OK; i++) {
		size_t seq = strtoull(PQgetvalue(r, i, 0), NULL, 10);
		const char *reason = why;

		if (reason == NULL)
			reason = collapse_op_of(t->rows, seq) == 'D'
						 ? "no target row equals the deleted row on every "
						   "mapped column (mode keyless), so there is "
						   "nothing to delete"
						 : "no target row equals the updated row's old "
						   "values on every mapped column (mode keyless), "
						   "so there is nothing to update";
		st = dead_letter(s, b, t, seq, reason, NULL, errbuf, errlen);
	}
	return st;
}

/*
 * Dead-letter the rows that sql (move_orphans, partial_orphans) selects:
 * partial rows with no target row to take the columns the update left
 * out from (the row was never mirrored, or was filtered out).  The apply
 * statements skip them by themselves.
 */
static enum step
dead_letter_orphans(struct sink_pg *s, const struct batch *b,
					struct sink_target *t, const char *sql, const char *why,
					size_t n, char *errbuf, size_t errlen)
{
	char his[24];
	PGresult *r;
	enum step st = STEP_OK;

	snprintf(his, sizeof(his), "%zu", n);
	r = exec_range(s, sql, "1", his);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		st = classify(s, r);
		set_pq_error(errbuf, errlen, "could not apply changes", s->conn, r);
		PQclear(r);
		return st;
	}
	st = dead_letter_selected(s, b, t, r, why, errbuf, errlen);
	PQclear(r);
	return st;
}

/* Dead-letter the rows collapse_check marked 'X', with the reason. */
static enum step
dead_letter_unappliable(struct sink_pg *s, const struct batch *b,
						struct sink_target *t, size_t n, char *errbuf,
						size_t errlen)
{
	enum step st = STEP_OK;
	char why[512];

	for (size_t seq = 1; seq <= n && st == STEP_OK; seq++) {
		if (collapse_op_of(t->rows, seq) != 'X')
			continue;
		map_plan_partial_ok(t->plan, collapse_present_of(t->rows, seq), why,
							sizeof(why));
		st = dead_letter(s, b, t, seq, why, NULL, errbuf, errlen);
	}
	return st;
}

/*
 * COPY a target's collapsed rows to its temp table and fill stmts with
 * the statements that apply them, in the order they run within their
 * pass (apply_pending runs the passes).  A statement with no rows of its
 * kind is not sent at all.
 */
static enum step
copy_target(struct sink_pg *s, const struct batch *b, struct sink_target *t,
			struct target_stmt stmts[TARGET_STMTS], char *errbuf,
			size_t errlen)
{
	const struct map_plan *p = t->plan;
	size_t n = collapse_count(t->rows);
	bool has_u = false, has_n = false, has_p = false, has_d = false;
	bool has_m = false, has_o = false;
	size_t unappliable = 0;
	bool fast, soft;
	const char *upsert, *append;
	enum step st;

	for (int k = 0; k < TARGET_STMTS; k++)
		stmts[k].sql = NULL;
	if (n == 0)
		return STEP_OK;
	if (t->rule->mode == MAP_MODE_UPSERT)
		unappliable = collapse_check(t->rows, t->plan);
	for (size_t seq = 1; seq <= n; seq++) {
		char op = collapse_op_of(t->rows, seq);

		has_u |= op == 'U';
		has_n |= op == 'N';
		has_p |= op == 'P';
		has_m |= op == 'M';
		has_d |= op == 'D';
		has_o |= op == 'O';
	}
	/* New keys by a plain insert, unless this target met an existing key
	 * before or the batch is redone row by row (careful). */
	fast = has_n && p->insert_new && !t->no_fast_insert && !s->careful;
	/* A soft delete also marks 'U'/'N'/'P' rows whose last change was a
	 * delete: it runs after the upsert has written them. */
	soft = p->soft_delete && p->upsert;
	st = copy_begin(s, p->copy, errbuf, errlen);
	if (st != STEP_OK)
		return st;
	for (size_t i = 0; i < n; i += 1024) {
		collapse_copy_text(t->rows, b, p, t->srccols, i, i + 1023,
						   &s->copy);
		st = copy_flush(s, false, errbuf, errlen);
		if (st != STEP_OK)
			return st;
	}
	st = copy_end(s, errbuf, errlen);
	if (st != STEP_OK)
		return st == STEP_DATA ? STEP_FATAL : st;
	if (unappliable)
		st = dead_letter_unappliable(s, b, t, n, errbuf, errlen);
	if (st == STEP_OK && has_m)
		st = dead_letter_orphans(
			s, b, t, t->plan->move_orphans,
			"the update changed the row's key and left out unchanged TOASTed "
			"columns, and the target has no row at the old key to take them "
			"from",
			n, errbuf, errlen);
	if (st == STEP_OK && has_p && t->plan->partial_orphans)
		st = dead_letter_orphans(
			s, b, t, t->plan->partial_orphans,
			"the update made the row match the mapping's where, but left out "
			"unchanged TOASTed columns, and the target has no row to take "
			"them from",
			n, errbuf, errlen);
	if (st != STEP_OK)
		return st;

	/* A keyless mapping's inserts alone go by the plain append; with
	 * deletes or updates among them, everything goes in stream order
	 * (map.h: keyless_apply). */
	append = has_u || has_p ? p->append : NULL;
	if (p->keyless_apply && (has_d || has_o))
		append = p->keyless_apply;
	/* The full rows the plain insert does not take. */
	upsert = has_u || has_n ? p->upsert : NULL;
	if (fast)
		upsert = has_u ? p->upsert_old : NULL;
	{
		const struct target_stmt table[TARGET_STMTS] = {
			/* Moved rows read the target rows at their old keys as the
			 * batch found them: before anything else. */
			{PASS_MOVE, has_m ? p->move : NULL},
			/* Deletes next: a key's rows are merged, so each key has
			 * one op. */
			{PASS_REMOVE, has_d && !soft ? p->remove : NULL},
			/* Rows that stopped matching the where leave as deletes. */
			{PASS_REMOVE, has_u || has_p || has_m ? p->unmatch : NULL},
			{PASS_WRITE, fast ? p->insert_new : NULL},
			{PASS_WRITE, upsert},
			{PASS_WRITE, has_p ? p->update_partial : NULL},
			{PASS_WRITE, append},
			{PASS_MARK, soft ? p->remove : NULL},
		};

		memcpy(stmts, table, sizeof(table));
	}
	return STEP_OK;
}

/* Run the statements of pass of a target's rows (copy_target). */
static enum step
run_target(struct sink_pg *s, const struct batch *b, struct sink_target *t,
		   const struct target_stmt stmts[TARGET_STMTS], enum pass pass,
		   char *errbuf, size_t errlen)
{
	size_t n = collapse_count(t->rows);

	for (int k = 0; k < TARGET_STMTS; k++) {
		enum step st;

		if (stmts[k].sql == NULL || stmts[k].pass != pass)
			continue;
		st = stmts[k].sql == t->plan->insert_new
				 ? insert_new_rows(s, t, n, errbuf, errlen)
				 : run_range(s, b, t, stmts[k].sql, 1, n, errbuf, errlen);
		if (st != STEP_OK)
			return st;
	}
	return STEP_OK;
}

/*
 * Apply the rows collected in the targets since the last call: COPY each
 * target's rows to its temp table, then run the passes of enum pass, each
 * over the targets in foreign key order (parents first) or its reverse.
 * The statements are the ones target-by-target apply would send, as many,
 * only in another order.  A batch this order cannot serve (a child moved
 * from one parent to another that is then deleted) fails with an
 * integrity violation and is redone in stream order (sink_pg_apply,
 * apply_facts).  again: the temp tables are used again in this
 * transaction (a truncate splits the batch, or it is applied in runs), so
 * empty them now; otherwise ON COMMIT DELETE ROWS does, without the new
 * relfilenode and catalog update a TRUNCATE costs.
 */
static enum step
apply_pending(struct sink_pg *s, const struct batch *b, struct sink_target *t,
			  size_t n, bool again, char *errbuf, size_t errlen)
{
	enum step st;

	for (size_t j = 0; j < n; j++) {
		st = copy_target(s, b, &t[j], &s->stmts[j * TARGET_STMTS], errbuf,
						 errlen);
		if (st != STEP_OK)
			return st;
	}
	for (int pass = 0; pass < PASS_COUNT; pass++)
		for (size_t k = 0; k < n; k++) {
			size_t at = pass == PASS_WRITE || pass == PASS_MOVE ? k : n - 1 - k;
			size_t j = s->norder == n ? s->order[at] : at;

			st = run_target(s, b, &t[j], &s->stmts[j * TARGET_STMTS],
							(enum pass) pass, errbuf, errlen);
			if (st != STEP_OK)
				return st;
		}
	for (size_t j = 0; j < n; j++) {
		if (collapse_count(t[j].rows) == 0)
			continue;
		if (again) {
			buf_reset(&s->q, 65536);
			buf_appendf(&s->q, "TRUNCATE %s", t[j].plan->tmp_table);
			st = exec_cmd(s, s->q.data, errbuf, errlen);
			if (st != STEP_OK)
				return st;
		}
		collapse_reset(t[j].rows);
	}
	memset(s->run, 0, n);
	return STEP_OK;
}

static bool
target_matches(const struct sink_target *t, const struct batch *b,
			   const struct batch_change *c)
{
	return c->schema != UINT32_MAX &&
		   strcmp(batch_text(b, c->schema), t->rule->from_schema) == 0 &&
		   strcmp(batch_text(b, c->table), t->rule->from_table) == 0;
}

/* Whether target t is truncated by a change of from..to-1 (T changes). */
static bool
truncated_by(const struct sink_pg *s, const struct batch *b,
			 const struct sink_target *t, size_t from, size_t to)
{
	if (t->rule->mode == MAP_MODE_NONE)
		return false;
	for (size_t i = from; i < to; i++)
		if (target_matches(t, b, batch_get(b, i)) &&
			!skipped(s, b, batch_get(b, i)))
			return true;
	return false;
}

/*
 * The error of a TRUNCATE of the targets (s->q) the analytics side
 * refused.  A foreign key from a table outside the statement (SQLSTATE
 * 0A000) is the configuration's to fix: say how.
 */
static enum step
truncate_error(struct sink_pg *s, const PGresult *r, char *errbuf,
			   size_t errlen)
{
	enum step st = classify(s, r);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);

	if (st != STEP_RETRY)
		st = STEP_FATAL;
	if (strcmp(sqlstate_or_empty(r), "0A000") != 0 || msg == NULL) {
		set_pq_error(errbuf, errlen, "could not truncate target tables",
					 s->conn, r);
		return st;
	}
	snprintf(errbuf, errlen,
			 "could not truncate %s: %s\n%s%swalpipe truncates together "
			 "the targets of the tables one source TRUNCATE names (a "
			 "CASCADE names every table it reached) and, like PostgreSQL's "
			 "own apply worker, does not cascade to other tables.  Drop or "
			 "change that foreign key on the analytics side, or set "
			 "on_truncate: ignore on the mappings of the truncated tables, "
			 "then restart walpipe.",
			 s->q.data + strlen("TRUNCATE "), msg, detail ? detail : "",
			 detail ? "\n" : "");
	return st;
}

/*
 * One TRUNCATE of the source: changes from..to-1, a T change per
 * relation it named, all with the TRUNCATE's LSN.  Their targets are
 * truncated together, by one statement, as the source did: a table
 * referenced by a foreign key can only be truncated with the table that
 * references it.  Targets with on_truncate: ignore are left out;
 * on_truncate: fail stops here.  The rows in hand of every target are
 * applied first: changes before the truncate land before it, in the order
 * their keys need.
 */
static enum step
truncate_group(struct sink_pg *s, const struct batch *b,
			   struct sink_target *t, size_t n, size_t from, size_t to,
			   char *errbuf, size_t errlen)
{
	bool any = false;
	PGresult *r;
	enum step st;

	for (size_t j = 0; j < n; j++) {
		if (!truncated_by(s, b, &t[j], from, to))
			continue;
		if (t[j].rule->on_truncate == MAP_TRUNCATE_FAIL) {
			char *f = ident_qualified(t[j].rule->from_schema,
									  t[j].rule->from_table);
			char *tq = ident_qualified(t[j].rule->to_schema,
									   t[j].rule->to_table);

			snprintf(errbuf, errlen,
					 "source table %s was truncated and its mapping to %s "
					 "says on_truncate: fail",
					 f, tq);
			free(f);
			free(tq);
			return STEP_FATAL;
		}
		any |= t[j].plan->truncate != NULL;
	}
	if (!any)
		return STEP_OK;
	/* A target shared with a mapping whose source was not truncated (the
	 * partitions of one table, say) holds that source's rows too. */
	for (size_t j = 0; j < n; j++) {
		if (!t[j].plan->truncate || !truncated_by(s, b, &t[j], from, to))
			continue;
		for (size_t k = 0; k < n; k++) {
			char *f, *tq, *other;

			if (t[k].rule->mode == MAP_MODE_NONE ||
				strcmp(t[k].plan->target, t[j].plan->target) != 0 ||
				truncated_by(s, b, &t[k], from, to))
				continue;
			f = ident_qualified(t[j].rule->from_schema, t[j].rule->from_table);
			tq = ident_qualified(t[j].rule->to_schema, t[j].rule->to_table);
			other = ident_qualified(t[k].rule->from_schema,
									t[k].rule->from_table);
			snprintf(errbuf, errlen,
					 "source table %s was truncated, but its target %s also "
					 "holds the rows of source table %s, which was not: "
					 "truncating the target would delete them\nTruncate the "
					 "tables that share a target together (the partitioned "
					 "table), or set on_truncate: ignore on their mappings.",
					 f, tq, other);
			free(f);
			free(tq);
			free(other);
			return STEP_FATAL;
		}
	}
	st = apply_pending(s, b, t, n, true, errbuf, errlen);
	if (st != STEP_OK)
		return st;
	buf_reset(&s->q, 65536);
	buf_append_str(&s->q, "TRUNCATE ");
	for (size_t j = 0, listed = 0; j < n; j++) {
		bool dup = false;

		if (!t[j].plan->truncate || !truncated_by(s, b, &t[j], from, to))
			continue;
		/* Two mappings may share a target table. */
		for (size_t k = 0; k < j && !dup; k++)
			dup = t[k].plan->truncate &&
				  strcmp(t[k].plan->target, t[j].plan->target) == 0 &&
				  truncated_by(s, b, &t[k], from, to);
		if (dup)
			continue;
		buf_appendf(&s->q, "%s%s", listed++ ? ", " : "", t[j].plan->target);
	}
	r = PQexec(s->conn, s->q.data);
	if (s->stats)
		s->stats->statements++;
	st = PQresultStatus(r) == PGRES_COMMAND_OK
			 ? STEP_OK
			 : truncate_error(s, r, errbuf, errlen);
	PQclear(r);
	return st;
}

/*
 * Stream order.  apply_pending runs all deletes before all writes, the
 * deletes children first, the writes parents first, each statement over
 * many rows at once.  Of the ways that differs from the source's order,
 * two can break a foreign key: a delete run before a write that came
 * first in the stream, to the same or a related target (a child moved off
 * a parent, then the parent deleted), and any reordering between the
 * members of a cycle of keys.  The others cannot: deleting a child
 * earlier never hurts, and neither does writing a parent earlier (an
 * upsert never removes a key; a key that changes is a delete and an
 * insert).
 *
 * So in stream order a run of changes ends before a change that would be
 * reordered like that, and the run in hand is applied first, set-based.
 * Runs are few: a batch alternating between parents and their children
 * is one run, where a run per switch of table would cost a COPY and a
 * statement per change (10,000 runs took 20 s).  Stream order does not
 * help a unique value that moves between two rows written in one run
 * (the statements write them in their own order): careful mode
 * dead-letters the row that fails.
 */
#define RUN_ANY 1u
#define RUN_WRITE 2u
#define RUN_REMOVE 4u

/* What change c does to target t (RUN_*).  An update that carries the
 * old key may have changed it: the collapse deletes the old key then. */
static unsigned
run_effect(const struct sink_target *t, const struct batch_change *c)
{
	bool removes = t->plan->remove && !t->plan->soft_delete;

	if (c->action == W2J_DELETE)
		return RUN_ANY | (removes ? RUN_REMOVE : 0);
	if (c->action == W2J_UPDATE && c->nident > 0 && removes)
		return RUN_ANY | RUN_WRITE | RUN_REMOVE;
	return RUN_ANY | RUN_WRITE;
}

/* Whether a change with effect on target j must wait until the run in
 * hand is applied (see above).  s->run[u]: the effects of the run's
 * changes on target u. */
static bool
run_ends(const struct sink_pg *s, size_t n, size_t j, unsigned effect)
{
	for (size_t u = 0; u < n; u++) {
		bool up, down;

		if (s->run[u] == 0)
			continue;
		/* Without the foreign keys (not read): every target may be
		 * related to every other. */
		up = s->norder != n || s->reach[u * n + j];
		down = s->norder != n || s->reach[j * n + u];
		if (u != j && up && down)
			return true; /* a cycle */
		if ((effect & RUN_REMOVE) && (s->run[u] & RUN_WRITE) &&
			(u == j || up || down))
			return true;
	}
	return false;
}

/*
 * Apply the fact changes of batch b.  Set-based: every target's changes
 * merged per key and applied by apply_pending once, or in pieces split by
 * truncates.  In stream order (s->in_order) also in runs (see above).
 * more: the transaction goes on with another batch (a snapshot copies a
 * table in one transaction), so the temp tables must be emptied now; ON
 * COMMIT DELETE ROWS would be too late and the next batch's _seq range
 * would select these rows again.
 */
static enum step
apply_facts(struct sink_pg *s, const struct batch *b, struct sink_target *t,
			size_t n, bool more, char *errbuf, size_t errlen)
{
	size_t count = batch_count(b);
	enum step st;

	if (s->nstmts < n) {
		s->stmts = wp_realloc(s->stmts, n * TARGET_STMTS * sizeof(*s->stmts));
		s->run = wp_realloc(s->run, n);
		s->nstmts = n;
	}
	memset(s->run, 0, n);
	for (size_t j = 0; j < n; j++)
		collapse_reset(t[j].rows);
	for (size_t i = 0; i < count; i++) {
		const struct batch_change *c = batch_get(b, i);

		if (c->action == W2J_MESSAGE || skipped(s, b, c))
			continue;
		if (c->action == W2J_TRUNCATE) {
			/* wal2json sends a T message per relation of a TRUNCATE,
			 * one after another, each with the TRUNCATE's LSN. */
			size_t end = i + 1;

			while (end < count &&
				   batch_get(b, end)->action == W2J_TRUNCATE &&
				   batch_get(b, end)->lsn == c->lsn)
				end++;
			st = truncate_group(s, b, t, n, i, end, errbuf, errlen);
			if (st != STEP_OK)
				return st;
			i = end - 1;
			continue;
		}
		for (size_t j = 0; s->in_order && j < n; j++) {
			if (t[j].rule->mode == MAP_MODE_NONE ||
				!target_matches(&t[j], b, c) ||
				!run_ends(s, n, j, run_effect(&t[j], c)))
				continue;
			st = apply_pending(s, b, t, n, true, errbuf, errlen);
			if (st != STEP_OK)
				return st;
			break;
		}
		for (size_t j = 0; j < n; j++) {
			if (t[j].rule->mode == MAP_MODE_NONE || !target_matches(&t[j], b, c))
				continue;
			if (s->in_order)
				s->run[j] |= run_effect(&t[j], c);
			collapse_add(t[j].rows, b, i, t[j].plan, t[j].srccols,
						 t[j].rule->mode == MAP_MODE_UPSERT);
		}
	}
	return apply_pending(s, b, t, n, more, errbuf, errlen);
}

static enum step
apply_once(struct sink_pg *s, const struct batch *b, struct sink_target *t,
		   size_t n, const struct checkpoint *ckpt, char *errbuf,
		   size_t errlen)
{
	enum step st;
	lsn_t lo = LSN_INVALID;

	for (size_t i = 0; b && i < batch_count(b); i++)
		if (lo == LSN_INVALID || batch_get(b, i)->txn_end < lo)
			lo = batch_get(b, i)->txn_end;
	st = begin_batch(s, b != NULL, lo, errbuf, errlen);
	if (st == STEP_OK && b)
		st = stage_batch(s, b, errbuf, errlen);
	if (st == STEP_OK && b)
		st = apply_facts(s, b, t, n, false, errbuf, errlen);
	if (st == STEP_OK)
		st = write_checkpoint(s, ckpt, errbuf, errlen);
	if (st == STEP_OK)
		st = exec_cmd(s, "COMMIT", errbuf, errlen);
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
		exec_cmd(s, "ROLLBACK", ignore, sizeof(ignore));
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
			  size_t n, const struct checkpoint *ckpt,
			  struct sink_stats *local, char *errbuf, size_t errlen)
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
			  void *arg, struct sink_stats *stats, char *errbuf,
			  size_t errlen)
{
	struct sink_stats local;
	enum step st;

	s->stats = &local;
	s->tick = tick;
	s->tick_arg = arg;
	/*
	 * Optimistic first: set-based, in foreign key order, no savepoints.
	 * A row error rolls the batch back.  If it may come from the order
	 * the rows went in (order_related), the batch is redone in stream
	 * order; if that fails too, or the error is a row's own, it is redone
	 * carefully, bisecting to the bad rows.  Careful mode set-based
	 * stops at a row whose error may come from order and goes in stream
	 * order too: only a row that fails there is a dead letter.
	 */
	s->careful = false;
	s->in_order = false;
	s->timed_out = false;
	st = apply_attempt(s, b, t, n, ckpt, &local, errbuf, errlen);
	if (st == STEP_DATA && order_related(s->row_state)) {
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
		return to_result(st);
	if (stats) {
		stats->staged += local.staged;
		stats->applied += local.applied;
		stats->dead_letters += local.dead_letters;
		stats->statements += local.statements;
	}
	return SINK_OK;
}

/* Run sql asynchronously, ticking while the server works. */
static PGresult *
exec_ticking(struct sink_pg *s, const char *sql, void (*tick)(void *),
			 void *arg)
{
	PGresult *r, *last = NULL;

	if (!PQsendQuery(s->conn, sql))
		return NULL;
	for (;;) {
		struct pollfd p = {PQsocket(s->conn), POLLIN, 0};

		if (!PQconsumeInput(s->conn))
			break;
		if (!PQisBusy(s->conn))
			break;
		poll(&p, 1, 100);
		if (tick)
			tick(arg);
	}
	while ((r = PQgetResult(s->conn)) != NULL) {
		PQclear(last);
		last = r;
	}
	return last;
}

enum sink_result
sink_pg_refresh(struct sink_pg *s, const char *schema, const char *view,
				bool concurrently, void (*tick)(void *), void *arg,
				char *errbuf, size_t errlen)
{
	char *qs = quote_ident(schema), *qv = quote_ident(view);
	char *name = ident_qualified(schema, view), ms[24];
	const char *params[3];
	struct timespec t0, t1;
	PGresult *r;
	enum sink_result res = SINK_OK;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q, "REFRESH MATERIALIZED VIEW %s%s.%s",
				concurrently ? "CONCURRENTLY " : "", qs, qv);
	r = exec_ticking(s, s->q.data, tick, arg);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok && concurrently && r &&
		strcmp(sqlstate_or_empty(r), "55000") == 0) {
		/* Not populated yet, or no unique index: refresh plainly. */
		PQclear(r);
		buf_reset(&s->q, 65536);
		buf_appendf(&s->q, "REFRESH MATERIALIZED VIEW %s.%s", qs, qv);
		r = exec_ticking(s, s->q.data, tick, arg);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!ok) {
		res = PQstatus(s->conn) != CONNECTION_OK ? SINK_RETRY : SINK_FATAL;
		set_pq_error(errbuf, errlen, "could not refresh materialized view",
					 s->conn, r);
	}
	PQclear(r);
	snprintf(ms, sizeof(ms), "%lld",
			 (long long) ((t1.tv_sec - t0.tv_sec) * 1000 +
						  (t1.tv_nsec - t0.tv_nsec) / 1000000));
	params[0] = name;
	params[1] = ok ? NULL : errbuf;
	params[2] = ms;
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"INSERT INTO %s.refreshes AS f (view, last_ok_at, last_error, "
				"last_error_at, duration_ms) VALUES ($1, CASE WHEN $2::text IS "
				"NULL THEN now() END, $2, CASE WHEN $2 IS NOT NULL THEN now() "
				"END, $3) ON CONFLICT (view) DO UPDATE SET last_ok_at = "
				"coalesce(EXCLUDED.last_ok_at, f.last_ok_at), last_error = "
				"coalesce(EXCLUDED.last_error, f.last_error), last_error_at = "
				"coalesce(EXCLUDED.last_error_at, f.last_error_at), "
				"duration_ms = EXCLUDED.duration_ms",
				s->qschema);
	if (res != SINK_RETRY)
		PQclear(PQexecParams(s->conn, s->q.data, 3, NULL, params, NULL, NULL,
							 0));
	free(qs);
	free(qv);
	free(name);
	return res;
}

enum sink_result
sink_pg_snapshot_register(struct sink_pg *s, char *const *tables, size_t n,
						  const char *kind, char *errbuf, size_t errlen)
{
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"INSERT INTO %s.snapshot_tables (source, source_table, kind, "
				"state) VALUES ($1, $2, $3, 'pending') ON CONFLICT DO NOTHING",
				s->qschema);
	for (size_t i = 0; i < n; i++) {
		const char *params[3] = {s->cfg.source, tables[i], kind};
		enum step st = exec_params(s, "could not register a snapshot table",
								   3, params, errbuf, errlen);

		if (st != STEP_OK)
			return to_result(st);
	}
	return SINK_OK;
}

enum sink_result
sink_pg_snapshot_todo(struct sink_pg *s, char ***tables, size_t *n,
					  char *errbuf, size_t errlen)
{
	const char *params[1] = {s->cfg.source};
	PGresult *r = NULL;
	enum step st;

	*tables = NULL;
	*n = 0;
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"SELECT source_table FROM %s.snapshot_tables WHERE source = $1 "
				"AND state <> 'done' AND kind <> 'backfill' ORDER BY "
				"source_table",
				s->qschema);
	st = exec_params_result(s, "could not read the snapshot state", 1, params,
							&r, errbuf, errlen);
	if (st != STEP_OK)
		return to_result(st);
	*n = (size_t) PQntuples(r);
	*tables = wp_calloc(*n ? *n : 1, sizeof(char *));
	for (size_t i = 0; i < *n; i++)
		(*tables)[i] = wp_strdup(PQgetvalue(r, (int) i, 0));
	PQclear(r);
	return SINK_OK;
}

/*
 * Under the checkpoint lock: refuse to backfill a table whose previous
 * (initial or resumed) copy the stream has not passed yet.  Its skip
 * position would be lost and changes before it applied twice.
 */
static enum step
check_backfill(struct sink_pg *s, const char *table, char *errbuf,
			   size_t errlen)
{
	const char *params[2] = {s->cfg.source, table};
	PGresult *r = NULL;
	enum step st;

	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"SELECT t.snapshot_lsn::text, c.lsn::text FROM "
				"%s.snapshot_tables t JOIN %s.checkpoints c USING (source) "
				"WHERE t.source = $1 AND t.source_table = $2 AND t.state = "
				"'done' AND t.kind <> 'backfill' AND t.snapshot_lsn > c.lsn",
				s->qschema, s->qschema);
	st = exec_params_result(s, "could not check the snapshot state", 2,
							params, &r, errbuf, errlen);
	if (st == STEP_OK && PQntuples(r) > 0) {
		snprintf(errbuf, errlen,
				 "table \"%s\" was copied at %s and walpipe run has only "
				 "applied up to %s\nWait until walpipe run has caught up, "
				 "then backfill.",
				 table, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		st = STEP_FATAL;
	}
	PQclear(r);
	return st;
}

enum sink_result
sink_pg_snapshot_begin(struct sink_pg *s, const char *backfill_table,
					   char *errbuf, size_t errlen)
{
	enum step st = exec_cmd(s, "BEGIN", errbuf, errlen);

	if (st == STEP_OK && backfill_table)
		st = lock_checkpoint(s, errbuf, errlen);
	if (st == STEP_OK && backfill_table)
		st = check_backfill(s, backfill_table, errbuf, errlen);
	if (st != STEP_OK) {
		sink_pg_snapshot_abort(s);
		return to_result(st);
	}
	return SINK_OK;
}

static enum step
snapshot_apply_once(struct sink_pg *s, const struct batch *b,
					struct sink_target *t, size_t n, char *errbuf,
					size_t errlen)
{
	enum step st = exec_cmd(s, "SAVEPOINT walpipe_chunk", errbuf, errlen);

	if (st == STEP_OK)
		st = stage_batch(s, b, errbuf, errlen);
	if (st == STEP_OK)
		st = apply_facts(s, b, t, n, true, errbuf, errlen);
	if (st == STEP_OK)
		return exec_cmd(s, "RELEASE SAVEPOINT walpipe_chunk", errbuf, errlen);
	if ((st == STEP_DATA || st == STEP_CONFLICT) &&
		PQstatus(s->conn) == CONNECTION_OK) {
		char ignore[256];

		if (PQtransactionStatus(s->conn) == PQTRANS_ACTIVE) {
			PQputCopyEnd(s->conn, "walpipe: aborting chunk");
			PQclear(PQgetResult(s->conn));
		}
		if (exec_cmd(s, "ROLLBACK TO SAVEPOINT walpipe_chunk", ignore,
					 sizeof(ignore)) != STEP_OK)
			return STEP_RETRY;
	}
	return st;
}

enum sink_result
sink_pg_snapshot_apply(struct sink_pg *s, const struct batch *b,
					   struct sink_target *t, size_t n,
					   struct sink_stats *stats, char *errbuf, size_t errlen)
{
	struct sink_stats before;
	enum step st;

	/* A chunk redone after a rollback counts once. */
	if (stats)
		before = *stats;
	s->stats = stats;
	s->careful = false;
	skips_free(s); /* snapshot rows are never skipped */
	st = snapshot_apply_once(s, b, t, n, errbuf, errlen);
	/* Each conflict turns one target's plain inserts off: bounded. */
	for (size_t k = 0; st == STEP_CONFLICT && k <= n; k++) {
		if (stats)
			*stats = before;
		st = snapshot_apply_once(s, b, t, n, errbuf, errlen);
	}
	if (st == STEP_DATA) {
		if (stats)
			*stats = before;
		/* A snapshot's batch holds one table's rows: stream order is
		 * the only order there is, and a row failing is a dead letter
		 * whatever the reason (see run_range). */
		s->careful = true;
		s->in_order = true;
		st = snapshot_apply_once(s, b, t, n, errbuf, errlen);
		s->careful = false;
		s->in_order = false;
		if (st == STEP_DATA)
			st = STEP_FATAL;
	}
	s->stats = NULL;
	return st == STEP_OK ? SINK_OK : to_result(st);
}

enum sink_result
sink_pg_snapshot_finish(struct sink_pg *s, const char *table, const char *kind,
						lsn_t snapshot_lsn, uint64_t rows, char *errbuf,
						size_t errlen)
{
	char lsn[LSN_STRLEN], nrows[24];
	const char *params[5] = {s->cfg.source, table, kind,
							 lsn_format(snapshot_lsn, lsn), nrows};
	enum step st;

	snprintf(nrows, sizeof(nrows), "%llu", (unsigned long long) rows);
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"INSERT INTO %s.snapshot_tables AS t (source, source_table, "
				"kind, state, snapshot_lsn, rows_copied, started_at, "
				"finished_at) VALUES ($1, $2, $3, 'done', $4, $5, clock_timestamp(), "
				"clock_timestamp()) "
				"ON CONFLICT (source, source_table) DO UPDATE SET kind = "
				"EXCLUDED.kind, state = 'done', snapshot_lsn = "
				"EXCLUDED.snapshot_lsn, rows_copied = EXCLUDED.rows_copied, "
				"started_at = coalesce(t.started_at, clock_timestamp()), "
				"finished_at = clock_timestamp(), updated_at = clock_timestamp()",
				s->qschema);
	st = exec_params(s, "could not record a finished snapshot table", 5,
					 params, errbuf, errlen);
	if (st == STEP_OK)
		st = exec_cmd(s, "COMMIT", errbuf, errlen);
	if (st != STEP_OK) {
		sink_pg_snapshot_abort(s);
		return to_result(st);
	}
	return SINK_OK;
}

void
sink_pg_snapshot_abort(struct sink_pg *s)
{
	char ignore[256];

	if (PQstatus(s->conn) != CONNECTION_OK ||
		PQtransactionStatus(s->conn) == PQTRANS_IDLE)
		return;
	if (PQtransactionStatus(s->conn) == PQTRANS_ACTIVE) {
		PQputCopyEnd(s->conn, "walpipe: aborting snapshot");
		PQclear(PQgetResult(s->conn));
	}
	exec_cmd(s, "ROLLBACK", ignore, sizeof(ignore));
}

enum sink_result
sink_pg_snapshot_progress(struct sink_pg *s, const char *table,
						  const char *kind, bool starting, lsn_t snapshot_lsn,
						  uint64_t rows, int64_t estimate, char *errbuf,
						  size_t errlen)
{
	char lsn[LSN_STRLEN], nrows[24], est[24];
	const char *params[6] = {s->cfg.source,
							 table,
							 kind,
							 lsn_format(snapshot_lsn, lsn),
							 nrows,
							 estimate >= 0 ? est : NULL};

	snprintf(nrows, sizeof(nrows), "%llu", (unsigned long long) rows);
	snprintf(est, sizeof(est), "%lld", (long long) estimate);
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"INSERT INTO %s.snapshot_tables AS t (source, source_table, "
				"kind, state, snapshot_lsn, rows_copied, rows_estimated, "
				"started_at) VALUES ($1, $2, $3, 'copying', $4, $5, $6, now()) "
				"ON CONFLICT (source, source_table) DO UPDATE SET kind = "
				"EXCLUDED.kind, state = 'copying', rows_copied = "
				"EXCLUDED.rows_copied, rows_estimated = EXCLUDED.rows_estimated, "
				"%s updated_at = now()",
				s->qschema,
				starting ? "snapshot_lsn = EXCLUDED.snapshot_lsn, started_at = "
						   "now(), finished_at = NULL,"
						 : "");
	return to_result_ok(exec_params(s, "could not record snapshot progress",
									6, params, errbuf, errlen));
}

void
sink_pg_close(struct sink_pg *s)
{
	if (s == NULL)
		return;
	PQfinish(s->conn);
	skips_free(s);
	free(s->order);
	free(s->reach);
	free(s->stmts);
	free(s->run);
	free(s->qschema);
	free(s->lsource);
	free(s->qstaging);
	buf_free(&s->q);
	buf_free(&s->copy);
	free(s);
}
