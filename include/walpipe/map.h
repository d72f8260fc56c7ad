/* map.h: mapping rules compiled into the set-based SQL that applies a batch. */
#ifndef WALPIPE_MAP_H
#define WALPIPE_MAP_H

#include "walpipe/wal2json.h"

#include <stdbool.h>
#include <stddef.h>

enum map_mode {
	MAP_MODE_UPSERT, /* one target row per source row, by key */
	MAP_MODE_APPEND, /* every insert and update becomes a new target row */
	/*
	 * A mirror of a table without a key (REPLICA IDENTITY FULL): each
	 * update or delete changes one target row equal to the old row on
	 * every mapped column, in stream order, duplicates included.
	 */
	MAP_MODE_KEYLESS,
	MAP_MODE_NONE,	 /* staging only */
};

enum map_src {
	MAP_SRC_COLUMN, /* a source column, optionally cast */
	MAP_SRC_PATH,	/* a path into a json/jsonb source column */
	MAP_SRC_SQL,	/* an SQL expression over the source columns */
	MAP_SRC_META,	/* change metadata */
};

enum map_meta {
	MAP_META_LSN,
	MAP_META_XID,
	MAP_META_COMMIT_TIME,
	MAP_META_OP,
	MAP_META_SOURCE,
};

enum map_on_delete {
	MAP_DELETE_DELETE,
	MAP_DELETE_SOFT, /* set soft_delete_column to the commit time */
	MAP_DELETE_IGNORE,
};

enum map_on_truncate {
	MAP_TRUNCATE_TRUNCATE,
	MAP_TRUNCATE_IGNORE,
	MAP_TRUNCATE_FAIL,
};

/* One target column of a rule.  All strings borrowed from the config. */
struct map_column {
	const char *target;
	enum map_src src;
	const char *column;		   /* COLUMN, PATH */
	const char *const *path;   /* PATH: keys below the column */
	size_t npath;
	const char *type;		   /* optional cast, SQL type text */
	const char *sql;		   /* SQL */
	enum map_meta meta;		   /* META */
};

struct map_rule {
	const char *from_schema, *from_table;
	const char *to_schema, *to_table;
	enum map_mode mode;
	const char *const *key; /* target column names (UPSERT) */
	size_t nkey;
	const struct map_column *cols;
	size_t ncols;
	const char *where; /* SQL predicate over source columns, or NULL */
	enum map_on_delete on_delete;
	const char *soft_delete_column;
	enum map_on_truncate on_truncate;
};

/* A column of the source table, from the source catalog. */
struct map_srccol {
	const char *name;
	const char *type; /* the temp table type, e.g. "numeric" (catalog.h) */
	bool key;		  /* part of the replica identity */
	/*
	 * What a row written before the column was added holds for it: the
	 * text of its missing value (pg_attribute.attmissingval, from a
	 * non-volatile ADD COLUMN default) in the form wal2json sends, or
	 * NULL for SQL NULL.  An insert decoded from before the column
	 * existed lacks it (collapse.h).
	 */
	const char *missing;
};

/*
 * The compiled plan of one rule against one source table's columns.
 *
 * The sink COPYs collapsed change rows into a temporary table with
 * columns (_seq bigint, _op "char", _sop "char", _lsn pg_lsn, _xid bigint,
 * _ts timestamptz, _present boolean[], _from bigint, then tmp_cols in
 * order, typed as in the source), and then runs the statements below, each
 * with $1 and $2 the inclusive _seq range to apply (the whole batch, or a
 * part while hunting for a bad row).  _op is 'U' or 'N' (full row: insert
 * or upsert), 'P' (partial update: TOAST-unchanged columns absent,
 * _present says which are there), 'M' (a partial row whose key changed:
 * the absent columns come from the target row at the old key, held by
 * temp row _from) or 'D' (delete: key columns from the old row); see
 * collapse.h.
 *
 * Rows are matched in the target on the plan's key (key, nkey): the
 * mapping's key when it is computed from the source's replica identity
 * columns alone, else the target columns that the replica identity
 * columns map to one to one (the identity changed since the mapping was
 * written); map_plan_new fails if neither exists, since deletes and key
 * changes could not find their rows.
 */
struct map_plan {
	char *tmp_table;	   /* quoted temp table name */
	const char **tmp_cols; /* source column names, borrowed from srccols */
	size_t ntmp;
	size_t *tmp_src;	   /* index into srccols for each tmp column */
	char *create_tmp;	   /* CREATE TEMP TABLE ... ON COMMIT DELETE ROWS */
	char *copy;			   /* COPY tmp (...) FROM STDIN */
	char *upsert;		   /* 'U' and 'N' rows (MAP_MODE_UPSERT) */
	/*
	 * The same split in two (MAP_MODE_UPSERT): 'N' rows, whose key's
	 * first change in the batch is an insert, by a plain INSERT, and 'U'
	 * rows by INSERT ... ON CONFLICT.  A mirror never holds such a key
	 * yet, and a plain insert costs half a speculative one; where it does
	 * (a soft-deleted row inserted again, on_delete: ignore, rows from
	 * another writer) the insert fails with unique_violation and the
	 * caller uses upsert instead.
	 */
	char *insert_new;
	/*
	 * 'N' rows straight into the target, not through the temp table:
	 * "COPY target (every mapped column) FROM STDIN", each column the
	 * source column copy_new_tmp[i] (a tmp column index) as it came.  Set
	 * by map_plan_copy_new where that inserts exactly what insert_new
	 * would; NULL otherwise.  It fails as insert_new does, and the caller
	 * falls back the same way.
	 */
	char *copy_new;
	size_t *copy_new_tmp;
	char *upsert_old;
	char *update_partial;  /* 'P' rows (MAP_MODE_UPSERT) */
	/*
	 * 'M' rows (MAP_MODE_UPSERT): INSERT .. ON CONFLICT of the new key,
	 * each absent column taken from the target row at the old key.  Runs
	 * first, before any statement changes the target.  move_orphans
	 * selects the _seq of 'M' rows (that pass the where) whose old key
	 * has no target row: they cannot be completed and are dead-lettered.
	 */
	char *move;
	char *move_orphans;
	/*
	 * U, P and M rows that fail the mapping's where (MAP_MODE_UPSERT with
	 * a where): the row stopped matching, so it leaves the target as a
	 * delete would (DELETE, or the soft-delete UPDATE); NULL without a
	 * where or under on_delete: ignore (the row keeps its last matching
	 * values).
	 */
	char *unmatch;
	/*
	 * 'P' rows that pass the where but have no target row (MAP_MODE_UPSERT
	 * with a where): the update made a filtered-out row match, and left
	 * out unchanged TOASTed columns the target cannot supply.  Selects
	 * their _seq, to be dead-lettered.  NULL without a where.
	 */
	char *partial_orphans;
	char *append;		   /* 'U' and 'P' rows (MAP_MODE_APPEND); 'U'
							* rows (MAP_MODE_KEYLESS: the inserts) */
	/*
	 * MAP_MODE_KEYLESS.  collapse keeps every change as it came: an
	 * insert is a 'U' row, a delete a 'D' row (its old row), an update an
	 * 'O' row (its old row) followed at _seq + 1 by a 'W' row (the new
	 * one).  keyless_delete deletes one target row equal to the 'D' row
	 * of _seq $1..$2 on every matched column (ctid, so duplicates lose
	 * one row each); keyless_update sets one row equal to the 'O' row of
	 * $1..$2 to the 'W' row.  keyless_apply runs a batch's rows $1..$2 in
	 * _seq order through the function that create_tmp also creates (runs
	 * of inserts set-based by append, each delete and update by the
	 * statements above), and selects the _seq of each 'D' or 'O' row that
	 * found no target row, to be dead-lettered.  A batch of inserts only
	 * needs append alone.
	 */
	char *keyless_delete;
	char *keyless_update;
	char *keyless_apply;
	char *remove;		   /* 'D' rows: DELETE or soft-delete UPDATE, or NULL */
	bool soft_delete;	   /* remove is a soft delete: it runs after the
							* upserts and also marks 'U'/'P' rows whose last
							* change was a delete (see collapse.h) */
	/* The statements read these metadata columns of the temp table; a
	 * column nobody reads is sent as NULL (the server need not parse a
	 * timestamp per row for nothing). */
	bool copy_lsn, copy_xid, copy_ts;
	char *truncate;		   /* TRUNCATE target, or NULL */
	char *target;		   /* quoted schema.table */
	const struct map_rule *rule; /* borrowed */
	const char **key;	   /* the target columns rows are matched on */
	size_t nkey;
	/* Which tmp columns each target column reads (ncols x ntmp) and which
	 * the where reads (ntmp): map_plan_partial_problem. */
	bool *reads;
	bool *where_reads;
	size_t ncols;
	/* Per target column, the type a plain column mapping without type:
	 * is cast to (map_plan_new_cast), or NULL; NULL: none. */
	char **casts;
};

/*
 * Compile rule r against the source table's columns (borrowed for the
 * life of the plan).  source is the source name ($source); tmp_name a
 * unique unquoted temp table name.  Returns NULL with a message in errbuf
 * if the rule names a source column the table does not have.  Pure: no
 * I/O, no logging.  Free with map_plan_free.
 */
struct map_plan *map_plan_new(const struct map_rule *r,
							  const struct map_srccol *srccols, size_t nsrc,
							  const char *source, const char *tmp_name,
							  char *errbuf, size_t errlen);
/*
 * map_plan_new, with casts[i] (for each of r's columns, or NULL) the type
 * a plain column mapping without its own type: is cast to: the target
 * column's type where the value travels as text but the target's type is
 * not a built-in one (an enum, composite, range or extension type, a
 * domain over one, an array of them), so that it goes through that type's
 * input, as PostgreSQL's subscriber does.  casts may be NULL; copied.
 */
struct map_plan *map_plan_new_cast(const struct map_rule *r,
								   const struct map_srccol *srccols,
								   size_t nsrc, const char *source,
								   const char *tmp_name,
								   const char *const *casts, char *errbuf,
								   size_t errlen);
/*
 * map_plan_new_cast, with ttypes[i] (for each of r's columns, or NULL:
 * unknown) the type of its target column as format_type gives it: a
 * keyless mapping (MAP_MODE_KEYLESS) compares a target row with an old
 * row as that type's text, the old row's value cast to it first, which
 * is what an insert stored.  ttypes may be NULL; borrowed during the
 * call only.
 */
struct map_plan *map_plan_new_typed(const struct map_rule *r,
									const struct map_srccol *srccols,
									size_t nsrc, const char *source,
									const char *tmp_name,
									const char *const *casts,
									const char *const *ttypes, char *errbuf,
									size_t errlen);
void map_plan_free(struct map_plan *p);

/*
 * The first column the plan reads that is absent from cols[0..n) (the
 * columns of a decoded change), or NULL when all are there.  An
 * insert always carries every column, so a name missing from one means
 * the source table changed shape after the plan was compiled.  Pure.
 */
const char *map_plan_absent_column(const struct map_plan *p,
								   const struct w2j_column *cols, size_t n);

/*
 * Whether a partial row ('P' or 'M': present[k] for each tmp column k) can
 * be applied.  It cannot when the mapping's where reads an absent column
 * (whether the row still matches is unknown), or when a target column is
 * computed from several source columns of which only some are present
 * (it can be neither recomputed nor kept).  Returns true, or false with
 * the reason in errbuf.  Pure.
 */
bool map_plan_partial_ok(const struct map_plan *p, const bool *present,
						 char *errbuf, size_t errlen);

/*
 * The first column of cols[0..n) (the columns of a decoded change) that
 * srccols[0..nsrc) lack, or NULL when the table has them all.  Beside an
 * absent column (map_plan_absent_column) it tells a column added after the
 * change (nothing unknown) from one renamed since (the change carries the
 * old name).  Pure.
 */
const char *map_unknown_column(const struct map_srccol *srccols, size_t nsrc,
							   const struct w2j_column *cols, size_t n);

/*
 * One temp row as an INSERT (walpipe dlq retry stages a dead letter so):
 * "INSERT INTO tmp (_seq, _op, _sop, _lsn, _xid, _ts, _present, cols...)
 * VALUES (1, $1, ..., $6, $7, ...)": _seq is 1, $1.. $6 are _op, _sop,
 * _lsn, _xid, _ts and _present, $7 on the tmp columns in order.  Caller
 * frees.  Pure.
 */
char *map_plan_tmp_insert(const struct map_plan *p);

/*
 * Whether tmp column k (of src, the plan's source columns) is a bytea:
 * wal2json sends its value as bare hex digits, which the temp table's
 * input takes only with a \x in front.  Pure.
 */
bool map_plan_tmp_is_bytea(const struct map_plan *p,
						   const struct map_srccol *src, size_t k);

/* Index of tmp column for source column name, or -1. */
int map_plan_tmp_index(const struct map_plan *p, const char *column);

/*
 * Set p->copy_new (see map.h's struct map_plan) when a COPY of the
 * source text into the target inserts exactly what insert_new does:
 * an upsert with a plain insert, no where, no soft delete, and every
 * target column a plain source column without type: or cast whose target
 * type is the source column's temp table type (tbase[i]: target column
 * i's type as catalog.h spells a temp column's, NULL where it is not one
 * of those or the target is not a plain or partitioned table without
 * rules; tbase NULL: none is).  A value's text then goes through the
 * same input function, with the target's modifier, as the temp table's
 * value goes through the assignment to the target.  Pure.
 */
void map_plan_copy_new(struct map_plan *p, const struct map_srccol *src,
					   const char *const *tbase);

/*
 * The COPY statement that reads every row of source table schema.table
 * (its columns cols, from the catalog) as one wal2json format-version 2
 * insert message per line, with "lsn" set to lsn_text: values are the
 * server's own text, numbers and booleans unquoted and bytea as plain hex
 * digits, as wal2json sends them.  Only the table's own rows (FROM ONLY:
 * an inheritance child's changes come under its own name), unless
 * partitioned: a partitioned table's rows are its partitions' (route.h),
 * named as the table's.  Run it inside the snapshot transaction; undo
 * COPY's text escaping of each line with map_snapshot_unescape.  Pure.
 * Caller frees.
 */
char *map_snapshot_query(const char *schema, const char *table,
						 bool partitioned,
						 const struct map_srccol *cols, size_t n,
						 const char *lsn_text);

/*
 * A column of the key a backfill walks the source table by (the replica
 * identity's index, in its order): type is format_type's text, a valid
 * cast target; collate_c: a collatable key compared as COLLATE "C" on
 * both servers, so that source and analytics order it alike.
 */
struct map_key {
	const char *name;
	const char *type;
	bool collate_c;
};

/*
 * One chunk of an online backfill: the rows of the table (as
 * map_snapshot_query's, then each key column as text) ordered by keys,
 * after the key given as parameters $1..$nkeys (typed text) when after,
 * at most limit of them.  lsn_text goes into each message.  Pure.
 * Caller frees.
 */
char *map_chunk_query(const char *schema, const char *table, bool partitioned,
					  const struct map_srccol *cols, size_t n,
					  const struct map_key *keys, size_t nkeys, bool after,
					  size_t limit, const char *lsn_text);

/*
 * Whether a backfill of plan p (rule r) can remove the target rows that
 * no source row of a chunk's key range maps to any more (the row was
 * deleted, or no longer passes the where): an upsert mapping that deletes
 * or soft-deletes, each source key column copied (a cast allowed) into a
 * key column of the target, and key types whose order analytics shares.
 * If not, why (for the log and `walpipe status`).  Pure.
 */
bool map_sweep_possible(const struct map_plan *p, const struct map_rule *r,
						const struct map_key *keys, size_t nkeys, char *why,
						size_t whylen);

/*
 * The statement that removes (DELETE, or the soft-delete UPDATE) the
 * target rows whose source key is in (lo, hi] (NULL: unbounded on that
 * side; values as text, nkeys each) and that none of the temp table's 'U'
 * and 'N' rows passing the where maps to.  Run after the chunk's rows are
 * applied, in their transaction.  map_sweep_possible must hold.  Pure.
 * Caller frees.
 */
char *map_sweep_sql(const struct map_plan *p, const struct map_rule *r,
					const char *source, const struct map_key *keys,
					size_t nkeys, const char *const *lo,
					const char *const *hi);

/*
 * Undo COPY text-format escaping of a one-column line in place (without
 * its trailing newline); returns the new length.  Pure.
 */
size_t map_snapshot_unescape(char *line, size_t len);

/* Append name as a quoted SQL identifier. */
struct buf;
void map_quote_ident(struct buf *out, const char *name);

/*
 * Append what rule r does, one line per part, in a fixed order and the
 * configuration's notation: what `walpipe plan` compares between the
 * running configuration and a new file, and shows where they differ, e.g.
 *   mode upsert
 *   key order_id
 *   column amount = amount::numeric(15,4)
 *   column source_lsn = $lsn
 *   where status <> 'test'
 *   on_delete soft_delete deleted_at
 *   on_truncate truncate
 * Two rules that apply the same way describe the same.  Pure.
 */
void map_rule_describe(struct buf *b, const struct map_rule *r);

/* r's source and target tables in ident_qualified's text form (target ""
 * for mode none), into from and to of len bytes each (IDENT_QUALIFIED_MAX
 * always fits): how walpipe.applied_rules keys a rule.  Pure. */
void map_rule_tables(const struct map_rule *r, char *from, char *to,
					 size_t len);

#endif
