/* route.h: which table a decoded change is of (a partition's: its root's). */
#ifndef WALPIPE_ROUTE_H
#define WALPIPE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * wal2json sends every change under the name of the leaf partition that
 * holds the row, never under its partitioned table's.  A mapping from a
 * partitioned table (a "root", also one listed in source.tables for
 * staging or Kafka) receives the changes of all its partitions
 * as its own, as PostgreSQL's publish_via_partition_root does: the session
 * renames each change of a partition to its root once, right after
 * decoding, and everything after it (mappings, staging, Kafka, metrics)
 * sees the root.
 *
 * To also receive partitions created while streaming, walpipe asks
 * wal2json for every table of the schemas that hold a root's partitions
 * (add-tables "schema.*"), so changes of tables nobody listed arrive too.
 * The route cache says, per schema.table, what a change of it is:
 *
 *   ROUTE_KEEP    a listed table: as is
 *   ROUTE_ROOT    a root (mapped, or listed in source.tables): as is (its
 *                 TRUNCATE)
 *   ROUTE_MEMBER  a partition of a root, at any level: renamed
 *   ROUTE_DROP    neither listed nor below a root: ignored, as
 *                 wal2json's filter would have
 *   ROUTE_GONE    unknown, and the source catalog no longer has it
 *                 (dropped before walpipe read its changes): ignored,
 *                 counted, warned of
 *
 * A table is looked up in the source catalog once, then cached; the cache
 * is a hash table of at most one entry per table that sent a change.
 * Pure: no I/O, no logging.
 */
enum route_kind {
	ROUTE_KEEP,
	ROUTE_ROOT,
	ROUTE_MEMBER,
	ROUTE_DROP,
	ROUTE_GONE,
};

struct route_entry {
	const char *schema; /* owned by the cache */
	const char *table;
	enum route_kind kind;
	const char *root_schema; /* ROUTE_MEMBER: the root */
	const char *root_table;
	uint64_t changes; /* the caller's count (ROUTE_GONE: ignored ones) */
	uint64_t mark;	  /* the caller's (the LSN of its last TRUNCATE) */
};

struct route;

/*
 * A new, empty cache.  add_tables: wal2json's add-tables option as
 * source.tables gives it ("s.t,s2.*", backslash escapes), NULL or empty
 * for every table; borrowed only during the call.  Never NULL; free with
 * route_free.
 */
struct route *route_new(const char *add_tables);

/* NULL-safe. */
void route_free(struct route *r);

/*
 * Whether schema.table passes the add-tables filter given to route_new,
 * read as wal2json reads it (`*.t` and `s.*` wildcards, a backslash
 * escapes the next character).
 */
bool route_listed(const struct route *r, const char *schema,
				  const char *table);

/*
 * Record schema.table as kind (root_schema/root_table for ROUTE_MEMBER,
 * else NULL); all strings are copied.  An existing entry is replaced.
 * Returns the entry, valid until route_free.
 */
struct route_entry *route_add(struct route *r, const char *schema,
							  const char *table, enum route_kind kind,
							  const char *root_schema,
							  const char *root_table);

/*
 * The i-th table named exactly (no wildcard) by the add-tables filter, in
 * *schema and *table (valid until route_free); false past the last.
 */
bool route_listed_table(const struct route *r, size_t i, const char **schema,
						const char **table);

/*
 * The i-th entry of kind ROUTE_ROOT in the order they were added, or NULL
 * past the last.
 */
const struct route_entry *route_root(const struct route *r, size_t i);

/* The entry of schema.table, or NULL if none was added. */
struct route_entry *route_find(const struct route *r, const char *schema,
							   const char *table);

/* Entries in the cache. */
size_t route_count(const struct route *r);

#endif
