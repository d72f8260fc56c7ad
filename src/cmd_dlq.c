/* cmd_dlq.c: `walpipe dlq`: list, retry and resolve the dead letters of a source. */
#include "walpipe/buf.h"
#include "walpipe/catalog.h"
#include "walpipe/checkpoint.h"
#include "walpipe/commands.h"
#include "walpipe/config.h"
#include "walpipe/ident.h"
#include "walpipe/map.h"
#include "walpipe/mem.h"
#include "walpipe/pgconn.h"
#include "walpipe/wal2json.h"

#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
dlq_usage(FILE *out)
{
	fprintf(out,
			"Usage:\n"
			"  walpipe dlq list -c FILE [--all]\n"
			"  walpipe dlq retry -c FILE (--id N [--id N ...] | --all)\n"
			"  walpipe dlq resolve -c FILE (--id N [--id N ...] | --all)\n\n"
			"list     pending dead letters of the source (--all: resolved "
			"too)\n"
			"retry    apply pending dead letters again through the current "
			"mapping\n"
			"         (upserts take the source row as it is now, so a newer "
			"change\n"
			"         is never overwritten); applied ones are resolved\n"
			"resolve  mark dead letters handled; they stay for the record\n");
}

/* A mapping compiled for retries, made on first use. */
struct retry_target {
	const struct config_mapping *m;
	struct map_srccol *src;
	size_t nsrc;
	struct map_plan *plan;
	char *insert; /* INSERT INTO tmp (...) VALUES ($1, ...) */
	char *select; /* SELECT tmp columns FROM source WHERE key = ... */
	size_t *keycol; /* tmp column index of each key column */
	size_t nkey;
};

struct retry {
	const struct wp_config *cfg;
	PGconn *ana, *src;
	struct retry_target *targets; /* one per mapping, lazily compiled */
	struct w2j_decoder *dec;
	char err[2048];
};

/* Run sql with params on conn; on failure fill r->err and return NULL. */
static PGresult *
retry_exec(struct retry *r, PGconn *conn, const char *sql, int n,
		   const char *const *params, ExecStatusType want)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) == want)
		return res;
	{
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		snprintf(r->err, sizeof(r->err), "%s",
				 msg ? msg : PQerrorMessage(conn));
	}
	PQclear(res);
	return NULL;
}

/* Compile mapping i against the source catalog and create its temp table. */
static struct retry_target *
retry_target(struct retry *r, size_t i)
{
	struct retry_target *t = &r->targets[i];
	const struct config_mapping *m = &r->cfg->mappings[i];
	struct buf q = BUF_INIT;
	PGresult *res;
	char tmp[48];

	if (t->plan)
		return t;
	t->m = m;
	t->src = catalog_table_columns(r->src, m->from_schema, m->from_table,
								   m->rule.mode == MAP_MODE_UPSERT, &t->nsrc,
								   r->err, sizeof(r->err));
	if (t->src == NULL)
		return NULL;
	snprintf(tmp, sizeof(tmp), "walpipe_retry%zu", i);
	t->plan = catalog_plan_new(r->ana, &m->rule, t->src, t->nsrc,
							   r->cfg->source.name, tmp, r->err,
							   sizeof(r->err));
	if (t->plan == NULL)
		return NULL;
	res = retry_exec(r, r->ana, t->plan->create_tmp, 0, NULL,
					 PGRES_COMMAND_OK);
	if (res == NULL)
		return NULL;
	PQclear(res);

	t->insert = map_plan_tmp_insert(t->plan);

	/* The source row by its replica identity, every tmp column as text. */
	buf_reset(&q, 0);
	buf_append_str(&q, "SELECT ");
	for (size_t k = 0; k < t->plan->ntmp; k++) {
		if (k)
			buf_append_str(&q, ", ");
		map_quote_ident(&q, t->plan->tmp_cols[k]);
	}
	if (t->plan->ntmp == 0)
		buf_append_str(&q, "1");
	buf_append_str(&q, " FROM ");
	map_quote_ident(&q, m->from_schema);
	buf_append_char(&q, '.');
	map_quote_ident(&q, m->from_table);
	t->keycol = wp_calloc(t->plan->ntmp + 1, sizeof(*t->keycol));
	for (size_t k = 0; k < t->plan->ntmp; k++) {
		if (!t->src[t->plan->tmp_src[k]].key)
			continue;
		buf_append_str(&q, t->nkey ? " AND " : " WHERE ");
		map_quote_ident(&q, t->plan->tmp_cols[k]);
		buf_appendf(&q, " = $%zu", t->nkey + 1);
		t->keycol[t->nkey++] = k;
	}
	t->select = wp_strdup(q.data);
	buf_free(&q);
	return t;
}

static void
retry_targets_free(struct retry *r)
{
	for (size_t i = 0; i < r->cfg->nmappings; i++) {
		struct retry_target *t = &r->targets[i];

		map_plan_free(t->plan);
		catalog_free_columns(t->src, t->nsrc);
		free(t->insert);
		free(t->select);
		free(t->keycol);
	}
	free(r->targets);
}

/* Whether target_table (text form) is the configured staging table. */
static bool
is_staging(const struct wp_config *cfg, const char *target_table)
{
	char *st;
	bool same;

	if (!cfg->staging.enabled)
		return false;
	st = ident_qualified(cfg->staging.schema, cfg->staging.table);
	same = strcmp(st, target_table) == 0;
	free(st);
	return same;
}

/* The index of the mapping from source_table to target_table (both
 * in ident_qualified's text, as dead_letter writes them), or
 * cfg->nmappings. */
static size_t
mapping_of(const struct wp_config *cfg, const char *source_table,
		   const char *target_table)
{
	for (size_t i = 0; i < cfg->nmappings; i++) {
		const struct config_mapping *m = &cfg->mappings[i];
		char *from = ident_qualified(m->from_schema, m->from_table);
		char *to = ident_qualified(m->to_schema, m->to_table);
		bool same = strcmp(from, source_table) == 0 &&
					strcmp(to, target_table) == 0;

		free(from);
		free(to);
		if (same)
			return i;
	}
	return cfg->nmappings;
}

/*
 * An upsert's row: the source row as it is now, found by the key in the
 * payload (into params[0..nkey-1]), or a delete of that key when the row
 * is gone: the dead change itself may be older than what the target
 * holds.  *srow: the source's result, which the caller clears.
 */
static bool
retry_upsert_row(struct retry *r, struct retry_target *t,
				 const struct w2j_change *c, const char **params, char *op,
				 PGresult **srow, const char **stmt)
{
	const struct w2j_column *kc = c->action == W2J_DELETE ? c->identity
														  : c->columns;
	size_t nk = c->action == W2J_DELETE ? c->nidentity : c->ncolumns;

	for (size_t i = 0; i < t->nkey; i++) {
		const struct w2j_column *col =
			w2j_find_column(kc, nk, t->plan->tmp_cols[t->keycol[i]]);

		if (col == NULL) {
			snprintf(r->err, sizeof(r->err),
					 "the payload has no key column \"%s\"",
					 t->plan->tmp_cols[t->keycol[i]]);
			return false;
		}
		params[i] = col->value;
	}
	*srow = retry_exec(r, r->src, t->select, (int) t->nkey, params,
					   PGRES_TUPLES_OK);
	if (*srow == NULL)
		return false;
	*op = PQntuples(*srow) > 0 ? 'U' : 'D';
	for (size_t k = 0; k < t->plan->ntmp; k++) {
		params[6 + k] = NULL;
		if (PQntuples(*srow) > 0 && !PQgetisnull(*srow, 0, (int) k))
			params[6 + k] = PQgetvalue(*srow, 0, (int) k);
	}
	if (*op == 'D')
		for (size_t i = 0; i < t->nkey; i++)
			params[6 + t->keycol[i]] = params[i];
	*stmt = *op == 'U' ? t->plan->upsert : t->plan->remove;
	return true;
}

/*
 * An append's row: the payload's own, which is history and overwrites
 * nothing.  *own: the bytea values made here with their \x prefix, which
 * the caller frees (ntmp of them).
 */
static bool
retry_append_row(struct retry *r, struct retry_target *t,
				 const struct w2j_change *c, const char **params, char *op,
				 char ***own, const char **stmt)
{
	const struct w2j_column *cols = c->action == W2J_DELETE ? c->identity
															: c->columns;
	size_t n = c->action == W2J_DELETE ? c->nidentity : c->ncolumns;
	size_t ntmp = t->plan->ntmp;

	/* A keyless mapping's update or delete changes the one target row
	 * equal to its old row, which may since have been changed by later
	 * changes or by hand: which row it meant is gone. */
	if (t->m->rule.mode == MAP_MODE_KEYLESS && c->action != W2J_INSERT) {
		snprintf(r->err, sizeof(r->err),
				 "the %s of a keyless mapping cannot be retried: "
				 "which target row it meant is unknown now\nFix the "
				 "target row by hand and resolve the dead letter.",
				 c->action == W2J_DELETE ? "delete" : "update");
		return false;
	}
	*op = c->action == W2J_DELETE ? 'D' : 'U';
	*own = wp_calloc(ntmp + 1, sizeof(**own));
	for (size_t k = 0; k < ntmp; k++) {
		const struct w2j_column *col =
			w2j_find_column(cols, n, t->plan->tmp_cols[k]);

		params[6 + k] = col ? col->value : NULL;
		/* wal2json sends bytea as bare hex digits. */
		if (col && col->value && map_plan_tmp_is_bytea(t->plan, t->src, k)) {
			struct buf hex = BUF_INIT;

			buf_appendf(&hex, "\\x%s", col->value);
			params[6 + k] = (*own)[k] = hex.data;
		}
	}
	*stmt = *op == 'U' ? t->plan->append : t->plan->remove;
	return true;
}

/* The _present array with all ntmp columns present: "{t,t,...}". */
static void
present_all(char *present, size_t ntmp)
{
	present[0] = '{';
	for (size_t k = 0; k < ntmp; k++) {
		present[1 + 2 * k] = 't';
		present[2 + 2 * k] = ',';
	}
	present[ntmp ? 2 * ntmp : 1] = '}';
	present[ntmp ? 2 * ntmp + 1 : 2] = '\0';
}

/*
 * Put the row that stands for dead letter dl into t's temp table and say
 * which statement applies it (NULL: nothing to apply): an upsert's by
 * retry_upsert_row, an append's by retry_append_row.  Returns false with
 * r->err set.
 */
static bool
retry_stage_row(struct retry *r, struct retry_target *t, PGresult *dl,
				int row, const char **stmt)
{
	const char *payload = PQgetvalue(dl, row, 6);
	const char *params[7 + 1024];
	char present[2 * 1024 + 3], op[2] = {'\0', '\0'};
	struct w2j_change c;
	PGresult *srow = NULL, *res;
	char **own = NULL;
	size_t ntmp = t->plan->ntmp;
	bool ok;

	if (ntmp > 1024) {
		snprintf(r->err, sizeof(r->err), "too many columns to retry");
		return false;
	}
	if (!w2j_decode(r->dec, payload, strlen(payload), &c, r->err,
					sizeof(r->err)))
		return false;
	if (t->m->rule.mode == MAP_MODE_UPSERT)
		ok = retry_upsert_row(r, t, &c, params, &op[0], &srow, stmt);
	else
		ok = retry_append_row(r, t, &c, params, &op[0], &own, stmt);
	if (ok) {
		present_all(present, ntmp);
		params[0] = op;
		params[1] = op;
		params[2] = PQgetvalue(dl, row, 3); /* lsn */
		params[3] = PQgetisnull(dl, row, 4) ? NULL
											: PQgetvalue(dl, row, 4); /* xid */
		params[4] = PQgetvalue(dl, row, 7); /* first failed: its nearest time */
		params[5] = present;
		res = retry_exec(r, r->ana, t->insert, (int) (6 + ntmp), params,
						 PGRES_COMMAND_OK);
		ok = res != NULL;
		PQclear(res);
	}
	PQclear(srow);
	for (size_t k = 0; own && k < ntmp; k++)
		free(own[k]);
	free(own);
	return ok;
}

/* Connect to the source and set r up for cfg's mappings; false (printed)
 * when the source cannot be reached. */
static bool
retry_open(struct retry *r, const struct wp_config *cfg, PGconn *ana)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->ana = ana;
	r->src = pgconn_connect(cfg->source.conninfo, "walpipe dlq", false);
	if (PQstatus(r->src) != CONNECTION_OK) {
		fprintf(stderr, "walpipe dlq: could not connect to the source "
						"server: %s",
				PQerrorMessage(r->src));
		PQfinish(r->src);
		return false;
	}
	r->targets = wp_calloc(cfg->nmappings + 1, sizeof(*r->targets));
	r->dec = w2j_decoder_new();
	return true;
}

/*
 * Begin the retry transaction, lock the source's checkpoint row and read
 * the selected pending dead letters (ids: a list of ids, or NULL for
 * all), locked too.  The dead letters' result, or NULL (printed).
 */
static PGresult *
retry_begin(struct retry *r, const char *schema, const char *ids,
			struct buf *q)
{
	const char *params[1] = {r->cfg->source.name};
	PGresult *res = PQexec(r->ana, "BEGIN; SET LOCAL search_path = "
								   "pg_catalog, public");

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "walpipe dlq: could not begin: %s",
				PQerrorMessage(r->ana));
		PQclear(res);
		return NULL;
	}
	PQclear(res);
	buf_reset(q, 0);
	buf_appendf(q, CHECKPOINT_LOCK_SQL, schema);
	res = retry_exec(r, r->ana, q->data, 1, params, PGRES_TUPLES_OK);
	if (res == NULL) {
		fprintf(stderr, "walpipe dlq: could not lock the checkpoint: %s\n",
				r->err);
		return NULL;
	}
	PQclear(res);
	buf_reset(q, 0);
	buf_appendf(q,
				"SELECT id, source_table, target_table, lsn, xid, op, "
				"coalesce(payload::text, payload_text), first_failed_at "
				"FROM %s.dead_letters WHERE source = $1 AND "
				"NOT resolved%s%s%s ORDER BY id FOR UPDATE",
				schema, ids ? " AND id IN (" : "", ids ? ids : "",
				ids ? ")" : "");
	res = retry_exec(r, r->ana, q->data, 1, params, PGRES_TUPLES_OK);
	if (res == NULL)
		fprintf(stderr, "walpipe dlq: could not read dead letters: %s\n",
				r->err);
	return res;
}

/* The statement that stages dead letter $1 again, as it was. */
static void
retry_stage_sql(const struct wp_config *cfg, const char *schema,
				struct buf *stage)
{
	buf_append_str(stage, "INSERT INTO ");
	map_quote_ident(stage, cfg->staging.schema);
	buf_append_char(stage, '.');
	map_quote_ident(stage, cfg->staging.table);
	buf_appendf(stage,
				" (source, source_schema, source_table, "
				"op, lsn, xid, commit_time, payload) SELECT d.source, "
				"coalesce(n[1], ''), coalesce(n[2], ''), d.op, d.lsn, "
				"d.xid, coalesce(d.commit_time, d.first_failed_at), "
				"coalesce(d.payload, d.payload_text::jsonb) FROM "
				"%s.dead_letters d, LATERAL (SELECT CASE WHEN "
				"d.source_table = '' THEN NULL ELSE "
				"pg_catalog.parse_ident(d.source_table) END AS n) x "
				"WHERE d.id = $1",
				schema);
}

/* Apply dead letter row of dl through t: stage it in t's temp table and
 * run the statement that applies it.  False with r->err set. */
static bool
retry_apply(struct retry *r, struct retry_target *t, PGresult *dl, int row,
			struct buf *q)
{
	static const char *const one[2] = {"1", "1"};
	const char *stmt = NULL;
	PGresult *res;
	bool ok;

	buf_reset(q, 0);
	buf_appendf(q, "DELETE FROM %s", t->plan->tmp_table);
	res = retry_exec(r, r->ana, q->data, 0, NULL, PGRES_COMMAND_OK);
	ok = res != NULL;
	PQclear(res);
	if (!ok || !retry_stage_row(r, t, dl, row, &stmt))
		return false;
	if (stmt) {
		res = retry_exec(r, r->ana, stmt, 2, one, PGRES_COMMAND_OK);
		ok = res != NULL;
		PQclear(res);
	}
	/* A source row that no longer matches the where leaves the target,
	 * as in walpipe run. */
	if (ok && stmt == t->plan->upsert && t->plan->unmatch) {
		res = retry_exec(r, r->ana, t->plan->unmatch, 2, one,
						 PGRES_COMMAND_OK);
		ok = res != NULL;
		PQclear(res);
	}
	return ok;
}

/*
 * Try dead letter row of dl inside the savepoint walpipe_retry, which
 * this sets: a staging row is staged again as it was (stage: see
 * retry_stage_sql), any other goes through its mapping.  False with
 * r->err set.
 */
static bool
retry_one(struct retry *r, PGresult *dl, int row, const char *stage,
		  struct buf *q)
{
	const struct wp_config *cfg = r->cfg;
	const char *p1[1] = {PQgetvalue(dl, row, 0)};
	struct retry_target *t = NULL;
	PGresult *res;
	bool ok;
	size_t mi = mapping_of(cfg, PQgetvalue(dl, row, 1),
						   PQgetvalue(dl, row, 2));

	if (is_staging(cfg, PQgetvalue(dl, row, 2))) {
		PQclear(PQexec(r->ana, "SAVEPOINT walpipe_retry"));
		res = retry_exec(r, r->ana, stage, 1, p1, PGRES_COMMAND_OK);
		ok = res != NULL;
		PQclear(res);
		return ok;
	}
	if (mi == cfg->nmappings)
		snprintf(r->err, sizeof(r->err),
				 "no mapping from %s to %s in the configuration",
				 PQgetvalue(dl, row, 1), PQgetvalue(dl, row, 2));
	else
		t = retry_target(r, mi);
	PQclear(PQexec(r->ana, "SAVEPOINT walpipe_retry"));
	return t && retry_apply(r, t, dl, row, q);
}

/* Dead letter id was applied: resolve it.  False with r->err set. */
static bool
retry_resolve(struct retry *r, const char *schema, const char *id,
			  struct buf *q)
{
	const char *p1[1] = {id};
	PGresult *res;
	bool ok;

	buf_reset(q, 0);
	buf_appendf(q,
				"UPDATE %s.dead_letters SET resolved = true, "
				"resolved_at = now(), attempts = attempts + 1 "
				"WHERE id = $1",
				schema);
	res = retry_exec(r, r->ana, q->data, 1, p1, PGRES_COMMAND_OK);
	ok = res != NULL;
	PQclear(res);
	return ok;
}

/* Dead letter id failed again with r->err: undo the try, record it. */
static void
retry_record_failure(struct retry *r, const char *schema, const char *id,
					 struct buf *q)
{
	const char *p2[2] = {id, r->err};

	PQclear(PQexec(r->ana, "ROLLBACK TO SAVEPOINT walpipe_retry"));
	buf_reset(q, 0);
	buf_appendf(q,
				"UPDATE %s.dead_letters SET attempts = attempts + 1, "
				"last_failed_at = now(), error = $2 WHERE id = $1",
				schema);
	PQclear(retry_exec(r, r->ana, q->data, 2, p2, PGRES_COMMAND_OK));
	printf("dead letter %s: failed again: %s\n", id, p2[1]);
}

/*
 * `walpipe dlq retry`: in one analytics transaction that first locks the
 * source's checkpoint row (every batch of `walpipe run` takes that lock
 * first too, so a retry and a batch never interleave or deadlock), apply
 * each selected pending dead letter through the current mapping inside a
 * savepoint.  The checkpoint stays where it is: a retry applies no
 * change of the stream, only its dead letters again.  Applied ones are
 * resolved; ones that fail again stay pending with the new error and one
 * more attempt.  Returns 0 when all were applied, 1 when some failed
 * again or could not be tried, 2 when the databases could not be used.
 */
static int
dlq_retry(const struct wp_config *cfg, PGconn *ana, const char *schema,
		  const char *ids)
{
	struct retry r;
	struct buf q = BUF_INIT, stage = BUF_INIT;
	PGresult *dl = NULL, *res;
	int applied = 0, failed = 0, rc = 2;

	if (!retry_open(&r, cfg, ana))
		return 2;
	dl = retry_begin(&r, schema, ids, &q);
	if (dl == NULL)
		goto done;
	if (cfg->staging.enabled)
		retry_stage_sql(cfg, schema, &stage);
	for (int row = 0; row < PQntuples(dl); row++) {
		const char *id = PQgetvalue(dl, row, 0);

		if (retry_one(&r, dl, row, stage.data, &q) &&
			retry_resolve(&r, schema, id, &q)) {
			PQclear(PQexec(ana, "RELEASE SAVEPOINT walpipe_retry"));
			printf("dead letter %s: applied, resolved\n", id);
			applied++;
		} else {
			retry_record_failure(&r, schema, id, &q);
			failed++;
		}
	}
	res = PQexec(ana, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "walpipe dlq: could not commit: %s",
				PQerrorMessage(ana));
		PQclear(res);
		goto done;
	}
	PQclear(res);
	printf("retried %d dead letter(s): %d applied, %d failed again\n",
		   applied + failed, applied, failed);
	rc = failed ? 1 : 0;
done:
	PQclear(dl);
	if (rc == 2)
		PQclear(PQexec(ana, "ROLLBACK"));
	retry_targets_free(&r);
	w2j_decoder_free(r.dec);
	PQfinish(r.src);
	buf_free(&q);
	buf_free(&stage);
	return rc;
}

/* The command line of `walpipe dlq`. */
struct dlq_args {
	const char *path, *verb;
	bool all;
	struct buf ids; /* "1,2,3": the --id values */
};

/* Parse argv into a (a->ids: the caller frees); -1 to go on, else the
 * exit status. */
static int
dlq_parse_args(int argc, char **argv, struct dlq_args *a)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"id", required_argument, NULL, 'i'},
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	if (argc < 2 || argv[1][0] == '-') {
		dlq_usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	a->verb = argv[1];
	if (strcmp(a->verb, "list") != 0 && strcmp(a->verb, "resolve") != 0 &&
		strcmp(a->verb, "retry") != 0) {
		fprintf(stderr,
				"walpipe dlq: unknown action \"%s\" (expected list, retry "
				"or resolve)\n",
				a->verb);
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': a->path = optarg; break;
		case 'a': a->all = true; break;
		case 'i': {
			char *end;
			long long id = strtoll(optarg, &end, 10);

			if (*end || id <= 0) {
				fprintf(stderr, "walpipe dlq: invalid --id \"%s\"\n", optarg);
				return 2;
			}
			buf_appendf(&a->ids, "%s%lld", a->ids.len ? "," : "", id);
			break;
		}
		case 'h': dlq_usage(stdout); return 0;
		default: dlq_usage(stderr); return 2;
		}
	}
	if (!a->path ||
		(strcmp(a->verb, "list") != 0 && !a->all && a->ids.len == 0)) {
		dlq_usage(stderr);
		return 2;
	}
	return -1;
}

/* `walpipe dlq list`: the source's pending (all: every) dead letters. */
static int
dlq_list(const struct wp_config *cfg, PGconn *conn, const char *schema,
		 bool all)
{
	const char *params[1] = {cfg->source.name};
	struct buf q = BUF_INIT;
	PGresult *r;

	buf_appendf(&q,
				"SELECT id, lsn, op, source_table, target_table, attempts, "
				"to_char(last_failed_at, 'YYYY-MM-DD HH24:MI:SS'), "
				"CASE WHEN resolved THEN 'resolved' ELSE 'pending' END, "
				"coalesce(sqlstate, ''), error FROM %s.dead_letters "
				"WHERE source = $1 %s ORDER BY id",
				schema, all ? "" : "AND NOT resolved");
	r = PQexecParams(conn, q.data, 1, NULL, params, NULL, NULL, 0);
	buf_free(&q);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "walpipe dlq: could not list dead letters: %s",
				PQerrorMessage(conn));
		PQclear(r);
		return 1;
	}
	printf("%-8s %-12s %-2s %-28s %-8s %-19s %-8s %s\n", "id", "lsn", "op",
		   "source -> target", "attempts", "last failed", "state", "error");
	for (int i = 0; i < PQntuples(r); i++) {
		struct buf st = BUF_INIT, e = BUF_INIT;

		/* Names and errors come from the databases: printable only. */
		buf_appendf(&e, "%s -> %s", PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
		buf_append_printable(&st, e.data, e.len, false);
		buf_reset(&e, 0);
		buf_append_printable(&e, PQgetvalue(r, i, 9),
							 (size_t) PQgetlength(r, i, 9), false);
		printf("%-8s %-12s %-2s %-28s %-8s %-19s %-8s %s (%s)\n",
			   PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
			   st.data, PQgetvalue(r, i, 5), PQgetvalue(r, i, 6),
			   PQgetvalue(r, i, 7), e.data, PQgetvalue(r, i, 8));
		buf_free(&st);
		buf_free(&e);
	}
	printf("(%d dead letter%s)\n", PQntuples(r), PQntuples(r) == 1 ? "" : "s");
	PQclear(r);
	return 0;
}

/* `walpipe dlq resolve`: mark the pending dead letters ids (NULL: all)
 * resolved. */
static int
dlq_resolve(const struct wp_config *cfg, PGconn *conn, const char *schema,
			const char *ids)
{
	const char *params[1] = {cfg->source.name};
	struct buf q = BUF_INIT;
	PGresult *r;
	int rc = 0;

	buf_appendf(&q,
				"UPDATE %s.dead_letters SET resolved = true, resolved_at = "
				"now() WHERE source = $1 AND NOT resolved%s%s%s",
				schema, ids ? " AND id IN (" : "", ids ? ids : "",
				ids ? ")" : "");
	r = PQexecParams(conn, q.data, 1, NULL, params, NULL, NULL, 0);
	buf_free(&q);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "walpipe dlq: could not resolve dead letters: %s",
				PQerrorMessage(conn));
		rc = 1;
	} else {
		printf("resolved %s dead letter(s)\n", PQcmdTuples(r));
	}
	PQclear(r);
	return rc;
}

int
cmd_dlq(int argc, char **argv)
{
	struct dlq_args a = {NULL, NULL, false, BUF_INIT};
	struct wp_config *cfg;
	struct buf qs = BUF_INIT;
	PGconn *conn;
	const char *ids;
	int rc = dlq_parse_args(argc, argv, &a);

	if (rc >= 0) {
		buf_free(&a.ids);
		return rc;
	}
	cfg = cmd_config_load(a.path, &rc);
	if (cfg == NULL) {
		buf_free(&a.ids);
		return rc;
	}
	if (cfg->target.conninfo == NULL) {
		fprintf(stderr, "walpipe dlq: %s has no target: dead letters live in "
						"the analytics database\n",
				cfg->path);
		config_free(cfg);
		buf_free(&a.ids);
		return 2;
	}
	ids = a.all ? NULL : a.ids.data;
	conn = pgconn_connect(cfg->target.conninfo, "walpipe dlq", false);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "walpipe dlq: could not connect to the analytics "
						"server: %s",
				PQerrorMessage(conn));
		rc = 2;
	} else {
		map_quote_ident(&qs, cfg->target.schema);
		if (!strcmp(a.verb, "list"))
			rc = dlq_list(cfg, conn, qs.data, a.all);
		else if (!strcmp(a.verb, "retry"))
			rc = dlq_retry(cfg, conn, qs.data, ids);
		else
			rc = dlq_resolve(cfg, conn, qs.data, ids);
	}
	buf_free(&qs);
	PQfinish(conn);
	buf_free(&a.ids);
	config_free(cfg);
	return rc;
}
