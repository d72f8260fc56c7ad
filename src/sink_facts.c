/* sink_facts.c: a batch's fact statements, bisection, truncates. */
#include "sink_pg_int.h"

#include "walpipe/batch.h"
#include "walpipe/buf.h"
#include "walpipe/collapse.h"
#include "walpipe/ident.h"
#include "walpipe/map.h"
#include "walpipe/mem.h"
#include "walpipe/pgconn.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Execute apply statement sql over temp rows lo..hi (1-based _seq, as
 * text): counts the statement and, on success, the rows it changed. */
PGresult *
sink_facts_exec_range(struct sink_pg *s, const char *sql, const char *lo,
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
bool
sink_facts_order_related(const char *sqlstate)
{
	return strcmp(sqlstate, "23503") == 0 || strcmp(sqlstate, "23505") == 0 ||
		   strcmp(sqlstate, "23P01") == 0;
}

/*
 * Run one apply statement over rows lo..hi (1-based _seq).  In careful
 * mode a failure that belongs to rows is narrowed down by halving the
 * range inside savepoints until the bad rows are found and dead-lettered;
 * the good rows of the range are still applied set-wise.  A row failing
 * for a reason sink_facts_order_related may be no fault of its own unless
 * the batch is applied in stream order: then STEP_DATA with s->row_state
 * set, and the caller redoes the batch in stream order.
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
		st = sink_exec(s, "SAVEPOINT walpipe_rows", errbuf, errlen);
		if (st != STEP_OK)
			return st;
	}
	r = sink_facts_exec_range(s, sql, los, his);
	if (PQresultStatus(r) == PGRES_COMMAND_OK ||
		PQresultStatus(r) == PGRES_TUPLES_OK) {
		/* keyless_apply selects the changes that found no row. */
		st = sink_dlq_selected(s, b, t, r, NULL, errbuf, errlen);
		PQclear(r);
		if (st != STEP_OK)
			return st;
		return s->careful ? sink_exec(s, "RELEASE SAVEPOINT walpipe_rows",
									  errbuf, errlen)
						  : STEP_OK;
	}
	st = sink_classify(s, r);
	pgconn_error(errbuf, errlen, "could not apply changes", s->conn, r);
	if (st == STEP_DATA)
		snprintf(s->row_state, sizeof(s->row_state), "%s", pgconn_sqlstate(r));
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
		st = sink_exec(s, "ROLLBACK TO SAVEPOINT walpipe_rows", errbuf, errlen);
		if (st == STEP_OK)
			st = sink_exec(s, "RELEASE SAVEPOINT walpipe_rows", errbuf, errlen);
		if (st != STEP_OK)
			return st;
		if (lo == hi && !s->in_order && sink_facts_order_related(state))
			return STEP_DATA;
		if (lo == hi)
			return sink_dlq_row(s, b, t, lo, err, state, errbuf, errlen);
	}
	st = run_range(s, b, t, sql, lo, lo + (hi - lo) / 2, errbuf, errlen);
	if (st == STEP_OK)
		st =
			run_range(s, b, t, sql, lo + (hi - lo) / 2 + 1, hi, errbuf, errlen);
	return st;
}

/*
 * The failed result r of a target's plain insert of its 'N' rows (the
 * INSERT, or the start of copy_new_rows' COPY).  A unique violation means
 * a key the mirror should not hold yet is there (a soft-deleted row
 * inserted again, on_delete: ignore, another writer): the target upserts
 * its new keys from now on and the caller redoes the batch, so nothing of
 * this attempt stays.  Other errors are classified as for any apply
 * statement (a row error redoes the batch carefully, which upserts).
 */
static enum step
new_rows_failed(struct sink_pg *s, struct sink_target *t, PGresult *r,
				char *errbuf, size_t errlen)
{
	enum step st;

	if (strcmp(pgconn_sqlstate(r), "23505") == 0) {
		t->no_fast_insert = true;
		pgconn_error(errbuf, errlen, "a new key exists already", s->conn, r);
		st = STEP_CONFLICT;
	} else {
		st = sink_classify(s, r);
		pgconn_error(errbuf, errlen, "could not apply changes", s->conn, r);
		if (st == STEP_DATA)
			snprintf(s->row_state, sizeof(s->row_state), "%s",
					 pgconn_sqlstate(r));
	}
	PQclear(r);
	return st;
}

/* The plain insert of a target's 'N' rows (rows 1..n of the temp table). */
static enum step
insert_new_rows(struct sink_pg *s, struct sink_target *t, size_t n,
				char *errbuf, size_t errlen)
{
	char his[24];
	PGresult *r;

	snprintf(his, sizeof(his), "%zu", n);
	r = sink_facts_exec_range(s, t->plan->insert_new, "1", his);
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		PQclear(r);
		return STEP_OK;
	}
	return new_rows_failed(s, t, r, errbuf, errlen);
}

/* The kinds of collapsed rows a target holds (collapse.h: their ops),
 * and how many are 'N'. */
struct row_kinds {
	bool u, n, p, d, m, o;
	size_t nnew;
};

static struct row_kinds
row_kinds_of(const struct sink_target *t, size_t n)
{
	struct row_kinds k = {false, false, false, false, false, false, 0};

	for (size_t seq = 1; seq <= n; seq++) {
		char op = collapse_op_of(t->rows, seq);

		k.u |= op == 'U';
		k.n |= op == 'N';
		k.nnew += op == 'N';
		k.p |= op == 'P';
		k.m |= op == 'M';
		k.d |= op == 'D';
		k.o |= op == 'O';
	}
	return k;
}

/*
 * COPY a target's 'N' rows (among its n rows) straight into it
 * (map.h: copy_new), in place of insert_new, failing as that does
 * (new_rows_failed), whether the COPY fails to start or at its end.
 */
static enum step
copy_new_rows(struct sink_pg *s, struct sink_target *t, size_t n,
			  char *errbuf, size_t errlen)
{
	PGresult *r = PQexec(s->conn, t->plan->copy_new);
	enum step st;

	if (PQresultStatus(r) != PGRES_COPY_IN)
		return new_rows_failed(s, t, r, errbuf, errlen);
	PQclear(r);
	buf_reset(&s->copy, 4 * COPY_CHUNK);
	for (size_t i = 0; i < n; i += 1024) {
		collapse_copy_new(t->rows, t->plan, t->srccols, i, i + 1023,
						  &s->copy);
		st = sink_copy_flush(s, false, errbuf, errlen);
		if (st != STEP_OK)
			return st;
	}
	st = sink_copy_end(s, errbuf, errlen);
	if (st == STEP_DATA && strcmp(s->row_state, "23505") == 0) {
		t->no_fast_insert = true;
		st = STEP_CONFLICT;
	}
	if (st == STEP_OK && s->stats) {
		s->stats->statements++;
		s->stats->applied += row_kinds_of(t, n).nnew;
	}
	return st;
}

/*
 * Past these, a temp table is emptied by TRUNCATE rather than DELETE: a
 * DELETE costs per row, dead rows included (a temp table is never
 * vacuumed, so they stay until a TRUNCATE), and a TRUNCATE costs a new
 * file and a catalog update (about as much as a DELETE of 2,500 small
 * rows, measured on PostgreSQL 15).
 */
#define TMP_TRUNCATE_ROWS 4096
#define TMP_TRUNCATE_BYTES (4u << 20)

/*
 * COPY a target's n collapsed rows to its temp table, emptied first in
 * the same round trip; skipped > 0: all but its 'N' rows, that many,
 * which copy_new_rows sends to the target.
 *
 * Emptied before each COPY, never left to the commit: a temp table ON
 * COMMIT DELETE ROWS is truncated at every commit of a transaction that
 * touched any temp table, each of the session's such tables whether used
 * or not, its TOAST index rebuilt and its catalog row updated (about
 * 0.45 ms a table on PostgreSQL 15: 90 ms a batch for a mirror of 200
 * tables).  Before, not after: whatever way the transaction of the last
 * COPY ended (committed, rolled back, a savepoint undone, a TRUNCATE in it
 * undone), no row of it can reach this batch's statements.
 */
static enum step
copy_rows(struct sink_pg *s, const struct batch *b, struct sink_target *t,
		  size_t n, size_t skipped, char *errbuf, size_t errlen)
{
	const struct map_plan *p = t->plan;
	bool truncate =
		t->tmp_rows >= TMP_TRUNCATE_ROWS || t->tmp_bytes >= TMP_TRUNCATE_BYTES;
	enum step st;

	buf_reset(&s->q, 65536);
	buf_appendf(&s->q, "%s %s; %s", truncate ? "TRUNCATE" : "DELETE FROM",
				p->tmp_table, p->copy);
	if (truncate)
		t->tmp_rows = t->tmp_bytes = 0;
	st = sink_copy_begin(s, s->q.data, errbuf, errlen);
	if (st != STEP_OK)
		return st;
	t->tmp_rows += n - skipped;
	for (size_t i = 0; i < n; i += 1024) {
		size_t len = s->copy.len;

		collapse_copy_text(t->rows, b, p, t->srccols, i, i + 1023,
						   skipped > 0, &s->copy);
		t->tmp_bytes += s->copy.len - len;
		st = sink_copy_flush(s, false, errbuf, errlen);
		if (st != STEP_OK)
			return st;
	}
	st = sink_copy_end(s, errbuf, errlen);
	return st == STEP_DATA ? STEP_FATAL : st;
}

/*
 * Dead-letter the temp rows no statement can apply: the ones
 * collapse_check marked (unappliable of them), and partial rows with no
 * target row to complete them from.
 */
static enum step
dead_letter_unfit(struct sink_pg *s, const struct batch *b,
				  struct sink_target *t, size_t n, size_t unappliable,
				  struct row_kinds k, char *errbuf, size_t errlen)
{
	enum step st = STEP_OK;

	if (unappliable)
		st = sink_dlq_unappliable(s, b, t, n, errbuf, errlen);
	if (st == STEP_OK && k.m)
		st = sink_dlq_orphans(
			s, b, t, t->plan->move_orphans,
			"the update changed the row's key and left out unchanged TOASTed "
			"columns, and the target has no row at the old key to take them "
			"from",
			n, errbuf, errlen);
	if (st == STEP_OK && k.p && t->plan->partial_orphans)
		st = sink_dlq_orphans(
			s, b, t, t->plan->partial_orphans,
			"the update made the row match the mapping's where, but left out "
			"unchanged TOASTed columns, and the target has no row to take "
			"them from",
			n, errbuf, errlen);
	return st;
}

/* Whether target t's new keys (rows of kinds k) go in by a plain insert:
 * unless this target met an existing key before or the batch is redone
 * row by row (careful). */
static bool
fast_insert(const struct sink_pg *s, const struct sink_target *t,
			struct row_kinds k)
{
	return k.n && t->plan->insert_new && !t->no_fast_insert && !s->careful;
}

/*
 * Fill stmts with the statements that apply rows of kinds k to target t,
 * in the order they run within their pass.  A statement with no rows of
 * its kind is not sent at all (NULL).
 */
static void
plan_stmts(const struct sink_pg *s, const struct sink_target *t,
		   struct row_kinds k, struct target_stmt stmts[TARGET_STMTS])
{
	const struct map_plan *p = t->plan;
	bool fast = fast_insert(s, t, k);
	/* A soft delete also marks 'U'/'N'/'P' rows whose last change was a
	 * delete: it runs after the upsert has written them. */
	bool soft = p->soft_delete && p->upsert;
	/* A keyless mapping's inserts alone go by the plain append; with
	 * deletes or updates among them, everything goes in stream order
	 * (map.h: keyless_apply). */
	const char *append = k.u || k.p ? p->append : NULL;
	/* The full rows the plain insert does not take. */
	const char *upsert = k.u || k.n ? p->upsert : NULL;

	if (p->keyless_apply && (k.d || k.o))
		append = p->keyless_apply;
	if (fast)
		upsert = k.u ? p->upsert_old : NULL;
	{
		const struct target_stmt table[TARGET_STMTS] = {
			/* Moved rows read the target rows at their old keys as the
			 * batch found them: before anything else. */
			{PASS_MOVE, k.m ? p->move : NULL},
			/* Deletes next: a key's rows are merged, so each key has
			 * one op. */
			{PASS_REMOVE, k.d && !soft ? p->remove : NULL},
			/* Rows that stopped matching the where leave as deletes. */
			{PASS_REMOVE, k.u || k.p || k.m ? p->unmatch : NULL},
			{PASS_WRITE, !fast ? NULL : p->copy_new ? p->copy_new
													: p->insert_new},
			{PASS_WRITE, upsert},
			{PASS_WRITE, k.p ? p->update_partial : NULL},
			{PASS_WRITE, append},
			{PASS_MARK, soft ? p->remove : NULL},
		};

		memcpy(stmts, table, sizeof(table));
	}
}

/*
 * COPY a target's collapsed rows to its temp table, dead-letter those no
 * statement can apply, and fill stmts with the statements that apply the
 * rest (plan_stmts; apply_pending runs the passes).
 */
static enum step
copy_target(struct sink_pg *s, const struct batch *b, struct sink_target *t,
			struct target_stmt stmts[TARGET_STMTS], char *errbuf, size_t errlen)
{
	size_t n = collapse_count(t->rows);
	size_t unappliable = 0;
	struct row_kinds k;
	bool direct;
	enum step st;

	for (int i = 0; i < TARGET_STMTS; i++)
		stmts[i].sql = NULL;
	if (n == 0)
		return STEP_OK;
	if (t->rule->mode == MAP_MODE_UPSERT)
		unappliable = collapse_check(t->rows, t->plan);
	k = row_kinds_of(t, n);
	direct = fast_insert(s, t, k) && t->plan->copy_new;
	/* With every row an 'N' one going straight to the target, no
	 * statement reads the temp table. */
	if (!direct || k.nnew < n || unappliable)
		st = copy_rows(s, b, t, n, direct ? k.nnew : 0, errbuf, errlen);
	else
		st = STEP_OK;
	if (st == STEP_OK)
		st = dead_letter_unfit(s, b, t, n, unappliable, k, errbuf, errlen);
	if (st != STEP_OK)
		return st;
	plan_stmts(s, t, k, stmts);
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
		if (stmts[k].sql == t->plan->copy_new)
			st = copy_new_rows(s, t, n, errbuf, errlen);
		else if (stmts[k].sql == t->plan->insert_new)
			st = insert_new_rows(s, t, n, errbuf, errlen);
		else
			st = run_range(s, b, t, stmts[k].sql, 1, n, errbuf, errlen);
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
 * sink_facts_apply).  The next COPY into a temp table empties it first
 * (copy_rows), so a truncate that splits the batch, runs, or a snapshot's
 * next chunk in the same transaction find it as a new batch does.
 */
static enum step
apply_pending(struct sink_pg *s, const struct batch *b, struct sink_target *t,
			  size_t n, char *errbuf, size_t errlen)
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
	for (size_t j = 0; j < n; j++)
		collapse_reset(t[j].rows);
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
			!checkpoint_skipped(s, b, batch_get(b, i)))
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
	enum step st = sink_classify(s, r);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);

	if (st != STEP_RETRY)
		st = STEP_FATAL;
	if (strcmp(pgconn_sqlstate(r), "0A000") != 0 || msg == NULL) {
		pgconn_error(errbuf, errlen, "could not truncate target tables",
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

/* Whether any target of a truncate's changes from..to-1 has
 * on_truncate: fail (STEP_FATAL, errbuf names it), and in *any whether
 * any has a TRUNCATE to run. */
static enum step
truncate_allowed(const struct sink_pg *s, const struct batch *b,
				 const struct sink_target *t, size_t n, size_t from, size_t to,
				 bool *any, char *errbuf, size_t errlen)
{
	*any = false;
	for (size_t j = 0; j < n; j++) {
		if (!truncated_by(s, b, &t[j], from, to))
			continue;
		if (t[j].rule->on_truncate == MAP_TRUNCATE_FAIL) {
			char *f =
				ident_qualified(t[j].rule->from_schema, t[j].rule->from_table);
			char *tq =
				ident_qualified(t[j].rule->to_schema, t[j].rule->to_table);

			snprintf(errbuf, errlen,
					 "source table %s was truncated and its mapping to %s "
					 "says on_truncate: fail",
					 f, tq);
			free(f);
			free(tq);
			return STEP_FATAL;
		}
		*any |= t[j].plan->truncate != NULL;
	}
	return STEP_OK;
}

/*
 * STEP_FATAL when a target to truncate is shared with a mapping whose
 * source was not truncated (the partitions of one table, say): it holds
 * that source's rows too.
 */
static enum step
truncate_unshared(const struct sink_pg *s, const struct batch *b,
				  const struct sink_target *t, size_t n, size_t from, size_t to,
				  char *errbuf, size_t errlen)
{
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
			other =
				ident_qualified(t[k].rule->from_schema, t[k].rule->from_table);
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
	return STEP_OK;
}

/* The TRUNCATE of the targets of changes from..to-1 into s->q, each
 * target table once. */
static void
truncate_statement(struct sink_pg *s, const struct batch *b,
				   const struct sink_target *t, size_t n, size_t from,
				   size_t to)
{
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
truncate_group(struct sink_pg *s, const struct batch *b, struct sink_target *t,
			   size_t n, size_t from, size_t to, char *errbuf, size_t errlen)
{
	bool any;
	PGresult *r;
	enum step st;

	st = truncate_allowed(s, b, t, n, from, to, &any, errbuf, errlen);
	if (st != STEP_OK || !any)
		return st;
	st = truncate_unshared(s, b, t, n, from, to, errbuf, errlen);
	if (st == STEP_OK)
		st = apply_pending(s, b, t, n, errbuf, errlen);
	if (st != STEP_OK)
		return st;
	truncate_statement(s, b, t, n, from, to);
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
 * A snapshot applies many batches in one transaction: each COPY empties
 * its temp table first (copy_rows).
 */
enum step
sink_facts_apply(struct sink_pg *s, const struct batch *b,
				 struct sink_target *t, size_t n, char *errbuf, size_t errlen)
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

		if (c->action == W2J_MESSAGE || checkpoint_skipped(s, b, c))
			continue;
		if (c->action == W2J_TRUNCATE) {
			/* wal2json sends a T message per relation of a TRUNCATE,
			 * one after another, each with the TRUNCATE's LSN. */
			size_t end = i + 1;

			while (end < count && batch_get(b, end)->action == W2J_TRUNCATE &&
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
			st = apply_pending(s, b, t, n, errbuf, errlen);
			if (st != STEP_OK)
				return st;
			break;
		}
		for (size_t j = 0; j < n; j++) {
			if (t[j].rule->mode == MAP_MODE_NONE ||
				!target_matches(&t[j], b, c))
				continue;
			if (s->in_order)
				s->run[j] |= run_effect(&t[j], c);
			collapse_add(t[j].rows, b, i, t[j].plan, t[j].srccols,
						 t[j].rule->mode == MAP_MODE_UPSERT);
		}
	}
	return apply_pending(s, b, t, n, errbuf, errlen);
}
