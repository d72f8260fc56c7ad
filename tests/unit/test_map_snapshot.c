/* test_map_snapshot.c: the snapshot's COPY query and its line format, decoded as wal2json. */
#include "walpipe/batch.h"
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

static const struct map_srccol cols[] = {
	{"id", "bigint", true, NULL},
	{"amount", "numeric(12,2)", false, NULL},
	{"note", "text", false, NULL},
	{"raw", "bytea", false, NULL},
	{"we\"ird", "boolean", false, NULL},
};

static void
test_query(void **state)
{
	char *q = map_snapshot_query("public", "it's", false, cols, 5, "0/16B3748");

	(void) state;
	assert_string_equal(
		q, "COPY (SELECT json_build_object('action', 'I', 'lsn', "
		   "'0/16B3748', 'schema', 'public', 'table', 'it''s', 'columns', "
		   "array_to_json(ARRAY[json_build_object('name', 'id', 'value', "
		   "to_json(\"id\")), json_build_object('name', 'amount', 'value', "
		   "to_json(\"amount\")), json_build_object('name', 'note', "
		   "'value', to_json(\"note\"::text)), json_build_object('name', "
		   "'raw', 'value', to_json(encode(\"raw\", 'hex'))), "
		   "json_build_object('name', 'we\"ird', 'value', "
		   "to_json(\"we\"\"ird\"))]::json[])) FROM ONLY \"public\".\"it's\") "
		   "TO STDOUT");
	free(q);
}

/* A partitioned table's rows are its partitions': no ONLY. */
static void
test_query_partitioned(void **state)
{
	char *q = map_snapshot_query("public", "ev", true, cols, 1, "0/1");

	(void) state;
	assert_string_equal(
		q, "COPY (SELECT json_build_object('action', 'I', 'lsn', '0/1', "
		   "'schema', 'public', 'table', 'ev', 'columns', "
		   "array_to_json(ARRAY[json_build_object('name', 'id', 'value', "
		   "to_json(\"id\"))]::json[])) FROM \"public\".\"ev\") TO STDOUT");
	free(q);
}

/*
 * Only scalar numbers and booleans go out unquoted, as wal2json sends
 * them: arrays of them (numeric[] above all, which once matched a
 * "numeric" prefix and came out as a JSON array) and composites, which the
 * catalog gives as text, go as text.
 */
static void
test_query_arrays(void **state)
{
	static const struct map_srccol acols[] = {
		{"n", "numeric", false, NULL},
		{"na", "numeric[]", false, NULL},
		{"nm", "numeric(10,2)[]", false, NULL},
		{"ia", "integer[]", false, NULL},
		{"da", "double precision[]", false, NULL},
		{"ba", "boolean[]", false, NULL},
		{"comp", "text", false, NULL},
		{"d", "double precision", false, NULL},
		{"numericish", "numerical", false, NULL},
	};
	static const char *const want[] = {
		"to_json(\"n\"))",	  "to_json(\"na\"::text))",
		"to_json(\"nm\"::text))", "to_json(\"ia\"::text))",
		"to_json(\"da\"::text))", "to_json(\"ba\"::text))",
		"to_json(\"comp\"::text))", "to_json(\"d\"))",
		"to_json(\"numericish\"::text))",
	};
	char *q = map_snapshot_query("public", "t", false, acols, 9, "0/1");

	(void) state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(q, want[i]) == NULL)
			fail_msg("%s not in %s", want[i], q);
	free(q);
}

/* A COPY text line as the server sends it: JSON escapes doubled. */
static void
test_unescape_and_decode(void **state)
{
	char line[] = "{\"action\":\"I\",\"lsn\":\"0/16B3748\",\"schema\":\"public\","
				  "\"table\":\"t\",\"columns\":[{\"name\":\"id\",\"value\":7},"
				  "{\"name\":\"note\",\"value\":\"a\\\\tb\\\\\\\\c\\\\\"d\"},"
				  "{\"name\":\"x\",\"value\":null}]}";
	size_t n = map_snapshot_unescape(line, strlen(line));
	struct w2j_decoder *dec = w2j_decoder_new();
	struct w2j_change c;
	struct batch *b = batch_new(1 << 20);
	char err[256];

	(void) state;
	line[n] = '\0';
	assert_non_null(strstr(line, "\"a\\tb\\\\c\\\"d\""));
	assert_true(w2j_decode(dec, line, n, &c, err, sizeof(err)));
	assert_int_equal(c.action, W2J_INSERT);
	assert_int_equal(c.lsn, 0x16B3748);
	assert_int_equal(c.ncolumns, 3);
	assert_string_equal(c.columns[0].value, "7");
	assert_int_equal(c.columns[0].kind, W2J_NUMBER);
	assert_string_equal(c.columns[1].value, "a\tb\\c\"d");
	assert_int_equal(c.columns[2].kind, W2J_NULL);
	/* A snapshot row keeps its insert action but carries op 'r'. */
	assert_true(batch_add(b, &c, line, n, 0x16B3748, 1, NULL, err,
						  sizeof(err)));
	batch_mark_snapshot(b, 'r');
	assert_int_equal(batch_get(b, 0)->action, W2J_INSERT);
	assert_int_equal(batch_get(b, 0)->op, 'r');
	batch_free(b);
	w2j_decoder_free(dec);
}

static void
test_unescape_octal_and_controls(void **state)
{
	char line[] = "x\\ny\\011z\\\\";
	size_t n = map_snapshot_unescape(line, strlen(line));

	(void) state;
	assert_int_equal(n, 6);
	assert_memory_equal(line, "x\ny\tz\\", 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_partitioned),
		cmocka_unit_test(test_query_arrays),
		cmocka_unit_test(test_unescape_and_decode),
		cmocka_unit_test(test_unescape_octal_and_controls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
