/* sink_snapshot.c: a snapshot's analytics side, a transaction per table. */
#include "walpipe/sink_pg.h"

#include "sink_pg_int.h"
#include "walpipe/batch.h"
#include "walpipe/buf.h"
#include "walpipe/lsn.h"
#include "walpipe/mem.h"
#include "walpipe/pgconn.h"
#include "walpipe/streampos.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		enum step st =
			sink_exec_params(s, "could not register a snapshot table", 3,
							 params, NULL, errbuf, errlen);

		if (st != STEP_OK)
			return sink_result_of(st);
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
	st = sink_exec_params(s, "could not read the snapshot state", 1, params, &r,
						  errbuf, errlen);
	if (st != STEP_OK)
		return sink_result_of(st);
	*n = (size_t) PQntuples(r);
	*tables = wp_calloc(*n ? *n : 1, sizeof(char *));
	for (size_t i = 0; i < *n; i++)
		(*tables)[i] = wp_strdup(PQgetvalue(r, (int) i, 0));
	PQclear(r);
	return SINK_OK;
}

enum sink_result
sink_pg_snapshot_begin(struct sink_pg *s, char *errbuf, size_t errlen)
{
	enum step st = sink_exec(s, "BEGIN", errbuf, errlen);

	if (st != STEP_OK) {
		sink_pg_snapshot_abort(s);
		return sink_result_of(st);
	}
	return SINK_OK;
}

static enum step
snapshot_apply_once(struct sink_pg *s, const struct batch *b,
					struct sink_target *t, size_t n, char *errbuf,
					size_t errlen)
{
	enum step st = sink_exec(s, "SAVEPOINT walpipe_chunk", errbuf, errlen);

	if (st == STEP_OK)
		st = sink_stage_batch(s, b, errbuf, errlen);
	if (st == STEP_OK)
		st = sink_facts_apply(s, b, t, n, errbuf, errlen);
	if (st == STEP_OK)
		return sink_exec(s, "RELEASE SAVEPOINT walpipe_chunk", errbuf, errlen);
	if ((st == STEP_DATA || st == STEP_CONFLICT) &&
		PQstatus(s->conn) == CONNECTION_OK) {
		char ignore[256];

		if (PQtransactionStatus(s->conn) == PQTRANS_ACTIVE) {
			PQputCopyEnd(s->conn, "walpipe: aborting chunk");
			PQclear(PQgetResult(s->conn));
		}
		if (sink_exec(s, "ROLLBACK TO SAVEPOINT walpipe_chunk", ignore,
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
	checkpoint_skips_free(s); /* snapshot rows are never checkpoint_skipped */
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
	return st == STEP_OK ? SINK_OK : sink_result_of(st);
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
	buf_appendf(
		&s->q,
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
	st = sink_exec_params(s, "could not record a finished snapshot table", 5,
						  params, NULL, errbuf, errlen);
	if (st == STEP_OK)
		st = sink_exec(s, "COMMIT", errbuf, errlen);
	if (st != STEP_OK) {
		sink_pg_snapshot_abort(s);
		return sink_result_of(st);
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
	sink_exec(s, "ROLLBACK", ignore, sizeof(ignore));
}

enum sink_result
sink_pg_snapshot_progress(struct sink_pg *s, const char *table,
						  const char *kind, bool starting, lsn_t snapshot_lsn,
						  uint64_t rows, int64_t estimate, char *errbuf,
						  size_t errlen)
{
	char lsn[LSN_STRLEN], nrows[24], est[24];
	const char *params[6] = {s->cfg.source, table,
							 kind,			lsn_format(snapshot_lsn, lsn),
							 nrows,			estimate >= 0 ? est : NULL};

	snprintf(nrows, sizeof(nrows), "%llu", (unsigned long long) rows);
	snprintf(est, sizeof(est), "%lld", (long long) estimate);
	buf_reset(&s->q, 65536);
	buf_appendf(
		&s->q,
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
	return sink_result_of(sink_exec_params(s,
										   "could not record snapshot progress",
										   6, params, NULL, errbuf, errlen));
}
