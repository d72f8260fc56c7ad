/* sink_dlq.c: dead letters: changes refused, kept with the reason. */
#include "sink_pg_int.h"

#include "walpipe/batch.h"
#include "walpipe/buf.h"
#include "walpipe/collapse.h"
#include "walpipe/ident.h"
#include "walpipe/map.h"
#include "walpipe/pgconn.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Dead-letter change idx of b, bound for target_table.  The payload goes
 * in as jsonb, or, when jsonb cannot hold it (a \u0000, a string over
 * jsonb's size limit), as text in payload_text: any change that reached
 * walpipe can be recorded.
 */
enum step
sink_dlq_change(struct sink_pg *s, const struct batch *b, size_t idx,
				const char *source_table, const char *target_table,
				const char *error, const char *sqlstate, char *errbuf,
				size_t errlen)
{
	const struct batch_change *c = batch_get(b, idx);
	char lsn[LSN_STRLEN], xid[16], op[2];
	const char *params[10];
	enum step st;

	snprintf(xid, sizeof(xid), "%u", c->xid);
	op[0] = c->op;
	op[1] = '\0';
	params[0] = s->cfg.source;
	params[1] = source_table;
	params[2] = target_table;
	params[3] = lsn_format(c->lsn, lsn);
	params[4] = xid;
	params[5] = op;
	buf_reset(&s->json, 65536);
	batch_json(b, c, &s->json);
	params[6] = s->json.data;
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
	st = sink_step_of(s, pgconn_exec_params(s->conn, s->q.data, 10, params,
											"could not write a dead letter",
											NULL, errbuf, errlen));
	if (st == STEP_DATA)
		st = STEP_FATAL;
	if (st == STEP_OK && s->stats)
		s->stats->dead_letters++;
	return st;
}

/* Dead-letter temp row seq of target t: its last change. */
enum step
sink_dlq_row(struct sink_pg *s, const struct batch *b,
			 const struct sink_target *t, size_t seq, const char *error,
			 const char *sqlstate, char *errbuf, size_t errlen)
{
	/* In the configuration's notation: walpipe dlq reads them back. */
	char *srct = ident_qualified(t->rule->from_schema, t->rule->from_table);
	char *tgt = ident_qualified(t->rule->to_schema, t->rule->to_table);
	enum step st = sink_dlq_change(s, b, collapse_change_of(t->rows, seq), srct,
								   tgt, error, sqlstate, errbuf, errlen);

	free(srct);
	free(tgt);
	return st;
}

/*
 * Dead-letter the temp rows whose _seq result r (borrowed) selects, with
 * the reason why; NULL: the reason of a keyless mapping's change that
 * found no target row (map.h: keyless_apply), by the row's op.
 */
enum step
sink_dlq_selected(struct sink_pg *s, const struct batch *b,
				  struct sink_target *t, const PGresult *r, const char *why,
				  char *errbuf, size_t errlen)
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
		st = sink_dlq_row(s, b, t, seq, reason, NULL, errbuf, errlen);
	}
	return st;
}

/*
 * Dead-letter the rows that sql (move_orphans, partial_orphans) selects:
 * partial rows with no target row to take the columns the update left
 * out from (the row was never mirrored, or was filtered out).  The apply
 * statements skip them by themselves.
 */
enum step
sink_dlq_orphans(struct sink_pg *s, const struct batch *b,
				 struct sink_target *t, const char *sql, const char *why,
				 size_t n, char *errbuf, size_t errlen)
{
	char his[24];
	PGresult *r;
	enum step st = STEP_OK;

	snprintf(his, sizeof(his), "%zu", n);
	r = sink_facts_exec_range(s, sql, "1", his);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		st = sink_classify(s, r);
		pgconn_error(errbuf, errlen, "could not apply changes", s->conn, r);
		PQclear(r);
		return st;
	}
	st = sink_dlq_selected(s, b, t, r, why, errbuf, errlen);
	PQclear(r);
	return st;
}

/* Dead-letter the rows collapse_check marked 'X', with the reason. */
enum step
sink_dlq_unappliable(struct sink_pg *s, const struct batch *b,
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
		st = sink_dlq_row(s, b, t, seq, why, NULL, errbuf, errlen);
	}
	return st;
}
