/* test_collapse.c: unit tests of batch collapsing and the compiled apply SQL. */
#include "walpipe/batch.h"
#include "walpipe/buf.h"
#include "walpipe/collapse.h"
#include "walpipe/map.h"
#include "walpipe/wal2json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct map_srccol src[] = {
	{"id", "bigint", true, NULL},
	{"name", "text", false, NULL},
	{"bio", "text", false, NULL},
	{"raw", "bytea", false, NULL},
};

static const struct map_column cols[] = {
	{.target = "user_id", .src = MAP_SRC_COLUMN, .column = "id"},
	{.target = "name", .src = MAP_SRC_COLUMN, .column = "name"},
	{.target = "bio", .src = MAP_SRC_COLUMN, .column = "bio"},
	{.target = "raw", .src = MAP_SRC_COLUMN, .column = "raw"},
	{.target = "lsn", .src = MAP_SRC_META, .meta = MAP_META_LSN},
};
static const char *const key[] = {"user_id"};

static const struct map_rule rule = {
	.from_schema = "public", .from_table = "users",
	.to_schema = "analytics", .to_table = "fact_users",
	.mode = MAP_MODE_UPSERT, .key = key, .nkey = 1,
	.cols = cols, .ncols = 5,
	.on_delete = MAP_DELETE_DELETE, .on_truncate = MAP_TRUNCATE_TRUNCATE,
};

/* Decode each wal2json line into the batch. */
static struct batch *
make_batch(const char *const *lines, size_t n)
{
	struct batch *b = batch_new(1 << 20);
	struct w2j_decoder *d = w2j_decoder_new();
	char err[256];

	for (size_t i = 0; i < n; i++) {
		struct w2j_change c;

		if (!w2j_decode(d, lines[i], strlen(lines[i]), &c, err, sizeof(err)))
			fail_msg("decode: %s", err);
		assert_true(batch_add(b, &c, lines[i], strlen(lines[i]), 0x100,
							  i + 1, "2026-01-01 00:00:00+00", err,
							  sizeof(err)));
	}
	w2j_decoder_free(d);
	return b;
}

static char *
collapse_rule_lines(const struct map_rule *r, const char *const *lines,
					size_t n, bool merge)
{
	char err[256];
	struct map_plan *p = map_plan_new(r, src, 4, "shop", "t0", err,
									  sizeof(err));
	struct batch *b = make_batch(lines, n);
	struct collapse *c = collapse_new();
	struct buf out = BUF_INIT;
	char *text;

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		collapse_add(c, b, i, p, src, merge);
	collapse_copy_text(c, b, p, src, 0, collapse_count(c) - 1, false, &out);
	text = strdup(out.data ? out.data : "");
	buf_free(&out);
	collapse_free(c);
	batch_free(b);
	map_plan_free(p);
	return text;
}

static char *
collapse_lines(const char *const *lines, size_t n, bool merge)
{
	return collapse_rule_lines(&rule, lines, n, merge);
}

#define I(id, name, bio)                                                       \
	"{\"action\":\"I\",\"xid\":5,\"lsn\":\"0/10\",\"schema\":\"public\","     \
	"\"table\":\"users\",\"columns\":[{\"name\":\"id\",\"value\":" id "},"      \
	"{\"name\":\"name\",\"value\":" name "},{\"name\":\"bio\",\"value\":" bio  \
	"},{\"name\":\"raw\",\"value\":\"00ff\"}]}"
#define U_PARTIAL(id, name)                                                    \
	"{\"action\":\"U\",\"xid\":5,\"lsn\":\"0/20\",\"schema\":\"public\","     \
	"\"table\":\"users\",\"columns\":[{\"name\":\"id\",\"value\":" id "},"      \
	"{\"name\":\"name\",\"value\":" name "},{\"name\":\"raw\",\"value\":"      \
	"\"01\"}],\"identity\":[{\"name\":\"id\",\"value\":" id "}]}"
#define D(id)                                                                  \
	"{\"action\":\"D\",\"xid\":5,\"lsn\":\"0/30\",\"schema\":\"public\","     \
	"\"table\":\"users\",\"identity\":[{\"name\":\"id\",\"value\":" id "}]}"

static void
test_insert_then_partial_update_is_full(void **state)
{
	const char *lines[] = {I("1", "\"a\"", "\"long bio\""),
						   U_PARTIAL("1", "\"b\"")};
	char *t = collapse_lines(lines, 2, true);

	(void) state;
	/* One full row: the new name, the bio from the insert. */
	assert_string_equal(t, "1\tN\tU\t0/20\t\\N\t\\N\t"
						   "\\N\t\\N\t1\tb\tlong bio\t\\\\x01\n");
	free(t);
}

static void
test_partial_update_alone_is_partial(void **state)
{
	const char *lines[] = {U_PARTIAL("7", "\"tab\\there\"")};
	char *t = collapse_lines(lines, 1, true);

	(void) state;
	/* bio absent: present flag false, value NULL; tab escaped. */
	assert_string_equal(t, "1\tP\tU\t0/20\t\\N\t\\N\t"
						   "{t,t,f,t}\t\\N\t7\ttab\\there\t\\N\t\\\\x01\n");
	free(t);
}

static void
test_delete_then_reinsert_ends_present(void **state)
{
	const char *lines[] = {I("1", "\"a\"", "null"), D("1"),
						   I("1", "\"again\"", "null"), D("2")};
	char *t = collapse_lines(lines, 4, true);

	(void) state;
	/* Key 1 was first inserted in this batch: new to the target ('N'). */
	assert_string_equal(t, "1\tN\tI\t0/10\t\\N\t\\N\t"
						   "\\N\t\\N\t1\tagain\t\\N\t\\\\x00ff\n"
						   "2\tD\tD\t0/30\t\\N\t\\N\t"
						   "\\N\t\\N\t2\t\\N\t\\N\t\\N\n");
	free(t);
}

/* A key deleted and then inserted again may be in the target: upsert it
 * ('U'), never a plain insert ('N'). */
static void
test_reinsert_after_delete_is_not_new(void **state)
{
	const char *lines[] = {D("8"), I("8", "\"b\"", "null")};
	char *t = collapse_lines(lines, 2, true);

	(void) state;
	assert_string_equal(t, "1\tU\tI\t0/10\t\\N\t\\N\t"
						   "\\N\t\\N\t8\tb\t\\N\t\\\\x00ff\n");
	free(t);
}

static void
test_insert_then_delete_is_delete(void **state)
{
	const char *lines[] = {I("3", "\"x\"", "\"y\""), D("3")};
	char *t = collapse_lines(lines, 2, true);

	(void) state;
	assert_string_equal(t, "1\tD\tD\t0/30\t\\N\t\\N\t"
						   "\\N\t\\N\t3\t\\N\t\\N\t\\N\n");
	free(t);
}

/* Metadata a mapping reads ($xid, $commit_time) goes out; $lsn, which
 * this one does not read, goes as NULL. */
static void
test_metadata_sent_when_read(void **state)
{
	static const struct map_column mcols[] = {
		{.target = "user_id", .src = MAP_SRC_COLUMN, .column = "id"},
		{.target = "xid", .src = MAP_SRC_META, .meta = MAP_META_XID},
		{.target = "at", .src = MAP_SRC_META, .meta = MAP_META_COMMIT_TIME},
	};
	struct map_rule r = rule;
	const char *lines[] = {I("1", "\"a\"", "\"b\"")};
	char *t;

	(void) state;
	r.cols = mcols;
	r.ncols = 3;
	t = collapse_rule_lines(&r, lines, 1, true);
	assert_string_equal(t, "1\tN\tI\t\\N\t5\t2026-01-01 00:00:00+00\t"
						   "\\N\t\\N\t1\n");
	free(t);
}

/* Soft delete: an order placed and cancelled in one batch must still
 * arrive, with its values, marked deleted (sop 'D'). */
static void
test_soft_delete_keeps_row_of_batch(void **state)
{
	const char *lines[] = {I("3", "\"x\"", "\"y\""), U_PARTIAL("3", "\"z\""),
						   D("3"), U_PARTIAL("4", "\"p\""), D("4"), D("5"),
						   I("6", "\"a\"", "null"), D("6"),
						   I("6", "\"b\"", "null")};
	struct map_rule r = rule;
	char *t;

	(void) state;
	r.on_delete = MAP_DELETE_SOFT;
	r.soft_delete_column = "deleted_at";
	t = collapse_rule_lines(&r, lines, 9, true);
	assert_string_equal(t, "1\tN\tD\t0/30\t\\N\t2026-01-01 00:00:00+00\t"
						   "\\N\t\\N\t3\tz\ty\t\\\\x01\n"
						   "2\tP\tD\t0/30\t\\N\t2026-01-01 00:00:00+00\t"
						   "{t,t,f,t}\t\\N\t4\tp\t\\N\t\\\\x01\n"
						   "3\tD\tD\t0/30\t\\N\t2026-01-01 00:00:00+00\t"
						   "\\N\t\\N\t5\t\\N\t\\N\t\\N\n"
						   "4\tN\tI\t0/10\t\\N\t2026-01-01 00:00:00+00\t"
						   "\\N\t\\N\t6\tb\t\\N\t\\\\x00ff\n");
	free(t);
}

static void
test_key_change_deletes_old_key(void **state)
{
	const char *lines[] = {
		"{\"action\":\"U\",\"xid\":5,\"lsn\":\"0/40\",\"schema\":\"public\","
		"\"table\":\"users\",\"columns\":[{\"name\":\"id\",\"value\":9},"
		"{\"name\":\"name\",\"value\":\"n\"},{\"name\":\"bio\",\"value\":null},"
		"{\"name\":\"raw\",\"value\":null}],"
		"\"identity\":[{\"name\":\"id\",\"value\":8}]}"};
	char *t = collapse_lines(lines, 1, true);

	(void) state;
	assert_string_equal(t, "1\tD\tU\t0/40\t\\N\t\\N\t"
						   "\\N\t\\N\t8\t\\N\t\\N\t\\N\n"
						   "2\tU\tU\t0/40\t\\N\t\\N\t"
						   "\\N\t\\N\t9\tn\t\\N\t\\N\n");
	free(t);
}

static void
test_append_keeps_every_row(void **state)
{
	const char *lines[] = {I("1", "\"a\"", "null"), I("1", "\"b\"", "null")};
	char *t = collapse_lines(lines, 2, false);

	(void) state;
	assert_non_null(strstr(t, "1\tU\tI"));
	assert_non_null(strstr(t, "2\tU\tI"));
	free(t);
}

static void
test_plan_sql(void **state)
{
	static const char *const path[] = {"user", "id"};
	static const struct map_column c2[] = {
		{.target = "k", .src = MAP_SRC_COLUMN, .column = "id"},
		{.target = "uid", .src = MAP_SRC_PATH, .column = "bio", .path = path,
		 .npath = 2, .type = "bigint"},
		{.target = "v", .src = MAP_SRC_SQL, .sql = "upper(Name) || 'id'"},
		{.target = "src", .src = MAP_SRC_META, .meta = MAP_META_SOURCE},
	};
	static const char *const k2[] = {"k"};
	struct map_rule r = rule;
	struct map_plan *p;
	char err[256];

	(void) state;
	r.cols = c2;
	r.ncols = 4;
	r.key = k2;
	r.where = "name <> 'test'";
	r.on_delete = MAP_DELETE_SOFT;
	r.soft_delete_column = "deleted_at";
	p = map_plan_new(&r, src, 4, "sh'op", "t1", err, sizeof(err));
	assert_non_null(p);
	/* raw is not referenced: not in the temp table. */
	assert_int_equal(p->ntmp, 3);
	assert_string_equal(p->create_tmp,
						"CREATE TEMP TABLE IF NOT EXISTS pg_temp.\"t1\" (_seq "
						"bigint, _op \"char\", _sop \"char\", _lsn pg_lsn, "
						"_xid bigint, _ts timestamptz, _present boolean[], "
						"_from bigint, \"id\" bigint, \"name\" text, \"bio\" text) WITH "
						"(toast_tuple_target = 8160)");
	assert_string_equal(
		p->upsert,
		"INSERT INTO \"analytics\".\"fact_users\" AS t (\"k\", \"uid\", "
		"\"v\", \"src\") SELECT m.* FROM (SELECT (s.\"id\") AS \"k\", "
		"(s.\"bio\" #>> '{\"user\",\"id\"}')::bigint AS \"uid\", "
		"(upper(Name) || 'id') AS \"v\", 'sh''op' AS \"src\" FROM "
		"pg_temp.\"t1\" s WHERE s._op IN ('U', 'N') AND s._seq BETWEEN $1 AND "
		"$2 AND (name <> 'test')) m ON CONFLICT (\"k\") DO UPDATE SET "
		"\"uid\" = EXCLUDED.\"uid\", \"v\" = EXCLUDED.\"v\", \"src\" = "
		"EXCLUDED.\"src\"");
	/* New keys: the same rows and values by a plain insert; the rest by
	 * the same upsert. */
	assert_string_equal(
		p->insert_new,
		"INSERT INTO \"analytics\".\"fact_users\" (\"k\", \"uid\", \"v\", "
		"\"src\") SELECT m.* FROM (SELECT (s.\"id\") AS \"k\", "
		"(s.\"bio\" #>> '{\"user\",\"id\"}')::bigint AS \"uid\", "
		"(upper(Name) || 'id') AS \"v\", 'sh''op' AS \"src\" FROM "
		"pg_temp.\"t1\" s WHERE s._op = 'N' AND s._seq BETWEEN $1 AND $2 "
		"AND (name <> 'test')) m");
	assert_non_null(strstr(p->upsert_old, "WHERE s._op = 'U' AND s._seq"));
	assert_non_null(strstr(p->upsert_old, "ON CONFLICT (\"k\") DO UPDATE"));
	assert_string_equal(p->remove,
						"UPDATE \"analytics\".\"fact_users\" t SET "
						"\"deleted_at\" = m._ts FROM (SELECT (s.\"id\") AS "
						"\"k\", s._ts FROM pg_temp.\"t1\" s WHERE "
						"(s._op = 'D' OR s._sop = 'D') AND s._seq BETWEEN $1 "
						"AND $2) m WHERE t.\"k\" = m.\"k\"");
	assert_true(p->soft_delete);
	/* Partial rows: v is present only if name (referenced) is. */
	assert_non_null(strstr(p->update_partial,
						   "(upper(Name) || 'id') AS \"v\", (s._present[2]) "
						   "AS \"_p2\""));
	map_plan_free(p);

	/* A mapping naming a missing source column is refused. */
	{
		static const struct map_column bad[] = {
			{.target = "x", .src = MAP_SRC_COLUMN, .column = "nope"}};

		r.cols = bad;
		r.ncols = 1;
		r.nkey = 0;
		assert_null(map_plan_new(&r, src, 4, "s", "t2", err, sizeof(err)));
		assert_string_equal(err, "column \"nope\" of mapping public.users -> "
								 "analytics.fact_users does not exist in the "
								 "source table");
	}
}

/* An insert lacking a column the plan reads is a changed table shape. */
static void
test_absent_column(void **state)
{
	static const char *const ins[] = {I("1", "\"a\"", "\"b\"")};
	static const char *const moved =
		"{\"action\":\"I\",\"schema\":\"public\",\"table\":\"users\","
		"\"columns\":[{\"name\":\"raw\",\"value\":\"00\"},{\"name\":"
		"\"id\",\"value\":1},{\"name\":\"bio\",\"value\":null},{\"name\":"
		"\"name\",\"value\":\"x\"}]}";
	static const char *const dropped =
		"{\"action\":\"I\",\"schema\":\"public\",\"table\":\"users\","
		"\"columns\":[{\"name\":\"id\",\"value\":1},{\"name\":\"bio\","
		"\"value\":null},{\"name\":\"raw\",\"value\":\"00\"},{\"name\":"
		"\"added\",\"value\":2}]}";
	struct w2j_decoder *d = w2j_decoder_new();
	struct w2j_change c;
	char err[256];
	struct map_plan *p = map_plan_new(&rule, src, 4, "shop", "t0", err,
									  sizeof(err));

	(void) state;
	assert_non_null(p);
	assert_true(w2j_decode(d, ins[0], strlen(ins[0]), &c, err, sizeof(err)));
	assert_null(map_plan_absent_column(p, c.columns, c.ncolumns));
	/* Same columns in another order: still complete. */
	assert_true(w2j_decode(d, moved, strlen(moved), &c, err, sizeof(err)));
	assert_null(map_plan_absent_column(p, c.columns, c.ncolumns));
	assert_null(map_unknown_column(src, 4, c.columns, c.ncolumns));
	/* "name" gone, an unmapped column added: name is reported. */
	assert_true(w2j_decode(d, dropped, strlen(dropped), &c, err, sizeof(err)));
	assert_string_equal(map_plan_absent_column(p, c.columns, c.ncolumns),
						"name");
	/* ... and so is the column the table does not have. */
	assert_string_equal(map_unknown_column(src, 4, c.columns, c.ncolumns),
						"added");
	assert_null(map_unknown_column(src, 4, c.columns, 3));
	map_plan_free(p);
	w2j_decoder_free(d);
}

/* An update moving key 8 to 9 that leaves bio out (unchanged TOAST). */
#define U_MOVE(from, to)                                                       \
	"{\"action\":\"U\",\"xid\":5,\"lsn\":\"0/50\",\"schema\":\"public\","     \
	"\"table\":\"users\",\"columns\":[{\"name\":\"id\",\"value\":" to "},"      \
	"{\"name\":\"name\",\"value\":\"m\"},{\"name\":\"raw\",\"value\":\"02\"}],"\
	"\"identity\":[{\"name\":\"id\",\"value\":" from "}]}"

/* A key column stored out of line and unchanged is absent from the new
 * row but in the identity: the row keeps its key (not a move). */
static void
test_toast_key_from_identity(void **state)
{
	const char *lines[] = {
		"{\"action\":\"U\",\"xid\":5,\"lsn\":\"0/40\",\"schema\":\"public\","
		"\"table\":\"users\",\"columns\":[{\"name\":\"name\",\"value\":\"n\"},"
		"{\"name\":\"bio\",\"value\":\"b\"},{\"name\":\"raw\",\"value\":null}],"
		"\"identity\":[{\"name\":\"id\",\"value\":8}]}"};
	char *t = collapse_lines(lines, 1, true);

	(void) state;
	assert_string_equal(t, "1\tU\tU\t0/40\t\\N\t\\N\t"
						   "\\N\t\\N\t8\tn\tb\t\\N\n");
	free(t);
}

/* A moved row with a column left out and no row of the old key in the
 * batch: 'M', completed from the target row at the old key (row 1). */
static void
test_key_move_partial_reads_target(void **state)
{
	const char *lines[] = {U_MOVE("8", "9")};
	char *t = collapse_lines(lines, 1, true);

	(void) state;
	assert_string_equal(t, "1\tD\tU\t0/50\t\\N\t\\N\t"
						   "\\N\t\\N\t8\t\\N\t\\N\t\\N\n"
						   "2\tM\tU\t0/50\t\\N\t\\N\t"
						   "{t,t,f,t}\t1\t9\tm\t\\N\t\\\\x02\n");
	free(t);
}

/* The batch inserted the old key: the moved row takes bio from it. */
static void
test_key_move_after_insert_is_full(void **state)
{
	const char *lines[] = {I("8", "\"a\"", "\"long\""), U_MOVE("8", "9")};
	char *t = collapse_lines(lines, 2, true);

	(void) state;
	assert_string_equal(t, "1\tD\tU\t0/50\t\\N\t\\N\t"
						   "\\N\t\\N\t8\ta\tlong\t\\\\x00ff\n"
						   "2\tU\tU\t0/50\t\\N\t\\N\t"
						   "\\N\t\\N\t9\tm\tlong\t\\\\x02\n");
	free(t);
}

/* Moved twice (8 -> 9 -> 10) after a partial update of 8: one 'M' row
 * of key 10 that reads the target row of 8; 8 and 9 are deleted. */
static void
test_key_move_chain(void **state)
{
	const char *lines[] = {U_PARTIAL("8", "\"p\""), U_MOVE("8", "9"),
						   U_MOVE("9", "10")};
	char *t = collapse_lines(lines, 3, true);

	(void) state;
	assert_string_equal(t, "1\tD\tU\t0/50\t\\N\t\\N\t"
						   "\\N\t\\N\t8\tp\t\\N\t\\\\x01\n"
						   "2\tD\tU\t0/50\t\\N\t\\N\t"
						   "\\N\t\\N\t9\tm\t\\N\t\\\\x02\n"
						   "3\tM\tU\t0/50\t\\N\t\\N\t"
						   "{t,t,f,t}\t1\t10\tm\t\\N\t\\\\x02\n");
	free(t);
}

/* A partial row whose where or computed column needs an absent column
 * cannot be applied: collapse_check marks it 'X' and says why. */
static void
test_partial_unappliable(void **state)
{
	static const struct map_column wc[] = {
		{.target = "user_id", .src = MAP_SRC_COLUMN, .column = "id"},
		{.target = "name", .src = MAP_SRC_COLUMN, .column = "name"},
		{.target = "both", .src = MAP_SRC_SQL, .sql = "name || bio"},
	};
	const char *lines[] = {U_PARTIAL("7", "\"x\"")};
	struct map_rule r = rule;
	struct map_plan *p;
	struct batch *b = make_batch(lines, 1);
	struct collapse *c = collapse_new();
	char err[512];

	(void) state;
	r.cols = wc;
	r.ncols = 3;
	p = map_plan_new(&r, src, 4, "shop", "t0", err, sizeof(err));
	assert_non_null(p);
	collapse_add(c, b, 0, p, src, true);
	assert_int_equal(collapse_check(c, p), 1);
	assert_int_equal(collapse_op_of(c, 1), 'X');
	assert_false(map_plan_partial_ok(p, collapse_present_of(c, 1), err,
									 sizeof(err)));
	assert_string_equal(err, "the update left out column \"bio\" (an "
							 "unchanged TOASTed value), which target column "
							 "\"both\" is computed from together with columns "
							 "that changed\nREPLICA IDENTITY FULL on the "
							 "source table makes updates carry it.");
	map_plan_free(p);

	/* The where reads bio. */
	r.ncols = 2;
	r.where = "bio <> ''";
	p = map_plan_new(&r, src, 4, "shop", "t0", err, sizeof(err));
	assert_non_null(p);
	collapse_reset(c);
	collapse_add(c, b, 0, p, src, true);
	assert_int_equal(collapse_check(c, p), 1);
	assert_false(map_plan_partial_ok(p, collapse_present_of(c, 1), err,
									 sizeof(err)));
	assert_non_null(strstr(err, "which the mapping's where reads"));
	/* Rows leaving the where are deleted from the target. */
	assert_non_null(p->unmatch);
	assert_non_null(strstr(p->unmatch, "DELETE FROM"));
	assert_non_null(strstr(p->unmatch, "AND NOT coalesce((bio <> ''), false)"));
	map_plan_free(p);
	collapse_free(c);
	batch_free(b);
}

/* The key rows are matched on follows the source's replica identity. */
static void
test_plan_key_follows_identity(void **state)
{
	static const struct map_srccol ri[] = {
		{"id", "bigint", false, NULL},
		{"name", "text", true, NULL}, /* the replica identity is now (name) */
		{"bio", "text", false, NULL},
		{"raw", "bytea", false, NULL},
	};
	struct map_rule r = rule;
	struct map_plan *p;
	char err[512];

	(void) state;
	p = map_plan_new(&r, ri, 4, "shop", "t0", err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(p->nkey, 1);
	assert_string_equal(p->key[0], "name");
	assert_non_null(strstr(p->remove, "WHERE t.\"name\" = m.\"name\""));
	assert_non_null(strstr(p->upsert, "ON CONFLICT (\"name\") DO UPDATE SET "
									  "\"user_id\" = EXCLUDED.\"user_id\""));
	map_plan_free(p);

	/* name not mapped: nothing could find a deleted row. */
	r.ncols = 1;
	assert_null(map_plan_new(&r, ri, 4, "shop", "t0", err, sizeof(err)));
	assert_string_equal(err,
						"the key of mapping public.users -> "
						"analytics.fact_users reads source columns outside "
						"the replica identity (name) of the source table, and "
						"the identity columns are not all mapped, so deletes "
						"and key changes could not find their target rows\n"
						"Map each replica identity column to a target column, "
						"or compute the key from them.");
}

/*
 * An insert from before columns were added lacks them: it gets their
 * missing values and stays a full row (a partial update of a key the
 * target does not hold would lose it).  An update lacking a column is a
 * TOAST-unchanged one: still partial.
 */
static void
test_insert_lacking_added_columns(void **state)
{
	static const struct map_srccol srcm[] = {
		{"id", "bigint", true, NULL},
		{"name", "text", false, "n\tm"},
		{"bio", "text", false, NULL},
		{"raw", "bytea", false, "0102"},
	};
	static const char *const lines[] = {
		"{\"action\":\"I\",\"xid\":5,\"lsn\":\"0/10\",\"schema\":"
		"\"public\",\"table\":\"users\",\"columns\":[{\"name\":\"id\","
		"\"value\":1},{\"name\":\"name\",\"value\":\"a\"}]}",
		"{\"action\":\"I\",\"xid\":5,\"lsn\":\"0/10\",\"schema\":"
		"\"public\",\"table\":\"users\",\"columns\":[{\"name\":\"id\","
		"\"value\":2},{\"name\":\"bio\",\"value\":\"b\"},{\"name\":"
		"\"raw\",\"value\":\"00ff\"}]}",
		U_PARTIAL("3", "\"c\""),
	};
	char err[256];
	struct map_plan *p = map_plan_new(&rule, srcm, 4, "shop", "t0", err,
									  sizeof(err));
	struct batch *b = make_batch(lines, 3);
	struct collapse *c = collapse_new();
	struct buf out = BUF_INIT;

	(void) state;
	assert_non_null(p);
	for (size_t i = 0; i < 3; i++)
		collapse_add(c, b, i, p, srcm, true);
	collapse_copy_text(c, b, p, srcm, 0, collapse_count(c) - 1, false,
					   &out);
	assert_string_equal(out.data,
						"1\tN\tI\t0/10\t\\N\t\\N\t\\N\t\\N\t"
						"1\ta\t\\N\t\\\\x0102\n"
						"2\tN\tI\t0/10\t\\N\t\\N\t\\N\t\\N\t"
						"2\tn\\tm\tb\t\\\\x00ff\n"
						"3\tP\tU\t0/20\t\\N\t\\N\t{t,t,f,t}\t\\N\t"
						"3\tc\t\\N\t\\\\x01\n");
	buf_free(&out);
	collapse_free(c);
	batch_free(b);
	map_plan_free(p);
}

/* REPLICA IDENTITY FULL: the old row fills what an update left out, for
 * an append mapping as for an upsert. */
static void
test_full_identity_fills_absent(void **state)
{
	const char *lines[] = {
		"{\"action\":\"U\",\"xid\":5,\"lsn\":\"0/60\",\"schema\":\"public\","
		"\"table\":\"users\",\"columns\":[{\"name\":\"id\",\"value\":4},"
		"{\"name\":\"name\",\"value\":\"new\"},{\"name\":\"raw\",\"value\":null}],"
		"\"identity\":[{\"name\":\"id\",\"value\":4},{\"name\":\"name\","
		"\"value\":\"old\"},{\"name\":\"bio\",\"value\":\"kept\"},"
		"{\"name\":\"raw\",\"value\":null}]}"};
	const char *want = "1\tU\tU\t0/60\t\\N\t\\N\t\\N\t\\N\t4\tnew\tkept\t\\N\n";
	char *t;

	(void) state;
	t = collapse_lines(lines, 1, false);
	assert_string_equal(t, want);
	free(t);
	t = collapse_lines(lines, 1, true);
	assert_string_equal(t, want);
	free(t);
}

/* A column whose value travels as text is cast to the target column's
 * type where catalog_target_casts says so; its own type: wins. */
static void
test_plan_casts(void **state)
{
	static const struct map_column cc[] = {
		{.target = "user_id", .src = MAP_SRC_COLUMN, .column = "id"},
		{.target = "name", .src = MAP_SRC_COLUMN, .column = "name"},
		{.target = "bio", .src = MAP_SRC_COLUMN, .column = "bio",
		 .type = "text"},
	};
	const char *const casts[] = {NULL, "\"Role\"[]", "mood"};
	struct map_rule r = rule;
	struct map_plan *p;
	char err[256];

	(void) state;
	r.cols = cc;
	r.ncols = 3;
	p = map_plan_new_cast(&r, src, 4, "shop", "t0", casts, err, sizeof(err));
	assert_non_null(p);
	assert_non_null(strstr(p->upsert, "(s.\"name\")::\"Role\"[] AS \"name\""));
	assert_non_null(strstr(p->upsert, "(s.\"bio\")::text AS \"bio\""));
	assert_non_null(strstr(p->upsert, "(s.\"id\") AS \"user_id\""));
	map_plan_free(p);
}

/* A keyless mapping (REPLICA IDENTITY FULL, no key): every change stays a
 * row of its own in stream order; an update is its old row ('O') and its
 * new row ('W', a column it left out taken from the old row). */
static const struct map_srccol nokey[] = {
	{"id", "bigint", false, NULL},
	{"name", "text", false, NULL},
	{"bio", "text", false, NULL},
	{"raw", "bytea", false, NULL},
};
static const struct map_column kcols[] = {
	{.target = "user_id", .src = MAP_SRC_COLUMN, .column = "id"},
	{.target = "name", .src = MAP_SRC_COLUMN, .column = "name"},
	{.target = "bio", .src = MAP_SRC_COLUMN, .column = "bio"},
	{.target = "lsn", .src = MAP_SRC_META, .meta = MAP_META_LSN},
};
static const struct map_rule krule = {
	.from_schema = "public", .from_table = "users",
	.to_schema = "analytics", .to_table = "t",
	.mode = MAP_MODE_KEYLESS, .cols = kcols, .ncols = 4,
	.on_delete = MAP_DELETE_DELETE, .on_truncate = MAP_TRUNCATE_TRUNCATE,
};

static void
test_keyless_rows_in_stream_order(void **state)
{
	const char *lines[] = {
		I("1", "\"a\"", "null"),
		I("1", "\"a\"", "null"),
		"{\"action\":\"U\",\"xid\":5,\"lsn\":\"0/40\",\"schema\":\"public\","
		"\"table\":\"users\",\"columns\":[{\"name\":\"id\",\"value\":1},"
		"{\"name\":\"name\",\"value\":\"b\"},{\"name\":\"raw\",\"value\":null}],"
		"\"identity\":[{\"name\":\"id\",\"value\":1},{\"name\":\"name\","
		"\"value\":\"a\"},{\"name\":\"bio\",\"value\":\"big\"},"
		"{\"name\":\"raw\",\"value\":null}]}",
		"{\"action\":\"D\",\"xid\":5,\"lsn\":\"0/50\",\"schema\":\"public\","
		"\"table\":\"users\",\"identity\":[{\"name\":\"id\",\"value\":1},"
		"{\"name\":\"name\",\"value\":\"a\"},{\"name\":\"bio\",\"value\":null},"
		"{\"name\":\"raw\",\"value\":null}]}"};
	char err[256];
	struct map_plan *p = map_plan_new(&krule, nokey, 4, "shop", "t0", err,
									  sizeof(err));
	struct batch *b = make_batch(lines, 4);
	struct collapse *c = collapse_new();
	struct buf out = BUF_INIT;

	(void) state;
	assert_non_null(p);
	for (size_t i = 0; i < 4; i++)
		collapse_add(c, b, i, p, nokey, false);
	assert_int_equal(collapse_count(c), 5);
	collapse_copy_text(c, b, p, nokey, 0, 4, false, &out);
	assert_string_equal(out.data,
						"1\tU\tI\t0/10\t\\N\t\\N\t\\N\t\\N\t1\ta\t\\N\n"
						"2\tU\tI\t0/10\t\\N\t\\N\t\\N\t\\N\t1\ta\t\\N\n"
						"3\tO\tU\t0/40\t\\N\t\\N\t\\N\t\\N\t1\ta\tbig\n"
						"4\tW\tU\t0/40\t\\N\t\\N\t\\N\t\\N\t1\tb\tbig\n"
						"5\tD\tD\t0/50\t\\N\t\\N\t\\N\t\\N\t1\ta\t\\N\n");
	assert_int_equal(collapse_change_of(c, 3), 2);
	assert_int_equal(collapse_change_of(c, 4), 2);
	assert_int_equal(collapse_op_of(c, 4), 'W');
	buf_free(&out);
	collapse_free(c);
	batch_free(b);
	map_plan_free(p);
}

/* Its statements: one row by ctid, every column but metadata compared as
 * text after a cast to the target's type, NULL equal to NULL. */
static void
test_keyless_plan_sql(void **state)
{
	const char *const ttypes[] = {"bigint", NULL, "character varying(20)",
								  "pg_lsn"};
	static const struct map_column meta_only[] = {
		{.target = "lsn", .src = MAP_SRC_META, .meta = MAP_META_LSN}};
	struct map_rule r = krule;
	struct map_plan *p;
	char err[256];

	(void) state;
	p = map_plan_new_typed(&krule, nokey, 4, "shop", "t0", NULL, ttypes,
						   err, sizeof(err));
	assert_non_null(p);
	assert_null(p->upsert);
	assert_null(p->remove);
	assert_string_equal(
		p->append,
		"INSERT INTO \"analytics\".\"t\" (\"user_id\", \"name\", \"bio\", "
		"\"lsn\") SELECT m.* FROM (SELECT (s.\"id\") AS \"user_id\", "
		"(s.\"name\") AS \"name\", (s.\"bio\") AS \"bio\", s._lsn AS "
		"\"lsn\" FROM pg_temp.\"t0\" s WHERE s._op = 'U' AND s._seq "
		"BETWEEN $1 AND $2) m");
	assert_string_equal(
		p->keyless_delete,
		"DELETE FROM \"analytics\".\"t\" t WHERE t.ctid = (SELECT t2.ctid "
		"FROM \"analytics\".\"t\" t2, (SELECT (s.\"id\") AS \"user_id\", "
		"(s.\"name\") AS \"name\", (s.\"bio\") AS \"bio\", s._lsn AS "
		"\"lsn\" FROM pg_temp.\"t0\" s WHERE s._op = 'D' AND s._seq "
		"BETWEEN $1 AND $2) m WHERE t2.\"user_id\"::text IS NOT DISTINCT "
		"FROM (m.\"user_id\")::bigint::text AND t2.\"name\"::text IS NOT "
		"DISTINCT FROM (m.\"name\")::text AND t2.\"bio\"::text IS NOT "
		"DISTINCT FROM (m.\"bio\")::character varying(20)::text LIMIT 1)");
	assert_string_equal(
		p->keyless_update,
		"UPDATE \"analytics\".\"t\" t SET \"user_id\" = n.\"user_id\", "
		"\"name\" = n.\"name\", \"bio\" = n.\"bio\", \"lsn\" = n.\"lsn\" "
		"FROM (SELECT (s.\"id\") AS \"user_id\", (s.\"name\") AS \"name\", "
		"(s.\"bio\") AS \"bio\", s._lsn AS \"lsn\" FROM pg_temp.\"t0\" s "
		"WHERE s._op = 'W' AND s._seq BETWEEN $1 AND $2) n WHERE t.ctid = "
		"(SELECT t2.ctid FROM \"analytics\".\"t\" t2, (SELECT (s.\"id\") AS "
		"\"user_id\", (s.\"name\") AS \"name\", (s.\"bio\") AS \"bio\", "
		"s._lsn AS \"lsn\" FROM pg_temp.\"t0\" s WHERE s._op = 'O' AND "
		"s._seq BETWEEN $1 AND $2) m WHERE t2.\"user_id\"::text IS NOT "
		"DISTINCT FROM (m.\"user_id\")::bigint::text AND t2.\"name\"::text "
		"IS NOT DISTINCT FROM (m.\"name\")::text AND t2.\"bio\"::text IS "
		"NOT DISTINCT FROM (m.\"bio\")::character varying(20)::text LIMIT "
		"1)");
	assert_string_equal(p->keyless_apply,
						"SELECT s FROM pg_temp.\"t0_apply\"($1::bigint, "
						"$2::bigint) s");
	/* The function comes with the temp table, its body the statements. */
	assert_non_null(strstr(p->create_tmp,
						   "(toast_tuple_target = 8160); CREATE OR REPLACE "
						   "FUNCTION pg_temp.\"t0_apply\"(bigint, bigint) "
						   "RETURNS SETOF bigint LANGUAGE plpgsql AS "
						   "$walpipe$\n#variable_conflict use_column\n"));
	assert_non_null(strstr(p->create_tmp, p->keyless_delete));
	assert_non_null(strstr(p->create_tmp, p->keyless_update));
	assert_true(p->copy_lsn);
	map_plan_free(p);

	/* Nothing to find a row by. */
	r.cols = meta_only;
	r.ncols = 1;
	assert_null(map_plan_new(&r, nokey, 4, "shop", "t0", err, sizeof(err)));
	assert_string_equal(err,
						"mapping public.users -> analytics.t in mode keyless "
						"maps no source column, so it has nothing to find a "
						"row by\nMap at least one source column.");
}

/* The temp row as an INSERT (walpipe dlq retry): the same columns as the
 * COPY, with _from left out, and which of them are bytea. */
static void
test_plan_tmp_insert(void **state)
{
	char err[256];
	struct map_plan *p = map_plan_new(&rule, src, 4, "shop", "t0", err,
									  sizeof(err));
	char *ins;

	(void) state;
	assert_non_null(p);
	assert_string_equal(p->copy,
						"COPY pg_temp.\"t0\" (_seq, _op, _sop, _lsn, _xid, _ts, "
						"_present, _from, \"id\", \"name\", \"bio\", \"raw\") "
						"FROM STDIN");
	ins = map_plan_tmp_insert(p);
	assert_string_equal(ins,
						"INSERT INTO pg_temp.\"t0\" (_seq, _op, _sop, _lsn, "
						"_xid, _ts, _present, \"id\", \"name\", \"bio\", "
						"\"raw\") VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, "
						"$9, $10)");
	assert_false(map_plan_tmp_is_bytea(p, src, 0));
	assert_true(map_plan_tmp_is_bytea(p, src, 3));
	free(ins);
	map_plan_free(p);
}

/* The rule of copy_new tests: every column plain, no metadata. */
static const struct map_column plain_cols[] = {
	{.target = "user_id", .src = MAP_SRC_COLUMN, .column = "id"},
	{.target = "name", .src = MAP_SRC_COLUMN, .column = "name"},
	{.target = "bio", .src = MAP_SRC_COLUMN, .column = "bio"},
	{.target = "raw", .src = MAP_SRC_COLUMN, .column = "raw"},
};

static struct map_plan *
plain_plan(const struct map_rule *r, const char *const *tbase,
		   const char *const *casts)
{
	char err[256];
	struct map_plan *p =
		map_plan_new_cast(r, src, 4, "shop", "t0", casts, err, sizeof(err));

	assert_non_null(p);
	map_plan_copy_new(p, src, tbase);
	return p;
}

/* New keys go straight to the target only where that inserts exactly
 * what the plain INSERT from the temp table would. */
static void
test_copy_new_plan(void **state)
{
	static const char *const same[] = {"bigint", "text", "text", "bytea"};
	static const char *const other[] = {"bigint", "text", "text",
										"pg_catalog.bpchar"};
	static const char *const unknown[] = {"bigint", NULL, "text", "bytea"};
	static const char *const cast[] = {NULL, "mood", NULL, NULL};
	struct map_rule r = rule;
	struct map_column typed[4];
	struct map_plan *p;

	(void) state;
	r.cols = plain_cols;
	r.ncols = 4;
	p = plain_plan(&r, same, NULL);
	assert_string_equal(p->copy_new,
						"COPY \"analytics\".\"fact_users\" (\"user_id\", "
						"\"name\", \"bio\", \"raw\") FROM STDIN");
	assert_int_equal(p->copy_new_tmp[0], 0);
	assert_int_equal(p->copy_new_tmp[3], 3);
	map_plan_free(p);
	/* A target type other than the temp table's, or one not built in
	 * (NULL), or not known at all: the INSERT's assignment decides. */
	p = plain_plan(&r, other, NULL);
	assert_null(p->copy_new);
	map_plan_free(p);
	p = plain_plan(&r, unknown, NULL);
	assert_null(p->copy_new);
	map_plan_free(p);
	p = plain_plan(&r, NULL, NULL);
	assert_null(p->copy_new);
	map_plan_free(p);
	/* A cast to the target's type. */
	p = plain_plan(&r, same, cast);
	assert_null(p->copy_new);
	map_plan_free(p);
	/* A metadata column (the suite's rule maps the LSN). */
	p = plain_plan(&rule, same, NULL);
	assert_null(p->copy_new);
	map_plan_free(p);
	/* A column with its own type: */
	memcpy(typed, plain_cols, sizeof(typed));
	typed[1].type = "text";
	r.cols = typed;
	p = plain_plan(&r, same, NULL);
	assert_null(p->copy_new);
	map_plan_free(p);
	r.cols = plain_cols;
	/* A where: the INSERT filters. */
	r.where = "name <> 'x'";
	p = plain_plan(&r, same, NULL);
	assert_null(p->copy_new);
	map_plan_free(p);
	r.where = NULL;
	/* A soft delete marks new keys deleted later in the batch from the
	 * temp table. */
	r.on_delete = MAP_DELETE_SOFT;
	r.soft_delete_column = "deleted_at";
	p = plain_plan(&r, same, NULL);
	assert_null(p->copy_new);
	map_plan_free(p);
	r.on_delete = MAP_DELETE_DELETE;
	/* Append mode has no plain insert of new keys. */
	r.mode = MAP_MODE_APPEND;
	p = plain_plan(&r, same, NULL);
	assert_null(p->copy_new);
	map_plan_free(p);
}

/* The 'N' rows go to the target's COPY, the rest to the temp table's. */
static void
test_copy_new_rows(void **state)
{
	static const char *const same[] = {"bigint", "text", "text", "bytea"};
	const char *lines[] = {I("1", "\"a\"", "\"tab\\there\""),
						   I("2", "\"b\"", "null"), U_PARTIAL("1", "\"c\""),
						   D("7"), U_PARTIAL("8", "\"d\"")};
	struct map_rule r = rule;
	struct map_plan *p;
	struct batch *b = make_batch(lines, 5);
	struct collapse *c = collapse_new();
	struct buf out = BUF_INIT;

	(void) state;
	r.cols = plain_cols;
	r.ncols = 4;
	p = plain_plan(&r, same, NULL);
	for (size_t i = 0; i < 5; i++)
		collapse_add(c, b, i, p, src, true);
	assert_int_equal(collapse_count(c), 4);
	collapse_copy_new(c, p, src, 0, 3, &out);
	assert_string_equal(out.data, "1\tc\ttab\\there\t\\\\x01\n"
								  "2\tb\t\\N\t\\\\x00ff\n");
	buf_reset(&out, 0);
	collapse_copy_text(c, b, p, src, 0, 3, true, &out);
	/* _seq keeps the row's place: the statements range over it. */
	assert_string_equal(out.data,
						"3\tD\tD\t\\N\t\\N\t\\N\t\\N\t\\N\t7\t\\N\t\\N\t"
						"\\N\n4\tP\tU\t\\N\t\\N\t\\N\t{t,t,f,t}\t\\N\t8\td\t"
						"\\N\t\\\\x01\n");
	buf_free(&out);
	collapse_free(c);
	batch_free(b);
	map_plan_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_then_partial_update_is_full),
		cmocka_unit_test(test_partial_update_alone_is_partial),
		cmocka_unit_test(test_delete_then_reinsert_ends_present),
		cmocka_unit_test(test_insert_then_delete_is_delete),
		cmocka_unit_test(test_soft_delete_keeps_row_of_batch),
		cmocka_unit_test(test_metadata_sent_when_read),
		cmocka_unit_test(test_reinsert_after_delete_is_not_new),
		cmocka_unit_test(test_key_change_deletes_old_key),
		cmocka_unit_test(test_append_keeps_every_row),
		cmocka_unit_test(test_plan_sql),
		cmocka_unit_test(test_absent_column),
		cmocka_unit_test(test_toast_key_from_identity),
		cmocka_unit_test(test_key_move_partial_reads_target),
		cmocka_unit_test(test_key_move_after_insert_is_full),
		cmocka_unit_test(test_key_move_chain),
		cmocka_unit_test(test_partial_unappliable),
		cmocka_unit_test(test_plan_key_follows_identity),
		cmocka_unit_test(test_insert_lacking_added_columns),
		cmocka_unit_test(test_full_identity_fills_absent),
		cmocka_unit_test(test_plan_casts),
		cmocka_unit_test(test_keyless_rows_in_stream_order),
		cmocka_unit_test(test_keyless_plan_sql),
		cmocka_unit_test(test_plan_tmp_insert),
		cmocka_unit_test(test_copy_new_plan),
		cmocka_unit_test(test_copy_new_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
