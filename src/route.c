/* route.c: which table a decoded change is of (a partition's: its root's). */
#include "walpipe/route.h"

#include "walpipe/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* One entry of add-tables, as wal2json's parse_table_identifier reads it. */
struct route_select {
	char *schema; /* NULL: any schema ("*.t") */
	char *table;  /* NULL: any table ("s.*") */
};

struct route {
	struct route_select *sel;
	size_t nsel;
	bool all; /* no add-tables: every table */
	struct route_entry **slot; /* open addressing, NULL: free */
	size_t nslot;			   /* a power of two */
	size_t n;
	struct route_entry **roots; /* the ROUTE_ROOT entries, in order */
	size_t nroots;
};

/* Remove the backslash escapes of s[0..len) into a new string. */
static char *
unescape(const char *s, size_t len)
{
	char *out = wp_malloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/*
 * One name of the list, "schema.table" with escapes: the first unescaped
 * '.' separates; "*." before it and "*" after it alone are wildcards (an
 * escaped star is a name).  wal2json refuses a name without a '.'; so
 * does walpipe's config, so one here is simply skipped.
 */
static void
parse_select(struct route *r, const char *s, size_t len)
{
	size_t dot = 0;
	struct route_select *t;

	while (dot < len && s[dot] != '.') {
		if (s[dot] == '\\')
			dot++;
		dot++;
	}
	if (dot >= len)
		return;
	r->sel = wp_realloc(r->sel, (r->nsel + 1) * sizeof(*r->sel));
	t = &r->sel[r->nsel++];
	t->schema = (dot == 1 && s[0] == '*') ? NULL : unescape(s, dot);
	t->table = (len - dot - 1 == 1 && s[dot + 1] == '*')
				   ? NULL
				   : unescape(s + dot + 1, len - dot - 1);
}

struct route *
route_new(const char *add_tables)
{
	struct route *r = wp_calloc(1, sizeof(*r));
	const char *p = add_tables;

	r->nslot = 64;
	r->slot = wp_calloc(r->nslot, sizeof(*r->slot));
	r->all = add_tables == NULL || add_tables[0] == '\0';
	/* Names end at an unescaped ',' or white space, as in wal2json. */
	while (p && *p) {
		const char *start;

		while (*p == ',' || isspace((unsigned char) *p))
			p++;
		start = p;
		while (*p && *p != ',' && !isspace((unsigned char) *p)) {
			if (*p == '\\' && p[1])
				p++;
			p++;
		}
		if (p > start)
			parse_select(r, start, (size_t) (p - start));
	}
	return r;
}

void
route_free(struct route *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nsel; i++) {
		free(r->sel[i].schema);
		free(r->sel[i].table);
	}
	free(r->sel);
	for (size_t i = 0; i < r->nslot; i++) {
		struct route_entry *e = r->slot[i];

		if (e == NULL)
			continue;
		free((char *) e->schema);
		free((char *) e->table);
		free((char *) e->root_schema);
		free((char *) e->root_table);
		free(e);
	}
	free(r->slot);
	free(r->roots);
	free(r);
}

bool
route_listed(const struct route *r, const char *schema, const char *table)
{
	if (r->all)
		return true;
	for (size_t i = 0; i < r->nsel; i++)
		if ((r->sel[i].schema == NULL ||
			 strcmp(r->sel[i].schema, schema) == 0) &&
			(r->sel[i].table == NULL || strcmp(r->sel[i].table, table) == 0))
			return true;
	return false;
}

/* FNV-1a over schema, a NUL, table. */
static size_t
hash_name(const char *schema, const char *table)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (const char *p = schema; *p; p++)
		h = (h ^ (unsigned char) *p) * UINT64_C(1099511628211);
	h *= UINT64_C(1099511628211);
	for (const char *p = table; *p; p++)
		h = (h ^ (unsigned char) *p) * UINT64_C(1099511628211);
	return (size_t) h;
}

/* The slot of schema.table: its entry, or the free slot it would take. */
static size_t
find_slot(const struct route *r, const char *schema, const char *table)
{
	size_t i = hash_name(schema, table) & (r->nslot - 1);

	while (r->slot[i] && (strcmp(r->slot[i]->schema, schema) != 0 ||
						  strcmp(r->slot[i]->table, table) != 0))
		i = (i + 1) & (r->nslot - 1);
	return i;
}

struct route_entry *
route_find(const struct route *r, const char *schema, const char *table)
{
	return r->slot[find_slot(r, schema, table)];
}

static void
grow(struct route *r)
{
	struct route_entry **old = r->slot;
	size_t nold = r->nslot;

	r->nslot *= 2;
	r->slot = wp_calloc(r->nslot, sizeof(*r->slot));
	for (size_t i = 0; i < nold; i++)
		if (old[i])
			r->slot[find_slot(r, old[i]->schema, old[i]->table)] = old[i];
	free(old);
}

struct route_entry *
route_add(struct route *r, const char *schema, const char *table,
		  enum route_kind kind, const char *root_schema,
		  const char *root_table)
{
	size_t i = find_slot(r, schema, table);
	struct route_entry *e = r->slot[i];

	if (e == NULL) {
		/* At most half full: probes stay short. */
		if (2 * (r->n + 1) > r->nslot) {
			grow(r);
			i = find_slot(r, schema, table);
		}
		e = wp_calloc(1, sizeof(*e));
		e->kind = ROUTE_KEEP;
		e->schema = wp_strdup(schema);
		e->table = wp_strdup(table);
		r->slot[i] = e;
		r->n++;
	}
	free((char *) e->root_schema);
	free((char *) e->root_table);
	if (kind == ROUTE_ROOT && e->kind != ROUTE_ROOT) {
		r->roots = wp_realloc(r->roots, (r->nroots + 1) * sizeof(*r->roots));
		r->roots[r->nroots++] = e;
	} else if (kind != ROUTE_ROOT && e->kind == ROUTE_ROOT) {
		for (size_t k = 0; k < r->nroots; k++)
			if (r->roots[k] == e) {
				memmove(&r->roots[k], &r->roots[k + 1],
						(r->nroots - k - 1) * sizeof(*r->roots));
				r->nroots--;
				break;
			}
	}
	e->kind = kind;
	e->root_schema = root_schema ? wp_strdup(root_schema) : NULL;
	e->root_table = root_table ? wp_strdup(root_table) : NULL;
	return e;
}

size_t
route_count(const struct route *r)
{
	return r->n;
}

bool
route_listed_table(const struct route *r, size_t i, const char **schema,
				   const char **table)
{
	for (size_t k = 0; k < r->nsel; k++) {
		if (r->sel[k].schema == NULL || r->sel[k].table == NULL)
			continue;
		if (i-- == 0) {
			*schema = r->sel[k].schema;
			*table = r->sel[k].table;
			return true;
		}
	}
	return false;
}

const struct route_entry *
route_root(const struct route *r, size_t i)
{
	return i < r->nroots ? r->roots[i] : NULL;
}
