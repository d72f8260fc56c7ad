/* catalog.c: what the source database says about a mapped table's columns and key. */
#include "walpipe/catalog.h"

#include "walpipe/buf.h"
#include "walpipe/clock.h"
#include "walpipe/collapse.h"
#include "walpipe/ident.h"
#include "walpipe/mem.h"
#include "walpipe/target.h"
#include "walpipe/xidsnap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
 * Columns: name, type, key, relkind, missing value.
 */
static const char *const source_columns_sql =
	"SELECT a.attname, "
	"       CASE WHEN b.oid >= 16384 THEN 'text' "
	"            WHEN b.typname IN ('bpchar', 'bit', '_bpchar', '_bit') "
	"            THEN 'pg_catalog.' || pg_catalog.quote_ident(b.typname) "
	"            ELSE pg_catalog.format_type(b.oid, NULL) END, "
	"       coalesce(a.attnum = ANY ((i.indkey::pg_catalog.int2[])"
	"                                [0:i.indnkeyatts - 1]), false), "
	"       c.relkind, "
	"       CASE WHEN NOT m.atthasmissing THEN NULL "
	"            WHEN b.oid = 'pg_catalog.bytea'::pg_catalog.regtype "
	"            THEN pg_catalog.encode(pg_catalog.array_to_string("
	"                 m.attmissingval, '')::pg_catalog.bytea, 'hex') "
	"            ELSE pg_catalog.array_to_string(m.attmissingval, '') "
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
	/* A partitioned table stores no rows, so no missing values: its
	 * leaves hold them (the same for every leaf that had rows when
	 * the column was added). */
	"  LEFT JOIN LATERAL (SELECT ma.atthasmissing, ma.attmissingval "
	"         FROM pg_catalog.pg_attribute ma "
	"        WHERE (c.relkind <> 'p' AND ma.attrelid = c.oid "
	"               AND ma.attnum = a.attnum) "
	"           OR (c.relkind = 'p' AND ma.atthasmissing "
	"               AND ma.attname = a.attname AND ma.attrelid IN "
	"               (SELECT pt.relid FROM pg_catalog.pg_partition_tree("
	"                c.oid) pt WHERE pt.isleaf)) "
	"        LIMIT 1) m ON true "
	"  LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND "
	"       ((c.relreplident = 'i' AND i.indisreplident) OR "
	"        (c.relreplident IN ('d', 'f') AND i.indisprimary)) "
	" WHERE ns.nspname = $1 AND c.relname = $2 "
	"   AND c.relkind IN ('r', 'p') "
	" ORDER BY a.attnum";

/* The columns of source_columns_sql's result r (at least one row), in a
 * new array of *n (caller frees with catalog_free_columns); *any_key:
 * whether one is a key column. */
static struct map_srccol *
source_columns_from(PGresult *r, size_t *n, bool *any_key)
{
	int rows = PQntuples(r);
	struct map_srccol *cols = wp_calloc((size_t) rows, sizeof(*cols));

	*any_key = false;
	if (PQgetisnull(r, 0, 0))
		rows = 0; /* the table has no columns */
	for (int i = 0; i < rows; i++) {
		cols[i].name = wp_strdup(PQgetvalue(r, i, 0));
		cols[i].type = wp_strdup(PQgetvalue(r, i, 1));
		cols[i].key = strcmp(PQgetvalue(r, i, 2), "t") == 0;
		if (!PQgetisnull(r, i, 4))
			cols[i].missing = wp_strdup(PQgetvalue(r, i, 4));
		*any_key |= cols[i].key;
	}
	*n = (size_t) rows;
	return cols;
}

struct map_srccol *
catalog_source_columns(PGconn *conn, const char *schema, const char *table,
					   bool need_key, size_t *n, bool *partitioned,
					   char *errbuf, size_t errlen)
{
	const char *params[2] = {schema, table};
	struct map_srccol *cols = NULL;
	PGresult *r = PQexecParams(conn, source_columns_sql, 2, NULL, params,
							   NULL, NULL, 0);
	bool any_key = false;
	char qname[IDENT_QUALIFIED_MAX];

	*n = 0;
	*partitioned = false;
	ident_qualified_to(qname, sizeof(qname), schema, table);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(errbuf, errlen, "could not read columns of \"%s\": %s",
				 qname, PQerrorMessage(conn));
		goto done;
	}
	if (PQntuples(r) == 0) {
		snprintf(errbuf, errlen,
				 "source table \"%s\" does not exist", qname);
		goto done;
	}
	*partitioned = strcmp(PQgetvalue(r, 0, 3), "p") == 0;
	cols = source_columns_from(r, n, &any_key);
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

struct map_srccol *
catalog_table_columns(PGconn *conn, const char *schema, const char *table,
					  bool need_key, size_t *n, char *errbuf, size_t errlen)
{
	bool partitioned;

	return catalog_source_columns(conn, schema, table, need_key, n,
								  &partitioned, errbuf, errlen);
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
 * The target table's columns as the analytics server has them: name,
 * format_type with its modifier, whether the type is not built in
 * (through domains and arrays), and the type as source_columns_sql
 * spells a temp column's (NULL for a type that is not built in, a domain
 * included, for an identity column GENERATED ALWAYS, which COPY writes
 * and INSERT refuses, and for every column of a table COPY does not
 * insert into as INSERT does: a view, a foreign table, a table with
 * rules).  NULL
 * without a connection or when the target cannot be read (the plan then
 * fails where it always did: check --live, the first batch).  Caller
 * clears.
 */
static PGresult *
target_columns(PGconn *ana, const struct map_rule *r)
{
	static const char *sql =
		"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
		"       eb.oid >= 16384, "
		"       CASE WHEN t.oid >= 16384 OR c.relkind NOT IN ('r', 'p') "
		"                 OR c.relhasrules OR a.attidentity = 'a' THEN NULL "
		"            WHEN t.typname IN ('bpchar', 'bit', '_bpchar', '_bit') "
		"            THEN 'pg_catalog.' || pg_catalog.quote_ident(t.typname) "
		"            ELSE pg_catalog.format_type(t.oid, NULL) END "
		"  FROM pg_catalog.pg_attribute a "
		"  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
		"  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
		"  JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' "
		"       THEN t.typbasetype ELSE t.oid END "
		"  JOIN pg_catalog.pg_type e ON e.oid = CASE WHEN b.typelem <> 0 "
		"       AND b.typlen = -1 THEN b.typelem ELSE b.oid END "
		"  JOIN pg_catalog.pg_type eb ON eb.oid = CASE WHEN e.typtype = 'd' "
		"       THEN e.typbasetype ELSE e.oid END "
		" WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 "
		"   AND NOT a.attisdropped";
	struct buf q = BUF_INIT;
	const char *params[1];
	PGresult *res;

	if (ana == NULL)
		return NULL;
	map_quote_ident(&q, r->to_schema);
	buf_append_char(&q, '.');
	map_quote_ident(&q, r->to_table);
	params[0] = q.data;
	res = PQexecParams(ana, sql, 1, NULL, params, NULL, NULL, 0);
	buf_free(&q);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return NULL;
	}
	return res;
}

/*
 * The casts of rule r's columns for map_plan_new_cast: a plain column
 * mapping without type: whose source value travels as text (an enum,
 * composite or extension type on the source), into a target column whose
 * type is not built in, is cast to that column's type as the analytics
 * server formats it.  NULL when none is needed.
 */
static char **
target_casts(const PGresult *cols, const struct map_rule *r,
			 const struct map_srccol *src, size_t nsrc)
{
	char **casts = NULL;

	for (int row = 0; cols && row < PQntuples(cols); row++) {
		if (strcmp(PQgetvalue(cols, row, 2), "t") != 0)
			continue;
		for (size_t i = 0; i < r->ncols; i++) {
			const struct map_column *c = &r->cols[i];
			bool as_text = false;

			if (c->src != MAP_SRC_COLUMN || c->type ||
				strcmp(c->target, PQgetvalue(cols, row, 0)) != 0)
				continue;
			for (size_t k = 0; k < nsrc; k++)
				if (strcmp(src[k].name, c->column) == 0)
					as_text = strcmp(src[k].type, "text") == 0;
			if (!as_text)
				continue;
			if (casts == NULL)
				casts = wp_calloc(r->ncols + 1, sizeof(char *));
			free(casts[i]);
			casts[i] = wp_strdup(PQgetvalue(cols, row, 1));
		}
	}
	return casts;
}

/*
 * Field field of target_columns for each of rule r's target columns:
 * the type (1: format_type, with its modifier) for a keyless mapping's
 * comparisons (map_plan_new_typed), or the temp-column spelling (3) for
 * map_plan_copy_new; NULL for a column the analytics catalog does not
 * have or where the field is NULL.  Caller frees each and the array.
 */
static char **
target_types(const PGresult *cols, const struct map_rule *r, int field)
{
	char **types = wp_calloc(r->ncols + 1, sizeof(char *));

	for (int row = 0; cols && row < PQntuples(cols); row++)
		for (size_t i = 0; i < r->ncols; i++)
			if (types[i] == NULL && !PQgetisnull(cols, row, field) &&
				strcmp(r->cols[i].target, PQgetvalue(cols, row, 0)) == 0)
				types[i] = wp_strdup(PQgetvalue(cols, row, field));
	return types;
}

static void
free_types(char **types, size_t n)
{
	for (size_t k = 0; types && k < n; k++)
		free(types[k]);
	free(types);
}

struct map_plan *
catalog_plan_new(PGconn *ana, const struct map_rule *r,
				 const struct map_srccol *src, size_t nsrc, const char *source,
				 const char *tmp_name, char *errbuf, size_t errlen)
{
	/* One read of the target's columns serves both. */
	PGresult *cols = target_columns(ana, r);
	char **casts = target_casts(cols, r, src, nsrc);
	char **types =
		r->mode == MAP_MODE_KEYLESS ? target_types(cols, r, 1) : NULL;
	struct map_plan *p = map_plan_new_typed(
		r, src, nsrc, source, tmp_name, (const char *const *) casts,
		(const char *const *) types, errbuf, errlen);

	free_types(types, r->ncols);
	if (p && cols) {
		types = target_types(cols, r, 3);
		map_plan_copy_new(p, src, (const char *const *) types);
		free_types(types, r->ncols);
	}
	PQclear(cols);
	free_types(casts, r->ncols);
	return p;
}

/* Whether rule r applies updates or deletes by key. */
static bool
rule_needs_key(const struct map_rule *r)
{
	return r->mode == MAP_MODE_UPSERT ||
		   (r->mode != MAP_MODE_NONE && r->nkey > 0 &&
			r->on_delete != MAP_DELETE_IGNORE);
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
		t->srccols = catalog_source_columns(
			conn, r->from_schema, r->from_table, rule_needs_key(r), &t->nsrc,
			&t->partitioned, errbuf, errlen);
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

/* A text[] literal of strings v[0..n). */
static void
text_array(struct buf *b, char *const *v, size_t n)
{
	buf_append_char(b, '{');
	for (size_t i = 0; i < n; i++) {
		buf_append_str(b, i ? "," : "");
		array_element(b, v[i]);
	}
	buf_append_char(b, '}');
}

char *
catalog_unlisted_partitions(PGconn *conn, char *const *tables, size_t n,
							char *const *roots, size_t nroots)
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
		"   AND p.relid NOT IN (SELECT oid FROM l WHERE oid IS NOT NULL) "
		/* A partition of a followed root is covered (route.h). */
		"   AND NOT EXISTS (SELECT FROM pg_catalog.pg_partition_ancestors("
		"       p.relid) a WHERE a.relid IN (SELECT pg_catalog.to_regclass(t) "
		"       FROM pg_catalog.unnest($2::text[]) t))";
	struct buf arr = BUF_INIT, rarr = BUF_INIT;
	const char *params[2];
	PGresult *r;
	char *out = NULL;

	text_array(&arr, tables, n);
	text_array(&rarr, roots, nroots);
	params[0] = arr.data;
	params[1] = rarr.data;
	r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		!PQgetisnull(r, 0, 0))
		out = wp_strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	buf_free(&arr);
	buf_free(&rarr);
	return out;
}

bool
catalog_partitions(PGconn *conn, const char *schema, const char *table,
				   struct catalog_part **out, size_t *n, char *errbuf,
				   size_t errlen)
{
	static const char *sql =
		"SELECT n.nspname, c.relname, p.isleaf "
		"  FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass("
		"       pg_catalog.format('%I.%I', $1::text, $2::text))) p "
		"  JOIN pg_catalog.pg_class c ON c.oid = p.relid "
		"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		" WHERE p.level > 0 "
		" ORDER BY n.nspname, c.relname";
	const char *params[2] = {schema, table};
	PGresult *r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
	int rows;

	*out = NULL;
	*n = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char q[IDENT_QUALIFIED_MAX];

		ident_qualified_to(q, sizeof(q), schema, table);
		snprintf(errbuf, errlen, "could not read the partitions of \"%s\": %s",
				 q, PQerrorMessage(conn));
		PQclear(r);
		return false;
	}
	rows = PQntuples(r);
	*out = wp_calloc(rows ? (size_t) rows : 1, sizeof(**out));
	for (int i = 0; i < rows; i++) {
		(*out)[i].schema = wp_strdup(PQgetvalue(r, i, 0));
		(*out)[i].table = wp_strdup(PQgetvalue(r, i, 1));
		(*out)[i].leaf = strcmp(PQgetvalue(r, i, 2), "t") == 0;
	}
	*n = (size_t) rows;
	PQclear(r);
	return true;
}

void
catalog_free_parts(struct catalog_part *p, size_t n)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(p[i].schema);
		free(p[i].table);
	}
	free(p);
}

/*
 * The message of a transaction that does not show: with
 * synchronous_standby_names set, name it, since a commit that waits for
 * walpipe itself (its application name listed there) never shows until
 * walpipe confirms it, which it does only once it has applied it.
 */
static void
sync_hint(PGconn *conn, uint32_t xid, int timeout_ms, char *errbuf,
		  size_t errlen)
{
	PGresult *r = PQexec(conn,
						 "SELECT pg_catalog.current_setting("
						 "'synchronous_standby_names')");
	const char *names = PQresultStatus(r) == PGRES_TUPLES_OK &&
								PQntuples(r) == 1
							? PQgetvalue(r, 0, 0)
							: "";
	int n = snprintf(errbuf, errlen,
					 "transaction %u is in the stream, but after %d ms it "
					 "is still not visible on the source (its commit waits "
					 "for a synchronous standby?); walpipe reads the source "
					 "catalog about its changes only once it is",
					 xid, timeout_ms);

	if (names[0] && n >= 0 && (size_t) n < errlen)
		snprintf(errbuf + n, errlen - (size_t) n,
				 "\nThe source's synchronous_standby_names is '%s'. If it "
				 "names walpipe (application name \"walpipe\" unless its "
				 "conninfo sets one), the commit waits for walpipe, which "
				 "confirms only what it has applied: take walpipe out of it.",
				 names);
	PQclear(r);
}

bool
catalog_snapshot(PGconn *conn, struct xidsnap *out, char *errbuf,
				 size_t errlen)
{
	PGresult *r = PQexec(conn, "SELECT pg_catalog.pg_current_snapshot()::text");
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;

	if (!ok)
		snprintf(errbuf, errlen, "could not read the source's snapshot: %s",
				 PQerrorMessage(conn));
	else if (!(ok = xidsnap_parse(PQgetvalue(r, 0, 0), out)))
		snprintf(errbuf, errlen, "could not parse the snapshot \"%s\"",
				 PQgetvalue(r, 0, 0));
	PQclear(r);
	return ok;
}

int
catalog_wait_visible(PGconn *conn, struct xidset *pending, int timeout_ms,
					 char *errbuf, size_t errlen)
{
	int64_t start = clock_mono_ms();
	long delay_us = 1000;

	for (;;) {
		struct xidsnap sn;
		uint32_t xid;

		if (pending->n == 0)
			return 1;
		if (!catalog_snapshot(conn, &sn, errbuf, errlen))
			return -1;
		xid = xidset_prune(pending, &sn);
		xidsnap_free(&sn);
		if (xid == 0)
			return 1;
		if (clock_mono_ms() - start >= timeout_ms) {
			sync_hint(conn, xid, timeout_ms, errbuf, errlen);
			return 0;
		}
		/* The commit is normally done within microseconds. */
		nanosleep(&(struct timespec){0, delay_us * 1000}, NULL);
		if (delay_us < 100 * 1000)
			delay_us *= 2;
	}
}

int
catalog_partition_ancestors(PGconn *conn, const char *schema,
							const char *table, struct catalog_part **out,
							size_t *n, char *errbuf, size_t errlen)
{
	static const char *sql =
		"SELECT r.oid IS NOT NULL, n.nspname, c.relname "
		"  FROM (SELECT pg_catalog.to_regclass(pg_catalog.format('%I.%I', "
		"        $1::text, $2::text)) AS oid) r "
		"  LEFT JOIN LATERAL pg_catalog.pg_partition_ancestors(r.oid) "
		"       WITH ORDINALITY a(relid, ord) ON a.relid <> r.oid "
		"  LEFT JOIN pg_catalog.pg_class c ON c.oid = a.relid "
		"  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		" ORDER BY a.ord";
	const char *params[2] = {schema, table};
	PGresult *r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
	int rows, found;

	*out = NULL;
	*n = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
		char q[IDENT_QUALIFIED_MAX];

		ident_qualified_to(q, sizeof(q), schema, table);
		snprintf(errbuf, errlen, "could not look up source table \"%s\": %s",
				 q, PQerrorMessage(conn));
		PQclear(r);
		return -1;
	}
	found = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	rows = PQntuples(r);
	*out = wp_calloc((size_t) rows, sizeof(**out));
	for (int i = 0; found && i < rows; i++) {
		if (PQgetisnull(r, i, 1))
			continue; /* not a partition: one row of NULLs */
		(*out)[*n].schema = wp_strdup(PQgetvalue(r, i, 1));
		(*out)[*n].table = wp_strdup(PQgetvalue(r, i, 2));
		(*n)++;
	}
	PQclear(r);
	return found;
}

bool
catalog_check_partition(PGconn *conn, const char *schema, const char *table,
						const char *root_schema, const char *root_table,
						const struct sink_target *t, size_t nt, char *errbuf,
						size_t errlen)
{
	const struct sink_target *root = NULL;
	size_t n;
	struct map_srccol *cols;
	bool need_key = false;
	bool ok = true;
	char qp[IDENT_QUALIFIED_MAX], qr[IDENT_QUALIFIED_MAX];

	for (size_t i = 0; i < nt; i++) {
		if (strcmp(t[i].rule->from_schema, root_schema) != 0 ||
			strcmp(t[i].rule->from_table, root_table) != 0)
			continue;
		root = &t[i];
		need_key |= rule_needs_key(t[i].rule);
		/* A keyless mapping finds rows by the whole old row: the
		 * partition's own identity must be FULL too. */
		if (t[i].rule->mode == MAP_MODE_KEYLESS &&
			!catalog_keyless_ok(conn, schema, table, errbuf, errlen))
			return false;
	}
	/*
	 * Each partition has its own replica identity (ALTER TABLE on the
	 * partitioned table does not set it for existing partitions), and a
	 * change of it carries that identity: it must hold the root's key.
	 */
	cols = catalog_table_columns(conn, schema, table, need_key, &n, errbuf,
								 errlen);
	if (cols == NULL)
		return false;
	for (size_t k = 0; need_key && ok && k < root->nsrc; k++) {
		bool key = false;

		if (!root->srccols[k].key)
			continue;
		for (size_t i = 0; i < n; i++)
			if (strcmp(cols[i].name, root->srccols[k].name) == 0)
				key = cols[i].key;
		if (key)
			continue;
		ident_qualified_to(qp, sizeof(qp), schema, table);
		ident_qualified_to(qr, sizeof(qr), root_schema, root_table);
		snprintf(errbuf, errlen,
				 "partition \"%s\" of source table \"%s\" has a replica "
				 "identity without key column \"%s\" of \"%s\", so its "
				 "updates and deletes cannot find their rows\nGive the "
				 "partition the partitioned table's replica identity (ALTER "
				 "TABLE %s REPLICA IDENTITY ...).",
				 qp, qr, root->srccols[k].name, qr, qp);
		ok = false;
	}
	catalog_free_columns(cols, n);
	return ok;
}

/* Add s to the set *set of *n strings unless it is there. */
static void
set_add(char ***set, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*set)[i], s) == 0)
			return;
	*set = wp_realloc(*set, (*n + 1) * sizeof(char *));
	(*set)[(*n)++] = wp_strdup(s);
}

/* Whether schema.table is a partitioned table: 1 yes, 0 no (or there is
 * no such table), -1 with a message when the catalog cannot say. */
static int
is_partitioned(PGconn *conn, const char *schema, const char *table,
			   char *errbuf, size_t errlen)
{
	static const char *sql =
		"SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c "
		"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		" WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'p'";
	const char *params[2] = {schema, table};
	PGresult *r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
	int out = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		out = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
	else {
		char q[IDENT_QUALIFIED_MAX];

		ident_qualified_to(q, sizeof(q), schema, table);
		snprintf(errbuf, errlen, "could not look up \"%s\": %s", q,
				 PQerrorMessage(conn));
	}
	PQclear(r);
	return out;
}

/*
 * Partitioned table schema.table ROUTE_ROOT in rt, its partitions
 * ROUTE_MEMBER (leaves checked against t[0..n)), their schemas into the
 * set.  A partition mapped itself: an error for a mapped table; a table
 * only listed then stays as it was before walpipe followed partitioned
 * tables (its partitions are mapped one by one), returns 0.  1 when
 * done, -1 with a message.
 */
static int
route_partitions(PGconn *conn, struct route *rt, const char *schema,
				 const char *table, bool mapped, const struct sink_target *t,
				 size_t n, char ***schemas, size_t *nschemas, char *errbuf,
				 size_t errlen)
{
	struct catalog_part *p;
	size_t np;
	int ok = 1;

	if (!catalog_partitions(conn, schema, table, &p, &np, errbuf, errlen))
		return -1;
	for (size_t k = 0; k < np && ok == 1; k++) {
		const struct route_entry *e = route_find(rt, p[k].schema,
												 p[k].table);
		char qp[IDENT_QUALIFIED_MAX], qr[IDENT_QUALIFIED_MAX];

		if (e == NULL || e->kind != ROUTE_KEEP)
			continue;
		ok = mapped ? -1 : 0;
		ident_qualified_to(qp, sizeof(qp), p[k].schema, p[k].table);
		ident_qualified_to(qr, sizeof(qr), schema, table);
		snprintf(errbuf, errlen,
				 "source table \"%s\" is a partition of \"%s\" and both "
				 "are mapped: the changes of a partition are its "
				 "partitioned table's\nMap one or the other.",
				 qp, qr);
	}
	if (ok == 1) {
		route_add(rt, schema, table, ROUTE_ROOT, NULL, NULL);
		/* Partitions created while streaming land in the root's schema
		 * or one of its partitions' (add-tables "schema.*"). */
		set_add(schemas, nschemas, schema);
	}
	for (size_t k = 0; k < np && ok == 1; k++) {
		if (p[k].leaf &&
			!catalog_check_partition(conn, p[k].schema, p[k].table, schema,
									 table, t, n, errbuf, errlen)) {
			ok = -1;
			break;
		}
		route_add(rt, p[k].schema, p[k].table, ROUTE_MEMBER, schema, table);
		set_add(schemas, nschemas, p[k].schema);
	}
	catalog_free_parts(p, np);
	return ok;
}

struct route *
catalog_route_new(PGconn *conn, const struct sink_target *t, size_t n,
				  const char *add_tables, char ***schemas, size_t *nschemas,
				  char *errbuf, size_t errlen)
{
	struct route *rt = route_new(add_tables);
	const char *ls, *lt;

	*schemas = NULL;
	*nschemas = 0;
	for (size_t i = 0; i < n; i++)
		if (!t[i].partitioned)
			route_add(rt, t[i].rule->from_schema, t[i].rule->from_table,
					  ROUTE_KEEP, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		const struct map_rule *r = t[i].rule;

		/* Plain, or a root seen with an earlier mapping. */
		if (!t[i].partitioned || route_find(rt, r->from_schema, r->from_table))
			continue;
		if (route_partitions(conn, rt, r->from_schema, r->from_table, true,
							 t, n, schemas, nschemas, errbuf, errlen) < 0)
			goto fail;
	}
	/* Partitioned tables listed in source.tables without a mapping, for
	 * staging and Kafka. */
	for (size_t i = 0; route_listed_table(rt, i, &ls, &lt); i++) {
		int p;

		if (route_find(rt, ls, lt))
			continue;
		p = is_partitioned(conn, ls, lt, errbuf, errlen);
		if (p < 0 || (p > 0 && route_partitions(conn, rt, ls, lt, false, t,
												n, schemas, nschemas, errbuf,
												errlen) < 0))
			goto fail;
	}
	return rt;

fail:
	route_free(rt);
	for (size_t i = 0; i < *nschemas; i++)
		free((*schemas)[i]);
	free(*schemas);
	*schemas = NULL;
	*nschemas = 0;
	return NULL;
}

char **
catalog_route_roots(const struct route *rt, size_t *n)
{
	const struct route_entry *e;
	char **out = NULL;

	*n = 0;
	for (size_t i = 0; rt && (e = route_root(rt, i)) != NULL; i++) {
		struct buf b = BUF_INIT;

		/* Quoted, as to_regclass reads them exactly. */
		map_quote_ident(&b, e->schema);
		buf_append_char(&b, '.');
		map_quote_ident(&b, e->table);
		out = wp_realloc(out, (*n + 1) * sizeof(char *));
		out[(*n)++] = b.data;
	}
	return out;
}

int
catalog_partition_watch(PGconn *conn, const struct route *rt,
						char *const *schemas, size_t nschemas, char **sig,
						char *errbuf, size_t errlen)
{
	/* The set of partitions, as a count and a sum of their OIDs: a
	 * partition created, attached or detached changes it (OIDs are not
	 * reused while the table exists). */
	static const char *sql =
		"SELECT pg_catalog.count(*) || ':' || "
		"       coalesce(pg_catalog.sum(p.relid::pg_catalog.oid::int8), 0), "
		"       pg_catalog.min(pg_catalog.format('%I.%I\" of source table "
		"\"%I.%I', n.nspname, c.relname, rn.nspname, rc.relname)) "
		"       FILTER (WHERE n.nspname <> ALL ($3::text[])) "
		"  FROM pg_catalog.pg_class rc "
		"  JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace "
		"  CROSS JOIN LATERAL pg_catalog.pg_partition_tree(rc.oid) p "
		"  JOIN pg_catalog.pg_class c ON c.oid = p.relid "
		"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		" WHERE rc.relkind = 'p' AND (rn.nspname, rc.relname) IN "
		"       (SELECT * FROM ROWS FROM (pg_catalog.unnest($1::text[]), "
		"        pg_catalog.unnest($2::text[]))) ";
	struct buf rs = BUF_INIT, rtb = BUF_INIT, sc = BUF_INIT;
	char **s = NULL, **tb = NULL;
	const char *params[3];
	const struct route_entry *e;
	size_t n = 0;
	PGresult *r;
	int found = -1;

	*sig = NULL;
	for (size_t i = 0; (e = route_root(rt, i)) != NULL; i++) {
		s = wp_realloc(s, (n + 1) * sizeof(char *));
		tb = wp_realloc(tb, (n + 1) * sizeof(char *));
		s[n] = (char *) e->schema;
		tb[n++] = (char *) e->table;
	}
	text_array(&rs, s, n);
	text_array(&rtb, tb, n);
	text_array(&sc, schemas, nschemas);
	params[0] = rs.data;
	params[1] = rtb.data;
	params[2] = sc.data;
	r = PQexecParams(conn, sql, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		snprintf(errbuf, errlen,
				 "could not read the partitions of the partitioned source "
				 "tables: %s",
				 PQerrorMessage(conn));
	} else if (!PQgetisnull(r, 0, 1)) {
		snprintf(errbuf, errlen,
				 "partition \"%s\" is in a schema walpipe did not ask "
				 "wal2json for; re-reading the source catalog",
				 PQgetvalue(r, 0, 1));
		found = 1;
	} else {
		*sig = wp_strdup(PQgetvalue(r, 0, 0));
		found = 0;
	}
	PQclear(r);
	buf_free(&rs);
	buf_free(&rtb);
	buf_free(&sc);
	free(s);
	free(tb);
	return found;
}

/* one_text of sql with $1 a text[] of the source tables of rules[0..n),
 * quoted as to_regclass reads them exactly. */
static char *
rules_text(PGconn *conn, const char *sql, const struct map_rule *const *rules,
		   size_t n)
{
	struct buf name = BUF_INIT, arrb = BUF_INIT, *arr = &arrb;
	char *out;

	buf_append_char(arr, '{');
	for (size_t i = 0; i < n; i++) {
		buf_reset(&name, 256);
		map_quote_ident(&name, rules[i]->from_schema);
		buf_append_char(&name, '.');
		map_quote_ident(&name, rules[i]->from_table);
		buf_append_str(arr, i ? "," : "");
		array_element(arr, name.data);
	}
	buf_append_char(arr, '}');
	buf_free(&name);
	out = one_text(conn, sql, arr->data);
	buf_free(arr);
	return out;
}

char *
catalog_special_columns(PGconn *conn, const struct map_rule *const *rules,
						size_t n)
{
	/* The column's own type, not a domain's base: wal2json quotes a
	 * domain's values (and arrays) as strings, which carry NaN exactly. */
	static const char *sql =
		/* Ten tables at most: a mirror can follow hundreds. */
		"SELECT pg_catalog.string_agg(x.t || ' (' || x.cols || ')', ', ' "
		"       ORDER BY x.t) FILTER (WHERE x.rn <= 10) "
		"       || CASE WHEN pg_catalog.count(*) > 10 THEN "
		"          pg_catalog.format(', and %s more table(s)', "
		"                            pg_catalog.count(*) - 10) ELSE '' END "
		"  FROM (SELECT y.*, pg_catalog.row_number() OVER (ORDER BY y.t) rn "
		"          FROM ("
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
		"   GROUP BY ns.nspname, c.relname) y) x";
	return rules_text(conn, sql, rules, n);
}

char *
catalog_columns_signature(PGconn *conn, const struct map_rule *const *rules,
						  size_t n)
{
	/* "name=md5;..." of the tables that exist, in name order: each
	 * column's name, type, modifier, NOT NULL and, for an enum (or an
	 * array of one), its labels in order. */
	static const char *sql =
		"SELECT coalesce(pg_catalog.string_agg(x.t || '=' || x.sig, ';' "
		"       ORDER BY x.t), '') FROM ("
		"  SELECT l.t, pg_catalog.md5(pg_catalog.string_agg("
		"         pg_catalog.format('%s:%s:%s:%s:%s', a.attname, "
		"         a.atttypid::pg_catalog.oid, a.atttypmod, a.attnotnull, "
		"         (SELECT pg_catalog.string_agg(e.enumlabel::text, ',' "
		"                 ORDER BY e.enumsortorder) "
		"            FROM pg_catalog.pg_enum e WHERE e.enumtypid IN "
		"                 (ty.oid, ty.typelem))), "
		"         ',' ORDER BY a.attnum)) AS sig "
		"    FROM pg_catalog.unnest($1::text[]) l(t) "
		"    JOIN pg_catalog.pg_attribute a "
		"      ON a.attrelid = pg_catalog.to_regclass(l.t) "
		"     AND a.attnum > 0 AND NOT a.attisdropped "
		"    JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid "
		"   GROUP BY l.t) x";

	return rules_text(conn, sql, rules, n);
}
