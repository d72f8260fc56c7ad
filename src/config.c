/* config.c: the YAML configuration of one source: loading, validation, the typed result. */
#include "walpipe/config.h"

#include "walpipe/buf.h"
#include "walpipe/ident.h"
#include "walpipe/kafka_msg.h"
#include "walpipe/mem.h"
#include "walpipe/version.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ------------------------------------------------------------------ */
/* A small YAML document tree with positions, built with libyaml.      */

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ykind kind;
	char *value;	/* scalar text */
	bool plain;		/* unquoted scalar (so "null" and "~" mean null) */
	int line, col;	/* 1-based */
	struct ynode **kids; /* SEQ: items; MAP: key, value, key, value... */
	size_t nkids;
};

static void
ynode_free(struct ynode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n);
}

static void
ynode_add(struct ynode *parent, struct ynode *kid)
{
	parent->kids = wp_realloc(parent->kids,
							  (parent->nkids + 1) * sizeof(*parent->kids));
	parent->kids[parent->nkids++] = kid;
}

struct loader {
	const char *file;
	struct config_errors *errs;
	struct wp_config *cfg;
	char path[256]; /* the key path being validated */
	int *pos;		/* line * 100000 + column of each error, for sorting */
	bool quoted;	/* the scalar set_field converts was YAML-quoted */
};

static void
add_error(struct loader *L, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
add_error(struct loader *L, int line, int col, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	buf_appendf(&b, "%s:%d:%d: ", L->file, line, col);
	if (L->path[0])
		buf_appendf(&b, "%s: ", L->path);
	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	L->errs->msg = wp_realloc(L->errs->msg,
							  (L->errs->n + 1) * sizeof(*L->errs->msg));
	L->pos = wp_realloc(L->pos, (L->errs->n + 1) * sizeof(*L->pos));
	L->pos[L->errs->n] = line * 100000 + (col < 100000 ? col : 99999);
	L->errs->msg[L->errs->n++] = b.data;
}

/* Build the tree; aliases are refused (they make "which line" ambiguous). */
static struct ynode *
yaml_tree(struct loader *L, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ynode *stack[64];
	int depth = 0;
	struct ynode *root = NULL;
	bool done = false, failed = false;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
	while (!done) {
		struct ynode *n = NULL;

		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.context)
				add_error(L, (int) parser.problem_mark.line + 1,
						  (int) parser.problem_mark.column + 1,
						  "invalid YAML: %s %s started at line %d, column %d",
						  parser.problem, parser.context,
						  (int) parser.context_mark.line + 1,
						  (int) parser.context_mark.column + 1);
			else
				add_error(L, (int) parser.problem_mark.line + 1,
						  (int) parser.problem_mark.column + 1,
						  "invalid YAML: %s", parser.problem);
			failed = true;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (root) {
				add_error(L, (int) ev.start_mark.line + 1,
						  (int) ev.start_mark.column + 1,
						  "more than one YAML document in the file");
				failed = true;
				done = true;
			}
			break;
		case YAML_ALIAS_EVENT:
			add_error(L, (int) ev.start_mark.line + 1,
					  (int) ev.start_mark.column + 1,
					  "YAML aliases are not supported");
			failed = true;
			done = true;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			n = wp_calloc(1, sizeof(*n));
			n->line = (int) ev.start_mark.line + 1;
			n->col = (int) ev.start_mark.column + 1;
			if (ev.type == YAML_SCALAR_EVENT) {
				n->kind = Y_SCALAR;
				n->value = wp_strndup((const char *) ev.data.scalar.value,
									  ev.data.scalar.length);
				n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			} else {
				n->kind = ev.type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP;
			}
			/* Every reader of the tree takes a mapping's keys for
			 * scalars: refuse any other key here, once. */
			if (depth > 0 && stack[depth - 1]->kind == Y_MAP &&
				stack[depth - 1]->nkids % 2 == 0 && n->kind != Y_SCALAR) {
				add_error(L, n->line, n->col,
						  "a mapping key must be a plain name, not %s",
						  n->kind == Y_SEQ ? "a list" : "a mapping");
				ynode_free(n);
				failed = true;
				done = true;
				break;
			}
			if (depth > 0)
				ynode_add(stack[depth - 1], n);
			else
				root = n;
			if (n->kind != Y_SCALAR) {
				if (depth >= 63) {
					add_error(L, n->line, n->col, "nesting too deep");
					failed = true;
					done = true;
					break;
				}
				stack[depth++] = n;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (failed) {
		ynode_free(root);
		return NULL;
	}
	return root;
}

/* ------------------------------------------------------------------ */
/* Scalar conversions.                                                  */

static const char *
kind_name(const struct ynode *n)
{
	return n->kind == Y_MAP ? "a mapping"
		   : n->kind == Y_SEQ ? "a list"
							  : "a scalar";
}

static bool
is_null(const struct ynode *n)
{
	return n->kind == Y_SCALAR && n->plain &&
		   (n->value[0] == '\0' || strcmp(n->value, "null") == 0 ||
			strcmp(n->value, "~") == 0);
}

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
static bool
load_name(struct loader *L, const char *v, bool quoted, int nparts,
		  const char *what, int line, int col, struct ident_name *out)
{
	char err[200];

	if (!ident_parse(v, nparts, nparts, out, err, sizeof(err))) {
		add_error(L, line, col, "invalid %s \"%s\": %s; expected %s%s", what,
				  v, err, nparts == 2 ? "schema.table, each part " : "",
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
		add_error(L, line, col,
				  "name \"%s\" would fold to \"%s\": YAML quotes are not SQL "
				  "quotes; write %s for the exact name",
				  v, fold.data, fix.data);
		buf_free(&fold);
		buf_free(&fix);
		ident_name_free(out);
		return false;
	}
	return true;
}

/* "schema.table" into two malloc'd exact names, or an error. */
static bool
load_qname(struct loader *L, const struct ynode *v, const char *what,
		   char **schema, char **table)
{
	struct ident_name n;

	if (!load_name(L, v->value, !v->plain, 2, what, v->line, v->col, &n))
		return false;
	*schema = n.part[0];
	*table = n.part[1];
	return true;
}

/* One name (a column, a schema) into a malloc'd exact name, or NULL. */
static char *
load_name1(struct loader *L, const struct ynode *v, const char *what)
{
	struct ident_name n;

	if (!load_name(L, v->value, !v->plain, 1, what, v->line, v->col, &n))
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

static bool
parse_duration(const char *s, int64_t *out)
{
	static const char *const u[] = {"ms", "s", "m", "h", "d"};
	static const int64_t f[] = {1, 1000, 60000, 3600000, 86400000};

	return parse_with_unit(s, u, f, 5, out);
}

static bool
parse_bool(const char *s, bool *out)
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

/* ------------------------------------------------------------------ */
/* The schema table of scalar keys.                                     */

enum ftype {
	F_STRING,
	F_IDENT, /* a plain lower-case name: source name, slot */
	F_NAME,	 /* a SQL name (ident.h) */
	F_QNAME, /* schema.table of SQL names */
	F_BOOL,
	F_INT,
	F_SIZE,
	F_DURATION,
	F_ENUM,
};

struct field {
	const char *key;
	enum ftype type;
	bool required;
	const char *def;   /* default text, parsed like a value; NULL: none */
	int64_t min, max;  /* INT, SIZE, DURATION */
	const char *enums; /* ENUM: "a|b|c" */
	bool reload;	   /* may change on SIGHUP (config_fixed_changes) */
	size_t off;		   /* into struct wp_config */
	size_t off2;	   /* QNAME: where the table part goes */
};

#define OFF(f) offsetof(struct wp_config, f)

static const struct field source_fields[] = {
	{"name", F_IDENT, true, NULL, 0, 0, NULL, false, OFF(source.name), 0},
	{"conninfo", F_STRING, true, NULL, 0, 0, NULL, false,
	 OFF(source.conninfo), 0},
	{"slot", F_IDENT, false, NULL, 0, 0, NULL, false, OFF(source.slot), 0},
	{"create_slot", F_BOOL, false, "false", 0, 0, NULL, true,
	 OFF(source.create_slot), 0},
	{"status_interval", F_DURATION, false, "10s", 100, 3600000, NULL, true,
	 OFF(source.status_interval_ms), 0},
	{"heartbeat", F_DURATION, false, NULL, 1000, 3600000, NULL, true,
	 OFF(source.heartbeat_ms), 0},
	{"state_dir", F_STRING, false, "/var/lib/walpipe", 0, 0, NULL, false,
	 OFF(source.state_dir), 0},
	{"tables", F_STRING, true, NULL, 0, 0, NULL, false, 0, 0}, /* custom */
	{NULL, 0, false, NULL, 0, 0, NULL, false, 0, 0},
};

static const struct field target_fields[] = {
	{"conninfo", F_STRING, true, NULL, 0, 0, NULL, false,
	 OFF(target.conninfo), 0},
	{"schema", F_NAME, false, "walpipe", 0, 0, NULL, false,
	 OFF(target.schema), 0},
	{"statement_timeout", F_DURATION, false, "5m", 0, 86400000, NULL,
	 true, OFF(target.statement_timeout_ms), 0},
	{NULL, 0, false, NULL, 0, 0, NULL, false, 0, 0},
};

static const struct field batch_fields[] = {
	{"max_changes", F_INT, false, "10000", 1, 10000000, NULL, true,
	 OFF(batch.max_changes), 0},
	{"max_bytes", F_SIZE, false, "16MB", 65536, 1073741824, NULL, true,
	 OFF(batch.max_bytes), 0},
	{"max_delay", F_DURATION, false, "200ms", 1, 3600000, NULL, true,
	 OFF(batch.max_delay_ms), 0},
	{NULL, 0, false, NULL, 0, 0, NULL, false, 0, 0},
};

static const struct field staging_fields[] = {
	{"table", F_QNAME, true, NULL, 0, 0, NULL, true, OFF(staging.schema),
	 OFF(staging.table)},
	{"partition", F_ENUM, false, "month", 0, 0, "day|week|month", true,
	 OFF(staging.partition), 0},
	{"premake", F_INT, false, "2", 0, 36, NULL, true, OFF(staging.premake),
	 0},
	{"retention", F_DURATION, false, NULL, 86400000, INT64_MAX, NULL, true,
	 OFF(staging.retention_ms), 0},
	{"messages", F_BOOL, false, "false", 0, 0, NULL, true,
	 OFF(staging.messages), 0},
	{"unmapped", F_BOOL, false, "true", 0, 0, NULL, true,
	 OFF(staging.unmapped), 0},
	{NULL, 0, false, NULL, 0, 0, NULL, false, 0, 0},
};

static const struct field snapshot_fields[] = {
	{"mode", F_ENUM, false, "initial", 0, 0, "initial|never", true,
	 OFF(snapshot.mode), 0},
	{"workers", F_INT, false, "2", 1, 16, NULL, true, OFF(snapshot.workers),
	 0},
	{"op", F_ENUM, false, "r", 0, 0, "r|I", true, OFF(snapshot.op), 0},
	{NULL, 0, false, NULL, 0, 0, NULL, false, 0, 0},
};

static const struct field metrics_fields[] = {
	{"listen", F_STRING, false, "127.0.0.1:9187", 0, 0, NULL, false,
	 OFF(metrics.listen), 0},
	{NULL, 0, false, NULL, 0, 0, NULL, false, 0, 0},
};

static const struct field log_fields[] = {
	{"format", F_ENUM, false, "text", 0, 0, "json|text", true,
	 OFF(log.format), 0},
	{"level", F_ENUM, false, "info", 0, 0, "debug|info|notice|warning|error",
	 true, OFF(log.level), 0},
	{NULL, 0, false, NULL, 0, 0, NULL, false, 0, 0},
};

static const struct field kafka_fields[] = {
	{"brokers", F_STRING, true, NULL, 0, 0, NULL, true, OFF(kafka.brokers),
	 0},
	{"topic", F_STRING, false, "{source}.{schema}.{table}", 0, 0, NULL, true,
	 OFF(kafka.topic), 0},
	{"format", F_ENUM, false, "debezium", 0, 0, "debezium|wal2json", true,
	 OFF(kafka.format), 0},
	{"tombstones", F_BOOL, false, "true", 0, 0, NULL, true,
	 OFF(kafka.tombstones), 0},
	{"properties", F_STRING, false, NULL, 0, 0, NULL, true, 0, 0}, /* custom */
	{NULL, 0, false, NULL, 0, 0, NULL, false, 0, 0},
};

/* Every section's table, for what must not change on a reload. */
static const struct {
	const char *name;
	const struct field *fields;
} sections[] = {
	{"source", source_fields},	   {"target", target_fields},
	{"batch", batch_fields},	   {"staging", staging_fields},
	{"snapshot", snapshot_fields}, {"metrics", metrics_fields},
	{"log", log_fields},		   {"kafka", kafka_fields},
};

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Whether field f holds the same value in a and b. */
static bool
same_field(const struct field *f, const struct wp_config *a,
		   const struct wp_config *b)
{
	const char *pa = (const char *) a, *pb = (const char *) b;

	switch (f->type) {
	case F_BOOL:
		return *(const bool *) (pa + f->off) == *(const bool *) (pb + f->off);
	case F_INT:
	case F_SIZE:
	case F_DURATION:
		return *(const int64_t *) (pa + f->off) ==
			   *(const int64_t *) (pb + f->off);
	case F_QNAME:
		if (!same_text(*(char *const *) (pa + f->off2),
					   *(char *const *) (pb + f->off2)))
			return false;
		/* FALLTHROUGH */
	default:
		return same_text(*(char *const *) (pa + f->off),
						 *(char *const *) (pb + f->off));
	}
}

size_t
config_fixed_changes(const struct wp_config *old, const struct wp_config *cfg,
					 char ***keys)
{
	char **out = NULL;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		for (const struct field *f = sections[i].fields; f->key; f++) {
			bool tables = sections[i].fields == source_fields &&
						  strcmp(f->key, "tables") == 0;
			bool same;
			size_t len;

			if (f->reload)
				continue;
			/* source.tables is loaded by hand (a list): compare it so. */
			same = tables ? old->source.ntables == cfg->source.ntables
						  : same_field(f, old, cfg);
			for (size_t k = 0; tables && same && k < old->source.ntables; k++)
				same = strcmp(old->source.tables[k], cfg->source.tables[k]) ==
					   0;
			if (same)
				continue;
			len = strlen(sections[i].name) + strlen(f->key) + 2;
			out = wp_realloc(out, (n + 1) * sizeof(*out));
			out[n] = wp_malloc(len);
			snprintf(out[n++], len, "%s.%s", sections[i].name, f->key);
		}
	}
	*keys = out;
	return n;
}

static bool
enum_has(const char *enums, const char *v)
{
	size_t n = strlen(v);
	const char *p = enums;

	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t) (bar - p) : strlen(p);

		if (len == n && strncmp(p, v, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

static void
enum_list(struct buf *b, const char *enums)
{
	for (const char *p = enums; *p; p++) {
		if (*p == '|')
			buf_append_str(b, strchr(p + 1, '|') ? ", " : " or ");
		else
			buf_append_char(b, *p);
	}
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

/* Convert one scalar (or a default text) into its field; false = error
 * reported. */
static bool
set_field(struct loader *L, const struct field *f, const char *v, int line,
		  int col)
{
	char *base = (char *) L->cfg;
	int64_t num = 0;
	bool b;

	switch (f->type) {
	case F_STRING:
		if (v[0] == '\0') {
			add_error(L, line, col, "must not be empty");
			return false;
		}
		*(char **) (base + f->off) = wp_strdup(v);
		return true;
	case F_IDENT:
		if (!valid_ident(v)) {
			add_error(L, line, col,
					  "invalid name \"%s\": use 1 to 63 lower case letters, "
					  "digits and underscores, not starting with a digit",
					  v);
			return false;
		}
		*(char **) (base + f->off) = wp_strdup(v);
		return true;
	case F_NAME:
	case F_QNAME: {
		struct ident_name n;

		if (!load_name(L, v, L->quoted, f->type == F_QNAME ? 2 : 1,
					   f->type == F_QNAME ? "table name" : "name", line, col,
					   &n))
			return false;
		*(char **) (base + f->off) = n.part[0];
		if (f->type == F_QNAME)
			*(char **) (base + f->off2) = n.part[1];
		return true;
	}
	case F_BOOL:
		if (!parse_bool(v, &b)) {
			add_error(L, line, col,
					  "invalid boolean \"%s\": expected true or false", v);
			return false;
		}
		*(bool *) (base + f->off) = b;
		return true;
	case F_INT:
		if (!parse_int(v, &num)) {
			add_error(L, line, col, "invalid integer \"%s\"", v);
			return false;
		}
		break;
	case F_SIZE:
		if (!parse_size(v, &num)) {
			add_error(L, line, col,
					  "invalid size \"%s\": expected a number with unit B, "
					  "kB, MB or GB",
					  v);
			return false;
		}
		break;
	case F_DURATION:
		if (!parse_duration(v, &num)) {
			add_error(L, line, col,
					  "invalid duration \"%s\": expected a number with unit "
					  "ms, s, m, h or d",
					  v);
			return false;
		}
		break;
	case F_ENUM:
		if (!enum_has(f->enums, v)) {
			struct buf m = BUF_INIT;

			enum_list(&m, f->enums);
			add_error(L, line, col, "invalid value \"%s\": expected %s", v,
					  m.data);
			buf_free(&m);
			return false;
		}
		*(char **) (base + f->off) = wp_strdup(v);
		return true;
	}
	if (num < f->min || num > f->max) {
		char lo[32], hi[32];

		format_bound(f->type, f->min, lo, sizeof(lo));
		format_bound(f->type, f->max, hi, sizeof(hi));
		if (f->max == INT64_MAX)
			add_error(L, line, col, "%s is out of range: expected at least %s",
					  v, lo);
		else
			add_error(L, line, col, "%s is out of range: expected %s to %s",
					  v, lo, hi);
		return false;
	}
	*(int64_t *) (base + f->off) = num;
	return true;
}

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

static void
unknown_key(struct loader *L, const struct ynode *k, const char *const *keys,
			size_t n)
{
	const char *near = nearest_key(k->value, keys, n);
	struct buf m = BUF_INIT;

	for (size_t i = 0; i < n; i++)
		buf_appendf(&m, "%s%s", i ? ", " : "", keys[i]);
	if (near)
		add_error(L, k->line, k->col,
				  "unknown key \"%s\" (did you mean \"%s\"?); valid keys: %s",
				  k->value, near, m.data);
	else
		add_error(L, k->line, k->col, "unknown key \"%s\"; valid keys: %s",
				  k->value, m.data);
	buf_free(&m);
}

/* Path helpers: push ".key" or "[i]" onto L->path, pop by length. */
static size_t
path_push(struct loader *L, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static size_t
path_push(struct loader *L, const char *fmt, ...)
{
	size_t old = strlen(L->path);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(L->path + old, sizeof(L->path) - old, fmt, ap);
	va_end(ap);
	return old;
}

static void
path_pop(struct loader *L, size_t old)
{
	L->path[old] = '\0';
}

static const struct ynode *
map_get(const struct ynode *m, const char *key)
{
	if (m == NULL || m->kind != Y_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < m->nkids; i += 2)
		if (m->kids[i]->kind == Y_SCALAR && strcmp(m->kids[i]->value, key) == 0)
			return m->kids[i + 1];
	return NULL;
}

/* Check a section mapping against its field table (extra: keys handled
 * by the caller).  Applies defaults.  Returns false if it is no mapping. */
static bool
load_section(struct loader *L, const struct ynode *m, const char *name,
			 const struct field *fields, int pline, int pcol)
{
	const char *keys[16];
	size_t nkeys = 0;
	size_t old = path_push(L, "%s%s", L->path[0] ? "." : "", name);

	for (const struct field *f = fields; f->key; f++)
		keys[nkeys++] = f->key;
	if (m == NULL || is_null(m)) {
		for (const struct field *f = fields; f->key; f++) {
			if (f->required) {
				add_error(L, pline, pcol, "missing required key \"%s\"",
						  f->key);
			} else if (f->def) {
				set_field(L, f, f->def, pline, pcol);
			}
		}
		path_pop(L, old);
		return m != NULL;
	}
	if (m->kind != Y_MAP) {
		add_error(L, m->line, m->col, "expected a mapping, found %s",
				  kind_name(m));
		path_pop(L, old);
		return false;
	}
	for (size_t i = 0; i + 1 < m->nkids; i += 2) {
		const struct ynode *k = m->kids[i], *v = m->kids[i + 1];
		const struct field *f;

		for (f = fields; f->key; f++)
			if (k->kind == Y_SCALAR && strcmp(f->key, k->value) == 0)
				break;
		if (f->key == NULL) {
			unknown_key(L, k, keys, nkeys);
			continue;
		}
		{
			bool dup = false;

			for (size_t j = 0; j < i && !dup; j += 2)
				dup = strcmp(m->kids[j]->value, k->value) == 0;
			if (dup) {
				/* The first value stays: setting it again would leak it. */
				add_error(L, k->line, k->col, "duplicate key \"%s\"",
						  k->value);
				continue;
			}
		}
		if ((f->off == 0 && f->off2 == 0))
			continue; /* custom: the caller reads it */
		{
			size_t o2 = path_push(L, ".%s", f->key);

			if (v->kind != Y_SCALAR || (is_null(v) && f->required))
				add_error(L, v->line, v->col, "expected a %s, found %s",
						  f->type == F_BOOL ? "boolean" : "value",
						  is_null(v) ? "null" : kind_name(v));
			else if (!is_null(v)) {
				L->quoted = !v->plain;
				set_field(L, f, v->value, v->line, v->col);
				L->quoted = false;
			}
			path_pop(L, o2);
		}
	}
	for (const struct field *f = fields; f->key; f++) {
		if (map_get(m, f->key))
			continue;
		if (f->required)
			add_error(L, m->line, m->col, "missing required key \"%s\"",
					  f->key);
		else if (f->def)
			set_field(L, f, f->def, m->line, m->col);
	}
	path_pop(L, old);
	return true;
}

/* ------------------------------------------------------------------ */
/* Mappings.                                                            */

static bool
meta_of(const char *s, enum map_meta *out)
{
	static const struct {
		const char *name;
		enum map_meta m;
	} metas[] = {{"$lsn", MAP_META_LSN},
				 {"$xid", MAP_META_XID},
				 {"$commit_time", MAP_META_COMMIT_TIME},
				 {"$op", MAP_META_OP},
				 {"$source", MAP_META_SOURCE}};

	for (size_t i = 0; i < sizeof(metas) / sizeof(metas[0]); i++)
		if (strcmp(s, metas[i].name) == 0) {
			*out = metas[i].m;
			return true;
		}
	return false;
}

/* "col" or "col.key.key" into a column or a path (ident_parse_path). */
static bool
set_source_ref(struct loader *L, struct map_column *c, const struct ynode *v)
{
	char *column, **keys, err[200];
	size_t n;
	bool folded;

	if (!ident_parse_path(v->value, &column, &keys, &n, &folded, err,
						  sizeof(err))) {
		add_error(L, v->line, v->col,
				  "invalid source column \"%s\": %s; expected a column name "
				  "or a \"quoted name\", a path such as payload.user_id, or "
				  "one of $lsn, $xid, $commit_time, $op, $source",
				  v->value, err);
		return false;
	}
	if (!v->plain && folded) {
		struct buf fix = BUF_INIT, fold = BUF_INIT;

		ident_append(&fold, column);
		for (size_t i = 0; i < n; i++)
			buf_appendf(&fold, ".%s", keys[i]);
		ident_fold_hint(&fix, v->value);
		add_error(L, v->line, v->col,
				  "name \"%s\" would fold to \"%s\": YAML quotes are not SQL "
				  "quotes; write %s for the exact name",
				  v->value, fold.data, fix.data);
		buf_free(&fix);
		buf_free(&fold);
		free(column);
		for (size_t i = 0; i < n; i++)
			free(keys[i]);
		free(keys);
		return false;
	}
	c->column = column;
	c->src = n ? MAP_SRC_PATH : MAP_SRC_COLUMN;
	c->path = (const char *const *) keys;
	c->npath = n;
	return true;
}

static void
load_column(struct loader *L, struct config_mapping *m,
			const struct ynode *k, const struct ynode *v)
{
	struct map_column *c;
	size_t old = path_push(L, ".%s", k->value);
	char *target = load_name1(L, k, "target column name");

	if (target == NULL) {
		path_pop(L, old);
		return;
	}
	for (size_t i = 0; i < m->ncols; i++)
		if (strcmp(m->cols[i].target, target) == 0)
			add_error(L, k->line, k->col, "duplicate target column \"%s\"",
					  k->value);
	m->cols = wp_realloc(m->cols, (m->ncols + 1) * sizeof(*m->cols));
	c = &m->cols[m->ncols++];
	memset(c, 0, sizeof(*c));
	c->target = target;
	if (v->kind == Y_SCALAR && !is_null(v)) {
		if (v->value[0] == '$') {
			if (!meta_of(v->value, &c->meta))
				add_error(L, v->line, v->col,
						  "unknown metadata \"%s\": expected $lsn, $xid, "
						  "$commit_time, $op or $source",
						  v->value);
			c->src = MAP_SRC_META;
		} else {
			set_source_ref(L, c, v);
		}
	} else if (v->kind == Y_MAP) {
		const struct ynode *from = map_get(v, "from");
		const struct ynode *type = map_get(v, "type");
		const struct ynode *sql = map_get(v, "sql");
		static const char *const keys[] = {"from", "type", "sql"};

		for (size_t i = 0; i + 1 < v->nkids; i += 2) {
			const struct ynode *kk = v->kids[i], *vv = v->kids[i + 1];
			bool known = false;

			for (size_t j = 0; j < 3; j++)
				known |= strcmp(kk->value, keys[j]) == 0;
			if (!known)
				unknown_key(L, kk, keys, 3);
			else if (vv->kind != Y_SCALAR || is_null(vv) || !vv->value[0])
				add_error(L, vv->line, vv->col,
						  "\"%s\" must be a non-empty string", kk->value);
		}
		if ((from != NULL) == (sql != NULL)) {
			add_error(L, v->line, v->col,
					  "give exactly one of \"from\" (a source column) and "
					  "\"sql\" (an expression)");
		} else if (from && from->kind == Y_SCALAR && !is_null(from)) {
			if (from->value[0] == '$') {
				if (!meta_of(from->value, &c->meta))
					add_error(L, from->line, from->col,
							  "unknown metadata \"%s\"", from->value);
				c->src = MAP_SRC_META;
			} else {
				set_source_ref(L, c, from);
			}
		} else if (sql && sql->kind == Y_SCALAR && !is_null(sql)) {
			c->src = MAP_SRC_SQL;
			c->sql = wp_strdup(sql->value);
		}
		if (type && type->kind == Y_SCALAR && !is_null(type))
			c->type = wp_strdup(type->value);
		if (type && sql)
			add_error(L, type->line, type->col,
					  "\"type\" goes with \"from\"; cast inside the \"sql\" "
					  "expression instead");
	} else {
		add_error(L, v->line, v->col,
				  "expected a source column or a mapping with from/type or "
				  "sql, found %s",
				  is_null(v) ? "null" : kind_name(v));
	}
	path_pop(L, old);
}

static bool
col_mapped(const struct config_mapping *m, const char *target)
{
	for (size_t i = 0; i < m->ncols; i++)
		if (strcmp(m->cols[i].target, target) == 0)
			return true;
	return false;
}

static void
load_mapping(struct loader *L, struct config_mapping *m,
			 const struct ynode *n)
{
	static const char *const keys[] = {"from",	 "to",		  "mode",
									   "key",	 "columns",	  "where",
									   "on_delete", "on_truncate", "kafka"};
	const struct ynode *v;
	const char *mode = "upsert", *ondel = "delete", *ontrunc = "truncate";

	m->kafka = true;
	m->line = n->line;
	if (n->kind != Y_MAP) {
		add_error(L, n->line, n->col, "expected a mapping, found %s",
				  kind_name(n));
		return;
	}
	for (size_t i = 0; i + 1 < n->nkids; i += 2) {
		const struct ynode *k = n->kids[i];
		bool known = false;

		for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
			known |= strcmp(k->value, keys[j]) == 0;
		if (!known)
			unknown_key(L, k, keys, sizeof(keys) / sizeof(keys[0]));
	}
#define SCALAR_OR_ERR(node, key)                                               \
	((node)->kind == Y_SCALAR && !is_null(node)                               \
		 ? true                                                                \
		 : (path_push(L, "." key),                                             \
			add_error(L, (node)->line, (node)->col,                            \
					  "expected a value, found %s",                           \
					  is_null(node) ? "null" : kind_name(node)),              \
			L->path[strlen(L->path) - strlen("." key)] = '\0', false))

	if ((v = map_get(n, "mode")) && SCALAR_OR_ERR(v, "mode")) {
		size_t o = path_push(L, ".mode");

		if (!enum_has("upsert|append|keyless|none", v->value))
			add_error(L, v->line, v->col,
					  "invalid value \"%s\": expected upsert, append, "
					  "keyless or none",
					  v->value);
		else
			mode = v->value;
		path_pop(L, o);
	}
	m->rule.mode = !strcmp(mode, "append")	   ? MAP_MODE_APPEND
				   : !strcmp(mode, "keyless") ? MAP_MODE_KEYLESS
				   : !strcmp(mode, "none")	   ? MAP_MODE_NONE
											   : MAP_MODE_UPSERT;
	if ((v = map_get(n, "from")) != NULL) {
		m->from_line = v->line;
		m->from_col = v->col;
	}
	if ((v = map_get(n, "to")) != NULL) {
		m->to_line = v->line;
		m->to_col = v->col;
	}
	if ((v = map_get(n, "from")) == NULL)
		add_error(L, n->line, n->col, "missing required key \"from\"");
	else if (SCALAR_OR_ERR(v, "from")) {
		size_t o = path_push(L, ".from");

		load_qname(L, v, "table name", &m->from_schema, &m->from_table);
		path_pop(L, o);
	}
	if ((v = map_get(n, "to")) == NULL) {
		if (m->rule.mode != MAP_MODE_NONE)
			add_error(L, n->line, n->col, "missing required key \"to\"");
	} else if (SCALAR_OR_ERR(v, "to")) {
		size_t o = path_push(L, ".to");

		load_qname(L, v, "table name", &m->to_schema, &m->to_table);
		path_pop(L, o);
	}
	if ((v = map_get(n, "key")) != NULL) {
		size_t o = path_push(L, ".key");

		if (v->kind != Y_SEQ || v->nkids == 0) {
			add_error(L, v->line, v->col,
					  "expected a non-empty list of target columns");
		} else {
			for (size_t i = 0; i < v->nkids; i++) {
				const struct ynode *it = v->kids[i];
				char *kc;

				if (it->kind != Y_SCALAR) {
					add_error(L, it->line, it->col,
							  "invalid key column %s", kind_name(it));
					continue;
				}
				if ((kc = load_name1(L, it, "key column")) == NULL)
					continue;
				m->key = wp_realloc(m->key, (m->nkey + 1) * sizeof(char *));
				m->key[m->nkey++] = kc;
			}
		}
		path_pop(L, o);
	}
	if ((v = map_get(n, "columns")) != NULL) {
		size_t o = path_push(L, ".columns");

		if (v->kind != Y_MAP || v->nkids == 0)
			add_error(L, v->line, v->col,
					  "expected a mapping of target column: source");
		else
			for (size_t i = 0; i + 1 < v->nkids; i += 2)
				load_column(L, m, v->kids[i], v->kids[i + 1]);
		path_pop(L, o);
	} else if (m->rule.mode != MAP_MODE_NONE) {
		add_error(L, n->line, n->col, "missing required key \"columns\"");
	}
	if ((v = map_get(n, "where")) != NULL && SCALAR_OR_ERR(v, "where"))
		m->where = wp_strdup(v->value);
	if ((v = map_get(n, "on_delete")) != NULL) {
		size_t o = path_push(L, ".on_delete");
		const struct ynode *sd = map_get(v, "soft_delete");

		if (v->kind == Y_MAP && v->nkids == 2 && sd && sd->kind == Y_SCALAR &&
			!is_null(sd)) {
			size_t o2 = path_push(L, ".soft_delete");

			ondel = "soft_delete";
			m->soft_delete_column = load_name1(L, sd, "column name");
			path_pop(L, o2);
		} else if (v->kind == Y_SCALAR && enum_has("delete|ignore", v->value)) {
			ondel = v->value;
		} else {
			add_error(L, v->line, v->col,
					  "invalid value%s%s%s: expected delete, ignore or "
					  "{soft_delete: COLUMN}",
					  v->kind == Y_SCALAR ? " \"" : "",
					  v->kind == Y_SCALAR ? v->value : "",
					  v->kind == Y_SCALAR ? "\"" : "");
		}
		path_pop(L, o);
	}
	m->rule.on_delete = !strcmp(ondel, "ignore")		? MAP_DELETE_IGNORE
						: !strcmp(ondel, "soft_delete") ? MAP_DELETE_SOFT
														: MAP_DELETE_DELETE;
	if ((v = map_get(n, "on_truncate")) != NULL && SCALAR_OR_ERR(v, "on_truncate")) {
		size_t o = path_push(L, ".on_truncate");

		if (!enum_has("truncate|ignore|fail", v->value))
			add_error(L, v->line, v->col,
					  "invalid value \"%s\": expected truncate, ignore or "
					  "fail",
					  v->value);
		else
			ontrunc = v->value;
		path_pop(L, o);
	}
	m->rule.on_truncate = !strcmp(ontrunc, "ignore") ? MAP_TRUNCATE_IGNORE
						  : !strcmp(ontrunc, "fail") ? MAP_TRUNCATE_FAIL
													 : MAP_TRUNCATE_TRUNCATE;
	if ((v = map_get(n, "kafka")) != NULL && SCALAR_OR_ERR(v, "kafka") &&
		!parse_bool(v->value, &m->kafka)) {
		size_t o = path_push(L, ".kafka");

		add_error(L, v->line, v->col,
				  "invalid boolean \"%s\": expected true or false", v->value);
		path_pop(L, o);
	}
#undef SCALAR_OR_ERR

	/* Cross-field rules of one mapping. */
	if (m->rule.mode == MAP_MODE_UPSERT && m->nkey == 0 && m->ncols > 0 &&
		map_get(n, "key") == NULL) /* else its own error says why */
		add_error(L, n->line, n->col,
				  "mode upsert needs \"key\": the target columns that "
				  "identify a row");
	for (size_t i = 0; i < m->nkey; i++)
		if (m->ncols > 0 && !col_mapped(m, m->key[i])) {
			size_t o = path_push(L, ".key");

			add_error(L, map_get(n, "key")->line, map_get(n, "key")->col,
					  "key column \"%s\" is not among the mapped columns",
					  m->key[i]);
			path_pop(L, o);
		}
	if (m->soft_delete_column && !col_mapped(m, m->soft_delete_column)) {
		size_t o = path_push(L, ".on_delete.soft_delete");
		const struct ynode *od = map_get(n, "on_delete");

		add_error(L, od->line, od->col,
				  "soft_delete column \"%s\" is not among the mapped columns "
				  "(map it, e.g. to {sql: \"null::timestamptz\"}, so a "
				  "re-insert clears it)",
				  m->soft_delete_column);
		path_pop(L, o);
	}
	/* A keyless mirror finds a row by all its mapped values and changes
	 * exactly one: a key would make it an upsert, a where or a soft
	 * delete would leave rows behind that later changes could match
	 * instead of the right one (not supported). */
	if (m->rule.mode == MAP_MODE_KEYLESS) {
		static const char *const no[] = {"key", "where", "on_delete"};
		static const char *const why[] = {
			"mode keyless matches rows on every mapped column; with a key, "
			"use mode upsert",
			"mode keyless mirrors every row; a where is not supported "
			"(use mode append)",
			"mode keyless applies deletes to the one row they match; "
			"on_delete other than delete is not supported (use mode "
			"append)"};

		for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
			const struct ynode *x = map_get(n, no[i]);
			size_t o;

			if (x == NULL ||
				(i == 2 && m->rule.on_delete == MAP_DELETE_DELETE))
				continue;
			o = path_push(L, ".%s", no[i]);
			add_error(L, x->line, x->col, "%s", why[i]);
			path_pop(L, o);
		}
	}
	if (m->rule.on_delete != MAP_DELETE_IGNORE &&
		m->rule.mode == MAP_MODE_APPEND && m->nkey == 0 &&
		map_get(n, "on_delete"))
		add_error(L, n->line, n->col,
				  "on_delete needs \"key\" in mode append: which rows would a "
				  "delete remove?");

	m->rule.from_schema = m->from_schema;
	m->rule.from_table = m->from_table;
	m->rule.to_schema = m->to_schema;
	m->rule.to_table = m->to_table;
	m->rule.key = (const char *const *) m->key;
	m->rule.nkey = m->nkey;
	m->rule.cols = m->cols;
	m->rule.ncols = m->ncols;
	m->rule.where = m->where;
	m->rule.soft_delete_column = m->soft_delete_column;
	if (m->rule.mode == MAP_MODE_APPEND && m->nkey == 0)
		m->rule.on_delete = MAP_DELETE_IGNORE;
}

/* ------------------------------------------------------------------ */

static void
load_tables(struct loader *L, const struct ynode *source)
{
	const struct ynode *t = map_get(source, "tables");
	size_t old;

	if (t == NULL)
		return; /* reported as missing by load_section */
	old = path_push(L, "source.tables");
	if (t->kind != Y_SEQ || t->nkids == 0) {
		add_error(L, t->line, t->col,
				  "expected a non-empty list of schema.table names");
		path_pop(L, old);
		return;
	}
	for (size_t i = 0; i < t->nkids; i++) {
		const struct ynode *it = t->kids[i];
		char *s, *tb, *q;
		size_t o = path_push(L, "[%zu]", i);

		if (it->kind != Y_SCALAR) {
			add_error(L, it->line, it->col,
					  "invalid table name %s: expected schema.table",
					  kind_name(it));
			path_pop(L, o);
			continue;
		}
		if (!load_qname(L, it, "table name", &s, &tb)) {
			path_pop(L, o);
			continue;
		}
		/* Kept in ident_qualified's text form: exact, and read back by
		 * ident_parse, to_regclass and parse_ident alike. */
		q = ident_qualified(s, tb);
		free(s);
		free(tb);
		for (size_t j = 0; j < L->cfg->source.ntables; j++)
			if (strcmp(L->cfg->source.tables[j], q) == 0)
				add_error(L, it->line, it->col, "table \"%s\" listed twice",
						  q);
		L->cfg->source.tables =
			wp_realloc(L->cfg->source.tables,
					   (L->cfg->source.ntables + 1) * sizeof(char *));
		L->cfg->source.tables[L->cfg->source.ntables++] = q;
		path_pop(L, o);
	}
	path_pop(L, old);
}

static void
load_refresh(struct loader *L, const struct ynode *r)
{
	struct wp_config *cfg = L->cfg;

	if (r->kind != Y_SEQ) {
		L->path[0] = '\0';
		path_push(L, "refresh");
		add_error(L, r->line, r->col, "expected a list, found %s",
				  kind_name(r));
		L->path[0] = '\0';
		return;
	}
	cfg->refresh = wp_calloc(r->nkids ? r->nkids : 1, sizeof(*cfg->refresh));
	for (size_t i = 0; i < r->nkids; i++) {
		static const char *const keys[] = {"view", "every", "concurrently"};
		const struct ynode *n = r->kids[i], *v;
		struct config_refresh *f = &cfg->refresh[cfg->nrefresh++];

		L->path[0] = '\0';
		path_push(L, "refresh[%zu]", i);
		if (n->kind != Y_MAP) {
			add_error(L, n->line, n->col, "expected a mapping, found %s",
					  kind_name(n));
			continue;
		}
		for (size_t j = 0; j + 1 < n->nkids; j += 2) {
			bool known = false;

			for (size_t k = 0; k < 3; k++)
				known |= strcmp(n->kids[j]->value, keys[k]) == 0;
			if (!known)
				unknown_key(L, n->kids[j], keys, 3);
		}
		if ((v = map_get(n, "view")) == NULL)
			add_error(L, n->line, n->col, "missing required key \"view\"");
		else if (v->kind != Y_SCALAR)
			add_error(L, v->line, v->col,
					  "invalid view name: expected schema.view");
		else {
			size_t o = path_push(L, ".view");

			load_qname(L, v, "view name", &f->view_schema, &f->view_table);
			path_pop(L, o);
		}
		if ((v = map_get(n, "every")) == NULL)
			add_error(L, n->line, n->col, "missing required key \"every\"");
		else if (v->kind != Y_SCALAR || !parse_duration(v->value, &f->every_ms) ||
				 f->every_ms < 1000) {
			size_t o = path_push(L, ".every");

			add_error(L, v->line, v->col,
					  "invalid duration \"%s\": expected at least 1s, with "
					  "unit ms, s, m, h or d",
					  v->kind == Y_SCALAR ? v->value : "");
			path_pop(L, o);
		}
		if ((v = map_get(n, "concurrently")) != NULL &&
			(v->kind != Y_SCALAR || !parse_bool(v->value, &f->concurrently)))
			add_error(L, v->line, v->col,
					  "invalid boolean: expected true or false");
	}
	L->path[0] = '\0';
}

static void
load_kafka_properties(struct loader *L, const struct ynode *kafka)
{
	const struct ynode *p = map_get(kafka, "properties");
	struct wp_config *cfg = L->cfg;

	if (p == NULL)
		return;
	L->path[0] = '\0';
	path_push(L, "kafka.properties");
	if (p->kind != Y_MAP) {
		add_error(L, p->line, p->col, "expected a mapping of librdkafka "
									  "property: value");
		L->path[0] = '\0';
		return;
	}
	cfg->kafka.properties = wp_calloc(p->nkids / 2 + 1,
									  sizeof(*cfg->kafka.properties));
	for (size_t i = 0; i + 1 < p->nkids; i += 2) {
		const struct ynode *k = p->kids[i], *v = p->kids[i + 1];
		struct config_kv *kv;

		if (v->kind != Y_SCALAR) {
			add_error(L, v->line, v->col, "property \"%s\" must be a scalar",
					  k->value);
			continue;
		}
		kv = &cfg->kafka.properties[cfg->kafka.nproperties++];
		kv->key = wp_strdup(k->value);
		kv->value = wp_strdup(v->value);
		kv->line = v->line;
		kv->col = v->col;
	}
	L->path[0] = '\0';
}

/*
 * Whether mappings a and b may write one target: appends never touch each
 * other's rows; upserts on the same key (the partitions of one table, or
 * shards) do as one source table would, since a batch applies every
 * mapping's deletes before any mapping's writes.  A soft delete runs after
 * the writes, so it could mark a row another mapping has just moved in.
 */
static bool
may_share(const struct config_mapping *a, const struct config_mapping *b)
{
	if (a->rule.mode == MAP_MODE_APPEND && b->rule.mode == MAP_MODE_APPEND)
		return true;
	if (a->rule.mode != MAP_MODE_UPSERT || b->rule.mode != MAP_MODE_UPSERT ||
		a->rule.on_delete == MAP_DELETE_SOFT ||
		b->rule.on_delete == MAP_DELETE_SOFT || a->rule.nkey != b->rule.nkey)
		return false;
	for (size_t k = 0; k < a->rule.nkey; k++)
		if (strcmp(a->rule.key[k], b->rule.key[k]) != 0)
			return false;
	return true;
}

static void
check_cross(struct loader *L)
{
	struct wp_config *cfg = L->cfg;

	for (size_t i = 0; i < cfg->nmappings; i++) {
		struct config_mapping *m = &cfg->mappings[i];
		bool listed = false;
		char *q;

		if (m->from_schema == NULL)
			continue;
		q = ident_qualified(m->from_schema, m->from_table);
		for (size_t j = 0; j < cfg->source.ntables; j++)
			listed |= strcmp(cfg->source.tables[j], q) == 0;
		L->path[0] = '\0';
		path_push(L, "mappings[%zu].from", i);
		if (!listed && cfg->source.ntables > 0)
			add_error(L, m->from_line, m->from_col,
					  "table \"%s\" is not in source.tables, so no change of "
					  "it would ever arrive",
					  q);
		free(q);
		for (size_t j = 0; j < i && m->to_schema; j++) {
			struct config_mapping *o = &cfg->mappings[j];

			if (o->to_schema && !strcmp(o->to_schema, m->to_schema) &&
				!strcmp(o->to_table, m->to_table) && !may_share(o, m)) {
				char *tq = ident_qualified(m->to_schema, m->to_table);

				L->path[0] = '\0';
				path_push(L, "mappings[%zu].to", i);
				add_error(L, m->to_line, m->to_col,
						  "target \"%s\" is already written by "
						  "mappings[%zu]; mappings may share a target only "
						  "as appends, or as upserts with the same key and "
						  "no soft delete (the partitions of one table)",
						  tq, j);
				free(tq);
			}
		}
	}
	L->path[0] = '\0';
}

/* Whether a table's changes go to Kafka: yes unless a mapping opts out. */
static bool
table_to_kafka(const struct wp_config *cfg, const char *schema,
			   const char *table)
{
	for (size_t i = 0; i < cfg->nmappings; i++)
		if (!cfg->mappings[i].kafka && cfg->mappings[i].from_schema &&
			strcmp(cfg->mappings[i].from_schema, schema) == 0 &&
			strcmp(cfg->mappings[i].from_table, table) == 0)
			return false;
	return true;
}

/*
 * The topic template with each placeholder's value as it is, between
 * markers no name holds: equal for two tables exactly when the template
 * itself gives them one topic (one without {schema}, say).
 */
static char *
topic_unsanitized(const char *tmpl, const char *source, const char *schema,
				  const char *table)
{
	static const char *const ph[] = {"{source}", "{schema}", "{table}"};
	const char *vals[] = {source, schema, table};
	struct buf b = BUF_INIT;

	buf_append_str(&b, "");
	for (const char *p = tmpl; *p; p++) {
		size_t i;

		for (i = 0; i < 3; i++)
			if (strncmp(p, ph[i], strlen(ph[i])) == 0)
				break;
		if (i == 3) {
			buf_append_char(&b, *p);
			continue;
		}
		buf_appendf(&b, "\x01%s\x01", vals[i]);
		p += strlen(ph[i]) - 1;
	}
	return b.data;
}

/*
 * Two tables whose topics come out the same although the template sets
 * them apart: a topic name holds only letters, digits, ".", "_" and "-",
 * so kafka_msg_topic writes "_" for any other byte, and a dot inside a
 * name reads as the separator.  Their changes would share a topic, mixed,
 * without a word: refuse it.  Only checked on an otherwise valid file
 * (the list then matches the YAML).
 */
static void
check_topics(struct loader *L, const struct ynode *tables)
{
	struct wp_config *cfg = L->cfg;
	struct ident_name *n;
	char **topic, **raw;

	if (!cfg->kafka.enabled || !cfg->kafka.topic || L->errs->n > 0 ||
		tables == NULL || tables->nkids != cfg->source.ntables)
		return;
	n = wp_calloc(cfg->source.ntables + 1, sizeof(*n));
	topic = wp_calloc(cfg->source.ntables + 1, sizeof(*topic));
	raw = wp_calloc(cfg->source.ntables + 1, sizeof(*raw));
	for (size_t i = 0; i < cfg->source.ntables; i++) {
		struct buf b = BUF_INIT;
		char err[200];

		if (!ident_parse(cfg->source.tables[i], 2, 2, &n[i], err,
						 sizeof(err)) ||
			!table_to_kafka(cfg, n[i].part[0], n[i].part[1]))
			continue;
		kafka_msg_topic(&b, cfg->kafka.topic, cfg->source.name,
						n[i].part[0], n[i].part[1]);
		topic[i] = b.data;
		raw[i] = topic_unsanitized(cfg->kafka.topic, cfg->source.name,
								   n[i].part[0], n[i].part[1]);
		for (size_t j = 0; j < i && topic[i]; j++) {
			if (topic[j] == NULL || strcmp(topic[i], topic[j]) != 0 ||
				strcmp(raw[i], raw[j]) == 0)
				continue;
			L->path[0] = '\0';
			path_push(L, "source.tables[%zu]", i);
			add_error(L, tables->kids[i]->line, tables->kids[i]->col,
					  "table %s would share Kafka topic \"%s\" with table "
					  "%s: a topic name keeps letters, digits, \".\", \"_\" "
					  "and \"-\" and has \"_\" for any other character; set "
					  "kafka: false on the mappings of one of them, or change "
					  "kafka.topic",
					  cfg->source.tables[i], topic[i], cfg->source.tables[j]);
			L->path[0] = '\0';
			break;
		}
	}
	for (size_t i = 0; i < cfg->source.ntables; i++) {
		ident_name_free(&n[i]);
		free(topic[i]);
		free(raw[i]);
	}
	free(n);
	free(topic);
	free(raw);
}

static struct wp_config *
load_tree(struct loader *L, const struct ynode *root)
{
	static const char *const top[] = {"source",	  "target",	 "batch",
									  "staging",  "mappings", "refresh",
									  "snapshot", "kafka",	 "metrics",
									  "log"};
	struct wp_config *cfg = L->cfg;
	const struct ynode *n;
	bool has_kafka;

	if (root == NULL || is_null(root)) {
		add_error(L, 1, 1, "the configuration is empty");
		return NULL;
	}
	if (root->kind != Y_MAP) {
		add_error(L, root->line, root->col,
				  "expected a mapping at the top level, found %s",
				  kind_name(root));
		return NULL;
	}
	for (size_t i = 0; i + 1 < root->nkids; i += 2) {
		const struct ynode *k = root->kids[i];
		bool known = false;

		for (size_t j = 0; j < sizeof(top) / sizeof(top[0]); j++)
			known |= k->kind == Y_SCALAR && strcmp(k->value, top[j]) == 0;
		if (!known)
			unknown_key(L, k, top, sizeof(top) / sizeof(top[0]));
		for (size_t j = 0; j < i; j += 2)
			if (k->kind == Y_SCALAR &&
				strcmp(root->kids[j]->value, k->value) == 0)
				add_error(L, k->line, k->col, "duplicate key \"%s\"",
						  k->value);
	}
	if ((n = map_get(root, "source")) == NULL)
		add_error(L, 1, 1, "missing required section \"source\"");
	else if (load_section(L, n, "source", source_fields, n->line, n->col))
		load_tables(L, n);
	/* Without a target: checked below, once Kafka is known. */
	if ((n = map_get(root, "target")) != NULL)
		load_section(L, n, "target", target_fields, n->line, n->col);
	load_section(L, (n = map_get(root, "batch")) ? n : NULL, "batch",
				 batch_fields, 1, 1);
	if ((n = map_get(root, "staging")) != NULL && !is_null(n)) {
		cfg->staging.enabled =
			load_section(L, n, "staging", staging_fields, n->line, n->col);
		/* Its partitions are NAME_pYYYYMMDD and NAME_default: longer
		 * than 63 bytes, PostgreSQL would cut them and they would clash. */
		if (cfg->staging.table &&
			strlen(cfg->staging.table) > IDENT_MAXLEN - 10) {
			const struct ynode *t = map_get(n, "table");

			path_push(L, "staging.table");
			add_error(L, t->line, t->col,
					  "table name \"%s\" is %zu bytes long: its partitions "
					  "are named %s_pYYYYMMDD, which must fit in %d bytes, "
					  "so use at most %d",
					  cfg->staging.table, strlen(cfg->staging.table),
					  cfg->staging.table, IDENT_MAXLEN, IDENT_MAXLEN - 10);
			L->path[0] = '\0';
		}
	}
	if ((n = map_get(root, "mappings")) != NULL && !is_null(n)) {
		if (n->kind != Y_SEQ) {
			path_push(L, "mappings");
			add_error(L, n->line, n->col, "expected a list, found %s",
					  kind_name(n));
			L->path[0] = '\0';
		} else {
			cfg->mappings = wp_calloc(n->nkids ? n->nkids : 1,
									  sizeof(*cfg->mappings));
			for (size_t i = 0; i < n->nkids; i++) {
				L->path[0] = '\0';
				path_push(L, "mappings[%zu]", i);
				load_mapping(L, &cfg->mappings[cfg->nmappings++], n->kids[i]);
			}
			L->path[0] = '\0';
		}
	}
	if ((n = map_get(root, "refresh")) != NULL && !is_null(n))
		load_refresh(L, n);
	/* "snapshot: never" is short for "snapshot: { mode: never }". */
	if ((n = map_get(root, "snapshot")) != NULL && n->kind == Y_SCALAR &&
		!is_null(n)) {
		size_t old = path_push(L, "snapshot.mode");

		set_field(L, &snapshot_fields[0], n->value, n->line, n->col);
		path_pop(L, old);
		load_section(L, NULL, "snapshot", snapshot_fields + 1, 1, 1);
	} else {
		load_section(L, n, "snapshot", snapshot_fields, n ? n->line : 1,
					 n ? n->col : 1);
	}
	if ((n = map_get(root, "kafka")) != NULL && !is_null(n)) {
#if WALPIPE_HAVE_KAFKA
		cfg->kafka.enabled =
			load_section(L, n, "kafka", kafka_fields, n->line, n->col);
		if (cfg->kafka.enabled)
			load_kafka_properties(L, n);
		if (cfg->kafka.enabled && cfg->kafka.topic) {
			const struct ynode *t = map_get(n, "topic");
			char why[200];

			if (t && !kafka_msg_topic_valid(cfg->kafka.topic, why,
											sizeof(why))) {
				path_push(L, "kafka.topic");
				add_error(L, t->line, t->col, "%s", why);
				L->path[0] = '\0';
			}
		}
#else
		(void) kafka_fields;
		(void) load_kafka_properties;
		path_push(L, "kafka");
		add_error(L, n->line, n->col,
				  "this walpipe was built without Kafka support "
				  "(-DWALPIPE_KAFKA=OFF); remove the kafka section or use a "
				  "build with librdkafka");
		L->path[0] = '\0';
#endif
	}
	if ((n = map_get(root, "metrics")) != NULL && !is_null(n))
		load_section(L, n, "metrics", metrics_fields, n->line, n->col);
	load_section(L, map_get(root, "log"), "log", log_fields, 1, 1);
	if (cfg->source.name && !cfg->source.slot) {
		struct buf b = BUF_INIT;

		buf_appendf(&b, "walpipe_%s", cfg->source.name);
		cfg->source.slot = b.data;
	}
	/*
	 * Kafka alone needs no analytics database: the slot itself is then
	 * the checkpoint.  Mappings, staging and refreshes write there.
	 */
	/* A kafka section counts even when it is refused (a build without
	 * Kafka, an error in it): its own error says what is wrong. */
	n = map_get(root, "kafka");
	has_kafka = n != NULL && !is_null(n);
	if (map_get(root, "target") == NULL) {
		if (!has_kafka)
			add_error(L, 1, 1, "missing required section \"target\"");
		else if (map_get(root, "mappings") || map_get(root, "staging") ||
				 map_get(root, "refresh"))
			add_error(L, 1, 1,
					  "missing required section \"target\": mappings, "
					  "staging and refresh write to the analytics database "
					  "(only kafka can go without one)");
	}
	if (cfg->nmappings == 0 && !cfg->staging.enabled && !has_kafka &&
		map_get(root, "source") && !map_get(root, "mappings") &&
		!map_get(root, "staging"))
		add_error(L, 1, 1,
				  "nothing to do: configure staging, mappings or both");
	check_cross(L);
	check_topics(L, map_get(map_get(root, "source"), "tables"));
	return cfg;
}

struct wp_config *
config_load_string(const char *name, const char *text, size_t len,
				   struct config_errors *errs)
{
	struct loader L;
	struct ynode *root;

	memset(&L, 0, sizeof(L));
	memset(errs, 0, sizeof(*errs));
	L.file = name;
	L.errs = errs;
	L.cfg = wp_calloc(1, sizeof(struct wp_config));
	L.cfg->path = wp_strdup(name);
	root = yaml_tree(&L, text, len);
	if (root)
		load_tree(&L, root);
	else if (errs->n == 0)
		add_error(&L, 1, 1, "the configuration is empty");
	ynode_free(root);
	/* Report in file order (a stable insertion sort: few errors). */
	for (size_t i = 1; i < errs->n; i++)
		for (size_t j = i; j > 0 && L.pos[j - 1] > L.pos[j]; j--) {
			int tp = L.pos[j];
			char *tm = errs->msg[j];

			L.pos[j] = L.pos[j - 1];
			errs->msg[j] = errs->msg[j - 1];
			L.pos[j - 1] = tp;
			errs->msg[j - 1] = tm;
		}
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

void
config_free(struct wp_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->source.name);
	free(cfg->source.conninfo);
	free(cfg->source.slot);
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
	free(cfg->kafka.brokers);
	free(cfg->kafka.topic);
	free(cfg->kafka.format);
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
	return b.data ? b.data : wp_strdup("");
}
