/* mirror_pg.h: whole-database mirrors against live databases: the source tables a mirror matches, and their targets made to exist. */
#ifndef WALPIPE_MIRROR_PG_H
#define WALPIPE_MIRROR_PG_H

#include "walpipe/config.h"
#include "walpipe/mirror.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* One column of a source table, as the source catalog describes it. */
struct mirror_source_col {
	char *name;
	char *type;			/* format_type(): "numeric(10,2)", "public.\"Role\"[]" */
	bool not_null;
	int key_pos;		/* 1-based position in the key, 0: not in it */
	/* The column's type, or its element type for an array, when it is
	 * not built in (type_kind != 0): pg_type.typtype ('e' enum, 'd'
	 * domain, 'c' composite, 'r' range, 'm' multirange, 'b' base) and
	 * its schema and name; type_ext is the extension that owns it, or
	 * NULL. */
	char type_kind;
	char *type_schema;
	char *type_name;
	char *type_ext;
	/* Rows from before the column was added hold missing (the text of
	 * pg_attribute.attmissingval: a non-volatile ADD COLUMN default), or
	 * NULL for SQL NULL, or, when has_default and no missing value,
	 * values walpipe cannot know (a volatile default rewrote them). */
	bool has_default;
	char *missing;
	int attnum;			/* the source's column number */
};

/* A source table a mirror matches (an ordinary or partitioned table that
 * is no partition itself: a partitioned table brings its partitions'
 * rows and is mirrored as one table). */
struct mirror_source {
	char *schema;
	char *table;
	bool partitioned;
	char replident;		  /* pg_class.relreplident: d, n, f or i */
	bool key_is_primary;  /* the key is the primary key */
	struct mirror_source_col *cols; /* attnum order; generated and dropped
									 * columns left out: wal2json sends
									 * neither */
	size_t ncols;
	size_t nkey;		  /* 0: no key (keyless under FULL, or unusable) */
	size_t ngenerated;	  /* generated columns left out */
};

/*
 * The source tables matching any of from[0..nfrom) and none of
 * exclude[0..nexclude), sorted by schema and table, in *out (free with
 * mirror_pg_free_sources) and *n; system schemas (pg_*,
 * information_schema) never match.  One catalog query.  Returns true,
 * or false with a message in errbuf.  Does not log.
 */
bool mirror_pg_sources(PGconn *src, const struct mirror_pattern *from,
					   size_t nfrom, const struct mirror_pattern *exclude,
					   size_t nexclude, struct mirror_source **out, size_t *n,
					   char *errbuf, size_t errlen);

/*
 * mirror_pg_sources of mirror entry i of m[0..nm), keeping only the
 * tables that entry takes (config_mirror_of: no earlier entry, no rule of
 * rules[0..nrules) reads them).
 */
bool mirror_pg_taken(PGconn *src, const struct config_mirror *m, size_t nm,
					 size_t i, const struct map_rule *rules, size_t nrules,
					 struct mirror_source **out, size_t *n, char *errbuf,
					 size_t errlen);

/* NULL-safe. */
void mirror_pg_free_sources(struct mirror_source *s, size_t n);

/*
 * Whether s can be mirrored: true, or false with the reason in why: no
 * replica identity that logs its updates and deletes (NOTHING, DEFAULT
 * without a primary key, USING INDEX of a dropped index).  Under FULL
 * without a key it is mirrored as a keyless table.  Pure.
 */
bool mirror_source_ok(const struct mirror_source *s, char *why,
					  size_t whylen);

/*
 * s as mirror.h's view (t's arrays allocated, strings borrowed from s):
 * for mirror_rule_new.  Free with mirror_source_view_free.
 */
void mirror_source_view(const struct mirror_source *s, struct mirror_table *t);
void mirror_source_view_free(struct mirror_table *t);

/*
 * Make the target of s exist in schema spec->to on the analytics
 * connection ana, inside the caller's transaction: the schema, the user
 * types its columns use (enums and domains created as the source defines
 * them, an enum's new labels added; an extension's type required, with
 * the CREATE EXTENSION to run), then CREATE TABLE
 * (mirror_append_create_table) with spec's metadata and soft-delete
 * columns after the source's.
 *
 * An existing table follows the source where that is safe: a column the
 * source added is added (rows from before get what they hold on the
 * source: the ADD COLUMN default, or NULL), a type the source widened
 * (mirror_type_change) is widened, a column the source dropped stays
 * (NOT NULL dropped: new rows leave it NULL).  Everything else fails
 * with every difference listed and the statement that fixes it: another
 * type, a column that looks renamed (a new column whose number the
 * target gives a column the source lacks, of the same type), a column added with a volatile
 * default, no unique index on the key.  Target columns the source never
 * had are allowed.  *changes (when changes is not NULL): the statements
 * run, or NULL; caller frees.
 *
 * Sets search_path to pg_catalog, pg_temp for the rest of the caller's
 * transaction (SET LOCAL), so that type names compare as printed.
 * Returns 1 when it created the table, 2 when it changed it, 0 when it
 * fitted as it was, -1 with a message in errbuf.  Reads the source's
 * type definitions over src.  Does not log.
 */
int mirror_pg_ensure_target(PGconn *src, PGconn *ana,
							const struct mirror_source *s,
							const struct mirror_spec *spec, char **changes,
							char *errbuf, size_t errlen);

#endif
