/* sink_checkpoint.c: a source's checkpoint row: read, write, lock; skips. */
#include "walpipe/sink_pg.h"

#include "sink_pg_int.h"
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
sink_pg_read_checkpoint(struct sink_pg *s, struct checkpoint *out, char *errbuf,
						size_t errlen)
{
	const char *params[1] = {s->cfg.source};
	enum pgconn_outcome o;
	PGresult *r;

	memset(out, 0, sizeof(*out));
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"SELECT lsn, txn_end, txn_applied, "
				"coalesce(last_commit_time::text, ''), "
				"coalesce(system_id, ''), coalesce(timeline, 0) "
				"FROM %s.checkpoints WHERE source = $1",
				s->qschema);
	o = pgconn_exec_params(s->conn, s->q.data, 1, params,
						   "could not read the checkpoint", &r, errbuf, errlen);
	if (o != PGCONN_OK) {
		enum step st = sink_step_of(s, o);

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
 * Write the checkpoint, only over the one this session knows.  A walpipe
 * killed right after sending COMMIT leaves a backend that may still commit
 * its batch after a new walpipe has read the older checkpoint; the new one
 * would then apply that batch again (append mappings and staging would
 * hold it twice).  The guard makes the new session's write find the moved
 * row (the upsert waits for the old commit, then rechecks), fail with
 * retry and start over from the stored checkpoint.
 */
enum step
checkpoint_write(struct sink_pg *s, const struct checkpoint *c, char *errbuf,
				 size_t errlen)
{
	char lsn[LSN_STRLEN], txn[LSN_STRLEN], applied[24];
	char klsn[LSN_STRLEN], ktxn[LSN_STRLEN], kapplied[24], tli[16];
	const char *params[11];
	enum pgconn_outcome o;
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
	o = pgconn_exec_params(s->conn, s->q.data, 11, params,
						   "could not write the checkpoint", &r, errbuf,
						   errlen);
	if (o != PGCONN_OK) {
		st = sink_step_of(s, o);
		if (st == STEP_DATA)
			st = STEP_FATAL;
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

void
checkpoint_skips_free(struct sink_pg *s)
{
	for (size_t i = 0; i < s->nskips; i++) {
		free(s->skips[i].schema);
		free(s->skips[i].table);
	}
	free(s->skips);
	s->skips = NULL;
	s->nskips = 0;
}

/* Keep the snapshot positions of a result of begin_batch's query
 * (sink_pg.c). */
void
checkpoint_skips_keep(struct sink_pg *s, const PGresult *r)
{
	checkpoint_skips_free(s);
	s->nskips = (size_t) PQntuples(r);
	s->skips = wp_calloc(s->nskips ? s->nskips : 1, sizeof(*s->skips));
	for (size_t i = 0; i < s->nskips; i++) {
		s->skips[i].schema = wp_strdup(PQgetvalue(r, (int) i, 0));
		s->skips[i].table = wp_strdup(PQgetvalue(r, (int) i, 1));
		lsn_parse(PQgetvalue(r, (int) i, 2), &s->skips[i].lsn, NULL, 0);
	}
}

/* A change a snapshot's rows already hold (sink_pg.c: begin_batch):
 * applying it to the facts again would append it twice or move a row back
 * in time. */
bool
checkpoint_skipped(const struct sink_pg *s, const struct batch *b,
				   const struct batch_change *c)
{
	for (size_t i = 0; i < s->nskips; i++)
		if (streampos_copy_holds(s->skips[i].lsn, c->txn_end) &&
			c->schema != UINT32_MAX &&
			strcmp(batch_text(b, c->table), s->skips[i].table) == 0 &&
			strcmp(batch_text(b, c->schema), s->skips[i].schema) == 0)
			return true;
	return false;
}
