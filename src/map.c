/* map.c: mapping rules compiled into the set-based SQL that applies a batch. */
#include "walpipe/map.h"

#include "walpipe/buf.h"
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
append_expr(struct buf *out, const struct map_column *c, const char *source)
{
	switch (c->src) {
	case MAP_SRC_COLUMN:
		buf_append_str(out, "(s.");
		map_quote_ident(out, c->column);
		buf_append_char(out, ')');
		if (c->type)
			buf_appendf(out, "::%s", c->type);
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

/* Presence of target column c in a partial row: every source column it
 * reads is present. */
static void
append_presence(struct buf *out, const struct map_column *c,
				const struct map_plan *p, const struct map_srccol *src,
				size_t nsrc)
{
	bool *used = wp_calloc(nsrc, sizeof(bool));
	bool any = false;
	int i;

	if (c->src == MAP_SRC_COLUMN || c->src == MAP_SRC_PATH) {
		if ((i = src_index(src, nsrc, c->column)) >= 0)
			used[i] = true;
	} else if (c->src == MAP_SRC_SQL) {
		scan_sql_refs(c->sql, src, nsrc, used);
	}
	buf_append_char(out, '(');
	for (size_t k = 0; k < p->ntmp; k++) {
		if (!used[p->tmp_src[k]])
			continue;
		buf_appendf(out, "%ss._present[%zu]", any ? " AND " : "", k + 1);
		any = true;
	}
	if (!any)
		buf_append_str(out, "true");
	buf_append_char(out, ')');
	free(used);
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
is_key(const struct map_rule *r, const char *target)
{
	for (size_t i = 0; i < r->nkey; i++)
		if (strcmp(r->key[i], target) == 0)
			return true;
	return false;
}

/* SELECT of mapped columns (and presence flags if partial) for ops. */
static void
append_subquery(struct buf *q, const struct map_rule *r,
				const struct map_plan *p, const struct map_srccol *src,
				size_t nsrc, const char *source, const char *cond,
				bool presence, bool keys_only, bool with_where)
{
	bool first = true;

	buf_append_str(q, "(SELECT ");
	for (size_t i = 0; i < r->ncols; i++) {
		const struct map_column *c = &r->cols[i];

		if (keys_only && !is_key(r, c->target))
			continue;
		if (!first)
			buf_append_str(q, ", ");
		first = false;
		append_expr(q, c, source);
		buf_append_str(q, " AS ");
		map_quote_ident(q, c->target);
		if (presence) {
			buf_append_str(q, ", ");
			append_presence(q, c, p, src, nsrc);
			buf_appendf(q, " AS \"_p%zu\"", i);
		}
	}
	if (keys_only)
		buf_append_str(q, ", s._ts");
	buf_appendf(q, " FROM %s s WHERE %s AND s._seq BETWEEN $1 AND $2",
				p->tmp_table, cond);
	if (with_where && r->where)
		buf_appendf(q, " AND (%s)", r->where);
	buf_append_str(q, ") m");
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

static void
append_key_match(struct buf *q, const struct map_rule *r)
{
	for (size_t i = 0; i < r->nkey; i++) {
		buf_append_str(q, i ? " AND t." : " WHERE t.");
		map_quote_ident(q, r->key[i]);
		buf_append_str(q, " = m.");
		map_quote_ident(q, r->key[i]);
	}
}

/*
 * INSERT INTO the target the mapped columns of the temp rows matching
 * cond (and the mapping's where); upsert: ON CONFLICT on the key, setting
 * every other column (DO NOTHING if there is none).
 */
static char *
plan_insert(const struct map_rule *r, const struct map_plan *p,
			const struct map_srccol *src, size_t nsrc, const char *source,
			const char *cond, bool upsert)
{
	struct buf q = BUF_INIT;
	bool any_set = false;

	buf_appendf(&q, "INSERT INTO %s %s", p->target, upsert ? "AS t " : "");
	append_target_list(&q, r);
	buf_append_str(&q, " SELECT m.* FROM ");
	append_subquery(&q, r, p, src, nsrc, source, cond, false, false, true);
	if (upsert) {
		buf_append_str(&q, " ON CONFLICT (");
		for (size_t i = 0; i < r->nkey; i++) {
			if (i)
				buf_append_str(&q, ", ");
			map_quote_ident(&q, r->key[i]);
		}
		buf_append_str(&q, ") DO ");
		for (size_t i = 0; i < r->ncols; i++) {
			if (is_key(r, r->cols[i].target))
				continue;
			buf_append_str(&q, any_set ? ", " : "UPDATE SET ");
			any_set = true;
			map_quote_ident(&q, r->cols[i].target);
			buf_append_str(&q, " = EXCLUDED.");
			map_quote_ident(&q, r->cols[i].target);
		}
		if (!any_set)
			buf_append_str(&q, "NOTHING");
	}
	return q.data;
}

/* Whether a statement of p (remove too: with_remove) names word: the
 * mapping's own SQL is in the statements, so this is conservative.
 * insert_new and upsert_old read what upsert reads. */
static bool
plan_mentions(const struct map_plan *p, const char *word, bool with_remove)
{
	const char *const st[] = {p->upsert, p->update_partial, p->append,
							  with_remove ? p->remove : NULL};

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		if (st[i] && strstr(st[i], word))
			return true;
	return false;
}

struct map_plan *
map_plan_new(const struct map_rule *r, const struct map_srccol *src,
			 size_t nsrc, const char *source, const char *tmp_name,
			 char *errbuf, size_t errlen)
{
	struct map_plan *p = wp_calloc(1, sizeof(*p));
	bool *used = wp_calloc(nsrc ? nsrc : 1, sizeof(bool));
	struct buf q = BUF_INIT;

	for (size_t i = 0; i < r->ncols; i++) {
		const struct map_column *c = &r->cols[i];
		int k;

		if (c->src == MAP_SRC_COLUMN || c->src == MAP_SRC_PATH) {
			if ((k = src_index(src, nsrc, c->column)) < 0) {
				snprintf(errbuf, errlen,
						 "column \"%s\" of mapping %s.%s -> %s.%s does not "
						 "exist in the source table",
						 c->column, r->from_schema, r->from_table,
						 r->to_schema, r->to_table);
				goto fail;
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
			snprintf(errbuf, errlen,
					 "key column \"%s\" of mapping to %s.%s is not mapped",
					 r->key[i], r->to_schema, r->to_table);
			goto fail;
		}

	p->tmp_cols = wp_calloc(nsrc ? nsrc : 1, sizeof(char *));
	p->tmp_src = wp_calloc(nsrc ? nsrc : 1, sizeof(size_t));
	for (size_t i = 0; i < nsrc; i++)
		if (used[i]) {
			p->tmp_src[p->ntmp] = i;
			p->tmp_cols[p->ntmp++] = src[i].name;
		}

	buf_append_str(&q, "pg_temp.");
	map_quote_ident(&q, tmp_name);
	p->tmp_table = wp_strdup(q.data);
	buf_reset(&q, 0);
	map_quote_ident(&q, r->to_schema);
	buf_append_char(&q, '.');
	map_quote_ident(&q, r->to_table);
	p->target = wp_strdup(q.data);

	buf_reset(&q, 0);
	buf_appendf(&q,
				"CREATE TEMP TABLE IF NOT EXISTS %s (_seq bigint, _op "
				"\"char\", _sop \"char\", _lsn pg_lsn, _xid bigint, _ts "
				"timestamptz, _present boolean[]",
				p->tmp_table);
	for (size_t k = 0; k < p->ntmp; k++) {
		buf_append_str(&q, ", ");
		map_quote_ident(&q, p->tmp_cols[k]);
		buf_appendf(&q, " %s", src[p->tmp_src[k]].type);
	}
	/* Rows stay inline up to a page: a wide row is not compressed and
	 * moved out of line here only to be read back at once; the target
	 * table TOASTs it once, as a native apply would. */
	buf_append_str(&q, ") WITH (toast_tuple_target = 8160) ON COMMIT DELETE "
					   "ROWS");
	p->create_tmp = wp_strdup(q.data);

	buf_reset(&q, 0);
	buf_appendf(&q, "COPY %s (_seq, _op, _sop, _lsn, _xid, _ts, _present",
				p->tmp_table);
	for (size_t k = 0; k < p->ntmp; k++) {
		buf_append_str(&q, ", ");
		map_quote_ident(&q, p->tmp_cols[k]);
	}
	buf_append_str(&q, ") FROM STDIN");
	p->copy = wp_strdup(q.data);

	if (r->mode == MAP_MODE_UPSERT) {
		bool any_set = false;

		/* 'N' rows: keys whose first change in the batch is an insert.
		 * They go in by a plain INSERT, half the cost of a speculative
		 * one, unless that meets a row of the same key (see map.h). */
		p->insert_new = plan_insert(r, p, src, nsrc, source, "s._op = 'N'",
									false);
		p->upsert = plan_insert(r, p, src, nsrc, source,
								"s._op IN ('U', 'N')", true);
		p->upsert_old = plan_insert(r, p, src, nsrc, source, "s._op = 'U'",
									true);

		buf_reset(&q, 0);
		buf_appendf(&q, "UPDATE %s t SET ", p->target);
		for (size_t i = 0; i < r->ncols; i++) {
			const char *tc = r->cols[i].target;

			if (is_key(r, tc))
				continue;
			if (any_set)
				buf_append_str(&q, ", ");
			any_set = true;
			map_quote_ident(&q, tc);
			buf_appendf(&q, " = CASE WHEN m.\"_p%zu\" THEN m.", i);
			map_quote_ident(&q, tc);
			buf_append_str(&q, " ELSE t.");
			map_quote_ident(&q, tc);
			buf_append_str(&q, " END");
		}
		buf_append_str(&q, " FROM ");
		append_subquery(&q, r, p, src, nsrc, source, "s._op IN ('P')", true, false,
						true);
		append_key_match(&q, r);
		p->update_partial = any_set ? wp_strdup(q.data) : NULL;
	} else if (r->mode == MAP_MODE_APPEND) {
		p->append = plan_insert(r, p, src, nsrc, source,
								"s._op IN ('U', 'P')", false);
	}

	if (r->mode != MAP_MODE_NONE && r->nkey > 0 &&
		r->on_delete != MAP_DELETE_IGNORE) {
		buf_reset(&q, 0);
		if (r->on_delete == MAP_DELETE_DELETE) {
			buf_appendf(&q, "DELETE FROM %s t USING ", p->target);
		} else {
			buf_appendf(&q, "UPDATE %s t SET ", p->target);
			map_quote_ident(&q, r->soft_delete_column);
			buf_append_str(&q, " = m._ts FROM ");
		}
		/* A soft delete also marks rows inserted or updated earlier in
		 * the batch (the upsert has just written them): the row must
		 * stay, with its last values, deleted. */
		p->soft_delete = r->on_delete == MAP_DELETE_SOFT;
		append_subquery(&q, r, p, src, nsrc, source,
						p->soft_delete ? "(s._op = 'D' OR s._sop = 'D')"
									   : "s._op IN ('D')",
						false, true, false);
		append_key_match(&q, r);
		p->remove = wp_strdup(q.data);
	}
	if (r->mode != MAP_MODE_NONE && r->on_truncate == MAP_TRUNCATE_TRUNCATE) {
		buf_reset(&q, 0);
		buf_appendf(&q, "TRUNCATE %s", p->target);
		p->truncate = wp_strdup(q.data);
	}
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

int
map_plan_tmp_index(const struct map_plan *p, const char *column)
{
	for (size_t k = 0; k < p->ntmp; k++)
		if (strcmp(p->tmp_cols[k], column) == 0)
			return (int) k;
	return -1;
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
	free(p->upsert_old);
	free(p->update_partial);
	free(p->append);
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

char *
map_snapshot_query(const char *schema, const char *table,
				   const struct map_srccol *cols, size_t n,
				   const char *lsn_text)
{
	struct buf q = BUF_INIT;

	buf_append_str(&q, "COPY (SELECT json_build_object('action', 'I', 'lsn', ");
	quote_literal(&q, lsn_text);
	buf_append_str(&q, ", 'schema', ");
	quote_literal(&q, schema);
	buf_append_str(&q, ", 'table', ");
	quote_literal(&q, table);
	/* ARRAY[] rather than json_build_array: no 100-argument limit. */
	buf_append_str(&q, ", 'columns', array_to_json(ARRAY[");
	for (size_t i = 0; i < n; i++) {
		buf_append_str(&q, i ? ", json_build_object('name', "
							 : "json_build_object('name', ");
		quote_literal(&q, cols[i].name);
		buf_append_str(&q, ", 'value', to_json(");
		if (strcmp(cols[i].type, "bytea") == 0) {
			buf_append_str(&q, "encode(");
			map_quote_ident(&q, cols[i].name);
			buf_append_str(&q, ", 'hex')");
		} else {
			map_quote_ident(&q, cols[i].name);
			if (!unquoted_type(cols[i].type))
				buf_append_str(&q, "::text");
		}
		buf_append_str(&q, "))");
	}
	buf_append_str(&q, "]::json[])) FROM ONLY ");
	map_quote_ident(&q, schema);
	buf_append_char(&q, '.');
	map_quote_ident(&q, table);
	buf_append_str(&q, ") TO STDOUT");
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
