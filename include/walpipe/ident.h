/* ident.h: SQL names as the configuration writes them, as SQL needs them, and as wal2json's add-tables wants them. */
#ifndef WALPIPE_IDENT_H
#define WALPIPE_IDENT_H

#include "walpipe/buf.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * The notation is SQL's, as psql and pg_dump read names:
 *
 *   users              unquoted: ASCII A-Z fold to lower case (PostgreSQL's
 *                      downcase_identifier for UTF-8); letters (any byte
 *                      >= 0x80 counts as one), digits, _ and $, not
 *                      starting with a digit or $
 *   "createdAt"        quoted: exact; "" inside stands for one "; anything
 *                      but NUL, not empty
 *   public."User"      qualified: schema.table, each part in either form
 *
 * A name longer than IDENT_MAXLEN bytes is an error (PostgreSQL would
 * truncate it silently).  Internally every name is kept exact (unquoted,
 * case-exact), as wal2json sends it and the catalog stores it.
 *
 * Everything here is pure: no I/O, no logging.  Errors are written to the
 * caller's buffer as one phrase, e.g.
 *   unterminated quoted name "\"User"; a quoted name ends with "
 * which the caller prefixes with what it was parsing.
 */

#define IDENT_MAXLEN 63

/* One parsed name of one or more parts. */
struct ident_name {
	char *part[2]; /* exact names, malloc'd; part[1] NULL for one part */
	int nparts;
	/* An unquoted part held A-Z that folded: in a YAML-quoted scalar that
	 * is almost certainly a mistake (see ident_fold_hint). */
	bool folded;
};

/*
 * Parse s as a name of min_parts to max_parts parts (1 or 2) separated by
 * dots.  Returns true with *out filled (free with ident_name_free), or
 * false with the reason in err (nothing to free).
 */
bool ident_parse(const char *s, int min_parts, int max_parts,
				 struct ident_name *out, char *err, size_t errlen);

/* NULL-safe; leaves *n zeroed. */
void ident_name_free(struct ident_name *n);

/*
 * A source column reference: a column name in the notation above, then
 * optionally JSON keys after dots, each taken exactly as written (JSON
 * keys are case-sensitive) or "quoted" ("" for one ") when it holds a dot:
 * payload.userId, "Data"."a.b".0.  Returns true with *column and *keys
 * (nkeys of them; all malloc'd, the caller frees each and the array), or
 * false with the reason in err.  *folded as in struct ident_name, for the
 * column part only.
 */
bool ident_parse_path(const char *s, char **column, char ***keys,
					  size_t *nkeys, bool *folded, char *err, size_t errlen);

/*
 * Append name as SQL reads it back: bare when it is [a-z_][a-z0-9_]*
 * (so today's ordinary names keep their text), else "quoted" with " doubled.
 * PostgreSQL's parse_ident() and to_regclass() read the result back
 * exactly.  Keywords stay bare: the result names a table in text, it is
 * not spliced into statements (use map_quote_ident for those).
 */
void ident_append(struct buf *b, const char *name);

/* schema.table in ident_append's form; caller frees. */
char *ident_qualified(const char *schema, const char *table);

/* The same into out (len bytes, truncated to fit, always NUL-terminated),
 * for hot paths and messages that must not allocate.  IDENT_QUALIFIED_MAX
 * bytes always fit two names of IDENT_MAXLEN bytes. */
#define IDENT_QUALIFIED_MAX (4 * IDENT_MAXLEN + 8)
void ident_qualified_to(char *out, size_t len, const char *schema,
						const char *table);

/*
 * Append schema.table escaped for wal2json's add-tables (and
 * filter-tables) option: wal2json 2.5 splits the list at unescaped commas
 * and white space, each entry at the first unescaped dot, takes "*" as a
 * wildcard, and drops each backslash, keeping the byte after it.  So
 * every ASCII byte that is not [A-Za-z0-9_$] gets a backslash (spaces,
 * commas, dots, "*", backslashes, quotes).  Bytes of multi-byte UTF-8
 * characters go as they are: the replication command that carries the
 * list must be valid UTF-8 (a backslash between them is refused), and
 * wal2json's isspace() does not take them for space in a UTF-8 or C
 * locale.
 */
void ident_append_w2j(struct buf *b, const char *schema, const char *table);

/* One part (a schema or a table name) escaped as above. */
void ident_append_w2j_part(struct buf *b, const char *name);

/* Every table of schema for add-tables: the schema escaped as above, then
 * the wildcard ".*". */
void ident_append_w2j_all(struct buf *b, const char *schema);

/*
 * A comma-separated list of schema.table names in the notation above
 * (commas inside "quotes" belong to the name, spaces around entries are
 * ignored) appended to out as an add-tables value.  Returns false with
 * the reason in err.
 */
bool ident_w2j_list(const char *list, struct buf *out, char *err,
					size_t errlen);

/*
 * The fix for a folded name in a YAML-quoted scalar: each part holding
 * A-Z quoted, the rest as written, in YAML single quotes when the result
 * starts with ".  Appends to b.  s must have parsed.
 */
void ident_fold_hint(struct buf *b, const char *s);

/*
 * Whether a value of synchronous_standby_names (PostgreSQL's syntax:
 * "a, b", "N (a, b)", "FIRST N (a, b)", "ANY N (a, b)"; each name bare,
 * double-quoted or "*") names application name app: a member equal to
 * app ignoring ASCII case, as the server compares them, or "*".  A value
 * the server would refuse (it never holds one) is read as far as its
 * names go.  Pure.
 */
bool ident_syncnames_match(const char *value, const char *app);

#endif
