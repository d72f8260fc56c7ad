/* kafka_select.c: Debezium's column.include.list / column.exclude.list and message.key.columns. */
#include "walpipe/kafka_select.h"

#include "walpipe/buf.h"
#include "walpipe/mem.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct key_rule {
	regex_t table; /* a whole schema.table */
	char **cols;
	size_t ncols;
};

/* One column's answer, remembered: regexec per column per change would
 * cost more than the encoding. */
struct memo {
	char *name; /* schema.table.column */
	bool keep;
};

struct kafka_select {
	regex_t *res; /* the include or the exclude list */
	size_t nres;
	bool include;
	struct key_rule *keys;
	size_t nkeys;
	struct memo *memo;
	size_t nmemo, capmemo;
};

/* Compile text, anchored to match a whole name. */
static bool
compile(regex_t *re, const char *text, size_t len, const char *what,
		char *errbuf, size_t errlen)
{
	struct buf b = BUF_INIT;
	int rc;

	buf_appendf(&b, "^(%.*s)$", (int) len, text);
	rc = regcomp(re, b.data, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char why[128];

		regerror(rc, re, why, sizeof(why));
		snprintf(errbuf, errlen, "invalid regular expression \"%.*s\" in %s: %s",
				 (int) len, text, what, why);
	}
	buf_free(&b);
	return rc == 0;
}

static char *
trimmed(const char *p, size_t n)
{
	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return wp_strndup(p, n);
}

static bool
compile_list(struct kafka_select *s, const char *list, const char *what,
			 char *errbuf, size_t errlen)
{
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ",");
		char *e = trimmed(p, n);
		bool ok = e[0] != '\0';

		if (!ok)
			snprintf(errbuf, errlen, "empty regular expression in %s", what);
		if (ok) {
			s->res = wp_realloc(s->res, (s->nres + 1) * sizeof(*s->res));
			ok = compile(&s->res[s->nres], e, strlen(e), what, errbuf, errlen);
			s->nres += ok;
		}
		free(e);
		if (!ok)
			return false;
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

static bool
compile_keys(struct kafka_select *s, const char *spec, char *errbuf,
			 size_t errlen)
{
	const char *p = spec;

	for (;;) {
		size_t n = strcspn(p, ";");
		char *entry = trimmed(p, n), *colon = strchr(entry, ':');
		struct key_rule *k;
		const char *c;
		bool ok = colon && colon > entry && colon[1] != '\0';

		if (!ok) {
			snprintf(errbuf, errlen,
					 "message_key_columns entry \"%s\" is not "
					 "schema.table:column[,column...]",
					 entry);
			free(entry);
			return false;
		}
		s->keys = wp_realloc(s->keys, (s->nkeys + 1) * sizeof(*s->keys));
		k = &s->keys[s->nkeys];
		memset(k, 0, sizeof(*k));
		if (!compile(&k->table, entry, (size_t) (colon - entry),
					 "message_key_columns", errbuf, errlen)) {
			free(entry);
			return false;
		}
		s->nkeys++;
		for (c = colon + 1;;) {
			size_t m = strcspn(c, ",");
			char *col = trimmed(c, m);

			if (col[0] == '\0') {
				snprintf(errbuf, errlen,
						 "message_key_columns entry \"%s\" has an empty "
						 "column name",
						 entry);
				free(col);
				free(entry);
				return false;
			}
			k->cols = wp_realloc(k->cols, (k->ncols + 1) * sizeof(char *));
			k->cols[k->ncols++] = col;
			if (c[m] == '\0')
				break;
			c += m + 1;
		}
		free(entry);
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

struct kafka_select *
kafka_select_new(const char *include, const char *exclude,
				 const char *key_columns, bool *err, char *errbuf,
				 size_t errlen)
{
	struct kafka_select *s;
	bool ok = true;

	*err = false;
	if (include && !include[0])
		include = NULL;
	if (exclude && !exclude[0])
		exclude = NULL;
	if (key_columns && !key_columns[0])
		key_columns = NULL;
	if (!include && !exclude && !key_columns)
		return NULL;
	if (include && exclude) {
		snprintf(errbuf, errlen,
				 "column_include_list and column_exclude_list cannot both "
				 "be set (Debezium's rule: one or the other)");
		*err = true;
		return NULL;
	}
	s = wp_calloc(1, sizeof(*s));
	s->include = include != NULL;
	if (include || exclude)
		ok = compile_list(s, include ? include : exclude,
						  include ? "column_include_list"
								  : "column_exclude_list",
						  errbuf, errlen);
	if (ok && key_columns)
		ok = compile_keys(s, key_columns, errbuf, errlen);
	if (!ok) {
		kafka_select_free(s);
		*err = true;
		return NULL;
	}
	return s;
}

void
kafka_select_free(struct kafka_select *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nres; i++)
		regfree(&s->res[i]);
	free(s->res);
	for (size_t i = 0; i < s->nkeys; i++) {
		regfree(&s->keys[i].table);
		for (size_t j = 0; j < s->keys[i].ncols; j++)
			free(s->keys[i].cols[j]);
		free(s->keys[i].cols);
	}
	free(s->keys);
	for (size_t i = 0; i < s->nmemo; i++)
		free(s->memo[i].name);
	free(s->memo);
	free(s);
}

bool
kafka_select_column(struct kafka_select *s, const char *schema,
					const char *table, const char *column)
{
	struct buf b = BUF_INIT;
	bool match = false;

	if (s == NULL || s->nres == 0)
		return true;
	buf_appendf(&b, "%s.%s.%s", schema ? schema : "", table ? table : "",
				column);
	for (size_t i = 0; i < s->nmemo; i++)
		if (strcmp(s->memo[i].name, b.data) == 0) {
			buf_free(&b);
			return s->memo[i].keep;
		}
	for (size_t i = 0; i < s->nres && !match; i++)
		match = regexec(&s->res[i], b.data, 0, NULL, 0) == 0;
	if (s->nmemo == s->capmemo) {
		s->capmemo = s->capmemo ? s->capmemo * 2 : 16;
		s->memo = wp_realloc(s->memo, s->capmemo * sizeof(*s->memo));
	}
	s->memo[s->nmemo].name = b.data; /* the memo owns it */
	s->memo[s->nmemo].keep = match == s->include;
	return s->memo[s->nmemo++].keep;
}

/* The key rule of schema.table, or NULL. */
static const struct key_rule *
key_rule(const struct kafka_select *s, const char *schema, const char *table)
{
	struct buf b = BUF_INIT;
	const struct key_rule *k = NULL;

	if (s->nkeys == 0)
		return NULL;
	buf_appendf(&b, "%s.%s", schema ? schema : "", table ? table : "");
	for (size_t i = 0; i < s->nkeys && !k; i++)
		if (regexec(&s->keys[i].table, b.data, 0, NULL, 0) == 0)
			k = &s->keys[i];
	buf_free(&b);
	return k;
}

void
kafka_select_scratch_free(struct kafka_select_scratch *sc)
{
	free(sc->cols);
	free(sc->ident);
	free(sc->pk);
	free(sc->tcols);
	memset(sc, 0, sizeof(*sc));
}

static size_t
keep_columns(struct kafka_select *s, const struct w2j_change *c,
			 const struct w2j_column *in, size_t n, struct w2j_column *out)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (kafka_select_column(s, c->schema, c->table, in[i].name))
			out[m++] = in[i];
	return m;
}

void
kafka_select_apply(struct kafka_select *s, const struct w2j_change *c,
				   const struct kafka_table *tab, struct w2j_change *out,
				   struct kafka_table *tout, struct kafka_select_scratch *sc)
{
	size_t need = c->ncolumns + c->nidentity + c->npk + 1;
	const struct key_rule *k = key_rule(s, c->schema, c->table);

	if (tab && tab->ncols + 1 > need)
		need = tab->ncols + 1;
	if (k && k->ncols + 1 > need)
		need = k->ncols + 1;
	if (need > sc->cap) {
		sc->cap = need;
		sc->cols = wp_realloc(sc->cols, need * sizeof(*sc->cols));
		sc->ident = wp_realloc(sc->ident, need * sizeof(*sc->ident));
		sc->pk = wp_realloc(sc->pk, need * sizeof(*sc->pk));
		sc->tcols = wp_realloc(sc->tcols, need * sizeof(*sc->tcols));
	}
	*out = *c;
	out->columns = sc->cols;
	out->ncolumns = keep_columns(s, c, c->columns, c->ncolumns, sc->cols);
	out->identity = sc->ident;
	out->nidentity =
		keep_columns(s, c, c->identity, c->nidentity, sc->ident);
	if (k) {
		memset(sc->pk, 0, k->ncols * sizeof(*sc->pk));
		for (size_t i = 0; i < k->ncols; i++) {
			sc->pk[i].name = k->cols[i];
			sc->pk[i].name_len = strlen(k->cols[i]);
		}
		out->pk = sc->pk;
		out->npk = k->ncols;
	}
	if (tab && tout) {
		tout->ncols = 0;
		tout->cols = sc->tcols;
		for (size_t i = 0; i < tab->ncols; i++)
			if (kafka_select_column(s, c->schema, c->table, tab->cols[i].name))
				sc->tcols[tout->ncols++] = tab->cols[i];
	}
}
