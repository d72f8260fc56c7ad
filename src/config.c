/* config.c: the table-driven configuration loader: YAML tree in, typed wp_config out. */
#include "config_int.h"

#include "walpipe/buf.h"
#include "walpipe/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Errors and key paths.                                                */

static void
add_error_v(struct loader *L, int line, int col, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static void
add_error_v(struct loader *L, int line, int col, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	buf_appendf(&b, "%s:%d:%d: ", L->file, line, col);
	if (L->path[0])
		buf_appendf(&b, "%s: ", L->path);
	buf_vappendf(&b, fmt, ap);
	L->errs->msg = wp_realloc(L->errs->msg,
							  (L->errs->n + 1) * sizeof(*L->errs->msg));
	L->pos = wp_realloc(L->pos, (L->errs->n + 1) * sizeof(*L->pos));
	L->pos[L->errs->n] = line * 100000 + (col < 100000 ? col : 99999);
	L->errs->msg[L->errs->n++] = b.data;
}

void
config_error(struct loader *L, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_error_v(L, line, col, fmt, ap);
	va_end(ap);
}

void
config_error_above(struct loader *L, int line, int col, const char *fmt, ...)
{
	char key[sizeof(L->path)];
	va_list ap;

	memcpy(key, L->path + L->key_at, sizeof(L->path) - L->key_at);
	L->path[L->key_at] = '\0';
	va_start(ap, fmt);
	add_error_v(L, line, col, fmt, ap);
	va_end(ap);
	memcpy(L->path + L->key_at, key, sizeof(L->path) - L->key_at);
}

/* Push ".key" or "[i]" onto L->path; pop by the length returned. */
size_t
config_path_push(struct loader *L, const char *fmt, ...)
{
	size_t old = strlen(L->path);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(L->path + old, sizeof(L->path) - old, fmt, ap);
	va_end(ap);
	return old;
}

void
config_path_pop(struct loader *L, size_t old)
{
	L->path[old] = '\0';
}

/* ------------------------------------------------------------------ */
/* Scalar conversions.                                                  */

static bool
valid_ident(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || !(islower((unsigned char) s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char) s[i]) || isdigit((unsigned char) s[i]) ||
			  s[i] == '_'))
			return false;
	return true;
}

#define NAME_VALID                                                             \
	"a name (letters, digits, _ and $, folded to lower case) or a "            \
	"\"quoted name\""

/*
 * A table, schema or column name in SQL's notation (ident.h): exact parts
 * into *out, or an error at line:col naming what (a "table name") and
 * what would be valid.  A YAML-quoted scalar whose unquoted parts fold is
 * refused: whoever wrote "createdAt" meant the exact name, and YAML's
 * quotes are gone before SQL's notation sees the text.
 */
bool
config_load_name(struct loader *L, const char *v, bool quoted, int nparts,
				 const char *what, int line, int col, struct ident_name *out)
{
	char err[200];

	if (!ident_parse(v, nparts, nparts, out, err, sizeof(err))) {
		config_error(L, line, col, "invalid %s \"%s\": %s; expected %s%s",
					 what, v, err,
					 nparts == 2 ? "schema.table, each part " : "",
					 NAME_VALID);
		return false;
	}
	if (quoted && out->folded) {
		struct buf fold = BUF_INIT, fix = BUF_INIT;

		ident_append(&fold, out->part[0]);
		if (out->part[1]) {
			buf_append_char(&fold, '.');
			ident_append(&fold, out->part[1]);
		}
		ident_fold_hint(&fix, v);
		config_error(L, line, col,
					 "name \"%s\" would fold to \"%s\": YAML quotes are not "
					 "SQL quotes; write %s for the exact name",
					 v, fold.data, fix.data);
		buf_free(&fold);
		buf_free(&fix);
		ident_name_free(out);
		return false;
	}
	return true;
}

/* "schema.table" into two malloc'd exact names, or an error. */
bool
config_load_qname(struct loader *L, const struct ynode *v, const char *what,
				  char **schema, char **table)
{
	struct ident_name n;

	if (!config_load_name(L, v->value, !v->plain, 2, what, v->line, v->col,
						  &n))
		return false;
	*schema = n.part[0];
	*table = n.part[1];
	return true;
}

/* One name (a column, a schema) into a malloc'd exact name, or NULL. */
char *
config_load_name1(struct loader *L, const struct ynode *v, const char *what)
{
	struct ident_name n;

	if (!config_load_name(L, v->value, !v->plain, 1, what, v->line, v->col,
						  &n))
		return NULL;
	return n.part[0];
}

static bool
parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s || !(isdigit((unsigned char) *s) || *s == '-'))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* A number and a unit from a table; factor of the unit in *out. */
static bool
parse_with_unit(const char *s, const char *const *units,
				const int64_t *factors, size_t nunits, int64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char) *s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	for (size_t i = 0; i < nunits; i++)
		if (strcmp(end, units[i]) == 0) {
			if (v > (unsigned long long) (INT64_MAX / factors[i]))
				return false;
			*out = (int64_t) v * factors[i];
			return true;
		}
	return false;
}

static bool
parse_size(const char *s, int64_t *out)
{
	static const char *const u[] = {"B", "kB", "KB", "MB", "GB"};
	static const int64_t f[] = {1, 1024, 1024, 1024 * 1024,
								1024 * 1024 * 1024};

	return parse_with_unit(s, u, f, 5, out);
}

bool
config_parse_duration(const char *s, int64_t *out)
{
	static const char *const u[] = {"ms", "s", "m", "h", "d"};
	static const int64_t f[] = {1, 1000, 60000, 3600000, 86400000};

	return parse_with_unit(s, u, f, 5, out);
}

bool
config_parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
		*out = true;
		return true;
	}
	if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
		*out = false;
		return true;
	}
	return false;
}

bool
config_enum_has(const struct enum_value *e, const char *v, int *value)
{
	for (; e->name; e++)
		if (strcmp(e->name, v) == 0) {
			if (value)
				*value = e->value;
			return true;
		}
	return false;
}

/* "a, b or c" */
static void
enum_list(struct buf *b, const struct enum_value *e)
{
	for (size_t i = 0; e[i].name; i++)
		buf_appendf(b, "%s%s", i == 0 ? "" : e[i + 1].name ? ", " : " or ",
					e[i].name);
}

/* A bound in the unit an operator would write it in. */
static void
format_bound(enum ftype t, int64_t v, char *out, size_t len)
{
	static const char *const su[] = {"GB", "MB", "kB"};
	static const int64_t sf[] = {1073741824, 1048576, 1024};
	static const char *const du[] = {"d", "h", "m", "s"};
	static const int64_t df[] = {86400000, 3600000, 60000, 1000};

	if (t == F_SIZE || t == F_DURATION) {
		const char *const *u = t == F_SIZE ? su : du;
		const int64_t *f = t == F_SIZE ? sf : df;
		size_t n = t == F_SIZE ? 3 : 4;

		for (size_t i = 0; i < n; i++)
			if (v >= f[i] && v % f[i] == 0) {
				snprintf(out, len, "%lld%s", (long long) (v / f[i]), u[i]);
				return;
			}
		snprintf(out, len, "%lld%s", (long long) v, t == F_SIZE ? "B" : "ms");
		return;
	}
	snprintf(out, len, "%lld", (long long) v);
}

/* ------------------------------------------------------------------ */
/* One scalar into its field.                                           */

#define AT(obj, off, type) ((type *) ((char *) (obj) + (off)))

/* A number with its unit, within the field's bounds. */
static bool
set_number(struct loader *L, const struct field *f, void *obj, const char *v,
		   int line, int col)
{
	int64_t num = 0;
	char lo[32], hi[32];

	if (f->type == F_INT && !parse_int(v, &num)) {
		config_error(L, line, col, "invalid integer \"%s\"", v);
		return false;
	}
	if (f->type == F_SIZE && !parse_size(v, &num)) {
		config_error(L, line, col,
					 "invalid size \"%s\": expected a number with unit B, "
					 "kB, MB or GB",
					 v);
		return false;
	}
	if (f->type == F_DURATION && !config_parse_duration(v, &num)) {
		config_error(L, line, col,
					 "invalid duration \"%s\": expected a number with unit "
					 "ms, s, m, h or d",
					 v);
		return false;
	}
	if (num >= f->min && num <= f->max) {
		*AT(obj, f->off, int64_t) = num;
		return true;
	}
	format_bound(f->type, f->min, lo, sizeof(lo));
	format_bound(f->type, f->max, hi, sizeof(hi));
	if (f->max == INT64_MAX)
		config_error(L, line, col, "%s is out of range: expected at least %s",
					 v, lo);
	else
		config_error(L, line, col, "%s is out of range: expected %s to %s", v,
					 lo, hi);
	return false;
}

/* One of the field's enum values, kept as text or as its value. */
static bool
set_enum(struct loader *L, const struct field *f, void *obj, const char *v,
		 int line, int col)
{
	struct buf m = BUF_INIT;
	int value;

	if (config_enum_has(f->enums, v, &value)) {
		if (f->type == F_KIND)
			*AT(obj, f->off, int) = value;
		else
			*AT(obj, f->off, char *) = wp_strdup(v);
		return true;
	}
	enum_list(&m, f->enums);
	config_error(L, line, col, "invalid value \"%s\": expected %s", v, m.data);
	buf_free(&m);
	return false;
}

/* Convert one scalar (or a default text) into its field; false = error
 * reported.  L->quoted says whether the scalar was YAML-quoted. */
bool
config_set_field(struct loader *L, const struct field *f, void *obj,
				 const char *v, int line, int col)
{
	struct ident_name n;
	bool b;

	switch (f->type) {
	case F_STRING:
	case F_TEXT:
		if (f->type == F_STRING && v[0] == '\0') {
			config_error(L, line, col, "must not be empty");
			return false;
		}
		*AT(obj, f->off, char *) = wp_strdup(v);
		return true;
	case F_IDENT:
		if (!valid_ident(v)) {
			config_error(L, line, col,
						 "invalid name \"%s\": use 1 to 63 lower case "
						 "letters, digits and underscores, not starting "
						 "with a digit",
						 v);
			return false;
		}
		*AT(obj, f->off, char *) = wp_strdup(v);
		return true;
	case F_NAME:
	case F_QNAME:
		if (!config_load_name(L, v, L->quoted, f->type == F_QNAME ? 2 : 1,
							  f->what, line, col, &n))
			return false;
		*AT(obj, f->off, char *) = n.part[0];
		if (f->type == F_QNAME)
			*AT(obj, f->off2, char *) = n.part[1];
		return true;
	case F_BOOL:
		if (!config_parse_bool(v, &b)) {
			config_error(L, line, col,
						 "invalid boolean \"%s\": expected true or false", v);
			return false;
		}
		*AT(obj, f->off, bool) = b;
		return true;
	case F_INT:
	case F_SIZE:
	case F_DURATION:
		return set_number(L, f, obj, v, line, col);
	case F_ENUM:
	case F_KIND:
		return set_enum(L, f, obj, v, line, col);
	default:
		return false; /* not a scalar type: no table row does this */
	}
}

/* ------------------------------------------------------------------ */
/* Keys.                                                                */

/* Nearest known key by edit distance, for "did you mean". */
static const char *
nearest_key(const char *k, const char *const *keys, size_t n)
{
	const char *best = NULL;
	size_t bestd = 3;

	for (size_t i = 0; i < n; i++) {
		size_t la = strlen(k), lb = strlen(keys[i]);
		size_t d[64];

		if (la > 62 || lb > 62)
			continue;
		for (size_t j = 0; j <= lb; j++)
			d[j] = j;
		for (size_t a = 1; a <= la; a++) {
			size_t prev = d[0];

			d[0] = a;
			for (size_t j = 1; j <= lb; j++) {
				size_t cur = d[j];
				size_t cost = k[a - 1] == keys[i][j - 1] ? 0 : 1;
				size_t m = prev + cost;

				if (d[j] + 1 < m)
					m = d[j] + 1;
				if (d[j - 1] + 1 < m)
					m = d[j - 1] + 1;
				d[j] = m;
				prev = cur;
			}
		}
		if (d[lb] < bestd) {
			bestd = d[lb];
			best = keys[i];
		}
	}
	return best;
}

void
config_unknown_key(struct loader *L, const struct ynode *k,
				   const char *const *keys, size_t n)
{
	const char *near = nearest_key(k->value, keys, n);
	struct buf m = BUF_INIT;

	for (size_t i = 0; i < n; i++)
		buf_appendf(&m, "%s%s", i ? ", " : "", keys[i]);
	if (near)
		config_error(L, k->line, k->col,
					 "unknown key \"%s\" (did you mean \"%s\"?); valid keys: "
					 "%s",
					 k->value, near, m.data);
	else
		config_error(L, k->line, k->col, "unknown key \"%s\"; valid keys: %s",
					 k->value, m.data);
	buf_free(&m);
}

static const struct field *
table_field(const struct table *t, const char *key)
{
	for (const struct field *f = t->fields; f->key; f++)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

/* Unknown keys and repeated ones, in file order. */
static void
check_keys(struct loader *L, const struct ynode *m, const struct table *t)
{
	const char *keys[32];
	size_t nkeys = 0;

	for (const struct field *f = t->fields; f->key && nkeys < 32; f++)
		keys[nkeys++] = f->key;
	for (size_t i = 0; i + 1 < m->nkids; i += 2) {
		const struct ynode *k = m->kids[i];
		bool known = table_field(t, k->value) != NULL;

		if (!known)
			config_unknown_key(L, k, keys, nkeys);
		if (t->dups == DUPS_FIRST || (!known && t->dups == DUPS_KNOWN))
			continue;
		/* The first value stays: setting it again would leak it.  At
		 * the top, a third "target:" is reported once per earlier one. */
		for (size_t j = 0; j < i; j += 2)
			if (strcmp(m->kids[j]->value, k->value) == 0) {
				config_error(L, k->line, k->col, "duplicate key \"%s\"",
							 k->value);
				if (t->dups == DUPS_KNOWN)
					break;
			}
	}
}

/* ------------------------------------------------------------------ */
/* Values.                                                              */

/* A key the mapping does not have: its default, or an error. */
static void
load_absent(struct loader *L, const struct field *f, void *obj,
			const struct table *t, int line, int col)
{
	if (f->flags & FIELD_REQUIRED) {
		config_error(L, line, col, "missing required %s \"%s\"",
					 t->top ? "section" : "key", f->key);
	} else if (f->type == F_SECTION && (f->flags & FIELD_DEFAULTS)) {
		size_t old = config_path_push(L, "%s%s", L->path[0] ? "." : "",
									  f->key);

		config_load_table(L, NULL, f->table, obj, line, col);
		config_path_pop(L, old);
	} else if (f->def) {
		config_set_field(L, f, obj, f->def, line, col);
	}
}

/* A scalar value as the table's style reads it. */
static void
load_scalar(struct loader *L, const struct field *f, void *obj,
			const struct ynode *v, enum table_style style)
{
	bool null = ynode_is_null(v);

	if (v->kind != YNODE_SCALAR ||
		(null && (style == TABLE_ITEM || (f->flags & FIELD_REQUIRED))))
		config_error(L, v->line, v->col, "expected a %s, found %s",
					 f->type == F_BOOL && style == TABLE_SECTION ? "boolean"
																 : "value",
					 null ? "null" : ynode_kind_name(v));
	else if (!null) {
		L->quoted = !v->plain;
		config_set_field(L, f, obj, v->value, v->line, v->col);
		L->quoted = false;
	}
}

/* A list of mappings, each read with the field's table. */
static void
load_list(struct loader *L, const struct field *f, void *obj,
		  const struct ynode *v)
{
	const struct table *t = f->table;
	char **items = AT(obj, f->off, char *);
	size_t *n = AT(obj, f->off2, size_t);

	if (v->kind != YNODE_SEQ) {
		config_error(L, v->line, v->col, "expected a list, found %s",
					 ynode_kind_name(v));
		return;
	}
	*items = wp_calloc(v->nkids ? v->nkids : 1, t->size);
	for (size_t i = 0; i < v->nkids; i++) {
		size_t old = config_path_push(L, "[%zu]", i);

		config_load_table(L, v->kids[i], t, *items + (*n)++ * t->size,
						  v->kids[i]->line, v->kids[i]->col);
		config_path_pop(L, old);
	}
}

static void
load_value(struct loader *L, const struct field *f, void *obj,
		   const struct ynode *v, enum table_style style)
{
	size_t old;

	if ((f->flags & FIELD_SKIP_NULL) && ynode_is_null(v))
		return;
	old = config_path_push(L, "%s%s", L->path[0] ? "." : "", f->key);
	L->key_at = old;
	if (f->load)
		f->load(L, f, v, obj);
	else if (f->type == F_SECTION) {
		bool ok = config_load_table(L, v, f->table, obj, v->line, v->col);

		if (f->flags & FIELD_ENABLES)
			*AT(obj, f->off, bool) = ok;
	} else if (f->type == F_LIST)
		load_list(L, f, obj, v);
	else
		load_scalar(L, f, obj, v, style);
	config_path_pop(L, old);
}

/* A null section: every key absent; or a scalar for the table's
 * scalar_key alone.  Reported at line:col. */
static void
load_defaults(struct loader *L, const struct ynode *m, const struct table *t,
			  void *obj, int line, int col)
{
	for (const struct field *f = t->fields; f->key; f++) {
		if (m && t->scalar_key && strcmp(f->key, t->scalar_key) == 0) {
			size_t old = config_path_push(L, ".%s", f->key);

			config_set_field(L, f, obj, m->value, m->line, m->col);
			config_path_pop(L, old);
		} else {
			load_absent(L, f, obj, t, line, col);
		}
	}
}

/*
 * Read mapping m (NULL: absent) with table t into obj: unknown and
 * repeated keys, each row's value or default, then the table's check.
 * Missing keys are reported at pline:pcol when m is no mapping.  Returns
 * whether m was a mapping (or, for a section, null).
 */
bool
config_load_table(struct loader *L, const struct ynode *m,
				  const struct table *t, void *obj, int pline, int pcol)
{
	if (t->init)
		t->init(obj, m);
	if (m == NULL || (t->style == TABLE_SECTION && ynode_is_null(m))) {
		load_defaults(L, NULL, t, obj, pline, pcol);
		return m != NULL;
	}
	if (m->kind == YNODE_SCALAR && t->scalar_key) {
		load_defaults(L, m, t, obj, 1, 1);
		return true;
	}
	if (m->kind != YNODE_MAP) {
		config_error(L, m->line, m->col, "expected a mapping, found %s",
					 ynode_kind_name(m));
		return false;
	}
	check_keys(L, m, t);
	for (const struct field *f = t->fields; f->key; f++) {
		const struct ynode *v = ynode_get(m, f->key);

		if (v)
			load_value(L, f, obj, v, t->style);
		else
			load_absent(L, f, obj, t, t->top ? 1 : m->line,
						t->top ? 1 : m->col);
	}
	if (t->check)
		t->check(L, obj, m);
	return true;
}

/* ------------------------------------------------------------------ */
/* What a reload may not change.                                        */

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool same_items(const struct table *t, const void *a, const void *b);

/* Whether field f holds the same value in objects a and b. */
static bool
same_field(const struct field *f, const void *a, const void *b)
{
	switch (f->type) {
	case F_BOOL:
		return *AT(a, f->off, bool) == *AT(b, f->off, bool);
	case F_INT:
	case F_SIZE:
	case F_DURATION:
		return *AT(a, f->off, int64_t) == *AT(b, f->off, int64_t);
	case F_KIND:
		return *AT(a, f->off, int) == *AT(b, f->off, int);
	case F_STRINGS:
		if (*AT(a, f->off2, size_t) != *AT(b, f->off2, size_t))
			return false;
		for (size_t i = 0; i < *AT(a, f->off2, size_t); i++)
			if (strcmp((*AT(a, f->off, char **))[i],
					   (*AT(b, f->off, char **))[i]) != 0)
				return false;
		return true;
	case F_SECTION:
		return same_items(f->table, a, b);
	case F_LIST:
		if (*AT(a, f->off2, size_t) != *AT(b, f->off2, size_t))
			return false;
		for (size_t i = 0; i < *AT(a, f->off2, size_t); i++)
			if (!same_items(f->table,
							*AT(a, f->off, char *) + i * f->table->size,
							*AT(b, f->off, char *) + i * f->table->size))
				return false;
		return true;
	case F_CUSTOM:
		return true; /* never compared: always FIELD_RELOAD */
	case F_QNAME:
		if (!same_text(*AT(a, f->off2, char *), *AT(b, f->off2, char *)))
			return false;
		/* FALLTHROUGH */
	default:
		return same_text(*AT(a, f->off, char *), *AT(b, f->off, char *));
	}
}

/* Every key of table t the same in a and b. */
static bool
same_items(const struct table *t, const void *a, const void *b)
{
	for (const struct field *f = t->fields; f->key; f++)
		if (!same_field(f, a, b))
			return false;
	return true;
}

struct keylist {
	char **key;
	size_t n;
};

static void
fixed_walk(const struct table *t, const void *a, const void *b,
		   const char *prefix, struct keylist *out)
{
	for (const struct field *f = t->fields; f->key; f++) {
		struct buf name = BUF_INIT;

		buf_appendf(&name, "%s%s%s", prefix, prefix[0] ? "." : "", f->key);
		if (f->type == F_SECTION) {
			fixed_walk(f->table, a, b, name.data, out);
		} else if (f->type == F_LIST && (f->flags & FIELD_RELOAD)) {
			/* Items may come and go; those in both keep their fixed
			 * keys. */
			size_t na = *AT(a, f->off2, size_t), nb = *AT(b, f->off2, size_t);

			for (size_t i = 0; i < na && i < nb; i++) {
				struct buf item = BUF_INIT;

				buf_appendf(&item, "%s[%zu]", name.data, i);
				fixed_walk(f->table,
						   *AT(a, f->off, char *) + i * f->table->size,
						   *AT(b, f->off, char *) + i * f->table->size,
						   item.data, out);
				buf_free(&item);
			}
		} else if (!(f->flags & FIELD_RELOAD) && !same_field(f, a, b)) {
			out->key = wp_realloc(out->key, (out->n + 1) * sizeof(char *));
			out->key[out->n++] = name.data;
			continue;
		}
		buf_free(&name);
	}
}

struct map_rule *
config_rules(const struct wp_config *cfg)
{
	struct map_rule *r = wp_calloc(cfg->nmappings + 1, sizeof(*r));

	for (size_t i = 0; i < cfg->nmappings; i++)
		r[i] = cfg->mappings[i].rule;
	return r;
}

int
config_mirror_of(const struct config_mirror *m, size_t nm,
				 const struct map_rule *rules, size_t nrules,
				 const char *schema, const char *table)
{
	for (size_t i = 0; i < nrules; i++)
		if (strcmp(rules[i].from_schema, schema) == 0 &&
			strcmp(rules[i].from_table, table) == 0)
			return -1;
	for (size_t i = 0; i < nm; i++) {
		bool in = false;

		for (size_t k = 0; k < m[i].nfrom && !in; k++)
			in = mirror_pattern_match(&m[i].from_p[k], schema, table);
		for (size_t k = 0; k < m[i].nexclude && in; k++)
			in = !mirror_pattern_match(&m[i].exclude_p[k], schema, table);
		if (in)
			return (int) i;
	}
	return -1;
}

bool
config_mirror_schemas(const struct config_mirror *m, size_t nm,
					  const char ***schemas, size_t *nschemas)
{
	const char **out = NULL;
	size_t n = 0;

	*schemas = NULL;
	*nschemas = 0;
	for (size_t i = 0; i < nm; i++)
		for (size_t k = 0; k < m[i].nfrom; k++) {
			const struct mirror_pattern *p = &m[i].from_p[k];
			bool seen = false;

			if (p->glob[0]) {
				free(out);
				return true;
			}
			for (size_t j = 0; j < n && !seen; j++)
				seen = strcmp(out[j], p->part[0]) == 0;
			if (seen)
				continue;
			out = wp_realloc(out, (n + 1) * sizeof(*out));
			out[n++] = p->part[0];
		}
	*schemas = out;
	*nschemas = n;
	return false;
}

size_t
config_fixed_changes(const struct wp_config *old, const struct wp_config *cfg,
					 char ***keys)
{
	struct keylist out = {NULL, 0};

	fixed_walk(&config_top, old, cfg, "", &out);
	*keys = out.key;
	return out.n;
}

/* ------------------------------------------------------------------ */
/* Loading a file.                                                      */

/* Report in file order (a stable insertion sort: few errors). */
static void
sort_errors(struct loader *L)
{
	struct config_errors *errs = L->errs;

	for (size_t i = 1; i < errs->n; i++)
		for (size_t j = i; j > 0 && L->pos[j - 1] > L->pos[j]; j--) {
			int tp = L->pos[j];
			char *tm = errs->msg[j];

			L->pos[j] = L->pos[j - 1];
			errs->msg[j] = errs->msg[j - 1];
			L->pos[j - 1] = tp;
			errs->msg[j - 1] = tm;
		}
}

static void
load_tree(struct loader *L, const struct ynode *root)
{
	if (root == NULL || ynode_is_null(root)) {
		config_error(L, 1, 1, "the configuration is empty");
		return;
	}
	if (root->kind != YNODE_MAP) {
		config_error(L, root->line, root->col,
					 "expected a mapping at the top level, found %s",
					 ynode_kind_name(root));
		return;
	}
	config_load_table(L, root, &config_top, L->cfg, 1, 1);
}

struct wp_config *
config_load_string(const char *name, const char *text, size_t len,
				   struct config_errors *errs)
{
	struct loader L;
	struct ynode *root;
	struct ynode_error yerr;

	memset(&L, 0, sizeof(L));
	memset(errs, 0, sizeof(*errs));
	L.file = name;
	L.errs = errs;
	L.cfg = wp_calloc(1, sizeof(struct wp_config));
	L.cfg->path = wp_strdup(name);
	root = ynode_parse(text, len, &yerr);
	if (root)
		load_tree(&L, root);
	else if (yerr.msg)
		config_error(&L, yerr.line, yerr.col, "%s", yerr.msg);
	else
		config_error(&L, 1, 1, "the configuration is empty");
	free(yerr.msg);
	ynode_free(root);
	sort_errors(&L);
	free(L.pos);
	if (errs->n > 0) {
		config_free(L.cfg);
		return NULL;
	}
	return L.cfg;
}

struct wp_config *
config_load(const char *path, struct config_errors *errs, bool *unreadable)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[8192];
	size_t n;
	struct wp_config *cfg;

	*unreadable = false;
	memset(errs, 0, sizeof(*errs));
	if (f == NULL) {
		struct buf m = BUF_INIT;

		buf_appendf(&m, "could not open configuration file \"%s\": %s", path,
					strerror(errno));
		errs->msg = wp_malloc(sizeof(char *));
		errs->msg[errs->n++] = m.data;
		*unreadable = true;
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	cfg = config_load_string(path, b.data ? b.data : "", b.len, errs);
	buf_free(&b);
	return cfg;
}
static void
free_mapping(struct config_mapping *m)
{
	free(m->from_schema);
	free(m->from_table);
	free(m->to_schema);
	free(m->to_table);
	for (size_t i = 0; i < m->nkey; i++)
		free(m->key[i]);
	free(m->key);
	for (size_t i = 0; i < m->ncols; i++) {
		struct map_column *c = &m->cols[i];

		free((char *) c->target);
		free((char *) c->column);
		for (size_t j = 0; j < c->npath; j++)
			free((char *) c->path[j]);
		free((void *) c->path);
		free((char *) c->type);
		free((char *) c->sql);
	}
	free(m->cols);
	free(m->where);
	free(m->soft_delete_column);
}

static void
free_strings(char **s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

static void
free_mirror(struct config_mirror *m)
{
	for (size_t i = 0; i < m->nfrom; i++)
		mirror_pattern_free(&m->from_p[i]);
	for (size_t i = 0; i < m->nexclude; i++)
		mirror_pattern_free(&m->exclude_p[i]);
	free(m->from_p);
	free(m->exclude_p);
	free_strings(m->from, m->nfrom);
	free_strings(m->exclude, m->nexclude);
	free_strings(m->metadata, m->nmetadata);
	free_strings(m->metanames, m->nmetadata);
	free(m->meta);
	free(m->to);
	free(m->soft_delete_column);
}

void
config_free(struct wp_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->source.name);
	free(cfg->source.conninfo);
	free(cfg->source.slot);
	free(cfg->source.publication);
	free(cfg->source.pubname);
	free(cfg->source.state_dir);
	for (size_t i = 0; i < cfg->source.ntables; i++)
		free(cfg->source.tables[i]);
	free(cfg->source.tables);
	free(cfg->target.conninfo);
	free(cfg->target.schema);
	free(cfg->staging.schema);
	free(cfg->staging.table);
	free(cfg->staging.partition);
	for (size_t i = 0; i < cfg->nmappings; i++)
		free_mapping(&cfg->mappings[i]);
	free(cfg->mappings);
	for (size_t i = 0; i < cfg->nrefresh; i++) {
		free(cfg->refresh[i].view_schema);
		free(cfg->refresh[i].view_table);
	}
	free(cfg->refresh);
	for (size_t i = 0; i < cfg->nmirrors; i++)
		free_mirror(&cfg->mirrors[i]);
	free(cfg->mirrors);
	free(cfg->kafka.brokers);
	free(cfg->kafka.topic);
	free(cfg->kafka.format);
	free(cfg->kafka.decimal_handling_mode);
	free(cfg->kafka.time_precision_mode);
	free(cfg->kafka.interval_handling_mode);
	free(cfg->kafka.hstore_handling_mode);
	free(cfg->kafka.column_include_list);
	free(cfg->kafka.column_exclude_list);
	free(cfg->kafka.message_key_columns);
	free(cfg->kafka.unavailable_value_placeholder);
	free(cfg->kafka.messages_topic);
	free(cfg->kafka.transaction_topic);
	for (size_t i = 0; i < cfg->kafka.nproperties; i++) {
		free(cfg->kafka.properties[i].key);
		free(cfg->kafka.properties[i].value);
	}
	free(cfg->kafka.properties);
	free(cfg->metrics.listen);
	free(cfg->snapshot.mode);
	free(cfg->snapshot.op);
	free(cfg->log.format);
	free(cfg->log.level);
	free(cfg);
}

void
config_errors_free(struct config_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msg[i]);
	free(errs->msg);
	errs->msg = NULL;
	errs->n = 0;
}

char *
config_tables_list(const struct wp_config *cfg)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < cfg->source.ntables; i++) {
		struct ident_name n;
		char err[200];

		/* The stored text form always parses (load_tables made it). */
		if (!ident_parse(cfg->source.tables[i], 2, 2, &n, err, sizeof(err)))
			continue;
		if (i)
			buf_append_char(&b, ',');
		ident_append_w2j(&b, n.part[0], n.part[1]);
		ident_name_free(&n);
	}
	for (size_t i = 0; i < cfg->nmirrors; i++)
		for (size_t j = 0; j < cfg->mirrors[i].nfrom; j++) {
			if (b.len)
				buf_append_char(&b, ',');
			mirror_pattern_append_w2j(&b, &cfg->mirrors[i].from_p[j]);
		}
	return b.data ? b.data : wp_strdup("");
}
