/* sink_schema.c: walpipe's analytics schema, staging and partitions. */
#include "walpipe/sink_pg.h"

#include "sink_pg_int.h"
#include "walpipe/buf.h"
#include "walpipe/pgconn.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sql/NNN_*.sql, embedded by CMake (schema_sql.c): script i (0-based)
 * brings the schema to version i + 1; NULL-terminated. */
extern const char *const walpipe_schema_sql[];
extern const char *const walpipe_staging_sql;
#define SCHEMA_VERSION 5

/*
 * One of walpipe's SQL scripts (sql/) with each psql-style :"name" of
 * names[0..n) replaced by the quoted text in values (psql's -v form, so
 * the files run by hand too).  Caller frees.
 */
static char *
sql_script(const char *sql, const char *const *names, const char *const *values,
		   size_t n)
{
	struct buf b = BUF_INIT;
	const char *p = sql, *hit;

	while ((hit = strstr(p, ":\"")) != NULL) {
		const char *end = strchr(hit + 2, '"');
		size_t k = n;

		for (size_t i = 0; end && i < n; i++)
			if (strlen(names[i]) == (size_t) (end - hit - 2) &&
				strncmp(hit + 2, names[i], (size_t) (end - hit - 2)) == 0)
				k = i;
		buf_append(&b, p, (size_t) (hit - p));
		if (k == n) {
			buf_append(&b, hit, 2); /* not a name of ours: as it is */
			p = hit + 2;
			continue;
		}
		buf_append_str(&b, values[k]);
		p = end + 1;
	}
	buf_append_str(&b, p);
	return b.data;
}

/* A schema script with :"schema" replaced by the quoted schema name. */
static char *
schema_script(const char *sql, const char *qschema)
{
	static const char *const names[] = {"schema"};

	return sql_script(sql, names, &qschema, 1);
}

/*
 * The version walpipe's schema is at, in *version: 0 when it is not
 * installed (or its version cannot be read).  STEP_FATAL when it is newer
 * than this walpipe.
 */
static enum step
schema_version(struct sink_pg *s, int *version, char *errbuf, size_t errlen)
{
	enum pgconn_outcome o;
	const char *param;
	PGresult *r;

	*version = 0;
	/* Two steps: a query naming a missing table would fail.  The quoted
	 * schema goes inside a literal: a ' in it is doubled. */
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q, "%s.schema_version", s->qschema);
	param = s->q.data;
	o = pgconn_exec_params(
		s->conn, "SELECT pg_catalog.to_regclass($1) IS NOT NULL", 1, &param,
		"could not inspect the walpipe schema", &r, errbuf, errlen);
	if (o != PGCONN_OK || strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		PQclear(r);
		return sink_step_of(s, o);
	}
	PQclear(r);
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"SELECT coalesce(max(version), 0) FROM %s.schema_version",
				s->qschema);
	r = PQexec(s->conn, s->q.data);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		int v = atoi(PQgetvalue(r, 0, 0));

		if (v > SCHEMA_VERSION) {
			snprintf(errbuf, errlen,
					 "walpipe schema %s is at version %d, newer than this "
					 "walpipe (%d)\nUpgrade walpipe.",
					 s->qschema, v, SCHEMA_VERSION);
			PQclear(r);
			return STEP_FATAL;
		}
		*version = v;
	}
	PQclear(r);
	return STEP_OK;
}

/* Run the scripts after version: each upgrades from the version before it. */
static enum step
schema_upgrade(struct sink_pg *s, int version, char *errbuf, size_t errlen)
{
	for (; version < SCHEMA_VERSION; version++) {
		char *script = schema_script(walpipe_schema_sql[version], s->qschema);
		enum pgconn_outcome o =
			pgconn_exec(s->conn, script, "could not create the walpipe schema",
						NULL, errbuf, errlen);
		enum step st;

		free(script);
		if (o != PGCONN_OK) {
			st = sink_step_of(s, o);
			return st == STEP_DATA ? STEP_FATAL : st;
		}
	}
	return STEP_OK;
}

/* Whether schema qs (quoted) exists; false when the catalog cannot say. */
static bool
schema_exists(struct sink_pg *s, const char *qs)
{
	const char *param[1] = {qs};
	PGresult *r = PQexecParams(
		s->conn, "SELECT pg_catalog.to_regnamespace($1) IS NOT NULL", 1, NULL,
		param, NULL, NULL, 0);
	bool have = PQresultStatus(r) == PGRES_TUPLES_OK &&
				strcmp(PQgetvalue(r, 0, 0), "t") == 0;

	PQclear(r);
	return have;
}

/* The staging table and its default partition (sql/staging.sql). */
static enum step
staging_install(struct sink_pg *s, char *errbuf, size_t errlen)
{
	static const char *const names[] = {"staging_schema", "staging_table",
										"staging_default"};
	char *qs = pgconn_quote_ident(s->cfg.staging_schema);
	char *qt = pgconn_quote_ident(s->cfg.staging_table);
	const char *values[3];
	char *qdef, *ddl;
	enum step st;
	/* CREATE SCHEMA checks CREATE on the database even with IF NOT
	 * EXISTS: only when the schema is missing (sql/roles.sql makes it
	 * ahead, so walpipe needs no such privilege). */
	bool have = schema_exists(s, qs);

	buf_reset(&s->q, 65536);
	buf_appendf(&s->q, "%s_default", s->cfg.staging_table);
	qdef = pgconn_quote_ident(s->q.data);
	values[0] = qs;
	values[1] = qt;
	values[2] = qdef;
	ddl = sql_script(walpipe_staging_sql, names, values, 3);
	buf_reset(&s->q, 65536);
	if (!have)
		buf_appendf(&s->q, "CREATE SCHEMA IF NOT EXISTS %s;", qs);
	buf_append_str(&s->q, ddl);
	free(ddl);
	free(qs);
	free(qt);
	free(qdef);
	st = sink_exec(s, s->q.data, errbuf, errlen);
	return st == STEP_DATA ? STEP_FATAL : st;
}

enum step
sink_schema_install(struct sink_pg *s, char *errbuf, size_t errlen)
{
	int version = 0;
	enum step st;

	/* Several walpipe instances may share one analytics database: the
	 * transaction-scoped advisory lock serialises their installs. */
	st = sink_exec(s, "BEGIN", errbuf, errlen);
	if (st != STEP_OK)
		return st;
	st = sink_exec(s, "SELECT pg_advisory_xact_lock(7483921)", errbuf, errlen);
	if (st == STEP_OK)
		st = schema_version(s, &version, errbuf, errlen);
	if (st == STEP_OK)
		st = schema_upgrade(s, version, errbuf, errlen);
	if (st == STEP_OK && s->qstaging)
		st = staging_install(s, errbuf, errlen);
	if (st == STEP_OK)
		return sink_exec(s, "COMMIT", errbuf, errlen);
	{
		char ignore[64];

		sink_exec(s, "ROLLBACK", ignore, sizeof(ignore));
	}
	return st;
}

enum sink_result
sink_pg_maintain(struct sink_pg *s, char *errbuf, size_t errlen)
{
	const char *params[4];
	char premake[16];
	enum pgconn_outcome o;

	if (!s->qstaging)
		return SINK_OK;
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"SELECT %s.ensure_partitions($1::regclass, $2, $3::int, "
				"$4::interval)",
				s->qschema);
	snprintf(premake, sizeof(premake), "%d", s->cfg.premake);
	params[0] = s->qstaging;
	params[1] = s->cfg.partition_unit ? s->cfg.partition_unit : "month";
	params[2] = premake;
	params[3] = s->cfg.retention;
	o = pgconn_exec_params(s->conn, s->q.data, 4, params,
						   "could not maintain staging partitions", NULL,
						   errbuf, errlen);
	if (o == PGCONN_OK)
		return SINK_OK;
	return sink_step_of(s, o) == STEP_RETRY ? SINK_RETRY : SINK_FATAL;
}
