/* cmd_status.c: `walpipe status`: the health of one source, from both databases. */
#include "walpipe/buf.h"
#include "walpipe/commands.h"
#include "walpipe/config.h"
#include "walpipe/ident.h"
#include "walpipe/map.h"
#include "walpipe/mem.h"
#include "walpipe/mirror_pg.h"
#include "walpipe/pgconn.h"

#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One named value of the report, in display order. */
struct item {
	const char *section, *key;
	char *value; /* NULL: unknown (shown as "-" / JSON null) */
	bool number; /* JSON: emit unquoted */
};

struct report {
	struct item v[256];
	int n;
	/* Section names made for the report, which its items borrow. */
	char rsec[16][300];					/* "refresh VIEW" */
	char ssec[16][IDENT_QUALIFIED_MAX + 80]; /* "snapshot TABLE" */
	size_t nsnap;
	char msec[8][32];					/* "mirror[N]" */
	char bsec[8][2 * IDENT_QUALIFIED_MAX + 16]; /* "backfill FROM -> TO" */
};

static void
put(struct report *r, const char *section, const char *key, const char *value,
	bool number)
{
	if (r->n >= 256)
		return;
	r->v[r->n].section = section;
	r->v[r->n].key = key;
	r->v[r->n].value = value ? strdup(value) : NULL;
	r->v[r->n].number = number;
	r->n++;
}

static PGconn *
status_connect(const char *conninfo)
{
	return pgconn_connect(conninfo, "walpipe status", false);
}

/* Run q with one parameter and put each column of its single row. */
static bool
put_row(struct report *r, PGconn *conn, const char *section, const char *q,
		const char *param, const char *const *keys, const bool *numbers,
		int nkeys)
{
	const char *params[1] = {param};
	PGresult *res = PQexecParams(conn, q, param ? 1 : 0, NULL, params, NULL,
								 NULL, 0);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	for (int i = 0; i < nkeys; i++)
		put(r, section, keys[i],
			ok && PQntuples(res) == 1 && !PQgetisnull(res, 0, i)
				? PQgetvalue(res, 0, i)
				: NULL,
			numbers[i]);
	if (!ok)
		fprintf(stderr, "walpipe status: %s query failed: %s", section,
				PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/* Parse argv: -c FILE (*path), --json.  -1 to go on, else the exit
 * status. */
static int
status_parse_args(int argc, char **argv, const char **path, bool *json)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': *path = optarg; break;
		case 'j': *json = true; break;
		case 'h':
			printf("Usage: walpipe status -c FILE [--json]\n\n"
				   "Slot state and retained WAL, checkpoint and lag, pending "
				   "dead letters,\nstaging partitions ahead, materialized "
				   "view refreshes.\n");
			return 0;
		default: return 2;
		}
	}
	if (!*path) {
		fprintf(stderr, "walpipe status: -c FILE is required\n");
		return 2;
	}
	return -1;
}

/* The slot section, from the source server.  False when it could not be
 * reached (printed). */
static bool
status_slot(struct report *r, const struct wp_config *cfg, PGconn *src)
{
	static const char *const slot_keys[] = {
		"slot", "exists", "active", "wal_status", "confirmed_flush_lsn",
		"current_wal_lsn", "lag_bytes", "retained_wal_bytes"};
	static const bool slot_num[] = {false, false, false, false,
									false, false, true,	 true};

	if (PQstatus(src) != CONNECTION_OK) {
		fprintf(stderr, "walpipe status: could not connect to the source "
						"server: %s",
				PQerrorMessage(src));
		return false;
	}
	put_row(r, src, "slot",
			"SELECT $1::text, (s.slot_name IS NOT NULL)::text, "
			"s.active::text, s.wal_status, s.confirmed_flush_lsn::text, "
			"pg_current_wal_lsn()::text, "
			"pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)"
			"::bigint::text, "
			"pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint"
			"::text "
			"FROM (SELECT 1) x LEFT JOIN pg_replication_slots s "
			"ON s.slot_name = $1",
			cfg->source.slot, slot_keys, slot_num, 8);
	return true;
}

/* The checkpoint section: position, lag, pending dead letters.  schema:
 * the analytics schema, quoted. */
static void
status_checkpoint(struct report *r, const struct wp_config *cfg, PGconn *ana,
				  const char *schema)
{
	static const char *const ck_keys[] = {
		"checkpoint_lsn", "split_txn_end", "split_txn_applied", "updated_at",
		"last_commit_time", "apply_lag_seconds", "pending_dead_letters"};
	static const bool ck_num[] = {false, false, true, false, false, true, true};
	struct buf q = BUF_INIT;

	buf_appendf(&q,
				"SELECT c.lsn::text, c.txn_end::text, c.txn_applied::text, "
				"to_char(c.updated_at, 'YYYY-MM-DD\"T\"HH24:MI:SSOF'), "
				"to_char(c.last_commit_time, "
				"'YYYY-MM-DD\"T\"HH24:MI:SSOF'), "
				"round(extract(epoch FROM now() - c.last_commit_time), "
				"1)::text, "
				"(SELECT count(*) FROM %s.dead_letters d WHERE d.source = "
				"$1 AND NOT d.resolved)::text "
				"FROM (SELECT 1) x LEFT JOIN %s.checkpoints c ON c.source = $1",
				schema, schema);
	put_row(r, ana, "checkpoint", q.data, cfg->source.name, ck_keys, ck_num,
			7);
	buf_free(&q);
}

/* The staging section: its partitions, and how many lie ahead. */
static void
status_staging(struct report *r, const struct wp_config *cfg, PGconn *ana)
{
	static const char *const st_keys[] = {"table", "partitions",
										  "partitions_ahead"};
	static const bool st_num[] = {false, true, true};
	char *tbl = ident_qualified(cfg->staging.schema, cfg->staging.table);

	put_row(r, ana, "staging",
			"SELECT $1::text, count(*)::text, count(*) FILTER (WHERE "
			"pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES FROM%' "
			"AND substring(pg_get_expr(c.relpartbound, c.oid) FROM "
			"'FROM \\(''([^'']+)''\\)')::timestamptz > now())::text "
			"FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
			"WHERE h.inhparent = to_regclass($1)",
			tbl, st_keys, st_num, 3);
	free(tbl);
}

/* A "refresh VIEW" section for each of the first 16 refreshed views. */
static void
status_refreshes(struct report *r, const struct wp_config *cfg, PGconn *ana,
				 const char *schema)
{
	static const char *const rf_keys[] = {"view", "last_ok_at", "last_error",
										  "duration_ms"};
	static const bool rf_num[] = {false, false, false, true};
	struct buf q = BUF_INIT;

	for (size_t i = 0; i < cfg->nrefresh && i < 16; i++) {
		/* As sink_pg_refresh names the view in walpipe.refreshes. */
		char *v = ident_qualified(cfg->refresh[i].view_schema,
								  cfg->refresh[i].view_table);

		snprintf(r->rsec[i], sizeof(r->rsec[i]), "refresh %s", v);
		buf_reset(&q, 4096);
		buf_appendf(&q,
					"SELECT $1::text, to_char(f.last_ok_at, "
					"'YYYY-MM-DD\"T\"HH24:MI:SSOF'), f.last_error, "
					"f.duration_ms::text FROM (SELECT 1) x LEFT JOIN "
					"%s.refreshes f ON f.view = $1",
					schema);
		put_row(r, ana, r->rsec[i], q.data, v, rf_keys, rf_num, 4);
		free(v);
	}
	buf_free(&q);
}

/*
 * A "snapshot TABLE" section for each mapped source table (the first 16):
 * rows copied, the planner's estimate, the rate so far and, while
 * copying, the time left.
 */
static void
status_snapshots(struct report *r, const struct wp_config *cfg, PGconn *ana,
				 const char *schema)
{
	static const char *const sn_keys[] = {
		"state",		   "kind",		  "rows_copied", "rows_estimated",
		"rows_per_second", "eta_seconds", "snapshot_lsn", "finished_at"};
	static const bool sn_num[] = {false, false, true, true,
								  true,	 true,	false, false};
	struct buf q = BUF_INIT;

	for (size_t i = 0; i < cfg->nmappings && r->nsnap < 16; i++) {
		char key[IDENT_QUALIFIED_MAX + 80]; /* source|schema.table */
		char *from = ident_qualified(cfg->mappings[i].from_schema,
									 cfg->mappings[i].from_table);
		bool dup = false;

		snprintf(key, sizeof(key), "snapshot %s", from);
		for (size_t j = 0; j < r->nsnap; j++)
			dup |= strcmp(r->ssec[j], key) == 0;
		if (dup) {
			free(from);
			continue;
		}
		snprintf(r->ssec[r->nsnap], sizeof(r->ssec[r->nsnap]), "%s", key);
		/* The source name is a plain name: the first | ends it. */
		snprintf(key, sizeof(key), "%s|%s", cfg->source.name, from);
		free(from);
		buf_reset(&q, 4096);
		buf_appendf(
			&q,
			"SELECT t.state, t.kind, t.rows_copied::text, "
			"t.rows_estimated::text, round(t.rows_copied / greatest(extract("
			"epoch FROM coalesce(t.finished_at, t.updated_at) - "
			"t.started_at), 0.001))::text, CASE WHEN t.state = 'copying' AND "
			"t.rows_estimated > t.rows_copied AND t.rows_copied > 0 THEN "
			"round((t.rows_estimated - t.rows_copied) / (t.rows_copied / "
			"greatest(extract(epoch FROM now() - t.started_at), 0.001)))::text "
			"END, t.snapshot_lsn::text, to_char(t.finished_at, "
			"'YYYY-MM-DD\"T\"HH24:MI:SSOF') FROM (SELECT 1) x LEFT JOIN "
			"%s.snapshot_tables t ON t.source = split_part($1, '|', 1) AND "
			"t.source_table = substr($1, strpos($1, '|') + 1)",
			schema);
		put_row(r, ana, r->ssec[r->nsnap], q.data, key, sn_keys, sn_num, 8);
		r->nsnap++;
	}
	buf_free(&q);
}

/*
 * A "backfill FROM -> TO" section for each online backfill, the latest 8:
 * its state, why it runs, rows copied of the estimate, the rate, the
 * time left, the rows that no longer matched and were removed, and, when
 * those stay or it was refused, why.
 */
static void
status_backfills(struct report *r, const struct wp_config *cfg, PGconn *ana,
				 const char *schema)
{
	static const char *const keys[] = {
		"state",		  "reason",		"rows_copied",		   "rows_estimated",
		"rows_per_second", "eta_seconds", "chunks",			   "rows_removed",
		"removes_stale",   "note",		"finished_at"};
	static const bool num[] = {false, false, true, true, true, true,
							   true,  true,	 false, false, false};
	const char *params[1] = {cfg->source.name};
	struct buf q = BUF_INIT;
	PGresult *res;

	buf_appendf(
		&q,
		"SELECT source_table || ' -> ' || target, state, reason, "
		"rows_copied::text, rows_estimated::text, round(rows_copied / "
		"greatest(extract(epoch FROM coalesce(finished_at, updated_at) - "
		"started_at), 0.001))::text, CASE WHEN state = 'copying' AND "
		"rows_estimated > rows_copied AND rows_copied > 0 THEN "
		"round((rows_estimated - rows_copied) / (rows_copied / "
		"greatest(extract(epoch FROM now() - started_at), 0.001)))::text "
		"END, chunks::text, rows_removed::text, CASE WHEN sweeps THEN 'yes' "
		"WHEN NOT sweeps THEN 'no' END, note, to_char(finished_at, "
		"'YYYY-MM-DD\"T\"HH24:MI:SSOF') FROM %s.backfills WHERE source = $1 "
		"ORDER BY requested_at DESC LIMIT 8",
		schema);
	res = PQexecParams(ana, q.data, 1, NULL, params, NULL, NULL, 0);
	/* 42P01: a schema older than version 5 has no backfills. */
	for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK &&
					i < PQntuples(res) && i < 8;
		 i++) {
		snprintf(r->bsec[i], sizeof(r->bsec[i]), "backfill %s",
				 PQgetvalue(res, i, 0));
		for (int k = 0; k < 11; k++)
			put(r, r->bsec[i], keys[k],
				PQgetisnull(res, i, k + 1) ? NULL : PQgetvalue(res, i, k + 1),
				num[k]);
	}
	PQclear(res);
	buf_free(&q);
}

/* Of mirror m's tables t (ident_qualified text, n of them, as a text[]
 * literal): how many have a target in schema to, and how many copies
 * are not done. */
static void
mirror_targets(struct report *r, const char *section, PGconn *ana,
			   const char *schema, const char *source, const char *to,
			   const struct buf *tables, const struct buf *names)
{
	static const char *const keys[] = {"targets", "copies_pending"};
	static const bool num[] = {true, true};
	struct buf q = BUF_INIT, arg = BUF_INIT;

	/* One parameter: source|to|{tables}|{names}. */
	buf_appendf(&arg, "%s\x1f%s\x1f%s\x1f%s", source, to, tables->data,
				names->data);
	buf_appendf(&q,
				"WITH p AS (SELECT pg_catalog.string_to_array($1, "
				"pg_catalog.chr(31)) a) "
				"SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.unnest("
				"(a[4])::text[]) n WHERE pg_catalog.to_regclass("
				"pg_catalog.format('%%I.%%I', a[2], n)) IS NOT NULL)::text, "
				"(SELECT pg_catalog.count(*) FROM %s.snapshot_tables s WHERE "
				"s.source = a[1] AND s.state <> 'done' AND s.source_table = "
				"ANY ((a[3])::text[]))::text FROM p",
				schema);
	put_row(r, ana, section, q.data, arg.data, keys, num, 2);
	buf_free(&q);
	buf_free(&arg);
}

/* Each mirror: the tables it matches now, their targets, the copies not
 * done yet, and the tables it cannot mirror (with the reason in check
 * --live). */
static void
status_mirrors(struct report *r, const struct wp_config *cfg, PGconn *src,
			   PGconn *ana, const char *schema)
{
	struct map_rule *rules = config_rules(cfg);

	for (size_t i = 0; i < cfg->nmirrors && i < 8; i++) {
		const struct config_mirror *m = &cfg->mirrors[i];
		struct mirror_source *t;
		struct buf tables = BUF_INIT, names = BUF_INIT, bad = BUF_INIT;
		size_t n, taken = 0;
		char err[1024], num[32], q[IDENT_QUALIFIED_MAX];

		snprintf(r->msec[i], sizeof(r->msec[i]), "mirror[%zu]", i);
		if (!mirror_pg_taken(src, cfg->mirrors, cfg->nmirrors, i, rules,
							 cfg->nmappings, &t, &n, err, sizeof(err))) {
			fprintf(stderr, "walpipe status: %s\n", err);
			continue;
		}
		buf_append_char(&tables, '{');
		buf_append_char(&names, '{');
		for (size_t k = 0; k < n; k++) {
			ident_qualified_to(q, sizeof(q), t[k].schema, t[k].table);
			if (!mirror_source_ok(&t[k], err, sizeof(err))) {
				buf_appendf(&bad, "%s%s", bad.len ? ", " : "", q);
				continue;
			}
			buf_append_str(&tables, taken ? "," : "");
			buf_append_json_string(&tables, q, strlen(q));
			buf_append_str(&names, taken ? "," : "");
			buf_append_json_string(&names, t[k].table, strlen(t[k].table));
			taken++;
		}
		buf_append_char(&tables, '}');
		buf_append_char(&names, '}');
		snprintf(num, sizeof(num), "%zu", taken);
		put(r, r->msec[i], "to", m->to, false);
		put(r, r->msec[i], "tables", num, true);
		mirror_targets(r, r->msec[i], ana, schema, cfg->source.name, m->to,
					   &tables, &names);
		put(r, r->msec[i], "cannot_mirror", bad.len ? bad.data : NULL,
			false);
		mirror_pg_free_sources(t, n);
		buf_free(&tables);
		buf_free(&names);
		buf_free(&bad);
	}
	free(rules);
}

/* The analytics sections: checkpoint, staging, refreshes, snapshots.
 * False when the server could not be reached (printed). */
static bool
status_analytics(struct report *r, const struct wp_config *cfg, PGconn *ana)
{
	struct buf qs = BUF_INIT;

	if (PQstatus(ana) != CONNECTION_OK) {
		fprintf(stderr, "walpipe status: could not connect to the analytics "
						"server: %s",
				PQerrorMessage(ana));
		return false;
	}
	map_quote_ident(&qs, cfg->target.schema);
	status_checkpoint(r, cfg, ana, qs.data);
	if (cfg->staging.enabled)
		status_staging(r, cfg, ana);
	status_refreshes(r, cfg, ana, qs.data);
	status_snapshots(r, cfg, ana, qs.data);
	status_backfills(r, cfg, ana, qs.data);
	buf_free(&qs);
	return true;
}

/* The report as one JSON object of sections: strings quoted, numbers,
 * booleans and unknowns (null) bare. */
static void
report_print_json(const struct report *r)
{
	const char *section = NULL;

	printf("{");
	for (int i = 0; i < r->n; i++) {
		const struct item *it = &r->v[i];
		struct buf b = BUF_INIT;

		if (!section || strcmp(section, it->section)) {
			if (section)
				printf("}, ");
			printf("\"%s\": {", it->section); /* plain names */
			section = it->section;
		} else {
			printf(", ");
		}
		printf("\"%s\": ", it->key);
		if (it->value == NULL)
			printf("null");
		else if (it->number)
			printf("%s", it->value);
		else if (!strcmp(it->value, "true") || !strcmp(it->value, "false"))
			printf("%s", it->value);
		else {
			buf_append_json_string(&b, it->value, strlen(it->value));
			printf("%s", b.data);
		}
		buf_free(&b);
	}
	printf("%s}\n", section ? "}" : "");
}

/* The report as aligned lines: section, key, value ("-": unknown). */
static void
report_print_text(const struct report *r)
{
	for (int i = 0; i < r->n; i++)
		printf("%-11s %-22s %s\n", r->v[i].section, r->v[i].key,
			   r->v[i].value ? r->v[i].value : "-");
}

int
cmd_status(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false, failed = false;
	struct wp_config *cfg;
	struct report *r;
	PGconn *src, *ana;
	int rc = status_parse_args(argc, argv, &path, &json);

	if (rc >= 0)
		return rc;
	cfg = cmd_config_load(path, &rc);
	if (cfg == NULL)
		return rc;
	r = wp_calloc(1, sizeof(*r));
	put(r, "source", "name", cfg->source.name, false);
	src = status_connect(cfg->source.conninfo);
	failed |= !status_slot(r, cfg, src);
	/* Kafka alone: no analytics database; the slot is the checkpoint. */
	ana = cfg->target.conninfo ? status_connect(cfg->target.conninfo) : NULL;
	if (ana == NULL)
		put(r, "target", "none", "kafka only", false);
	else
		failed |= !status_analytics(r, cfg, ana);
	if (ana && cfg->nmirrors && PQstatus(src) == CONNECTION_OK &&
		PQstatus(ana) == CONNECTION_OK)
		status_mirrors(r, cfg, src, ana, cfg->target.schema);
	if (json)
		report_print_json(r);
	else
		report_print_text(r);
	for (int i = 0; i < r->n; i++)
		free(r->v[i].value);
	free(r);
	PQfinish(src);
	PQfinish(ana);
	config_free(cfg);
	return failed ? 2 : 0;
}
