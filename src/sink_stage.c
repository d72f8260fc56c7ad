/* sink_stage.c: the staging table: every change COPYed as a row. */
#include "sink_pg_int.h"

#include "walpipe/batch.h"
#include "walpipe/buf.h"
#include "walpipe/ident.h"
#include "walpipe/mem.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append n bytes of s to b in COPY's text format: \, tab, newline and
 * carriage return escaped (a JSON payload, a name may hold them). */
static void
copy_append_text(struct buf *b, const char *s, size_t n)
{
	size_t run = 0;

	for (size_t k = 0; k < n; k++) {
		const char *esc;

		switch (s[k]) {
		case '\\':
			esc = "\\\\";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		default:
			continue;
		}
		buf_append(b, s + run, k - run);
		buf_append_str(b, esc);
		run = k + 1;
	}
	buf_append(b, s + run, n - run);
}

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
	st = sink_copy_begin(s, s->q.data, errbuf, errlen);
	if (st != STEP_OK)
		return st;
	for (size_t i = lo; i <= hi; i++) {
		const struct batch_change *c = batch_get(b, i);
		const char *json = batch_text(b, c->json);
		const char *ts = batch_text(b, c->commit_time);
		const char *sch =
			c->schema != UINT32_MAX ? batch_text(b, c->schema) : "";
		const char *tbl = c->table != UINT32_MAX ? batch_text(b, c->table) : "";
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
		if (json)
			copy_append_text(&s->copy, json, c->json_len);
		else {
			buf_reset(&s->json, 65536);
			batch_json(b, c, &s->json);
			copy_append_text(&s->copy, s->json.data, s->json.len);
		}
		buf_append_char(&s->copy, '\n');
		st = sink_copy_flush(s, false, errbuf, errlen);
		if (st != STEP_OK)
			return st;
	}
	return sink_copy_end(s, errbuf, errlen);
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
	enum step st = sink_exec(s, "SAVEPOINT walpipe_stage", errbuf, errlen);
	char err[1024], state[8];

	if (st != STEP_OK)
		return st;
	st = stage_range(s, b, lo, hi, errbuf, errlen);
	if (st == STEP_OK)
		return sink_exec(s, "RELEASE SAVEPOINT walpipe_stage", errbuf, errlen);
	if (st != STEP_DATA)
		return st;
	snprintf(err, sizeof(err), "%s", s->row_msg);
	snprintf(state, sizeof(state), "%s", s->row_state);
	st = sink_exec(s, "ROLLBACK TO SAVEPOINT walpipe_stage", errbuf, errlen);
	if (st == STEP_OK)
		st = sink_exec(s, "RELEASE SAVEPOINT walpipe_stage", errbuf, errlen);
	if (st != STEP_OK)
		return st;
	if (lo == hi) {
		const struct batch_change *c = batch_get(b, lo);
		char *src = c->schema != UINT32_MAX
						? ident_qualified(batch_text(b, c->schema),
										  batch_text(b, c->table))
						: wp_strdup("");
		char *stg =
			ident_qualified(s->cfg.staging_schema, s->cfg.staging_table);

		st = sink_dlq_change(s, b, lo, src, stg, err, state, errbuf, errlen);
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
enum step
sink_stage_batch(struct sink_pg *s, const struct batch *b, char *errbuf,
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
			if (batch_get(b, i)->action != W2J_MESSAGE || s->cfg.stage_messages)
				s->stats->staged++;
	return st;
}
