/* sink_backfill.c: online backfills' analytics side: registered, listed, each chunk's end. */
#include "walpipe/sink_pg.h"

#include "sink_pg_int.h"
#include "walpipe/buf.h"
#include "walpipe/mem.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Inside sink_pg_record_rules' transaction, before the previous rules are
 * replaced: a mapping whose rule is new (reason added) or differs from
 * the one recorded (changed) gets a pending backfill.  Nothing on a
 * source that recorded no rules yet (its first session copies every
 * table by the initial snapshot, or the rules of an older walpipe were
 * never recorded), nor for a changed append mapping (its rows are events
 * that happened; re-reading the table would add a read event per row).
 */
enum step
backfill_register(struct sink_pg *s, const char *from, const char *to,
				  const char *rule, bool when_changed, char *errbuf,
				  size_t errlen)
{
	const char *p[5] = {s->cfg.source, from, to, rule,
						when_changed ? "t" : "f"};

	buf_reset(&s->q, 65536);
	buf_appendf(
		&s->q,
		"INSERT INTO %s.backfills AS b (source, source_table, target, "
		"reason, state, rule) SELECT $1, $2, $3, CASE WHEN EXISTS (SELECT "
		"FROM %s.applied_rules WHERE source = $1 AND source_table = $2 AND "
		"target = $3) THEN 'changed' ELSE 'added' END, 'pending', $4 "
		"WHERE EXISTS (SELECT FROM %s.applied_rules WHERE source = $1) AND "
		"NOT EXISTS (SELECT FROM %s.applied_rules WHERE source = $1 AND "
		"source_table = $2 AND target = $3 AND rule = $4) AND ($5::boolean "
		"OR NOT EXISTS (SELECT FROM %s.applied_rules WHERE source = $1 AND "
		"source_table = $2 AND target = $3)) "
		"ON CONFLICT (source, source_table, target) DO UPDATE SET reason = "
		"EXCLUDED.reason, state = 'pending', rule = EXCLUDED.rule, last_key "
		"= NULL, chunks = 0, rows_copied = 0, rows_removed = 0, "
		"rows_estimated = NULL, sweeps = NULL, note = NULL, requested_at = "
		"pg_catalog.now(), started_at = NULL, finished_at = NULL, "
		"updated_at = pg_catalog.now()",
		s->qschema, s->qschema, s->qschema, s->qschema, s->qschema);
	return sink_exec_params(s, "could not register a backfill", 5, p, NULL,
							errbuf, errlen);
}

enum sink_result
sink_pg_backfill_request(struct sink_pg *s, const char *from, const char *to,
						 const char *rule, char *errbuf, size_t errlen)
{
	const char *p[4] = {s->cfg.source, from, to, rule};

	buf_reset(&s->q, 65536);
	buf_appendf(
		&s->q,
		"INSERT INTO %s.backfills AS b (source, source_table, target, "
		"reason, state, rule) VALUES ($1, $2, $3, 'requested', 'pending', "
		"$4) ON CONFLICT (source, source_table, target) DO UPDATE SET "
		"reason = 'requested', state = 'pending', rule = EXCLUDED.rule, "
		"last_key = NULL, chunks = 0, rows_copied = 0, rows_removed = 0, "
		"rows_estimated = NULL, sweeps = NULL, note = NULL, requested_at = "
		"pg_catalog.now(), started_at = NULL, finished_at = NULL, "
		"updated_at = pg_catalog.now()",
		s->qschema);
	return sink_result_of(sink_exec_params(s, "could not request a backfill",
										   4, p, NULL, errbuf, errlen));
}

void
sink_backfill_free(struct sink_backfill *b, size_t n)
{
	for (size_t i = 0; b && i < n; i++) {
		free(b[i].source_table);
		free(b[i].target);
		free(b[i].reason);
		for (size_t k = 0; k < b[i].nlast; k++)
			free(b[i].last_key[k]);
		free(b[i].last_key);
	}
	free(b);
}

/* The last key copied of backfill b (nlast values). */
static enum step
backfill_last_key(struct sink_pg *s, struct sink_backfill *b, char *errbuf,
				  size_t errlen)
{
	const char *p[3] = {s->cfg.source, b->source_table, b->target};
	PGresult *r = NULL;
	enum step st;

	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"SELECT u.k FROM %s.backfills b, unnest(b.last_key) WITH "
				"ORDINALITY AS u(k, n) WHERE b.source = $1 AND b.source_table "
				"= $2 AND b.target = $3 ORDER BY u.n",
				s->qschema);
	st = sink_exec_params(s, "could not read the backfills", 3, p, &r, errbuf,
						  errlen);
	if (st == STEP_OK) {
		b->nlast = (size_t) PQntuples(r);
		b->last_key = wp_calloc(b->nlast ? b->nlast : 1, sizeof(char *));
		for (size_t k = 0; k < b->nlast; k++)
			b->last_key[k] = wp_strdup(PQgetvalue(r, (int) k, 0));
	}
	PQclear(r);
	return st;
}

enum sink_result
sink_pg_backfills(struct sink_pg *s, bool all, struct sink_backfill **out,
				  size_t *n, char *errbuf, size_t errlen)
{
	const char *p[1] = {s->cfg.source};
	PGresult *r = NULL;
	enum step st;

	*out = NULL;
	*n = 0;
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"SELECT source_table, target, reason, state, chunks, "
				"rows_copied, rows_removed, coalesce(rows_estimated, -1), "
				"coalesce(array_length(last_key, 1), 0), "
				"coalesce(extract(epoch FROM pg_catalog.now() - started_at), "
				"-1), coalesce(note, '') FROM %s.backfills WHERE source = $1 "
				"%s ORDER BY requested_at, source_table, target",
				s->qschema,
				all ? "" : "AND state IN ('pending', 'copying')");
	st = sink_exec_params(s, "could not read the backfills", 1, p, &r, errbuf,
						  errlen);
	if (st != STEP_OK)
		return sink_result_of(st);
	*n = (size_t) PQntuples(r);
	*out = wp_calloc(*n ? *n : 1, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		struct sink_backfill *b = &(*out)[i];
		int row = (int) i;

		b->source_table = wp_strdup(PQgetvalue(r, row, 0));
		b->target = wp_strdup(PQgetvalue(r, row, 1));
		b->reason = wp_strdup(PQgetvalue(r, row, 2));
		snprintf(b->state, sizeof(b->state), "%s", PQgetvalue(r, row, 3));
		b->chunks = strtoull(PQgetvalue(r, row, 4), NULL, 10);
		b->rows = strtoull(PQgetvalue(r, row, 5), NULL, 10);
		b->removed = strtoull(PQgetvalue(r, row, 6), NULL, 10);
		b->estimate = strtoll(PQgetvalue(r, row, 7), NULL, 10);
		b->seconds = strtod(PQgetvalue(r, row, 9), NULL);
		snprintf(b->note, sizeof(b->note), "%s", PQgetvalue(r, row, 10));
		b->nlast = (size_t) strtoul(PQgetvalue(r, row, 8), NULL, 10);
	}
	PQclear(r);
	for (size_t i = 0; st == STEP_OK && i < *n; i++)
		if ((*out)[i].nlast > 0)
			st = backfill_last_key(s, &(*out)[i], errbuf, errlen);
	if (st != STEP_OK) {
		sink_backfill_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return sink_result_of(st);
}

/* A text[] literal of values[0..n): {"a","b\"c"}. */
static void
append_text_array(struct buf *b, const char *const *values, size_t n)
{
	buf_append_char(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_append_char(b, ',');
		buf_append_char(b, '"');
		for (const char *c = values[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				buf_append_char(b, '\\');
			buf_append_char(b, *c);
		}
		buf_append_char(b, '"');
	}
	buf_append_char(b, '}');
}

enum sink_result
sink_pg_backfill_start(struct sink_pg *s, const struct sink_backfill *b,
					   const char *state, bool sweeps, const char *note,
					   char *errbuf, size_t errlen)
{
	char est[24];
	const char *p[7] = {s->cfg.source, b->source_table, b->target, state,
						sweeps ? "t" : "f", note && note[0] ? note : NULL,
						b->estimate >= 0 ? est : NULL};

	snprintf(est, sizeof(est), "%lld", (long long) b->estimate);
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"UPDATE %s.backfills SET state = $4, sweeps = $5::boolean, "
				"note = $6, rows_estimated = $7::bigint, started_at = "
				"coalesce(started_at, pg_catalog.now()), finished_at = CASE "
				"WHEN $4 = 'copying' THEN NULL ELSE pg_catalog.now() END, "
				"updated_at = pg_catalog.now() WHERE source = $1 AND "
				"source_table = $2 AND target = $3",
				s->qschema);
	return sink_result_of(sink_exec_params(s, "could not record a backfill", 7,
										   p, NULL, errbuf, errlen));
}

void
sink_pg_set_chunk(struct sink_pg *s, struct sink_chunk *chunk)
{
	s->chunk = chunk;
}

/* Rows a command changed, from its result's tuple count. */
static uint64_t
affected(PGresult *r)
{
	const char *t = PQcmdTuples(r);

	return t && *t ? strtoull(t, NULL, 10) : 0;
}

/*
 * After the chunk's rows are applied, in their transaction: remove the
 * target rows of its key range that no source row maps to any more, and
 * record where the backfill is, so that this transaction's commit holds
 * the rows, the sweep, the progress and the checkpoint together.
 */
enum step
backfill_chunk_finish(struct sink_pg *s, char *errbuf, size_t errlen)
{
	struct sink_chunk *c = s->chunk;
	struct buf last = BUF_INIT;
	char rows[24], removed[24];
	const char *p[7];
	PGresult *r = NULL;
	enum step st = STEP_OK;

	c->removed = 0;
	if (c->sweep) {
		enum pgconn_outcome o = pgconn_exec(
			s->conn, c->sweep, "could not remove the rows no longer matching",
			&r, errbuf, errlen);

		if (o != PGCONN_OK)
			return sink_step_of(s, o);
		c->removed = affected(r);
		PQclear(r);
	}
	if (c->nlast > 0)
		append_text_array(&last, (const char *const *) c->last_key, c->nlast);
	snprintf(rows, sizeof(rows), "%llu", (unsigned long long) c->rows);
	snprintf(removed, sizeof(removed), "%llu", (unsigned long long) c->removed);
	p[0] = s->cfg.source;
	p[1] = c->source_table;
	p[2] = c->target;
	p[3] = c->done ? "done" : "copying";
	p[4] = c->nlast > 0 ? last.data : NULL;
	p[5] = rows;
	p[6] = removed;
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"UPDATE %s.backfills SET state = $4, last_key = "
				"coalesce($5::text[], last_key), chunks = chunks + 1, "
				"rows_copied = rows_copied + $6::bigint, rows_removed = "
				"rows_removed + $7::bigint, finished_at = CASE WHEN $4 = "
				"'done' THEN pg_catalog.now() END, updated_at = "
				"pg_catalog.now() WHERE source = $1 AND source_table = $2 AND "
				"target = $3 AND state = 'copying'",
				s->qschema);
	st = sink_exec_params(s, "could not record a backfill chunk", 7, p, &r,
						  errbuf, errlen);
	if (st == STEP_OK && affected(r) != 1) {
		/* Someone re-registered or removed it meanwhile: this chunk
		 * belongs to a backfill that is no longer there. */
		snprintf(errbuf, errlen,
				 "the backfill of \"%s\" into \"%s\" changed while a chunk "
				 "was applied",
				 c->source_table, c->target);
		st = STEP_RETRY;
	}
	PQclear(r);
	buf_free(&last);
	return st;
}
