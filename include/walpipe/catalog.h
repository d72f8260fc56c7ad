/* catalog.h: what the source database says about a mapped table's columns and key. */
#ifndef WALPIPE_CATALOG_H
#define WALPIPE_CATALOG_H

#include "walpipe/map.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Read the columns of schema.table from the source catalog, in column
 * order, and whether each is part of the replica identity (the primary key
 * under REPLICA IDENTITY DEFAULT, the chosen index under USING INDEX;
 * under FULL the primary key if there is one; an index's key columns
 * only, not its INCLUDE columns).  Generated columns are left out:
 * wal2json does not send them.
 *
 * Each column's type is what walpipe's temp table holds it as in the
 * analytics database: the built-in type without its modifier (numeric,
 * not numeric(12,2), so that an ALTER TYPE that widens a column on the
 * source cannot round values through a stale temp table), a domain's
 * built-in base type, and text for types the analytics database may not
 * have (enums, composites, extension types).  Each column's missing value
 * (map.h) comes along.
 *
 * Returns the array (caller frees with catalog_free_columns) and its
 * length in *n, or NULL with a message in errbuf: the table does not
 * exist, or (when need_key) it has no replica identity that identifies a
 * row, so its updates and deletes cannot be applied.  Does not log.
 */
struct map_srccol *catalog_table_columns(PGconn *conn, const char *schema,
										 const char *table, bool need_key,
										 size_t *n, char *errbuf,
										 size_t errlen);

void catalog_free_columns(struct map_srccol *cols, size_t n);

/*
 * map_plan_new for rule r over source columns src, with the casts that
 * the target columns' types on the analytics connection ana (borrowed,
 * may be NULL) call for: a plain column mapping without type: whose
 * value travels as text (an enum, composite or extension type on the
 * source) into a target column whose type is not built in (through
 * domains and arrays) is cast to that type, so it goes through the
 * type's own input (map_plan_new_cast).  A keyless mapping also gets
 * its target columns' types, to compare rows as they are stored
 * (map_plan_new_typed).  Does not log.
 */
struct map_plan *catalog_plan_new(PGconn *ana, const struct map_rule *r,
								  const struct map_srccol *src, size_t nsrc,
								  const char *source, const char *tmp_name,
								  char *errbuf, size_t errlen);

/*
 * Whether source table schema.table can feed a keyless mapping
 * (MAP_MODE_KEYLESS): its updates and deletes must carry the whole old
 * row, which only REPLICA IDENTITY FULL logs.  Returns true, or false
 * with the reason in errbuf: no identity at all (NOTHING, DEFAULT
 * without a primary key, a dropped identity index: "only inserts can
 * be mirrored"), or an identity key (map it with mode upsert).  Does not
 * log.
 */
bool catalog_keyless_ok(PGconn *conn, const char *schema, const char *table,
						char *errbuf, size_t errlen);

/*
 * The partitions ("schema.table", comma-separated) of the partitioned
 * tables that some of tables[0..n) ("schema.table") belong to, that are
 * not among them: wal2json's add-tables filter keeps their changes out,
 * so a target fed by the listed partitions would silently lack their
 * rows.  NULL when there are none (or the catalog cannot say).  Caller
 * frees.  Does not log.
 */
char *catalog_unlisted_partitions(PGconn *conn, char *const *tables,
								  size_t n);

/*
 * The columns of the source tables of rules[0..n) whose type is real,
 * double precision or numeric, as "schema.table (col type, ...), ...",
 * for the warning that wal2json before 2.6 sends their NaN and infinities
 * as null.  NULL when there are none (or the catalog cannot say).  Caller
 * frees.  Does not log.
 */
char *catalog_special_columns(PGconn *conn,
							  const struct map_rule *const *rules, size_t n);

struct sink_target;

/*
 * Compile every mapping rule against its source table's columns read over
 * conn: the targets of a session, each with its plan (temp table
 * walpipe_tN for rule N) and an empty collapse.  ana (borrowed, may be
 * NULL): the analytics connection the plans will run on, whose target
 * column types decide the casts of values that travel as text
 * (map_plan_new_cast).  Returns the array with its length in *n (free
 * with catalog_free_targets), or NULL with the first failure in errbuf.
 * Does not log.
 */
struct sink_target *catalog_plan_targets(PGconn *conn, PGconn *ana,
										 const struct map_rule *rules,
										 size_t nrules, const char *source,
										 size_t *n, char *errbuf,
										 size_t errlen);

/* NULL-safe. */
void catalog_free_targets(struct sink_target *t, size_t n);

#endif
