/* mirror_pg.c: whole-database mirrors against live databases: the source tables a mirror matches, and their targets made to exist. */
#include "walpipe/mirror_pg.h"

#include "walpipe/buf.h"
#include "walpipe/ident.h"
#include "walpipe/map.h"
#include "walpipe/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every ordinary and partitioned table that is no partition, with its
 * columns in attnum order.  The key is the replica identity's index (the
 * primary key under DEFAULT and FULL, the chosen index under USING
 * INDEX), its key columns only (the first indnkeyatts of indkey, an
 * int2vector subscripted from 0), in index order.  An array column's
 * type is described by its element type, which is what has to exist on
 * the analytics side.
 */
static const char sources_sql[] =
	"WITH t AS ("
	"  SELECT c.oid, n.nspname, c.relname, c.relkind = 'p' AS part, "
	"         c.relreplident "
	"    FROM pg_catalog.pg_class c "
	"    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	"   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
	"     AND n.nspname <> 'information_schema' "
	"     AND n.nspname !~ '^pg_'), "
	"k AS ("
	"  SELECT i.indrelid, x.attnum, x.pos, i.indisprimary "
	"    FROM t JOIN pg_catalog.pg_index i ON i.indrelid = t.oid "
	"   CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::pg_catalog.int2[]) "
	"         WITH ORDINALITY AS x(attnum, pos) "
	"   WHERE x.pos <= i.indnkeyatts "
	"     AND CASE WHEN t.relreplident = 'i' THEN i.indisreplident "
	"              ELSE i.indisprimary END) "
	"SELECT t.nspname, t.relname, t.part, t.relreplident, a.attname, "
	"       pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, "
	"       a.attgenerated <> '', coalesce(k.pos, 0), "
	"       coalesce(k.indisprimary, false), "
	"       CASE WHEN e.oid < 16384 THEN '' ELSE e.typtype::text END, "
	"       en.nspname, e.typname, x.extname "
	"  FROM t "
	"  LEFT JOIN (pg_catalog.pg_attribute a "
	"        JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid "
	"        JOIN pg_catalog.pg_type e ON e.oid = CASE "
	"             WHEN ty.typcategory = 'A' AND ty.typelem <> 0 "
	"             THEN ty.typelem ELSE ty.oid END "
	"        JOIN pg_catalog.pg_namespace en ON en.oid = e.typnamespace) "
	"       ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped "
	"  LEFT JOIN k ON k.indrelid = t.oid AND k.attnum = a.attnum "
	"  LEFT JOIN LATERAL (SELECT xe.extname "
	"         FROM pg_catalog.pg_depend d "
	"         JOIN pg_catalog.pg_extension xe ON xe.oid = d.refobjid "
	"        WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass "
	"          AND d.objid = e.oid AND d.deptype = 'e' "
	"          AND d.refclassid = "
	"              'pg_catalog.pg_extension'::pg_catalog.regclass "
	"        LIMIT 1) x ON true "
	" ORDER BY t.nspname, t.relname, a.attnum";

enum {
	SRC_SCHEMA, SRC_TABLE, SRC_PART, SRC_REPLIDENT, SRC_COL, SRC_TYPE,
	SRC_NOTNULL, SRC_GENERATED, SRC_KEYPOS, SRC_PRIMARY, SRC_TYPKIND,
	SRC_TYPSCHEMA, SRC_TYPNAME, SRC_TYPEXT,
};

static bool
matches_any(const struct mirror_pattern *p, size_t n, const char *schema,
			const char *table)
{
	for (size_t i = 0; i < n; i++)
		if (mirror_pattern_match(&p[i], schema, table))
			return true;
	return false;
}

static char *
dup_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL
									: wp_strdup(PQgetvalue(r, row, col));
}

static void
add_column(struct mirror_source *s, const PGresult *r, int row)
{
	struct mirror_source_col *c;
	const char *kind = PQgetvalue(r, row, SRC_TYPKIND);

	if (PQgetisnull(r, row, SRC_COL))
		return; /* a table without columns */
	if (strcmp(PQgetvalue(r, row, SRC_GENERATED), "t") == 0) {
		s->ngenerated++;
		return;
	}
	s->cols = wp_realloc(s->cols, (s->ncols + 1) * sizeof(*s->cols));
	c = &s->cols[s->ncols++];
	memset(c, 0, sizeof(*c));
	c->name = wp_strdup(PQgetvalue(r, row, SRC_COL));
	c->type = wp_strdup(PQgetvalue(r, row, SRC_TYPE));
	c->not_null = strcmp(PQgetvalue(r, row, SRC_NOTNULL), "t") == 0;
	c->key_pos = atoi(PQgetvalue(r, row, SRC_KEYPOS));
	if (c->key_pos > 0) {
		s->nkey++;
		s->key_is_primary = strcmp(PQgetvalue(r, row, SRC_PRIMARY), "t") == 0;
	}
	if (kind[0]) {
		c->type_kind = kind[0];
		c->type_schema = dup_or_null(r, row, SRC_TYPSCHEMA);
		c->type_name = dup_or_null(r, row, SRC_TYPNAME);
		c->type_ext = dup_or_null(r, row, SRC_TYPEXT);
	}
}

bool
mirror_pg_sources(PGconn *src, const struct mirror_pattern *from,
				  size_t nfrom, const struct mirror_pattern *exclude,
				  size_t nexclude, struct mirror_source **out, size_t *n,
				  char *errbuf, size_t errlen)
{
	PGresult *r = PQexec(src, sources_sql);
	struct mirror_source *s = NULL;
	size_t ns = 0;

	*out = NULL;
	*n = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(errbuf, errlen, "could not list the source's tables: %s",
				 PQerrorMessage(src));
		PQclear(r);
		return false;
	}
	for (int row = 0; row < PQntuples(r); row++) {
		const char *schema = PQgetvalue(r, row, SRC_SCHEMA);
		const char *table = PQgetvalue(r, row, SRC_TABLE);
		struct mirror_source *cur = ns ? &s[ns - 1] : NULL;

		if (!cur || strcmp(cur->schema, schema) != 0 ||
			strcmp(cur->table, table) != 0) {
			if (!matches_any(from, nfrom, schema, table) ||
				matches_any(exclude, nexclude, schema, table))
				continue;
			s = wp_realloc(s, (ns + 1) * sizeof(*s));
			cur = &s[ns++];
			memset(cur, 0, sizeof(*cur));
			cur->schema = wp_strdup(schema);
			cur->table = wp_strdup(table);
			cur->partitioned = strcmp(PQgetvalue(r, row, SRC_PART), "t") == 0;
			cur->replident = PQgetvalue(r, row, SRC_REPLIDENT)[0];
		}
		add_column(cur, r, row);
	}
	PQclear(r);
	*out = s;
	*n = ns;
	return true;
}

void
mirror_pg_free_sources(struct mirror_source *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < s[i].ncols; j++) {
			free(s[i].cols[j].name);
			free(s[i].cols[j].type);
			free(s[i].cols[j].type_schema);
			free(s[i].cols[j].type_name);
			free(s[i].cols[j].type_ext);
		}
		free(s[i].cols);
		free(s[i].schema);
		free(s[i].table);
	}
	free(s);
}

bool
mirror_source_ok(const struct mirror_source *s, char *why, size_t whylen)
{
	char q[IDENT_QUALIFIED_MAX];

	ident_qualified_to(q, sizeof(q), s->schema, s->table);
	if (s->ncols == 0) {
		snprintf(why, whylen, "table %s has no columns to mirror", q);
		return false;
	}
	if (s->replident == 'n') {
		snprintf(why, whylen,
				 "table %s has REPLICA IDENTITY NOTHING: its updates and "
				 "deletes are not logged; give it a primary key, or run "
				 "ALTER TABLE %s REPLICA IDENTITY FULL",
				 q, q);
		return false;
	}
	if (s->nkey == 0 && s->replident != 'f') {
		snprintf(why, whylen,
				 "table %s has %s: its updates and deletes are not logged; "
				 "give it a primary key, or run ALTER TABLE %s REPLICA "
				 "IDENTITY FULL",
				 q,
				 s->replident == 'i' ? "no replica identity index any more"
									 : "no primary key",
				 q);
		return false;
	}
	return true;
}

/* ---- targets ---- */

/* One parameter query on conn; the result or NULL with errbuf set. */
static PGresult *
query(PGconn *conn, const char *what, const char *sql, int nparams,
	  const char *const *params, char *errbuf, size_t errlen)
{
	PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL,
							   0);

	if (PQresultStatus(r) == PGRES_TUPLES_OK ||
		PQresultStatus(r) == PGRES_COMMAND_OK)
		return r;
	snprintf(errbuf, errlen, "could not %s: %s", what,
			 PQresultErrorMessage(r));
	/* libpq's messages end in a newline. */
	errbuf[strcspn(errbuf, "\n")] = '\0';
	PQclear(r);
	return NULL;
}

static bool
command(PGconn *conn, const char *what, const char *sql, char *errbuf,
		size_t errlen)
{
	PGresult *r = query(conn, what, sql, 0, NULL, errbuf, errlen);

	PQclear(r);
	return r != NULL;
}

/* Whether a row came back for sql(param) (false too on error: see *err). */
static bool
exists(PGconn *conn, const char *sql, const char *param, bool *err,
	   char *errbuf, size_t errlen)
{
	PGresult *r = query(conn, "read the analytics catalog", sql, 1, &param,
						errbuf, errlen);
	bool found = r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0);

	*err = r == NULL;
	PQclear(r);
	return found;
}

static bool
ensure_schema(PGconn *ana, const char *schema, char *errbuf, size_t errlen)
{
	struct buf sql = BUF_INIT;
	bool err, ok;

	/* Looked up first: CREATE SCHEMA IF NOT EXISTS checks the CREATE
	 * privilege on the database even when the schema is there. */
	if (exists(ana,
			   "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
			   schema, &err, errbuf, errlen))
		return true;
	if (err)
		return false;
	buf_append_str(&sql, "CREATE SCHEMA ");
	map_quote_ident(&sql, schema);
	ok = command(ana, "create the target schema", sql.data, errbuf, errlen);
	buf_free(&sql);
	return ok;
}

static void
append_qualified(struct buf *b, const char *schema, const char *name)
{
	map_quote_ident(b, schema);
	buf_append_char(b, '.');
	map_quote_ident(b, name);
}

/* CREATE TYPE .. AS ENUM with the source's labels in their order. */
static bool
create_enum(PGconn *src, PGconn *ana, const char *qname, char *errbuf,
			size_t errlen)
{
	PGresult *r = query(src, "read an enum's labels",
						"SELECT e.enumlabel FROM pg_catalog.pg_enum e "
						" WHERE e.enumtypid = $1::pg_catalog.regtype "
						" ORDER BY e.enumsortorder",
						1, &qname, errbuf, errlen);
	struct buf sql = BUF_INIT;
	bool ok;

	if (!r)
		return false;
	buf_appendf(&sql, "CREATE TYPE %s AS ENUM (", qname);
	for (int i = 0; i < PQntuples(r); i++) {
		char *lit = PQescapeLiteral(ana, PQgetvalue(r, i, 0),
									strlen(PQgetvalue(r, i, 0)));

		if (i)
			buf_append_str(&sql, ", ");
		buf_append_str(&sql, lit ? lit : "NULL");
		PQfreemem(lit);
	}
	buf_append_char(&sql, ')');
	PQclear(r);
	ok = command(ana, "create an enum type", sql.data, errbuf, errlen);
	buf_free(&sql);
	return ok;
}

/* CREATE DOMAIN over the source's base type, with its NOT NULL, default
 * and CHECK constraints. */
static bool
create_domain(PGconn *src, PGconn *ana, const char *qname, char *errbuf,
			  size_t errlen)
{
	PGresult *r = query(
		src, "read a domain's definition",
		"SELECT pg_catalog.format_type(t.typbasetype, t.typtypmod), "
		"       t.typnotnull, t.typdefault, "
		"       (SELECT pg_catalog.string_agg("
		"               pg_catalog.pg_get_constraintdef(c.oid), ' ' "
		"               ORDER BY c.conname) "
		"          FROM pg_catalog.pg_constraint c "
		"         WHERE c.contypid = t.oid AND c.contype = 'c') "
		"  FROM pg_catalog.pg_type t "
		" WHERE t.oid = $1::pg_catalog.regtype",
		1, &qname, errbuf, errlen);
	struct buf sql = BUF_INIT;
	bool ok;

	if (!r)
		return false;
	buf_appendf(&sql, "CREATE DOMAIN %s AS %s", qname, PQgetvalue(r, 0, 0));
	if (!PQgetisnull(r, 0, 2))
		buf_appendf(&sql, " DEFAULT %s", PQgetvalue(r, 0, 2));
	if (strcmp(PQgetvalue(r, 0, 1), "t") == 0)
		buf_append_str(&sql, " NOT NULL");
	if (!PQgetisnull(r, 0, 3))
		buf_appendf(&sql, " %s", PQgetvalue(r, 0, 3));
	PQclear(r);
	ok = command(ana, "create a domain", sql.data, errbuf, errlen);
	buf_free(&sql);
	return ok;
}

/*
 * The user type of column c on the analytics side: there already (by
 * name), or created like the source's (enum, domain), or an error that
 * says what to run.
 */
static bool
ensure_type(PGconn *src, PGconn *ana, const struct mirror_source_col *c,
			char *errbuf, size_t errlen)
{
	struct buf q = BUF_INIT;
	bool err, ok = false;

	append_qualified(&q, c->type_schema, c->type_name);
	if (exists(ana, "SELECT pg_catalog.to_regtype($1)", q.data, &err,
			   errbuf, errlen)) {
		buf_free(&q);
		return true;
	}
	if (err)
		goto done;
	if (c->type_ext)
		snprintf(errbuf, errlen,
				 "the analytics database lacks type %s of extension \"%s\" "
				 "(column \"%s\"): run CREATE EXTENSION \"%s\" there",
				 q.data, c->type_ext, c->name, c->type_ext);
	else if (c->type_kind == 'e' || c->type_kind == 'd')
		ok = ensure_schema(ana, c->type_schema, errbuf, errlen) &&
			 (c->type_kind == 'e'
				  ? create_enum(src, ana, q.data, errbuf, errlen)
				  : create_domain(src, ana, q.data, errbuf, errlen));
	else
		snprintf(errbuf, errlen,
				 "the analytics database lacks type %s (column \"%s\"): "
				 "create it as the source defines it, or exclude the table",
				 q.data, c->name);
done:
	buf_free(&q);
	return ok;
}

void
mirror_source_view(const struct mirror_source *s, struct mirror_table *t)
{
	struct mirror_column *cols = wp_calloc(s->ncols ? s->ncols : 1,
										   sizeof(*cols));
	size_t *key = wp_calloc(s->nkey ? s->nkey : 1, sizeof(*key));

	for (size_t i = 0; i < s->ncols; i++) {
		cols[i].name = s->cols[i].name;
		cols[i].type = s->cols[i].type;
		cols[i].not_null = s->cols[i].not_null;
		if (s->cols[i].key_pos > 0 && (size_t) s->cols[i].key_pos <= s->nkey)
			key[s->cols[i].key_pos - 1] = i;
	}
	t->table = s->table;
	t->cols = cols;
	t->ncols = s->ncols;
	t->key = key;
	t->nkey = s->nkey;
	t->key_is_primary = s->key_is_primary;
}

void
mirror_source_view_free(struct mirror_table *t)
{
	free((void *) t->cols);
	free((void *) t->key);
	memset(t, 0, sizeof(*t));
}

static void
append_fix_add(struct buf *diff, const char *qtarget, const char *col,
			   const char *type)
{
	buf_appendf(diff, "\n  column \"%s\" is missing: ALTER TABLE %s ADD COLUMN ",
				col, qtarget);
	map_quote_ident(diff, col);
	buf_appendf(diff, " %s;", type);
}

/*
 * The differences between the columns the mirror writes (tc[0..ntc):
 * the source's, then metadata and soft delete; the first t->ncols are
 * the source's, t->key indexes them) and the existing target table
 * qtarget, one line each with its fix, into diff: columns missing or of
 * a type the target's does not hold, no unique index on the key.
 */
static bool
check_target(PGconn *ana, const struct mirror_table *t,
			 const struct mirror_column *tc, size_t ntc, const char *qtarget,
			 struct buf *diff, char *errbuf, size_t errlen)
{
	PGresult *r = query(
		ana, "read the target table's columns",
		"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
		"       EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
		"                WHERE i.indrelid = a.attrelid AND i.indisunique "
		"                  AND a.attnum = ANY (i.indkey::pg_catalog.int2[])) "
		"  FROM pg_catalog.pg_attribute a "
		" WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 "
		"   AND NOT a.attisdropped",
		1, &qtarget, errbuf, errlen);
	bool keyed = t->nkey > 0;

	if (!r)
		return false;
	for (size_t i = 0; i < ntc; i++) {
		bool is_key = false;
		int row = -1;

		for (size_t k = 0; k < t->nkey; k++)
			is_key = is_key || t->key[k] == i;
		for (int j = 0; j < PQntuples(r) && row < 0; j++)
			if (strcmp(PQgetvalue(r, j, 0), tc[i].name) == 0)
				row = j;
		if (row < 0) {
			append_fix_add(diff, qtarget, tc[i].name, tc[i].type);
			keyed = keyed && !is_key;
			continue;
		}
		if (mirror_type_change(tc[i].type, PQgetvalue(r, row, 1)) ==
			MIRROR_TYPE_OTHER) {
			buf_appendf(diff,
						"\n  column \"%s\" is %s on the target and %s here: "
						"ALTER TABLE %s ALTER COLUMN ",
						tc[i].name, PQgetvalue(r, row, 1), tc[i].type,
						qtarget);
			map_quote_ident(diff, tc[i].name);
			buf_appendf(diff, " TYPE %s;", tc[i].type);
		}
		if (is_key && strcmp(PQgetvalue(r, row, 2), "t") != 0)
			keyed = false;
	}
	PQclear(r);
	if (t->nkey > 0 && !keyed) {
		buf_appendf(diff,
					"\n  no unique index holds the key: ALTER TABLE %s ADD "
					"PRIMARY KEY (",
					qtarget);
		for (size_t k = 0; k < t->nkey; k++) {
			if (k)
				buf_append_str(diff, ", ");
			map_quote_ident(diff, tc[t->key[k]].name);
		}
		buf_append_str(diff, ");");
	}
	return true;
}

int
mirror_pg_ensure_target(PGconn *src, PGconn *ana,
						const struct mirror_source *s,
						const struct mirror_spec *spec, char *errbuf,
						size_t errlen)
{
	struct buf qtarget = BUF_INIT, sql = BUF_INIT, diff = BUF_INIT;
	struct mirror_table t, full;
	struct mirror_column *tc;
	size_t ntc;
	char qsource[IDENT_QUALIFIED_MAX];
	bool err;
	int rc = -1;

	/* format_type() qualifies a type that search_path does not find:
	 * with pg_catalog alone both sides print user types as the source's
	 * plan connection does (public.mood), so the texts compare. */
	if (!command(ana, "set the search path",
				 "SET LOCAL search_path = pg_catalog, pg_temp", errbuf,
				 errlen))
		return -1;
	mirror_source_view(s, &t);
	tc = mirror_target_columns(spec, &t, &ntc);
	full = t;
	full.cols = tc;
	full.ncols = ntc;
	append_qualified(&qtarget, spec->to, s->table);
	if (exists(ana, "SELECT pg_catalog.to_regclass($1)", qtarget.data, &err,
			   errbuf, errlen)) {
		if (!check_target(ana, &t, tc, ntc, qtarget.data, &diff, errbuf,
						  errlen))
			goto done;
		if (diff.len == 0)
			rc = 0;
		else {
			ident_qualified_to(qsource, sizeof(qsource), s->schema,
							   s->table);
			snprintf(errbuf, errlen,
					 "target table %s does not fit source table %s:%s",
					 qtarget.data, qsource, diff.data);
		}
		goto done;
	}
	if (err || !ensure_schema(ana, spec->to, errbuf, errlen))
		goto done;
	for (size_t i = 0; i < s->ncols; i++)
		if (s->cols[i].type_kind &&
			!ensure_type(src, ana, &s->cols[i], errbuf, errlen))
			goto done;
	mirror_append_create_table(&sql, spec->to, &full);
	if (command(ana, "create the target table", sql.data, errbuf, errlen))
		rc = 1;
done:
	free(tc);
	mirror_source_view_free(&t);
	buf_free(&qtarget);
	buf_free(&sql);
	buf_free(&diff);
	return rc;
}
