/* mirror.c: whole-database mirrors: table patterns, a target table's DDL from the source catalog, and which type changes widen. */
#include "walpipe/mirror.h"

#include "walpipe/ident.h"
#include "walpipe/map.h"
#include "walpipe/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- patterns ---- */

static bool
pattern_byte_ok(unsigned char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		c == '*' || c >= 0x80)
		return true;
	return !first && ((c >= '0' && c <= '9') || c == '$');
}

/*
 * One part of a pattern, [s, s + n): a quoted or plain name goes through
 * ident_parse; an unquoted part with '*' is checked byte by byte as
 * ident.c checks an unquoted name, and folded the same way.
 */
static bool
parse_part(const char *s, size_t n, char **out, bool *glob, char *err,
		   size_t errlen)
{
	char *text = wp_strndup(s, n);
	struct ident_name name;

	*glob = false;
	if (text[0] == '"' && ident_parse(text, 1, 1, &name, err, errlen)) {
		/* A quoted part is exact but for its wildcards: mixed-case
		 * names (Prisma's "User*") need them there too. */
		free(text);
		*out = name.part[0];
		*glob = strchr(*out, '*') != NULL;
		name.part[0] = NULL;
		ident_name_free(&name);
		return true;
	}
	if (memchr(text, '*', n)) {
		if (memchr(text, '"', n)) {
			snprintf(err, errlen,
					 "quote a part whole or not at all");
			free(text);
			return false;
		}
		if (n > IDENT_MAXLEN) {
			snprintf(err, errlen, "a part is longer than %d bytes",
					 IDENT_MAXLEN);
			free(text);
			return false;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char) text[i];

			if (!pattern_byte_ok(c, i == 0)) {
				snprintf(err, errlen,
						 "unexpected \"%c\" in \"%s\"; quote a part that "
						 "holds other characters, as in public.\"%s\"",
						 c, text, text);
				free(text);
				return false;
			}
			if (c >= 'A' && c <= 'Z')
				text[i] = (char) (c - 'A' + 'a');
		}
		*out = text;
		*glob = true;
		return true;
	}
	if (!ident_parse(text, 1, 1, &name, err, errlen)) {
		free(text);
		return false;
	}
	free(text);
	*out = name.part[0];
	name.part[0] = NULL;
	ident_name_free(&name);
	return true;
}

bool
mirror_pattern_parse(const char *s, struct mirror_pattern *out, char *err,
					 size_t errlen)
{
	const char *dot = NULL;
	bool quoted = false;
	char reason[200];

	memset(out, 0, sizeof(*out));
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '.' && !quoted) {
			if (dot) {
				snprintf(reason, sizeof(reason),
						 "more than two parts; a pattern is schema.table");
				goto fail;
			}
			dot = p;
		}
	}
	if (!dot) {
		snprintf(reason, sizeof(reason),
				 "a pattern is schema.table, as in public.* or "
				 "public.orders");
		goto fail;
	}
	if (!parse_part(s, (size_t) (dot - s), &out->part[0], &out->glob[0],
					reason, sizeof(reason)) ||
		!parse_part(dot + 1, strlen(dot + 1), &out->part[1], &out->glob[1],
					reason, sizeof(reason)))
		goto fail;
	return true;

fail:
	mirror_pattern_free(out);
	snprintf(err, errlen, "invalid table pattern \"%s\": %s", s, reason);
	return false;
}

void
mirror_pattern_free(struct mirror_pattern *p)
{
	if (!p)
		return;
	free(p->part[0]);
	free(p->part[1]);
	memset(p, 0, sizeof(*p));
}

/* Whether s matches glob g ('*': any run), iteratively: on a mismatch
 * after a star, the star takes one more byte. */
static bool
glob_match(const char *g, const char *s)
{
	const char *star = NULL, *retry = NULL;

	while (*s) {
		if (*g == '*') {
			star = g++;
			retry = s;
		} else if (*g == *s) {
			g++;
			s++;
		} else if (star) {
			g = star + 1;
			s = ++retry;
		} else
			return false;
	}
	while (*g == '*')
		g++;
	return *g == '\0';
}

static bool
part_match(const char *part, bool glob, const char *name)
{
	return glob ? glob_match(part, name) : strcmp(part, name) == 0;
}

bool
mirror_pattern_match(const struct mirror_pattern *p, const char *schema,
					 const char *table)
{
	return part_match(p->part[0], p->glob[0], schema) &&
		   part_match(p->part[1], p->glob[1], table);
}

void
mirror_pattern_append_w2j(struct buf *b, const struct mirror_pattern *p)
{
	if (!p->glob[0] && !p->glob[1])
		ident_append_w2j(b, p->part[0], p->part[1]);
	else if (!p->glob[0])
		ident_append_w2j_all(b, p->part[0]);
	else if (!p->glob[1]) {
		buf_append_str(b, "*.");
		ident_append_w2j_part(b, p->part[1]);
	} else
		buf_append_str(b, "*.*");
}

/* Whether a glob part reads back unquoted: [a-z_*][a-z0-9_$*]*, so the
 * folding of an unquoted part leaves it as it is. */
static bool
glob_plain(const char *g)
{
	for (const char *p = g; *p; p++) {
		unsigned char c = (unsigned char) *p;

		if (!((c >= 'a' && c <= 'z') || c == '_' || c == '*' ||
			  (p > g && ((c >= '0' && c <= '9') || c == '$'))))
			return false;
	}
	return true;
}

void
mirror_pattern_append(struct buf *b, const struct mirror_pattern *p)
{
	for (int i = 0; i < 2; i++) {
		if (i == 1)
			buf_append_char(b, '.');
		if (p->glob[i] && glob_plain(p->part[i]))
			buf_append_str(b, p->part[i]);
		else
			ident_append(b, p->part[i]);
	}
}

/* ---- target DDL ---- */

void
mirror_append_create_table(struct buf *b, const char *schema,
						   const struct mirror_table *t)
{
	buf_append_str(b, "CREATE TABLE ");
	map_quote_ident(b, schema);
	buf_append_char(b, '.');
	map_quote_ident(b, t->table);
	buf_append_str(b, " (");
	for (size_t i = 0; i < t->ncols; i++) {
		buf_append_str(b, i ? ",\n    " : "\n    ");
		map_quote_ident(b, t->cols[i].name);
		buf_append_char(b, ' ');
		buf_append_str(b, t->cols[i].type);
		if (t->cols[i].not_null)
			buf_append_str(b, " NOT NULL");
	}
	if (t->nkey > 0) {
		buf_append_str(b, t->ncols ? ",\n    PRIMARY KEY (" : "\n    PRIMARY KEY (");
		for (size_t i = 0; i < t->nkey; i++) {
			if (i)
				buf_append_str(b, ", ");
			map_quote_ident(b, t->cols[t->key[i]].name);
		}
		buf_append_char(b, ')');
	}
	buf_append_str(b, "\n)");
}

/* ---- type changes ---- */

/*
 * A format_type() text taken apart: "timestamp(3) without time zone[]"
 * is name "timestamp without time zone", mods {3}, dims 1.
 */
struct typetext {
	char name[128];
	long mod[2];
	int nmods;
	int dims;
};

static bool
typetext_parse(const char *s, struct typetext *t)
{
	size_t n = strlen(s), w = 0;
	const char *p;

	memset(t, 0, sizeof(*t));
	while (n >= 2 && s[n - 2] == '[' && s[n - 1] == ']') {
		t->dims++;
		n -= 2;
	}
	for (p = s; p < s + n; p++) {
		if (*p == '(') {
			char *end;

			/* Only the first parenthesised list counts as modifiers;
			 * a quoted user type's name holds none (it is compared
			 * whole below). */
			if (t->nmods || memchr(s, '"', n))
				return false;
			do {
				if (t->nmods == 2)
					return false;
				t->mod[t->nmods++] = strtol(p + 1, &end, 10);
				if (end == p + 1)
					return false;
				p = end;
			} while (*p == ',');
			if (*p != ')')
				return false;
			continue;
		}
		if (w + 1 >= sizeof(t->name))
			return false;
		t->name[w++] = *p;
	}
	t->name[w] = '\0';
	return true;
}

static bool
is(const struct typetext *t, const char *name)
{
	return strcmp(t->name, name) == 0;
}

static int
int_rank(const struct typetext *t)
{
	if (is(t, "smallint"))
		return 1;
	if (is(t, "integer"))
		return 2;
	if (is(t, "bigint"))
		return 3;
	return 0;
}

/* Digits left of the point each integer type needs. */
static const long int_digits[] = {0, 5, 10, 19};

static bool
time_kind(const struct typetext *t)
{
	return is(t, "timestamp without time zone") ||
		   is(t, "timestamp with time zone") ||
		   is(t, "time without time zone") ||
		   is(t, "time with time zone") || is(t, "interval");
}

static bool
widens(const struct typetext *f, const struct typetext *to)
{
	int rf = int_rank(f), rt = int_rank(to);

	if (rf && rt)
		return rt > rf;
	if (rf && is(to, "numeric"))
		return to->nmods == 0 ||
			   to->mod[0] - (to->nmods > 1 ? to->mod[1] : 0) >=
				   int_digits[rf];
	if (is(f, "real"))
		return is(to, "double precision");
	if (is(f, "character varying"))
		return is(to, "text") ||
			   (is(to, "character varying") &&
				f->nmods == 1 && (to->nmods == 0 || to->mod[0] >= f->mod[0]));
	if (is(f, "numeric") && is(to, "numeric") && f->nmods > 0) {
		long fs = f->nmods > 1 ? f->mod[1] : 0;
		long ts = to->nmods > 1 ? to->mod[1] : 0;

		return to->nmods == 0 ||
			   (ts >= fs && to->mod[0] - ts >= f->mod[0] - fs);
	}
	if (is(f, "bit varying") && is(to, "bit varying"))
		return f->nmods == 1 && (to->nmods == 0 || to->mod[0] >= f->mod[0]);
	if (time_kind(f) && is(f, to->name)) {
		long fp = f->nmods ? f->mod[0] : 6;
		long tp = to->nmods ? to->mod[0] : 6;

		return tp >= fp;
	}
	return false;
}

enum mirror_type_change
mirror_type_change(const char *from, const char *to)
{
	struct typetext f, t;

	if (strcmp(from, to) == 0)
		return MIRROR_TYPE_SAME;
	if (!typetext_parse(from, &f) || !typetext_parse(to, &t) ||
		f.dims != t.dims)
		return MIRROR_TYPE_OTHER;
	return widens(&f, &t) ? MIRROR_TYPE_WIDER : MIRROR_TYPE_OTHER;
}

/* ---- rules ---- */

const char *
mirror_meta_type(enum map_meta meta)
{
	switch (meta) {
	case MAP_META_LSN: return "pg_lsn";
	case MAP_META_XID: return "bigint";
	case MAP_META_COMMIT_TIME: return "timestamp with time zone";
	case MAP_META_OP:
	case MAP_META_SOURCE: break;
	}
	return "text";
}

/*
 * A rule and everything it points to in one allocation's worth of
 * bookkeeping: the map_rule first, so that mirror_rule_free can find the
 * rest from the pointer it hands out.
 */
struct owned_rule {
	struct map_rule rule;
	char **strings;
	size_t nstrings;
	struct map_column *cols;
	const char **key;
};

static const char *
keep(struct owned_rule *o, const char *s)
{
	if (!s)
		return NULL;
	o->strings[o->nstrings] = wp_strdup(s);
	return o->strings[o->nstrings++];
}

struct map_rule *
mirror_rule_new(const struct mirror_spec *spec, const char *schema,
				const struct mirror_table *t)
{
	struct owned_rule *o = wp_calloc(1, sizeof(*o));
	size_t ncols = t->ncols + spec->nmeta;

	/* schema, table twice, to, soft delete, then one per column. */
	o->strings = wp_calloc(5 + ncols, sizeof(*o->strings));
	o->cols = wp_calloc(ncols ? ncols : 1, sizeof(*o->cols));
	o->key = wp_calloc(t->nkey ? t->nkey : 1, sizeof(*o->key));
	o->rule.from_schema = keep(o, schema);
	o->rule.from_table = keep(o, t->table);
	o->rule.to_schema = keep(o, spec->to);
	o->rule.to_table = keep(o, t->table);
	for (size_t i = 0; i < t->ncols; i++) {
		o->cols[i].target = keep(o, t->cols[i].name);
		o->cols[i].src = MAP_SRC_COLUMN;
		o->cols[i].column = o->cols[i].target;
	}
	for (size_t i = 0; i < spec->nmeta; i++) {
		struct map_column *c = &o->cols[t->ncols + i];

		c->target = keep(o, spec->meta[i].target);
		c->src = MAP_SRC_META;
		c->meta = spec->meta[i].meta;
	}
	for (size_t i = 0; i < t->nkey; i++)
		o->key[i] = o->cols[t->key[i]].target;
	o->rule.mode = t->nkey ? MAP_MODE_UPSERT : MAP_MODE_KEYLESS;
	o->rule.key = o->key;
	o->rule.nkey = t->nkey;
	o->rule.cols = o->cols;
	o->rule.ncols = ncols;
	o->rule.soft_delete_column = keep(o, spec->soft_delete_column);
	o->rule.on_delete =
		spec->soft_delete_column ? MAP_DELETE_SOFT : MAP_DELETE_DELETE;
	o->rule.on_truncate = MAP_TRUNCATE_TRUNCATE;
	return &o->rule;
}

void
mirror_rule_free(struct map_rule *r)
{
	struct owned_rule *o = (struct owned_rule *) r;

	if (!o)
		return;
	for (size_t i = 0; i < o->nstrings; i++)
		free(o->strings[i]);
	free(o->strings);
	free(o->cols);
	free(o->key);
	free(o);
}

struct mirror_column *
mirror_target_columns(const struct mirror_spec *spec,
					  const struct mirror_table *t, size_t *n)
{
	size_t total = t->ncols + spec->nmeta + (spec->soft_delete_column ? 1 : 0);
	struct mirror_column *c = wp_calloc(total ? total : 1, sizeof(*c));
	size_t k = 0;

	for (size_t i = 0; i < t->ncols; i++)
		c[k++] = t->cols[i];
	for (size_t i = 0; i < spec->nmeta; i++) {
		c[k].name = spec->meta[i].target;
		c[k++].type = mirror_meta_type(spec->meta[i].meta);
	}
	if (spec->soft_delete_column) {
		c[k].name = spec->soft_delete_column;
		c[k++].type = mirror_meta_type(MAP_META_COMMIT_TIME);
	}
	*n = k;
	return c;
}
