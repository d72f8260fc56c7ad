/* mirror.h: whole-database mirrors: table patterns, a target table's DDL from the source catalog, and which type changes widen. */
#ifndef WALPIPE_MIRROR_H
#define WALPIPE_MIRROR_H

#include "walpipe/buf.h"
#include "walpipe/map.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * A mirror entry names its source tables by patterns (issue 17's
 * `mirror: - from: [...]`), in the name notation of ident.h where '*'
 * matches any run of bytes, the empty one included, in quoted and
 * unquoted parts alike:
 *
 *   public.*            every table of schema public
 *   public.order_*      public.order_items, public.order_ (not public.orders2)
 *   *.audit_log         audit_log of every schema
 *   public."User*"      "User", "UserProfile" (quoted: exact case)
 *
 * A name that itself holds '*' is matched by a '*' of the pattern like
 * any other byte.  A pattern always has two parts (schema.table): a
 * table alone would leave open which schema it means.  Unquoted parts
 * fold to lower case as names do, so Public.* is public.*.  Matching
 * compares the folded pattern with the exact names wal2json sends, byte
 * for byte.
 *
 * Everything here is pure: no I/O, no logging.  Errors go to the
 * caller's buffer as one phrase, e.g.
 *   invalid table pattern "public": a pattern is schema.table, as in public.* or public.orders
 */

struct mirror_pattern {
	char *part[2]; /* exact text (folded unless quoted), malloc'd */
	bool glob[2];  /* part[i] holds '*': each matches any run */
};

/* Parse s into *out (free with mirror_pattern_free), or false with the
 * reason in err and nothing to free. */
bool mirror_pattern_parse(const char *s, struct mirror_pattern *out,
						  char *err, size_t errlen);

/* NULL-safe; leaves *p zeroed. */
void mirror_pattern_free(struct mirror_pattern *p);

/* Whether schema.table (exact names) matches p. */
bool mirror_pattern_match(const struct mirror_pattern *p, const char *schema,
						  const char *table);

/*
 * Append the wal2json add-tables entry that covers every table p can
 * match: exact parts escaped (ident_append_w2j), a part with a wildcard
 * as wal2json's own "*" (which only means "all"): so public.order_*
 * asks for public.*, and walpipe filters with mirror_pattern_match.
 */
void mirror_pattern_append_w2j(struct buf *b, const struct mirror_pattern *p);

/* p in the notation mirror_pattern_parse reads, for messages. */
void mirror_pattern_append(struct buf *b, const struct mirror_pattern *p);

/*
 * A source table as the catalog describes it, for the target's DDL.
 * Every string is borrowed.  type is format_type()'s text as the source
 * prints it under walpipe's search_path (pg_catalog, pg_temp), so a
 * user-defined type comes schema-qualified ("public.\"Role\"") and a
 * built-in one bare ("character varying(20)", "numeric(10,2)",
 * "timestamp(3) without time zone", "integer[]").
 */
struct mirror_column {
	const char *name;
	const char *type;
	bool not_null;
};

struct mirror_table {
	const char *table;					/* the target's name */
	const struct mirror_column *cols;	/* in attnum order, dropped ones out */
	size_t ncols;
	const size_t *key;					/* indexes into cols */
	size_t nkey;						/* 0: keyless (REPLICA IDENTITY FULL) */
	/* The key is the primary key, not another replica identity index:
	 * both become the target's primary key, since a replica identity
	 * index's columns are NOT NULL by PostgreSQL's rule. */
	bool key_is_primary;
};

/*
 * Append CREATE TABLE schema.table (...) for t: the columns in order
 * with their types and NOT NULL, then PRIMARY KEY (key columns).  Every
 * name quoted (map_quote_ident); types spliced as the catalog printed
 * them.  No trailing semicolon.
 */
void mirror_append_create_table(struct buf *b, const char *schema,
								const struct mirror_table *t);

/*
 * What a mirror entry says beyond its patterns, for the rules and the
 * DDL of its tables.  Strings borrowed (from the configuration).
 */
struct mirror_meta_col {
	const char *target;		/* the target column */
	enum map_meta meta;		/* what it holds */
};

struct mirror_spec {
	const char *to;					/* the target schema */
	const char *soft_delete_column;	/* NULL: a delete deletes */
	const struct mirror_meta_col *meta;
	size_t nmeta;
};

/* The SQL type of a metadata column: pg_lsn, bigint, timestamptz, text. */
const char *mirror_meta_type(enum map_meta meta);

/*
 * The mapping rule that mirrors source table schema.(t->table) into
 * spec->to: every column one to one under its own name, then the
 * metadata columns; mode upsert on the key columns, or keyless when t
 * has no key; deletes delete, or set spec->soft_delete_column; a
 * TRUNCATE truncates.  The rule owns its strings and arrays (free with
 * mirror_rule_free); it borrows nothing.
 */
struct map_rule *mirror_rule_new(const struct mirror_spec *spec,
								 const char *schema,
								 const struct mirror_table *t);

/* NULL-safe. */
void mirror_rule_free(struct map_rule *r);

/*
 * t's columns followed by spec's metadata columns and its soft-delete
 * column (timestamptz), for mirror_append_create_table: *out (caller
 * frees the array; the strings stay borrowed) and its length.
 */
struct mirror_column *mirror_target_columns(const struct mirror_spec *spec,
											const struct mirror_table *t,
											size_t *n);

/* How a column's type moved, as the target's column must follow it. */
enum mirror_type_change {
	MIRROR_TYPE_SAME,	/* nothing to do */
	MIRROR_TYPE_WIDER,	/* ALTER COLUMN .. TYPE to, every old value fits */
	MIRROR_TYPE_OTHER,	/* narrower or another type: not automatic */
};

/*
 * Compare two format_type() texts.  WIDER when every value of from is a
 * value of to with the same text: smallint < integer < bigint < numeric,
 * real < double precision, varchar(n) < varchar(m >= n) < varchar < text,
 * numeric(p,s) < numeric(p',s') with s' >= s and p'-s' >= p-s < numeric,
 * bit varying(n) < bit varying(m >= n), and timestamp, timestamptz, time,
 * timetz and interval of precision p to a precision >= p or none (6);
 * arrays of these element by element.  Everything else is OTHER, also
 * char(n) to text (trailing blanks would change meaning) and integer to
 * real (not exact).
 */
enum mirror_type_change mirror_type_change(const char *from, const char *to);

#endif
