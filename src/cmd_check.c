/* cmd_check.c: `walpipe check`: validate a configuration and show what flows where. */
#include "walpipe/buf.h"
#include "walpipe/catalog.h"
#include "walpipe/commands.h"
#include "walpipe/config.h"
#include "walpipe/ident.h"
#include "walpipe/mem.h"
#include "walpipe/mirror_pg.h"
#include "walpipe/pgconn.h"
#include "walpipe/repl.h"
#include "walpipe/sink_kafka.h"
#include "walpipe/target.h"

#include <libpq-fe.h>

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
mode_name(enum map_mode m)
{
	return m == MAP_MODE_UPSERT	   ? "upsert"
		   : m == MAP_MODE_APPEND  ? "append"
		   : m == MAP_MODE_KEYLESS ? "keyless"
								   : "none";
}

/* Print schema.table in the configuration's notation (ident.h). */
static void
print_qname(const char *schema, const char *table)
{
	char *q = ident_qualified(schema, table);

	fputs(q, stdout);
	free(q);
}

static void
print_name(const char *name)
{
	struct buf b = BUF_INIT;

	ident_append(&b, name);
	fputs(b.data, stdout);
	buf_free(&b);
}

static void
print_summary(const struct wp_config *cfg)
{
	char *src = pgconn_mask(cfg->source.conninfo);
	char *tgt = cfg->target.conninfo ? pgconn_mask(cfg->target.conninfo)
									 : NULL;
	bool pgoutput = cfg->source.plugin == CONFIG_PLUGIN_PGOUTPUT;

	printf("%s: valid\n", cfg->path);
	printf("source \"%s\": slot %s%s, %s%s%s%zu table(s), %s\n",
		   cfg->source.name, cfg->source.slot,
		   cfg->source.create_slot ? " (created if missing)" : "",
		   pgoutput ? "pgoutput publication " : "",
		   pgoutput ? cfg->source.pubname : "", pgoutput ? ", " : "",
		   cfg->source.ntables, src);
	if (tgt) {
		printf("target: schema ");
		print_name(cfg->target.schema);
		printf(", %s\n", tgt);
	}
	else
		printf("target: none (Kafka only: the slot is the checkpoint, its "
			   "position recorded in %s/%s.position)\n",
			   cfg->source.state_dir, cfg->source.name);
	printf("batch: up to %lld changes, %lld bytes, %lld ms\n",
		   (long long) cfg->batch.max_changes, (long long) cfg->batch.max_bytes,
		   (long long) cfg->batch.max_delay_ms);
	if (cfg->staging.enabled) {
		printf("staging: every change -> ");
		print_qname(cfg->staging.schema, cfg->staging.table);
		printf(" (by %s, %lld ahead%s)\n", cfg->staging.partition,
			   (long long) cfg->staging.premake,
			   cfg->staging.retention_ms ? ", with retention" : "");
	}
	for (size_t i = 0; i < cfg->nmappings; i++) {
		const struct config_mapping *m = &cfg->mappings[i];

		printf("mapping: ");
		print_qname(m->from_schema, m->from_table);
		if (m->rule.mode == MAP_MODE_NONE) {
			printf(" -> staging only\n");
			continue;
		}
		printf(" -> ");
		print_qname(m->to_schema, m->to_table);
		printf(" (%s", mode_name(m->rule.mode));
		for (size_t k = 0; k < m->nkey; k++) {
			printf("%s", k ? ", " : " on ");
			print_name(m->key[k]);
		}
		if (m->rule.mode == MAP_MODE_KEYLESS)
			printf(", no key: rows matched on all mapped columns, REPLICA "
				   "IDENTITY FULL");
		printf(", %zu column(s)%s)\n", m->ncols, m->where ? ", filtered" : "");
	}
	for (size_t i = 0; i < cfg->nmirrors; i++) {
		const struct config_mirror *m = &cfg->mirrors[i];

		printf("mirror: ");
		for (size_t k = 0; k < m->nfrom; k++)
			printf("%s%s", k ? ", " : "", m->from[k]);
		for (size_t k = 0; k < m->nexclude; k++)
			printf("%s%s", k ? ", " : " except ", m->exclude[k]);
		printf(" -> schema ");
		print_name(m->to);
		printf(" (each table 1:1, targets created%s%s)\n",
			   m->soft_delete_column ? ", soft deletes" : "",
			   m->nmetadata ? ", metadata columns" : "");
	}
	for (size_t i = 0; i < cfg->nrefresh; i++) {
		printf("refresh: ");
		print_qname(cfg->refresh[i].view_schema, cfg->refresh[i].view_table);
		printf(" every %lld s%s\n",
			   (long long) (cfg->refresh[i].every_ms / 1000),
			   cfg->refresh[i].concurrently ? " (concurrently)" : "");
	}
	if (cfg->kafka.enabled)
		printf("kafka: %s, topic %s, format %s\n", cfg->kafka.brokers,
			   cfg->kafka.topic, cfg->kafka.format);
	free(src);
	free(tgt);
}

/* Problems found by --live, printed as they are found. */
struct live {
	int problems;
};

static void
live_problem(struct live *lv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
live_problem(struct live *lv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("live: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	lv->problems++;
}

static PGconn *
live_connect(const char *conninfo, const char *what)
{
	PGconn *conn = pgconn_connect(conninfo, "walpipe check", false);

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "walpipe check: could not connect to the %s server: %s",
				what, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* One-value query with up to two text parameters; caller frees. */
static char *
live_value(PGconn *conn, const char *sql, const char *p1, const char *p2)
{
	const char *params[2] = {p1, p2};
	PGresult *r = PQexecParams(conn, sql, p2 ? 2 : p1 ? 1 : 0, NULL, params,
							   NULL, NULL, 0);
	char *v = NULL;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		!PQgetisnull(r, 0, 0))
		v = wp_strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/*
 * Partitioned tables, mapped or listed in source.tables: each with the
 * partitions whose changes it receives, each partition's replica identity
 * checked (catalog_route_new).  Returns the partitioned tables (quoted
 * "schema"."table", *n; free each and the array).
 */
static char **
live_partitions(struct live *lv, PGconn *conn, const struct wp_config *cfg,
				bool quiet, size_t *n)
{
	struct sink_target *t = wp_calloc(cfg->nmappings + 1, sizeof(*t));
	char *tables = config_tables_list(cfg);
	const struct route_entry *e;
	struct route *rt;
	char **roots, **schemas;
	size_t nt = 0, nschemas;
	char err[1024];

	*n = 0;
	for (size_t i = 0; i < cfg->nmappings; i++) {
		const struct config_mapping *m = &cfg->mappings[i];

		t[nt].rule = &m->rule;
		/* A missing table is reported with its mapping. */
		t[nt].srccols = catalog_source_columns(
			conn, m->from_schema, m->from_table, false, &t[nt].nsrc,
			&t[nt].partitioned, err, sizeof(err));
		if (t[nt].srccols != NULL)
			nt++;
	}
	rt = catalog_route_new(conn, t, nt, tables, &schemas, &nschemas, err,
						   sizeof(err));
	if (rt == NULL)
		live_problem(lv, "%s", err);
	roots = catalog_route_roots(rt, n);
	for (size_t i = 0; rt && (e = route_root(rt, i)) != NULL; i++) {
		struct catalog_part *p;
		size_t np;
		char q[IDENT_QUALIFIED_MAX];

		if (quiet || !catalog_partitions(conn, e->schema, e->table, &p, &np,
										 err, sizeof(err)))
			continue;
		ident_qualified_to(q, sizeof(q), e->schema, e->table);
		printf("partitioned: %s receives the changes of", q);
		for (size_t k = 0, shown = 0; k < np; k++)
			if (p[k].leaf) {
				ident_qualified_to(q, sizeof(q), p[k].schema, p[k].table);
				printf("%s %s", shown++ ? "," : "", q);
			}
		printf("%s\n", np ? "" : " no partition yet");
		catalog_free_parts(p, np);
	}
	/* NULL and 0 when rt is NULL. */
	for (size_t i = 0; i < nschemas; i++)
		free(schemas[i]);
	free(schemas);
	route_free(rt);
	for (size_t i = 0; i < nt; i++)
		catalog_free_columns(t[i].srccols, t[i].nsrc);
	free(t);
	free(tables);
	return roots;
}

/*
 * Whether NaN and the infinities of the mapped real, double precision and
 * numeric columns can arrive: only through numeric-data-types-as-string
 * (wal2json 2.6+); with an older wal2json they arrive as NULL.  A
 * warning, not a problem: walpipe runs, and the values it cannot get are
 * named.
 */
static void
live_special_values(PGconn *conn, const struct wp_config *cfg)
{
	const struct map_rule **rules;
	char err[512], *cols;
	int has;

	has = repl_probe_numbers_as_strings(conn, cfg->source.slot, err,
										sizeof(err));
	if (has == 1)
		return;
	rules = wp_calloc(cfg->nmappings + 1, sizeof(*rules));
	for (size_t i = 0; i < cfg->nmappings; i++)
		rules[i] = &cfg->mappings[i].rule;
	cols = catalog_special_columns(conn, rules, cfg->nmappings);
	if (has < 0)
		fprintf(stderr,
				"warning: could not tell whether the source's wal2json "
				"carries NaN and infinities (numeric-data-types-as-string): "
				"%s\n",
				err);
	else if (cols)
		fprintf(stderr,
				"warning: the source's wal2json has no "
				"numeric-data-types-as-string (it came with wal2json 2.6): "
				"NaN, Infinity and -Infinity in columns %s would arrive as "
				"NULL\n",
				cols);
	free(cols);
	free(rules);
}

/*
 * pgoutput streams what the publication holds: it must publish every
 * action of every table of source.tables without a row filter or column
 * list, and the mirrors' schemas whole (a table without a replica
 * identity there is a problem: published, the source refuses its updates
 * and deletes).  With create_slot, walpipe creates it or adds the missing tables
 * at start (run_open.c): said, not a problem.
 */
static void
live_publication(struct live *lv, PGconn *conn, const struct wp_config *cfg,
				 bool quiet)
{
	char err[2048];
	const char **schemas;
	struct repl_pub_scope scope = {cfg->source.tables, cfg->source.ntables,
								   NULL, 0, false};
	int r;

	scope.all_tables = config_mirror_schemas(cfg->mirrors, cfg->nmirrors,
											 &schemas, &scope.nschemas);
	scope.schemas = schemas;
	r = repl_publication_check(conn, cfg->source.pubname, &scope, false,
							   NULL, 0, err, sizeof(err));
	free(schemas);

	if (r == 1)
		return;
	if (r < 0)
		fprintf(stderr, "warning: %s\n", err);
	else if (r == 2 && cfg->source.create_slot) {
		if (!quiet)
			printf("  publication \"%s\": walpipe creates it or adds the "
				   "missing tables and schemas at start "
				   "(source.create_slot)\n",
				   cfg->source.pubname);
	} else
		live_problem(lv, "%s", err);
}

/*
 * walpipe's stream as a synchronous standby of the source: its
 * application name (the conninfo's, else PGAPPNAME's, else "walpipe":
 * asked of a connection made as the stream's is) named in
 * synchronous_standby_names.  A warning, as walpipe gives once it
 * streams (run.c): a source may be meant to wait for analytics.
 */
static void
live_sync_standby(PGconn *conn, const struct wp_config *cfg)
{
	PGconn *as = pgconn_connect(cfg->source.conninfo, "walpipe", false);
	char *app = PQstatus(as) == CONNECTION_OK
					? live_value(as, "SHOW application_name", NULL, NULL)
					: NULL;
	char *names = live_value(
		conn, "SELECT pg_catalog.current_setting('synchronous_standby_names')",
		NULL, NULL);

	if (app && names && ident_syncnames_match(names, app))
		fprintf(stderr,
				"warning: the source's synchronous_standby_names ('%s') "
				"names walpipe's application name \"%s\": walpipe will be "
				"a synchronous standby of the source, or a potential one. "
				"Every commit on the source then waits until walpipe has "
				"applied it and confirmed it, and a change that makes "
				"walpipe read the source catalog (a new mirrored table or "
				"partition, a mapped table that changes shape) cannot "
				"apply. Take \"%s\" out of synchronous_standby_names, or "
				"give walpipe another application_name in source.conninfo.\n",
				names, app, app);
	free(app);
	free(names);
	PQfinish(as);
}

static void
live_source(struct live *lv, PGconn *conn, const struct wp_config *cfg,
			char *const *roots, size_t nroots, bool quiet)
{
	bool pgoutput = cfg->source.plugin == CONFIG_PLUGIN_PGOUTPUT;
	char *v = live_value(conn, "SHOW wal_level", NULL, NULL);

	if (v && strcmp(v, "logical") != 0)
		live_problem(lv, "source wal_level is \"%s\"; logical decoding needs "
						 "\"logical\" (set it and restart the source)",
					 v);
	free(v);
	v = live_value(conn,
				   "SELECT rolreplication OR rolsuper FROM pg_catalog.pg_roles "
				   "WHERE rolname = current_user",
				   NULL, NULL);
	if (v && strcmp(v, "t") != 0)
		live_problem(lv, "source role has no REPLICATION attribute");
	free(v);
	v = live_value(conn,
				   "SELECT plugin FROM pg_catalog.pg_replication_slots WHERE "
				   "slot_name = $1",
				   cfg->source.slot, NULL);
	if (v == NULL && !cfg->source.create_slot)
		live_problem(lv, "replication slot \"%s\" does not exist and "
						 "source.create_slot is false",
					 cfg->source.slot);
	else if (v && strcmp(v, repl_plugin_name(pgoutput)) != 0)
		live_problem(lv, "replication slot \"%s\" uses plugin \"%s\", not "
						 "%s (source.plugin)",
					 cfg->source.slot, v, repl_plugin_name(pgoutput));
	free(v);
	if (pgoutput)
		live_publication(lv, conn, cfg, quiet);
	else
		live_special_values(conn, cfg);
	v = catalog_unlisted_partitions(conn, cfg->source.tables,
									cfg->source.ntables, roots, nroots);
	if (v)
		fprintf(stderr,
				"warning: source.tables: partitions %s of the same "
				"partitioned tables are not listed: their changes would not "
				"reach walpipe\n",
				v);
	free(v);
	for (size_t i = 0; i < cfg->source.ntables; i++) {
		const char *t = cfg->source.tables[i];

		v = live_value(conn,
					   "SELECT CASE WHEN c.oid IS NULL THEN 'missing' "
					   " WHEN c.relreplident = 'n' THEN 'nothing' "
					   " WHEN c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM "
					   "  pg_catalog.pg_index i WHERE i.indrelid = c.oid AND "
					   "  i.indisprimary) "
					   "  THEN 'nokey' "
					   " WHEN NOT pg_catalog.has_table_privilege(c.oid, 'SELECT') "
					   " THEN "
					   "  'noselect' ELSE 'ok' END "
					   "FROM (SELECT pg_catalog.to_regclass($1) AS oid) x "
					   "LEFT JOIN pg_catalog.pg_class c ON c.oid = x.oid",
					   t, NULL);
		if (v == NULL || strcmp(v, "ok") == 0) {
			free(v);
			continue;
		}
		if (strcmp(v, "missing") == 0)
			live_problem(lv, "source.tables: table \"%s\" does not exist", t);
		else if (strcmp(v, "noselect") == 0)
			live_problem(lv, "source.tables: no SELECT privilege on \"%s\"", t);
		else
			live_problem(lv,
						 "source.tables: table \"%s\" has no primary key or "
						 "replica identity: %s (add a primary key or ALTER "
						 "TABLE ... REPLICA IDENTITY USING INDEX / FULL)",
						 t,
						 pgoutput ? "once published, its updates and "
									"deletes fail on the source"
								  : "wal2json drops its updates and deletes");
		free(v);
	}
}

/*
 * Run one of a plan's statements in the analytics transaction, in a
 * savepoint: the temp table's DDL (create) is executed, every other is
 * prepared and planned.  NULL when it passed, else the failed result
 * (caller clears), the savepoint still to be rolled back.
 */
static PGresult *
live_try_statement(PGconn *ana, const char *sql, bool create)
{
	PGresult *r;

	PQclear(PQexec(ana, "SAVEPOINT walpipe_check"));
	if (create) {
		r = PQexec(ana, sql);
	} else {
		/* Prepare analyses; EXPLAIN EXECUTE also plans, which is where
		 * ON CONFLICT looks for its unique index. */
		r = PQprepare(ana, "walpipe_check", sql, 0, NULL);
		if (PQresultStatus(r) == PGRES_COMMAND_OK) {
			PQclear(r);
			r = PQexec(ana, "EXPLAIN EXECUTE walpipe_check(1, 0)");
			if (PQresultStatus(r) == PGRES_TUPLES_OK) {
				PQclear(r);
				r = PQexec(ana, "DEALLOCATE ALL");
			}
		}
	}
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		PQclear(r);
		return NULL;
	}
	return r;
}

/* Each of plan's statements, for mapping i (m): one problem per mapping,
 * the first, since the rest repeat it. */
static void
live_plan_statements(struct live *lv, PGconn *ana, size_t i,
					 const struct config_mapping *m,
					 const struct map_plan *plan)
{
	const char *const stmts[12] = {
		plan->create_tmp,	   plan->upsert,		  plan->update_partial,
		plan->append,		   plan->remove,		  plan->move,
		plan->move_orphans,	   plan->unmatch,		  plan->partial_orphans,
		plan->keyless_delete, plan->keyless_update, plan->keyless_apply};

	for (int k = 0; k < 12; k++) {
		PGresult *r;
		const char *msg;
		char *f, *t;

		if (stmts[k] == NULL || (r = live_try_statement(ana, stmts[k],
														k == 0)) == NULL)
			continue;
		msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		f = ident_qualified(m->from_schema, m->from_table);
		t = ident_qualified(m->to_schema, m->to_table);
		live_problem(lv, "mappings[%zu] (%s -> %s): %s", i, f, t,
					 msg ? msg : PQerrorMessage(ana));
		free(f);
		free(t);
		PQclear(r);
		PQclear(PQexec(ana, "ROLLBACK TO SAVEPOINT walpipe_check"));
		/* Prepared statements outlive the rollback. */
		PQclear(PQexec(ana, "DEALLOCATE ALL"));
		break;
	}
}

/*
 * Each mapping compiled against the real source columns, and its
 * statements prepared in the analytics database against its temp table:
 * the server itself checks that target tables and columns exist, every
 * value and cast fits its column, SQL expressions are valid, and ON
 * CONFLICT has a unique index on the key.  Nothing is written.
 */
static void
live_mappings(struct live *lv, PGconn *src, PGconn *ana,
			  const struct wp_config *cfg)
{
	PQclear(PQexec(ana, "BEGIN"));
	for (size_t i = 0; i < cfg->nmappings; i++) {
		const struct config_mapping *m = &cfg->mappings[i];
		struct map_srccol *cols;
		struct map_plan *plan;
		size_t n;
		char err[1024], tmp[48];

		if (m->rule.mode == MAP_MODE_NONE)
			continue;
		cols = catalog_table_columns(src, m->from_schema, m->from_table,
									 false, &n, err, sizeof(err));
		if (cols == NULL) {
			live_problem(lv, "mappings[%zu]: %s", i, err);
			continue;
		}
		/* The statements are still checked: the inserts flow anyway. */
		if (m->rule.mode == MAP_MODE_KEYLESS &&
			!catalog_keyless_ok(src, m->from_schema, m->from_table, err,
								sizeof(err)))
			live_problem(lv, "mappings[%zu]: %s", i, err);
		snprintf(tmp, sizeof(tmp), "walpipe_check%zu", i);
		plan = catalog_plan_new(ana, &m->rule, cols, n, cfg->source.name, tmp,
								err, sizeof(err));
		if (plan == NULL)
			live_problem(lv, "mappings[%zu]: %s", i, err);
		else
			live_plan_statements(lv, ana, i, m, plan);
		map_plan_free(plan);
		catalog_free_columns(cols, n);
	}
	PQclear(PQexec(ana, "ROLLBACK"));
}

/*
 * One table of mirror i: can it be mirrored, and its target made (tried
 * in the caller's transaction, rolled back by it)?  Appends its name to
 * create when the target would be created.
 */
static void
live_mirror_table(struct live *lv, PGconn *src, PGconn *ana, size_t i,
				  const struct config_mirror *m, const struct mirror_source *t,
				  struct buf *create)
{
	char err[4096], *changes = NULL;
	int rc;

	if (!mirror_source_ok(t, err, sizeof(err))) {
		live_problem(lv, "mirror[%zu]: %s", i, err);
		return;
	}
	PQclear(PQexec(ana, "SAVEPOINT walpipe_check"));
	rc = mirror_pg_ensure_target(src, ana, t, &m->spec, &changes, err,
								 sizeof(err));
	if (rc < 0)
		live_problem(lv, "mirror[%zu]: %s", i, err);
	if (rc == 2)
		printf("mirror[%zu]: walpipe run will change a target:\n%s", i,
			   changes);
	free(changes);
	if (rc == 1) {
		buf_append_str(create, create->len ? ", " : "");
		ident_append(create, t->table);
	}
	PQclear(PQexec(ana, rc < 0 ? "ROLLBACK TO SAVEPOINT walpipe_check"
							   : "RELEASE SAVEPOINT walpipe_check"));
}

/*
 * The tables each mirror matches now, and whether each can be mirrored:
 * a replica identity that logs its updates and deletes, a target that
 * exists and fits or can be created (tried, then rolled back).
 */
static void
live_mirrors(struct live *lv, PGconn *src, PGconn *ana,
			 const struct wp_config *cfg, bool quiet)
{
	struct map_rule *rules = config_rules(cfg);

	PQclear(PQexec(ana, "BEGIN"));
	for (size_t i = 0; i < cfg->nmirrors; i++) {
		const struct config_mirror *m = &cfg->mirrors[i];
		struct buf names = BUF_INIT, create = BUF_INIT;
		struct mirror_source *t;
		size_t n, taken = 0;
		char err[1024], q[IDENT_QUALIFIED_MAX];

		if (!mirror_pg_taken(src, cfg->mirrors, cfg->nmirrors, i, rules,
							 cfg->nmappings, &t, &n, err, sizeof(err))) {
			live_problem(lv, "mirror[%zu]: %s", i, err);
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			ident_qualified_to(q, sizeof(q), t[k].schema, t[k].table);
			buf_appendf(&names, "%s%s", taken++ ? ", " : "", q);
			live_mirror_table(lv, src, ana, i, m, &t[k], &create);
		}
		if (!quiet)
			printf("mirror[%zu]: %zu table(s)%s%s\n", i, taken,
				   taken ? ": " : "", taken ? names.data : "");
		if (!quiet && create.len) {
			printf("mirror[%zu]: targets walpipe run will create in schema ",
				   i);
			print_name(m->to);
			printf(": %s\n", create.data);
		}
		if (taken == 0)
			live_problem(lv, "mirror[%zu]: no source table matches", i);
		mirror_pg_free_sources(t, n);
		buf_free(&names);
		buf_free(&create);
	}
	PQclear(PQexec(ana, "ROLLBACK"));
	free(rules);
}

static int
check_live(const struct wp_config *cfg, bool quiet)
{
	struct live lv = {0};
	PGconn *src = live_connect(cfg->source.conninfo, "source");
	bool want_ana = cfg->target.conninfo != NULL; /* not for Kafka alone */
	PGconn *ana = src && want_ana ? live_connect(cfg->target.conninfo,
												 "analytics")
								  : NULL;
	char **roots;
	size_t nroots;

	if (src == NULL || (want_ana && ana == NULL)) {
		PQfinish(src);
		return 2;
	}
	roots = live_partitions(&lv, src, cfg, quiet, &nroots);
	live_source(&lv, src, cfg, roots, nroots, quiet);
	live_sync_standby(src, cfg);
	for (size_t i = 0; i < nroots; i++)
		free(roots[i]);
	free(roots);
	if (ana)
		live_mappings(&lv, src, ana, cfg);
	if (ana && cfg->nmirrors)
		live_mirrors(&lv, src, ana, cfg, quiet);
	/* What a reload with this file would change in a running source. */
	if (ana && !quiet)
		cmd_plan_report(cfg, src, ana, stdout, true);
	PQfinish(src);
	PQfinish(ana);
	if (lv.problems) {
		fprintf(stderr, "%s: %d problem(s) found against the live databases\n",
				cfg->path, lv.problems);
		return 1;
	}
	printf("live: source and analytics databases accept this configuration\n");
	return 0;
}

int
cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"quiet", no_argument, NULL, 'q'},
		{"live", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool quiet = false, live = false;
	int rc = 0;
	size_t nerr;
	struct wp_config *cfg;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qlh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'q': quiet = true; break;
		case 'l': live = true; break;
		case 'h':
			printf("Usage: walpipe check -c FILE [-l|--live] [-q|--quiet]\n\n"
				   "Validate a walpipe configuration offline and print what "
				   "flows where.\n  -l, --live   also check it against the "
				   "source and analytics databases\n               (tables, "
				   "columns, casts, keys, replica identity, slot, roles)\n"
				   "  -q, --quiet  print only problems\n"
				   "Exit status: 0 valid, 1 invalid, 2 could not check.\n");
			return 0;
		default:
			fprintf(stderr, "Try 'walpipe check --help'.\n");
			return 2;
		}
	}
	if (path == NULL || optind < argc) {
		fprintf(stderr, "walpipe check: %s\nTry 'walpipe check --help'.\n",
				path ? "unexpected argument" : "-c FILE is required");
		return 2;
	}
	cfg = cmd_config_load_checked(path, true, &nerr, &rc);
	if (cfg == NULL) {
		if (rc == 1)
			fprintf(stderr, "%s: %zu error(s)\n", path, nerr);
		return rc;
	}
	if (!quiet)
		print_summary(cfg);
	if (live)
		rc = check_live(cfg, quiet);
	config_free(cfg);
	return rc;
}
