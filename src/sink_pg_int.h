/* sink_pg_int.h: what the sink's files share: handle, enum step. */
#ifndef WALPIPE_SINK_PG_INT_H
#define WALPIPE_SINK_PG_INT_H

/*
 * Private to src/sink_*.c: the public side is
 * sink_pg.h.  One handle is used by one thread at a time.  Nothing here
 * logs: each function fills the caller's errbuf and returns an enum step,
 * which the public functions turn into an enum sink_result.
 */

#include "walpipe/batch.h"
#include "walpipe/buf.h"
#include "walpipe/pgconn.h"
#include "walpipe/sink_pg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* COPY data goes out in pieces of about this size. */
#define COPY_CHUNK (256 * 1024)

/*
 * Foreign keys between target tables decide the order of a batch's
 * statements: a child's rows can be written only after its parent's, and
 * a parent's deleted only after its children's.  So every target's rows
 * are COPYed first, and then each pass runs over all targets, in the
 * order the pass names (sink_facts.c: apply_pending).
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
	STEP_DATA, /* a row's data failed: dead-letter it */
	STEP_RETRY,
	STEP_FATAL,
	STEP_BUSY,	   /* the checkpoint row is locked by a backfill */
	STEP_CONFLICT, /* a plain insert of 'N' rows met an existing key: the
					* target is marked, redo the batch (or chunk) */
};

struct sink_pg {
	PGconn *conn;
	struct sink_pg_config cfg;
	char *qschema;	 /* quoted walpipe schema */
	char *lsource;	 /* the source name as an SQL literal */
	char *qstaging;	 /* quoted staging schema.table, or NULL */
	struct buf q;	 /* statement text scratch */
	struct buf copy; /* COPY data scratch */
	struct buf json; /* a change's JSON written from its copy (batch_json) */
	bool careful;	 /* savepoints and bisection: a data error was seen */
	/* Apply in stream order: the batch in runs, each applied on its own
	 * (see sink_facts_apply). */
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
	 * checkpoint_write). */
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
	} * skips;
	size_t nskips;
	struct sink_chunk *chunk; /* sink_pg_set_chunk's, or NULL */
};

/* sink_pg.c: statements over the libpq layer (pgconn.h). */

/* The step of a pgconn outcome; a timeout also sets s->timed_out. */
enum step sink_step_of(struct sink_pg *s, enum pgconn_outcome o);

/* Classify failed result r (may be NULL) as sink_step_of does. */
enum step sink_classify(struct sink_pg *s, const PGresult *r);

/* The public result of st (STEP_OK: SINK_OK). */
enum sink_result sink_result_of(enum step st);

/*
 * Run a command (several may be separated by ';'), counted in s->stats.
 * On failure fills errbuf ("analytics statement failed: ...").
 */
enum step sink_exec(struct sink_pg *s, const char *sql, char *errbuf,
					size_t errlen);

/*
 * Run s->q with n text parameters.  On success, *out (if out is not NULL)
 * gets the result, which the caller clears; on failure errbuf says "what:
 * reason", a lock not available (55P03) is STEP_BUSY and a row error
 * counts as fatal (walpipe's own statements).
 */
enum step sink_exec_params(struct sink_pg *s, const char *what, int n,
						   const char *const *params, PGresult **out,
						   char *errbuf, size_t errlen);

/* sink_schema.c: create or upgrade walpipe's schema and the staging table,
 * in one transaction under an advisory lock. */
enum step sink_schema_install(struct sink_pg *s, char *errbuf, size_t errlen);

/* sink_checkpoint.c: the checkpoint row and the snapshot positions (skips). */

/* Write checkpoint c, only over s->known (checkpoint.h says why). */
enum step checkpoint_write(struct sink_pg *s, const struct checkpoint *c,
						   char *errbuf, size_t errlen);

/* Forget the snapshot positions. */
void checkpoint_skips_free(struct sink_pg *s);

/* Keep the snapshot positions of r (borrowed): rows of schema, table,
 * snapshot_lsn (sink_pg.c: begin_batch's query). */
void checkpoint_skips_keep(struct sink_pg *s, const PGresult *r);

/* Whether change c of b is one a snapshot's rows already hold. */
bool checkpoint_skipped(const struct sink_pg *s, const struct batch *b,
						const struct batch_change *c);

/* sink_copy.c: COPY FROM STDIN of the data in s->copy. */

/* Start COPY sql; empties s->copy.  A row error counts as fatal. */
enum step sink_copy_begin(struct sink_pg *s, const char *sql, char *errbuf,
						  size_t errlen);

/* Send s->copy if it holds COPY_CHUNK bytes or more (or always: force),
 * then empty it and tick. */
enum step sink_copy_flush(struct sink_pg *s, bool force, char *errbuf,
						  size_t errlen);

/* Send the rest and end the COPY; a row error sets s->row_state and
 * s->row_msg. */
enum step sink_copy_end(struct sink_pg *s, char *errbuf, size_t errlen);

/* sink_stage.c: the staging table. */

/* Stage every change of b, one row each; carefully (bisecting to the row
 * that fails, which is dead-lettered) when s->careful. */
enum step sink_stage_batch(struct sink_pg *s, const struct batch *b,
						   char *errbuf, size_t errlen);

/* sink_dlq.c: dead letters. */

/* Dead-letter change idx of b, bound for target_table. */
enum step sink_dlq_change(struct sink_pg *s, const struct batch *b, size_t idx,
						  const char *source_table, const char *target_table,
						  const char *error, const char *sqlstate, char *errbuf,
						  size_t errlen);

/* Dead-letter temp row seq (1-based) of target t: its last change. */
enum step sink_dlq_row(struct sink_pg *s, const struct batch *b,
					   const struct sink_target *t, size_t seq,
					   const char *error, const char *sqlstate, char *errbuf,
					   size_t errlen);

/* Dead-letter the temp rows of t whose _seq result r (borrowed) selects,
 * with reason why (NULL: a keyless change that found no row). */
enum step sink_dlq_selected(struct sink_pg *s, const struct batch *b,
							struct sink_target *t, const PGresult *r,
							const char *why, char *errbuf, size_t errlen);

/* Dead-letter the rows of t's n temp rows that sql selects, with why. */
enum step sink_dlq_orphans(struct sink_pg *s, const struct batch *b,
						   struct sink_target *t, const char *sql,
						   const char *why, size_t n, char *errbuf,
						   size_t errlen);

/* Dead-letter the rows of t's n that collapse_check marked 'X'. */
enum step sink_dlq_unappliable(struct sink_pg *s, const struct batch *b,
							   struct sink_target *t, size_t n, char *errbuf,
							   size_t errlen);

/* sink_facts.c: the fact statements. */

/*
 * Apply the fact changes of b to targets t[0..n), set-based, truncates in
 * stream order; in runs when s->in_order.  Several batches may share a
 * transaction (a snapshot): each COPY empties its temp table first.
 */
enum step sink_facts_apply(struct sink_pg *s, const struct batch *b,
						   struct sink_target *t, size_t n, char *errbuf,
						   size_t errlen);

/* Execute apply statement sql over temp rows lo..hi (1-based _seq, as
 * text), counted in s->stats with the rows it changed; then tick.  The
 * caller checks and clears the result. */
PGresult *sink_facts_exec_range(struct sink_pg *s, const char *sql,
								const char *lo, const char *hi);

/* Whether a row error with sqlstate may come from the order rows were
 * applied in (foreign key, unique, exclusion) rather than the row. */
bool sink_facts_order_related(const char *sqlstate);

/* sink_backfill.c */

/* Register a backfill of mapping from -> to if rule is new or (when_changed)
 * differs from the one applied_rules holds; in record_rules' transaction. */
enum step backfill_register(struct sink_pg *s, const char *from,
							const char *to, const char *rule,
							bool when_changed, char *errbuf, size_t errlen);

/* The chunk's sweep and progress, in the batch's transaction (s->chunk). */
enum step backfill_chunk_finish(struct sink_pg *s, char *errbuf,
								size_t errlen);

#endif
