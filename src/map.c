/* map.c: mapping rules compiled into the set-based SQL that applies a batch. */
#include "walpipe/map.h"

#include "walpipe/buf.h"
#include "walpipe/ident.h"
#include "walpipe/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
map_quote_ident(struct buf *out, const char *name)
{
	buf_append_char(out, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			buf_append_char(out, '"');
		buf_append_char(out, *p);
	}
	buf_append_char(out, '"');
}

static void
quote_literal(struct buf *out, const char *s)
{
	buf_append_char(out, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			buf_append_char(out, '\'');
		buf_append_char(out, *p);
	}
	buf_append_char(out, '\'');
}

static int
src_index(const struct map_srccol *src, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(src[i].name, name) == 0)
			return (int) i;
	return -1;
}

/*
 * Call fn for every identifier in an SQL expression that names a source
 * column: bare words compare case-insensitively (they fold to lower
 * case), double-quoted ones exactly; string literals are skipped.  An
 * identifier that is really a function or type name only adds a harmless
 * extra column.
 */
static void
scan_sql_refs(const char *sql, const struct map_srccol *src, size_t n,
			  bool *used)
{
	const char *p = sql;

	while (*p) {
		if (*p == '\'') {
			for (p++; *p; p++) {
				if (*p == '\'' && p[1] == '\'')
					p++;
				else if (*p == '\'')
					break;
			}
			if (*p)
				p++;
		} else if (*p == '"') {
			struct buf id = BUF_INIT;
			int i;

			for (p++; *p; p++) {
				if (*p == '"' && p[1] == '"')
					p++;
				else if (*p == '"')
					break;
				buf_append_char(&id, *p);
			}
			if (*p)
				p++;
			if (id.data && (i = src_index(src, n, id.data)) >= 0)
				used[i] = true;
			buf_free(&id);
		} else if (isalpha((unsigned char) *p) || *p == '_') {
			const char *start = p;

			while (isalnum((unsigned char) *p) || *p == '_' || *p == '$')
				p++;
			for (size_t i = 0; i < n; i++)
				if (strlen(src[i].name) == (size_t) (p - start) &&
					strncasecmp(src[i].name, start, (size_t) (p - start)) ==
						0)
					used[i] = true;
		} else {
			p++;
		}
	}
}

/* The value expression of target column c over the temp table alias s. */
static void
append_expr(struct buf *out, const struct map_column *c, const char *source,
			const char *cast)
{
	switch (c->src) {
	case MAP_SRC_COLUMN:
		buf_append_str(out, "(s.");
		map_quote_ident(out, c->column);
		buf_append_char(out, ')');
		if (c->type)
			buf_appendf(out, "::%s", c->type);
		else if (cast)
			buf_appendf(out, "::%s", cast);
		break;
	case MAP_SRC_PATH: {
		struct buf path = BUF_INIT;

		buf_append_char(&path, '{');
		for (size_t i = 0; i < c->npath; i++) {
			if (i)
				buf_append_char(&path, ',');
			buf_append_char(&path, '"');
			for (const char *q = c->path[i]; *q; q++) {
				if (*q == '"' || *q == '\\')
					buf_append_char(&path, '\\');
				buf_append_char(&path, *q);
			}
			buf_append_char(&path, '"');
		}
		buf_append_char(&path, '}');
		buf_appendf(out, "(s.");
		map_quote_ident(out, c->column);
		buf_append_str(out, c->type ? " #>> " : " #> ");
		quote_literal(out, path.data);
		buf_append_char(out, ')');
		if (c->type)
			buf_appendf(out, "::%s", c->type);
		buf_free(&path);
		break;
	}
	case MAP_SRC_SQL:
		buf_appendf(out, "(%s)", c->sql);
		break;
	case MAP_SRC_META:
		switch (c->meta) {
		case MAP_META_LSN: buf_append_str(out, "s._lsn"); break;
		case MAP_META_XID: buf_append_str(out, "s._xid"); break;
		case MAP_META_COMMIT_TIME: buf_append_str(out, "s._ts"); break;
		case MAP_META_OP: buf_append_str(out, "s._sop::text"); break;
		case MAP_META_SOURCE: quote_literal(out, source); break;
		}
		break;
	}
}

/* The source columns target column c reads, marked in used[nsrc]. */
static void
column_reads(const struct map_column *c, const struct map_srccol *src,
			 size_t nsrc, bool *used)
{
	int i;

	if (c->src == MAP_SRC_COLUMN || c->src == MAP_SRC_PATH) {
		if ((i = src_index(src, nsrc, c->column)) >= 0)
			used[i] = true;
	} else if (c->src == MAP_SRC_SQL) {
		scan_sql_refs(c->sql, src, nsrc, used);
	}
}

/* Presence of target column i in a partial row: every source column it
 * reads is present. */
static void
append_presence(struct buf *out, const struct map_plan *p, size_t i)
{
	bool any = false;

	buf_append_char(out, '(');
	for (size_t k = 0; k < p->ntmp; k++) {
		if (!p->reads[i * p->ntmp + k])
			continue;
		buf_appendf(out, "%ss._present[%zu]", any ? " AND " : "", k + 1);
		any = true;
	}
	if (!any)
		buf_append_str(out, "true");
	buf_append_char(out, ')');
}

static const struct map_column *
find_target(const struct map_rule *r, const char *target)
{
	for (size_t i = 0; i < r->ncols; i++)
		if (strcmp(r->cols[i].target, target) == 0)
			return &r->cols[i];
	return NULL;
}

static bool
is_key(const struct map_plan *p, const char *target)
{
	for (size_t i = 0; i < p->nkey; i++)
		if (strcmp(p->key[i], target) == 0)
			return true;
	return false;
}

/* How a subquery over the temp table uses the mapping's where. */
enum where_use {
	WHERE_IGNORE,  /* every row (deletes: the old row was mapped) */
	WHERE_MATCHES, /* rows the where accepts */
	WHERE_FAILS,   /* rows it rejects (false or NULL): they leave */
};

/* What a subquery over the temp table selects. */
struct subq {
	const char *cond;	/* SQL condition on s._op/s._sop */
	bool presence;		/* "_pN" presence flags after each column */
	bool keys_only;		/* key columns only */
	const char *extra;	/* appended to the select list, or NULL */
	enum where_use where;
	bool ranged;		/* only _seq $1..$2 */
	const char *alias;	/* "m" if NULL */
};

/* (SELECT the mapped columns of the temp rows that sq says) alias. */
static void
append_subquery(struct buf *q, const struct map_rule *r,
				const struct map_plan *p, const char *source,
				const struct subq *sq)
{
	bool first = true;

	buf_append_str(q, "(SELECT ");
	for (size_t i = 0; i < r->ncols; i++) {
		const struct map_column *c = &r->cols[i];

		if (sq->keys_only && !is_key(p, c->target))
			continue;
		if (!first)
			buf_append_str(q, ", ");
		first = false;
		append_expr(q, c, source, p->casts ? p->casts[i] : NULL);
		buf_append_str(q, " AS ");
		map_quote_ident(q, c->target);
		if (sq->presence) {
			buf_append_str(q, ", ");
			append_presence(q, p, i);
			buf_appendf(q, " AS \"_p%zu\"", i);
		}
	}
	if (sq->extra)
		buf_append_str(q, sq->extra);
	buf_appendf(q, " FROM %s s WHERE %s", p->tmp_table, sq->cond);
	if (sq->ranged)
		buf_append_str(q, " AND s._seq BETWEEN $1 AND $2");
	if (sq->where == WHERE_MATCHES && r->where)
		buf_appendf(q, " AND (%s)", r->where);
	else if (sq->where == WHERE_FAILS && r->where)
		buf_appendf(q, " AND NOT coalesce((%s), false)", r->where);
	buf_appendf(q, ") %s", sq->alias ? sq->alias : "m");
}

static void
append_target_list(struct buf *q, const struct map_rule *r)
{
	buf_append_char(q, '(');
	for (size_t i = 0; i < r->ncols; i++) {
		if (i)
			buf_append_str(q, ", ");
		map_quote_ident(q, r->cols[i].target);
	}
	buf_append_char(q, ')');
}

/* lead (" WHERE ", " ON ") the row t has the key of row m. */
static void
append_key_match(struct buf *q, const struct map_plan *p, const char *t,
				 const char *m, const char *lead)
{
	for (size_t i = 0; i < p->nkey; i++) {
		buf_appendf(q, "%s%s.", i ? " AND " : lead, t);
		map_quote_ident(q, p->key[i]);
		buf_appendf(q, " = %s.", m);
		map_quote_ident(q, p->key[i]);
	}
}

/* ON CONFLICT (key) DO UPDATE SET every other column = EXCLUDED's (DO
 * NOTHING if there is none). */
static void
append_on_conflict(struct buf *q, const struct map_rule *r,
				   const struct map_plan *p)
{
	bool any_set = false;

	buf_append_str(q, " ON CONFLICT (");
	for (size_t i = 0; i < p->nkey; i++) {
		if (i)
			buf_append_str(q, ", ");
		map_quote_ident(q, p->key[i]);
	}
	buf_append_str(q, ") DO ");
	for (size_t i = 0; i < r->ncols; i++) {
		if (is_key(p, r->cols[i].target))
			continue;
		buf_append_str(q, any_set ? ", " : "UPDATE SET ");
		any_set = true;
		map_quote_ident(q, r->cols[i].target);
		buf_append_str(q, " = EXCLUDED.");
		map_quote_ident(q, r->cols[i].target);
	}
	if (!any_set)
		buf_append_str(q, "NOTHING");
}

/*
 * INSERT INTO the target the mapped columns of the temp rows matching
 * cond (and the mapping's where); upsert: ON CONFLICT on the key, setting
 * every other column (DO NOTHING if there is none).
 */
static char *
plan_insert(const struct map_rule *r, const struct map_plan *p,
			const char *source,
			const char *cond, bool upsert)
{
	struct buf q = BUF_INIT;

	buf_appendf(&q, "INSERT INTO %s %s", p->target, upsert ? "AS t " : "");
	append_target_list(&q, r);
	buf_append_str(&q, " SELECT m.* FROM ");
	append_subquery(&q, r, p, source,
					&(struct subq){.cond = cond, .where = WHERE_MATCHES,
								   .ranged = true});
	if (upsert)
		append_on_conflict(&q, r, p);
	return q.data;
}

/* Whether a statement of p (remove too: with_remove) names word: the
 * mapping's own SQL is in the statements, so this is conservative.
 * insert_new and upsert_old read what upsert reads. */
static bool
plan_mentions(const struct map_plan *p, const char *word, bool with_remove)
{
	const char *const st[] = {p->upsert, p->update_partial, p->append,
							  p->move, p->keyless_update,
							  with_remove ? p->remove : NULL,
							  with_remove ? p->unmatch : NULL};

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		if (st[i] && strstr(st[i], word))
			return true;
	return false;
}

/* Which tmp columns each target column and the where read. */
static void
plan_reads(struct map_plan *p, const struct map_rule *r,
		   const struct map_srccol *src, size_t nsrc)
{
	bool *used = wp_calloc(nsrc ? nsrc : 1, sizeof(bool));

	p->ncols = r->ncols;
	p->reads = wp_calloc(r->ncols * p->ntmp + 1, sizeof(bool));
	p->where_reads = wp_calloc(p->ntmp + 1, sizeof(bool));
	for (size_t i = 0; i < r->ncols; i++) {
		memset(used, 0, (nsrc ? nsrc : 1) * sizeof(bool));
		column_reads(&r->cols[i], src, nsrc, used);
		for (size_t k = 0; k < p->ntmp; k++)
			p->reads[i * p->ntmp + k] = used[p->tmp_src[k]];
	}
	if (r->where) {
		memset(used, 0, (nsrc ? nsrc : 1) * sizeof(bool));
		scan_sql_refs(r->where, src, nsrc, used);
		for (size_t k = 0; k < p->ntmp; k++)
			p->where_reads[k] = used[p->tmp_src[k]];
	}
	free(used);
}

/*
 * The target columns rows are matched on (map.h).  A delete carries the
 * replica identity columns only, so the mapping's key serves when each of
 * its columns reads identity columns and nothing else.  After ALTER TABLE
 * .. REPLICA IDENTITY it may not: then rows are matched on the target
 * columns the identity columns map to one to one, as PostgreSQL's apply
 * worker finds a row by the identity the change carries.
 */
static bool
plan_key(struct map_plan *p, const struct map_rule *r,
		 const struct map_srccol *src, size_t nsrc, char *errbuf,
		 size_t errlen)
{
	bool *used = wp_calloc(nsrc ? nsrc : 1, sizeof(bool));
	bool needed = r->mode == MAP_MODE_UPSERT ||
				  (r->mode != MAP_MODE_NONE && r->nkey > 0 &&
				   r->on_delete != MAP_DELETE_IGNORE);
	bool own = r->nkey > 0;
	struct buf ident = BUF_INIT;

	p->key = wp_calloc(r->nkey + nsrc + 1, sizeof(char *));
	for (size_t i = 0; i < r->nkey && own && needed; i++) {
		bool any = false;

		memset(used, 0, (nsrc ? nsrc : 1) * sizeof(bool));
		column_reads(find_target(r, r->key[i]), src, nsrc, used);
		for (size_t k = 0; k < nsrc; k++) {
			any |= used[k];
			own &= !used[k] || src[k].key;
		}
		own &= any;
	}
	free(used);
	if (own || !needed) {
		for (size_t i = 0; i < r->nkey; i++)
			p->key[i] = r->key[i];
		p->nkey = r->nkey;
		return true;
	}
	for (size_t k = 0; k < nsrc; k++) {
		const char *t = NULL;

		if (!src[k].key)
			continue;
		buf_appendf(&ident, "%s%s", ident.len ? ", " : "", src[k].name);
		for (size_t i = 0; i < r->ncols && t == NULL; i++)
			if (r->cols[i].src == MAP_SRC_COLUMN &&
				strcmp(r->cols[i].column, src[k].name) == 0)
				t = r->cols[i].target;
		if (t == NULL) {
			p->nkey = 0;
			break;
		}
		p->key[p->nkey++] = t;
	}
	if (p->nkey == 0) {
		char f[IDENT_QUALIFIED_MAX], to[IDENT_QUALIFIED_MAX];

		ident_qualified_to(f, sizeof(f), r->from_schema, r->from_table);
		ident_qualified_to(to, sizeof(to), r->to_schema, r->to_table);
		snprintf(errbuf, errlen,
				 "the key of mapping %s -> %s reads source columns "
				 "outside the replica identity (%s) of the source table, "
				 "and the identity columns are not all mapped, so deletes "
				 "and key changes could not find their target rows\nMap "
				 "each replica identity column to a target column, or "
				 "compute the key from them.",
				 f, to,
				 ident.data ? ident.data : "none");
		buf_free(&ident);
		return false;
	}
	buf_free(&ident);
	return true;
}

/* DELETE, or the soft-delete UPDATE, of the target rows with the keys of
 * the temp rows matching cond and where. */
static char *
plan_remove(const struct map_plan *p, const struct map_rule *r,
			const char *source,
			const char *cond, enum where_use where)
{
	struct buf q = BUF_INIT;

	if (r->on_delete == MAP_DELETE_DELETE) {
		buf_appendf(&q, "DELETE FROM %s t USING ", p->target);
	} else {
		buf_appendf(&q, "UPDATE %s t SET ", p->target);
		map_quote_ident(&q, r->soft_delete_column);
		buf_append_str(&q, " = m._ts FROM ");
	}
	append_subquery(&q, r, p, source,
					&(struct subq){.cond = cond, .keys_only = true,
								   .extra = ", s._ts", .where = where,
								   .ranged = true});
	append_key_match(&q, p, "t", "m", " WHERE ");
	return q.data;
}

/*
 * The statements of 'M' rows (map.h): a partial row whose key changed is
 * completed from the target row at its old key, which temp row _from
 * holds; k is that row's key, o the target row.  Both statements read the
 * target as the batch found it: move runs before any other statement.
 */
static void
plan_move(struct map_plan *p, const struct map_rule *r, const char *source,
		  struct buf *q)
{
	const struct subq origin = {.cond = "true", .keys_only = true,
								.extra = ", s._seq", .where = WHERE_IGNORE,
								.alias = "k"};

	buf_reset(q, 0);
	buf_appendf(q, "INSERT INTO %s AS t ", p->target);
	append_target_list(q, r);
	buf_append_str(q, " SELECT ");
	for (size_t i = 0; i < r->ncols; i++) {
		buf_appendf(q, "%sCASE WHEN m.\"_p%zu\" THEN m.", i ? ", " : "", i);
		map_quote_ident(q, r->cols[i].target);
		buf_append_str(q, " ELSE o.");
		map_quote_ident(q, r->cols[i].target);
		buf_append_str(q, " END");
	}
	buf_append_str(q, " FROM ");
	append_subquery(q, r, p, source,
					&(struct subq){.cond = "s._op = 'M'", .presence = true,
								   .extra = ", s._from",
								   .where = WHERE_MATCHES, .ranged = true});
	buf_append_str(q, " JOIN ");
	append_subquery(q, r, p, source, &origin);
	buf_appendf(q, " ON k._seq = m._from JOIN %s o", p->target);
	append_key_match(q, p, "o", "k", " ON ");
	append_on_conflict(q, r, p);
	p->move = wp_strdup(q->data);

	buf_reset(q, 0);
	buf_append_str(q, "SELECT m._seq FROM ");
	append_subquery(q, r, p, source,
					&(struct subq){.cond = "s._op = 'M'", .keys_only = true,
								   .extra = ", s._from, s._seq",
								   .where = WHERE_MATCHES, .ranged = true});
	buf_append_str(q, " JOIN ");
	append_subquery(q, r, p, source, &origin);
	buf_appendf(q, " ON k._seq = m._from WHERE NOT EXISTS (SELECT FROM %s o",
				p->target);
	append_key_match(q, p, "o", "k", " WHERE ");
	buf_append_str(q, ") ORDER BY 1");
	p->move_orphans = wp_strdup(q->data);
}

/*
 * lead the target row t equals the old row m (a temp row's mapped
 * columns) on every column a keyless mapping matches on: those computed
 * from the source row.  A column from change metadata ($lsn, $op, ...)
 * holds the change that wrote the row, which the old row cannot tell, so
 * it is not compared.  As PostgreSQL's apply worker does for REPLICA
 * IDENTITY FULL (tuples_equal), NULL equals NULL.  Values are compared as
 * text, the old row's first cast to the target column's type (ttypes[i],
 * when known): so json, xml, point and the other types without an
 * equality operator compare too, and a value the insert converted
 * (rounded to a numeric's scale, padded to a char(n), made a timestamptz)
 * compares as it was stored.  Returns how many columns it compared.
 */
static size_t
append_keyless_match(struct buf *q, const struct map_rule *r,
					 const char *const *ttypes, const char *t, const char *m,
					 const char *lead)
{
	size_t n = 0;

	for (size_t i = 0; i < r->ncols; i++) {
		if (r->cols[i].src == MAP_SRC_META)
			continue;
		buf_appendf(q, "%s%s.", n++ ? " AND " : lead, t);
		map_quote_ident(q, r->cols[i].target);
		buf_appendf(q, "::text IS NOT DISTINCT FROM (%s.", m);
		map_quote_ident(q, r->cols[i].target);
		buf_append_char(q, ')');
		if (ttypes && ttypes[i])
			buf_appendf(q, "::%s", ttypes[i]);
		buf_append_str(q, "::text");
	}
	return n;
}

/* The ctid of one target row equal to the temp row of cond in $1..$2. */
static void
append_keyless_ctid(struct buf *q, const struct map_rule *r,
					const struct map_plan *p, const char *source,
					const char *const *ttypes, const char *cond)
{
	buf_appendf(q, "t.ctid = (SELECT t2.ctid FROM %s t2, ", p->target);
	append_subquery(q, r, p, source,
					&(struct subq){.cond = cond, .where = WHERE_IGNORE,
								   .ranged = true});
	append_keyless_match(q, r, ttypes, "t2", "m", " WHERE ");
	buf_append_str(q, " LIMIT 1)");
}

/* keyless_update: each 'O' row's target row takes its 'W' row's values. */
static void
plan_keyless_update(struct map_plan *p, const struct map_rule *r,
					const char *source, const char *const *ttypes,
					struct buf *q)
{
	buf_reset(q, 0);
	buf_appendf(q, "UPDATE %s t SET ", p->target);
	for (size_t i = 0; i < r->ncols; i++) {
		if (i)
			buf_append_str(q, ", ");
		map_quote_ident(q, r->cols[i].target);
		buf_append_str(q, " = n.");
		map_quote_ident(q, r->cols[i].target);
	}
	buf_append_str(q, " FROM ");
	append_subquery(q, r, p, source,
					&(struct subq){.cond = "s._op = 'W'",
								   .where = WHERE_IGNORE, .ranged = true,
								   .alias = "n"});
	buf_append_str(q, " WHERE ");
	append_keyless_ctid(q, r, p, source, ttypes, "s._op = 'O'");
	p->keyless_update = wp_strdup(q->data);
}

/* The body of the function keyless_apply calls (see plan_keyless). */
static void
keyless_function_body(const struct map_plan *p, struct buf *f)
{
	buf_appendf(f,
				"#variable_conflict use_column\n"
				"DECLARE\n"
				"  _walpipe_hi CONSTANT bigint := $2;\n"
				"  _walpipe_at bigint := $1;\n"
				"  _walpipe_r record;\n"
				"BEGIN\n"
				"  FOR _walpipe_r IN SELECT s._seq, s._op FROM %s s WHERE "
				"s._seq BETWEEN $1 AND $2 AND s._op IN ('D', 'O') ORDER BY "
				"s._seq LOOP\n"
				"    $1 := _walpipe_at;\n"
				"    $2 := _walpipe_r._seq - 1;\n"
				"    IF $1 <= $2 THEN\n      %s;\n    END IF;\n"
				"    $1 := _walpipe_r._seq;\n"
				"    $2 := _walpipe_r._seq + 1;\n"
				"    IF _walpipe_r._op = 'D' THEN\n      %s;\n"
				"    ELSE\n      %s;\n    END IF;\n"
				"    IF NOT FOUND THEN\n"
				"      RETURN NEXT _walpipe_r._seq;\n"
				"    END IF;\n"
				"    _walpipe_at := _walpipe_r._seq + "
				"CASE WHEN _walpipe_r._op = 'O' THEN 2 ELSE 1 END;\n"
				"  END LOOP;\n"
				"  $1 := _walpipe_at;\n"
				"  $2 := _walpipe_hi;\n"
				"  IF $1 <= $2 THEN\n    %s;\n  END IF;\n"
				"END\n",
				p->tmp_table, p->append, p->keyless_delete, p->keyless_update,
				p->append);
}

/* The function of body, created after the temp table (create_tmp), and
 * keyless_apply, which calls it. */
static void
plan_keyless_function(struct map_plan *p, const char *tmp_name,
					  const char *body, struct buf *q)
{
	char tag[32] = "$walpipe$";
	struct buf fn = BUF_INIT;

	/* A dollar quote the mapping's own SQL cannot end early. */
	for (int k = 1; strstr(body, tag) != NULL; k++)
		snprintf(tag, sizeof(tag), "$walpipe%d$", k);
	/* The function, schema-qualified: pg_temp is never searched for
	 * functions. */
	buf_reset(q, 0);
	buf_appendf(q, "%s_apply", tmp_name);
	buf_reset(&fn, 0);
	buf_append_str(&fn, "pg_temp.");
	map_quote_ident(&fn, q->data);
	buf_reset(q, 0);
	buf_appendf(q, "SELECT s FROM %s($1::bigint, $2::bigint) s", fn.data);
	p->keyless_apply = wp_strdup(q->data);
	buf_reset(q, 0);
	buf_appendf(q,
				"%s; CREATE OR REPLACE FUNCTION %s(bigint, bigint) RETURNS "
				"SETOF bigint LANGUAGE plpgsql AS %s\n%s%s",
				p->create_tmp, fn.data, tag, body, tag);
	free(p->create_tmp);
	p->create_tmp = wp_strdup(q->data);
	buf_free(&fn);
}

/*
 * The statements of a keyless mapping (map.h): keyless_delete,
 * keyless_update, and the function keyless_apply calls, appended to
 * create_tmp.  The function walks the 'D' and 'O' rows of $1..$2 in _seq
 * order; before each it inserts the 'U' rows since the last one in one
 * statement, so a batch's changes land in stream order and a run of
 * inserts stays set-based.  The statements read their range from $1 and
 * $2, which the function sets before each: they are the same text check
 * --live plans, and PL/pgSQL keeps their plans for the session.  A range
 * that starts at a 'W' row (bisection split an update) skips it: its 'O'
 * row, in the range before, applied it.  Columns win over the function's
 * variables (use_column): the mapping's SQL names source columns.
 */
static bool
plan_keyless(struct map_plan *p, const struct map_rule *r, const char *source,
			 const char *tmp_name, const char *const *ttypes, struct buf *q,
			 char *errbuf, size_t errlen)
{
	struct buf f = BUF_INIT;

	buf_reset(q, 0);
	if (append_keyless_match(q, r, ttypes, "t", "m", "") == 0) {
		snprintf(errbuf, errlen,
				 "mapping %s.%s -> %s.%s in mode keyless maps no source "
				 "column, so it has nothing to find a row by\nMap at least "
				 "one source column.",
				 r->from_schema, r->from_table, r->to_schema, r->to_table);
		return false;
	}
	buf_reset(q, 0);
	buf_appendf(q, "DELETE FROM %s t WHERE ", p->target);
	append_keyless_ctid(q, r, p, source, ttypes, "s._op = 'D'");
	p->keyless_delete = wp_strdup(q->data);
	plan_keyless_update(p, r, source, ttypes, q);
	keyless_function_body(p, &f);
	plan_keyless_function(p, tmp_name, f.data, q);
	buf_free(&f);
	return true;
}

bool
map_plan_partial_ok(const struct map_plan *p, const bool *present,
					char *errbuf, size_t errlen)
{
	static const char hint[] =
		"\nREPLICA IDENTITY FULL on the source table makes updates carry it.";

	for (size_t k = 0; k < p->ntmp; k++)
		if (p->where_reads[k] && !present[k]) {
			snprintf(errbuf, errlen,
					 "the update left out column \"%s\" (an unchanged "
					 "TOASTed value), which the mapping's where reads, so "
					 "whether the row still matches is unknown%s",
					 p->tmp_cols[k], hint);
			return false;
		}
	for (size_t i = 0; i < p->ncols; i++) {
		const bool *rd = &p->reads[i * p->ntmp];
		const char *absent = NULL;
		bool some = false;

		for (size_t k = 0; k < p->ntmp; k++) {
			if (!rd[k])
				continue;
			if (present[k])
				some = true;
			else
				absent = p->tmp_cols[k];
		}
		if (some && absent) {
			snprintf(errbuf, errlen,
					 "the update left out column \"%s\" (an unchanged "
					 "TOASTed value), which target column \"%s\" is "
					 "computed from together with columns that changed%s",
					 absent, p->rule->cols[i].target, hint);
			return false;
		}
	}
	return true;
}

static struct map_plan *plan_build(struct map_plan *p,
								   const struct map_rule *r,
								   const struct map_srccol *src, size_t nsrc,
								   const char *source, const char *tmp_name,
								   const char *const *ttypes, char *errbuf,
								   size_t errlen);

struct map_plan *
map_plan_new(const struct map_rule *r, const struct map_srccol *src,
			 size_t nsrc, const char *source, const char *tmp_name,
			 char *errbuf, size_t errlen)
{
	return map_plan_new_cast(r, src, nsrc, source, tmp_name, NULL, errbuf,
							 errlen);
}

struct map_plan *
map_plan_new_cast(const struct map_rule *r, const struct map_srccol *src,
				  size_t nsrc, const char *source, const char *tmp_name,
				  const char *const *casts, char *errbuf, size_t errlen)
{
	return map_plan_new_typed(r, src, nsrc, source, tmp_name, casts, NULL,
							  errbuf, errlen);
}

struct map_plan *
map_plan_new_typed(const struct map_rule *r, const struct map_srccol *src,
				   size_t nsrc, const char *source, const char *tmp_name,
				   const char *const *casts, const char *const *ttypes,
				   char *errbuf, size_t errlen)
{
	struct map_plan *p = wp_calloc(1, sizeof(*p));

	p->ncols = r->ncols;
	if (casts) {
		p->casts = wp_calloc(r->ncols + 1, sizeof(char *));
		for (size_t i = 0; i < r->ncols; i++)
			p->casts[i] = casts[i] ? wp_strdup(casts[i]) : NULL;
	}
	return plan_build(p, r, src, nsrc, source, tmp_name, ttypes, errbuf,
					  errlen);
}

/*
 * Mark in used (one per source column) the source columns the rule
 * reads: mapped columns, those its SQL and where name, and the key.
 * False with errbuf set when a mapped or key column does not exist.
 */
static bool
plan_used_columns(const struct map_rule *r, const struct map_srccol *src,
				  size_t nsrc, bool *used, char *errbuf, size_t errlen)
{
	char f[IDENT_QUALIFIED_MAX], to[IDENT_QUALIFIED_MAX];
	int k;

	for (size_t i = 0; i < r->ncols; i++) {
		const struct map_column *c = &r->cols[i];

		if (c->src == MAP_SRC_COLUMN || c->src == MAP_SRC_PATH) {
			if ((k = src_index(src, nsrc, c->column)) < 0) {
				ident_qualified_to(f, sizeof(f), r->from_schema,
								   r->from_table);
				ident_qualified_to(to, sizeof(to), r->to_schema, r->to_table);
				snprintf(errbuf, errlen,
						 "column \"%s\" of mapping %s -> %s does not exist "
						 "in the source table",
						 c->column, f, to);
				return false;
			}
			used[k] = true;
		} else if (c->src == MAP_SRC_SQL) {
			scan_sql_refs(c->sql, src, nsrc, used);
		}
	}
	if (r->where)
		scan_sql_refs(r->where, src, nsrc, used);
	for (size_t i = 0; i < nsrc; i++)
		if (src[i].key)
			used[i] = true;
	for (size_t i = 0; i < r->nkey; i++)
		if (!find_target(r, r->key[i])) {
			ident_qualified_to(to, sizeof(to), r->to_schema, r->to_table);
			snprintf(errbuf, errlen,
					 "key column \"%s\" of mapping to %s is not mapped",
					 r->key[i], to);
			return false;
		}
	return true;
}

/*
 * The temp table's layout: the columns every temp row has, in order,
 * then the used source columns (tmp_cols), each of its source type.
 * create_tmp and copy spell it out; map_plan_tmp_insert too.
 */
#define TMP_META_COLUMNS "_seq, _op, _sop, _lsn, _xid, _ts, _present"

/* The temp and target tables' names, and the temp table's DDL and COPY. */
static void
plan_tmp_table(struct map_plan *p, const struct map_rule *r,
			   const struct map_srccol *src, const char *tmp_name,
			   struct buf *q)
{
	buf_reset(q, 0);
	buf_append_str(q, "pg_temp.");
	map_quote_ident(q, tmp_name);
	p->tmp_table = wp_strdup(q->data);
	buf_reset(q, 0);
	map_quote_ident(q, r->to_schema);
	buf_append_char(q, '.');
	map_quote_ident(q, r->to_table);
	p->target = wp_strdup(q->data);

	buf_reset(q, 0);
	buf_appendf(q,
				"CREATE TEMP TABLE IF NOT EXISTS %s (_seq bigint, _op "
				"\"char\", _sop \"char\", _lsn pg_lsn, _xid bigint, _ts "
				"timestamptz, _present boolean[], _from bigint",
				p->tmp_table);
	for (size_t k = 0; k < p->ntmp; k++) {
		buf_append_str(q, ", ");
		map_quote_ident(q, p->tmp_cols[k]);
		buf_appendf(q, " %s", src[p->tmp_src[k]].type);
	}
	/* Rows stay inline up to a page: a wide row is not compressed and
	 * moved out of line here only to be read back at once; the target
	 * table TOASTs it once, as a native apply would.  No ON COMMIT
	 * DELETE ROWS: the sink empties the table before each COPY into it
	 * (sink_facts.c: copy_rows says why). */
	buf_append_str(q, ") WITH (toast_tuple_target = 8160)");
	p->create_tmp = wp_strdup(q->data);

	buf_reset(q, 0);
	buf_appendf(q, "COPY %s (" TMP_META_COLUMNS ", _from", p->tmp_table);
	for (size_t k = 0; k < p->ntmp; k++) {
		buf_append_str(q, ", ");
		map_quote_ident(q, p->tmp_cols[k]);
	}
	buf_append_str(q, ") FROM STDIN");
	p->copy = wp_strdup(q->data);
}

/* An upsert's statements: insert_new, upsert, upsert_old, update_partial
 * and the moves. */
static void
plan_upsert(struct map_plan *p, const struct map_rule *r, const char *source,
			struct buf *q)
{
	bool any_set = false;

	/* 'N' rows: keys whose first change in the batch is an insert.  They
	 * go in by a plain INSERT, half the cost of a speculative one, unless
	 * that meets a row of the same key (see map.h). */
	p->insert_new = plan_insert(r, p, source, "s._op = 'N'", false);
	p->upsert = plan_insert(r, p, source, "s._op IN ('U', 'N')", true);
	p->upsert_old = plan_insert(r, p, source, "s._op = 'U'", true);

	buf_reset(q, 0);
	buf_appendf(q, "UPDATE %s t SET ", p->target);
	for (size_t i = 0; i < r->ncols; i++) {
		const char *tc = r->cols[i].target;

		if (is_key(p, tc))
			continue;
		if (any_set)
			buf_append_str(q, ", ");
		any_set = true;
		map_quote_ident(q, tc);
		buf_appendf(q, " = CASE WHEN m.\"_p%zu\" THEN m.", i);
		map_quote_ident(q, tc);
		buf_append_str(q, " ELSE t.");
		map_quote_ident(q, tc);
		buf_append_str(q, " END");
	}
	buf_append_str(q, " FROM ");
	append_subquery(q, r, p, source,
					&(struct subq){.cond = "s._op = 'P'", .presence = true,
								   .where = WHERE_MATCHES, .ranged = true});
	append_key_match(q, p, "t", "m", " WHERE ");
	p->update_partial = any_set ? wp_strdup(q->data) : NULL;
	plan_move(p, r, source, q);
}

/* The statements that take rows out: remove, unmatch, partial_orphans,
 * truncate. */
static void
plan_removals(struct map_plan *p, const struct map_rule *r,
			  const char *source, struct buf *q)
{
	if (r->mode != MAP_MODE_NONE && r->nkey > 0 &&
		r->on_delete != MAP_DELETE_IGNORE) {
		/* A soft delete also marks rows inserted or updated earlier in
		 * the batch (the upsert has just written them): the row must
		 * stay, with its last values, deleted. */
		p->soft_delete = r->on_delete == MAP_DELETE_SOFT;
		p->remove = plan_remove(p, r, source,
								p->soft_delete ? "(s._op = 'D' OR s._sop = 'D')"
											   : "s._op = 'D'",
								WHERE_IGNORE);
		/* A row that stops matching the where leaves the target as a
		 * deleted one does (PostgreSQL's row filters turn such an update
		 * into a delete); its _sop stays what it was. */
		if (r->mode == MAP_MODE_UPSERT && r->where)
			p->unmatch = plan_remove(p, r, source,
									 "s._op IN ('U', 'P', 'M')", WHERE_FAILS);
	}
	if (r->mode == MAP_MODE_UPSERT && r->where) {
		/* A partial row that starts to match has no target row to
		 * complete it: those are found (and dead-lettered) first. */
		buf_reset(q, 0);
		buf_append_str(q, "SELECT m._seq FROM ");
		append_subquery(q, r, p, source,
						&(struct subq){.cond = "s._op = 'P'", .keys_only = true,
									   .extra = ", s._seq",
									   .where = WHERE_MATCHES, .ranged = true});
		buf_appendf(q, " WHERE NOT EXISTS (SELECT FROM %s t", p->target);
		append_key_match(q, p, "t", "m", " WHERE ");
		buf_append_str(q, ") ORDER BY 1");
		p->partial_orphans = wp_strdup(q->data);
	}
	if (r->mode != MAP_MODE_NONE && r->on_truncate == MAP_TRUNCATE_TRUNCATE) {
		buf_reset(q, 0);
		buf_appendf(q, "TRUNCATE %s", p->target);
		p->truncate = wp_strdup(q->data);
	}
}

/* The body of map_plan_new_typed: p has its casts. */
static struct map_plan *
plan_build(struct map_plan *p, const struct map_rule *r,
		   const struct map_srccol *src, size_t nsrc, const char *source,
		   const char *tmp_name, const char *const *ttypes, char *errbuf,
		   size_t errlen)
{
	bool *used = wp_calloc(nsrc ? nsrc : 1, sizeof(bool));
	struct buf q = BUF_INIT;

	if (!plan_used_columns(r, src, nsrc, used, errbuf, errlen))
		goto fail;
	p->rule = r;
	p->tmp_cols = wp_calloc(nsrc ? nsrc : 1, sizeof(char *));
	p->tmp_src = wp_calloc(nsrc ? nsrc : 1, sizeof(size_t));
	for (size_t i = 0; i < nsrc; i++)
		if (used[i]) {
			p->tmp_src[p->ntmp] = i;
			p->tmp_cols[p->ntmp++] = src[i].name;
		}
	plan_reads(p, r, src, nsrc);
	if (!plan_key(p, r, src, nsrc, errbuf, errlen))
		goto fail;
	plan_tmp_table(p, r, src, tmp_name, &q);
	if (r->mode == MAP_MODE_UPSERT) {
		plan_upsert(p, r, source, &q);
	} else if (r->mode == MAP_MODE_APPEND) {
		p->append = plan_insert(r, p, source, "s._op IN ('U', 'P')", false);
	} else if (r->mode == MAP_MODE_KEYLESS) {
		p->append = plan_insert(r, p, source, "s._op = 'U'", false);
		if (!plan_keyless(p, r, source, tmp_name, ttypes, &q, errbuf,
						  errlen))
			goto fail;
	}
	plan_removals(p, r, source, &q);
	/* A hard delete's key list carries s._ts along unread; a soft delete
	 * writes it, also on rows the upsert just wrote. */
	p->copy_lsn = plan_mentions(p, "_lsn", true);
	p->copy_xid = plan_mentions(p, "_xid", true);
	p->copy_ts = p->soft_delete || plan_mentions(p, "_ts", false);
	buf_free(&q);
	free(used);
	return p;

fail:
	buf_free(&q);
	free(used);
	map_plan_free(p);
	return NULL;
}

char *
map_plan_tmp_insert(const struct map_plan *p)
{
	struct buf q = BUF_INIT;

	buf_appendf(&q, "INSERT INTO %s (" TMP_META_COLUMNS, p->tmp_table);
	for (size_t k = 0; k < p->ntmp; k++) {
		buf_append_str(&q, ", ");
		map_quote_ident(&q, p->tmp_cols[k]);
	}
	buf_append_str(&q, ") VALUES (1, $1, $2, $3, $4, $5, $6");
	for (size_t k = 0; k < p->ntmp; k++)
		buf_appendf(&q, ", $%zu", k + 7);
	buf_append_char(&q, ')');
	return q.data;
}

bool
map_plan_tmp_is_bytea(const struct map_plan *p, const struct map_srccol *src,
					  size_t k)
{
	return strcmp(src[p->tmp_src[k]].type, "bytea") == 0;
}

int
map_plan_tmp_index(const struct map_plan *p, const char *column)
{
	for (size_t k = 0; k < p->ntmp; k++)
		if (strcmp(p->tmp_cols[k], column) == 0)
			return (int) k;
	return -1;
}

void
map_plan_copy_new(struct map_plan *p, const struct map_srccol *src,
				  const char *const *tbase)
{
	const struct map_rule *r = p->rule;
	size_t *tmp;
	struct buf q = BUF_INIT;

	if (p->insert_new == NULL || tbase == NULL || r->where || p->soft_delete)
		return;
	tmp = wp_calloc(r->ncols ? r->ncols : 1, sizeof(size_t));
	for (size_t i = 0; i < r->ncols; i++) {
		const struct map_column *c = &r->cols[i];
		int k = c->src == MAP_SRC_COLUMN ? map_plan_tmp_index(p, c->column)
										 : -1;

		if (k < 0 || c->type || (p->casts && p->casts[i]) ||
			tbase[i] == NULL || strcmp(tbase[i], src[p->tmp_src[k]].type)) {
			free(tmp);
			return;
		}
		tmp[i] = (size_t) k;
	}
	buf_appendf(&q, "COPY %s ", p->target);
	append_target_list(&q, r);
	buf_append_str(&q, " FROM STDIN");
	free(p->copy_new);
	free(p->copy_new_tmp);
	p->copy_new = q.data;
	p->copy_new_tmp = tmp;
}

const char *
map_plan_absent_column(const struct map_plan *p, const struct w2j_column *cols,
					   size_t n)
{
	for (size_t k = 0; k < p->ntmp; k++) {
		size_t hint = p->tmp_src[k]; /* its place in an unchanged table */
		bool found = hint < n && strcmp(cols[hint].name, p->tmp_cols[k]) == 0;

		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(cols[i].name, p->tmp_cols[k]) == 0;
		if (!found)
			return p->tmp_cols[k];
	}
	return NULL;
}

const char *
map_unknown_column(const struct map_srccol *srccols, size_t nsrc,
				   const struct w2j_column *cols, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* Columns usually come in catalog order: try its place first. */
		bool found = i < nsrc && strcmp(srccols[i].name, cols[i].name) == 0;

		for (size_t k = 0; k < nsrc && !found; k++)
			found = strcmp(srccols[k].name, cols[i].name) == 0;
		if (!found)
			return cols[i].name;
	}
	return NULL;
}

void
map_plan_free(struct map_plan *p)
{
	if (p == NULL)
		return;
	free(p->tmp_table);
	free(p->tmp_cols);
	free(p->tmp_src);
	free(p->create_tmp);
	free(p->copy);
	free(p->upsert);
	free(p->insert_new);
	free(p->copy_new);
	free(p->copy_new_tmp);
	free(p->upsert_old);
	free(p->update_partial);
	free(p->move);
	free(p->move_orphans);
	free(p->partial_orphans);
	free(p->unmatch);
	free(p->key);
	free(p->reads);
	free(p->where_reads);
	for (size_t i = 0; p->casts && i < p->ncols; i++)
		free(p->casts[i]);
	free(p->casts);
	free(p->append);
	free(p->keyless_delete);
	free(p->keyless_update);
	free(p->keyless_apply);
	free(p->remove);
	free(p->truncate);
	free(p->target);
	free(p);
}

/*
 * wal2json writes these types' values as JSON numbers or booleans, and
 * every other value as a string: arrays ("numeric[]") and composites too.
 * So only exact names count; to_json of an array would make a JSON array,
 * which no wal2json change carries.  The catalog gives numeric without its
 * modifier (catalog.h); a modifier is allowed all the same.
 */
static bool
unquoted_type(const char *type)
{
	static const char *const t[] = {"smallint", "integer", "bigint", "real",
									"double precision", "oid", "boolean",
									"numeric"};
	size_t len = strlen(type);

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(type, t[i]) == 0)
			return true;
	return strncmp(type, "numeric(", 8) == 0 && type[len - 1] == ')';
}

/* The SELECT list's first item: one wal2json-shaped insert message per
 * row, values in the server's output text as wal2json sends them. */
static void
append_row_json(struct buf *q, const char *schema, const char *table,
				const struct map_srccol *cols, size_t n, const char *lsn_text)
{
	buf_append_str(q, "json_build_object('action', 'I', 'lsn', ");
	quote_literal(q, lsn_text);
	buf_append_str(q, ", 'schema', ");
	quote_literal(q, schema);
	buf_append_str(q, ", 'table', ");
	quote_literal(q, table);
	/* ARRAY[] rather than json_build_array: no 100-argument limit. */
	buf_append_str(q, ", 'columns', array_to_json(ARRAY[");
	for (size_t i = 0; i < n; i++) {
		buf_append_str(q, i ? ", json_build_object('name', "
							: "json_build_object('name', ");
		quote_literal(q, cols[i].name);
		buf_append_str(q, ", 'value', to_json(");
		if (strcmp(cols[i].type, "bytea") == 0) {
			buf_append_str(q, "encode(");
			map_quote_ident(q, cols[i].name);
			buf_append_str(q, ", 'hex')");
		} else {
			map_quote_ident(q, cols[i].name);
			if (!unquoted_type(cols[i].type))
				buf_append_str(q, "::text");
		}
		buf_append_str(q, "))");
	}
	buf_append_str(q, "]::json[]))");
}

static void
append_from(struct buf *q, const char *schema, const char *table,
			bool partitioned)
{
	buf_append_str(q, partitioned ? " FROM " : " FROM ONLY ");
	map_quote_ident(q, schema);
	buf_append_char(q, '.');
	map_quote_ident(q, table);
}

char *
map_snapshot_query(const char *schema, const char *table, bool partitioned,
				   const struct map_srccol *cols, size_t n,
				   const char *lsn_text)
{
	struct buf q = BUF_INIT;

	buf_append_str(&q, "COPY (SELECT ");
	append_row_json(&q, schema, table, cols, n, lsn_text);
	append_from(&q, schema, table, partitioned);
	buf_append_str(&q, ") TO STDOUT");
	return q.data;
}

/* "(k1, k2)" of keys[0..nkeys), each quoted; collate: with COLLATE "C". */
static void
append_key_row(struct buf *q, const char *prefix, const struct map_key *keys,
			   size_t nkeys, const char *const *names)
{
	buf_append_char(q, '(');
	for (size_t i = 0; i < nkeys; i++) {
		if (i)
			buf_append_str(q, ", ");
		buf_append_str(q, prefix);
		map_quote_ident(q, names ? names[i] : keys[i].name);
		if (names)
			buf_appendf(q, "::%s", keys[i].type);
		if (keys[i].collate_c)
			buf_append_str(q, " COLLATE \"C\"");
	}
	buf_append_char(q, ')');
}

/* "($1::t1, $2::t2)" from parameter first on, or literals from values. */
static void
append_key_values(struct buf *q, const struct map_key *keys, size_t nkeys,
				  int first, const char *const *values)
{
	buf_append_char(q, '(');
	for (size_t i = 0; i < nkeys; i++) {
		if (i)
			buf_append_str(q, ", ");
		if (values)
			quote_literal(q, values[i]);
		else
			buf_appendf(q, "$%d", first + (int) i);
		buf_appendf(q, "::%s", keys[i].type);
		if (keys[i].collate_c)
			buf_append_str(q, " COLLATE \"C\"");
	}
	buf_append_char(q, ')');
}

char *
map_chunk_query(const char *schema, const char *table, bool partitioned,
				const struct map_srccol *cols, size_t n,
				const struct map_key *keys, size_t nkeys, bool after,
				size_t limit, const char *lsn_text)
{
	struct buf q = BUF_INIT;

	buf_append_str(&q, "SELECT ");
	append_row_json(&q, schema, table, cols, n, lsn_text);
	/* Aliased: ORDER BY a bare name would pick the output column of that
	 * name, the key as text, and order by its text. */
	for (size_t i = 0; i < nkeys; i++) {
		buf_append_str(&q, ", ");
		map_quote_ident(&q, keys[i].name);
		buf_appendf(&q, "::text AS _walpipe_key%zu", i + 1);
	}
	append_from(&q, schema, table, partitioned);
	if (after) {
		buf_append_str(&q, " WHERE ");
		append_key_row(&q, "", keys, nkeys, NULL);
		buf_append_str(&q, " > ");
		append_key_values(&q, keys, nkeys, 1, NULL);
	}
	buf_append_str(&q, " ORDER BY ");
	for (size_t i = 0; i < nkeys; i++) {
		if (i)
			buf_append_str(&q, ", ");
		map_quote_ident(&q, keys[i].name);
		if (keys[i].collate_c)
			buf_append_str(&q, " COLLATE \"C\"");
	}
	buf_appendf(&q, " LIMIT %zu", limit);
	return q.data;
}

/* The target column that source key column key is copied into unchanged
 * but for a cast, among p's match columns; NULL if none. */
static const char *
sweep_target_of(const struct map_plan *p, const struct map_rule *r,
				const char *key)
{
	for (size_t i = 0; i < r->ncols; i++) {
		const struct map_column *c = &r->cols[i];

		if (c->src == MAP_SRC_COLUMN && strcmp(c->column, key) == 0 &&
			is_key(p, c->target))
			return c->target;
	}
	return NULL;
}

/* Key types whose order is the same on every server (no collation, no
 * user-defined operators): what a range of them means on the source, it
 * means in analytics. */
static bool
sweep_type_ok(const struct map_key *k)
{
	static const char *const ok[] = {
		"smallint", "integer", "bigint", "numeric", "real", "double precision",
		"uuid", "date", "timestamp", "time", "boolean", "bytea", "oid",
		"text", "character varying", "character"};
	size_t len = strcspn(k->type, "(");

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strlen(ok[i]) <= len && strncmp(k->type, ok[i], strlen(ok[i])) == 0 &&
			(strncmp(ok[i], "text", 4) != 0 && strncmp(ok[i], "char", 4) != 0
				 ? true
				 : k->collate_c))
			return true;
	return false;
}

bool
map_sweep_possible(const struct map_plan *p, const struct map_rule *r,
				   const struct map_key *keys, size_t nkeys, char *why,
				   size_t whylen)
{
	if (r->mode != MAP_MODE_UPSERT) {
		snprintf(why, whylen, "only upsert mappings remove rows");
		return false;
	}
	if (r->on_delete == MAP_DELETE_IGNORE) {
		snprintf(why, whylen, "the mapping keeps deleted rows (on_delete: "
							  "ignore)");
		return false;
	}
	if (p->nkey != nkeys) {
		snprintf(why, whylen,
				 "the target's key has %zu column(s) and the source's %zu",
				 p->nkey, nkeys);
		return false;
	}
	for (size_t i = 0; i < nkeys; i++) {
		if (sweep_target_of(p, r, keys[i].name) == NULL) {
			snprintf(why, whylen,
					 "source key column \"%s\" is not copied into a key "
					 "column of the target",
					 keys[i].name);
			return false;
		}
		if (!sweep_type_ok(&keys[i])) {
			snprintf(why, whylen,
					 "source key column \"%s\" is of type %s, whose order "
					 "may differ between the source and analytics",
					 keys[i].name, keys[i].type);
			return false;
		}
	}
	return true;
}

char *
map_sweep_sql(const struct map_plan *p, const struct map_rule *r,
			  const char *source, const struct map_key *keys, size_t nkeys,
			  const char *const *lo, const char *const *hi)
{
	struct buf q = BUF_INIT;
	const char **tcols = wp_calloc(nkeys ? nkeys : 1, sizeof(char *));

	for (size_t i = 0; i < nkeys; i++)
		tcols[i] = sweep_target_of(p, r, keys[i].name);
	if (r->on_delete == MAP_DELETE_DELETE) {
		buf_appendf(&q, "DELETE FROM %s t WHERE ", p->target);
	} else {
		buf_appendf(&q, "UPDATE %s t SET ", p->target);
		map_quote_ident(&q, r->soft_delete_column);
		buf_append_str(&q, " = pg_catalog.now() WHERE t.");
		map_quote_ident(&q, r->soft_delete_column);
		buf_append_str(&q, " IS NULL AND ");
	}
	if (lo) {
		append_key_row(&q, "t.", keys, nkeys, tcols);
		buf_append_str(&q, " > ");
		append_key_values(&q, keys, nkeys, 0, lo);
		buf_append_str(&q, " AND ");
	}
	if (hi) {
		append_key_row(&q, "t.", keys, nkeys, tcols);
		buf_append_str(&q, " <= ");
		append_key_values(&q, keys, nkeys, 0, hi);
		buf_append_str(&q, " AND ");
	}
	buf_append_str(&q, "NOT EXISTS (SELECT FROM ");
	append_subquery(&q, r, p, source,
					&(struct subq){.cond = "s._op IN ('U', 'N')",
								   .keys_only = true, .where = WHERE_MATCHES});
	append_key_match(&q, p, "t", "m", " WHERE ");
	buf_append_char(&q, ')');
	free(tcols);
	return q.data;
}

size_t
map_snapshot_unescape(char *line, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len; i++) {
		char c = line[i];

		if (c == '\\' && i + 1 < len) {
			char e = line[++i];

			switch (e) {
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'v': c = '\v'; break;
			default:
				if (e >= '0' && e <= '7') {
					int v = e - '0';

					for (int k = 0; k < 2 && i + 1 < len &&
									line[i + 1] >= '0' && line[i + 1] <= '7';
						 k++)
						v = v * 8 + (line[++i] - '0');
					c = (char) v;
				} else {
					c = e; /* \\ and any other escaped byte */
				}
			}
		}
		line[out++] = c;
	}
	return out;
}

/* ---- the rule in words, for walpipe plan ---- */

static const char *const mode_words[] = {"upsert", "append", "keyless",
										 "none"};
static const char *const meta_words[] = {"$lsn", "$xid", "$commit_time",
										 "$op", "$source"};
static const char *const truncate_words[] = {"truncate", "ignore", "fail"};

static void
describe_column(struct buf *b, const struct map_column *c)
{
	buf_append_str(b, "column ");
	ident_append(b, c->target);
	buf_append_str(b, " = ");
	switch (c->src) {
	case MAP_SRC_COLUMN:
	case MAP_SRC_PATH:
		ident_append(b, c->column);
		for (size_t k = 0; k < c->npath; k++)
			buf_appendf(b, ".%s", c->path[k]);
		break;
	case MAP_SRC_SQL: buf_appendf(b, "sql: %s", c->sql); break;
	case MAP_SRC_META: buf_append_str(b, meta_words[c->meta]); break;
	}
	if (c->type)
		buf_appendf(b, "::%s", c->type);
	buf_append_char(b, '\n');
}

void
map_rule_describe(struct buf *b, const struct map_rule *r)
{
	buf_appendf(b, "mode %s\n", mode_words[r->mode]);
	if (r->nkey) {
		buf_append_str(b, "key");
		for (size_t k = 0; k < r->nkey; k++) {
			buf_append_str(b, k ? ", " : " ");
			ident_append(b, r->key[k]);
		}
		buf_append_char(b, '\n');
	}
	for (size_t i = 0; i < r->ncols; i++)
		describe_column(b, &r->cols[i]);
	if (r->where)
		buf_appendf(b, "where %s\n", r->where);
	if (r->on_delete == MAP_DELETE_SOFT) {
		buf_append_str(b, "on_delete soft_delete ");
		ident_append(b, r->soft_delete_column);
		buf_append_char(b, '\n');
	} else
		buf_appendf(b, "on_delete %s\n",
					r->on_delete == MAP_DELETE_IGNORE ? "ignore" : "delete");
	buf_appendf(b, "on_truncate %s\n", truncate_words[r->on_truncate]);
}

void
map_rule_tables(const struct map_rule *r, char *from, char *to, size_t len)
{
	ident_qualified_to(from, len, r->from_schema, r->from_table);
	to[0] = '\0';
	if (r->to_schema)
		ident_qualified_to(to, len, r->to_schema, r->to_table);
}
