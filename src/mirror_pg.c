/* mirror_pg.c: whole-database mirrors against live databases: the source tables a mirror matches, and their targets made to exist. */
#include "walpipe/mirror_pg.h"

#include "walpipe/buf.h"
#include "walpipe/ident.h"
#include "walpipe/map.h"
#include "walpipe/mem.h"
#include "walpipe/pgconn.h"

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
	"       en.nspname, e.typname, x.extname, a.atthasdef, a.attnum, "
	/* What a row from before an ADD COLUMN holds: a partitioned table's
	 * leaves store it, a plain table itself. */
	"       (SELECT pg_catalog.array_to_string(ma.attmissingval, '') "
	"          FROM pg_catalog.pg_attribute ma "
	"         WHERE ma.attname = a.attname AND ma.atthasmissing "
	"           AND (ma.attrelid = t.oid OR ma.attrelid IN "
	"                (SELECT pt.relid FROM pg_catalog.pg_partition_tree("
	"                 t.oid) pt WHERE pt.isleaf)) LIMIT 1) "
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
	SRC_TYPSCHEMA, SRC_TYPNAME, SRC_TYPEXT, SRC_HASDEF, SRC_ATTNUM,
	SRC_MISSING,
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
	c->has_default = strcmp(PQgetvalue(r, row, SRC_HASDEF), "t") == 0;
	c->attnum = atoi(PQgetvalue(r, row, SRC_ATTNUM));
	c->missing = dup_or_null(r, row, SRC_MISSING);
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

/* Free s[i] (one table of a mirror_pg_sources array). */
static void
free_source(struct mirror_source *s)
{
	for (size_t j = 0; j < s->ncols; j++) {
		free(s->cols[j].name);
		free(s->cols[j].type);
		free(s->cols[j].type_schema);
		free(s->cols[j].type_name);
		free(s->cols[j].type_ext);
		free(s->cols[j].missing);
	}
	free(s->cols);
	free(s->schema);
	free(s->table);
}

bool
mirror_pg_taken(PGconn *src, const struct config_mirror *m, size_t nm,
				size_t i, const struct map_rule *rules, size_t nrules,
				struct mirror_source **out, size_t *n, char *errbuf,
				size_t errlen)
{
	size_t kept = 0;

	if (!mirror_pg_sources(src, m[i].from_p, m[i].nfrom, m[i].exclude_p,
						   m[i].nexclude, out, n, errbuf, errlen))
		return false;
	for (size_t k = 0; k < *n; k++) {
		if (config_mirror_of(m, nm, rules, nrules, (*out)[k].schema,
							 (*out)[k].table) == (int) i)
			(*out)[kept++] = (*out)[k];
		else
			free_source(&(*out)[k]);
	}
	*n = kept;
	return true;
}

void
mirror_pg_free_sources(struct mirror_source *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		free_source(&s[i]);
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

/* A query through pgconn's layer: the result, or NULL with "could not
 * what: reason" in errbuf. */
static PGresult *
query(PGconn *conn, const char *what, const char *sql, int nparams,
	  const char *const *params, char *errbuf, size_t errlen)
{
	char w[160];
	PGresult *r;

	snprintf(w, sizeof(w), "could not %s", what);
	if (pgconn_exec_params(conn, sql, nparams, params, w, &r, errbuf,
						   errlen) == PGCONN_OK)
		return r;
	PQclear(r);
	return NULL;
}

/* One or more statements without parameters (pgconn_exec: PQexec). */
static bool
command(PGconn *conn, const char *what, const char *sql, char *errbuf,
		size_t errlen)
{
	char w[160];

	snprintf(w, sizeof(w), "could not %s", what);
	return pgconn_exec(conn, sql, w, NULL, errbuf, errlen) == PGCONN_OK;
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
		char *lit = pgconn_quote_literal(ana, PQgetvalue(r, i, 0));

		if (i)
			buf_append_str(&sql, ", ");
		buf_append_str(&sql, lit);
		free(lit);
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
 * Labels the source's enum qname gained (ALTER TYPE .. ADD VALUE) added
 * to the analytics one at the same place, so that rows carrying them
 * are not refused.  PostgreSQL 12 and later take ADD VALUE inside a
 * transaction; the label is usable once it commits, before any change.
 */
static bool
follow_enum(PGconn *src, PGconn *ana, const char *qname, char *errbuf,
			size_t errlen)
{
	static const char labels[] =
		"SELECT e.enumlabel FROM pg_catalog.pg_enum e "
		" WHERE e.enumtypid = $1::pg_catalog.regtype "
		" ORDER BY e.enumsortorder";
	PGresult *have = query(ana, "read an enum's labels", labels, 1, &qname,
						   errbuf, errlen);
	PGresult *want = have ? query(src, "read an enum's labels", labels, 1,
								  &qname, errbuf, errlen)
						  : NULL;
	bool ok = want != NULL;

	for (int i = 0; ok && i < PQntuples(want); i++) {
		const char *label = PQgetvalue(want, i, 0);
		struct buf sql = BUF_INIT;
		bool there = false;
		char *lit, *prev;

		for (int j = 0; j < PQntuples(have) && !there; j++)
			there = strcmp(PQgetvalue(have, j, 0), label) == 0;
		if (there)
			continue;
		/* After the label before it (added just now if it was new too),
		 * or before the first one. */
		lit = pgconn_quote_literal(ana, label);
		prev = i ? pgconn_quote_literal(ana, PQgetvalue(want, i - 1, 0))
			 : PQntuples(have) ? pgconn_quote_literal(ana, PQgetvalue(have, 0, 0))
							   : NULL;
		buf_appendf(&sql, "ALTER TYPE %s ADD VALUE IF NOT EXISTS %s", qname,
					lit);
		if (prev)
			buf_appendf(&sql, " %s %s", i ? "AFTER" : "BEFORE", prev);
		free(lit);
		free(prev);
		ok = command(ana, "add a label to an enum type", sql.data, errbuf,
					 errlen);
		buf_free(&sql);
	}
	PQclear(have);
	PQclear(want);
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
	char shown[IDENT_QUALIFIED_MAX];
	bool err, ok = false;

	append_qualified(&q, c->type_schema, c->type_name);
	if (exists(ana, "SELECT pg_catalog.to_regtype($1)", q.data, &err,
			   errbuf, errlen)) {
		ok = c->type_kind != 'e' ||
			 follow_enum(src, ana, q.data, errbuf, errlen);
		buf_free(&q);
		return ok;
	}
	if (err)
		goto done;
	ident_qualified_to(shown, sizeof(shown), c->type_schema, c->type_name);
	if (c->type_ext)
		snprintf(errbuf, errlen,
				 "the analytics database lacks type %s of extension \"%s\" "
				 "(column \"%s\"): run CREATE EXTENSION \"%s\" there",
				 shown, c->type_ext, c->name, c->type_ext);
	else if (c->type_kind == 'e' || c->type_kind == 'd')
		ok = ensure_schema(ana, c->type_schema, errbuf, errlen) &&
			 (c->type_kind == 'e'
				  ? create_enum(src, ana, q.data, errbuf, errlen)
				  : create_domain(src, ana, q.data, errbuf, errlen));
	else
		snprintf(errbuf, errlen,
				 "the analytics database lacks type %s (column \"%s\"): "
				 "create it as the source defines it, or exclude the table",
				 shown, c->name);
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

/* The existing target's columns, in attnum order. */
struct target_cols {
	PGresult *r; /* attname, type, in a unique index, NOT NULL */
	int n;
};

static int
target_col(const struct target_cols *tg, const char *name)
{
	for (int j = 0; j < tg->n; j++)
		if (strcmp(PQgetvalue(tg->r, j, 0), name) == 0)
			return j;
	return -1;
}

static bool
is_key(const struct mirror_table *t, size_t i)
{
	for (size_t k = 0; k < t->nkey; k++)
		if (t->key[k] == i)
			return true;
	return false;
}

/* ALTER TABLE qtarget ... of column col, into b. */
static void
alter(struct buf *b, const char *qtarget, const char *what, const char *col)
{
	buf_appendf(b, "ALTER TABLE %s %s ", qtarget, what);
	map_quote_ident(b, col);
}

/*
 * A source column the target lacks: added (with the value rows from
 * before hold, the ADD COLUMN default), unless it looks like a rename
 * (the target's column at its position is one the source lacks, of the
 * same type) or rows from before hold values walpipe cannot know.
 */
static void
follow_missing(PGconn *ana, const struct mirror_source *s,
			   const struct mirror_column *c, size_t i,
			   const struct target_cols *tg, const struct mirror_column *tc,
			   size_t ntc, const char *qtarget, struct buf *fix,
			   struct buf *diff)
{
	const struct mirror_source_col *sc = i < s->ncols ? &s->cols[i] : NULL;
	const char *at = NULL;
	bool orphan = false;
	int row = -1;

	/* A target walpipe created has the source's column numbers (it keeps
	 * the columns the source drops): the column at this one's number. */
	for (int j = 0; sc && j < tg->n && row < 0; j++)
		if (atoi(PQgetvalue(tg->r, j, 4)) == sc->attnum)
			row = j;
	if (row >= 0) {
		at = PQgetvalue(tg->r, row, 0);
		orphan = true;
		for (size_t k = 0; orphan && k < ntc; k++)
			orphan = strcmp(tc[k].name, at) != 0;
	}
	if (orphan && strcmp(PQgetvalue(tg->r, row, 1), c->type) == 0) {
		buf_appendf(diff, "\n  column \"%s\" is new and \"%s\" is gone at its "
						  "place: if it was renamed, run ",
					c->name, at);
		alter(diff, qtarget, "RENAME COLUMN", at);
		buf_append_str(diff, " TO ");
		map_quote_ident(diff, c->name);
		buf_append_str(diff, "; if not, ");
		alter(diff, qtarget, "ADD COLUMN", c->name);
		buf_appendf(diff, " %s;", c->type);
		return;
	}
	if (sc && sc->has_default && sc->missing == NULL) {
		buf_appendf(diff, "\n  column \"%s\" is missing, and its default "
						  "gave the rows from before values walpipe cannot "
						  "know: run ",
					c->name);
		alter(diff, qtarget, "ADD COLUMN", c->name);
		buf_appendf(diff, " %s; then copy the table again with walpipe "
						  "snapshot --table %s.%s",
					c->type, s->schema, s->table);
		return;
	}
	alter(fix, qtarget, "ADD COLUMN", c->name);
	buf_appendf(fix, " %s", c->type);
	if (sc && sc->missing) {
		char *lit = pgconn_quote_literal(ana, sc->missing);

		buf_appendf(fix, " DEFAULT %s::%s", lit, c->type);
		free(lit);
	}
	buf_append_str(fix, ";\n");
}

/*
 * How the existing target qtarget follows the columns the mirror writes
 * (tc[0..ntc): the source's, then metadata and soft delete; t->key
 * indexes the source's): into fix the statements walpipe runs itself
 * (add a column, widen a type, drop NOT NULL from a column the source
 * dropped), into diff one line per difference it will not decide (with
 * the statement to run): another type, a suspected rename, no unique
 * index on the key.
 */
static bool
follow_target(PGconn *ana, const struct mirror_source *s,
			  const struct mirror_table *t, const struct mirror_column *tc,
			  size_t ntc, const char *qtarget, struct buf *fix,
			  struct buf *diff, char *errbuf, size_t errlen)
{
	struct target_cols tg;
	bool keyed = t->nkey > 0;

	tg.r = query(
		ana, "read the target table's columns",
		"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
		"       EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
		"                WHERE i.indrelid = a.attrelid AND i.indisunique "
		"                  AND a.attnum = ANY (i.indkey::pg_catalog.int2[])), "
		"       a.attnotnull, a.attnum "
		"  FROM pg_catalog.pg_attribute a "
		" WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 "
		"   AND NOT a.attisdropped ORDER BY a.attnum",
		1, &qtarget, errbuf, errlen);
	if (!tg.r)
		return false;
	tg.n = PQntuples(tg.r);
	for (size_t i = 0; i < ntc; i++) {
		int row = target_col(&tg, tc[i].name);
		const char *have = row >= 0 ? PQgetvalue(tg.r, row, 1) : NULL;

		if (row < 0) {
			keyed = keyed && !is_key(t, i);
			follow_missing(ana, s, &tc[i], i, &tg, tc, ntc, qtarget, fix,
						   diff);
		} else if (mirror_type_change(have, tc[i].type) == MIRROR_TYPE_WIDER) {
			alter(fix, qtarget, "ALTER COLUMN", tc[i].name);
			buf_appendf(fix, " TYPE %s;\n", tc[i].type);
		} else if (mirror_type_change(tc[i].type, have) == MIRROR_TYPE_OTHER) {
			buf_appendf(diff, "\n  column \"%s\" is %s on the target and %s "
							  "here: ",
						tc[i].name, have, tc[i].type);
			alter(diff, qtarget, "ALTER COLUMN", tc[i].name);
			buf_appendf(diff, " TYPE %s;", tc[i].type);
		}
		if (row >= 0 && is_key(t, i) && strcmp(PQgetvalue(tg.r, row, 2), "t"))
			keyed = false;
	}
	/* Columns the source dropped stay, NULL in new rows. */
	for (int j = 0; j < tg.n; j++) {
		bool ours = false;

		for (size_t i = 0; i < ntc && !ours; i++)
			ours = strcmp(tc[i].name, PQgetvalue(tg.r, j, 0)) == 0;
		if (!ours && strcmp(PQgetvalue(tg.r, j, 3), "t") == 0) {
			alter(fix, qtarget, "ALTER COLUMN", PQgetvalue(tg.r, j, 0));
			buf_append_str(fix, " DROP NOT NULL;\n");
		}
	}
	PQclear(tg.r);
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
						const struct mirror_spec *spec, char **changes,
						char *errbuf, size_t errlen)
{
	struct buf qtarget = BUF_INIT, sql = BUF_INIT, diff = BUF_INIT;
	struct mirror_table t, full;
	struct mirror_column *tc;
	size_t ntc;
	char qsource[IDENT_QUALIFIED_MAX];
	bool err, found;
	int rc = -1;

	/* format_type() qualifies a type that search_path does not find:
	 * with pg_catalog alone both sides print user types as the source's
	 * plan connection does (public.mood), so the texts compare. */
	if (changes)
		*changes = NULL;
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
	found = exists(ana, "SELECT pg_catalog.to_regclass($1)", qtarget.data,
				   &err, errbuf, errlen);
	if (err || (!found && !ensure_schema(ana, spec->to, errbuf, errlen)))
		goto done;
	for (size_t i = 0; i < s->ncols; i++)
		if (s->cols[i].type_kind &&
			!ensure_type(src, ana, &s->cols[i], errbuf, errlen))
			goto done;
	if (!found) {
		mirror_append_create_table(&sql, spec->to, &full);
		if (command(ana, "create the target table", sql.data, errbuf,
					errlen))
			rc = 1;
		goto done;
	}
	if (!follow_target(ana, s, &t, tc, ntc, qtarget.data, &sql, &diff,
					   errbuf, errlen))
		goto done;
	if (diff.len) {
		ident_qualified_to(qsource, sizeof(qsource), s->schema, s->table);
		snprintf(errbuf, errlen,
				 "target table %s does not fit source table %s:%s",
				 qtarget.data, qsource, diff.data);
		goto done;
	}
	if (sql.len == 0)
		rc = 0;
	else if (command(ana, "change the target table", sql.data, errbuf,
					 errlen)) {
		if (changes)
			*changes = wp_strdup(sql.data);
		rc = 2;
	}
done:
	free(tc);
	mirror_source_view_free(&t);
	buf_free(&qtarget);
	buf_free(&sql);
	buf_free(&diff);
	return rc;
}
