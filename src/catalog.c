/* catalog.c: what the source database says about a mapped table's columns and key. */
#include "walpipe/catalog.h"

#include "walpipe/buf.h"
#include "walpipe/collapse.h"
#include "walpipe/ident.h"
#include "walpipe/mem.h"
#include "walpipe/sink_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The key columns of the replica identity index are the first indnkeyatts
 * entries of indkey (an int2vector, subscripted from 0); the rest are its
 * INCLUDE columns, which a delete's or an update's identity does not carry.
 * Taking them for key columns would key a batch's deletes apart from the
 * inserts of the same rows, and the deletes would miss.
 *
 * attmissingval is an array of one element of the column's type (never a
 * NULL one: a NULL default sets no missing value); array_to_string gives
 * that element in its type's output form, under this session's settings,
 * as the walsender's output function does for wal2json.  bytea goes as
 * plain hex digits, as wal2json sends it (collapse adds the \x).
 */
/*
 * wal2json sends the changes of a partitioned table under the names of its
 * partitions, and a COPY of the root from ONLY reads nothing: a mapping
 * from the root would receive nothing at all, silently.  Until walpipe
 * follows roots, it is refused, naming the partitions to map instead.
 */
static void
partitioned_error(PGconn *conn, const char *schema, const char *table,
				  char *errbuf, size_t errlen)
{
	static const char *sql =
		"SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', n.nspname, "
		"       c.relname), ', ' ORDER BY n.nspname, c.relname) "
		"  FROM pg_catalog.pg_partition_tree(pg_catalog.format('%I.%I', "
		"       $1::text, $2::text)::pg_catalog.regclass) p "
		"  JOIN pg_catalog.pg_class c ON c.oid = p.relid "
		"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		" WHERE p.isleaf";
	const char *params[2] = {schema, table};
	PGresult *r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
	const char *leaves = PQresultStatus(r) == PGRES_TUPLES_OK &&
								 PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)
							 ? PQgetvalue(r, 0, 0)
							 : "none yet";

	snprintf(errbuf, errlen,
			 "source table \"%s.%s\" is partitioned: wal2json sends the "
			 "changes of its partitions under their own names, so a mapping "
			 "from it would receive nothing\nMap each partition (%s) to the "
			 "target instead, in source.tables too; walpipe does not follow "
			 "a partitioned table's partitions yet.",
			 schema, table, leaves);
	PQclear(r);
}

struct map_srccol *
catalog_table_columns(PGconn *conn, const char *schema, const char *table,
					  bool need_key, size_t *n, char *errbuf, size_t errlen)
{
	static const char *sql =
		"SELECT a.attname, "
		"       CASE WHEN b.oid >= 16384 THEN 'text' "
		"            WHEN b.typname IN ('bpchar', 'bit', '_bpchar', '_bit') "
		"            THEN 'pg_catalog.' || pg_catalog.quote_ident(b.typname) "
		"            ELSE pg_catalog.format_type(b.oid, NULL) END, "
		"       coalesce(a.attnum = ANY ((i.indkey::pg_catalog.int2[])"
		"                                [0:i.indnkeyatts - 1]), false), "
		"       c.relkind, "
		"       CASE WHEN NOT a.atthasmissing THEN NULL "
		"            WHEN b.oid = 'pg_catalog.bytea'::pg_catalog.regtype "
		"            THEN pg_catalog.encode(pg_catalog.array_to_string("
		"                 a.attmissingval, '')::pg_catalog.bytea, 'hex') "
		"            ELSE pg_catalog.array_to_string(a.attmissingval, '') "
		"       END "
		"  FROM pg_catalog.pg_class c "
		"  JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace "
		/* A table without columns is still a table: one row, NULLs. */
		"  LEFT JOIN (pg_catalog.pg_attribute a "
		"        JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
		"        JOIN pg_catalog.pg_type b ON b.oid = CASE "
		"             WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END) "
		"       ON a.attrelid = c.oid AND a.attnum > 0 "
		"          AND NOT a.attisdropped AND a.attgenerated = '' "
		"  LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND "
		"       ((c.relreplident = 'i' AND i.indisreplident) OR "
		"        (c.relreplident IN ('d', 'f') AND i.indisprimary)) "
		" WHERE ns.nspname = $1 AND c.relname = $2 "
		"   AND c.relkind IN ('r', 'p') "
		" ORDER BY a.attnum";
	const char *params[2] = {schema, table};
	struct map_srccol *cols = NULL;
	PGresult *r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
	int rows;
	bool any_key = false;
	char qname[IDENT_QUALIFIED_MAX];

	*n = 0;
	ident_qualified_to(qname, sizeof(qname), schema, table);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(errbuf, errlen, "could not read columns of \"%s\": %s",
				 qname, PQerrorMessage(conn));
		goto done;
	}
	rows = PQntuples(r);
	if (rows == 0) {
		snprintf(errbuf, errlen,
				 "source table \"%s\" does not exist", qname);
		goto done;
	}
	if (strcmp(PQgetvalue(r, 0, 3), "p") == 0) {
		partitioned_error(conn, schema, table, errbuf, errlen);
		goto done;
	}
	cols = wp_calloc((size_t) rows, sizeof(*cols));
	if (PQgetisnull(r, 0, 0))
		rows = 0; /* the table has no columns */
	for (int i = 0; i < rows; i++) {
		cols[i].name = wp_strdup(PQgetvalue(r, i, 0));
		cols[i].type = wp_strdup(PQgetvalue(r, i, 1));
		cols[i].key = strcmp(PQgetvalue(r, i, 2), "t") == 0;
		if (!PQgetisnull(r, i, 4))
			cols[i].missing = wp_strdup(PQgetvalue(r, i, 4));
		any_key |= cols[i].key;
	}
	*n = (size_t) rows;
	if (need_key && !any_key) {
		snprintf(errbuf, errlen,
				 "source table \"%s\" has no primary key or replica "
				 "identity index, so its updates and deletes cannot be "
				 "applied\nAdd a primary key, or ALTER TABLE ... REPLICA "
				 "IDENTITY USING INDEX on a unique index.",
				 qname);
		catalog_free_columns(cols, *n);
		cols = NULL;
		*n = 0;
	}
done:
	PQclear(r);
	return cols;
}

void
catalog_free_columns(struct map_srccol *cols, size_t n)
{
	if (cols == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((char *) cols[i].name);
		free((char *) cols[i].type);
		free((char *) cols[i].missing);
	}
	free(cols);
}

/*
 * The casts of rule r's columns for map_plan_new_cast: a plain column
 * mapping without type: whose source value travels as text (an enum,
 * composite or extension type on the source), into a target column whose
 * type is not built in (through domains and arrays), is cast to that
 * column's type as the analytics server formats it.  NULL when none is
 * needed or the target cannot be read (the plan then fails where it
 * always did: check --live, the first batch).
 */
static char **
target_casts(PGconn *ana, const struct map_rule *r,
			 const struct map_srccol *src, size_t nsrc)
{
	static const char *sql =
		"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
		"  FROM pg_catalog.pg_attribute a "
		"  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
		"  JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' "
		"       THEN t.typbasetype ELSE t.oid END "
		"  JOIN pg_catalog.pg_type e ON e.oid = CASE WHEN b.typelem <> 0 "
		"       AND b.typlen = -1 THEN b.typelem ELSE b.oid END "
		"  JOIN pg_catalog.pg_type eb ON eb.oid = CASE WHEN e.typtype = 'd' "
		"       THEN e.typbasetype ELSE e.oid END "
		" WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 "
		"   AND NOT a.attisdropped AND eb.oid >= 16384";
	struct buf q = BUF_INIT;
	const char *params[1];
	PGresult *res;
	char **casts = NULL;

	if (ana == NULL)
		return NULL;
	map_quote_ident(&q, r->to_schema);
	buf_append_char(&q, '.');
	map_quote_ident(&q, r->to_table);
	params[0] = q.data;
	res = PQexecParams(ana, sql, 1, NULL, params, NULL, NULL, 0);
	for (int row = 0; PQresultStatus(res) == PGRES_TUPLES_OK &&
					  row < PQntuples(res);
		 row++) {
		for (size_t i = 0; i < r->ncols; i++) {
			const struct map_column *c = &r->cols[i];
			bool as_text = false;

			if (c->src != MAP_SRC_COLUMN || c->type ||
				strcmp(c->target, PQgetvalue(res, row, 0)) != 0)
				continue;
			for (size_t k = 0; k < nsrc; k++)
				if (strcmp(src[k].name, c->column) == 0)
					as_text = strcmp(src[k].type, "text") == 0;
			if (!as_text)
				continue;
			if (casts == NULL)
				casts = wp_calloc(r->ncols + 1, sizeof(char *));
			free(casts[i]);
			casts[i] = wp_strdup(PQgetvalue(res, row, 1));
		}
	}
	PQclear(res);
	buf_free(&q);
	return casts;
}

/*
 * The type of each of rule r's target columns (format_type, with its
 * modifier), for a keyless mapping's comparisons (map_plan_new_typed);
 * NULL for a column the analytics catalog does not have, or all NULL
 * without a connection.  Caller frees each and the array.
 */
static char **
target_types(PGconn *ana, const struct map_rule *r)
{
	static const char *sql =
		"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
		"  FROM pg_catalog.pg_attribute a "
		" WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 "
		"   AND NOT a.attisdropped";
	char **types = wp_calloc(r->ncols + 1, sizeof(char *));
	struct buf q = BUF_INIT;
	const char *params[1];
	PGresult *res;

	if (ana == NULL)
		return types;
	map_quote_ident(&q, r->to_schema);
	buf_append_char(&q, '.');
	map_quote_ident(&q, r->to_table);
	params[0] = q.data;
	res = PQexecParams(ana, sql, 1, NULL, params, NULL, NULL, 0);
	for (int row = 0; PQresultStatus(res) == PGRES_TUPLES_OK &&
					  row < PQntuples(res);
		 row++)
		for (size_t i = 0; i < r->ncols; i++)
			if (types[i] == NULL &&
				strcmp(r->cols[i].target, PQgetvalue(res, row, 0)) == 0)
				types[i] = wp_strdup(PQgetvalue(res, row, 1));
	PQclear(res);
	buf_free(&q);
	return types;
}

struct map_plan *
catalog_plan_new(PGconn *ana, const struct map_rule *r,
				 const struct map_srccol *src, size_t nsrc, const char *source,
				 const char *tmp_name, char *errbuf, size_t errlen)
{
	char **casts = target_casts(ana, r, src, nsrc);
	char **types = r->mode == MAP_MODE_KEYLESS ? target_types(ana, r) : NULL;
	struct map_plan *p = map_plan_new_typed(
		r, src, nsrc, source, tmp_name, (const char *const *) casts,
		(const char *const *) types, errbuf, errlen);

	for (size_t k = 0; casts && k < r->ncols; k++)
		free(casts[k]);
	free(casts);
	for (size_t k = 0; types && k < r->ncols; k++)
		free(types[k]);
	free(types);
	return p;
}

bool
catalog_keyless_ok(PGconn *conn, const char *schema, const char *table,
				   char *errbuf, size_t errlen)
{
	/* What the walsender logs as an update's or delete's old row: the
	 * whole row under FULL; the key of the primary key or the identity
	 * index otherwise; nothing under NOTHING, or DEFAULT without a
	 * primary key, or an identity index that was dropped (PostgreSQL
	 * then logs none, and wal2json drops the change with a warning). */
	static const char *sql =
		"SELECT CASE WHEN c.relreplident = 'f' THEN 'full' "
		"  WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
		"   WHERE i.indrelid = c.oid AND ((c.relreplident = 'i' AND "
		"   i.indisreplident) OR (c.relreplident = 'd' AND "
		"   i.indisprimary))) THEN 'key' "
		"  WHEN c.relreplident = 'n' THEN 'nothing' "
		"  WHEN c.relreplident = 'i' THEN 'dropped' ELSE 'default' END "
		"  FROM pg_catalog.pg_class c "
		"  JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace "
		" WHERE ns.nspname = $1 AND c.relname = $2";
	const char *params[2] = {schema, table};
	PGresult *r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
	const char *v;
	bool ok = false;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		snprintf(errbuf, errlen,
				 "could not read the replica identity of \"%s.%s\": %s",
				 schema, table,
				 PQresultStatus(r) == PGRES_TUPLES_OK ? "no such table"
													  : PQerrorMessage(conn));
		PQclear(r);
		return false;
	}
	v = PQgetvalue(r, 0, 0);
	if (strcmp(v, "full") == 0)
		ok = true;
	else if (strcmp(v, "key") == 0)
		snprintf(errbuf, errlen,
				 "source table \"%s.%s\" has a replica identity key, so "
				 "its updates and deletes carry the key columns only, not "
				 "the whole old row a keyless mapping finds its row by\n"
				 "Use mode upsert with that key, or ALTER TABLE %s.%s "
				 "REPLICA IDENTITY FULL.",
				 schema, table, schema, table);
	else
		snprintf(errbuf, errlen,
				 "source table \"%s.%s\" has %s, so only inserts can be "
				 "mirrored: wal2json drops its updates and deletes\nALTER "
				 "TABLE %s.%s REPLICA IDENTITY FULL, or map it with mode "
				 "append.",
				 schema, table,
				 strcmp(v, "nothing") == 0 ? "REPLICA IDENTITY NOTHING"
				 : strcmp(v, "dropped") == 0
					 ? "lost its replica identity index (dropped)"
					 : "no primary key and REPLICA IDENTITY DEFAULT",
				 schema, table);
	PQclear(r);
	return ok;
}

struct sink_target *
catalog_plan_targets(PGconn *conn, PGconn *ana, const struct map_rule *rules,
					 size_t nrules, const char *source, size_t *n,
					 char *errbuf, size_t errlen)
{
	struct sink_target *targets = wp_calloc(nrules ? nrules : 1,
											sizeof(*targets));

	*n = 0;
	for (size_t i = 0; i < nrules; i++) {
		const struct map_rule *r = &rules[i];
		struct sink_target *t = &targets[*n];
		char tmp[32];

		t->rule = r;
		t->srccols = catalog_table_columns(
			conn, r->from_schema, r->from_table,
			r->mode == MAP_MODE_UPSERT ||
				(r->mode != MAP_MODE_NONE && r->nkey > 0 &&
				 r->on_delete != MAP_DELETE_IGNORE),
			&t->nsrc, errbuf, errlen);
		if (t->srccols == NULL)
			goto fail;
		if (r->mode == MAP_MODE_KEYLESS &&
			!catalog_keyless_ok(conn, r->from_schema, r->from_table, errbuf,
								errlen)) {
			catalog_free_columns(t->srccols, t->nsrc);
			goto fail;
		}
		snprintf(tmp, sizeof(tmp), "walpipe_t%zu", i);
		t->plan = catalog_plan_new(ana, r, t->srccols, t->nsrc, source, tmp,
								   errbuf, errlen);
		if (t->plan == NULL) {
			catalog_free_columns(t->srccols, t->nsrc);
			goto fail;
		}
		t->rows = collapse_new();
		(*n)++;
	}
	return targets;

fail:
	catalog_free_targets(targets, *n);
	*n = 0;
	return NULL;
}

void
catalog_free_targets(struct sink_target *t, size_t n)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		catalog_free_columns(t[i].srccols, t[i].nsrc);
		map_plan_free(t[i].plan);
		collapse_free(t[i].rows);
	}
	free(t);
}

/* v as a double-quoted element of an array literal, onto arr. */
static void
array_element(struct buf *arr, const char *v)
{
	buf_append_char(arr, '"');
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_append_char(arr, '\\');
		buf_append_char(arr, *p);
	}
	buf_append_char(arr, '"');
}

/* The one text value of sql run with one parameter, or NULL (no row, a
 * NULL, an error).  Caller frees. */
static char *
one_text(PGconn *conn, const char *sql, const char *param)
{
	PGresult *r = PQexecParams(conn, sql, 1, NULL, &param, NULL, NULL, 0);
	char *out = NULL;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		!PQgetisnull(r, 0, 0))
		out = wp_strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

char *
catalog_unlisted_partitions(PGconn *conn, char *const *tables, size_t n)
{
	static const char *sql =
		"WITH l AS (SELECT pg_catalog.to_regclass(t) AS oid "
		"             FROM pg_catalog.unnest($1::text[]) t), "
		"     r AS (SELECT DISTINCT pg_catalog.pg_partition_root(oid) AS root "
		"             FROM l WHERE oid IS NOT NULL) "
		"SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', ns.nspname, "
		"       c.relname), ', ' ORDER BY ns.nspname, c.relname) "
		"  FROM r, pg_catalog.pg_partition_tree(r.root) p "
		"  JOIN pg_catalog.pg_class c ON c.oid = p.relid "
		"  JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace "
		" WHERE r.root IS NOT NULL AND p.isleaf "
		"   AND p.relid NOT IN (SELECT oid FROM l WHERE oid IS NOT NULL)";
	struct buf arr = BUF_INIT;
	char *out;

	buf_append_char(&arr, '{');
	for (size_t i = 0; i < n; i++) {
		buf_append_str(&arr, i ? "," : "");
		array_element(&arr, tables[i]);
	}
	buf_append_char(&arr, '}');
	out = one_text(conn, sql, arr.data);
	buf_free(&arr);
	return out;
}

char *
catalog_special_columns(PGconn *conn, const struct map_rule *const *rules,
						size_t n)
{
	/* The column's own type, not a domain's base: wal2json quotes a
	 * domain's values (and arrays) as strings, which carry NaN exactly. */
	static const char *sql =
		"SELECT pg_catalog.string_agg(x.t || ' (' || x.cols || ')', ', ' "
		"       ORDER BY x.t) FROM ("
		"  SELECT pg_catalog.format('%I.%I', ns.nspname, c.relname) AS t, "
		"         pg_catalog.string_agg(pg_catalog.quote_ident(a.attname) "
		"           || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod), "
		"           ', ' ORDER BY a.attnum) AS cols "
		"    FROM (SELECT DISTINCT pg_catalog.to_regclass(t) AS oid "
		"            FROM pg_catalog.unnest($1::text[]) t) l "
		"    JOIN pg_catalog.pg_class c ON c.oid = l.oid "
		"    JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace "
		"    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
		"   WHERE a.attnum > 0 AND NOT a.attisdropped "
		"     AND a.atttypid IN ('pg_catalog.float4'::pg_catalog.regtype, "
		"         'pg_catalog.float8'::pg_catalog.regtype, "
		"         'pg_catalog.numeric'::pg_catalog.regtype) "
		"   GROUP BY ns.nspname, c.relname) x";
	struct buf arr = BUF_INIT, name = BUF_INIT;
	char *out;

	/* Quoted names, which to_regclass reads exactly. */
	buf_append_char(&arr, '{');
	for (size_t i = 0; i < n; i++) {
		buf_reset(&name, 256);
		map_quote_ident(&name, rules[i]->from_schema);
		buf_append_char(&name, '.');
		map_quote_ident(&name, rules[i]->from_table);
		buf_append_str(&arr, i ? "," : "");
		array_element(&arr, name.data);
	}
	buf_append_char(&arr, '}');
	out = one_text(conn, sql, arr.data);
	buf_free(&arr);
	buf_free(&name);
	return out;
}
