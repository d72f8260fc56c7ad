/* catalog.h: what the source database says about a mapped table's columns and key. */
#ifndef WALPIPE_CATALOG_H
#define WALPIPE_CATALOG_H

#include "walpipe/map.h"
#include "walpipe/route.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * A partitioned table's are its own columns and key, which its partitions
 * share by name (a partition's columns may be in another order, or it may
 * have dropped ones; wal2json sends names).
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

/* catalog_table_columns, and in *partitioned whether schema.table is a
 * partitioned table (its partitions hold its rows). */
struct map_srccol *catalog_source_columns(PGconn *conn, const char *schema,
										  const char *table, bool need_key,
										  size_t *n, bool *partitioned,
										  char *errbuf, size_t errlen);

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
 * neither among them nor partitions (at any level) of one of the mapped
 * partitioned tables roots[0..nroots) (quoted: "schema"."table"):
 * wal2json's add-tables filter keeps their changes out, so a target fed
 * by the listed partitions would silently lack their rows.  NULL when
 * there are none (or the catalog cannot say).  Caller frees.  Does not
 * log.
 */
char *catalog_unlisted_partitions(PGconn *conn, char *const *tables,
								  size_t n, char *const *roots,
								  size_t nroots);

/* A partition, or an ancestor, of a table. */
struct catalog_part {
	char *schema;
	char *table;
	bool leaf; /* holds rows (not itself partitioned) */
};

/*
 * The partitions of schema.table at every level below it (leaves and
 * partitioned ones), by name; none for a table that is not partitioned.
 * Returns true with the array in *out (free with catalog_free_parts) and
 * its length in *n, or false with a message in errbuf.  Does not log.
 */
bool catalog_partitions(PGconn *conn, const char *schema, const char *table,
						struct catalog_part **out, size_t *n, char *errbuf,
						size_t errlen);

/* NULL-safe. */
void catalog_free_parts(struct catalog_part *p, size_t n);

struct xidsnap;
struct xidset;

/*
 * The source's snapshot now (pg_current_snapshot()) in *out (free with
 * xidsnap_free); false with a message in errbuf.  Does not log.
 */
bool catalog_snapshot(PGconn *conn, struct xidsnap *out, char *errbuf,
					  size_t errlen);

/*
 * Wait until every committed transaction of *pending (32-bit xids, as the
 * stream gives them) is visible to new snapshots on conn, pruning
 * *pending as they show (it is empty on 1).  Logical
 * decoding sends a transaction once its commit record is flushed, which
 * is before the committing backend leaves the proc array (and, with
 * synchronous replication, before the standbys answer): a catalog read
 * "now" may not yet show what the streamed transaction did, such as the
 * table it created.  Polls pg_current_snapshot() every few milliseconds.
 * Returns 1 once visible; 0 with a message in errbuf when it is still not
 * after timeout_ms; -1 with a message when the server cannot be asked.
 * Does not log.
 */
int catalog_wait_visible(PGconn *conn, struct xidset *pending, int timeout_ms,
						 char *errbuf, size_t errlen);

/*
 * The ancestors of schema.table (the partitioned tables above it, nearest
 * first; none for a table that is no partition), in *out (free with
 * catalog_free_parts) and *n.  Returns 1, or 0 when the source has no
 * such table (any more), or -1 with a message in errbuf when the catalog
 * could not be read.  Does not log.
 */
int catalog_partition_ancestors(PGconn *conn, const char *schema,
								const char *table, struct catalog_part **out,
								size_t *n, char *errbuf, size_t errlen);

/*
 * The columns of the source tables of rules[0..n) whose type is real,
 * double precision or numeric, as "schema.table (col type, ...), ...",
 * for the warning that wal2json before 2.6 sends their NaN and infinities
 * as null.  NULL when there are none (or the catalog cannot say).  Caller
 * frees.  Does not log.
 */
char *catalog_special_columns(PGconn *conn,
							  const struct map_rule *const *rules, size_t n);

/*
 * A signature of the source tables of rules[0..n) as the catalog has them
 * now: "table=md5;..." (tables in quoted text form, sorted; a table that
 * no longer exists is left out), the md5 over each column's name, type,
 * modifier, NOT NULL and, for an enum, its labels.  Any DDL that changes
 * what a mirror creates changes the table's entry.  NULL when the
 * catalog cannot be read.  Caller frees.  Does not log.
 */
char *catalog_columns_signature(PGconn *conn,
								const struct map_rule *const *rules,
								size_t n);

struct sink_target;

/*
 * Whether the changes of partition schema.table can be applied as changes
 * of its partitioned table root_schema.root_table: it exists and, when one
 * of the mappings of t[0..nt) from that table applies updates or deletes
 * by key, its own replica identity holds every key column of the
 * partitioned table.  false with a message naming the partition in
 * errbuf.  Does not log.
 */
bool catalog_check_partition(PGconn *conn, const char *schema,
							 const char *table, const char *root_schema,
							 const char *root_table,
							 const struct sink_target *t, size_t nt,
							 char *errbuf, size_t errlen);

/*
 * The partitioned tables of route cache rt (its ROUTE_ROOT entries; rt
 * may be NULL) as quoted "schema"."table", for
 * catalog_unlisted_partitions: the array (NULL when none; free each and
 * the array) and its length in *n.  Pure.
 */
char **catalog_route_roots(const struct route *rt, size_t *n);

/*
 * Watch the partitions (at any level) of the partitioned tables of route
 * cache rt (its ROUTE_ROOT entries).  Returns 1 with a message in errbuf
 * when one is in none of schemas[0..nschemas) (created there after
 * catalog_route_new: wal2json's filter keeps its changes out); else 0
 * with *sig (caller frees) a signature of the set of partitions, which
 * changes when one is created, attached or detached; -1 with a message
 * when the catalog could not be read.  Does not log.
 */
int catalog_partition_watch(PGconn *conn, const struct route *rt,
							char *const *schemas, size_t nschemas,
							char **sig, char *errbuf, size_t errlen);

/*
 * The route cache (route.h) of targets t[0..n) planned by
 * catalog_plan_targets and of source.tables (add_tables, as wal2json's
 * add-tables: route_new): every plain mapped table ROUTE_KEEP; every
 * partitioned one, mapped or listed by its exact name, ROUTE_ROOT with
 * each of its partitions ROUTE_MEMBER (each leaf checked with
 * catalog_check_partition).  *schemas: the schemas (*nschemas, caller
 * frees each and the array) that hold a partitioned table or one of its
 * partitions, for add-tables "schema.*".  Returns NULL with a message in
 * errbuf: the catalog could not be read, a partition cannot be followed,
 * or a partition is mapped beside its partitioned table.  Does not log.
 */
struct route *catalog_route_new(PGconn *conn, const struct sink_target *t,
								size_t n, const char *add_tables,
								char ***schemas, size_t *nschemas,
								char *errbuf, size_t errlen);

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
